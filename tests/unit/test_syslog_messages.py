"""The syslog messages are one table, logged one way, and listed in the README as they are.

Operators filter syslog on ``%VMTRACER-N-TAG``: the README's list is the contract,
so it must hold every message of :class:`eos_vmtracer.messages.Message` and nothing
else, in the same order, with the same severity and text. Every tagged message in
the code goes through :func:`eos_vmtracer.messages.emit` with exactly the fields its
text names.
"""

from __future__ import annotations

import ast
import io
import logging
import re
from pathlib import Path
from typing import Iterator

import pytest

from eos_vmtracer.messages import Message, emit

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SEVERITY_WORDS = {2: "critical", 3: "error", 4: "warning", 5: "notification", 6: "informational"}
ROW = re.compile(r"^\| `%VMTRACER-(\d)-([A-Z_]+)` \| (\w+) \| `(.*)` \|$")


def readme_rows() -> list[tuple[int, str, str, str]]:
    section = README.split("### Syslog messages", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `%VMTRACER"):
            m = ROW.match(line)
            assert m, f"README row not understood: {line}"
            rows.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
    return rows


def test_the_readme_lists_every_message_in_order_and_nothing_else() -> None:
    listed = [(sev, tag, text) for sev, tag, _word, text in readme_rows()]
    table = [(m.severity, m.name, m.text) for m in Message]
    assert listed == table


def test_the_readme_names_each_severity() -> None:
    for sev, tag, word, _text in readme_rows():
        assert SEVERITY_WORDS[sev] == word, tag


def test_ids_are_unique_and_eos_shaped() -> None:
    ids = [m.id for m in Message]
    assert len(set(ids)) == len(ids)
    assert len({m.name for m in Message}) == len(ids)
    for m in Message:
        assert re.fullmatch(r"%VMTRACER-[0-7]-[A-Z][A-Z_]*", m.id), m.id


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (2, logging.CRITICAL),
        (3, logging.ERROR),
        (4, logging.WARNING),
        (5, logging.INFO),
        (6, logging.INFO),
    ],
)
def test_the_logging_level_follows_the_severity(severity: int, level: int) -> None:
    members = [m for m in Message if m.severity == severity]
    assert members
    for m in members:
        assert m.level == level, m.name


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.syslog_messages")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_emit_writes_the_id_then_the_text_with_its_fields() -> None:
    logger, stream = _capture()
    emit(logger, Message.VLAN_ADD, interface="Ethernet1", vlans="100-101", why="VM 100% busy")
    emit(logger, Message.STOP)
    emit(logger, Message.DRIFT, interface="Ethernet2", vlans=108)
    emit(logger, Message.EAPI_ERROR, error="%s %(x)s %%")
    assert stream.getvalue().splitlines() == [
        "INFO %VMTRACER-5-VLAN_ADD: Ethernet1: added VLAN 100-101 (VM 100% busy)",
        "INFO %VMTRACER-6-STOP: stopping",
        "WARNING %VMTRACER-4-DRIFT: Ethernet2: VLAN 108 was removed by someone else and is"
        " still needed; put it back",
        "ERROR %VMTRACER-3-EAPI_ERROR: %s %(x)s %%",
    ]


def test_emit_formats_nothing_below_the_level() -> None:
    logger, stream = _capture()
    logger.setLevel(logging.WARNING)

    class Loud:
        def __str__(self) -> str:
            raise AssertionError("formatted although the level is off")

    emit(logger, Message.VLAN_ADD, interface=Loud(), vlans=Loud(), why=Loud())
    assert stream.getvalue() == ""


# -- the code uses the table, and only the table --------------------------------------------


def _sources() -> Iterator[Path]:
    yield from sorted((ROOT / "eos_vmtracer").rglob("*.py"))
    yield from sorted((ROOT / "extension").rglob("*.py"))


def test_no_tagged_message_is_written_outside_the_table() -> None:
    offenders = []
    for path in _sources():
        if path.name == "messages.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {
            id(body[0].value)
            for parent in ast.walk(tree)
            for body in [getattr(parent, "body", None)]
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "VMTRACER-" in node.value
                and id(node) not in docstrings
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_every_emit_names_a_message_and_exactly_its_fields() -> None:
    calls = 0
    used = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "emit"):
                continue
            calls += 1
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            member = node.args[1]
            assert isinstance(member, ast.Attribute), where
            assert getattr(member.value, "id", "") == "Message", where
            message = Message[member.attr]
            used.add(message)
            given = {k.arg for k in node.keywords} - {"exc_info"}
            assert given == set(message.fields), f"{where}: {message.name} takes {message.fields}"
    assert calls >= len(Message)
    assert used == set(Message), f"never logged: {set(Message) - used}"
