"""The EOS SDK integration (eos_vmtracer.eos): options to configuration, status to
daemon status, the two loops.

No EOS here: a stand-in ``eossdk`` module (:class:`FakeEosSdk`) runs a select()
loop on the main thread the way the SDK's ``main_loop`` does, calls the handlers'
callbacks, and records ``status_set``. The agent under it is the real one, against
the fakes of tests/unit/test_extension_world.py.
"""

from __future__ import annotations

import faulthandler
import logging
import math
import os
import select
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from eos_vmtracer import render
from eos_vmtracer import status as status_mod
from eos_vmtracer.config import Config, ConfigError
from eos_vmtracer.eos import controller as eos_controller
from eos_vmtracer.eos import options as eos_options
from eos_vmtracer.eos import sdk as eos_sdk

from .test_extension_world import ALLOWED, EDGE, UPLINK, World, inventory, wait_for

PASSWORD_ENV = "VMTRACER_TEST_PASSWORD"


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-a-real-password")


@pytest.fixture(autouse=True)
def _root_logger() -> Iterator[None]:
    """The bridge sets up logging as the daemon would; give the next test its own back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)


def toml_file(tmp: Path, extra: str = "") -> Path:
    path = tmp / "vmtracer.toml"
    path.write_text(
        f"""
[switch]
interfaces = {list(EDGE)!r}
uplinks = ["{UPLINK}"]
state_dir = "{tmp / "state"}"
run_dir = "{tmp / "run"}"
[cdp]
enabled = false
[log]
syslog = false
[[session]]
name = "vc1"
url = "https://vc1.example.com/sdk"
username = "svc-vmtracer@vsphere.local"
password_env = "{PASSWORD_ENV}"
allowed_vlans = "{ALLOWED}"
{extra}
""".replace("'", '"')
    )
    return path


# -- availability and names -------------------------------------------------------------------


def test_not_available_without_eossdk_so_vmtracer_run_is_unchanged() -> None:
    assert "eossdk" not in sys.modules
    assert eos_sdk.available() is False


def test_available_when_eossdk_imports_unless_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "eossdk.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert eos_sdk.available() is True
    monkeypatch.setenv(eos_sdk.DISABLE_ENV, "1")
    assert eos_sdk.available() is False


def test_daemon_name() -> None:
    assert eos_options.daemon_name({}) == "EosVmTracer"
    assert eos_options.daemon_name({"AGENT_PROCESS_NAME": "VmTracerLab"}) == "VmTracerLab"
    assert eos_options.daemon_name({"AGENT_PROCESS_NAME": "ar-EosVmTracer"}) == "EosVmTracer"


# -- options -> configuration ----------------------------------------------------------------


def test_options_alone_make_a_configuration(tmp_path: Path) -> None:
    options = {
        "switch.interfaces": "Ethernet1-4,Port-Channel10",
        "switch.remove_delay": "600",
        "switch.dry_run": "true",
        "switch.state_dir": str(tmp_path / "state"),
        "session.vc1.url": "https://vc1.example.com/sdk",
        "session.vc1.username": "svc-vmtracer@vsphere.local",
        "session.vc1.password_env": PASSWORD_ENV,
        "session.vc1.allowed_vlans": "100",
        "session.vc2.url": "https://vc2.example.com/sdk",
        "session.vc2.username": "svc-vmtracer@vsphere.local",
        "session.vc2.password_env": PASSWORD_ENV,
        "session.vc2.allowed_vlans": "200-299",
        "session.vc2.autovlan": "false",
        "cdp.kernel_interfaces": '{Ethernet1 = "swp1"}',
    }
    config = eos_options.config_from_options(options, str(tmp_path / "absent.toml"), "EosVmTracer")
    assert config.switch.interfaces == (
        "Ethernet1",
        "Ethernet2",
        "Ethernet3",
        "Ethernet4",
        "Port-Channel10",
    )
    assert config.switch.remove_delay == 600.0 and config.switch.dry_run is True
    assert [s.name for s in config.sessions] == ["vc1", "vc2"]
    assert str(config.sessions[0].allowed_vlans) == "100"  # not read as the number 100
    assert config.sessions[1].autovlan is False
    assert config.cdp.kernel_interfaces == {"Ethernet1": "swp1"}
    assert config.source == "daemon EosVmTracer options"


def test_options_override_the_file_key_by_key(tmp_path: Path) -> None:
    path = toml_file(tmp_path)
    options = {
        "config": str(path),
        "switch.remove_delay": "30",
        "session.vc1.allowed_vlans": "100-150",
        "cdp.kernel_interfaces.Ethernet2": "swp2",
    }
    config = eos_options.config_from_options(options, None, "EosVmTracer")
    assert config.switch.interfaces == EDGE and config.switch.remove_delay == 30.0
    assert len(config.sessions) == 1 and str(config.sessions[0].allowed_vlans) == "100-150"
    assert config.cdp.kernel_interfaces == {"Ethernet2": "swp2"}
    assert config.source == f"{path} + daemon EosVmTracer options"


def test_no_options_is_the_file_as_before(tmp_path: Path) -> None:
    path = toml_file(tmp_path)
    config = eos_options.config_from_options({}, str(path))
    assert config.source == str(path) and config.sessions[0].name == "vc1"
    with pytest.raises(ConfigError, match="no such file"):
        eos_options.config_from_options({}, str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vlan": "1"}, "vlan: unknown daemon option"),
        ({"switch.remove_delay": "soon"}, "switch.remove_delay: must be a number, not a string"),
        ({"switch.dry_run": "maybe"}, "switch.dry_run: must be true or false"),
        ({"switch.remove_dealy": "1"}, "unknown key (did you mean remove_delay?)"),
        ({"session.vc1.password": "secret"}, "passwords never go in the config file"),
        ({"config": "/nonexistent/vmtracer.toml"}, "/nonexistent/vmtracer.toml: no such file"),
    ],
)
def test_bad_options_name_the_option(tmp_path: Path, options: dict[str, str], message: str) -> None:
    base = {"config": str(toml_file(tmp_path))}
    with pytest.raises(ConfigError) as e:
        eos_options.config_from_options({**base, **options}, None)
    assert message in str(e.value)
    assert "secret" not in str(e.value)


# -- status -> daemon status ------------------------------------------------------------------


def test_status_items_summarise_the_real_status(tmp_path: Path) -> None:
    from .test_extension_world import RunningAgent

    running = RunningAgent(tmp_path)
    try:
        doc = running.settle()
    finally:
        running.stop()
    items = render.daemon_status(doc)
    assert items["session.vc1"] == ("connected, synced, 3 hosts, 4 VMs, VLANs 100-199, autovlan on")
    assert items["interfaces"] == (
        "5 managed (4 edge, 1 uplink), 4 with dynamic VLANs, 2 removals pending"
    )
    assert items["eapi"] == "ok: leaf1 (DCS-7050SX3-48YC8, EOS 4.30.2F)"
    assert items["dry_run"] == "no" and items["vms"] == "4"
    assert items["last_reconcile"].startswith("ok at ")
    assert "vlans_added=" in items["counters"]
    assert all(len(v) <= render.DAEMON_VALUE_MAX for v in items.values())


def test_long_values_are_clipped() -> None:
    doc = {"sessions": [], "interfaces": [], "switch": {"reachable": False, "error": "x" * 5000}}
    assert len(render.daemon_status(doc)["eapi"]) == render.DAEMON_VALUE_MAX


# -- the controller with a fake SDK port and fake agents -----------------------------------


class FakePort:
    def __init__(self, options: dict[str, str]) -> None:
        self.opts = options
        self.status: dict[str, str] = {}
        self.shutdowns = 0
        self.exits = 0
        self.scheduled: list[float] = []

    def options(self) -> dict[str, str]:
        return dict(self.opts)

    def status_set(self, key: str, value: str) -> None:
        self.status[key] = value

    def status_del(self, key: str) -> None:
        self.status.pop(key, None)

    def shutdown_complete(self) -> None:
        self.shutdowns += 1

    def exit(self) -> None:
        self.exits += 1

    def schedule(self, seconds: float) -> None:
        self.scheduled.append(seconds)


class FakeAgent:
    def __init__(self, config: Config, crash: bool = False) -> None:
        self.config = config
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        self.stopped = threading.Event()
        self.crash = crash

    def run(self) -> None:
        if self.crash:
            raise RuntimeError("boom")
        self.stopped.wait(10)

    def stop(self) -> None:
        self.stopped.set()


@pytest.fixture()
def controller_parts(
    tmp_path: Path,
) -> Iterator[tuple[eos_controller.Controller, FakePort, list[FakeAgent]]]:
    port = FakePort({"config": str(toml_file(tmp_path))})
    agents: list[FakeAgent] = []

    def make(config: Config) -> FakeAgent:
        agents.append(FakeAgent(config))
        return agents[-1]

    mailbox = eos_controller.Mailbox()
    controller = eos_controller.Controller(port, "EosVmTracer", None, mailbox, make)
    yield controller, port, agents
    for a in agents:
        a.stop()
    mailbox.close()


def settle(controller: eos_controller.Controller) -> None:
    """What the SDK loop does when the pipe is readable, until the agent thread is done."""
    thread = controller._thread
    if thread is not None:
        thread.join(5)
    controller.readable()


def test_controller_starts_the_agent_and_restarts_it_only_on_a_real_change(
    controller_parts: tuple[eos_controller.Controller, FakePort, list[FakeAgent]],
) -> None:
    controller, port, agents = controller_parts
    controller.initialized()
    assert port.status["state"] == "running" and len(agents) == 1
    assert port.status["run_dir"].endswith("/run")
    controller.option_changed()
    assert port.scheduled == [eos_controller.OPTION_SETTLE]
    controller.timeout()  # nothing changed
    assert len(agents) == 1 and not agents[0].stopped.is_set()
    port.opts["switch.remove_delay"] = "30"
    controller.timeout()
    assert agents[0].stopped.is_set() and port.status["state"] == "restarting"
    settle(controller)
    assert len(agents) == 2 and agents[1].config.switch.remove_delay == 30.0
    assert port.status["state"] == "running"


def test_a_bad_option_keeps_the_running_agent_and_says_why(
    controller_parts: tuple[eos_controller.Controller, FakePort, list[FakeAgent]],
) -> None:
    controller, port, agents = controller_parts
    controller.initialized()
    port.opts["switch.remove_delay"] = "-5"
    controller.timeout()
    assert not agents[0].stopped.is_set() and port.status["state"] == "running"
    assert "switch.remove_delay: must be between 0 and" in port.status["config_error"]
    del port.opts["switch.remove_delay"]
    controller.timeout()
    assert "config_error" not in port.status


def test_no_valid_configuration_waits_without_exiting(tmp_path: Path) -> None:
    port = FakePort({"switch.interfaces": "Ethernet1"})  # no session
    mailbox = eos_controller.Mailbox()
    controller = eos_controller.Controller(port, "EosVmTracer", str(tmp_path / "absent"), mailbox)
    controller.initialized()
    assert port.status["state"] == "waiting for a valid configuration"
    assert "configure at least one [[session]]" in port.status["config_error"]
    assert port.exits == 0 and controller.agent is None
    # tried again later, not only on options
    assert port.scheduled == [eos_controller.RETRY_INVALID]
    mailbox.close()


def test_a_configuration_that_becomes_valid_is_picked_up_on_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)  # like a password file that is not there yet
    port = FakePort({"config": str(toml_file(tmp_path))})
    mailbox = eos_controller.Mailbox()
    agents: list[FakeAgent] = []
    controller = eos_controller.Controller(
        port, "EosVmTracer", None, mailbox, lambda c: agents.append(FakeAgent(c)) or agents[-1]
    )
    controller.initialized()
    assert f"environment variable {PASSWORD_ENV} is not set" in port.status["config_error"]
    monkeypatch.setenv(PASSWORD_ENV, "now-it-is")
    controller.timeout()
    assert port.status["state"] == "running" and "config_error" not in port.status
    agents[0].stop()
    settle(controller)
    mailbox.close()


def test_shutdown_completes_only_after_the_agent_stopped(
    controller_parts: tuple[eos_controller.Controller, FakePort, list[FakeAgent]],
) -> None:
    controller, port, agents = controller_parts
    controller.initialized()
    controller.enabled(False)
    assert agents[0].stopped.is_set() and port.shutdowns == 0
    assert port.status["state"] == "shutting down"
    settle(controller)
    assert port.shutdowns == 1 and port.status["state"] == "stopped" and port.exits == 0


def test_enable_during_shutdown_starts_again(
    controller_parts: tuple[eos_controller.Controller, FakePort, list[FakeAgent]],
) -> None:
    controller, port, agents = controller_parts
    controller.initialized()
    controller.enabled(False)
    controller.enabled(True)
    settle(controller)
    assert len(agents) == 2 and port.shutdowns == 0 and port.status["state"] == "running"


def test_terminate_stops_the_agent_then_exits(
    controller_parts: tuple[eos_controller.Controller, FakePort, list[FakeAgent]],
) -> None:
    controller, port, agents = controller_parts
    controller.initialized()
    controller.terminate_requested = True
    controller.readable()
    assert agents[0].stopped.is_set() and port.exits == 0
    settle(controller)
    assert port.exits == 1 and controller.exit_code == 0


def test_an_agent_that_cannot_start_is_tried_again(tmp_path: Path) -> None:
    port = FakePort({"config": str(toml_file(tmp_path))})
    mailbox = eos_controller.Mailbox()
    attempts: list[Config] = []

    def make(config: Config) -> FakeAgent:
        attempts.append(config)
        if len(attempts) == 1:
            raise OSError(30, "Read-only file system")
        return FakeAgent(config)

    controller = eos_controller.Controller(port, "EosVmTracer", None, mailbox, make)
    controller.initialized()
    assert port.status["state"] == "cannot start: [Errno 30] Read-only file system"
    assert port.scheduled == [eos_controller.RETRY_INVALID] and port.exits == 0
    controller.timeout()
    assert port.status["state"] == "running" and len(attempts) == 2
    controller.terminate()
    settle(controller)
    assert port.exits == 1
    mailbox.close()


def test_a_crashed_agent_exits_non_zero_for_procmgr(tmp_path: Path) -> None:
    port = FakePort({"config": str(toml_file(tmp_path))})
    mailbox = eos_controller.Mailbox()
    controller = eos_controller.Controller(
        port, "EosVmTracer", None, mailbox, lambda c: FakeAgent(c, crash=True)
    )
    controller.initialized()
    settle(controller)
    assert controller.exit_code == 1 and port.exits == 1
    assert port.status["state"].startswith("crashed")
    mailbox.close()


def test_published_keys_follow_the_document(
    controller_parts: tuple[eos_controller.Controller, FakePort, list[FakeAgent]],
) -> None:
    controller, port, agents = controller_parts
    controller.initialized()
    doc: dict[str, Any] = {
        "agent": {"version": "9", "pid": 1, "updated": 0},
        "switch": {"reachable": False, "error": "refused", "since": 0},
        "sessions": [
            {
                "name": n,
                "state": "connecting",
                "synced": False,
                "hosts": 0,
                "vms": 0,
                "allowed_vlans": "1",
                "autovlan": True,
                "error": "",
            }
            for n in ("vc1", "vc2")
        ],
        "interfaces": [],
    }
    agents[0].observers[0](doc)  # as the agent's thread would
    controller.readable()
    assert {"session.vc1", "session.vc2"} <= set(port.status)
    doc["sessions"] = doc["sessions"][:1]
    agents[0].observers[0](doc)
    controller.readable()
    assert "session.vc1" in port.status and "session.vc2" not in port.status
    assert port.status["eapi"].endswith(": refused")


# -- the SDK glue with a stand-in eossdk and the REAL agent ----------------------------------


class FakeEosSdk(types.ModuleType):
    """The parts of ``eossdk`` the bridge uses; ``main_loop`` is a select() loop."""

    def __init__(self, options: dict[str, str], steps: list[Callable[[FakeEosSdk], bool]]):
        super().__init__("eossdk")
        module = self
        self.options = options
        self.status: dict[str, str] = {}
        self.status_log: list[tuple[str, str]] = []
        self.steps = steps
        self.fds: dict[int, Any] = {}
        self.timeouts: dict[Any, float] = {}
        self.agent_handlers: list[Any] = []
        self.exiting = False
        self.shutdown_complete = False
        self.names: list[str] = []

        class AgentMgr:
            def agent_option_iter(self) -> Iterator[str]:
                return iter([k for k, v in module.options.items() if v])

            def agent_option(self, name: str) -> str:
                return module.options.get(name, "")

            def status_set(self, key: str, value: str) -> None:
                module.status[key] = value
                module.status_log.append((key, value))

            def status_del(self, key: str) -> None:
                module.status.pop(key, None)

            def agent_shutdown_complete_is(self, done: bool) -> None:
                module.shutdown_complete = done

            def exit(self) -> None:
                module.exiting = True

        class Sdk:
            def __init__(self, name: str) -> None:
                module.names.append(name)
                self.mgr = AgentMgr()

            def get_agent_mgr(self) -> AgentMgr:
                return self.mgr

            def get_timeout_mgr(self) -> object:
                return object()

            def main_loop(self, argv: list[str]) -> None:
                module.loop()

        class AgentHandler:
            def __init__(self, mgr: AgentMgr) -> None:
                module.agent_handlers.append(self)

        class FdHandler:
            def __init__(self) -> None:
                pass

            def watch_readable(self, fd: int, on: bool) -> None:
                module.fds[fd] = self

        class TimeoutHandler:
            def __init__(self, mgr: object) -> None:
                pass

            def timeout_time_is(self, when: float) -> None:
                module.timeouts[self] = when

        self.Sdk = Sdk
        self.AgentHandler = AgentHandler
        self.FdHandler = FdHandler
        self.TimeoutHandler = TimeoutHandler

    def now(self) -> float:
        return time.monotonic()

    def never(self) -> float:
        return math.inf

    def loop(self) -> None:
        deadline = time.monotonic() + 30
        for h in self.agent_handlers:
            h.on_initialized()
        while not self.exiting:
            if time.monotonic() > deadline:
                faulthandler.dump_traceback(all_threads=True)  # where it hangs, for the log
                raise AssertionError(f"stuck; status {self.status}")
            while self.steps and self.steps[0](self):
                self.steps.pop(0)
            due = [h for h, t in self.timeouts.items() if t <= time.monotonic()]
            for h in due:
                del self.timeouts[h]
                h.on_timeout()
            readable, _, _ = select.select(list(self.fds), [], [], 0.02)
            for fd in readable:
                self.fds[fd].on_readable(fd)

    def option(self, name: str, value: str) -> None:
        self.options[name] = value
        for h in self.agent_handlers:
            h.on_agent_option(name, value)


def test_vmtracer_run_under_the_sdk_real_agent_options_status_and_sigterm(
    tmp_path: Path,
) -> None:
    world = World()
    path = toml_file(tmp_path)
    run_dir = str(tmp_path / "run")
    seen: dict[str, Any] = {}

    def running(sdk: FakeEosSdk) -> bool:
        return sdk.status.get("state") == "running" and "session.vc1" in sdk.status

    def synced(sdk: FakeEosSdk) -> bool:
        if "connected, synced" not in sdk.status.get("session.vc1", ""):
            return False
        seen["status_file"] = status_mod.read_status(run_dir)
        seen["agent_thread"] = [t for t in threading.enumerate() if t.name == "vmtracer-agent"]
        sdk.option("switch.dry_run", "true")
        return True

    def restarted(sdk: FakeEosSdk) -> bool:
        if sdk.status.get("dry_run") != "yes" or sdk.status.get("state") != "running":
            return False
        world.set_inventory(inventory(vm3_on=False))
        return True

    def pending(sdk: FakeEosSdk) -> bool:
        if "2 removals pending" not in sdk.status.get("interfaces", ""):
            return False
        os.kill(os.getpid(), signal.SIGTERM)
        return True

    sdk = FakeEosSdk(
        {"config": str(path), "log.level": "warning"}, [running, synced, restarted, pending]
    )
    before = signal.getsignal(signal.SIGTERM)
    code = eos_sdk.run(None, sdk_module=sdk, make_agent=world.make_agent, argv=["vmtracer", "run"])

    assert code == 0 and sdk.exiting and not sdk.steps
    assert sdk.names == ["EosVmTracer"]
    assert sdk.status["state"] == "stopped"
    assert "session.vc1" not in sdk.status  # a stopped agent's status is not left behind
    assert signal.getsignal(signal.SIGTERM) == before
    # The status that was published came from the agent's real status document.
    published = {k: v for k, v in sdk.status_log if k == "run_dir"}
    assert published["run_dir"] == run_dir
    assert seen["status_file"]["sessions"][0]["state"] == "connected"
    assert [t.is_alive() for t in seen["agent_thread"]] == [False]
    assert not [t for t in threading.enumerate() if t.name == "vmtracer-agent"]
    assert not Path(status_mod.status_path(run_dir)).exists()
    # One restart for the option change: two agents were started on the same switch.
    assert len(world.sessions) == 2
    states = [v for k, v in sdk.status_log if k == "state"]
    assert states[:4] == ["starting", "running", "restarting", "running"]
    assert states[-2:] == ["stopping", "stopped"]


def test_shutdown_through_the_sdk(tmp_path: Path) -> None:
    world = World()
    path = toml_file(tmp_path)

    def running(sdk: FakeEosSdk) -> bool:
        if "connected, synced" not in sdk.status.get("session.vc1", ""):
            return False
        for h in sdk.agent_handlers:
            h.on_agent_enabled(False)
        return True

    def complete(sdk: FakeEosSdk) -> bool:
        if not sdk.shutdown_complete:
            return False
        sdk.exiting = True  # ProcMgr ends the process once shutdown is complete
        return True

    sdk = FakeEosSdk({"config": str(path)}, [running, complete])
    assert eos_sdk.run(None, sdk_module=sdk, make_agent=world.make_agent, argv=["x"]) == 0
    assert sdk.status["state"] == "stopped" and sdk.shutdown_complete
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "vmtracer-agent"])


def test_vmtracer_run_without_eossdk_does_not_touch_the_bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Optional[str]] = []
    monkeypatch.setattr(eos_sdk, "run", lambda path, **kw: calls.append(path) or 0)
    from click.testing import CliRunner

    from eos_vmtracer.cli import cli

    bad = tmp_path / "bad.toml"
    bad.write_text("[switch]\n")
    result = CliRunner().invoke(cli, ["run", "--config", str(bad)])
    assert calls == [] and result.exit_code == 2  # the usual configuration error
