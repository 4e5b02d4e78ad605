"""The agent's files: history and status read back whatever they hold, writes never follow
a symlink, and one agent per state_dir.

Through the ``vmtracer`` command (click's runner): a bad history line is skipped and
counted, never a traceback; a malformed ``status.json`` is one line and exit 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eos_vmtracer import status as status_mod
from eos_vmtracer.cli import cli
from eos_vmtracer.fileio import StateDirBusy, StateLock, append_text, write_json_atomic
from eos_vmtracer.history import Event, History
from eos_vmtracer.ledger import Ledger, LedgerStore
from tests.unit.test_status_render import _config_file, world_doc


def _run(*args: str) -> Any:
    return CliRunner(mix_stderr=False).invoke(cli, list(args))


def _one_line_failure(result: Any, what: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # not a traceback
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("vmtracer: ")
    assert what in result.stderr


# -- history.jsonl --------------------------------------------------------------------------


BAD_HISTORY_LINES = [
    b"\xff\xfe not UTF-8 at all\n",
    b'{"at": 1700000000, "action": "add", "reason": "caf\xe9"}\n',  # Latin-1, not UTF-8
    b"{not json\n",
    b"[" * 50_000 + b"\n",  # deeper than the parser goes
    b"[1, 2]\n",
    b'"just a string"\n',
    b'{"action": "add"}\n',  # no time
    b'{"at": true, "action": "add"}\n',
    b'{"at": 1e308, "action": "add"}\n',  # no table can print that year
    b'{"at": NaN, "action": "add"}\n',
    b'{"at": -5, "action": "add"}\n',
    b'{"at": 1700000000, "action": ""}\n',
    b'{"at": 1700000000, "action": {"x": 1}}\n',
    b'{"at": 1700000000, "action": "add", "interface": ["Ethernet1"]}\n',
    b'{"at": 1700000000, "action": "add", "reason": 5}\n',
]


def test_show_history_skips_and_counts_bad_lines(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    history = History(str(tmp_path / "state"))
    history.append([Event(1_700_000_000.0, "add", "Ethernet1", "100", "VM web1")])
    with open(history.path, "ab") as f:
        f.writelines(BAD_HISTORY_LINES)
    history.append([Event(1_700_000_001.0, "remove", "Ethernet1", "100", "unneeded")])
    for args in (["--json"], []):
        result = _run("show", "history", "--config", str(config), *args)
        assert result.exit_code == 0, (result.stderr, result.exception)
        assert f"skipped {len(BAD_HISTORY_LINES)} unreadable lines" in result.stderr
        assert "remove" in result.stdout and "add" in result.stdout
    events = json.loads(_run("show", "history", "--json", "--config", str(config)).stdout)
    assert [e["action"] for e in events] == ["add", "remove"]
    assert history.read() and history.skipped == len(BAD_HISTORY_LINES)


def test_history_never_appends_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "history.jsonl").symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic links|Too many levels"):
        History(str(state)).append([Event(1.0, "start")])
    assert target.read_text() == "precious\n"
    with pytest.raises(OSError):
        append_text(str(state / "history.jsonl"), "x\n")
    assert target.read_text() == "precious\n"


def test_atomic_write_replaces_a_symlink_and_leaves_its_target(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "run").mkdir()
    link = tmp_path / "run" / "status.json"
    link.symlink_to(target)
    write_json_atomic(str(link), {"a": 1})
    assert not link.is_symlink() and json.loads(link.read_text()) == {"a": 1}
    assert target.read_text() == "precious\n"
    LedgerStore(str(tmp_path / "run")).save(Ledger())  # same path for the ledger
    assert sorted(os.listdir(tmp_path / "run")) == ["ledger.json", "status.json"]


# -- status.json ------------------------------------------------------------------------------


def _fresh_doc() -> dict[str, Any]:
    return json.loads(json.dumps(world_doc(time.time())))


def _broken(change: str) -> bytes:
    doc = _fresh_doc()
    if change == "no sessions":
        del doc["sessions"]
    elif change == "sessions not a list":
        doc["sessions"] = {"vc1": {}}
    elif change == "session hosts a string":
        doc["sessions"][0]["hosts"] = "12"
    elif change == "agent a list":
        doc["agent"] = []
    elif change == "updated a string":
        doc["agent"]["updated"] = "yesterday"
    elif change == "updated far away":
        doc["agent"]["updated"] = 1e300
    elif change == "pid huge":
        doc["agent"]["pid"] = 2**70
    elif change == "pid a bool":
        doc["agent"]["pid"] = True
    elif change == "interface pending a string":
        doc["interfaces"][0]["pending"] = "soon"
    elif change == "session since a string":  # deeper than the schema checks
        doc["sessions"][0]["since"] = "yesterday"
    elif change == "interface reasons a list":
        doc["interfaces"][0]["reasons"] = [1]
    else:
        raise AssertionError(change)
    return json.dumps(doc).encode()


MALFORMED = [
    ("not UTF-8", b'{"schema": 1, "agent": "\xff"}'),
    ("not JSON", b'{"schema": 1, '),
    ("nested", b"[" * 100_000),
    ("empty", b""),
    *[
        (c, _broken(c))
        for c in (
            "no sessions",
            "sessions not a list",
            "session hosts a string",
            "agent a list",
            "updated a string",
            "updated far away",
            "pid huge",
            "pid a bool",
            "interface pending a string",
        )
    ],
]


@pytest.mark.parametrize(("name", "data"), MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("what", ["sessions", "interfaces", "vms", "hosts"])
def test_show_reports_a_malformed_status_in_one_line(
    tmp_path: Path, name: str, data: bytes, what: str
) -> None:
    config = _config_file(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_bytes(data)
    for extra in ([], ["--json"]):
        result = _run("show", what, "--config", str(config), *extra)
        _one_line_failure(result, "malformed")


@pytest.mark.parametrize(("name", "data"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_explain_reports_a_malformed_status_in_one_line(
    tmp_path: Path, name: str, data: bytes
) -> None:
    config = _config_file(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_bytes(data)
    _one_line_failure(_run("explain", "Ethernet1", "--config", str(config)), "malformed")


@pytest.mark.parametrize(
    ("change", "command"),
    [
        ("session since a string", ["show", "sessions"]),
        ("interface reasons a list", ["explain", "Ethernet1"]),
    ],
)
def test_a_bad_value_deeper_than_the_schema_is_one_line_too(
    tmp_path: Path, change: str, command: list[str]
) -> None:
    """Members the schema does not type yet: the command that prints them says the
    document is malformed instead of a traceback."""
    config = _config_file(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_bytes(_broken(change))
    _one_line_failure(_run(*command, "--config", str(config)), "malformed")


def test_read_status_names_the_bad_member(tmp_path: Path) -> None:
    status_mod.write(str(tmp_path), {**_fresh_doc(), "sessions": 3})
    with pytest.raises(status_mod.StatusUnavailable, match="malformed: sessions is not array"):
        status_mod.read_status(str(tmp_path))


def test_a_good_status_still_shows(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    status_mod.write(str(tmp_path / "run"), _fresh_doc())
    for what in ("sessions", "interfaces", "vms", "hosts"):
        assert _run("show", what, "--config", str(config)).exit_code == 0


# -- one agent per state_dir ------------------------------------------------------------------


def test_a_second_lock_on_a_state_dir_is_refused_until_the_first_is_released(
    tmp_path: Path,
) -> None:
    first = StateLock(str(tmp_path / "state"))
    first.acquire()
    with pytest.raises(StateDirBusy, match=f"pid {os.getpid()}"):
        StateLock(str(tmp_path / "state")).acquire()
    first.release()
    second = StateLock(str(tmp_path / "state"))
    second.acquire()
    second.release()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """A holder killed with SIGKILL leaves no stale lock behind."""
    code = (
        "import sys, time; from eos_vmtracer.fileio import StateLock;"
        f" StateLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StateDirBusy, match=f"pid {holder.pid}"):
            StateLock(str(tmp_path)).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = StateLock(str(tmp_path))
    lock.acquire()
    lock.release()


def test_the_lock_file_is_never_a_symlink_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "lock").symlink_to(target)
    with pytest.raises(Exception, match="cannot lock"):
        StateLock(str(tmp_path / "state")).acquire()
    assert target.read_text() == "precious\n"
