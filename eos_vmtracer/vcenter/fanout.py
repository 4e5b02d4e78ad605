"""A few calls to vCenter in flight at once, their outcomes back in the order they end.

What this module is for: a first start asks every host of vCenter where it is cabled,
and each ``QueryNetworkHint`` waits on vCenter (which, on a real one, waits on the
host's own agent). One call at a time, a thousand hosts took seconds of waiting the
agent could have overlapped. :class:`Fanout` runs a function over a list of items on
up to ``width`` threads of its own and yields each ``(item, Outcome)`` as it ends, so
that the caller (one thread) handles every answer itself, under its own locks, as it
did one call at a time.

Overlap pays only while calls wait. Calls that come back within :data:`SLOW_CALL` are
mostly the agent's own parsing, which runs one thread at a time in Python anyway:
there more threads bought nothing in the lab (a first start took the same 8-10 s)
and cost 4-6 MB of RSS. So each run first makes :data:`PROBE_CALLS` calls one at a
time and times them: when even the quickest took :data:`SLOW_CALL` or more, the rest
run ``width`` at a time, else one at a time. (Timing calls made side by side would not
do: they wait for each other's turn in Python and look slow because they overlap.)

It must never run more than ``width`` calls at once, never let an exception escape a
worker (it is the outcome), never start a call once ``stop()`` says so or the caller
stopped reading, and never leave a thread behind after :meth:`Fanout.close`.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, Optional, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


#: Seconds: calls quicker than this are made one at a time.
SLOW_CALL = 0.010
#: Calls made one at a time at the start of each run, to time them.
PROBE_CALLS = 3


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What one call gave: its value, or the exception it raised."""

    value: Optional[R] = None
    error: Optional[Exception] = None


class Fanout:
    """Up to ``width`` calls at once on threads named ``name``-N (made when first needed)."""

    def __init__(self, width: int, name: str) -> None:
        self.width = max(1, width)
        self.name = name
        self._lock = threading.Lock()
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._closed = False
        self.wide = False  # the last run's probe found the calls slow

    def run(
        self, items: Sequence[T], fn: Callable[[T], R], stop: Callable[[], bool]
    ) -> Iterator[tuple[T, Outcome[R]]]:
        """``fn`` over ``items``: (item, outcome) as each call ends. Calls not begun when
        ``stop()`` turns true, or when the caller stops iterating, are never made."""
        if self._closed:
            return
        queued = 0
        took: list[float] = []
        while queued < len(items) and (len(took) < PROBE_CALLS or not self.wide):
            if stop():
                return
            item = items[queued]
            queued += 1
            began = time.monotonic()
            alone = _outcome(fn, item)
            took.append(time.monotonic() - began)
            if len(took) == PROBE_CALLS:
                self.wide = self.width > 1 and min(took) >= SLOW_CALL
            yield item, alone
        pool = self._executor() if queued < len(items) else None
        if pool is None:
            return
        left = threading.Event()  # the caller stopped reading: begin nothing more

        def guarded(item: T) -> Optional[Outcome[R]]:
            if left.is_set() or stop():
                return None
            return _outcome(fn, item)

        # No more than ``width`` submitted at a time: an answer waits for its reader,
        # never a thousand of them at once.
        running: dict[concurrent.futures.Future[Optional[Outcome[R]]], T] = {}
        try:
            for item in items[queued : queued + self.width]:
                running[pool.submit(guarded, item)] = item
            queued += len(running)
            while running:
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for f in done:
                    item = running.pop(f)
                    outcome = f.result()
                    if outcome is None:  # stopped: begin nothing more
                        continue
                    if queued < len(items) and not stop():
                        running[pool.submit(guarded, items[queued])] = items[queued]
                        queued += 1
                    yield item, outcome
        finally:
            left.set()
            for f in running:
                f.cancel()

    def close(self) -> None:
        """Begin nothing more; the calls under way end by themselves."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> Optional[concurrent.futures.ThreadPoolExecutor]:
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.width, thread_name_prefix=self.name
                )
            return self._pool


def _outcome(fn: Callable[[T], R], item: T) -> Outcome[R]:
    try:
        return Outcome(value=fn(item))
    except Exception as e:  # the caller decides what a failure means
        return Outcome(error=e)


__all__ = ["Fanout", "Outcome"]
