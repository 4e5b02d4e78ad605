"""Every text channel shows names from vCenter escaped (off the lab: the end-to-end
test ``tests/e2e/test_escaping.py`` does the same through a real agent).

A world whose host, vmnic, portgroup, VM and adapter names and neighbour ids all
carry a newline, ESC/OSC and C1 sequences, a line separator and a bidi override is
planned and published as the agent does; then every renderer (the ``show`` tables,
``explain``, ``show history``), the EOS daemon status and the CLI extension's text
must hold no raw control character and no line that starts with the injected
text, while the escaped names are there to read.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Callable

import pytest

from eos_vmtracer import render
from eos_vmtracer import status as status_mod
from eos_vmtracer.eos import controller as eos_controller
from eos_vmtracer.ledger import Ledger
from eos_vmtracer.model import (
    Host,
    HostPortgroup,
    HostSwitch,
    Inventory,
    Neighbor,
    NetworkRef,
    PhysicalNic,
    SessionInventory,
    SessionState,
    VlanSpec,
    Vm,
    VNic,
)
from eos_vmtracer.planner import plan, simulate
from eos_vmtracer.shown import shown
from lab.builders import agent_facts
from tests.unit.test_planner_cases import NOW, cfg, facts

EVIL = "\nusername evil privilege 15 secret x\n!\x1b]0;pwned\x07\x1b[2J\u009b31m\u2028\u202e"


def hostile_doc() -> dict[str, Any]:
    nics = (
        PhysicalNic("vmnic0", neighbors=(Neighbor("cdp", "leaf1", "Ethernet1"),)),
        PhysicalNic(f"vmnic1{EVIL}", neighbors=(Neighbor("lldp", f"leaf1.{EVIL}", "Ethernet2"),)),
        PhysicalNic("vmnic2", neighbors=(Neighbor("cdp", "leaf1", f"Ethernet3{EVIL}"),)),
    )
    uplinks = tuple(n.device for n in nics)
    pgs = (HostPortgroup(f"VM-100{EVIL}", "vSwitch0", VlanSpec.single(100), None),)
    host = Host(
        "host-1",
        f"esx1{EVIL}",
        True,
        nics,
        (HostSwitch("vSwitch0", "vSwitch0", False, uplinks),),
        pgs,
    )
    vm = Vm(
        "vm-1",
        f"web01{EVIL}",
        True,
        "host-1",
        (VNic(4000, f"Network adapter 1{EVIL}", NetworkRef(False, f"VM-100{EVIL}")),),
    )
    inv = Inventory(
        (
            SessionInventory(
                "vc1",
                SessionState.CONNECTED,
                True,
                hosts={"host-1": host},
                vms={"vm-1": vm},
                error=f"last error{EVIL}",
            ),
        )
    )
    c = cfg()
    f = facts(Ethernet1="1-10")
    first = plan(inv, f, c, Ledger(), NOW)
    p = plan(inv, simulate(f, first), c, first.ledger, NOW)
    agent = agent_facts(
        NOW, reconcile_error=f"e{EVIL}", switch_error=f"eAPI said{EVIL}", cdp_ports={}
    )
    return status_mod.build(c, inv, simulate(f, first), p, agent, NOW)


def raw_controls(text: str) -> list[str]:
    """Characters a terminal or a log reader acts on (the lines' own newlines aside)."""
    return [
        c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ]


def check(text: str) -> None:
    assert not raw_controls(text), text
    for line in text.splitlines():
        assert not line.lstrip().startswith(("username", "!\\x1b", "%VMTRACER")), line


HISTORY = [
    {
        "at": NOW,
        "action": "add",
        "interface": "Ethernet1",
        "vlans": "100",
        "reason": f"VM web01{EVIL} (Network adapter 1{EVIL}) on esx1{EVIL}",
    },
    {"at": NOW, "action": f"odd{EVIL}", "interface": f"Eth{EVIL}", "vlans": "", "reason": ""},
]

RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "sessions": lambda d: render.sessions_table(d, NOW),
    "interfaces": lambda d: render.interfaces_table(d, NOW),
    "vms": lambda d: render.vms_table(d, NOW),
    "hosts": lambda d: render.hosts_table(d, NOW),
    "explain Ethernet1": lambda d: render.explain(d, "Ethernet1", None, NOW),
    "explain Ethernet1 --vlan 100": lambda d: render.explain(d, "Ethernet1", 100, NOW),
    "explain Ethernet2": lambda d: render.explain(d, "Ethernet2", None, NOW),
    "history": lambda d: render.history_table(HISTORY),
    "daemon status": lambda d: "\n".join(f"{k}: {v}" for k, v in render.daemon_status(d).items()),
}


