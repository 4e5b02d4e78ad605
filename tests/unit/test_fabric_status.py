"""What a scoped session shows: the agent hands it the switch's identity, and the status
(``show sessions``, ``--json``) carries hosts heard here / all and hint calls a minute."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

from eos_vmtracer import render
from eos_vmtracer.agent import Agent
from eos_vmtracer.config import CdpConfig, LogConfig
from eos_vmtracer.model import SessionInventory
from eos_vmtracer.neighbors import SwitchIdentity
from eos_vmtracer.vcenter.session import SessionFigures
from lab.builders import config, session, switch_facts
from tests.unit.fakes import FakeSession, FakeSwitch


class ScopedFake(FakeSession):
    """A fake session that, like a scoped VcenterSession, takes the switch's identity
    and reports its figures."""

    def __init__(self, inv: SessionInventory, on_change: Callable[[], None]) -> None:
        super().__init__(inv, on_change)
        self.identity: Optional[SwitchIdentity] = None

    def set_switch_identity(self, identity: SwitchIdentity) -> None:
        self.identity = identity

    def figures(self) -> SessionFigures:
        return SessionFigures(scoped=True, hosts_heard=50, hosts_total=1000, hints_last_minute=83)


def test_the_agent_names_the_switch_to_its_sessions_and_publishes_their_figures(
    tmp_path: Path,
) -> None:
    cfg = config(
        ("Ethernet1",),
        url="https://vc/sdk",
        cdp=CdpConfig(enabled=False),
        log=LogConfig(syslog=False),
        hostname="leaf1-cfg",
        state_dir=str(tmp_path / "state"),
        run_dir=str(tmp_path / "run"),
    )
    facts = switch_facts(
        ("Ethernet1",), "ALL", fqdn="leaf1.example.net", system_mac="00:1c:73:00:00:01"
    )
    made: list[ScopedFake] = []

    def sessions(cb: Callable[[], None]) -> list[Any]:
        made.append(ScopedFake(session([]), cb))
        return list(made)

    agent = Agent(cfg, switch=FakeSwitch(facts), sessions=sessions, cdp=None)
    agent.reconcile(reread=True)
    ident = made[0].identity
    assert ident is not None
    for name in ("leaf1", "LEAF1.example.net", "leaf1-cfg", "00:1c:73:00:00:01"):
        assert ident.matches(name), name
    assert not ident.matches("leaf2") and not ident.matches("")
    doc = agent.status_document()
    s = doc["sessions"][0]
    assert (s["scoped"], s["hosts_heard"], s["hints_last_minute"]) == (True, 50, 83)
    table = render.sessions_table(doc, time.time())
    assert "Hosts here/all" in table and "Hints/min" in table
    assert "50/" in table and "83" in table
    daemon = render.daemon_status(doc)["session.vc1"]  # show daemon EosVmTracer
    assert "50/0 hosts here/all" in daemon and "83 hint calls in the last minute" in daemon
