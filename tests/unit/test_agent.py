"""The reconcile loop with fake adapters: coalescing, timers, failures, ownership on flash."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from eos_vmtracer import agent as agent_mod
from eos_vmtracer import status as status_mod
from eos_vmtracer.agent import Agent
from eos_vmtracer.config import CdpConfig, Config, LogConfig, SessionConfig, SwitchConfig
from eos_vmtracer.ledger import LedgerStore
from eos_vmtracer.model import (
    Host,
    HostPortgroup,
    HostSwitch,
    Neighbor,
    NetworkRef,
    PhysicalNic,
    SessionInventory,
    SessionState,
    SwitchFacts,
    SwitchInterface,
    VlanSpec,
    Vm,
    VNic,
)
from eos_vmtracer.switch import PermanentSwitchError, TransientSwitchError
from eos_vmtracer.vlans import VlanSet
from tests.unit.fakes import FakeSession, FakeSwitch


def host(moid: str, port: str) -> Host:
    return Host(
        moid,
        f"esx-{moid}",
        nics=(PhysicalNic("vmnic0", neighbors=(Neighbor("cdp", "leaf1", port),)),),
        switches=(HostSwitch("vSwitch0", "vSwitch0", False, ("vmnic0",)),),
        portgroups=tuple(
            HostPortgroup(f"VM-{v}", "vSwitch0", VlanSpec.single(v)) for v in range(100, 200)
        ),
    )


def vm(n: int, host_id: str, vlan: int, on: bool = True) -> Vm:
    return Vm(
        f"vm-{n}",
        f"vm{n}",
        on,
        host_id,
        (VNic(4000, "Network adapter 1", NetworkRef(False, f"VM-{vlan}")),),
    )


def inventory(vms: list[Vm], synced: bool = True) -> SessionInventory:
    hosts = {f"host-{i}": host(f"host-{i}", f"Ethernet{i}") for i in range(1, 5)}
    return SessionInventory(
        "vc1",
        SessionState.CONNECTED if synced else SessionState.DISCONNECTED,
        synced,
        hosts=hosts,
        vms={v.moid: v for v in vms},
    )


@pytest.fixture()
def setup(tmp_path: Path) -> Callable[..., tuple[Agent, FakeSwitch, FakeSession, threading.Thread]]:
    agents: list[tuple[Agent, threading.Thread]] = []

    def make(
        remove_delay: float = 0.5,
        check_interval: float = 30.0,
        vms: Optional[list[Vm]] = None,
        facts: Optional[SwitchFacts] = None,
        synced: bool = True,
        cdp: Any = None,
    ) -> tuple[Agent, FakeSwitch, FakeSession, threading.Thread]:
        config = Config(
            switch=SwitchConfig(
                interfaces=tuple(f"Ethernet{i}" for i in range(1, 5)),
                remove_delay=remove_delay,
                check_interval=check_interval,
                state_dir=str(tmp_path / "state"),
                run_dir=str(tmp_path / "run"),
            ),
            cdp=CdpConfig(enabled=cdp is not None),
            log=LogConfig(syslog=False),
            sessions=(
                SessionConfig(
                    name="vc1", url="https://vc/sdk", allowed_vlans=VlanSet.parse("100-199")
                ),
            ),
        )
        facts = facts or SwitchFacts(
            "leaf1",
            interfaces={
                f"Ethernet{i}": SwitchInterface(f"Ethernet{i}", allowed=VlanSet.parse("1-10"))
                for i in range(1, 5)
            },
            vlans={1: "default", **{v: f"VM-{v}" for v in range(100, 200)}},
        )
        switch = FakeSwitch(facts)
        sessions: list[FakeSession] = []

        def make_sessions(cb: Callable[[], None]) -> list[Any]:
            sessions.append(FakeSession(inventory(vms or [], synced=synced), cb))
            return sessions

        agent = Agent(config, switch=switch, sessions=make_sessions, cdp=cdp)
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        agents.append((agent, thread))
        return agent, switch, sessions[0], thread

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


def test_burst_of_events_is_one_apply(setup: Any) -> None:
    agent, switch, session, _ = setup()
    wait(lambda: agent.plan is not None)
    vms: list[Vm] = []
    for n in range(200):  # 200 power-ons arriving one by one, as fast as they come
        vms.append(vm(n, f"host-{1 + n % 4}", 100 + n % 100))
        session.set(inventory(list(vms)))
    wait(
        lambda: all(
            len(allowed(switch, f"Ethernet{i}") - VlanSet.parse("1-10")) == 25 for i in range(1, 5)
        )
    )
    assert len(switch.applied) <= 2, f"{len(switch.applied)} applies for one burst"


def test_removal_fires_when_due_without_any_event(setup: Any) -> None:
    _agent, switch, session, _ = setup(remove_delay=0.6, vms=[vm(1, "host-1", 120)])
    wait(lambda: 120 in allowed(switch, "Ethernet1"))
    off = time.monotonic()
    session.set(inventory([vm(1, "host-1", 120, on=False)]))
    wait(lambda: 120 not in allowed(switch, "Ethernet1"), timeout=5)
    elapsed = time.monotonic() - off
    assert elapsed >= 0.6  # not before remove_delay
    assert VlanSet.parse("1-10") <= allowed(switch, "Ethernet1")  # the operator's stay


def test_drift_is_repaired_at_the_periodic_check(
    setup: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent, switch, _session, _ = setup(check_interval=1.0, vms=[vm(1, "host-2", 150)])
    wait(lambda: 150 in allowed(switch, "Ethernet2"))
    switch.operator_removes("Ethernet2", 150)
    wait(lambda: 150 in allowed(switch, "Ethernet2"), timeout=5)
    wait(lambda: agent.status_document()["agent"]["counters"]["drift_repairs"] == 1)
    assert "DRIFT" in caplog.text and "Ethernet2" in caplog.text


def test_nothing_removed_while_session_down(setup: Any) -> None:
    _agent, switch, session, _ = setup(remove_delay=0.2, vms=[vm(1, "host-1", 130)])
    wait(lambda: 130 in allowed(switch, "Ethernet1"))
    session.set(replace(inventory([]), synced=False, state=SessionState.DISCONNECTED))
    time.sleep(1.0)
    assert 130 in allowed(switch, "Ethernet1")
    session.set(inventory([]))  # back, resynced, the VM is gone
    wait(lambda: 130 not in allowed(switch, "Ethernet1"), timeout=5)


def test_transient_failure_keeps_ownership_and_retries(setup: Any, tmp_path: Path) -> None:
    agent, switch, session, _ = setup()
    wait(lambda: agent.plan is not None)
    switch.fail_next = TransientSwitchError("timed out", command="commit")
    session.set(inventory([vm(1, "host-3", 140)]))
    # Ownership was written before the attempt and kept (the outcome was unknown).
    wait(lambda: ("Ethernet3", 140) in LedgerStore(str(tmp_path / "state")).load().entries)
    wait(lambda: 140 in allowed(switch, "Ethernet3"), timeout=8)  # retried after backoff
    wait(lambda: agent.status_document()["switch"]["reachable"] is True)
    assert agent.status_document()["agent"]["counters"]["eapi_errors"] == 1


def test_permanent_failure_forgets_the_intent(setup: Any, tmp_path: Path) -> None:
    agent, switch, session, _ = setup()
    wait(lambda: agent.plan is not None)
    switch.fail_next = PermanentSwitchError("invalid command", command="interface Ethernet3")
    session.set(inventory([vm(1, "host-3", 141)]))
    wait(lambda: agent.status_document()["agent"]["counters"]["eapi_errors"] == 1)
    assert ("Ethernet3", 141) not in LedgerStore(str(tmp_path / "state")).load().entries
    assert 141 not in allowed(switch, "Ethernet3")
    doc = agent.status_document()
    assert doc["switch"]["reachable"] is False and "invalid command" in doc["switch"]["error"]


def test_status_published_and_removed_on_stop(setup: Any, tmp_path: Path) -> None:
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


def test_restart_keeps_the_removal_clock(setup: Any, tmp_path: Path) -> None:
    """A pending removal keeps its due time across a restart; nothing is removed and re-added."""
    agent, switch, session, thread = setup(remove_delay=3.0, vms=[vm(1, "host-1", 170)])
    wait(lambda: 170 in allowed(switch, "Ethernet1"))
    session.set(inventory([vm(1, "host-1", 170, on=False)]))
    wait(
        lambda: agent.plan is not None and any(p.vlan == 170 and p.due for p in agent.plan.pending)
    )
    assert agent.plan is not None
    due = next(p.due for p in agent.plan.pending if p.vlan == 170)
    agent.stop()
    thread.join(10)
    # Restart with the same state dir: the session is not synced yet at first.
    agent2, switch2, session2, _ = setup(remove_delay=3.0, facts=switch.facts_now, synced=False)
    time.sleep(0.5)
    assert not switch2.applied  # nothing removed while unsynced
    session2.set(inventory([vm(1, "host-1", 170, on=False)]))
    wait(
        lambda: (
            agent2.plan is not None and any(p.vlan == 170 and p.due for p in agent2.plan.pending)
        )
    )
    assert agent2.plan is not None
    assert next(p.due for p in agent2.plan.pending if p.vlan == 170) == due
    wait(lambda: 170 not in allowed(switch2, "Ethernet1"), timeout=6)
    assert time.time() >= due
    assert all(not c.add for p in switch2.applied for c in p.changes)


def test_no_busy_loop_while_backing_off(setup: Any) -> None:
    """A removal falls due while eAPI is backing off: the loop waits, it does not spin."""
    agent, switch, session, _ = setup(
        remove_delay=0.4, vms=[vm(1, "host-1", 180), vm(2, "host-2", 181)]
    )
    wait(lambda: 181 in allowed(switch, "Ethernet2"))
    session.set(inventory([vm(1, "host-1", 180, on=False), vm(2, "host-2", 181)]))
    time.sleep(0.2)
    switch.fail_next = PermanentSwitchError("permission denied", command="commit")
    session.set(inventory([vm(1, "host-1", 180, on=False), vm(2, "host-2", 181, on=False)]))
    # 180's removal fails (backoff 60 s); 181 falls due 0.2 s later, during the backoff.
    wait(lambda: agent.status_document()["agent"]["counters"]["eapi_errors"] == 1, timeout=3)
    time.sleep(0.4)
    wakeups = []
    original = agent.publish
    agent.publish = lambda: (wakeups.append(1), original())  # type: ignore[method-assign]
    time.sleep(1.0)
    assert len(wakeups) <= 2, f"{len(wakeups)} wake-ups in 1 s"
    assert 180 in allowed(switch, "Ethernet1") and 181 in allowed(switch, "Ethernet2")


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
