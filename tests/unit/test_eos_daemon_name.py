"""A daemon under another name is loud: the log and ``vmtracer check`` say so.

The EOS SDK gives a daemon's options and shows its status under the name the
process registers with; a daemon configured under another name would get neither,
silently. The controller logs the name and the options it sees and leaves
``daemon.json`` in run_dir; ``vmtracer check`` reads it beside the running
agent's status.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from eos_vmtracer.cli import cli
from eos_vmtracer.eos import controller as eos_controller
from eos_vmtracer.eos import presence
from eos_vmtracer.eos import sdk as eos_sdk

from .test_extension_eossdk import PASSWORD_ENV, FakeAgent, FakePort, toml_file


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-a-real-password")


def start(tmp_path: Path, options: dict[str, str], name: str) -> eos_controller.Controller:
    config = str(toml_file(tmp_path))
    port = FakePort(options)
    mailbox = eos_controller.Mailbox()
    controller = eos_controller.Controller(port, name, config, mailbox, FakeAgent)
    controller.initialized()
    return controller


def stop(controller: eos_controller.Controller) -> None:
    controller.terminate()
    thread = controller._thread
    if thread is not None:
        thread.join(5)
    controller.readable()
    controller.mailbox.close()


def test_no_option_seen_is_a_warning_in_the_log_and_in_daemon_json(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eos_vmtracer.eossdk")
    controller = start(tmp_path, {}, "EosVmTracer")
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("daemon EosVmTracer sees no option" in w for w in warnings), warnings
        seen = presence.read(str(tmp_path / "run"))
        assert seen == presence.Presence("EosVmTracer", os.getpid(), ())
    finally:
        stop(controller)
    assert presence.read(str(tmp_path / "run")) is None  # gone with the agent


def test_options_and_the_usual_name_are_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eos_vmtracer.eossdk")
    controller = start(tmp_path, {"switch.remove_delay": "30", "log.level": ""}, "EosVmTracer")
    try:
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        seen = presence.read(str(tmp_path / "run"))
        assert seen is not None and seen.options == ("switch.remove_delay",)
        assert "30" not in json.dumps(seen.options)  # names only, never values
    finally:
        stop(controller)


def test_another_name_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    controller = start(tmp_path, {"switch.remove_delay": "30"}, "VmTracer")
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("registered as daemon VmTracer, not EosVmTracer" in w for w in warnings)
    finally:
        stop(controller)


# -- vmtracer check ---------------------------------------------------------------------


def check(tmp_path: Path) -> str:
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["check", "--offline", "--config", str(toml_file(tmp_path))]
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout


def running_agent(tmp_path: Path) -> Path:
    """A status document as a live agent (this process) leaves it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    from tests.unit.test_status_render import world_doc

    doc = world_doc(time.time())  # a whole status document (a partial one is malformed)
    assert doc["agent"]["pid"] == os.getpid()
    (run_dir / "status.json").write_text(json.dumps(doc))
    return run_dir


def test_check_without_a_running_agent(tmp_path: Path) -> None:
    assert "daemon: no running agent to ask (the agent is not running" in check(tmp_path)


def test_check_says_when_the_daemon_sees_no_option(tmp_path: Path) -> None:
    run_dir = running_agent(tmp_path)
    presence.write(str(run_dir), presence.Presence("EosVmTracer", os.getpid(), ()))
    out = check(tmp_path)
    assert "daemon: EosVmTracer (EOS SDK, pid" in out and "0 options seen" in out
    assert "daemon: WARNING: daemon EosVmTracer sees no option" in out


def test_check_says_when_registered_under_another_name(tmp_path: Path) -> None:
    run_dir = running_agent(tmp_path)
    presence.write(str(run_dir), presence.Presence("VmTracer", os.getpid(), ("config",)))
    out = check(tmp_path)
    assert "1 option seen; status in 'show daemon VmTracer'" in out
    assert "WARNING: registered as VmTracer, not EosVmTracer" in out
    assert "sees no option" not in out


def test_check_on_eos_says_when_the_agent_is_no_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = running_agent(tmp_path)
    assert "runs without the EOS SDK" in check(tmp_path)  # no SDK here: nothing to warn of
    monkeypatch.setattr(eos_sdk, "available", lambda: True)
    assert "WARNING: the running agent" in check(tmp_path)
    (run_dir / presence.FILE_NAME).write_text('{"name": "EosVmTracer", "pid": 1, "options": []}')
    assert "is not an EOS SDK daemon" in check(tmp_path)  # another process's file
    (run_dir / presence.FILE_NAME).write_text("[not json")
    assert "is not an EOS SDK daemon" in check(tmp_path)
