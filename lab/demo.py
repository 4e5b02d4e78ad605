"""``make demo``: the whole lab, the agent, and one VM's VLAN following it around.

What this module is for: ``python -m lab.demo`` (run by ``make demo`` under
the Python 3.9 environment, as root) builds the lab world of
:func:`lab.world.topology.demo` — a lab vCenter, the eAPI emulator as
switch ``leaf1``, ESXi hosts esx1 and esx2 as network namespaces running lldpd,
cabled to Ethernet1 and Ethernet2 — starts ``vmtracer run``, and walks through
a VM's life: powered on, moved by vMotion (the VLAN is on the destination port
before the move completes), powered off (the VLAN is removed once
``remove_delay`` has passed). After each step it prints one line of narration
and what ``vmtracer show interfaces`` prints. Then it stops everything it
started. It takes about half a minute.

It must never leave anything behind (the world removes its processes,
namespaces and files, also on Ctrl-C or SIGTERM), and never run half-way without
root: it says so and exits with status 1.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any, NoReturn

from eos_vmtracer.vlans import VlanSet
from lab.netns import LabError, check_tools, is_root
from lab.world import World, WorldError, topology

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(f"\n{BOLD}>>> {text}{RESET}", flush=True)


def show(world: World, what: str = "interfaces") -> None:
    print(f"{DIM}$ vmtracer show {what}{RESET}")
    print(world.show(what).rstrip(), flush=True)


def _sigterm(_signum: int, _frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def walk_through(w: World) -> None:
    """The scenario, on a running world."""
    ctl = w.control("vc1")
    delay = w.topology.timings.remove_delay

    def vlan_on(port: str, vlan: int, present: bool = True, timeout: float = 10.0) -> float:
        took = w.wait_for(
            lambda: (vlan in w.allowed(port)) == present,
            timeout,
            f"VLAN {vlan} {'on' if present else 'off'} {port}",
            w.describe,
        )
        # ... and the agent's status says so too (what `vmtracer show` prints next).
        w.wait_for(
            lambda: (vlan in VlanSet.parse(w.interface_status(port)["dynamic"])) == present,
            5,
            f"status: VLAN {vlan} {'on' if present else 'off'} {port}",
            w.describe,
        )
        return took

    say(
        "The hosts heard the agent's CDP frames (lldpd); vCenter now reports where each"
        " vmnic is cabled:"
    )
    show(w, "hosts")
    say("Before: web1 (portgroup VM-100) runs on esx1; Ethernet1 also has the operator's VLAN 900")
    show(w)

    ctl.power("app1", on=True)
    took = vlan_on("Ethernet1", 111)
    say(
        f"app1 (portgroup VM-111) powered on on esx1: VLAN 111 created and on Ethernet1 in"
        f" {took * 1000:.0f} ms"
    )
    show(w)

    move = 5.0
    ctl.relocate("app1", "esx2", duration=move)
    took = vlan_on("Ethernet2", 111)
    host = ctl.state()["vms"]["app1"]["host"]
    say(
        f"vMotion of app1 to esx2 started ({move:g} s): VLAN 111 is on Ethernet2 after"
        f" {took * 1000:.0f} ms, while app1 still runs on {host}"
    )
    show(w)
    show(w, "vms")

    w.wait_for(lambda: ctl.state()["vms"]["app1"]["host"] == "esx2", move + 10, "the move")
    w.wait_for(
        lambda: any(p["vlan"] == 111 for p in w.interface_status("Ethernet1")["pending"]),
        5,
        "VLAN 111 pending removal on Ethernet1",
    )
    say(f"vMotion done: app1 runs on esx2; Ethernet1 keeps VLAN 111 for remove_delay ({delay:g} s)")
    show(w)

    vlan_on("Ethernet1", 111, present=False, timeout=delay + 10)
    say("remove_delay passed: VLAN 111 removed from Ethernet1, the port app1 left")
    show(w)

    ctl.power("app1", on=False)
    w.wait_for(
        lambda: any(p["vlan"] == 111 for p in w.interface_status("Ethernet2")["pending"]),
        5,
        "VLAN 111 pending removal on Ethernet2",
    )
    say(f"app1 powered off: Ethernet2 keeps VLAN 111 for remove_delay ({delay:g} s)")
    show(w)

    vlan_on("Ethernet2", 111, present=False, timeout=delay + 10)
    w.wait_for(lambda: 111 not in w.vlans(), 5, "VLAN 111 deleted")
    say("remove_delay passed: VLAN 111 removed from Ethernet2, and deleted (vmtracer created it)")
    show(w)
    say("Every change, with its reason (also in syslog on a switch):")
    show(w, "history")


def main() -> int:
    if not is_root():
        print(
            "make demo needs root: it creates network namespaces, veth links and raw sockets."
            " Run it as root (sudo make demo).",
            file=sys.stderr,
        )
        return 1
    try:
        check_tools(("ip", "lldpd", "lldpcli"))
    except LabError as e:
        print(f"make demo: {e}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _sigterm)
    began = time.monotonic()
    say(
        "Building the lab: vCenter simulator, eAPI emulator (switch leaf1), esx1 and esx2 as"
        " network namespaces running lldpd, cabled to Ethernet1 and Ethernet2"
    )
    world = World(topology.demo())
    try:
        world.start()
        print(f"vCenter: {world.vcenters['vc1'].url}   eAPI: unix:{world.eapi_socket}")
        print(f"Every vmtracer command below runs with --config {world.config_path}")
        took = world.start_agent(timeout=60)
        say(
            f"vmtracer run is up ({took:.1f} s): it sends CDP out of et1 and et2, watches"
            " vCenter, and drives the switch over eAPI"
        )
        walk_through(world)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (AssertionError, WorldError, LabError) as e:
        print(f"\nmake demo FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        world.stop()
    say(
        f"Stopped everything it started (agent, vCenter, eAPI emulator, namespaces) after"
        f" {time.monotonic() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
