"""A malformed answer AFTER ``commit``: the change is on the switch, so it is not reported
as a rejected change (the agent would forget what it owns) but as a committed one whose
facts must be read again; the agent keeps its ledger intent and re-reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.ledger import LedgerStore
from eos_vmtracer.model import SwitchFacts
from eos_vmtracer.planner import Plan
from eos_vmtracer.switch import CommittedSwitchError, EapiSwitch, TransientSwitchError
from eos_vmtracer.switch.facts import SHOW_VLANS
from eos_vmtracer.switch.transport import Reply
from tests.unit.fakes import FakeClock, FakeSwitch, SteppedLoop
from tests.unit.test_agent import build, vm
from tests.unit.test_switch_eapi import PLAN, Scripted, applied_reply
from tests.unit.test_switch_facts_fail_closed import JsonSwitch

BAD_VLANS = {"vlans": {"4095": {"name": "x", "dynamic": False}}}


@pytest.mark.parametrize(
    "bad, message", [(BAD_VLANS, 'vlans."4095": not a VLAN id'), (None, "no answer")]
)
def test_a_malformed_show_after_commit_says_committed(bad: Any, message: str) -> None:
    def malformed_after_commit(texts: list[str]) -> Reply:
        reply = applied_reply(texts)
        reply.results[texts.index(SHOW_VLANS)] = bad
        return reply

    transport = Scripted(malformed_after_commit)
    sw = EapiSwitch(SwitchConfig(), transport=transport, sleep=lambda s: None)
    try:
        sw.apply(PLAN)
        raise AssertionError("no error")
    except CommittedSwitchError as e:
        assert isinstance(e, TransientSwitchError)  # the facts may read fine later
        assert e.command == SHOW_VLANS
        assert "committed" in str(e) and message in str(e)
    # Sent once, no abort (nothing to abort: it committed), no re-send of the plan.
    assert [t[-1] for t in transport.sent] == ["show ipv6 interface"]


class CommitsThenGarbles(FakeSwitch):
    """Applies the plan, then fails to tell what the switch has (once)."""

    def __init__(self, facts: SwitchFacts) -> None:
        super().__init__(facts)
        self.garble = True

    def apply(self, plan: Plan) -> SwitchFacts:
        facts = super().apply(plan)
        if self.garble:
            self.garble = False
            raise CommittedSwitchError("committed, but ...: not a VLAN id", SHOW_VLANS)
        return facts


def _garbled_once(tmp_path: Path) -> tuple[Any, CommitsThenGarbles, FakeClock]:
    """An agent whose first commit lands but whose answer after it is bad (VM vm-1 on
    host-2 needs VLAN 130 on Ethernet2)."""
    base = JsonSwitch(glitches=0)
    base.glitches = -1
    switch = CommitsThenGarbles(base.facts())
    clock = FakeClock()
    agent, _, _session = build(
        tmp_path,
        remove_delay=0.2,
        vms=[vm(1, "host-2", 130)],
        clock=clock,
        switch=switch,
        interfaces=("Ethernet1", "Ethernet2"),
    )
    return agent, switch, clock


def test_the_agent_keeps_what_it_added_when_the_answer_after_commit_is_bad(
    tmp_path: Path,
) -> None:
    agent, switch, clock = _garbled_once(tmp_path)
    with agent.started():
        loop = SteppedLoop(agent, clock)
        loop.turn()  # applied and committed, but the answer after the commit is bad
        assert not switch.garble and agent.status_document()["switch"]["reachable"] is False
        loop.run_for(10)  # backoff, then read again
        assert agent.status_document()["switch"]["reachable"] is True
        ledger = LedgerStore(str(tmp_path / "state")).load()
    assert 130 in switch.facts_now.interfaces["Ethernet2"].allowed
    assert ("Ethernet2", 130) in ledger.entries  # owned: it was committed
    assert len(switch.applied) == 1  # read again, not applied again
    assert switch.reads >= 2


def test_a_change_whose_answer_was_lost_is_in_the_history_once_read_again(
    tmp_path: Path,
) -> None:
    """The commit landed, its answer did not: the history said "error". Once the switch
    is read again and shows the VLAN, the history and syslog say it was added, with its
    reason, like any change (and only once)."""
    from eos_vmtracer.history import History

    agent, _switch, clock = _garbled_once(tmp_path)
    with agent.started():
        loop = SteppedLoop(agent, clock)
        loop.turn()
        loop.run_for(10)
    events = [(e.action, e.interface, e.vlans) for e in History(str(tmp_path / "state")).read()]
    assert events.count(("add", "Ethernet2", "130")) == 1, events
    assert [a for a, _, _ in events].index("error") < events.index(("add", "Ethernet2", "130"))
    add = next(e for e in History(str(tmp_path / "state")).read() if e.action == "add")
    assert "VM" in add.reason