@pytest.mark.parametrize("channel", list(RENDERERS))
def test_every_channel_shows_hostile_names_escaped(channel: str) -> None:
    doc = hostile_doc()
    text = RENDERERS[channel](doc)
    check(text)
    assert "\\nusername evil privilege 15 secret x\\n!\\x1b]0;pwned" in text


def test_the_names_reach_the_renderers_and_are_escaped_there() -> None:
    doc = hostile_doc()
    vms = render.vms_table(doc, NOW)
    for name in (f"web01{EVIL}", f"esx1{EVIL}", f"VM-100{EVIL}", f"Network adapter 1{EVIL}"):
        assert shown(name) in vms
    hosts = render.hosts_table(doc, NOW)
    assert shown(f"vmnic1{EVIL}") in hosts and shown(f"leaf1.{EVIL}") in hosts
    assert shown(f"Ethernet3{EVIL}") in hosts  # heard, "not an interface name"
    assert shown(f"eAPI said{EVIL}") in hosts  # the preamble
    assert shown(f"last error{EVIL}") in render.sessions_table(doc, NOW)


def test_the_cli_extension_prints_the_same_escaped_tables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_extension_cli import StandInCliExtension, load_handler

    monkeypatch.setitem(__import__("sys").modules, "CliExtension", StandInCliExtension())
    handler = load_handler()
    monkeypatch.setattr(handler.time, "time", lambda: NOW)
    doc = hostile_doc()
    from eos_vmtracer import views

    answers: dict[str, Any] = {
        "sessions": views.sessions,
        "interfaces": views.interfaces,
        "vms": views.vms,
        "hosts": views.hosts,
    }
    for cls in handler.COMMANDS.values():
        if cls.section not in answers:
            continue  # the detail views and history: tests/unit/test_cli_views.py
        data = answers[cls.section](doc)
        cls().render(data)
        out = capsys.readouterr().out
        check(out)
        assert out == RENDERERS[cls.section](doc) + "\n"


def test_the_cli_extension_escapes_its_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_extension_cli import Ctx, StandInCliExtension, load_handler

    monkeypatch.setitem(__import__("sys").modules, "CliExtension", StandInCliExtension())
    handler = load_handler()

    def broken(command: str, ctx: Any) -> Any:
        raise OSError(f"cannot read {EVIL}")

    monkeypatch.setattr(handler, "answer", broken)
    ctx = Ctx()
    assert handler.ShowVmTracerVms().handler(ctx) is None
    (error,) = ctx.errors
    check(error)
    assert shown(EVIL) in error


def test_the_eos_daemon_status_escapes_why_the_agent_cannot_start(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.test_extension_eossdk import PASSWORD_ENV, FakeAgent, FakePort, toml_file

    monkeypatch.setenv(PASSWORD_ENV, "secret")
    port = FakePort({"config": str(toml_file(tmp_path))})
    mailbox = eos_controller.Mailbox()

    def make(config: Any) -> FakeAgent:
        raise OSError(5, f"eAPI said{EVIL}")

    controller = eos_controller.Controller(port, "EosVmTracer", None, mailbox, make)
    try:
        controller.initialized()
        check(port.status["state"])
        assert port.status["state"] == "cannot start: [Errno 5] " + shown(f"eAPI said{EVIL}")
        port.opts[f"switch.x{EVIL}"] = "1"
        controller.timeout()
        check(port.status["config_error"])
        assert shown(EVIL) in port.status["config_error"]
    finally:
        mailbox.close()
