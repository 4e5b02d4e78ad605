"""Benchmark ``fabric``: what each leaf's agent costs one shared vCenter.

What this module is for: the fabric-scale targets. One lab vCenter holds 1,000 hosts
and 20,000 VMs cabled to 20 leaves (50 hosts and about 1,000 VMs each: vmnic0 by CDP
to ``Ethernet<n>``, vmnic1 by LLDP to ``Ethernet<n+50>`` of its leaf). K agents run,
each as the product runs (``vmtracer run``) for its own leaf (``leaf1`` ... ``leafK``,
each with its own eAPI emulator), started one after the other. The same run is done
twice: scoped (what the agent does) and the baseline, the same agents with scoping
and event-driven discovery turned off (``EOS_VMTRACER_DEV_UNSCOPED=1``: every VM of
vCenter watched, every host asked every ``hint_interval``). Figures:

- per agent: initial sync (spawn to ``synced`` and to the switch carrying every VLAN
  its leaf needs), RSS after the sync, vCenter requests a minute at steady state by
  method, bytes received from vCenter a minute (vCenter serves the agents alike, so
  per agent = the lab's totals / K);
- for vCenter: total requests a minute with k = 1 ... K agents running;
- a burst of VM changes on hosts cabled to a leaf no agent runs for: what vCenter
  sends the agents (long-poll answers and bytes) meanwhile;
- recabling: a host's vmnic0 link down, its neighbour now on another port, link up:
  seconds until its VLANs are on the new port (target 2 x ``cdp.interval``), once
  with the neighbour heard at once and once (scoped only) heard 5 s after link-up
  (ESXi learns it from the next CDP frame);
- event -> VLAN latency (power-on) and make-before-break (a VM migrating from a host
  cabled elsewhere: its VLAN on the destination port before the move completes);
- the CPU to read a first start's long-poll answers, the agent's ElementTree reader
  against pyvmomi's on the same bytes (:mod:`bench.long_poll_reading`).

Steady-state hint calls are measured over the window after the sync; the background
refresh of hosts not heard here starts one ``discovery_interval`` after the first
discovery (every host is asked once at start), so the bound heard/``hint_interval``
+ others/``discovery_interval`` is checked against the window plus that trickle.

It must never run an agent in this process, and must leave nothing running.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import tempfile
import time
from typing import Any, Optional

from bench import fabric, long_poll_reading
from bench.harness import (
    AgentProcess,
    TimedSwitch,
    cpu_seconds,
    memory_kb,
    start_vcsim,
    summary,
    synced,
    verdict,
)
from bench.harness import write_config as _write_config

HOSTS = 1000
VMS = 20000
LEAVES = 20
PER_LEAF = HOSTS // LEAVES
PORTS = 128  # per leaf: vmnic0 on Ethernet1-50, vmnic1 on Ethernet51-100, spare above
SPARE = 101  # recabling moves a cable here
STD = list(range(100, 120))
DV = list(range(200, 220))
PROBE_VLANS = list(range(300, 306))  # one powered-off VM each, for the latency probe
MOVER_VLAN = 310  # VMs on leaf 20 that migrate to leaf 1 (make-before-break)
HINT_INTERVAL = 60.0
DISCOVERY_INTERVAL = 1800.0
UNSCOPED_ENV = "EOS_VMTRACER_DEV_UNSCOPED"


def leaf_of(h: int) -> int:
    return h // PER_LEAF + 1


def port(h: int, nic: int) -> str:
    return f"Ethernet{h % PER_LEAF + 1 + (PER_LEAF if nic else 0)}"


def scenario(hosts: int = 0, vms: int = 0) -> dict[str, Any]:
    hosts, vms = hosts or HOSTS, vms or VMS
    extra = [
        fabric.vm(f"probe{i}", i * 7 % PER_LEAF, v, on=False) for i, v in enumerate(PROBE_VLANS)
    ]
    extra += [fabric.vm(f"mover{i}", hosts - 1 - i, MOVER_VLAN) for i in range(3)]
    s = fabric.fabric(
        hosts=hosts,
        vms=fabric.spread_vms(vms, hosts, STD, DV) + extra,
        std_vlans=STD + PROBE_VLANS + [MOVER_VLAN],
        dv_vlans=DV,
    )
    for h, host in enumerate(s["hosts"]):
        leaf = leaf_of(h)
        host["neighbors"] = {
            "vmnic0": {"cdp": cdp(leaf, port(h, 0))},
            "vmnic1": {"lldp": {"chassis_id": f"00:1c:73:00:{leaf:02x}:01",
                                "port_id": port(h, 1), "system_name": f"leaf{leaf}"}},
        }  # fmt: skip
    return s


def cdp(leaf: int, where: str) -> dict[str, Any]:
    return {"device_id": f"leaf{leaf}.lab", "port_id": where, "address": "192.0.2.10"}


def need_of(s: dict[str, Any], leaf: int) -> dict[str, set[int]]:
    """Port -> VLANs the powered-on VMs on ``leaf``'s hosts need (from the scenario)."""
    index = {fabric.host_name(h): h for h in range(len(s["hosts"]))}
    need: dict[str, set[int]] = {}
    for v in s["vms"]:
        h = index[v["host"]]
        if leaf_of(h) != leaf or v.get("power", "on") != "on":
            continue
        for nic in v["nics"]:
            distributed = "dvportgroup" in nic
            vlan = int((nic.get("dvportgroup") or nic["portgroup"]).split("-")[1])
            need.setdefault(port(h, 1 if distributed else 0), set()).add(vlan)
    return need


