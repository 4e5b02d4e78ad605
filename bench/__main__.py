"""``python -m bench``: run every benchmark, print one JSON document on stdout.

What this module is for: the one entry point ``make bench`` runs (under the Python
3.9 virtualenv). Each benchmark measures a target of README.md ("Performance and
known limits") and, in the same run, the
baseline it is judged against; this module collects their results, adds the
machine and how busy it was, and a summary table of target / measured / baseline /
pass-fail. Progress goes to stderr.

    python -m bench [--quick] [--only NAME ...] [--strict] [--no-cdp]

``--quick`` runs fewer samples and repeats (about 4 minutes instead of about 8);
``--only`` picks benchmarks (planner, latency, storm, vcenter_load, scale, fabric,
cdp_send);
``--strict`` exits 1 when a target is missed (else 0 unless a benchmark crashed: 2).
``bench/cdp_send.py`` (root, network namespaces) runs when this is root and the
``ip`` tool is there, as its own process.

It must never be part of ``make test``, and must leave no process, socket or
temporary directory behind, whatever fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from typing import Any, Callable

from bench.harness import REPO, machine

ORDER = ("planner", "latency", "storm", "vcenter_load", "scale", "fabric", "cdp_send")


def _runner(name: str) -> Callable[[bool], dict[str, Any]]:
    if name == "planner":
        from bench import planner_cost

        return planner_cost.run
    if name == "latency":
        from bench import latency

        return latency.run
    if name == "storm":
        from bench import storm

        return storm.run
    if name == "vcenter_load":
        from bench import vcenter_load

        return vcenter_load.run
    if name == "scale":
        from bench import scale

        return scale.run
    if name == "fabric":
        from bench import fabric_scale

        return fabric_scale.run
    return _cdp_send


def _cdp_send(quick: bool) -> dict[str, Any]:
    """bench/cdp_send.py in its own process (it needs root and network namespaces)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return {"skipped": "needs root and the ip tool (network namespaces)", "targets": []}
    args = ["--rounds", "100", "--seconds", "1"] if quick else []
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "bench", "cdp_send.py"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cdp_send.py exited {proc.returncode}: {proc.stderr[-500:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    result["targets"] = []
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    parser.add_argument("--only", action="append", choices=ORDER, help="run only these")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-cdp", action="store_true", help="skip bench/cdp_send.py")
    args = parser.parse_args(argv)
    names = [n for n in ORDER if (args.only is None or n in args.only)]
    if args.no_cdp and "cdp_send" in names:
        names.remove("cdp_send")

    began = time.monotonic()
    doc: dict[str, Any] = {
        "suite": "eos-vmtracer benchmarks",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine_before": machine(),
        "benchmarks": {},
        "summary": [],
    }
    crashed = False
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            result = _runner(name)(args.quick)
        except Exception as e:  # one benchmark failing must not lose the others
            crashed = True
            traceback.print_exc(file=sys.stderr)
            result = {"error": f"{type(e).__name__}: {e}", "targets": []}
        result["duration_s"] = round(time.monotonic() - t0, 1)
        doc["benchmarks"][name] = result
        for target in result.get("targets", []):
            doc["summary"].append({"benchmark": name, **target})
        print(f"bench: {name} done in {result['duration_s']} s", file=sys.stderr, flush=True)
    doc["machine_after"] = machine()
    doc["duration_s"] = round(time.monotonic() - began, 1)
    doc["missed"] = [
        f"{s['benchmark']}: {s['target']}" for s in doc["summary"] if s["result"] != "pass"
    ]
    print(json.dumps(doc, indent=2, default=str))
    if crashed:
        return 2
    return 1 if args.strict and doc["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
