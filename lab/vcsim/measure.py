"""Measure the lab and the vCenter adapter; print JSON.

    python -m lab.vcsim.measure [--steady SECONDS] [--cold-build]

What this module is for: the numbers the vCenter work is judged by: how long the
simulator takes to build (cold and warm Go cache) and to start, how long an event
takes to reach a session's snapshot, and what a steady period costs vCenter in
requests with the production timings.

It must never be run as a timed test (numbers vary with the machine) and must leave
nothing behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

from eos_vmtracer.vcenter import SessionTiming, VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.lab import HERE, REPO
from lab.vcsim.testing import FAST, session_config, wait_for


def build_seconds(cold: bool) -> float:
    out = tempfile.mkdtemp(prefix="vcsim-build-")
    env = dict(os.environ)
    if cold:
        env["VCSIM_GOCACHE"] = os.path.join(out, "cache")
    began = time.monotonic()
    subprocess.run(
        [str(HERE / "build.sh"), os.path.join(out, "vcsim-lab")],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    took = time.monotonic() - began
    shutil.rmtree(out, ignore_errors=True)
    return took


def start_seconds(runs: int = 5) -> list[float]:
    times = []
    for _ in range(runs):
        with VcsimLab(scenarios.basic()) as lab:
            times.append(lab.start_seconds)
    return times


def latencies(toggles: int = 20) -> dict[str, Any]:
    """Seconds from a control call (power on/off) to the session's snapshot showing it."""
    with VcsimLab(scenarios.basic()) as lab:
        changed = threading.Event()
        s = VcenterSession(session_config(lab), changed.set, timing=FAST)
        s.start()
        try:
            wait_for(lambda: s.snapshot().synced, 10, "sync")
            web1 = lab.control.state()["vms"]["web1"]["moid"]
            total, after = [], []
            on = True
            for _ in range(toggles):
                on = not on
                began = time.monotonic()
                lab.control.power("web1", on=on)
                returned = time.monotonic()

                def shown(want: bool = on) -> bool:
                    return s.snapshot().vms[web1].powered_on == want

                wait_for(shown, 5, "power change")
                done = time.monotonic()
                total.append(done - began)
                after.append(done - returned)
                time.sleep(0.05)
        finally:
            s.stop()

    def summary(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "p50": round(statistics.median(xs), 3),
            "p90": round(xs[int(0.9 * (len(xs) - 1))], 3),
            "max": round(xs[-1], 3),
        }

    return {"from_call": summary(total), "from_call_return": summary(after), "samples": toggles}


def steady(seconds: float) -> dict[str, Any]:
    """Requests vCenter receives in ``seconds`` of quiet, with production timings."""
    with VcsimLab(scenarios.basic()) as lab:
        s = VcenterSession(
            session_config(lab, hint_interval=60.0), lambda: None, timing=SessionTiming()
        )
        s.start()
        try:
            wait_for(lambda: s.snapshot().synced, 10, "sync")
            time.sleep(1.0)
            lab.control.reset_counters()
            time.sleep(seconds)
            counts = lab.control.counters()
        finally:
            s.stop()
    return {"seconds": seconds, "hosts": 3, "requests": counts, "total": sum(counts.values())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steady", type=float, default=60.0, help="seconds of steady state")
    parser.add_argument("--cold-build", action="store_true", help="also time a cold Go build")
    args = parser.parse_args()
    ensure_built()
    result: dict[str, Any] = {}
    if args.cold_build:
        result["go_build_cold_s"] = round(build_seconds(cold=True), 1)
    result["go_build_warm_s"] = round(build_seconds(cold=False), 1)
    starts = start_seconds()
    result["simulator_start_s"] = {
        "median": round(statistics.median(starts), 3),
        "max": round(max(starts), 3),
    }
    result["event_to_snapshot_s"] = latencies()
    result["steady_state"] = steady(args.steady)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
