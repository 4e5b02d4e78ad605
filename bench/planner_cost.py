"""Benchmark: what the pure code costs per reconcile at 1,000 hosts / 20,000 VMs.

What this module is for: the baseline the other benchmarks are read against. The
inventory of the scale benchmark's estate is built directly as the project's model
(no vCenter: what a synchronised session hands the agent), with a 48-port leaf,
and timed in this process:

- ``plan()`` when the switch carries nothing yet (the first reconcile: every
  needed VLAN is a change) and when it already carries everything (the reconcile
  after an event: an empty plan), medians over repeats;
- the status document the agent publishes after every reconcile (``status.build``
  and its JSON encoding), at the same size;
- the floor: one pass over every VM and vNIC of the inventory, reading each
  vNIC's portgroup VLAN (no planner can look at less).

It must never talk to a peer: it measures pure code only.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any, Callable

from bench import fabric
from bench.scale import DV, HOSTS, STD, VMS, scenario
from eos_vmtracer import status as status_mod
from eos_vmtracer.config import Config
from eos_vmtracer.ledger import Ledger
from eos_vmtracer.model import (
    Host,
    HostSwitch,
    Neighbor,
    NetworkRef,
    PhysicalNic,
    SessionInventory,
    SwitchFacts,
    VlanSpec,
    Vm,
    VmkNic,
    VNic,
)
from eos_vmtracer.planner import plan, simulate
from lab import builders
from lab.builders import DVS, agent_facts, config, dv, dvpg, pg, session, std, switch_facts

PORTS = tuple(f"Ethernet{n}" for n in range(1, 49))


def inventory(s: dict[str, Any]) -> SessionInventory:
    """The model a synchronised session would hand over for scenario ``s``."""
    dvpgs = [
        dvpg(f"dvportgroup-{p['vlan']}", p["name"], VlanSpec.single(p["vlan"]))
        for p in s["dvswitches"][0]["portgroups"]
    ]
    hosts: list[Host] = []
    moid_of: dict[str, str] = {}
    for i, h in enumerate(s["hosts"]):
        moid = f"host-{i + 10}"
        moid_of[h["name"]] = moid
        nics = []
        for dev in ("vmnic0", "vmnic1"):
            heard = h["neighbors"][dev]
            if "cdp" in heard:
                n = Neighbor("cdp", heard["cdp"]["device_id"], heard["cdp"]["port_id"])
            else:
                n = Neighbor("lldp", heard["lldp"]["system_name"], heard["lldp"]["port_id"])
            nics.append(PhysicalNic(dev, f"00:50:56:00:{i // 256:02x}:{i % 256:02x}", (n,)))
        hosts.append(
            Host(
                moid,
                h["name"],
                True,
                tuple(nics),
                (
                    HostSwitch("vSwitch0", "vSwitch0", False, ("vmnic0",)),
                    HostSwitch(DVS, "DSwitch", True, ("vmnic1",)),
                ),
                tuple(
                    pg(p["name"], VlanSpec.single(p["vlan"]) if p["vlan"] else VlanSpec.untagged())
                    for p in h["vswitches"][0]["portgroups"]
                ),
                (VmkNic("vmk0", std("Management Network")),),
            )
        )
    vms = []
    for j, v in enumerate(s["vms"]):
        vnics: list[VNic] = []
        for k, nic in enumerate(v["nics"]):
            net: NetworkRef
            if "portgroup" in nic:
                net = std(nic["portgroup"])
            else:
                net = dv(f"dvportgroup-{int(nic['dvportgroup'].split('-')[1])}")
            vnics.append(VNic(4000 + k, f"Network adapter {k + 1}", net, True, f"mac-{j}-{k}"))
        on = v.get("power", "on") == "on"
        vms.append(Vm(f"vm-{j + 10000}", v["name"], on, moid_of[v["host"]], tuple(vnics)))
    return session(hosts, vms, dv=dvpgs)


def _facts() -> SwitchFacts:
    vlans = {v: f"VLAN{v:04d}" for v in [1, *STD, *DV]}
    return switch_facts(PORTS, vlans=vlans, system_mac="00:1c:73:00:00:01")


def _config() -> Config:
    return config(PORTS, url="https://vc/sdk")


def _time(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return times, out


def _floor(inv: SessionInventory) -> int:
    """Touch every vNIC of every powered-on VM and resolve its portgroup's VLAN."""
    found = 0
    for vm in inv.vms.values():
        if not vm.powered_on:
            continue
        host = inv.hosts.get(vm.host or "")
        if host is None:
            continue
        for nic in vm.nics:
            if nic.network is None:
                continue
            if nic.network.distributed:
                pg = inv.dv_portgroups.get(nic.network.key)
                found += len(pg.vlan.vlans) if pg else 0
            else:
                spg = host.portgroup(nic.network.key)
                found += len(spg.vlan.vlans) if spg else 0
    return found


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 7
    vc1 = inventory(scenario())
    inv = builders.inventory(vc1)
    cfg = _config()
    bare = _facts()
    now = time.time()
    first_t, first = _time(lambda: plan(inv, bare, cfg, Ledger(), now), repeats)
    carried = simulate(bare, first)
    steady_t, steady = _time(lambda: plan(inv, carried, cfg, first.ledger, now), repeats)
    floor_t, _ = _time(lambda: _floor(vc1), repeats)
    agent = agent_facts(now, started=now, config="bench")
    status_t, doc = _time(
        lambda: status_mod.build(cfg, inv, carried, steady, agent, now), max(1, repeats // 2)
    )
    json_t, text = _time(lambda: json.dumps(doc), max(1, repeats // 2))
    vnics = sum(len(v.nics) for v in vc1.vms.values())
    expected = fabric.expected_vlans(scenario())
    added = {c.interface: set(c.add) for c in first.changes}
    if added != expected:  # the synthetic inventory must mean what the lab scenario means
        raise AssertionError("plan() over the synthetic inventory disagrees with the scenario")
    med = statistics.median
    return {
        "what": f"{HOSTS} hosts, {VMS} VMs, {vnics} vNICs, 48 ports, {len(STD) + len(DV)} VLANs",
        "repeats": repeats,
        "plan_first_ms": {"p50": round(med(first_t) * 1e3, 1), "min": round(min(first_t) * 1e3, 1)},
        "plan_first_changes": len(first.changes),
        "plan_first_vlans_added": sum(len(c.add) for c in first.changes),
        "plan_steady_ms": {
            "p50": round(med(steady_t) * 1e3, 1),
            "min": round(min(steady_t) * 1e3, 1),
        },
        "plan_steady_empty": steady.empty(),
        "plan_steady_us_per_vm": round(med(steady_t) / VMS * 1e6, 2),
        "status_build_ms": {"p50": round(med(status_t) * 1e3, 1)},
        "status_json_ms": {"p50": round(med(json_t) * 1e3, 1)},
        "status_json_mb": round(len(text) / 1e6, 1),
        "baseline": {
            "vnic_pass_ms": {
                "p50": round(med(floor_t) * 1e3, 1),
                "min": round(min(floor_t) * 1e3, 1),
            }
        },
        "ratio_plan_to_vnic_pass": round(med(steady_t) / med(floor_t), 1),
        "targets": [],
        "note": "no target of its own: the planner's cost is the baseline for the other benchmarks",
    }


if __name__ == "__main__":
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
