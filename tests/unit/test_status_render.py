"""The status document, its schema, staleness, and what ``show``/``explain`` print from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from eos_vmtracer import render
from eos_vmtracer import status as status_mod
from eos_vmtracer.cli import cli
from eos_vmtracer.ledger import Ledger
from eos_vmtracer.model import Migration
from eos_vmtracer.planner import plan, simulate
from lab.builders import a_vm, agent_facts, esx, inventory, session, std, vlan_pgs
from tests.unit.test_planner_cases import NOW, cfg, facts


def world_doc(now: float = NOW) -> dict[str, Any]:
    pgs = vlan_pgs([100, 2000])
    hosts = [
        esx("host-1", ("Ethernet1",), pgs),
        esx("host-2", ("Ethernet2",), pgs, connected=False),
    ]
    vms = [
        a_vm("web1", "host-1", std("VM-100"), std("VM-2000")),
        a_vm("web2", "host-2", std("VM-100")),
        a_vm("off1", "host-1", std("VM-100"), on=False),
    ]
    inv = inventory(session(hosts, vms, migrations=[Migration("web1", "host-2", now - 1)]))
    c = cfg(uplinks=("Ethernet48",))
    f = facts(Ethernet1="1-10")
    first = plan(inv, f, c, Ledger(), now)
    p = plan(inv, simulate(f, first), c, first.ledger, now)
    cdp = {"Ethernet1": {"frames": 3, "last_sent": now, "error": ""}}
    agent = agent_facts(now, pid=os.getpid(), cdp_ports=cdp)
    return status_mod.build(c, inv, simulate(f, first), p, agent, now)


def test_document_validates_against_its_schema() -> None:
    doc = world_doc()
    jsonschema.validate(json.loads(json.dumps(doc)), status_mod.STATUS_SCHEMA)
    eth1 = next(i for i in doc["interfaces"] if i["name"] == "Ethernet1")
    assert eth1["static"] == "1-10" and eth1["dynamic"] == "100" and eth1["required"] == "100"
    assert {r["subject"] for r in eth1["reasons"]["100"]} == {"web1"}
    assert "outside allowed_vlans of vc1" in eth1["excluded"]["2000"][0]
    web1 = next(v for v in doc["vms"] if v["name"] == "web1")
    assert web1["migrating_to"] == "esx-host-2"
    assert web1["nics"][0]["interfaces"] == ["Ethernet1", "Ethernet2"]
    assert web1["nics"][0]["vlans"] == "100"
    uplink = next(i for i in doc["interfaces"] if i["name"] == "Ethernet48")
    assert uplink["role"] == "uplink" and uplink["required"] == "100"


def test_tables_are_eos_style() -> None:
    text = render.interfaces_table(world_doc(), NOW)
    lines = text.splitlines()
    assert lines[0].split() == [
        "Interface",
        "Role",
        "Mode",
        "Static",
        "VLANs",
        "Dynamic",
        "VLANs",
        "Required",
        "Pending",
        "removal",
    ]
    # dashes under each header, as wide as the widest cell of the column
    widths = [len(d) for d in lines[1].split("  ")]
    assert all(set(d) == {"-"} for d in lines[1].split("  "))
    assert lines[0].startswith("Interface".ljust(widths[0]))
    eth1 = next(line for line in lines if line.startswith("Ethernet1 "))
    assert eth1.split()[:6] == ["Ethernet1", "edge", "trunk", "1-10", "100", "100"]
    for fn in (render.sessions_table, render.hosts_table, render.vms_table):
        out = fn(world_doc(), NOW)
        assert "---" in out.splitlines()[1]
    assert "NO" in render.hosts_table(world_doc(), NOW)  # the disconnected host stands out


def test_explain_names_vms_timers_and_reasons() -> None:
    doc = world_doc()
    text = render.explain(doc, "Ethernet1", 100, NOW)
    assert "VLAN 100: on, dynamic (added by vmtracer)" in text
    assert (
        "needed by VM web1 (Network adapter 1) on esx-host-1 vmnic0 portgroup 'VM-100' [vc1]"
        in text
    )
    text = render.explain(doc, "Ethernet1", 2000, NOW)
    assert "VLAN 2000: off" in text and "kept off: outside allowed_vlans of vc1" in text
    text = render.explain(doc, "Ethernet1", 5, NOW)
    assert "static (configured by an operator: vmtracer never removes it)" in text
    text = render.explain(doc, "Ethernet1", 300, NOW)
    assert "no powered-on VM or VMkernel adapter" in text
    with pytest.raises(LookupError, match="not managed"):
        render.explain(doc, "Ethernet40", None, NOW)


def test_explain_shows_pending_timer() -> None:
    doc = world_doc()
    eth2 = next(i for i in doc["interfaces"] if i["name"] == "Ethernet2")
    eth2["pending"] = [{"vlan": 100, "since": NOW - 100, "due": NOW + 200, "held": ""}]
    text = render.explain(doc, "Ethernet2", 100, NOW)
    assert "removed at" in text and "(in 3m20s)" in text


def test_read_status_absent_stale_and_dead(tmp_path: Path) -> None:
    with pytest.raises(status_mod.StatusUnavailable, match="not running"):
        status_mod.read_status(str(tmp_path))
    doc = world_doc(time.time())
    status_mod.write(str(tmp_path), doc)
    assert status_mod.read_status(str(tmp_path))["schema"] == 1
    with pytest.raises(status_mod.StatusUnavailable, match="stale"):
        status_mod.read_status(str(tmp_path), now=time.time() + 60)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    doc["agent"]["pid"] = int(dead.stdout)
    status_mod.write(str(tmp_path), doc)
    with pytest.raises(status_mod.StatusUnavailable, match="is gone"):
        status_mod.read_status(str(tmp_path))


def _config_file(tmp_path: Path) -> Path:
    pw = tmp_path / "pw"
    pw.write_text("x")
    pw.chmod(0o600)
    path = tmp_path / "vmtracer.toml"
    path.write_text(
        f"""
