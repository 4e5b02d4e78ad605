"""Benchmark: event to VLAN on the trunk, against the floor measured on the same events.

What this module is for: the README's target "event to VLAN on the trunk: p99 <= 1 s,
within 1.5x of the floor". The agent runs as the product runs (``vmtracer run``,
a subprocess) against the lab vCenter and the eAPI emulator. Each sample powers on
one VM whose portgroup's VLAN is not yet on its host's port, and times, from just
before the control call:

- ``agent``: until the emulator has run the request that put the VLAN on the port;
- ``delivery``: until a bare pyvmomi ``WaitForUpdatesEx`` client (the agent's
  filter, nothing else, in this process) got the power-on: the simulator's own
  update delivery, measured on the very same event;
- ``commit``: one configuration-session commit of one VLAN on a port the agent
  does not manage, through the adapter's transport, right after the sample.

The floor of a sample is ``delivery + commit``; the agent's overhead is
``agent - delivery``. Samples are paced with random gaps so the agent is idle
before each event (no coalescing with the previous one).

It must never count warm-up samples, and must leave nothing running.
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
    commit_once,
    cpu_seconds,
    memory_kb,
    percentile,
    start_vcsim,
    summary,
    verdict,
    write_config,
)

HOSTS = 4
WARMUP = 3
TARGET_P99_S = 1.0
TARGET_RATIO = 1.5
FLOOR_PORT = "Ethernet48"


def _linked(doc: dict[str, Any]) -> bool:
    hosts = doc.get("hosts") or []
    return len(hosts) == HOSTS and all(
        any(link.get("interface") for link in h.get("links", [])) for h in hosts
    )


def run(quick: bool = False) -> dict[str, Any]:
    samples = 20 if quick else 60
    total = samples + WARMUP
    vlans = [1000 + i for i in range(total)]
    vms = [fabric.vm(f"ev{i}", i % HOSTS, vlans[i], on=False) for i in range(total)]
    scenario = fabric.fabric(hosts=HOSTS, vms=vms, std_vlans=vlans, dv_vlans=[200])
    rng = random.Random(7)
    workdir = tempfile.mkdtemp(prefix="bench-latency-")
    agent_s: list[float] = []
    delivery_s: list[float] = []
    commit_s: list[float] = []
    call_s: list[float] = []
    requests_per_event: list[int] = []
    try:
        with start_vcsim(scenario) as lab, TimedSwitch(workdir, vlans=vlans) as sw:
            config = write_config(workdir, lab, sw.socket, interfaces="Ethernet1-47")
            with AgentProcess(workdir, config) as agent:
                agent.wait_status(_linked, 60)
                moids = {name: v["moid"] for name, v in lab.control.state()["vms"].items()}
                bare = BareWatcher(lab).start()
                try:
                    for i in range(total):
                        time.sleep(rng.uniform(0.15, 0.35))
                        name, vlan = vms[i]["name"], vlans[i]
                        port = fabric.port_of(i % HOSTS, 48)
                        moid = moids[name]
                        before = len(sw.log)
                        t0 = time.monotonic()
                        lab.control.power(name, on=True)
                        called = time.monotonic()

                        def powered_on(s: Seen, m: str = moid) -> bool:
                            return (
                                s.moid == m
                                and s.path == "runtime.powerState"
                                and str(s.value) == "poweredOn"
                            )

                        def on_trunk(p: str = port, v: int = vlan) -> bool:
                            return v in sw.allowed()[p]

                        seen = bare.wait(powered_on, since=t0, timeout=10)
                        landed = sw.wait(on_trunk, 10)
                        time.sleep(0.1)  # let the agent finish (re-read, status) first
                        floor_lines = [
                            f"interface {FLOOR_PORT}",
                            f"switchport trunk allowed vlan add {vlan}",
                        ]
                        commit = commit_once(sw.socket, floor_lines)
                        if i < WARMUP:
                            continue
                        agent_s.append(landed - t0)
                        delivery_s.append(seen - t0)
                        call_s.append(called - t0)
                        commit_s.append(commit)
                        requests_per_event.append(
                            sum(1 for r in sw.log[before:] if FLOOR_PORT not in " ".join(r.cmds))
                        )
                    rss = memory_kb(agent.pid)
                    cpu = cpu_seconds(agent.pid)
                finally:
                    bare.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    floor = [d + c for d, c in zip(delivery_s, commit_s)]
    overhead = [a - d for a, d in zip(agent_s, delivery_s)]
    p99, floor_p99 = percentile(agent_s, 99), percentile(floor, 99)
    p50, floor_p50 = percentile(agent_s, 50), percentile(floor, 50)
    return {
        "what": "power-on of a VM -> its VLAN allowed on its host's trunk (vmtracer run)",
        "samples": samples,
        "agent_ms": summary(agent_s),
        "baseline": {
            "floor_ms": summary(floor),
            "delivery_ms": summary(delivery_s),
            "commit_ms": summary(commit_s),
            "control_call_ms": summary(call_s),
        },
        "agent_overhead_ms": summary(overhead),
        "eapi_requests_per_event": summary(requests_per_event, scale=1, digits=1),
        "ratio_p50": round(p50 / floor_p50, 2),
        "ratio_p99": round(p99 / floor_p99, 2),
        "agent_idle_rss_kb": rss.get("VmRSS"),
        "agent_cpu_s": round(cpu, 2),
        "targets": [
            {
                "target": "event to VLAN p99 <= 1 s",
                "measured": round(p99 * 1000, 1),
                "limit": TARGET_P99_S * 1000,
                "unit": "ms",
                "result": verdict(p99, TARGET_P99_S),
            },
            {
                "target": "event to VLAN p99 within 1.5x of the floor p99",
                "measured": round(p99 / floor_p99, 2),
                "limit": TARGET_RATIO,
                "unit": "x floor",
                "baseline_ms": round(floor_p99 * 1000, 1),
                "result": verdict(p99 / floor_p99, TARGET_RATIO),
            },
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
