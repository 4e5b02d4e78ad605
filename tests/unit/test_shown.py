"""The one escaping rule for text shown to people (eos_vmtracer.shown).

Whatever a vCenter, a neighbour or a file puts in a name, what a person sees has
no character a terminal, a log reader or syslog would act on (no newline, no ESC
or C1 control, no line/paragraph separator, no bidi override, no lone surrogate),
and two different names never look the same: the escaping can be read back.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eos_vmtracer.shown import shown
from tests.examples import examples

# Categories a terminal or a log reader may act on, or that hide what follows.
UNSAFE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")

ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())

_ESCAPE = re.compile(r"\\(\\|n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def unshown(text: str) -> str:
    """Read an escaped text back (every backslash in it starts an escape)."""
    assert "\\" not in _ESCAPE.sub("", text), f"a lone backslash in {text!r}"

    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        return {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}.get(body) or chr(int(body[1:], 16))

    return _ESCAPE.sub(one, text)


def _unsafe(c: str) -> bool:
    return c != " " and unicodedata.category(c) in UNSAFE


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        ("web01", "web01"),
        ("web 01 (prod) 'x' \"y\" é 名前 🙂", "web 01 (prod) 'x' \"y\" é 名前 🙂"),
        (
            "web01\nusername evil privilege 15 secret x\n!",
            "web01\\nusername evil privilege 15 secret x\\n!",
        ),
        ("\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),
        ("\u009b31m", "\\x9b31m"),
        ("a\rb\tc\x00d\x7f", "a\\rb\\tc\\x00d\\x7f"),
        ("line\u2028sep\u2029para", "line\\u2028sep\\u2029para"),
        ("\u202eevil\u202c \u2066x\u2069", "\\u202eevil\\u202c \\u2066x\\u2069"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("nb\u00a0sp", "nb\\xa0sp"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),
        ("tag \U000e0041", "tag \\U000e0041"),
        ("back\\slash\\n", "back\\\\slash\\\\n"),
        ("", ""),
    ],
)
def test_examples(raw: str, seen: str) -> None:
    assert shown(raw) == seen
    assert unshown(seen) == raw


@pytest.mark.parametrize("code", [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])
def test_every_c0_c1_control_and_del_is_escaped_as_hex(code: int) -> None:
    out = shown(f"a{chr(code)}b")
    assert not any(_unsafe(c) for c in out)
    assert re.fullmatch(r"a\\(x[0-9a-f]{2}|n|r|t)b", out), out


@settings(max_examples=examples(2000))
@given(st.text(ANY_CHARACTER, max_size=40))
def test_nothing_unsafe_survives_and_it_reads_back(text: str) -> None:
    out = shown(text)
    assert not [c for c in out if _unsafe(c)], repr(out)
    out.encode("utf-8")  # never a lone surrogate: always printable on a UTF-8 stream
    assert unshown(out) == text
    assert shown(text) == out  # a function of the input only


@given(st.text(ANY_CHARACTER, max_size=20), st.text(ANY_CHARACTER, max_size=20))
def test_two_different_texts_never_look_the_same(a: str, b: str) -> None:
    if a != b:
        assert shown(a) != shown(b)


@given(st.text(st.characters(blacklist_categories=UNSAFE, blacklist_characters="\\")))
def test_printable_text_is_shown_as_it_is(text: str) -> None:
    assert shown(text) == text


def test_a_newline_can_never_start_a_line() -> None:
    hostile = "web01\nusername evil privilege 15 secret x\n!\r\n%VMTRACER-5-VLAN_REMOVE: x"
    assert shown(hostile).splitlines() == [shown(hostile)]
    for sep in ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"):
        assert len(shown(f"a{sep}b").splitlines()) == 1
