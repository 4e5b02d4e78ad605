"""How often the agent publishes its status document, on a fake clock.

A change on the switch is said at once when the document is cheap. A document that
takes long to build and write (10,000 VMs: a fifth of a second) is published at
most once per STATUS_COST_SHARE times its cost, so under a storm of events it
takes at most a tenth of the loop; a change is still said, only later. Without a
change, documents are at least STATUS_GAP apart, and one goes out every HEARTBEAT.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from eos_vmtracer import agent as agent_mod
from eos_vmtracer import status as status_mod
from tests.unit.fakes import FakeClock, SteppedLoop
from tests.unit.test_agent import Stepped, inventory, stepped, vm  # noqa: F401 - the fixture


@pytest.fixture()
def start(request: pytest.FixtureRequest) -> Callable[..., Stepped]:
    """``start(**build_args)``: the ``stepped`` agent of the loop tests."""
    make: Callable[..., Stepped] = request.getfixturevalue("stepped")
    return make


def published_at(agent: Any, loop: SteppedLoop, cost: float = 0.0) -> list[float]:
    """The fake clock's time of every status document from now on; each costs ``cost``
    seconds (the observer lets that much time pass, as a slow build would)."""
    clock: FakeClock = loop.clock
    times: list[float] = []

    def observe(_doc: Any) -> None:
        clock.advance(cost)
        times.append(clock.elapsed)

    agent.observers.append(observe)
    return times


def test_a_change_is_published_at_once_when_the_document_is_cheap(start: Any) -> None:
    agent, switch, session, loop = start()
    times = published_at(agent, loop)
    loop.run_for(0.1)
    for n in range(5):  # five changes in a row, each applied at once
        session.set(inventory([vm(i, "host-1", 120 + i) for i in range(n + 1)]))
        before = len(switch.applied)
        loop.turn()
        assert len(switch.applied) == before + 1
        assert times and times[-1] == loop.clock.elapsed, "published in the same turn"


def test_a_costly_document_is_paced_by_its_cost_and_a_change_still_goes_out(
    start: Any,
) -> None:
    agent, switch, session, loop = start()
    cost = 0.2
    times = published_at(agent, loop, cost)
    gap = agent_mod.STATUS_COST_SHARE * cost
    loop.run_for(status_mod.HEARTBEAT + 0.1)  # one heartbeat: the cost is known now
    assert times
    for n in range(10):  # a storm: a change every 0.3 s, each applied
        session.set(inventory([vm(i, "host-1", 120 + i) for i in range(n + 1)]))
        loop.turn()
        loop.run_for(0.3)
    assert len(switch.applied) >= 10
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and min(gaps) >= gap - 1e-9, gaps
    # The last change is in a document within one gap (and the document's own cost).
    last_change = loop.clock.elapsed
    loop.run_for(gap + cost)
    assert times[-1] > last_change - 0.3
    doc = agent.status_document()
    assert doc["agent"]["counters"]["applies"] == len(switch.applied)


def test_without_a_change_documents_are_status_gap_apart_and_a_heartbeat_comes(
    start: Any,
) -> None:
    agent, _switch, session, loop = start()
    times = published_at(agent, loop)
    # Events that change nothing on the switch (the same VM again and again).
    for _ in range(20):
        session.set(inventory([]))
        loop.turn()
        loop.run_for(0.05)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g >= agent_mod.STATUS_GAP - 1e-9 for g in gaps), gaps
    quiet_from = loop.clock.elapsed
    loop.run_for(status_mod.HEARTBEAT + 0.1)
    assert times[-1] > quiet_from
