"""``vmtracer`` with tracemalloc on: where a long-running agent's memory goes.

What this module is for: finding what grows in an agent under churn (``make soak
SOAK_TRACE_MEMORY=FILE``). It runs the ``vmtracer`` command line as usual, in this
process, and every ``VMTRACER_MEMTRACE_EVERY`` seconds (default 30) appends to the
file named by ``VMTRACER_MEMTRACE_OUT`` the traced total and the allocation sites that
grew most since the first sample, with their tracebacks. tracemalloc slows the agent
and costs memory of its own: the RSS of a traced run says nothing; the growth of the
sites between samples does.

With ``VMTRACER_MEMTRACE_MODE=objects`` it traces nothing and instead counts the live
Python objects by type at every sample (the agent pauses for the count, about a
second at a million objects), with the process's RSS: cheap enough to run at the
soak's real pace, which tracemalloc is not.

It must never be used by the product, and never write anywhere but that file.
"""

from __future__ import annotations

import collections
import gc
import os
import sys
import threading
import time
import tracemalloc
from typing import Optional

OUT_ENV = "VMTRACER_MEMTRACE_OUT"
EVERY_ENV = "VMTRACER_MEMTRACE_EVERY"
MODE_ENV = "VMTRACER_MEMTRACE_MODE"
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


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _object_sampler(out: str, every: float) -> None:
    began = time.monotonic()
    first: Optional[collections.Counter[str]] = None
    while True:
        time.sleep(every)
        counts = collections.Counter(
            f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
        )
        if first is None:
            first = counts
        lines = [
            f"== {time.monotonic() - began:.0f} s: RSS {_rss_kb() / 1e3:.1f} MB,"
            f" {sum(counts.values())} objects tracked by gc"
        ]
        grown = sorted(counts, key=lambda k: counts[k] - first.get(k, 0), reverse=True)
        for name in grown[:TOP]:
            lines.append(f"-- {counts[name] - first.get(name, 0):+d} now {counts[name]} {name}")
        foreign = [n for n in grown[:TOP] if not n.startswith("builtins.")]
        if foreign:
            lines.extend(_held_by(foreign[0]))
        freed = gc.collect()
        lines.append(f"-- the cyclic GC then freed {freed} objects")
        with open(out, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def _huge(r: object) -> bool:
    return isinstance(r, list) and len(r) > 50_000  # gc.get_objects() of some sampler


def _keys(r: object) -> str:
    code = getattr(r, "f_code", None)
    if code is not None:
        return f" {code.co_filename}:{getattr(r, 'f_lineno', 0)} {code.co_name}"
    if isinstance(r, dict):
        return f" keys {sorted(map(str, r))[:8]}"
    if isinstance(r, (list, tuple)):
        return f" len {len(r)}"
    return ""


def _held_by(name: str, depth: int = 8) -> list[str]:
    """What holds the newest object of type ``name``: a chain of referrers' types (an
    object's ``__dict__`` is shown as the object)."""
    objs = [o for o in gc.get_objects() if f"{type(o).__module__}.{type(o).__qualname__}" == name]
    mine = {id(objs)}
    lines = []
    obj: object = objs[-1] if objs else None
    for level in range(depth):
        if obj is None:
            break
        holders: list[object] = []
        mine.add(id(holders))
        for r in gc.get_referrers(obj):
            if id(r) in mine or _huge(r):
                continue
            if isinstance(r, dict):  # an object's attributes: show the object
                owners = [o for o in gc.get_referrers(r) if getattr(o, "__dict__", None) is r]
                if owners:
                    r = owners[0]
            holders.append(r)
        kinds = [f"{type(r).__module__}.{type(r).__qualname__}{_keys(r)}" for r in holders]
        lines.append(f"   held ({level}) by {kinds[:6]}")
        obj = holders[0] if holders else None
    del objs
    return lines


def main() -> None:
    out = os.environ[OUT_ENV]
    every = float(os.environ.get(EVERY_ENV, "30"))
    sampler = _sampler
    if os.environ.get(MODE_ENV) == "objects":
        sampler = _object_sampler
    else:
        tracemalloc.start(FRAMES)
    threading.Thread(target=sampler, args=(out, every), daemon=True, name="memtrace").start()
    from eos_vmtracer.cli import main as vmtracer

    vmtracer(sys.argv[1:])  # exits


if __name__ == "__main__":
    main()
