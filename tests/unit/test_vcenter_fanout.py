"""The fanout of hint calls: slow calls overlap (never more than the width), quick ones
go one at a time, every outcome reaches the caller, and stopping begins nothing more."""

from __future__ import annotations

import threading
import time

import pytest

from eos_vmtracer.vcenter.fanout import PROBE_CALLS, SLOW_CALL, Fanout


class Calls:
    """A call that takes ``seconds`` and records how many ran at once."""

    def __init__(self, seconds: float, fail: frozenset[int] = frozenset()) -> None:
        self.seconds = seconds
        self.fail = fail
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.made: list[int] = []

    def __call__(self, item: int) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.made.append(item)
        try:
            time.sleep(self.seconds)
            if item in self.fail:
                raise ValueError(f"call {item} failed")
            return item * 10
        finally:
            with self.lock:
                self.now -= 1


def never() -> bool:
    return False


def test_slow_calls_overlap_up_to_the_width_and_every_outcome_comes_back() -> None:
    fan = Fanout(4, "test-fanout")
    calls = Calls(SLOW_CALL * 3, fail=frozenset({7}))
    try:
        began = time.monotonic()
        got = dict(fan.run(list(range(20)), calls, never))
        took = time.monotonic() - began
    finally:
        fan.close()
    assert sorted(got) == list(range(20))
    assert all(got[i].value == i * 10 for i in got if i != 7)
    assert isinstance(got[7].error, ValueError) and got[7].value is None
    assert calls.most == 4, "the width is the most calls at once, and it was reached"
    one_at_a_time = 20 * calls.seconds
    assert took < 0.7 * one_at_a_time
    assert fan.wide


def test_quick_calls_go_one_at_a_time() -> None:
    fan = Fanout(8, "test-fanout")
    calls = Calls(0.0)
    try:
        got = list(fan.run(list(range(50)), calls, never))
    finally:
        fan.close()
    assert [item for item, _ in got] == list(range(50)), "one at a time: in order"
    assert calls.most == 1 and not fan.wide


def test_a_width_of_one_never_overlaps_even_slow_calls() -> None:
    fan = Fanout(1, "test-fanout")
    calls = Calls(SLOW_CALL * 2)
    got = list(fan.run(list(range(PROBE_CALLS + 3)), calls, never))
    assert len(got) == PROBE_CALLS + 3 and calls.most == 1


@pytest.mark.parametrize("wide", [False, True])
def test_stop_begins_nothing_more(wide: bool) -> None:
    fan = Fanout(4, "test-fanout")
    calls = Calls(SLOW_CALL * 3 if wide else 0.0)
    stop = threading.Event()
    got = []
    try:
        for item, _ in fan.run(list(range(100)), calls, stop.is_set):
            got.append(item)
            if len(got) == PROBE_CALLS + 2:
                stop.set()
        time.sleep(calls.seconds * 2)
    finally:
        fan.close()
    assert len(calls.made) <= PROBE_CALLS + 2 + 4, "calls were begun after the stop"
    assert len(got) < 100


def test_a_reader_that_leaves_early_begins_nothing_more() -> None:
    fan = Fanout(4, "test-fanout")
    calls = Calls(SLOW_CALL * 3)
    try:
        for n, _ in enumerate(fan.run(list(range(100)), calls, never)):
            if n == PROBE_CALLS + 1:
                break
        time.sleep(calls.seconds * 3)
        made = len(calls.made)
        time.sleep(calls.seconds * 3)
    finally:
        fan.close()
    assert made == len(calls.made) <= PROBE_CALLS + 1 + 4


def test_a_closed_fanout_makes_no_call() -> None:
    fan = Fanout(4, "test-fanout")
    fan.close()
    calls = Calls(0.0)
    assert list(fan.run([1, 2, 3], calls, never)) == []
    assert calls.made == []