[switch]
interfaces = ["Ethernet1-2", "Port-Channel10"]
uplinks = ["Ethernet48"]
state_dir = "{tmp_path}/state"
run_dir = "{tmp_path}/run"
[[session]]
name = "vc1"
url = "https://vc1/sdk"
username = "u"
password_file = "{pw}"
allowed_vlans = "100-999"
"""
    )
    return path


def test_show_without_agent_says_so(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["show", "interfaces", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert "the agent is not running" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("what", ["sessions", "interfaces", "vms", "hosts"])
def test_show_json_is_the_status_section(tmp_path: Path, what: str) -> None:
    config = _config_file(tmp_path)
    doc = world_doc(time.time())
    status_mod.write(str(tmp_path / "run"), doc)
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["show", what, "--json", "--config", str(config)]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(json.dumps(doc[what]))
    text = CliRunner(mix_stderr=False).invoke(cli, ["show", what, "--config", str(config)])
    assert text.exit_code == 0 and "---" in text.stdout


def test_explain_command(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    status_mod.write(str(tmp_path / "run"), world_doc(time.time()))
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["explain", "et1", "--vlan", "100", "--config", str(config)]
    )
    assert result.exit_code == 0, result.stderr
    assert "needed by VM web1" in result.stdout
    bad = CliRunner(mix_stderr=False).invoke(cli, ["explain", "Vlan10", "--config", str(config)])
    assert bad.exit_code == 2 and "not an Ethernet or Port-Channel" in bad.stderr


def test_show_history(tmp_path: Path) -> None:
    from eos_vmtracer.history import Event, History

    config = _config_file(tmp_path)
    History(str(tmp_path / "state")).append(
        [
            Event(NOW, "add", "Ethernet1", "100", "VM web1 ..."),
            Event(NOW + 1, "remove", "Ethernet1", "100", "unneeded"),
        ]
    )
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["show", "history", "--json", "--config", str(config)]
    )
    assert [e["action"] for e in json.loads(result.stdout)] == ["add", "remove"]
    text = (
        CliRunner(mix_stderr=False).invoke(cli, ["show", "history", "--config", str(config)]).stdout
    )
    assert "remove" in text and "Ethernet1" in text


def test_reasons_are_capped_and_counted() -> None:
    """A VLAN needed by hundreds of VMs lists 20 and counts the rest (status stays small)."""
    vms = [a_vm(f"vm{i:03d}", "host-1", std("VM-100")) for i in range(250)]
    inv = inventory(session([esx("host-1", ("Ethernet1",), vlan_pgs([100]))], vms))
    c = cfg()
    p = plan(inv, facts(), c, Ledger(), NOW)
    agent = agent_facts(NOW)
    doc = json.loads(json.dumps(status_mod.build(c, inv, facts(), p, agent, NOW)))
    jsonschema.validate(doc, status_mod.STATUS_SCHEMA)
    eth1 = next(i for i in doc["interfaces"] if i["name"] == "Ethernet1")
    assert len(eth1["reasons"]["100"]) == status_mod.MAX_REASONS
    assert eth1["reasons_more"] == {"100": 250 - status_mod.MAX_REASONS}
    assert "... and by 230 more" in render.explain(doc, "Ethernet1", 100, NOW)
    assert len(doc["vms"]) == 250  # show vms still lists every one
