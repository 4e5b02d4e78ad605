"""The typed status contract, its generated schemas, and the detail views in bash and EOS.

- The JSON Schema and the CLI extension's YAML are generated from the TypedDicts
  (``eos_vmtracer/status_types.py``): the YAML in the repository is what the generator
  makes, the enums come from the code's own enums, and the README's ``--json`` section
  names exactly the fields the types have.
- Every ``show vm-tracer`` command's answer, from the REAL agent's status, validates
  against its ``outputSchema`` with a strict draft-07 validator (closed objects).
- One interface, one VM, one host and the history with a count, as ``vmtracer`` in bash
  and as the EOS CLI handlers say them, the same both ways.
- The handler module loads and answers under Python 2.7 (EOS before 4.30.2F) through
  EOS's python3.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from eos_vmtracer import render, schema, status_types, views
from eos_vmtracer import status as status_mod
from eos_vmtracer.cli import cli
from eos_vmtracer.history import Event, History
from eos_vmtracer.model import SessionState
from lab.builders import a_vm, agent_facts, esx, inventory, session, std, vlan_pgs

from .test_extension_cli import Ctx, Daemon, StandInCliExtension, load_handler
from .test_extension_world import RunningAgent
from .test_planner_cases import NOW, cfg, facts

ROOT = Path(__file__).resolve().parents[2]
YAML_PATH = ROOT / "extension" / "cli" / "EosVmTracer.yaml"
HANDLER_PATH = ROOT / "extension" / "cli" / "EosVmTracerCli.py"
FORMATS = jsonschema.Draft7Validator.FORMAT_CHECKER

#: The arguments EOS passes (ctx.args) to the commands that take some.
ARGS = {
    "showVmTracerInterface": {"<interface>": "Et1", "<vlan>": 100},
    "showVmTracerVm": {"<vm>": "app01"},
    "showVmTracerHost": {"<host>": "esx-host-1"},
    "showVmTracerHistory": {"<count>": 3},
}


def strict(schema_doc: dict[str, Any]) -> jsonschema.Draft7Validator:
    jsonschema.Draft7Validator.check_schema(schema_doc)
    return jsonschema.Draft7Validator(schema_doc, format_checker=FORMATS)


def objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every object schema in a schema."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from objects(value)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    agent = RunningAgent(tmp_path_factory.mktemp("world"))
    agent.settle()
    yield agent
    agent.stop()


@pytest.fixture()
def cli_ext(monkeypatch: pytest.MonkeyPatch) -> StandInCliExtension:
    ext = StandInCliExtension()
    monkeypatch.setitem(sys.modules, "CliExtension", ext)
    return ext


@pytest.fixture()
def handler(cli_ext: StandInCliExtension) -> Any:
    return load_handler()


def eos_ctx(run_dir: str, args: Optional[dict[str, Any]] = None) -> Ctx:
    ctx = Ctx({"EosVmTracer": Daemon({"run_dir": run_dir})})
    ctx.args = args or {}  # type: ignore[attr-defined]
    return ctx


def world_doc(allowed: dict[str, str]) -> status_types.StatusDocument:
    from eos_vmtracer.ledger import Ledger
    from eos_vmtracer.planner import plan, simulate

    pgs = vlan_pgs([100])
    hosts = [esx("host-1", ("Ethernet1",), pgs), esx("host-2", ("Ethernet2",), pgs)]
    inv = inventory(session(hosts, [a_vm("web1", "host-1", std("VM-100"))]))
    c = cfg(uplinks=("Ethernet48",))
    f = facts(**allowed)
    first = plan(inv, f, c, Ledger(), NOW)
    p = plan(inv, simulate(f, first), c, first.ledger, NOW)
    agent = agent_facts(NOW, pid=os.getpid())
    return status_mod.build(c, inv, simulate(f, first), p, agent, NOW)


def config_file(tmp_path: Path, run_dir: str, state_dir: str) -> Path:
    pw = tmp_path / "pw"
    pw.write_text("x")
    pw.chmod(0o600)
    path = tmp_path / "vmtracer.toml"
    path.write_text(
        f"""
