"""``vmtracer`` with tracemalloc on: where a long-running agent's memory goes.

What this module is for: finding what grows in an agent under churn (``make soak
SOAK_TRACE_MEMORY=FILE``). It runs the ``vmtracer`` command line as usual, in this
process, and every ``VMTRACER_MEMTRACE_EVERY`` seconds (default 30) appends to the
file named by ``VMTRACER_MEMTRACE_OUT`` the traced total and the allocation sites that
grew most since the first sample, with their tracebacks. tracemalloc slows the agent
and costs memory of its own: the RSS of a traced run says nothing; the growth of the
sites between samples does.

It must never be used by the product, and never write anywhere but that file.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from typing import Optional

OUT_ENV = "VMTRACER_MEMTRACE_OUT"
EVERY_ENV = "VMTRACER_MEMTRACE_EVERY"
FRAMES = 12
TOP = 12


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    )


def _sampler(out: str, every: float) -> None:
    began = time.monotonic()
    first: Optional[tracemalloc.Snapshot] = None
    while True:
        time.sleep(every)
        snap = _snapshot()
        if first is None:
            first = snap
        current, peak = tracemalloc.get_traced_memory()
        lines = [
            f"== {time.monotonic() - began:.0f} s: traced {current / 1e6:.1f} MB"
            f" (peak {peak / 1e6:.1f} MB)"
        ]
        for stat in snap.compare_to(first, "traceback")[:TOP]:
            lines.append(
                f"-- {stat.size_diff / 1e6:+.1f} MB now {stat.size / 1e6:.1f} MB"
                f" in {stat.count} blocks ({stat.count_diff:+d})"
            )
            lines.extend(f"     {line}" for line in stat.traceback.format()[-2 * FRAMES :])
        with open(out, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def main() -> None:
    out = os.environ[OUT_ENV]
    every = float(os.environ.get(EVERY_ENV, "30"))
    tracemalloc.start(FRAMES)
    threading.Thread(target=_sampler, args=(out, every), daemon=True, name="memtrace").start()
    from eos_vmtracer.cli import main as vmtracer

    vmtracer(sys.argv[1:])  # exits


if __name__ == "__main__":
    main()
