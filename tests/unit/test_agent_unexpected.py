"""The reconcile loop survives an exception nobody translated (a bug, a broken adapter).

The agent logs it once per kind (type and place, the traceback only at debug
level), says the switch is unreachable in its status with the error text,
applies nothing, backs off, and recovers on its own when the fault is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from eos_vmtracer.agent import Agent
from eos_vmtracer.config import CdpConfig, Config, LogConfig, SessionConfig, SwitchConfig
from eos_vmtracer.ledger import LedgerStore
from eos_vmtracer.model import SwitchFacts, SwitchInterface
from eos_vmtracer.planner import Plan
from eos_vmtracer.vlans import VlanSet
from tests.unit.fakes import FakeSession, FakeSwitch
from tests.unit.test_agent import inventory, vm


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


def wait(pred: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture()
def agent_with(tmp_path: Path) -> Any:
    started: list[tuple[Agent, threading.Thread]] = []

    def make() -> tuple[Agent, BrokenSwitch, FakeSession, threading.Thread]:
        config = Config(
            switch=SwitchConfig(
                interfaces=tuple(f"Ethernet{i}" for i in range(1, 5)),
                remove_delay=0.2,
                check_interval=0.3,  # re-read the switch often: every read may fail
                state_dir=str(tmp_path / "state"),
                run_dir=str(tmp_path / "run"),
            ),
            cdp=CdpConfig(enabled=False),
            log=LogConfig(syslog=False),
            sessions=(
                SessionConfig(
                    name="vc1", url="https://vc/sdk", allowed_vlans=VlanSet.parse("100-199")
                ),
            ),
        )
        switch = BrokenSwitch(
            SwitchFacts(
                "leaf1",
                interfaces={
                    f"Ethernet{i}": SwitchInterface(f"Ethernet{i}", allowed=VlanSet.parse("1-10"))
                    for i in range(1, 5)
                },
                vlans={1: "default", **{v: f"VM-{v}" for v in range(100, 200)}},
            )
        )
        sessions: list[FakeSession] = []

        def make_sessions(cb: Callable[[], None]) -> list[Any]:
            sessions.append(FakeSession(inventory([]), cb))
            return sessions

        agent = Agent(config, switch=switch, sessions=make_sessions, cdp=None)
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        started.append((agent, thread))
        return agent, switch, sessions[0], thread

    yield make
    for agent, thread in started:
        agent.stop()
        thread.join(10)


def internal_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "INTERNAL_ERROR" in r.getMessage()]


@pytest.mark.parametrize("where", ["facts", "apply"])
def test_an_unexpected_exception_does_not_kill_the_loop(
    agent_with: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path, where: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="eos_vmtracer.agent")
    agent, switch, session, thread = agent_with()
    wait(lambda: agent.status_document()["switch"]["reachable"] is True)
    switch.fault_in = where
    switch.fault = lambda: TypeError("'int' object is not iterable")
    if where == "facts":  # the next periodic read fails, then a VM needs a VLAN
        wait(lambda: agent.status_document()["switch"]["reachable"] is False)
    session.set(inventory([vm(1, "host-2", 120)]))

    wait(lambda: agent.status_document()["switch"]["reachable"] is False)
    time.sleep(1.5)  # several attempts (backoff 1 s, then 2 s)
    assert thread.is_alive()
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
    wait(lambda: 120 in switch.facts_now.interfaces["Ethernet2"].allowed, timeout=8)
    wait(lambda: agent.status_document()["switch"]["reachable"] is True)
    assert ("Ethernet2", 120) in LedgerStore(str(tmp_path / "state")).load().entries
    assert thread.is_alive()


def test_each_kind_is_logged_once_and_a_new_kind_again(
    agent_with: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent, switch, _session, thread = agent_with()
    wait(lambda: agent.status_document()["switch"]["reachable"] is True)
    switch.fault = lambda: KeyError("switchports")
    wait(lambda: switch.raised >= 2, timeout=6)
    switch.fault = lambda: ValueError("bad")
    wait(lambda: "ValueError" in agent.status_document()["switch"]["error"], timeout=6)
    raised = switch.raised
    wait(lambda: switch.raised >= raised + 1, timeout=6)
    kinds = [
        r.getMessage().split("internal error: ")[1].split()[0] for r in internal_errors(caplog)
    ]
    assert kinds == ["KeyError", "ValueError"], kinds
    assert thread.is_alive()


def test_a_failure_outside_reconcile_does_not_kill_the_loop(
    agent_with: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent, _switch, _session, thread = agent_with()
    wait(lambda: agent.status_document()["switch"]["reachable"] is True)
    calls: list[int] = []
    original = agent.publish

    def broken_publish() -> None:
        calls.append(1)
        raise RuntimeError("status renderer bug")

    agent.publish = broken_publish  # type: ignore[method-assign]
    time.sleep(1.5)
    assert thread.is_alive()
    assert 1 <= len(calls) <= 6, len(calls)  # backed off, not spinning
    assert len(internal_errors(caplog)) == 1
    agent.publish = original  # type: ignore[method-assign]
    wait(lambda: agent.status_document()["switch"]["reachable"] is True, timeout=8)
