"""Benchmark: 1,000 hosts / 20,000 VMs synchronised, and what the agent weighs at that size.

What this module is for: the README's target "1,000 hosts / 20,000 VMs synchronised in
<= 30 s, RSS <= 150 MB". One lab vCenter of that size (hosts cabled to 48 leaf
ports, VMs spread over 40 VLANs, half of them on a distributed switch) serves:

- the floor: a bare pyvmomi client reading the agent's filter from scratch
  (``WaitForUpdatesEx`` from version "" until not truncated), with no translation;
- ``VcenterSession`` in this process, from cold (``start()``) until its snapshot
  says ``synced`` (every object read and every connected host asked for its
  neighbours), and until it holds every VM;
- the agent as the product runs it (``vmtracer run``, a subprocess): from spawn to
  "synced" in its status document and to the switch carrying every VLAN the VMs
  need; then its RSS (``VmRSS`` now, ``VmHWM`` peak) and CPU time, against the RSS
  of the same agent watching a 4-host lab (the baseline); and, for information,
  event-to-VLAN latency at this size (power-ons of VMs kept off for the purpose)
  against a bare client's delivery of the same events.

It must never run the agent in this process for the RSS figure (this process holds
the lab clients), and must leave nothing running.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from typing import Any

from bench import fabric
from bench.harness import (
    AgentProcess,
    BareWatcher,
    Seen,
    TimedSwitch,
    cpu_seconds,
    memory_kb,
    start_vcsim,
    summary,
    synced,
    verdict,
)
from bench.harness import write_config as _write_config
from eos_vmtracer.config import SessionConfig
from eos_vmtracer.vcenter import VcenterSession
from eos_vmtracer.vlans import VlanSet

HOSTS = 1000
VMS = 20000
STD = list(range(100, 120))
DV = list(range(200, 220))
EVENT_VLANS = list(range(300, 310))  # one powered-off VM each, for the latency probe
TARGET_SYNC_S = 30.0
TARGET_RSS_MB = 150.0


def scenario(hosts: int = HOSTS, vms: int = VMS) -> dict[str, Any]:
    probes = [
        fabric.vm(f"probe{i}", (i * 97) % hosts, vlan, on=False)
        for i, vlan in enumerate(EVENT_VLANS)
    ]
    return fabric.fabric(
        hosts=hosts,
        vms=fabric.spread_vms(vms, hosts, STD, DV) + probes,
        std_vlans=STD + EVENT_VLANS,
        dv_vlans=DV,
    )


def _session_config(lab: Any, workdir: str) -> SessionConfig:
    import os

    path = os.path.join(workdir, "vc.password")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(lab.password)
    return SessionConfig(
        name="vc1",
        url=lab.url,
        username=lab.username,
        password_file=path,
        allowed_vlans=VlanSet.parse("2-4094"),
        thumbprint=lab.thumbprint,
    )


def _bare_sync(lab: Any) -> dict[str, Any]:
    bare = BareWatcher(lab)
    began = time.perf_counter()
    bare.connect()
    bare.create_filter()
    took, objects = bare.initial_sync()
    total = time.perf_counter() - began
    bare.stop()
    return {"read_s": took, "total_s": total, "objects": objects}


def _session_sync(lab: Any, workdir: str, vms: int) -> dict[str, float]:
    s = VcenterSession(_session_config(lab, workdir), lambda: None)
    began = time.monotonic()
    s.start()
    all_vms = 0.0
    try:
        while True:
            snap = s.snapshot()
            now = time.monotonic()
            if not all_vms and len(snap.vms) >= vms:
                all_vms = now - began
            if snap.synced:
                return {"synced_s": now - began, "all_vms_s": all_vms or now - began}
            if now - began > 300:
                raise TimeoutError("VcenterSession did not sync in 300 s")
            time.sleep(0.02)
    finally:
        s.stop()


def _agent(lab: Any, workdir: str, need: dict[str, set[int]], probes: int) -> dict[str, Any]:
    rng = random.Random(3)
    latencies: list[float] = []
    deliveries: list[float] = []
    with TimedSwitch(workdir, vlans=STD + DV + EVENT_VLANS) as sw:
        config = _write_config(workdir, lab, sw.socket)
        with AgentProcess(workdir, config) as agent:
            began = agent.started
            synced_at = agent.wait_status(synced, 300, poll=0.05)
            converged = sw.wait(lambda: sw.carries(need), 300)
            time.sleep(5.0)  # a heartbeat: the steady state after the sync
            mem = memory_kb(agent.pid)
            cpu = cpu_seconds(agent.pid)
            requests = len(sw.log)
            moids = {n: v["moid"] for n, v in lab.control.state()["vms"].items()}
            bare = BareWatcher(lab).start()  # the simulator's delivery at this size
            try:
                for i in range(probes):
                    time.sleep(rng.uniform(1.5, 2.5))
                    port, moid = fabric.port_of((i * 97) % HOSTS, 48), moids[f"probe{i}"]
                    t0 = time.monotonic()
                    lab.control.power(f"probe{i}", on=True)

                    def on_trunk(p: str = port, v: int = EVENT_VLANS[i]) -> bool:
                        return v in sw.allowed()[p]

                    def powered(s: Seen, m: str = moid) -> bool:
                        return s.moid == m and s.path == "runtime.powerState"

                    landed = sw.wait(on_trunk, 30)
                    seen = bare.wait(powered, since=t0, timeout=30)
                    latencies.append(landed - t0)
                    deliveries.append(seen - t0)
            finally:
                bare.stop()
            peak = memory_kb(agent.pid).get("VmHWM", 0)
    return {
        "synced_s": synced_at - began,
        "converged_s": converged - began,
        "rss_kb": mem.get("VmRSS", 0),
        "peak_rss_kb": max(peak, mem.get("VmHWM", 0)),
        "cpu_s": cpu,
        "eapi_requests": requests,
        "event_s": latencies,
        "delivery_s": deliveries,
    }


def _baseline_rss(workdir: str) -> int:
    small = scenario(hosts=4, vms=20)
    with start_vcsim(small) as lab, TimedSwitch(workdir, vlans=STD + DV + EVENT_VLANS) as sw:
        config = _write_config(workdir, lab, sw.socket)
        with AgentProcess(workdir, config) as agent:
            agent.wait_status(synced, 60)
            time.sleep(1.0)
            return memory_kb(agent.pid).get("VmRSS", 0)


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 1 if quick else 2  # of the bare read and of VcenterSession; the agent runs once
    probes = 5 if quick else len(EVENT_VLANS)
    big = scenario()
    need = fabric.expected_vlans(big)
    base_dir = tempfile.mkdtemp(prefix="bench-scale-base-")
    try:
        baseline_rss = _baseline_rss(base_dir)
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)
    bare: list[dict[str, Any]] = []
    sessions: list[dict[str, float]] = []
    agents: list[dict[str, Any]] = []
    began = time.monotonic()
    with start_vcsim(big, timeout=600) as lab:
        lab_start = time.monotonic() - began
        for i in range(repeats):
            bare.append(_bare_sync(lab))
            workdir = tempfile.mkdtemp(prefix="bench-scale-")
            try:
                sessions.append(_session_sync(lab, workdir, VMS + len(EVENT_VLANS)))
                if i == repeats - 1:
                    agents.append(_agent(lab, workdir, need, probes))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    session_sync = [s["synced_s"] for s in sessions]
    worst_sync = max(session_sync)
    rss_mb = max(a["rss_kb"] for a in agents) / 1024
    peak_mb = max(a["peak_rss_kb"] for a in agents) / 1024
    return {
        "what": f"{HOSTS} hosts, {VMS} VMs ({len(need)} ports, {len(STD) + len(DV)} VLANs)",
        "repeats": repeats,
        "lab_start_s": round(lab_start, 1),
        "session_synced_ms": summary(session_sync),
        "session_all_vms_ms": summary([s["all_vms_s"] for s in sessions]),
        "agent_synced_ms": summary([a["synced_s"] for a in agents]),
        "agent_converged_ms": summary([a["converged_s"] for a in agents]),
        "agent_rss_mb": round(rss_mb, 1),
        "agent_peak_rss_mb": round(peak_mb, 1),
        "agent_cpu_s": [round(a["cpu_s"], 1) for a in agents],
        "agent_eapi_requests_to_converge": [a["eapi_requests"] for a in agents],
        "agent_event_to_vlan_ms": summary([x for a in agents for x in a["event_s"]]),
        "bare_delivery_of_those_events_ms": summary([x for a in agents for x in a["delivery_s"]]),
        "baseline": {
            "bare_read_ms": summary([b["read_s"] for b in bare]),
            "bare_objects": bare[0]["objects"],
            "agent_rss_4_hosts_mb": round(baseline_rss / 1024, 1),
        },
        "targets": [
            {
                "target": "1,000 hosts / 20,000 VMs synchronised in <= 30 s (VcenterSession)",
                "measured": round(worst_sync * 1000, 1),
                "limit": TARGET_SYNC_S * 1000,
                "unit": "ms",
                "baseline_ms": round(min(b["read_s"] for b in bare) * 1000, 1),
                "result": verdict(worst_sync, TARGET_SYNC_S),
            },
            {
                "target": "agent RSS <= 150 MB at 20,000 VMs (peak)",
                "measured": round(peak_mb, 1),
                "limit": TARGET_RSS_MB,
                "unit": "MB",
                "baseline_mb": round(baseline_rss / 1024, 1),
                "result": verdict(peak_mb, TARGET_RSS_MB),
            },
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
