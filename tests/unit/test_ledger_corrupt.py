"""A ledger fails safe on any content: set aside, untrusted, said in the status, never a crash.

Any bytes (not UTF-8, as FAT flash leaves them after a power loss), any JSON shape,
any nesting, any wrong type or range: the loader gives a ledger or a clean
:class:`CorruptLedger`, the store moves the file aside, and the agent's status and
``show sessions`` say that nothing is removed until a fresh ledger is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eos_vmtracer import render
from eos_vmtracer.ledger import CorruptLedger, Ledger, LedgerStore, Ownership, validate
from lab.builders import config, session, switch_facts
from tests.examples import examples
from tests.unit.fakes import FakeSession, FakeSwitch

GOOD: dict[str, Any] = {
    "version": 1,
    "entries": [
        {
            "interface": "Ethernet1",
            "vlan": 100,
            "added": 5.0,
            "sessions": ["vc1"],
            "hosts": ["vc1/host-1"],
            "unneeded_since": None,
        }
    ],
    "created_vlans": {"100": 5.0},
    "created_vlans_unneeded_since": {},
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


def _load(data: bytes) -> Optional[Ledger]:
    """The loader's outcome: a ledger, or None for a clean "corrupt"."""
    try:
        return Ledger.from_bytes(data)
    except CorruptLedger:
        return None


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_give_a_ledger_or_corrupt(data: bytes) -> None:
    _load(data)  # anything but CorruptLedger fails the test


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_gives_a_ledger_or_corrupt(doc: Any) -> None:
    _load(json.dumps(doc).encode())


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            ("version",),
            ("entries",),
            ("created_vlans",),
            ("created_vlans_unneeded_since",),
            ("entries", 0),
            ("entries", 0, "interface"),
            ("entries", 0, "vlan"),
            ("entries", 0, "added"),
            ("entries", 0, "sessions"),
            ("entries", 0, "hosts"),
            ("entries", 0, "unneeded_since"),
            ("created_vlans", "100"),
        ]
    ),
    json_values,
)
def test_any_member_replaced_by_any_json(path: tuple[Any, ...], value: Any) -> None:
    """A good ledger with one member swapped for anything: loads or is corrupt, and what
    loads holds only VLANs 1-4094 and finite times."""
    doc = json.loads(json.dumps(GOOD))
    where = doc
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    ledger = _load(json.dumps(doc).encode())
    if ledger is not None:
        assert all(1 <= v <= 4094 and isinstance(v, int) for (_, v) in ledger.entries)
        assert all(1 <= v <= 4094 for v in ledger.created_vlans)
        assert all(isinstance(e.added, float) for e in ledger.entries.values())


def _with(**changes: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(GOOD))
    doc.update(changes)
    return doc


def _entry(**changes: Any) -> dict[str, Any]:
    return _with(entries=[{**GOOD["entries"][0], **changes}])


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"version": 1, "entries": [], "created_vlans": {"10\xff": 1}}', "not UTF-8"),
        (b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), "not JSON"),  # a BOM
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (b"1" * 10, "not a JSON object"),
        (b"1" * 5000, "not"),  # Python 3.11 refuses to parse it, 3.9 finds no object
        (json.dumps(_with(version=True)).encode(), "version-1"),
        (json.dumps(_with(version=1.0)).encode(), ""),  # 1.0 == 1: a float is fine as JSON
        (json.dumps(_with(created_vlans=[100])).encode(), "created_vlans is not an object"),
        (json.dumps(_with(created_vlans="100")).encode(), "created_vlans is not an object"),
        (json.dumps(_with(created_vlans={"+100": 1})).encode(), "not a VLAN"),
        (json.dumps(_with(created_vlans={" 100": 1})).encode(), "not a VLAN"),
        (json.dumps(_with(created_vlans={"1_00": 1})).encode(), "not a VLAN"),
        (json.dumps(_with(created_vlans={"\u0661\u0660\u0660": 1})).encode(), "not a VLAN"),
        (json.dumps(_with(created_vlans={"4095": 1})).encode(), "not a VLAN"),
        (json.dumps(_with(created_vlans={"100": True})).encode(), "not a number"),
        (json.dumps(_with(entries={"a": 1})).encode(), "entries is not a list"),
        (json.dumps(_with(entries=[[]])).encode(), "entries[0] is not an object"),
        (json.dumps(_entry(vlan=True)).encode(), "entries[0].vlan is not a VLAN"),
        (json.dumps(_entry(vlan=0)).encode(), "not a VLAN"),
        (json.dumps(_entry(vlan=4095)).encode(), "not a VLAN"),
        (json.dumps(_entry(vlan=100.0)).encode(), "not a VLAN"),
        (json.dumps(_entry(vlan="100")).encode(), "not a VLAN"),
        (json.dumps(_entry(added=True)).encode(), "added is not a number"),
        (
            b'{"version":1,"created_vlans":{},"entries":[{"interface":"Ethernet1","vlan":5,'
            b'"added":NaN,"sessions":[],"hosts":[],"unneeded_since":null}]}',
            "not finite",
        ),
        (json.dumps(_entry(added=1e400)).encode(), "not finite"),  # json writes Infinity
        (json.dumps(_entry(sessions="vc1")).encode(), "sessions is not a list of strings"),
        (json.dumps(_entry(hosts=[1])).encode(), "hosts is not a list of strings"),
        (json.dumps(_entry(interface="")).encode(), "interface"),
        (json.dumps(_entry(interface=["Ethernet1"])).encode(), "interface"),
        (json.dumps({"version": 1, "entries": []}).encode(), "created_vlans is missing"),
    ],
)
def test_bad_ledgers_are_corrupt_with_a_reason(data: bytes, why: str) -> None:
    if not why:
        assert Ledger.from_bytes(data).created_vlans == {100: 5.0}
        return
    with pytest.raises(CorruptLedger, match=why.replace("[", r"\[").replace("]", r"\]")):
        Ledger.from_bytes(data)