class Leaf:
    """One leaf: its eAPI emulator, its agent and where they live."""

    def __init__(self, lab: Any, n: int, scoped: bool, vlans: list[int]) -> None:
        self.n = n
        self.workdir = tempfile.mkdtemp(prefix=f"bench-fabric-leaf{n}-")
        self.switch = TimedSwitch(self.workdir, ethernet=PORTS, vlans=vlans, hostname=f"leaf{n}")
        self.switch.__enter__()
        config = _write_config(
            self.workdir,
            lab,
            self.switch.socket,
            interfaces=f"Ethernet1-{PORTS}",
            switch={"hostname": f"leaf{n}"},
            session={
                "hint_interval": HINT_INTERVAL,
                "discovery_interval": DISCOVERY_INTERVAL,
                "allowed_vlans": "2-4094",
            },
        )
        env = {} if scoped else {UNSCOPED_ENV: "1"}
        self.agent = AgentProcess(self.workdir, config, env=env)
        self.agent.__enter__()

    def close(self) -> None:
        self.agent.stop()
        self.switch.__exit__(None, None, None)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _per_minute(counts: dict[str, int], seconds: float) -> dict[str, float]:
    return {k: round(v * 60 / seconds, 1) for k, v in sorted(counts.items()) if v}


def _steady(lab: Any, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    lab.control.reset_counters()
    time.sleep(seconds)
    return (
        _per_minute(lab.control.counters(), seconds),
        _per_minute(lab.control.sent_bytes(), seconds),
    )


def _carried(lab: Any, leaf: Leaf, h: int) -> set[int]:
    """The VLANs host ``h``'s powered-on VMs need through its vmnic0 (standard portgroups)."""
    name = fabric.host_name(h)
    need = need_of(lab.scenario, leaf.n).get(port(h, 0), set())
    return {
        int(v["nics"][0]["portgroup"].split("-")[1])
        for v in lab.scenario["vms"]
        if v["host"] == name and v.get("power", "on") == "on" and "portgroup" in v["nics"][0]
    } & need


def _recable(lab: Any, leaf: Leaf, h: int, to: str, heard_after: float) -> float:
    """Move host ``h``'s vmnic0 to port ``to`` of its leaf; seconds from link-up until its
    VLANs are there."""
    name = fabric.host_name(h)
    mine = _carried(lab, leaf, h)
    if not mine:  # nothing to wait for: the switch's last change would be "the answer"
        raise ValueError(f"{name} carries no VLAN through vmnic0 to time a recabling by")
    lab.control.set_link(name, "vmnic0", False)
    time.sleep(2.0)
    if heard_after <= 0:
        lab.control.set_neighbors(name, "vmnic0", cdp=cdp(leaf.n, to))
    else:
        lab.control.set_neighbors(name, "vmnic0", cdp=None)
    lab.control.set_link(name, "vmnic0", True)
    up = time.monotonic()
    if heard_after > 0:
        time.sleep(heard_after)
        lab.control.set_neighbors(name, "vmnic0", cdp=cdp(leaf.n, to))

    def there() -> bool:
        return mine <= leaf.switch.allowed().get(to, frozenset())

    done = leaf.switch.wait(there, 200)
    took = done - up
    # back where it was, for what follows
    lab.control.set_link(name, "vmnic0", False)
    time.sleep(1.0)
    lab.control.set_neighbors(name, "vmnic0", cdp=cdp(leaf.n, port(h, 0)))
    lab.control.set_link(name, "vmnic0", True)
    return took


def _latency(lab: Any, leaf: Leaf, probes: int) -> list[float]:
    out = []
    rng = random.Random(5)
    for i in range(probes):
        time.sleep(rng.uniform(0.5, 1.0))
        where = port(i * 7 % PER_LEAF, 0)
        t0 = time.monotonic()
        lab.control.power(f"probe{i}", on=True)

        def there(p: str = where, v: int = PROBE_VLANS[i]) -> bool:
            return v in leaf.switch.allowed().get(p, frozenset())

        try:
            landed = leaf.switch.wait(there, 60)
        except TimeoutError:
            doc = leaf.agent.status() or {}
            seen = [v for v in doc.get("vms", []) if v.get("name") == f"probe{i}"]
            raise TimeoutError(f"probe{i} not on {where} in 60 s; the agent shows {seen}") from None
        out.append(landed - t0)
    for i in range(probes):
        lab.control.power(f"probe{i}", on=False)
    return out


def _make_before_break(lab: Any, leaf: Leaf, i: int, duration: float) -> Optional[float]:
    """Migrate mover<i> (on leaf 20) to host 0 (leaf 1) taking ``duration`` s: seconds
    from the start until its VLAN is on the destination port (None: not before arrival)."""
    dest = port(0, 0)

    def there() -> bool:
        return MOVER_VLAN in leaf.switch.allowed().get(dest, frozenset())

    t0 = time.monotonic()
    lab.control.relocate(f"mover{i}", fabric.host_name(0), duration=duration)
    try:
        landed = leaf.switch.wait(there, duration + 30)
    except TimeoutError:
        return None
    return landed - t0


def _run_mode(lab: Any, scoped: bool, k: int, window: float, probes: int) -> dict[str, Any]:
    vlans = STD + DV + PROBE_VLANS + [MOVER_VLAN]
    leaves: list[Leaf] = []
    per_agent: list[dict[str, Any]] = []
    growth: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    try:
        for n in range(1, k + 1):
            leaf = Leaf(lab, n, scoped, vlans)
            leaves.append(leaf)
            began = leaf.agent.started
            synced_at = leaf.agent.wait_status(synced, 900, poll=0.05)
            need = need_of(lab.scenario, n)
            converged = leaf.switch.wait(functools.partial(leaf.switch.carries, need), 900)
            time.sleep(3.0)
            mem = memory_kb(leaf.agent.pid)
            doc = leaf.agent.status() or {}
            sess = (doc.get("sessions") or [{}])[0]
            per_agent.append(
                {
                    "leaf": f"leaf{n}",
                    "synced_s": round(synced_at - began, 2),
                    "converged_s": round(converged - began, 2),
                    "rss_mb": round(mem.get("VmRSS", 0) / 1024, 1),
                    "peak_rss_mb": round(mem.get("VmHWM", 0) / 1024, 1),
                    "hosts_heard": sess.get("hosts_heard"),
                    "vms_held": sess.get("vms"),
                }
            )
            requests, sent = _steady(lab, window)
            growth.append(
                {
                    "agents": n,
                    "requests_per_min": round(sum(requests.values()), 1),
                    "by_method": requests,
                    "bytes_per_min": round(sum(sent.values())),
                }
            )
        for a in per_agent:
            a["cpu_s"] = None
        last = growth[-1]
        out["per_agent"] = per_agent
        out["vcenter_requests_as_k_grows"] = [
            {"agents": g["agents"], "requests_per_min": g["requests_per_min"]} for g in growth
        ]
        out["steady_per_agent"] = {
            "requests_per_min_by_method": {
                m: round(v / k, 1) for m, v in last["by_method"].items()
            },
            "bytes_per_min": round(last["bytes_per_min"] / k),
            "hints_per_min": round(last["by_method"].get("QueryNetworkHint", 0) / k, 1),
        }
        # A burst of changes on hosts cabled to leaf 20 (no agent runs for it).
        far = [v["name"] for v in lab.scenario["vms"] if v["host"] == fabric.host_name(HOSTS - 1)]
        lab.control.reset_counters()
        t0 = time.monotonic()
        for name in far[:10]:
            lab.control.power(name, on=False)
            lab.control.power(name, on=True)
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        sent = lab.control.sent_bytes()
        out["uncabled_burst"] = {
            "changes": 20,
            "seconds": round(time.monotonic() - t0, 1),
            "long_poll_answers_with_updates": lab.control.update_answers(),
            "long_poll_bytes": sent.get("WaitForUpdatesEx", 0),
        }
        for a, leaf in zip(per_agent, leaves):
            a["cpu_s"] = round(cpu_seconds(leaf.agent.pid), 1)
        first = leaves[0]
        out["event_to_vlan_ms"] = summary(_latency(lab, first, probes))
        mbb = _make_before_break(lab, first, 0 if scoped else 1, 8.0)
        out["make_before_break"] = {
            "migration_s": 8.0,
            "vlan_on_destination_after_s": None if mbb is None else round(mbb, 2),
            "before_arrival": mbb is not None and mbb < 8.0,
        }
        movable = [h for h in range(PER_LEAF) if _carried(lab, first, h)]
        out["recable_s"] = {
            "neighbour_heard_at_once": round(
                _recable(lab, first, movable[0], f"Ethernet{SPARE}", 0.0), 2
            )
        }
        if scoped:
            out["recable_s"]["neighbour_heard_5s_after_link_up"] = round(
                _recable(lab, first, movable[1], f"Ethernet{SPARE + 1}", 5.0), 2
            )
    except Exception:
        if leaves:
            import sys

            print(
                f"bench fabric: leaf1's agent log:\n{leaves[0].agent.log_tail(4000)}",
                file=sys.stderr,
            )
        raise
    finally:
        for leaf in leaves:
            leaf.close()
    return out


def run(quick: bool = False) -> dict[str, Any]:
    k = int(os.environ.get("BENCH_FABRIC_AGENTS", "4"))
    window = 30.0 if quick else 60.0
    probes = 3 if quick else len(PROBE_VLANS)
    big = scenario()
    began = time.monotonic()
    with start_vcsim(big, timeout=1800) as lab:
        lab_start = time.monotonic() - began
        load_before = os.getloadavg()
        scoped = _run_mode(lab, True, k, window, probes)
        baseline = _run_mode(lab, False, k, window, probes)
        reading = long_poll_reading.measure(lab, PER_LEAF)
        load_after = os.getloadavg()
    heard, others = PER_LEAF, HOSTS - PER_LEAF
    hint_bound = heard * 60 / HINT_INTERVAL + others * 60 / DISCOVERY_INTERVAL
    sync = max(a["converged_s"] for a in scoped["per_agent"])
    rss = max(a["rss_mb"] for a in scoped["per_agent"])
    hints = scoped["steady_per_agent"]["hints_per_min"]
    recable = max(scoped["recable_s"].values())
    cdp_interval = 30.0
    burst = scoped["uncabled_burst"]["long_poll_answers_with_updates"]
    return {
        "what": f"{HOSTS} hosts, {VMS} VMs on {LEAVES} leaves; {k} agents, one leaf each",
        "lab_start_s": round(lab_start, 1),
        "load_average_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
        "scoped": scoped,
        "baseline": baseline,
        "long_poll_reading": reading,
        "targets": [
            {
                "target": "steady hint calls per agent"
                " <= heard/hint_interval + others/discovery_interval",
                "measured": hints,
                "limit": round(hint_bound, 1),
                "unit": "per min",
                "baseline_per_min": baseline["steady_per_agent"]["hints_per_min"],
                "result": verdict(hints, hint_bound),
            },
            {
                "target": "1,000-VM leaf synchronised (VLANs on the switch) <= 3 s",
                "measured": sync,
                "limit": 3.0,
                "unit": "s",
                "baseline_s": max(a["converged_s"] for a in baseline["per_agent"]),
                "result": verdict(sync, 3.0),
            },
            {
                "target": "agent RSS <= 60 MB",
                "measured": rss,
                "limit": 60.0,
                "unit": "MB",
                "baseline_mb": max(a["rss_mb"] for a in baseline["per_agent"]),
                "result": verdict(rss, 60.0),
            },
            {
                "target": "a VM change on an uncabled host sends the agents nothing",
                "measured": burst,
                "limit": 0,
                "unit": "long-poll answers with updates during 20 changes on leaf 20's hosts",
                "baseline_answers": baseline["uncabled_burst"]["long_poll_answers_with_updates"],
                "result": "pass" if burst == 0 else "miss",
            },
            {
                "target": "recabled host's VLANs on the new port <= 2 x cdp.interval",
                "measured": recable,
                "limit": 2 * cdp_interval,
                "unit": "s",
                "baseline_s": baseline["recable_s"]["neighbour_heard_at_once"],
                "result": verdict(recable, 2 * cdp_interval),
            },
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
