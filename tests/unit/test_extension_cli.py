"""The EOS CLI extension: YAML, handlers against the agent's real status, renders, Python 3.9.

EOS itself is not here, so a stand-in plays its part: a ``CliExtension`` module
with ``ShowCommandClass`` and ``registerCommand``, and a context with
``getDaemon``/``addError`` as the handlers use them. The status the handlers read
is the one the real agent (tests/unit/test_extension_world.py) publishes.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
import yaml

from eos_vmtracer import render
from eos_vmtracer import status as status_mod
from eos_vmtracer.eos import options as eos_options

from .test_extension_world import RunningAgent

ROOT = Path(__file__).resolve().parents[2]
YAML_PATH = ROOT / "extension" / "cli" / "EosVmTracer.yaml"
HANDLER_PATH = ROOT / "extension" / "cli" / "EosVmTracerCli.py"
SECTIONS = ("sessions", "interfaces", "vms", "hosts")
EOS_KEYWORDS_AFTER_SHOW = ("vmtracer", "vlan", "vrf", "version", "vrrp", "vxlan", "vm-tracer")


class StandInCliExtension(types.ModuleType):
    """What the handler module uses of EOS's ``CliExtension``."""

    def __init__(self) -> None:
        super().__init__("CliExtension")
        self.registered: list[tuple[str, type, Optional[str]]] = []

        class ShowCommandClass:
            pass

        class CliCommandClass:
            pass

        self.ShowCommandClass = ShowCommandClass
        self.CliCommandClass = CliCommandClass

    def registerCommand(self, name: str, cls: type, namespace: Optional[str] = None) -> None:
        self.registered.append((name, cls, namespace))


class Status:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def status(self, key: str) -> Optional[str]:
        return self.values.get(key)

    def statusIter(self) -> Iterator[tuple[str, str]]:
        return iter(self.values.items())


class Daemon:
    def __init__(self, status: dict[str, str]) -> None:
        self.status = Status(status)


class Ctx:
    """A stand-in for the context EOS passes to ``handler``."""

    def __init__(self, daemons: Optional[dict[str, Daemon]] = None) -> None:
        self.daemons = daemons or {}
        self.errors: list[str] = []

    def getDaemon(self, name: str) -> Optional[Daemon]:
        return self.daemons.get(name)

    def addError(self, message: str) -> None:
        self.errors.append(message)


@pytest.fixture()
def cli_ext(monkeypatch: pytest.MonkeyPatch) -> StandInCliExtension:
    ext = StandInCliExtension()
    monkeypatch.setitem(sys.modules, "CliExtension", ext)
    return ext


