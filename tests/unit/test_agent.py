"""The reconcile loop with fake adapters: coalescing, timers, failures, ownership on flash.

Most tests turn the loop by hand on a fake clock (:class:`SteppedLoop`): remove_delay,
the periodic check and backoff are then exact and nothing sleeps. A few smoke tests
run the agent on its own thread, as the product does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from eos_vmtracer import agent as agent_mod
from eos_vmtracer import status as status_mod
from eos_vmtracer.agent import Agent
from eos_vmtracer.backoff import Backoff
from eos_vmtracer.config import CdpConfig, LogConfig
from eos_vmtracer.ledger import LedgerStore
from eos_vmtracer.model import SessionInventory, SessionState, SwitchFacts, Vm
from eos_vmtracer.switch import PermanentSwitchError, TransientSwitchError
from eos_vmtracer.vlans import VlanSet
from lab.builders import a_vm, config, esx, session, std, switch_facts, vlan_pgs
from tests.unit.fakes import FakeClock, FakeSession, FakeSwitch, SteppedLoop

EDGE = tuple(f"Ethernet{i}" for i in range(1, 5))
HOSTS = tuple(esx(f"host-{i}", (f"Ethernet{i}",), vlan_pgs(range(100, 200))) for i in range(1, 5))
"""host-i cabled to Ethernet<i>, with a portgroup VM-<v> for every VLAN v in 100-199."""


def vm(n: int, host_id: str, vlan: int, on: bool = True) -> Vm:
    """VM ``vm<n>`` on ``host_id`` with one vNIC on portgroup VM-<vlan>."""
    return a_vm(f"vm-{n}", host_id, std(f"VM-{vlan}"), on=on, name=f"vm{n}")


def inventory(vms: list[Vm], synced: bool = True) -> SessionInventory:
    """Session vc1 with the four hosts and ``vms``."""
    return session(HOSTS, vms, synced=synced)


def leaf_facts() -> SwitchFacts:
    """leaf1: Ethernet1-4 are trunks allowing the operator's 1-10; VLANs 100-199 exist."""
    vlans = {1: "default", **{v: f"VM-{v}" for v in range(100, 200)}}
    return switch_facts(EDGE, "1-10", vlans=vlans)


def build(
    tmp_path: Path,
    remove_delay: float = 0.5,
    check_interval: float = 30.0,
    vms: Optional[list[Vm]] = None,
    facts: Optional[SwitchFacts] = None,
    synced: bool = True,
    cdp: Any = None,
    clock: Optional[FakeClock] = None,
    switch_type: type[FakeSwitch] = FakeSwitch,
    switch: Any = None,
    interfaces: tuple[str, ...] = EDGE,
) -> tuple[Agent, Any, FakeSession]:
    """An agent (not started) over a fake switch (a ``switch_type`` with ``facts``, or
    ``switch`` itself) and one fake session of vc1 on these edge ``interfaces``; on
    ``clock`` when given, else on the real clocks."""
    cfg = config(
        interfaces,
        allowed="100-199",
        url="https://vc/sdk",
        remove_delay=remove_delay,
        check_interval=check_interval,
        state_dir=str(tmp_path / "state"),
        run_dir=str(tmp_path / "run"),
        cdp=CdpConfig(enabled=cdp is not None),
        log=LogConfig(syslog=False),
    )
    if switch is None:
        switch = switch_type(facts or leaf_facts())
    sessions: list[FakeSession] = []

    def make_sessions(cb: Callable[[], None]) -> list[Any]:
        sessions.append(FakeSession(inventory(vms or [], synced=synced), cb))
        return sessions

    timing: dict[str, Any] = {}
    if clock is not None:
        timing = {"clock": clock.time, "monotonic": clock.monotonic}
    agent = Agent(cfg, switch=switch, sessions=make_sessions, cdp=cdp, **timing)
    return agent, switch, sessions[0]


Stepped = tuple[Agent, Any, FakeSession, SteppedLoop]