[switch]
interfaces = ["Ethernet1-4"]
state_dir = "{state_dir}"
run_dir = "{run_dir}"
[[session]]
name = "vc1"
url = "https://vc1/sdk"
username = "u"
password_file = "{pw}"
allowed_vlans = "100-199"
"""
    )
    return path


# -- the schemas come from the types --------------------------------------------------------


def test_yaml_in_the_repository_is_what_the_generator_makes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "extension" / "cli_yaml.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    commands = yaml.safe_load(YAML_PATH.read_text())["commands"]
    for command in views.COMMANDS:
        assert commands[command.name]["outputSchema"] == schema.json_schema(command.answer)
        assert commands[command.name]["syntax"] == command.syntax


def test_output_schemas_are_strict_draft_07_with_closed_objects() -> None:
    commands = yaml.safe_load(YAML_PATH.read_text())["commands"]
    for name, command in commands.items():
        out = command["outputSchema"]
        assert out["$schema"] == "http://json-schema.org/draft-07/schema#"
        jsonschema.Draft7Validator.check_schema(out)
        text = json.dumps(out)
        assert "$ref" not in text and '"format"' not in text, name
        for obj in objects(out):
            if "properties" in obj:  # a TypedDict: closed, every field listed
                assert obj["additionalProperties"] is False, name
                assert set(obj["required"]) <= set(obj["properties"]), name


def test_status_schema_is_derived_from_the_status_types() -> None:
    assert schema.json_schema(status_types.StatusDocument) == status_mod.STATUS_SCHEMA
    props = status_mod.STATUS_SCHEMA["properties"]
    hints = typing.get_type_hints(status_types.StatusDocument)
    assert set(props) == set(hints) == set(status_mod.STATUS_SCHEMA["required"])


def test_session_states_come_from_the_session_state_enum() -> None:
    state = status_mod.STATUS_SCHEMA["properties"]["sessions"]["items"]["properties"]["state"]
    assert state == {"type": "string", "enum": [s.value for s in SessionState]}


class Inner(typing.TypedDict):
    """An inner object."""

    when: Optional[float]


class _Base(typing.TypedDict):
    must: int


class Outer(_Base, total=False):
    """The outer object."""

    maybe: typing.Literal["a", "b"]
    inner: Optional[Inner]
    many: dict[str, list[Inner]]


class Bad(typing.TypedDict):
    x: set[int]


def test_generator_handles_optional_literal_nested_and_partial_types() -> None:
    out = schema.json_schema(Outer)
    assert out["required"] == ["must"]
    assert out["description"] == "The outer object."
    assert out["properties"]["maybe"] == {"type": "string", "enum": ["a", "b"]}
    assert out["properties"]["inner"]["anyOf"][1] == {"type": "null"}
    inner = out["properties"]["inner"]["anyOf"][0]
    assert inner["properties"]["when"] == {"type": ["number", "null"]}
    assert out["properties"]["many"]["additionalProperties"]["items"] == inner
    with pytest.raises(TypeError):
        schema.json_schema(dict)
    with pytest.raises(TypeError, match="no JSON Schema"):
        schema.json_schema(Bad)


def test_an_empty_vlan_list_is_the_empty_string_everywhere() -> None:
    # Ethernet2 carries no VLAN at all (EOS says NONE), the uplink nothing the agent added.
    doc = world_doc(allowed={"Ethernet1": "1-10", "Ethernet2": "NONE"})
    strict(status_mod.STATUS_SCHEMA).validate(json.loads(json.dumps(doc)))
    texts = json.dumps(doc)
    assert '"NONE"' not in texts
    eth2 = next(i for i in doc["interfaces"] if i["name"] == "Ethernet2")
    assert eth2["allowed"] == "" and eth2["static"] == "" and eth2["dynamic"] == ""
    bad = json.loads(texts)
    bad["interfaces"][0]["static"] = "NONE"
    with pytest.raises(jsonschema.ValidationError):
        strict(status_mod.STATUS_SCHEMA).validate(bad)


def test_the_real_agents_status_validates_strictly(running: RunningAgent) -> None:
    doc = status_mod.read_status(running.run_dir)
    strict(status_mod.STATUS_SCHEMA).validate(doc)
    extra = json.loads(json.dumps(doc))
    extra["sessions"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError, match="surprise"):
        strict(status_mod.STATUS_SCHEMA).validate(extra)


# -- the README follows the types ------------------------------------------------------------


def _fields(text: str) -> list[tuple[str, str]]:
    """``{a, b: [{c}], d (x)}`` -> [("a", ""), ("b", "[{c}]"), ("d", "")] (top level only)."""
    body = text.strip()
    assert body.startswith("{") and body.endswith("}"), body
    body = body[1:-1]
    parts, depth, current = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch in "[{(" or 0
        depth -= ch in "]})" or 0
        current += ch
    parts.append(current)
    out = []
    for part in parts:
        name, _, value = part.strip().partition(":")
        out.append((re.sub(r"\s*\(.*\)$", "", name.strip()), value.strip()))
    return out


def _check_fields(text: str, tp: Any, where: str) -> None:
    hints = typing.get_type_hints(tp)
    fields = _fields(text)
    assert {n for n, _ in fields} == set(hints), where
    for name, value in fields:
        if value.startswith("[{"):
            [item] = typing.get_args(hints[name])
            _check_fields(value[1:-1], item, f"{where}.{name}")
        elif value.startswith("{") and value[1:2].isupper():
            continue  # {VLAN: ...}: a map, not an object
        elif value.startswith("{"):
            _check_fields(value, hints[name], f"{where}.{name}")


def test_readme_json_section_names_exactly_the_fields_of_the_types() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### `--json` schema") :]
    section = section[: section.index("\n## ")]
    listed = dict(re.findall(r"^- `(\w+)`: `(.+?)`", section.replace("\n  ", " "), re.M))
    doc = status_types.StatusDocument
    hints = typing.get_type_hints(doc)
    for name in ("sessions", "interfaces", "hosts", "vms", "vlans_pending_delete", "withheld"):
        _check_fields(listed[name][1:-1], typing.get_args(hints[name])[0], name)
    for name in ("agent", "switch", "cdp"):
        _check_fields(listed[name], hints[name], name)
    _check_fields(listed["history"][1:-1], status_types.HistoryEvent, "history")
    # The words of the enums, as the README lists them.
    for word in [s.value for s in SessionState] + list(views.ACTIONS):
        assert f"`{word}`" in section, word


# -- every EOS command against the real agent ------------------------------------------------


@pytest.mark.parametrize("command", [c.name for c in views.COMMANDS])
def test_every_command_answers_per_its_output_schema(
    handler: Any, running: RunningAgent, command: str
) -> None:
    commands = yaml.safe_load(YAML_PATH.read_text())["commands"]
    ctx = eos_ctx(running.run_dir, ARGS.get(command))
    data = handler.COMMANDS[command]().handler(ctx)
    assert ctx.errors == []
    strict(commands[command]["outputSchema"]).validate(json.loads(json.dumps(data)))


def test_detail_answers_say_what_the_switch_has(handler: Any, running: RunningAgent) -> None:
    one = handler.ShowVmTracerInterface().handler(eos_ctx(running.run_dir, {"<interface>": "et3"}))
    assert one["interface"]["name"] == "Ethernet3" and one["vlan"] is None
    assert one["interface"]["cabled"] == [
        {
            "session": "vc1",
            "name": "esx-host-3.example.com",
            "connected": True,
            "vmnics": ["vmnic0"],
            "static": [],
        }
    ]
    assert [p["vlan"] for p in one["interface"]["pending"]] == [120]
    vm = handler.ShowVmTracerVm().handler(eos_ctx(running.run_dir, {"<vm>": "vm-1"}))  # moid
    [app01] = vm["vms"]
    assert app01["name"] == "app01"
    assert app01["ports"] == [
        {
            "nic": "Network adapter 1",
            "interface": "Ethernet1",
            "vlan": 100,
            "state": "on",
            "why": "",
        }
    ]
    host = handler.ShowVmTracerHost().handler(eos_ctx(running.run_dir, {"<host>": "esx-host-1"}))
    [esx1] = host["hosts"]
    assert esx1["interfaces"] == ["Ethernet1"]
    assert {v["name"]: v["vlans"] for v in esx1["vm_list"]} == {"app01": "100", "app04": ""}
    history = handler.ShowVmTracerHistory().handler(eos_ctx(running.run_dir, {"<count>": 2}))
    assert history["count"] == 2 and len(history["events"]) == 2
    everything = History(running.config.switch.state_dir).read()
    assert [e["at"] for e in history["events"]] == [e.at for e in everything[-2:]]


def test_unknown_names_are_one_error_not_empty_data(handler: Any, running: RunningAgent) -> None:
    for cls, args, message in (
        (handler.ShowVmTracerVm, {"<vm>": "nope"}, "vm-tracer: no VM named 'nope'"),
        (handler.ShowVmTracerHost, {"<host>": "nope"}, "vm-tracer: no host named 'nope'"),
        (
            handler.ShowVmTracerInterface,
            {"<interface>": "Ethernet40"},
            "vm-tracer: Ethernet40 is not managed by vmtracer",
        ),
    ):
        ctx = eos_ctx(running.run_dir, args)
        assert cls().handler(ctx) is None
        [error] = ctx.errors
        assert error.startswith(message), error


def test_history_is_readable_while_the_agent_is_down(
    handler: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    History(str(state)).append([Event(1.0, "start"), Event(2.0, "add", "Ethernet1", "10", "vm")])
    config = tmp_path / "vmtracer.toml"
    config.write_text(f'[switch]\nstate_dir = "{state}"\nrun_dir = "{tmp_path / "run"}"\n')
    monkeypatch.setenv("VMTRACER_CONFIG", str(config))
    ctx = eos_ctx("", {"<count>": 1})
    data = handler.ShowVmTracerHistory().handler(ctx)
    assert ctx.errors == []
    assert data == {
        "count": 1,
        "events": [
            {"at": 2.0, "action": "add", "interface": "Ethernet1", "vlans": "10", "reason": "vm"}
        ],
    }


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("showVmTracerInterface", ["explain", "Et1", "--vlan", "100"]),
        ("showVmTracerVm", ["show", "vm", "app01"]),
        ("showVmTracerHost", ["show", "host", "esx-host-1"]),
        ("showVmTracerHistory", ["show", "history", "--count", "3"]),
    ],
)
def test_eos_and_bash_say_the_same(
    handler: Any,
    running: RunningAgent,
    command: str,
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    cls = handler.COMMANDS[command]
    data = cls().handler(eos_ctx(running.run_dir, ARGS[command]))
    cls().render(data)
    eos_text = capsys.readouterr().out
    config = config_file(tmp_path, running.run_dir, running.config.switch.state_dir)
    result = CliRunner(mix_stderr=False).invoke(cli, [*argv, "--config", str(config)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == eos_text
    as_json = CliRunner(mix_stderr=False).invoke(cli, [*argv, "--config", str(config), "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    expected = data["events"] if command == "showVmTracerHistory" else data
    assert json.loads(as_json.stdout) == json.loads(json.dumps(expected))


def test_bash_names_a_missing_vm_in_one_line(running: RunningAgent, tmp_path: Path) -> None:
    config = config_file(tmp_path, running.run_dir, str(tmp_path / "state"))
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["show", "vm", "ghost", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert result.stderr == "vmtracer: no VM named 'ghost' on a host cabled to this switch\n"
    result = CliRunner(mix_stderr=False).invoke(cli, ["show", "vm", "--config", str(config)])
    assert result.exit_code == 2 and "takes a NAME" in result.stderr


def test_interface_detail_is_what_explain_printed(running: RunningAgent) -> None:
    doc = status_mod.read_status(running.run_dir)
    text = render.explain(doc, "Ethernet3", None, time.time())
    assert text.splitlines()[:2] == [
        "Ethernet3 (edge, trunk)",
        "  cabled hosts: esx-host-3.example.com vmnic0",
    ]
    assert "  VLAN 120: on, dynamic (added by vmtracer)" in text


# -- Python 2.7: EOS before 4.30.2F -----------------------------------------------------------


def _python27() -> Optional[str]:
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", "2.7.18"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        prefix = ""
    candidate = os.path.join(prefix, "bin", "python2.7") if prefix else ""
    return candidate if candidate and os.access(candidate, os.X_OK) else shutil.which("python2.7")


def test_handler_module_is_python_27_syntax() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            *("-q", "--no-tips", "--violations", "-t=2.7-", "-t=3.9-"),
            str(HANDLER_PATH),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_handler_answers_and_renders_under_python_27(running: RunningAgent, tmp_path: Path) -> None:
    """The module as EOS 4.28 loads it: Python 2.7, eos_vmtracer only through python3."""
    py27 = _python27()
    if py27 is None:
        pytest.skip("no Python 2.7 here")
    # The installed layout: <prefix>/share/CliExtension/CliPlugin, <prefix>/lib/eos-vmtracer/site
    plugin = tmp_path / "usr" / "share" / "CliExtension" / "CliPlugin"
    site = tmp_path / "usr" / "lib" / "eos-vmtracer" / "site"
    old = tmp_path / "usr" / "lib" / "python2.7" / "site-packages" / "CliPlugin"
    for d in (plugin, site, old):
        d.mkdir(parents=True)
    shutil.copyfile(HANDLER_PATH, plugin / HANDLER_PATH.name)
    (old / HANDLER_PATH.name).symlink_to(plugin / HANDLER_PATH.name)
    (site / "eos_vmtracer").symlink_to(ROOT / "eos_vmtracer")
    script = textwrap.dedent(
        """
        import imp, json, sys, types
        ext = types.ModuleType("CliExtension")
        ext.ShowCommandClass = type("ShowCommandClass", (object,), {{}})
        ext.registerCommand = lambda name, cls, namespace=None: None
        sys.modules["CliExtension"] = ext

        class Status(object):
            def status(self, key):
                return {run_dir!r} if key == "run_dir" else None

        class Daemon(object):
            status = Status()

        class Ctx(object):
            def __init__(self, args):
                self.args = args
                self.errors = []
            def getDaemon(self, name):
                return Daemon()
            def addError(self, message):
                self.errors.append(message)

        module = imp.load_source("EosVmTracerCli", {path!r})
        module.PYTHON3 = {py3!r}
        out = {{}}
        for name, cls in sorted(module.COMMANDS.items()):
            ctx = Ctx({args!r}.get(name, {{}}))
            out[name] = {{"data": cls().handler(ctx), "errors": ctx.errors}}
        bad = Ctx({{"<vm>": "ghost"}})
        missing = module.COMMANDS["showVmTracerVm"]().handler(bad)
        sys.stderr.write(json.dumps({{"out": out, "missing": [missing, bad.errors],
                                      "in_process": module.IN_PROCESS}}))
        module.COMMANDS["showVmTracerVm"]().render(out["showVmTracerVm"]["data"])
        """
    ).format(
        run_dir=running.run_dir, path=str(old / HANDLER_PATH.name), py3=sys.executable, args=ARGS
    )
    result = subprocess.run(
        [py27, "-c", script], capture_output=True, text=True, timeout=120, env={}
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stderr)
    assert report["in_process"] is False
    commands = yaml.safe_load(YAML_PATH.read_text())["commands"]
    for name, answer in report["out"].items():
        assert answer["errors"] == [], name
        strict(commands[name]["outputSchema"]).validate(answer["data"])
    doc = status_mod.read_status(running.run_dir)
    got = report["out"]["showVmTracerVm"]["data"]
    want = json.loads(json.dumps(views.vm(doc, "app01")))
    assert got["vms"] == want["vms"] and got["agent"]["pid"] == want["agent"]["pid"]
    assert report["missing"] == [
        None,
        ["vm-tracer: no VM named 'ghost' on a host cabled to this switch"],
    ]
    assert result.stdout.startswith("VM app01 (vm-1, vc1)\n")


# -- names from vCenter are escaped in the detail views --------------------------------------


def test_detail_views_escape_names_from_vcenter(
    handler: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eos_vmtracer.shown import shown

    from .test_shown_channels import EVIL, check, hostile_doc

    doc = hostile_doc()
    name = f"web01{EVIL}"
    vm_text = render.vm_detail(views.vm(doc, name), time.time())
    check(vm_text)
    assert shown(name) in vm_text and shown(f"Network adapter 1{EVIL}") in vm_text
    host = next(h for h in doc["hosts"] if EVIL in h["name"])
    host_text = render.host_detail(views.host(doc, host["name"]), time.time())
    check(host_text)
    assert shown(host["name"]) in host_text and shown(name) in host_text
    one = render.interface_detail(views.interface(doc, "Ethernet1"), time.time())
    check(one)
    # The EOS errors: the name the operator typed comes back escaped.
    doc["agent"]["pid"] = os.getpid()
    doc["agent"]["updated"] = time.time()
    status_mod.write(str(tmp_path / "run"), doc)
    ctx = eos_ctx(str(tmp_path / "run"), {"<vm>": f"ghost{EVIL}"})
    assert handler.ShowVmTracerVm().handler(ctx) is None
    [error] = ctx.errors
    check(error)
    assert error.startswith("vm-tracer: no VM named") and "\n" not in error
    # A Python 2.7 CLI without the package cuts the text to printable ASCII.
    monkeypatch.setattr(handler, "IN_PROCESS", False)
    cut = handler._shown(f"x{EVIL}y")
    assert len(cut) == len(f"x{EVIL}y") and cut.startswith("x?username evil")
    assert all(" " <= c <= "~" for c in cut) and "\x1b" not in cut
