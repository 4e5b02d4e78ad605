"""Text from vCenter reaches people escaped, on every channel, through a real agent.

A lab world of its own (built for this module and removed after it) whose vCenter
names everything with hostile text: the ESXi host, its vmnics, a portgroup, a VM
and its adapter, and the CDP/LLDP neighbour data of uncabled vmnics (device id,
port id, system name). The text carries a newline followed by an EOS command, a
forged ``%VMTRACER`` record, ESC/OSC sequences (window title, clear screen), a C1
CSI, a line separator and a bidi override.

``vmtracer plan`` runs first (the agent is not started yet, so the VM's VLAN is
still to add), then the agent runs, adds the VLAN and, once the VM is powered
off, removes it. Then every channel is read: the agent's stderr and its syslog
records (the world captures both), ``vmtracer show sessions|interfaces|vms|hosts|
history``, ``explain``, ``check`` and the EOS CLI extension's text. None may hold
a raw control character, a line starting with the injected command, or a forged
record; and each hostile name, as the agent received it (``--json`` keeps it raw),
is there in its escaped form.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from eos_vmtracer.shown import shown
from lab.netns import is_root
from lab.world import Cable, Topology, Vcenter, World
from lab.world.topology import Timings, esx_host
from tests.e2e.helpers import wait_vlan

pytestmark = pytest.mark.e2e

COMMAND = "\nusername evil privilege 15 secret x\n!"
FORGED = "\n%VMTRACER-5-VLAN_REMOVE: Ethernet1: removed VLAN 1-4094 (forged)"
# SOAP is XML 1.0, which cannot carry ESC or BEL: the lab vCenter (govmomi) sends
# U+FFFD in their place, so from vCenter the C1 CSI (U+009B) is what reaches a
# terminal. ESC from eAPI or a file is covered by the unit tests.
TERMINAL = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u2028\u202e"
EVIL = COMMAND + FORGED + TERMINAL

# The host's and vmnics' names are matched by the world itself (cabling, readiness):
# only characters that survive XML.
HOST = f"esx1{COMMAND}\u009b31m\u2028\u202e"
VM = f"web01{EVIL}"
PORTGROUP = f"VM-101{EVIL}"
LABEL = f"Network adapter 1{EVIL}"
VMNIC_CDP = "vmnic1\u009b31m\u2028\u202e"  # its neighbour: this switch, Ethernet2 (a link)
VMNIC_LLDP = "vmnic2\u009b31m\u2028\u202e"  # its neighbour: this switch, a port that is no name

# Lines of stderr that are records: time, level, logger, message.
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: (.*)$")


def hostile_topology() -> Topology:
    host = esx_host(HOST, 1, {PORTGROUP: 101})
    host["nics"] += [{"device": VMNIC_CDP}, {"device": VMNIC_LLDP}]
    host["vswitches"][0]["uplinks"] += [VMNIC_CDP, VMNIC_LLDP]
    host["neighbors"] = {
        VMNIC_CDP: {
            "cdp": {
                "device_id": f"leaf1.{EVIL}",
                "port_id": "Ethernet2",
                "address": "192.0.2.10",
                "platform": f"DCS{EVIL}",
                "version": f"EOS{EVIL}",
                "system_name": f"leaf1{EVIL}",
            }
        },
        VMNIC_LLDP: {
            "lldp": {
                "chassis_id": "00:1c:73:aa:bb:cc",
                "port_id": f"Ethernet9{EVIL}",
                "system_name": f"leaf1.{EVIL}",
                "port_description": f"d{EVIL}",
            }
        },
    }
    vc1 = {
        "username": "svc-vmtracer@vsphere.local",
        "password": "lab-Secret-1",
        "hosts": [host],
        "vms": [
            {
                "name": VM,
                "host": HOST,
                "power": "on",
                "nics": [{"portgroup": PORTGROUP, "label": LABEL}],
            }
        ],
    }
    return Topology(
        vcenters=(Vcenter("vc1", "100-199", vc1),),
        cables=(Cable(HOST, "vmnic0", "Ethernet1"),),
        ethernets=4,
        interfaces=("Ethernet1-3",),
        timings=Timings(remove_delay=3.0),
    )


def raw_controls(text: str) -> list[str]:
    """Characters a terminal or a log reader acts on (the lines' own newlines aside)."""
    return [
        c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ]


def clean(channel: str, text: str) -> None:
    """No raw control character, no injected line, no forged record in ``text``."""
    assert not raw_controls(text), f"{channel}: raw {sorted(set(raw_controls(text)))!r}"
    for line in text.splitlines():
        assert not line.lstrip().startswith(("username", "%VMTRACER")), f"{channel}: {line!r}"
        assert "(forged)" not in line or "\\n%VMTRACER-5-VLAN_REMOVE" in line, f"{channel}: {line}"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    if not is_root():
        pytest.skip("the lab world needs root (network namespaces, raw sockets)")
    with World(hostile_topology(), capture_syslog=True) as w:
        yield w


@pytest.fixture(scope="module")
def channels(world: World) -> dict[str, str]:
    """Every channel's text after a plan, an add and a removal; and the raw names."""
    out: dict[str, str] = {}
    plan = world.vmtracer("plan", timeout=120)  # before the agent: the VLAN is to add
    out["plan"], out["plan stderr"] = plan.stdout, plan.stderr
    world.start_agent(timeout=90)
    wait_vlan(world, "Ethernet1", 101, timeout=20)
    wait_vlan(world, "Ethernet2", 101, timeout=20)
    world.wait_for(lambda: world.show_json("history"), 10, "history")
    for what in ("sessions", "interfaces", "vms", "hosts"):
        out[f"show {what}"] = world.show(what)
    out["explain Ethernet1"] = world.explain("Ethernet1")
    out["explain Ethernet1 --vlan 101"] = world.explain("Ethernet1", 101)
    out["explain Ethernet2"] = world.explain("Ethernet2")
    out["extension"] = extension_text(str(world.run_dir))
    out["json vms"] = world.vmtracer("show", "vms", "--json").stdout
    out["json hosts"] = world.vmtracer("show", "hosts", "--json").stdout
    world.control("vc1").power(VM, on=False)
    wait_vlan(world, "Ethernet1", 101, present=False, timeout=30)
    check = world.vmtracer("check", "--timeout", "60", check=False, timeout=120)
    out["check"], out["check stderr"] = check.stdout, check.stderr
    out["show history"] = world.show("history")
    world.stop_agent()
    out["agent stderr"] = world.agent_log()
    # One datagram per record, each ended by a NUL (as Python's SysLogHandler sends it).
    records = [r.decode("utf-8", "replace") for r in world.syslog()]
    assert all(r.endswith("\x00") and "\x00" not in r[:-1] for r in records)
    out["syslog"] = "\n".join(r[:-1] for r in records)
    return out


def extension_text(run_dir: str) -> str:
    """What every ``show vm-tracer`` command prints on EOS (off-box); the detail views of
    Ethernet1, the hostile VM and the first host."""
    from eos_vmtracer.status import read_status
    from tests.unit.test_extension_cli import Ctx, Daemon, StandInCliExtension, load_handler

    saved = sys.modules.get("CliExtension")
    sys.modules["CliExtension"] = StandInCliExtension()
    try:
        handler = load_handler()
        ctx = Ctx({"EosVmTracer": Daemon({"run_dir": run_dir})})
        doc = read_status(run_dir)
        vm = next(v["moid"] for v in doc["vms"] if v["name"].startswith("web01"))
        host = doc["hosts"][0]["name"]
        ctx.args = {"<interface>": "Ethernet1", "<vm>": vm, "<host>": host}  # type: ignore[attr-defined]
        text = []
        for cls in handler.COMMANDS.values():
            data = cls().handler(ctx)
            assert data is not None, ctx.errors
            text.append(capture_print(lambda cls=cls, data=data: cls().render(data)))
        return "".join(text)
    finally:
        if saved is None:
            del sys.modules["CliExtension"]
        else:
            sys.modules["CliExtension"] = saved


def capture_print(fn: Any) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn()
    return buf.getvalue()


CHANNELS = [
    "plan",
    "plan stderr",
    "show sessions",
    "show interfaces",
    "show vms",
    "show hosts",
    "show history",
    "explain Ethernet1",
    "explain Ethernet1 --vlan 101",
    "explain Ethernet2",
    "extension",
    "check",
    "check stderr",
    "agent stderr",
    "syslog",
]


@pytest.mark.parametrize("channel", CHANNELS)
def test_no_channel_shows_raw_control_text_or_an_injected_line(
    channels: dict[str, str], channel: str
) -> None:
    clean(channel, channels[channel])


def received(channels: dict[str, str]) -> dict[str, str]:
    """The hostile names as the agent received them from vCenter (JSON keeps them raw)."""
    import json

    vm = next(v for v in json.loads(channels["json vms"]) if v["name"].startswith("web01"))
    host = next(h for h in json.loads(channels["json hosts"]) if h["name"].startswith("esx1"))
    links = {lk["vmnic"]: lk for lk in host["links"]}
    lldp = next(lk for name, lk in links.items() if name.startswith("vmnic2"))
    cdp = next(lk for name, lk in links.items() if name.startswith("vmnic1"))
    return {
        "vm": vm["name"],
        "label": vm["nics"][0]["label"],
        "portgroup": vm["nics"][0]["portgroup"],
        "host": host["name"],
        "cdp vmnic": cdp["vmnic"],
        "cdp neighbour": cdp["neighbor"],
        "lldp vmnic": lldp["vmnic"],
        "lldp neighbour": lldp["neighbor"],
    }


def test_the_agent_received_the_hostile_text(channels: dict[str, str]) -> None:
    names = received(channels)
    assert names["vm"].startswith("web01\nusername evil privilege 15 secret x\n!")
    assert "\n%VMTRACER-5-VLAN_REMOVE" in names["vm"]
    for key, value in names.items():
        assert "\u009b" in value and "\u2028" in value and "\u202e" in value, key
    assert "Ethernet9\n" in names["lldp neighbour"]


@pytest.mark.parametrize(
    ("channel", "keys"),
    [
        ("plan", ("vm", "label", "host", "portgroup")),
        ("show vms", ("vm", "label", "host", "portgroup")),
        ("show hosts", ("host", "cdp vmnic", "cdp neighbour", "lldp vmnic", "lldp neighbour")),
        ("explain Ethernet1 --vlan 101", ("vm", "label", "host", "portgroup")),
        ("explain Ethernet2", ("host", "cdp vmnic")),
        ("extension", ("vm", "label", "host", "cdp vmnic", "lldp neighbour")),
        ("agent stderr", ("vm", "label", "host", "portgroup")),
        ("syslog", ("vm", "label", "host", "portgroup")),
    ],
)
def test_each_name_is_shown_escaped(
    channels: dict[str, str], channel: str, keys: tuple[str, ...]
) -> None:
    names = received(channels)
    for key in keys:
        assert shown(names[key]) in channels[channel], f"{key} in {channel}"


def test_history_keeps_the_reasons_escaped(channels: dict[str, str]) -> None:
    text = channels["show history"]
    # A table cell is cut at 120 characters: the VM's name starts it, escaped.
    assert "VM web01\\nusername evil privilege 15 secret x\\n!\\n%VMTRACER-5-VLAN_REMOVE" in text


def test_plan_comments_stay_comments(channels: dict[str, str]) -> None:
    lines = channels["plan"].splitlines()
    commands = [line for line in lines if not line.startswith("!")]
    assert commands, channels["plan"]
    for line in commands:
        assert re.fullmatch(
            r"(vlan \d+|name [\x21-\x7e]+|exit|interface \S+|"
            r"switchport trunk allowed vlan (add|remove) [\d,-]+|no vlan [\d,-]+)",
            line,
        ), line
    assert any("add 101: VM web01\\nusername evil" in line for line in lines)


def test_no_forged_record_on_stderr_or_syslog(channels: dict[str, str]) -> None:
    records = [m.group(1) for m in map(RECORD.match, channels["agent stderr"].splitlines()) if m]
    assert any(r.startswith("%VMTRACER-5-VLAN_ADD: Ethernet1: added VLAN 101") for r in records)
    removed = "%VMTRACER-5-VLAN_REMOVE: Ethernet1: removed VLAN 101"
    assert any(r.startswith(removed) for r in records)
    assert not [r for r in records if r.startswith("%VMTRACER") and "(forged)" in r.split(":")[1]]
    for line in channels["agent stderr"].splitlines():
        # Every line is a record, or a traceback's line (none is expected here).
        assert RECORD.match(line), line
    syslog = channels["syslog"].split("\n")
    ids = [re.sub(r"^<\d+>vmtracer: ", "", r).split(":", 1)[0] for r in syslog]
    assert "%VMTRACER-5-VLAN_ADD" in ids and "%VMTRACER-5-VLAN_REMOVE" in ids
    assert all(re.match(r"^<\d+>vmtracer: ", r) for r in syslog)
