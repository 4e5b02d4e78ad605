"""The hint scheduler: events first, heard hosts every hint_interval, the others as an
even trickle, and never more calls in a minute than the ceiling."""

from __future__ import annotations

from typing import Optional

from eos_vmtracer.vcenter.discovery import Discovery, HostSignal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sig(up: tuple[str, ...] = ("vmnic0", "vmnic1"), connected: bool = True,
        uplinks: Optional[tuple[str, ...]] = None) -> HostSignal:  # fmt: skip
    return HostSignal(
        connected=connected,
        links=frozenset(up),
        nics=frozenset({"vmnic0", "vmnic1"}),
        uplinks=None if uplinks is None else frozenset(uplinks),
    )


def make(clock: Clock, **kw: object) -> Discovery:
    args: dict[str, object] = dict(
        hint_interval=60.0, discovery_interval=1800.0, max_per_minute=1000, retry_spacing=30.0
    )
    args.update(kw)
    return Discovery(clock=clock, **args)  # type: ignore[arg-type]


def ask_all(d: Discovery, heard: set[str], hearing: tuple[str, ...] = ("vmnic0",)) -> list[str]:
    asked = d.due()
    for m in asked:
        d.asking(m)
        d.answered(m, m in heard, hearing)
    return asked


def run(
    d: Discovery,
    clock: Clock,
    seconds: float,
    heard: set[str],
    step: float = 0.25,
    hearing: tuple[str, ...] = ("vmnic0",),
) -> list[tuple[float, str]]:
    calls = []
    end = clock.now + seconds
    while clock.now < end:
        for m in ask_all(d, heard, hearing):
            calls.append((clock.now, m))
        clock.now += step
    return calls


def test_new_hosts_are_asked_at_once_then_each_class_at_its_rate() -> None:
    clock = Clock()
    d = make(clock)
    hosts = {f"host-{i}": sig() for i in range(1000)}
    heard = {f"host-{i}" for i in range(50)}
    assert d.update(hosts)
    first = ask_all(d, heard)
    assert sorted(first) == sorted(hosts)
    assert d.unasked() == []
    assert d.heard_here() == frozenset(heard)
    # Steady state: an hour after the first discovery, over 30 minutes.
    run(d, clock, 3600, heard, step=0.5)
    calls = run(d, clock, 1800, heard, step=0.5)
    per_minute = len(calls) / 30
    assert per_minute <= 50 / 1 + 950 / 30 + 2, per_minute  # heard/60 s + others/1800 s
    assert per_minute >= 75
    heard_calls = [m for _, m in calls if m in heard]
    assert abs(len(heard_calls) / 30 - 50) <= 2
    # Never a burst: no second holds more than two calls.
    per_second: dict[int, int] = {}
    for t, _ in calls:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    assert max(per_second.values()) <= 2


def test_the_ceiling_holds_in_every_sliding_minute_and_urgent_goes_first() -> None:
    clock = Clock()
    d = make(clock, max_per_minute=100)
    hosts = {f"host-{i:04d}": sig() for i in range(300)}
    d.update(hosts)
    calls = run(d, clock, 5, set())
    assert len(calls) == 100
    # A link goes down on a host not asked yet: it jumps the queue of new hosts? No:
    # new hosts are urgent too, in order of arrival; a later event comes after them.
    clock.now += 60
    late = "host-0299"
    calls = run(d, clock, 1, set())
    assert len(calls) == 100 and late not in [m for _, m in calls]
    times = [t for t, _ in run(d, clock, 200, set())] + [t for t, _ in calls]
    times.sort()
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 60) <= 100


def test_link_down_and_up_ask_at_once_and_retry_until_heard() -> None:
    clock = Clock()
    d = make(clock, retry_spacing=30.0, link_retries=3)
    d.update({"h": sig()})
    ask_all(d, set())
    clock.now += 5
    assert d.due() == []
    d.update({"h": sig(up=("vmnic1",))})  # vmnic0 lost its link
    assert d.due() == ["h"]
    ask_all(d, set(), hearing=("vmnic1",))
    clock.now += 5
    d.update({"h": sig()})  # link back: asked now, then every 30 s until vmnic0 hears
    assert ask_all(d, set(), hearing=("vmnic1",)) == ["h"]
    retries = [t for t, _ in run(d, clock, 200, set(), hearing=("vmnic1",))]
    assert len(retries) == 3
    assert [round(b - a) for a, b in zip(retries, retries[1:])] == [30, 30]


def test_retries_stop_once_the_nic_that_came_up_hears_a_neighbour() -> None:
    clock = Clock()
    d = make(clock)
    d.update({"h": sig(up=())})
    ask_all(d, set(), hearing=())
    d.update({"h": sig()})
    ask_all(d, set(), hearing=())  # nothing heard yet
    clock.now += 30
    assert ask_all(d, {"h"}, hearing=("vmnic0", "vmnic1")) == ["h"]
    calls = run(d, clock, 50, {"h"})
    assert calls == []  # heard: back to the hint_interval refresh


def test_reconnect_and_uplink_change_ask_at_once_but_other_changes_do_not() -> None:
    clock = Clock()
    d = make(clock)
    d.update({"h": sig(uplinks=("vmnic0",))})
    ask_all(d, set())
    clock.now += 1
    d.update({"h": sig(connected=False, uplinks=("vmnic0",))})
    assert d.due() == []  # a disconnected host cannot be asked
    clock.now += 1
    d.update({"h": sig(uplinks=("vmnic0",))})
    assert ask_all(d, set()) == ["h"]
    clock.now += 1
    d.update({"h": sig(uplinks=("vmnic0", "vmnic1"))})
    assert ask_all(d, set()) == ["h"]
    clock.now += 1
    d.update({"h": sig(uplinks=("vmnic0", "vmnic1"))})
    assert d.due() == []


def test_the_timer_baseline_asks_every_host_every_hint_interval() -> None:
    clock = Clock()
    d = make(clock, event_driven=False, max_per_minute=10)
    hosts = {f"host-{i}": sig() for i in range(200)}
    d.update(hosts)
    assert len(ask_all(d, set())) == 200  # no ceiling in the baseline
    d.update({m: sig(up=("vmnic1",)) for m in hosts})  # link changes are not events there
    assert d.due() == []
    calls = run(d, clock, 600, set())
    assert len(calls) == 9 * 200  # at 60, 120, ... 540 s


def test_next_due_says_when_to_wake() -> None:
    clock = Clock()
    d = make(clock)
    assert d.next_due() is None
    d.update({"h": sig()})
    assert d.next_due() == clock.now
    ask_all(d, {"h"})
    when = d.next_due()
    assert when is not None and clock.now < when <= clock.now + 60


def test_a_refresh_asks_every_host_or_one_at_once() -> None:
    clock = Clock()
    d = make(clock)
    d.update({"a": sig(), "b": sig()})
    ask_all(d, {"a"})
    clock.now += 1
    assert d.due() == []
    d.refresh("b")
    assert ask_all(d, {"a"}) == ["b"]
    d.refresh()  # the switch sends CDP on new ports: anyone may hear it now
    assert sorted(ask_all(d, {"a"})) == ["a", "b"]
