"""Log records reach stderr and syslog escaped: text from outside forges no record.

The logging set up by :func:`eos_vmtracer.logsetup.setup` is used as the agent
uses it: a real stderr stream and a real syslog socket (a Unix datagram socket
standing in for ``/dev/log``). Every record, whatever its template and arguments
hold, is one line with no control character; a traceback keeps its frames on
their own lines, but the exception's text cannot start a line.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
import unicodedata
from pathlib import Path
from typing import Iterator

import pytest

from eos_vmtracer import logsetup
from eos_vmtracer.config import LogConfig
from eos_vmtracer.messages import Message, emit
from eos_vmtracer.shown import shown

RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ eos_vmtracer\.agent: ")

HOSTILE = [
    "web01\nusername evil privilege 15 secret x\n!",
    "\x1b]0;pwned\x07\x1b[2J",
    "\u009b31m",
    "a\r%VMTRACER-5-VLAN_REMOVE: Ethernet1: removed VLAN 1-4094 (forged)",
    "line\u2028sep\u2029\u202egnp.exe",
]


def raw_controls(text: str) -> list[str]:
    """Characters a terminal or a log reader acts on (newlines aside)."""
    return [
        c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ]


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket standing in for /dev/log; the root logger restored afterwards.

    Tests call :func:`start` themselves: capsys swaps sys.stderr only for the test's
    own call, so a handler made in a fixture would write to another stream.
    """
    path = str(tmp_path / "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        yield sock
    finally:
        for h in root.handlers:
            if h not in saved[0]:
                h.close()
        root.handlers[:], root.level = saved
        sock.close()


def start(sock: socket.socket) -> None:
    """The agent's logging: stderr and syslog (to ``sock``), level debug."""
    logsetup.setup(LogConfig(level="debug", syslog=True), syslog_socket=sock.getsockname())


def datagrams(sock: socket.socket, n: int) -> list[str]:
    """The next ``n`` syslog records (without the NUL SysLogHandler ends each with)."""
    return [sock.recv(65536).decode("utf-8").rstrip("\x00") for _ in range(n)]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_tagged_message_with_hostile_fields_is_one_clean_line(
    logs: socket.socket, capsys: pytest.CaptureFixture[str], hostile: str
) -> None:
    start(logs)
    log = logging.getLogger("eos_vmtracer.agent")
    emit(log, Message.VLAN_ADD, interface="Ethernet1", vlans="100", why=f"VM {hostile}")
    emit(log, Message.EAPI_ERROR, error=hostile)
    log.warning("untagged: %s", hostile)
    log.info(f"even an f-string: {hostile}")  # a careless caller, on purpose
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 4, err
    assert all(RECORD.match(line) for line in lines), err
    assert [line.split(" ", 3)[3] for line in lines[:2]] == [
        "eos_vmtracer.agent: %VMTRACER-5-VLAN_ADD: Ethernet1: added VLAN 100 (VM "
        + shown(hostile)
        + ")",
        "eos_vmtracer.agent: %VMTRACER-3-EAPI_ERROR: " + shown(hostile),
    ]
    assert not raw_controls(err)
    sent = datagrams(logs, 4)
    for record in sent:
        assert record.startswith("<")  # one record per datagram: <PRI>vmtracer: ...
        assert not raw_controls(record), record
        assert "\n" not in record
    heads = [re.sub(r"^<\d+>vmtracer: ", "", r)[:24] for r in sent]
    assert heads == [
        "%VMTRACER-5-VLAN_ADD: Et",
        "%VMTRACER-3-EAPI_ERROR: ",
        "untagged: " + shown(hostile)[:14],
        "even an f-string: " + shown(hostile)[:6],
    ]


def test_a_traceback_keeps_its_frames_but_its_text_starts_no_line(
    logs: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    start(logs)
    log = logging.getLogger("eos_vmtracer.agent")

    def fail(name: str) -> None:
        try:
            raise KeyError(name)
        except KeyError as e:
            raise ValueError(f"bad VM {name}") from e

    try:
        fail("web01\n%VMTRACER-5-VLAN_REMOVE: forged\nusername evil\x1b[2J")
    except ValueError:
        emit(log, Message.CRASH, exc_info=True)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "%VMTRACER-2-CRASH: the agent stopped on an unexpected error" in lines[0]
    assert "Traceback (most recent call last):" in lines
    assert any(line.startswith("  File ") and "in fail" in line for line in lines)
    assert "The above exception was the direct cause of the following exception:" in lines
    assert [n for n, line in enumerate(lines) if RECORD.match(line)] == [0]
    assert not [line for line in lines if line.startswith(("username", "%VMTRACER"))]
    assert r"ValueError: bad VM web01\n%VMTRACER-5-VLAN_REMOVE: forged\nusername evil\x1b[2J" in (
        lines
    )
    assert not raw_controls(err)
    (record,) = datagrams(logs, 1)
    assert not raw_controls(record)


def test_the_eos_daemon_logs_escaped_before_the_agent_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = []
    try:
        logging.basicConfig(level=logging.INFO, handlers=[logsetup.stderr_handler()])
        logging.getLogger("eos_vmtracer.eossdk").error("option %s", "x\n\x1b[2Jforged")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and r"option x\n\x1b[2Jforged" in err


def test_stderr_is_the_process_stderr_at_setup_time(capsys: pytest.CaptureFixture[str]) -> None:
    handler = logsetup.stderr_handler()
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
