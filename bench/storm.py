"""Benchmark: a storm of 1,000 power-ons across 48 ports, against the floor of the same storm.

What this module is for: the README's target "1,000 power-ons across 48 ports converge
in <= 3 s with <= 5 eAPI requests". 48 hosts, each cabled to its own leaf port,
carry 1,000 powered-off VMs spread over 40 VLANs (so every port ends up with its
own set of VLANs). Once the agent (``vmtracer run``) is synchronised and idle,
every VM is powered on as fast as the lab's control API allows; measured from the
first power-on:

- ``converged``: until the switch carries every VLAN the VMs need (the end of the
  eAPI request that completed it), and the eAPI requests the agent sent from the
  first power-on until then (and in the 2 s after, to catch stragglers);
- the floor, on a fresh lab with the same storm and no agent: until a bare pyvmomi
  client has seen all 1,000 power-ons, plus one commit of the whole change (every
  port's VLANs in one configuration session).

Each repeat builds a fresh lab, switch and agent; floor and agent storms alternate.

It must never reuse a lab between storms (the VMs must start powered off).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any

from bench import fabric
from bench.harness import (
    AgentProcess,
    BareWatcher,
    TimedSwitch,
    commit_once,
    percentile,
    start_vcsim,
    summary,
    verdict,
    write_config,
)
from eos_vmtracer.planner import InterfaceChange, Plan
from eos_vmtracer.switch.commands import plan_commands
from eos_vmtracer.vlans import VlanSet

HOSTS = 48
VMS = 1000
VLANS = list(range(100, 140))
TARGET_S = 3.0
TARGET_REQUESTS = 5
TAIL_S = 2.0


def _scenario() -> dict[str, Any]:
    vms = fabric.spread_vms(VMS, HOSTS, VLANS, on=False)
    return fabric.fabric(hosts=HOSTS, vms=vms, std_vlans=VLANS, dv_vlans=[200])


def _linked(doc: dict[str, Any]) -> bool:
    hosts = doc.get("hosts") or []
    return len(hosts) == HOSTS and all(
        any(link.get("interface") for link in h.get("links", [])) for h in hosts
    )


def _storm(lab: Any, names: list[str]) -> tuple[float, float]:
    began = time.monotonic()
    for name in names:
        lab.control.power(name, on=True)
    return began, time.monotonic()


def _floor(scenario: dict[str, Any], names: list[str], lines: list[str]) -> dict[str, float]:
    """The same storm seen by a bare client, plus one commit of the whole change."""
    workdir = tempfile.mkdtemp(prefix="bench-storm-floor-")
    try:
        with start_vcsim(scenario) as lab, TimedSwitch(workdir, vlans=VLANS) as sw:
            moids = {v["moid"] for v in lab.control.state()["vms"].values()}
            bare = BareWatcher(lab).start()
            try:
                began, injected = _storm(lab, names)
                seen = bare.wait_count(
                    lambda s: (
                        s.moid in moids
                        and s.path == "runtime.powerState"
                        and str(s.value) == "poweredOn"
                    ),
                    len(names),
                    since=began,
                    timeout=60,
                )
            finally:
                bare.stop()
            commit = commit_once(sw.socket, lines)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"delivery": seen - began, "commit": commit, "injection": injected - began}


def _agent(scenario: dict[str, Any], names: list[str], need: dict[str, set[int]]) -> dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix="bench-storm-")
    try:
        with start_vcsim(scenario) as lab, TimedSwitch(workdir, vlans=VLANS) as sw:
            config = write_config(workdir, lab, sw.socket)
            with AgentProcess(workdir, config) as agent:
                agent.wait_status(_linked, 60)
                time.sleep(1.0)  # idle: the initial reconcile and status are done
                before = len(sw.log)
                began, injected = _storm(lab, names)
                converged = sw.wait(lambda: sw.carries(need), 60)
                time.sleep(TAIL_S)
                log = sw.log[before:]
                doc = agent.status() or {}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    until = [r for r in log if r.began <= converged]
    return {
        "converged": converged - began,
        "after_injection": converged - injected,
        "injection": injected - began,
        "requests": len(until),
        "requests_with_tail": len(log),
        "commits": sum(1 for r in until if r.commits),
        "request_sizes": [len(r.cmds) for r in log],
        "reconciles": (doc.get("agent") or {}).get("counters", {}).get("reconciles"),
    }


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 1 if quick else 3
    scenario = _scenario()
    names = [v["name"] for v in scenario["vms"]]
    need = fabric.expected_vlans(scenario, powered=set(names))
    plan = Plan(changes=tuple(InterfaceChange(p, add=VlanSet(v)) for p, v in sorted(need.items())))
    lines = plan_commands(plan)
    floors: list[dict[str, float]] = []
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        floors.append(_floor(scenario, names, lines))
        runs.append(_agent(scenario, names, need))
    conv = [r["converged"] for r in runs]
    floor = [f["delivery"] + f["commit"] for f in floors]
    worst_requests = max(r["requests"] for r in runs)
    worst = max(conv)
    return {
        "what": f"{VMS} power-ons on {HOSTS} hosts (one port each), {len(VLANS)} VLANs",
        "repeats": repeats,
        "ports": len(need),
        "vlans_added": sum(len(v) for v in need.values()),
        "converged_ms": summary(conv),
        "after_injection_ms": summary([r["after_injection"] for r in runs]),
        "injection_ms": summary([r["injection"] for r in runs]),
        "eapi_requests": [r["requests"] for r in runs],
        "eapi_requests_with_tail": [r["requests_with_tail"] for r in runs],
        "request_sizes": [r["request_sizes"] for r in runs],
        "baseline": {
            "floor_ms": summary(floor),
            "delivery_ms": summary([f["delivery"] for f in floors]),
            "commit_ms": summary([f["commit"] for f in floors]),
            "injection_ms": summary([f["injection"] for f in floors]),
            "commit_lines": len(lines),
        },
        "ratio_p50": round(percentile(conv, 50) / percentile(floor, 50), 2),
        "targets": [
            {
                "target": "storm converges in <= 3 s (worst repeat)",
                "measured": round(worst * 1000, 1),
                "limit": TARGET_S * 1000,
                "unit": "ms",
                "baseline_ms": round(percentile(floor, 50) * 1000, 1),
                "result": verdict(worst, TARGET_S),
            },
            {
                "target": "storm uses <= 5 eAPI requests (worst repeat)",
                "measured": worst_requests,
                "limit": TARGET_REQUESTS,
                "unit": "requests",
                "baseline": 1,
                "result": verdict(worst_requests, TARGET_REQUESTS),
            },
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
