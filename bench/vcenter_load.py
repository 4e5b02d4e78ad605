"""Benchmark: what one agent costs vCenter at steady state, at two VM counts.

What this module is for: the README's target "vCenter load at steady state: the long
poll, hint refresh and keep-alive only, flat in the number of VMs". The agent runs
against a 48-host lab vCenter twice, with 1 and with 100 VMs per host; once it is
synchronised and idle, the lab's request counters (by SOAP method) are read over a
window.

Waiting minutes of production time per VM count is too slow for a benchmark, so
the agent runs in this process (``Agent(config)`` with its real ``VcenterSession``)
with every vCenter timer divided by :data:`SPEED` (long poll 30 s -> 3 s, hint
refresh 60 s -> 6 s, keep-alive 300 s -> 30 s); counts are then scaled back to
requests per production minute ("minute-equivalents"). The baseline is what those
timers alone must cost: 60/30 long polls + hosts x 60/60 hints + 60/300 keep-alives
per minute.

It must never count the synchronisation itself (the counters are reset once the
agent is synchronised and idle), and must leave nothing running.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from typing import Any

from bench import fabric
from bench.harness import TimedSwitch, start_vcsim, write_config
from eos_vmtracer.agent import Agent
from eos_vmtracer.config import load
from eos_vmtracer.vcenter import SessionTiming, VcenterSession

HOSTS = 48
PER_HOST = (1, 100)
SPEED = 10.0
PRODUCTION = SessionTiming()  # the timers the product runs with
HINT_INTERVAL = 60.0  # SessionConfig's default
ALLOWED = {"WaitForUpdatesEx", "QueryNetworkHint", "CurrentTime"}
TARGET_SPREAD = 0.10  # "flat": per-minute totals within 10% of each other


def _expected_per_minute(hosts: int) -> dict[str, float]:
    return {
        "WaitForUpdatesEx": 60.0 / PRODUCTION.wait_seconds,
        "QueryNetworkHint": hosts * 60.0 / HINT_INTERVAL,
        "CurrentTime": 60.0 / PRODUCTION.keepalive_interval,
    }


def _synced(agent: Agent) -> bool:
    return all(s["synced"] for s in agent.status_document()["sessions"])


def _measure(per_host: int, window: float) -> dict[str, Any]:
    std = list(range(100, 120))
    scenario = fabric.fabric(
        hosts=HOSTS,
        vms=fabric.spread_vms(HOSTS * per_host, HOSTS, std, list(range(200, 220))),
        std_vlans=std,
    )
    timing = SessionTiming(
        wait_seconds=max(1, round(PRODUCTION.wait_seconds / SPEED)),
        keepalive_interval=PRODUCTION.keepalive_interval / SPEED,
    )
    workdir = tempfile.mkdtemp(prefix="bench-vcload-")
    try:
        with start_vcsim(scenario) as lab, TimedSwitch(workdir, vlans=std) as sw:
            path = write_config(
                workdir, lab, sw.socket, session={"hint_interval": HINT_INTERVAL / SPEED}
            )
            config = load(path)
            agent = Agent(
                config,
                sessions=lambda cb: [VcenterSession(s, cb, timing=timing) for s in config.sessions],
            )
            thread = threading.Thread(target=agent.run, name="bench-agent", daemon=True)
            thread.start()
            try:
                deadline = time.monotonic() + 120
                while not (agent.plan is not None and _synced(agent)):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the agent did not synchronise")
                    time.sleep(0.1)
                time.sleep(2.0)  # the first hint round and reconcile are over
                lab.control.reset_counters()
                eapi_before = len(sw.log)
                time.sleep(window)
                counts = lab.control.counters()
                eapi = len(sw.log) - eapi_before
            finally:
                agent.stop()
                thread.join(30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    minutes = window * SPEED / 60.0
    per_minute = {k: round(v / minutes, 1) for k, v in sorted(counts.items())}
    return {
        "vms": HOSTS * per_host,
        "window_s": window,
        "minute_equivalents": round(minutes, 2),
        "requests": dict(sorted(counts.items())),
        "per_minute": per_minute,
        "per_minute_total": round(sum(counts.values()) / minutes, 1),
        "eapi_requests": eapi,
    }


def run(quick: bool = False) -> dict[str, Any]:
    window = 15.0 if quick else 30.0
    runs = [_measure(n, window) for n in PER_HOST]
    expected = _expected_per_minute(HOSTS)
    totals = [r["per_minute_total"] for r in runs]
    spread = (max(totals) - min(totals)) / min(totals) if min(totals) else float("inf")
    others = sorted({m for r in runs for m in r["requests"]} - ALLOWED)
    return {
        "what": f"{HOSTS} hosts, idle, requests per production minute at two VM counts",
        "speed": SPEED,
        "runs": runs,
        "baseline": {
            "expected_per_minute": {k: round(v, 1) for k, v in expected.items()},
            "expected_per_minute_total": round(sum(expected.values()), 1),
        },
        "spread": round(spread, 3),
        "other_methods": others,
        "targets": [
            {
                "target": "steady state: only long poll, hint refresh, keep-alive",
                "measured": others or "none other",
                "limit": sorted(ALLOWED),
                "result": "pass" if not others else "FAIL",
            },
            {
                "target": f"flat in VMs: per-minute totals at {runs[0]['vms']} and "
                f"{runs[-1]['vms']} VMs within 10%",
                "measured": totals,
                "limit": TARGET_SPREAD,
                "unit": "requests/min",
                "baseline": round(sum(expected.values()), 1),
                "result": "pass" if spread <= TARGET_SPREAD else "FAIL",
            },
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