def test_an_older_ledger_without_created_vlan_clocks_still_loads() -> None:
    doc = json.loads(json.dumps(GOOD))
    del doc["created_vlans_unneeded_since"]
    assert validate(doc)["created_vlans_unneeded_since"] == {}


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=200))
def test_the_store_never_raises_and_sets_any_corrupt_file_aside(
    tmp_path: Path, data: bytes
) -> None:
    state = tmp_path / os.urandom(4).hex()
    state.mkdir()
    (state / "ledger.json").write_bytes(data)
    store = LedgerStore(str(state), clock=lambda: 42.0)
    ledger = store.load()
    aside = [p for p in os.listdir(state) if p.startswith("ledger.json.corrupt-")]
    if ledger.trusted:
        assert not aside and store.error == ""
    else:
        assert not ledger.entries and not ledger.created_vlans
        assert len(aside) == 1 and (state / aside[0]).read_bytes() == data
        assert "removing nothing" in store.error and store.error_since == 42.0
        assert not (state / "ledger.json").exists()
        store.save(ledger)
        assert store.error == "" and store.load().trusted


def _agent(tmp_path: Path) -> Any:
    from eos_vmtracer.agent import Agent

    cfg = config(
        ("Ethernet1",),
        allowed="100-199",
        state_dir=str(tmp_path / "state"),
        run_dir=str(tmp_path / "run"),
    )
    switch = FakeSwitch(switch_facts(("Ethernet1",), "1-10,100", vlans={}))
    inv = session([])
    return Agent(cfg, switch=switch, sessions=lambda cb: [FakeSession(inv, cb)], cdp=None)


def test_a_corrupt_ledger_reaches_the_status_and_show_sessions(tmp_path: Path) -> None:
    """Non-UTF-8 bytes in ledger.json: the agent starts, reports the ledger untrusted
    (``agent.ledger``) and ``show sessions`` says so until a fresh ledger is written."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ledger.json").write_bytes(b'{"version": 1, "entries": [\xff\xfe')
    agent = _agent(tmp_path)
    agent._ledger = agent._store.load()  # what run() does first
    doc = agent.status_document()
    assert doc["agent"]["ledger"]["trusted"] is False
    assert "not UTF-8" in doc["agent"]["ledger"]["error"]
    table = render.sessions_table(doc, doc["agent"]["updated"])
    assert "LEDGER" in table and "removing nothing" in table
    agent.reconcile(reread=True)  # writes a fresh ledger
    doc = agent.status_document()
    assert doc["agent"]["ledger"] == {"trusted": True, "error": "", "since": None}
    assert "LEDGER" not in render.sessions_table(doc, doc["agent"]["updated"])


def test_the_untrusted_ledger_removes_nothing_it_owned(tmp_path: Path) -> None:
    """VLAN 100 was the agent's (ledger), nothing needs it: with the ledger intact it
    would go after remove_delay=0; with the ledger corrupt it stays."""
    (tmp_path / "state").mkdir()
    good = Ledger(
        entries={("Ethernet1", 100): Ownership("Ethernet1", 100, 1.0, frozenset({"vc1"}))}
    )
    LedgerStore(str(tmp_path / "state")).save(good)
    path = tmp_path / "state" / "ledger.json"
    path.write_bytes(path.read_bytes().replace(b'"vlan": 100', b'"vlan": true'))
    agent = _agent(tmp_path)
    agent._ledger = agent._store.load()
    assert not agent._ledger.trusted
    agent.reconcile(reread=True)
    assert agent._switch.applied == []  # nothing removed


@pytest.mark.parametrize("data", [b"[" * 100_000, b"\xff\xfe", b'{"version": true}'])
def test_plan_reads_a_corrupt_ledger_as_untrusted(tmp_path: Path, data: bytes) -> None:
    """``vmtracer plan`` peeks at the ledger read-only: corrupt means untrusted, and the
    file stays where it is (setting it aside is the running agent's job)."""
    from eos_vmtracer.oneshot import peek_ledger

    (tmp_path / "ledger.json").write_bytes(data)
    assert peek_ledger(str(tmp_path)).trusted is False
    assert (tmp_path / "ledger.json").read_bytes() == data


def test_a_ledger_larger_than_the_cap_is_set_aside_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A planted file of gigabytes would take the switch's memory: past MAX_BYTES it is
    corrupt (set aside, untrusted) without being read whole."""
    from eos_vmtracer import ledger as ledger_mod

    assert ledger_mod.MAX_BYTES == 64 * 1024 * 1024
    good = json.dumps(GOOD).encode()
    (tmp_path / "ledger.json").write_bytes(good)
    monkeypatch.setattr(ledger_mod, "MAX_BYTES", len(good))
    assert LedgerStore(str(tmp_path)).load().trusted  # at the cap: read
    (tmp_path / "ledger.json").write_bytes(good + b" ")
    loaded = LedgerStore(str(tmp_path)).load()
    assert not loaded.trusted and not loaded.entries
    assert f"larger than {len(good)} bytes" in caplog.text
    assert [p for p in os.listdir(tmp_path) if p.startswith("ledger.json.corrupt-")]
