"""The reconcile loop survives an exception nobody translated (a bug, a broken adapter).

The agent logs it once per kind (type and place, the traceback only at debug
level), says the switch is unreachable in its status with the error text,
applies nothing, backs off, and recovers on its own when the fault is gone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from eos_vmtracer import agent as agent_mod
from eos_vmtracer import status as status_mod
from eos_vmtracer.agent import Agent
from eos_vmtracer.ledger import LedgerStore
from eos_vmtracer.model import SwitchFacts
from eos_vmtracer.planner import Plan
from tests.unit.fakes import FakeSession, FakeSwitch, SteppedLoop
from tests.unit.test_agent import Stepped, inventory, stepped, vm  # noqa: F401 - the fixture


class BrokenSwitch(FakeSwitch):
    """A fake switch whose facts() and apply() raise ``fault`` while it is set."""

    def __init__(self, facts: SwitchFacts) -> None:
        super().__init__(facts)
        self.fault: Optional[Callable[[], Exception]] = None
        self.fault_in = "facts"
        self.raised = 0

    def _maybe_fail(self, where: str) -> None:
        if self.fault is not None and self.fault_in == where:
            self.raised += 1
            raise self.fault()

    def facts(self) -> SwitchFacts:
        self._maybe_fail("facts")
        return super().facts()

    def apply(self, plan: Plan) -> SwitchFacts:
        self._maybe_fail("apply")
        return super().apply(plan)


@pytest.fixture()
def agent_with(
    request: pytest.FixtureRequest,
) -> Callable[[], tuple[Agent, BrokenSwitch, FakeSession, SteppedLoop]]:
    """An agent on a stepped clock over a :class:`BrokenSwitch` (not failing yet)."""

    def make() -> tuple[Agent, BrokenSwitch, FakeSession, SteppedLoop]:
        # check_interval 0.3: re-read the switch often, as every read may fail.
        start: Callable[..., Stepped] = request.getfixturevalue("stepped")
        agent, switch, session, loop = start(
            remove_delay=0.2, check_interval=0.3, switch_type=BrokenSwitch
        )
        assert isinstance(switch, BrokenSwitch)
        return agent, switch, session, loop

    return make


def internal_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "INTERNAL_ERROR" in r.getMessage()]


@pytest.mark.parametrize("where", ["facts", "apply"])
def test_an_unexpected_exception_does_not_kill_the_loop(
    agent_with: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path, where: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="eos_vmtracer.agent")
    agent, switch, session, loop = agent_with()
    assert agent.status_document()["switch"]["reachable"] is True
    switch.fault_in = where
    switch.fault = lambda: TypeError("'int' object is not iterable")
    if where == "facts":  # the next periodic read fails, then a VM needs a VLAN
        loop.run_for(0.3)
        assert agent.status_document()["switch"]["reachable"] is False
    session.set(inventory([vm(1, "host-2", 120)]))
    loop.turn()

    assert agent.status_document()["switch"]["reachable"] is False
    loop.run_for(1.5)  # several attempts (backoff 0.5-1 s, then 1-2 s)
    doc = agent.status_document()
    assert doc["switch"]["reachable"] is False
    assert "TypeError" in doc["switch"]["error"] and "not iterable" in doc["switch"]["error"]
    assert doc["agent"]["last_reconcile"]["result"] == "error"
    assert 120 not in switch.facts_now.interfaces["Ethernet2"].allowed
    assert not switch.applied
    # Backed off, not spinning: a handful of attempts in 1.5 s.
    assert 1 <= switch.raised <= 4, switch.raised
    # Logged once for its kind, naming it and where; the traceback only at debug level.
    errors = internal_errors(caplog)
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "TypeError" in errors[0].getMessage() and "test_agent_unexpected.py" in (
        errors[0].getMessage()
    )
    assert not errors[0].exc_info  # no traceback at error level
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert debug and all(r.exc_info[0] is TypeError for r in debug if r.exc_info)

    switch.fault = None  # the fault goes away: it recovers by itself
    loop.run_for(8)
    assert 120 in switch.facts_now.interfaces["Ethernet2"].allowed
    assert agent.status_document()["switch"]["reachable"] is True
    assert ("Ethernet2", 120) in LedgerStore(str(tmp_path / "state")).load().entries


def test_each_kind_is_logged_once_and_a_new_kind_again(
    agent_with: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent, switch, _session, loop = agent_with()
    assert agent.status_document()["switch"]["reachable"] is True
    switch.fault = lambda: KeyError("switchports")
    loop.run_for(6)
    assert switch.raised >= 2
    switch.fault = lambda: ValueError("bad")
    before = switch.raised  # the next attempt comes when the backoff (jittered) ends
    loop.run_until(lambda: switch.raised > before, within=agent_mod.BACKOFF_MAX)
    assert "ValueError" in agent.status_document()["switch"]["error"]
    raised = switch.raised
    loop.run_for(agent_mod.BACKOFF_MAX + status_mod.HEARTBEAT)  # the longest backoff
    assert switch.raised >= raised + 1  # the same kind again: not logged again
    kinds = [
        r.getMessage().split("internal error: ")[1].split()[0] for r in internal_errors(caplog)
    ]
    assert kinds == ["KeyError", "ValueError"], kinds


def test_a_failure_outside_reconcile_does_not_kill_the_loop(
    agent_with: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent, _switch, _session, loop = agent_with()
    assert agent.status_document()["switch"]["reachable"] is True
    calls: list[int] = []
    original = agent.publish

    def broken_publish() -> None:
        calls.append(1)
        raise RuntimeError("status renderer bug")

    agent.publish = broken_publish  # type: ignore[method-assign]
    loop.run_for(1.5)
    assert 1 <= len(calls) <= 6, len(calls)  # backed off, not spinning
    assert len(internal_errors(caplog)) == 1
    agent.publish = original  # type: ignore[method-assign]
    loop.run_for(8)
    assert agent.status_document()["switch"]["reachable"] is True
    assert len(calls) >= 1