def load_handler(path: Path = HANDLER_PATH) -> Any:
    spec = importlib.util.spec_from_file_location("EosVmTracerCli", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def handler(cli_ext: StandInCliExtension) -> Any:
    return load_handler()


@pytest.fixture(scope="module")
def yaml_doc() -> dict[str, Any]:
    doc = yaml.safe_load(YAML_PATH.read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    agent = RunningAgent(tmp_path_factory.mktemp("world"))
    agent.settle()
    yield agent
    agent.stop()


def daemon_ctx(run_dir: str) -> Ctx:
    return Ctx({eos_options.DEFAULT_DAEMON: Daemon({"run_dir": run_dir, "state": "running"})})


def command_for(yaml_doc: dict[str, Any], section: str) -> dict[str, Any]:
    [cmd] = [c for c in yaml_doc["commands"].values() if c["syntax"].endswith(f" {section}")]
    return cmd


# -- the YAML -------------------------------------------------------------------------------


def test_yaml_adds_unprivileged_show_commands(yaml_doc: dict[str, Any]) -> None:
    syntaxes = sorted(c["syntax"] for c in yaml_doc["commands"].values())
    assert set(syntaxes) >= {f"show vm-tracer {s}" for s in SECTIONS}
    assert {s.split()[2] for s in syntaxes} == {*SECTIONS, "interface", "vm", "host", "history"}
    for cmd in yaml_doc["commands"].values():
        assert cmd["mode"] == "Unprivileged"
        for word in cmd["syntax"].replace("[", " ").replace("]", " ").split()[1:]:
            [matcher] = cmd["data"][word].values()  # keyword, integer, regex...
            assert matcher["help"]
    # A plain `daemon` runs the agent: the YAML declares no daemon and no mode of its own.
    assert "daemons" not in yaml_doc and "modes" not in yaml_doc


def test_keyword_does_not_collide_with_eos_vmtracer(yaml_doc: dict[str, Any]) -> None:
    keywords = {c["syntax"].split()[1] for c in yaml_doc["commands"].values()}
    assert keywords == {"vm-tracer"}
    for eos_word in EOS_KEYWORDS_AFTER_SHOW[:-1]:
        # Neither is a prefix of the other: typing either in full is never ambiguous.
        assert not eos_word.startswith("vm-tracer") and not "vm-tracer".startswith(eos_word)


def test_every_output_schema_is_a_valid_json_schema(yaml_doc: dict[str, Any]) -> None:
    for cmd in yaml_doc["commands"].values():
        jsonschema.Draft7Validator.check_schema(cmd["outputSchema"])


def test_output_schemas_require_everything_the_status_schema_requires(
    yaml_doc: dict[str, Any],
) -> None:
    for section in SECTIONS:
        ours = command_for(yaml_doc, section)["outputSchema"]["properties"][section]["items"]
        theirs = status_mod.STATUS_SCHEMA["properties"][section]["items"]
        assert set(theirs["required"]) <= set(ours["required"]), section


def test_plugin_registers_every_yaml_command(
    cli_ext: StandInCliExtension, handler: Any, yaml_doc: dict[str, Any]
) -> None:
    handler.Plugin(None)
    names = {name for name, _cls, _ns in cli_ext.registered}
    assert names == set(yaml_doc["commands"])
    assert {ns for _n, _c, ns in cli_ext.registered} == {yaml_doc["namespace"]}
    for name, cls, _ns in cli_ext.registered:
        assert issubclass(cls, cli_ext.ShowCommandClass)
        section = yaml_doc["commands"][name]["syntax"].split()[2]
        assert cls.section == section


# -- handlers against the running agent -------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_handler_output_follows_the_output_schema(
    handler: Any, running: RunningAgent, yaml_doc: dict[str, Any], section: str
) -> None:
    cls = handler.COMMANDS[next(n for n in yaml_doc["commands"] if n.lower().endswith(section))]
    ctx = daemon_ctx(running.run_dir)
    data = cls().handler(ctx)
    assert ctx.errors == []
    jsonschema.Draft7Validator(command_for(yaml_doc, section)["outputSchema"]).validate(data)
    assert data["agent"]["running"] is True
    assert data["agent"]["pid"] == running.latest()["agent"]["pid"]
    assert data[section] == status_mod.read_status(running.run_dir)[section]


def test_handler_data_says_what_the_switch_has(handler: Any, running: RunningAgent) -> None:
    ctx = daemon_ctx(running.run_dir)
    interfaces = {i["name"]: i for i in handler.ShowVmTracerInterfaces().handler(ctx)["interfaces"]}
    assert interfaces["Ethernet1"]["dynamic"] == "100"
    assert interfaces["Ethernet2"]["dynamic"] == "110"
    assert [p["vlan"] for p in interfaces["Ethernet3"]["pending"]] == [120]
    sessions = handler.ShowVmTracerSessions().handler(ctx)["sessions"]
    assert [(s["name"], s["state"], s["synced"]) for s in sessions] == [("vc1", "connected", True)]
    vms = {v["name"]: v for v in handler.ShowVmTracerVms().handler(ctx)["vms"]}
    assert vms["app01"]["nics"][0]["interfaces"] == ["Ethernet1"]
    hosts = handler.ShowVmTracerHosts().handler(ctx)["hosts"]
    assert {lk["interface"] for h in hosts for lk in h["links"]} == {
        "Ethernet1",
        "Ethernet2",
        "Ethernet3",
    }


@pytest.mark.parametrize(
    ("section", "table"),
    [
        ("sessions", render.sessions_table),
        ("interfaces", render.interfaces_table),
        ("vms", render.vms_table),
        ("hosts", render.hosts_table),
    ],
)
def test_render_prints_the_same_eos_table_as_vmtracer_show(
    handler: Any,
    running: RunningAgent,
    section: str,
    table: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = time.time()
    monkeypatch.setattr(handler.time, "time", lambda: now)
    cls = next(c for c in handler.COMMANDS.values() if c.section == section)
    data = cls().handler(daemon_ctx(running.run_dir))
    cls().render(data)
    out = capsys.readouterr().out
    assert out == table(status_mod.read_status(running.run_dir), now) + "\n"
    header, dashes = out.splitlines()[:2]
    assert header.split()[0] in ("Session", "Interface", "VM", "Host")
    assert set(dashes.replace(" ", "")) == {"-"}


def test_run_dir_from_the_configuration_file_when_the_daemon_says_nothing(
    handler: Any, running: RunningAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vmtracer.toml"
    config.write_text(f'[switch]\nrun_dir = "{running.run_dir}"\n')
    monkeypatch.setenv("VMTRACER_CONFIG", str(config))
    ctx = Ctx()  # getDaemon answers None
    data = handler.ShowVmTracerSessions().handler(ctx)
    assert ctx.errors == [] and data["sessions"][0]["name"] == "vc1"


def test_no_agent_is_an_error_not_empty_data(
    handler: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMTRACER_CONFIG", str(tmp_path / "absent.toml"))
    ctx = daemon_ctx(str(tmp_path / "run"))
    assert handler.ShowVmTracerInterfaces().handler(ctx) is None
    assert ctx.errors == [
        f"vm-tracer: the agent is not running (no {tmp_path / 'run' / 'status.json'})"
    ]


def test_stale_status_is_an_error(handler: Any, running: RunningAgent, tmp_path: Path) -> None:
    doc = status_mod.read_status(running.run_dir)
    doc["agent"]["updated"] = time.time() - 3600
    status_mod.write(str(tmp_path), doc)
    ctx = daemon_ctx(str(tmp_path))
    assert handler.ShowVmTracerHosts().handler(ctx) is None
    [error] = ctx.errors
    assert error.startswith("vm-tracer: the agent's status is stale")


def test_a_broken_context_never_raises_into_the_cli(handler: Any, tmp_path: Path) -> None:
    class Broken(Ctx):
        def getDaemon(self, name: str) -> Optional[Daemon]:
            raise RuntimeError("no Sysdb here")

    ctx = Broken()
    # getDaemon failing falls back to the file and the default run_dir: an error line.
    assert handler.ShowVmTracerSessions().handler(ctx) is None
    assert len(ctx.errors) == 1 and ctx.errors[0].startswith("vm-tracer: ")


def test_library_dir_is_found_from_both_plugin_locations(
    cli_ext: StandInCliExtension, tmp_path: Path
) -> None:
    usr = tmp_path / "usr"
    new = usr / "share" / "CliExtension" / "CliPlugin"
    old = usr / "lib" / "python3.9" / "site-packages" / "CliPlugin"
    new.mkdir(parents=True)
    old.mkdir(parents=True)
    (new / HANDLER_PATH.name).write_bytes(HANDLER_PATH.read_bytes())
    (old / HANDLER_PATH.name).symlink_to(
        f"../../../../share/CliExtension/CliPlugin/{HANDLER_PATH.name}"
    )
    for where in (new, old):
        module = load_handler(where / HANDLER_PATH.name)
        assert module.library_dir() == str(usr / "lib" / "eos-vmtracer" / "site")


# -- Python 3.9 -------------------------------------------------------------------------------


def test_handler_module_and_runtime_package_pass_vermin_for_python_39() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            *("-q", "--no-tips", "--violations", "-t=3.9-"),
            str(HANDLER_PATH),
            str(ROOT / "extension" / "bin" / "vmtracer.py"),
            str(ROOT / "eos_vmtracer"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_handler_module_compiles_under_python_39_syntax() -> None:
    import ast

    ast.parse(HANDLER_PATH.read_text(), feature_version=(3, 9))


def test_readme_gives_the_eos_configuration_this_package_expects(yaml_doc: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    name = eos_options.DEFAULT_DAEMON
    for line in (
        f"daemon {name}",
        f"config-daemon-{name})# exec /usr/bin/vmtracer run",
        "option config value /mnt/flash/vmtracer.toml",
        "protocol unix-socket",
        f"show daemon {name}",
    ):
        assert line in readme, line
    for cmd in yaml_doc["commands"].values():
        assert cmd["syntax"] in readme
    assert "govc role.create vmtracer-readonly System.Anonymous System.View System.Read" in readme
    assert "Get-VIPrivilege -Id System.Anonymous,System.View,System.Read" in readme
