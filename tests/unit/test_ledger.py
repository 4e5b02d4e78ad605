"""The ownership ledger on flash: atomic, round-trips, and never trusted when corrupt."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eos_vmtracer.config import Config, SessionConfig, SwitchConfig
from eos_vmtracer.fileio import write_json_atomic
from eos_vmtracer.ledger import Ledger, LedgerStore, Ownership
from eos_vmtracer.model import (
    Inventory,
    SessionInventory,
    SessionState,
    SwitchFacts,
    SwitchInterface,
)
from eos_vmtracer.planner import plan
from eos_vmtracer.vlans import VlanSet
from tests.examples import examples

entries = st.builds(
    Ownership,
    interface=st.sampled_from(["Ethernet1", "Ethernet2/1", "Port-Channel10"]),
    vlan=st.integers(1, 4094),
    added=st.floats(0, 2e9),
    sessions=st.frozensets(st.sampled_from(["vc1", "vc2"])),
    hosts=st.frozensets(st.sampled_from(["vc1/host-1", "vc2/host-9"])),
    unneeded_since=st.none() | st.floats(0, 2e9),
)


@settings(max_examples=examples(200))
@given(
    st.lists(entries),
    st.dictionaries(st.integers(1, 4094), st.floats(0, 2e9)),
    st.data(),
)
def test_json_roundtrip(items: list[Ownership], created: dict[int, float], data: Any) -> None:
    unused = {v: data.draw(st.floats(0, 2e9)) for v in created if data.draw(st.booleans())}
    ledger = Ledger(
        entries={e.key(): e for e in items}, created_vlans=created, vlans_unneeded_since=unused
    )
    assert Ledger.from_json(json.loads(json.dumps(ledger.to_json()))) == ledger


def test_a_ledger_written_before_created_vlan_clocks_reads_with_none() -> None:
    doc = {"version": 1, "entries": [], "created_vlans": {"100": 5.0}}
    ledger = Ledger.from_json(doc)
    assert ledger.created_vlans == {100: 5.0} and ledger.vlans_unneeded_since == {}


def test_missing_ledger_starts_empty_and_trusted(tmp_path: Path) -> None:
    ledger = LedgerStore(str(tmp_path)).load()
    assert ledger == Ledger() and ledger.trusted


def test_save_load(tmp_path: Path) -> None:
    store = LedgerStore(str(tmp_path / "state"))
    ledger = Ledger(
        entries={("Ethernet1", 10): Ownership("Ethernet1", 10, 5.0, frozenset({"vc1"}))}
    )
    saved = store.save(ledger)
    assert saved.trusted
    assert store.load() == ledger
    assert not [p for p in os.listdir(tmp_path / "state") if p.endswith(".tmp")]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 99, "entries": []}',
        '{"version": 1, "entries": [{"interface": "Ethernet1", "vlan": 5000, "added": 0}]}',
        '{"version": 1, "entries": [{"vlan": 10, "added": 0}]}',
        '{"version": 1, "entries": [], "created_vlans": {"x": 1}}',
        "[]",
    ],
)
def test_corrupt_ledger_is_moved_aside_and_untrusted(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.json"
    path.write_text(content)
    with caplog.at_level(logging.ERROR):
        ledger = LedgerStore(str(tmp_path)).load()
    assert not ledger.trusted and not ledger.entries
    assert not path.exists()
    aside = [p for p in os.listdir(tmp_path) if p.startswith("ledger.json.corrupt-")]
    assert len(aside) == 1 and (tmp_path / aside[0]).read_text() == content
    assert "corrupt" in caplog.text and "removing nothing" in caplog.text


def test_untrusted_ledger_removes_nothing_until_rewritten(tmp_path: Path) -> None:
    """A corrupt ledger: the planner removes nothing until a fresh one is on flash."""
    (tmp_path / "ledger.json").write_text("garbage")
    store = LedgerStore(str(tmp_path))
    ledger = store.load()
    config = Config(
        switch=SwitchConfig(interfaces=("Ethernet1",), remove_delay=0),
        sessions=(SessionConfig(name="vc1", allowed_vlans=VlanSet.parse("1-100")),),
    )
    facts = SwitchFacts(
        "leaf1", interfaces={"Ethernet1": SwitchInterface("Ethernet1", allowed=VlanSet([10]))}
    )
    inv = Inventory((SessionInventory("vc1", SessionState.CONNECTED, synced=True),))
    # Pretend the agent owns VLAN 10 (e.g. it was re-learnt): still not removed while untrusted.
    owned = Ledger(
        entries={("Ethernet1", 10): Ownership("Ethernet1", 10, 0.0, frozenset({"vc1"}))},
        trusted=False,
    )
    first = plan(inv, facts, config, owned, 100.0)
    assert not first.changes
    assert any("ledger was reset" in p.held for p in first.pending)
    rewritten = store.save(first.ledger)
    assert rewritten.trusted and store.load().trusted
    second = plan(inv, facts, config, rewritten, 100.0)
    assert [c.remove for c in second.changes] == [VlanSet([10])]
    assert not ledger.entries


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    write_json_atomic(str(path), {"a": 1})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        write_json_atomic(str(path), {"a": Unserialisable()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["doc.json"]


def test_files_are_world_readable_not_secret(tmp_path: Path) -> None:
    """Ledger and status hold no secret; EOS CLI handlers read them as the logged-in user."""
    path = tmp_path / "doc.json"
    write_json_atomic(str(path), {"a": 1})
    assert (path.stat().st_mode & 0o777) == 0o644
