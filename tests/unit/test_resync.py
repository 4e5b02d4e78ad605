"""``vmtracer resync``: the request drop, the agent taking it, and nothing removed while a
resynchronising session counts as not synchronised."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eos_vmtracer import resync
from eos_vmtracer import status as status_mod
from eos_vmtracer.cli import cli
from eos_vmtracer.history import History
from tests.unit.test_agent import (
    allowed,
    inventory,
    stepped,  # noqa: F401 - the fixture "stepped"
    vm,
    wait,
)
from tests.unit.test_agent import setup as agent_setup  # noqa: F401 - the fixture "setup"

pytestmark = pytest.mark.timeout(60)


def test_a_request_goes_through_the_drop_and_is_answered(tmp_path: Path) -> None:
    run_dir = str(tmp_path)
    resync.prepare(run_dir)
    mode = stat.S_IMODE(os.stat(resync.requests_dir(run_dir)).st_mode)
    assert mode == 0o1733  # anyone may drop a request, only the agent may list them
    req = resync.submit(run_dir, "vc1")
    assert resync.answer_for(run_dir, req.id) is None
    assert resync.take(run_dir) == [req]
    assert resync.take(run_dir) == []  # taken once, then gone
    resync.answer(run_dir, req, ["vc1"])
    found = resync.answer_for(run_dir, req.id)
    assert found is not None and found["sessions"] == ["vc1"] and found["error"] == ""


def test_bad_requests_are_dropped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = str(tmp_path)
    resync.prepare(run_dir)
    drop = Path(resync.requests_dir(run_dir))
    (drop / "resync-00000000000000aa.json").write_text("not json")
    (drop / "resync-00000000000000bb.json").write_text(json.dumps({"session": 3}))
    (drop / "resync-00000000000000cc.json").write_text(" " * (resync.MAX_REQUEST + 1))
    secret = tmp_path / "secret"
    secret.write_text(json.dumps({"session": ""}))
    (drop / "resync-00000000000000dd.json").symlink_to(secret)
    (drop / "other-file").write_text("{}")
    assert resync.take(run_dir) == []
    assert sorted(os.listdir(drop)) == ["other-file"]
    assert secret.exists()  # the link was removed, never followed
    assert len([r for r in caplog.records if "RESYNC_BAD" in r.getMessage()]) == 4


def test_answers_keep_the_last_few(tmp_path: Path) -> None:
    for n in range(resync.MAX_ANSWERS + 5):
        resync.answer(str(tmp_path), resync.Request(f"{n:016x}"), [])
    ids = [a["id"] for a in resync.read_answers(str(tmp_path))]
    assert len(ids) == resync.MAX_ANSWERS and ids[-1] == f"{resync.MAX_ANSWERS + 4:016x}"


def test_the_agent_resyncs_and_removes_nothing_until_synchronised(stepped: Any) -> None:  # noqa: F811
    agent, switch, session, loop = stepped(remove_delay=30.0, vms=[vm(1, "host-1", 120)])
    assert 120 in allowed(switch, "Ethernet1")
    run_dir = agent.config.switch.run_dir
    req = resync.submit(run_dir, "vc1")
    # The request watcher (a thread) takes the request; the next turn carries it out.
    wait(lambda: (loop.turn(), resync.answer_for(run_dir, req.id))[1] is not None)
    assert session.resyncs == 1
    assert not session.snapshot().synced
    # The VM goes away while the session reads everything again: VLAN 120 stays.
    session.set(inventory([], synced=False))
    loop.turn()
    loop.run_for(600)  # well past remove_delay
    assert 120 in allowed(switch, "Ethernet1")
    session.set(inventory([]))  # synchronised again: now it may go, after remove_delay
    loop.turn()
    loop.run_for(29.9)
    assert 120 in allowed(switch, "Ethernet1")
    loop.run_for(0.2)
    assert 120 not in allowed(switch, "Ethernet1")
    events = [e.action for e in History(agent.config.switch.state_dir).read(50)]
    assert "resync" in events


def test_resync_of_everything_reads_the_switch_again(agent_setup: Any) -> None:  # noqa: F811
    agent, switch, session, _ = agent_setup(check_interval=3600)
    wait(lambda: agent.plan is not None)
    before = switch.reads
    req = resync.submit(agent.config.switch.run_dir, "")
    found = resync.wait_for_answer(agent.config.switch.run_dir, req, 5)
    assert found is not None and found["sessions"] == ["vc1"]
    wait(lambda: switch.reads > before)
    assert session.resyncs == 1


def test_an_unknown_session_is_answered_with_an_error(agent_setup: Any) -> None:  # noqa: F811
    agent, _switch, session, _ = agent_setup()
    wait(lambda: agent.plan is not None)
    req = resync.submit(agent.config.switch.run_dir, "vc9")
    found = resync.wait_for_answer(agent.config.switch.run_dir, req, 5)
    assert found is not None and found["error"] == "no session 'vc9' is configured"
    assert session.resyncs == 0


def _config_file(tmp_path: Path, run_dir: str) -> Path:
    path = tmp_path / "vmtracer.toml"
    path.write_text(
        "[switch]\ninterfaces = ['Ethernet1']\n"
        f"run_dir = {json.dumps(run_dir)}\nstate_dir = {json.dumps(str(tmp_path / 'st'))}\n"
        "[[session]]\nname = 'vc1'\nurl = 'https://vc/sdk'\nusername = 'u'\n"
        "password_env = 'HOME'\nallowed_vlans = '100-199'\n"
    )
    return path


def test_the_command_says_whether_the_agent_took_it(agent_setup: Any, tmp_path: Path) -> None:  # noqa: F811
    agent, _switch, session, _ = agent_setup()
    run_dir = agent.config.switch.run_dir
    wait(lambda: os.path.exists(status_mod.status_path(run_dir)))
    path = _config_file(tmp_path, run_dir)
    out = CliRunner().invoke(cli, ["resync", "--session", "vc1", "--config", str(path)])
    assert out.exit_code == 0, out.output
    assert "is reading session vc1 again; nothing is removed until it is synchronised" in (
        out.output
    )
    assert session.resyncs == 1
    out = CliRunner().invoke(cli, ["resync", "--session", "vc7", "--config", str(path)])
    assert out.exit_code == 2 and "no session 'vc7'" in out.output


def test_the_command_fails_when_no_agent_takes_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    path = _config_file(tmp_path, str(run_dir))
    out = CliRunner().invoke(cli, ["resync", "--config", str(path)])
    assert out.exit_code == 1 and "the agent is not running" in out.output
    # A status that looks alive (our own pid) but nobody watching the drop: it says so,
    # and takes its request back.
    run_dir.mkdir()
    resync.prepare(str(run_dir))
    from tests.unit.test_status_render import world_doc

    doc = world_doc(time.time())  # a whole status document (a partial one is malformed)
    assert doc["agent"]["pid"] == os.getpid()
    Path(status_mod.status_path(str(run_dir))).write_text(json.dumps(doc))
    out = CliRunner().invoke(cli, ["resync", "--timeout", "0.3", "--config", str(path)])
    assert out.exit_code == 1 and "did not take the request within 0.3 s" in out.output
    assert os.listdir(resync.requests_dir(str(run_dir))) == []