@pytest.fixture()
def stepped(tmp_path: Path) -> Iterator[Callable[..., Stepped]]:
    """``stepped(**build_args)``: an agent started without its thread, on a fake clock,
    after its first turn (the sessions' start is its first event)."""
    with contextlib.ExitStack() as stack:

        def make(**kwargs: Any) -> Stepped:
            clock = FakeClock()
            agent, switch, sess = build(tmp_path, clock=clock, **kwargs)
            stack.enter_context(agent.started())
            loop = SteppedLoop(agent, clock)
            loop.turn()
            return agent, switch, sess, loop

        yield make


@pytest.fixture()
def setup(tmp_path: Path) -> Callable[..., tuple[Agent, FakeSwitch, FakeSession, threading.Thread]]:
    """``setup(**build_args)``: an agent running on its own thread, on the real clocks."""
    agents: list[tuple[Agent, threading.Thread]] = []

    def make(**kwargs: Any) -> tuple[Agent, FakeSwitch, FakeSession, threading.Thread]:
        agent, switch, sess = build(tmp_path, **kwargs)
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        agents.append((agent, thread))
        return agent, switch, sess, thread

    yield make
    for agent, thread in agents:
        agent.stop()
        thread.join(10)


def wait(pred: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except status_mod.StatusUnavailable:
            pass
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def allowed(switch: FakeSwitch, iface: str) -> VlanSet:
    return switch.facts_now.interfaces[iface].allowed


OPERATOR = VlanSet.parse("1-10")  # the operator's VLANs on every edge port
SWITCH_BACKOFF: Backoff = agent_mod.SWITCH_BACKOFF


def test_burst_of_events_is_one_apply(stepped: Any) -> None:
    _agent, switch, session, loop = stepped()
    assert switch.applied == []  # nothing needed yet
    vms: list[Vm] = []
    for n in range(200):  # 200 power-ons arriving one by one before the loop turns
        vms.append(vm(n, f"host-{1 + n % 4}", 100 + n % 100))
        session.set(inventory(list(vms)))
    loop.turn()
    assert len(switch.applied) == 1, f"{len(switch.applied)} applies for one burst"
    for i in range(1, 5):  # host-i's 50 VMs need 25 VLANs, all in that one apply
        assert allowed(switch, f"Ethernet{i}") - OPERATOR == VlanSet(range(99 + i, 200, 4))
    loop.run_for(60)  # nothing else to do: no further apply
    assert len(switch.applied) == 1


def test_removal_fires_when_due_without_any_event(stepped: Any) -> None:
    # remove_delay 20 s: due between two status heartbeats, before the periodic check.
    _agent, switch, session, loop = stepped(remove_delay=20.0, vms=[vm(1, "host-1", 120)])
    assert 120 in allowed(switch, "Ethernet1")
    session.set(inventory([vm(1, "host-1", 120, on=False)]))
    loop.turn()
    loop.run_for(19.9)
    assert 120 in allowed(switch, "Ethernet1")  # not before remove_delay
    loop.run_for(0.2)  # due: the loop wakes by itself
    assert 120 not in allowed(switch, "Ethernet1")
    assert allowed(switch, "Ethernet1") == OPERATOR  # the operator's stay


def test_drift_is_repaired_at_the_periodic_check(
    stepped: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent, switch, _session, loop = stepped(check_interval=30.0, vms=[vm(1, "host-2", 150)])
    assert 150 in allowed(switch, "Ethernet2")
    switch.operator_removes("Ethernet2", 150)
    loop.run_for(29.9)  # the agent does not know yet: it reads the switch every 30 s
    assert 150 not in allowed(switch, "Ethernet2")
    loop.run_for(0.2)
    assert 150 in allowed(switch, "Ethernet2")
    assert agent.status_document()["agent"]["counters"]["drift_repairs"] == 1
    assert "DRIFT" in caplog.text and "Ethernet2" in caplog.text


def test_nothing_removed_while_session_down(stepped: Any) -> None:
    _agent, switch, session, loop = stepped(remove_delay=20.0, vms=[vm(1, "host-1", 130)])
    assert 130 in allowed(switch, "Ethernet1")
    session.set(replace(inventory([]), synced=False, state=SessionState.DISCONNECTED))
    loop.turn()
    loop.run_for(600)
    assert 130 in allowed(switch, "Ethernet1")
    session.set(inventory([]))  # back, resynced, the VM is gone: remove_delay starts now
    loop.turn()
    loop.run_for(19.9)
    assert 130 in allowed(switch, "Ethernet1")
    loop.run_for(0.2)
    assert 130 not in allowed(switch, "Ethernet1")


def test_transient_failure_keeps_ownership_and_retries(stepped: Any, tmp_path: Path) -> None:
    agent, switch, session, loop = stepped()
    switch.fail_next = TransientSwitchError("timed out", command="commit")
    session.set(inventory([vm(1, "host-3", 140)]))
    loop.turn()
    # Ownership was written before the attempt and kept (the outcome was unknown).
    assert ("Ethernet3", 140) in LedgerStore(str(tmp_path / "state")).load().entries
    assert 140 not in allowed(switch, "Ethernet3")
    assert agent.status_document()["switch"]["reachable"] is False
    shortest = SWITCH_BACKOFF.ceiling(0) / 2
    loop.run_for(shortest - 0.01)  # not before the shortest first backoff
    assert 140 not in allowed(switch, "Ethernet3")
    # Retried as the backoff ends: after the longest first one at the latest.
    loop.run_for(SWITCH_BACKOFF.ceiling(0) - shortest + 0.02)
    assert 140 in allowed(switch, "Ethernet3")
    assert agent.status_document()["switch"]["reachable"] is True
    assert agent.status_document()["agent"]["counters"]["eapi_errors"] == 1


def test_permanent_failure_forgets_the_intent(stepped: Any, tmp_path: Path) -> None:
    agent, switch, session, loop = stepped()
    switch.fail_next = PermanentSwitchError("invalid command", command="interface Ethernet3")
    session.set(inventory([vm(1, "host-3", 141)]))
    loop.turn()
    assert agent.status_document()["agent"]["counters"]["eapi_errors"] == 1
    assert ("Ethernet3", 141) not in LedgerStore(str(tmp_path / "state")).load().entries
    assert 141 not in allowed(switch, "Ethernet3")
    doc = agent.status_document()
    assert doc["switch"]["reachable"] is False and "invalid command" in doc["switch"]["error"]
    # A permanent error waits the longest backoff at once, then tries again.
    loop.run_for(SWITCH_BACKOFF.maximum / 2 - 0.01)
    assert 141 not in allowed(switch, "Ethernet3") and len(switch.applied) == 0
    loop.run_for(SWITCH_BACKOFF.maximum / 2 + status_mod.HEARTBEAT + 0.02)
    assert 141 in allowed(switch, "Ethernet3")


def test_status_published_and_removed_on_stop(setup: Any, tmp_path: Path) -> None:
    """Threaded smoke test: the loop on its thread publishes, and stops cleanly."""
    agent, switch, session, thread = setup(vms=[vm(1, "host-4", 160)])
    run_dir = str(tmp_path / "run")
    wait(lambda: 160 in allowed(switch, "Ethernet4"))
    wait(lambda: "160" in str(status_mod.read_status(run_dir)["interfaces"]))
    doc = status_mod.read_status(run_dir)
    eth4 = next(i for i in doc["interfaces"] if i["name"] == "Ethernet4")
    assert eth4["dynamic"] == "160" and eth4["static"] == "1-10" and eth4["required"] == "160"
    assert eth4["reasons"]["160"][0]["subject"] == "vm1"
    agent.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert session.stopped
    with pytest.raises(status_mod.StatusUnavailable, match="not running"):
        status_mod.read_status(run_dir)


def test_threaded_burst_reaches_the_switch(setup: Any) -> None:
    """Threaded smoke test: events from another thread wake the loop (counts of applies
    under wall-clock coalescing are for the stepped test above)."""
    agent, switch, session, _ = setup()
    wait(lambda: agent.plan is not None)
    vms = [vm(n, f"host-{1 + n % 4}", 100 + n % 100) for n in range(40)]
    for n in range(1, len(vms) + 1):
        session.set(inventory(vms[:n]))
    wait(lambda: all(len(allowed(switch, f"Ethernet{i}") - OPERATOR) == 10 for i in range(1, 5)))


def test_restart_keeps_the_removal_clock(tmp_path: Path) -> None:
    """A pending removal keeps its due time across a restart; nothing is removed and re-added."""
    clock = FakeClock()
    agent, switch, session = build(
        tmp_path, remove_delay=300.0, vms=[vm(1, "host-1", 170)], clock=clock
    )
    with agent.started():
        loop = SteppedLoop(agent, clock)
        loop.turn()
        assert 170 in allowed(switch, "Ethernet1")
        session.set(inventory([vm(1, "host-1", 170, on=False)]))
        loop.turn()
        assert agent.plan is not None
        (due,) = [p.due for p in agent.plan.pending if p.vlan == 170]
        assert due == clock.time() + 300
        loop.run_for(100)
    # Restart with the same state dir: the session is not synced yet at first.
    agent2, switch2, session2 = build(
        tmp_path, remove_delay=300.0, facts=switch.facts_now, synced=False, clock=clock
    )
    with agent2.started():
        loop = SteppedLoop(agent2, clock)
        loop.turn()
        loop.run_for(100)
        assert not switch2.applied  # nothing removed while unsynced
        session2.set(inventory([vm(1, "host-1", 170, on=False)]))
        loop.turn()
        assert agent2.plan is not None
        assert [p.due for p in agent2.plan.pending if p.vlan == 170] == [due]
        loop.run_for(due - clock.time() - 0.1)
        assert 170 in allowed(switch2, "Ethernet1")
        loop.run_for(0.2)
        assert 170 not in allowed(switch2, "Ethernet1")
        assert clock.time() >= due
        assert switch2.applied and all(not c.add for p in switch2.applied for c in p.changes)


def test_no_busy_loop_while_backing_off(stepped: Any) -> None:
    """A removal falls due while eAPI is backing off: the loop waits, it does not spin."""
    agent, switch, session, loop = stepped(
        remove_delay=10.0, vms=[vm(1, "host-1", 180), vm(2, "host-2", 181)]
    )
    assert 181 in allowed(switch, "Ethernet2")
    session.set(inventory([vm(1, "host-1", 180, on=False), vm(2, "host-2", 181)]))
    loop.turn()
    loop.run_for(5)
    switch.fail_next = PermanentSwitchError("permission denied", command="commit")
    session.set(inventory([vm(1, "host-1", 180, on=False), vm(2, "host-2", 181, on=False)]))
    loop.turn()
    assert agent.status_document()["agent"]["counters"]["eapi_errors"] == 0  # nothing due
    loop.run_for(5.1)  # 180 falls due: its removal fails
    # 180's removal failed (a permanent error: backoff of 30-60 s); 181 falls due 5 s
    # later, during the backoff: only the status heartbeat wakes the loop meanwhile.
    assert agent.status_document()["agent"]["counters"]["eapi_errors"] == 1
    window = SWITCH_BACKOFF.maximum / 2 - 1
    turns = loop.run_for(window)
    assert turns <= window / status_mod.HEARTBEAT + 2, f"{turns} wake-ups in {window} s"
    assert 180 in allowed(switch, "Ethernet1") and 181 in allowed(switch, "Ethernet2")
    loop.run_for(SWITCH_BACKOFF.maximum / 2 + 1 + status_mod.HEARTBEAT)  # both go
    assert 180 not in allowed(switch, "Ethernet1") and 181 not in allowed(switch, "Ethernet2")


class RecordingCdp:
    """A CDP sender that records the ports it is told to advertise on."""

    def __init__(self) -> None:
        self.ports: list[frozenset[str]] = []

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 5.0) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {}

    def update(self, identity: Any, ports: Any, native_vlans: Any = None) -> None:
        self.ports.append(frozenset(ports))


def test_cdp_on_new_ports_makes_every_session_expect_hearing(setup: Any) -> None:
    # The hosts may hear this switch within seconds: each session asks them again then,
    # and static_hosts waits for the answers. Ports already advertised change nothing.
    cdp = RecordingCdp()
    _agent, _switch, session, _ = setup(cdp=cdp, check_interval=1.0)
    wait(lambda: cdp.ports and session.hearing)
    assert cdp.ports[0] == {f"Ethernet{i}" for i in range(1, 5)}
    assert session.hearing == [agent_mod.HEARING_WITHIN]
    wait(lambda: len(cdp.ports) >= 2, timeout=5)  # the periodic check told CDP again
    assert session.hearing == [agent_mod.HEARING_WITHIN]
