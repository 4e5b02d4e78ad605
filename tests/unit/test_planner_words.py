"""Fixed words as types, one "not synchronised" hold, and ``dry_run`` read in one place.

- A dry run is the real plan, withheld as a whole: every change the live plan would
  apply is withheld, nothing is applied, and the ledger owns nothing that was not done.
- The hold for a session that is not synchronised reads the same on every path.
- ``dry_run`` is read by :func:`eos_vmtracer.planner.plan` alone.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import get_args

from hypothesis import HealthCheck, given, settings

from eos_vmtracer import history, planner
from eos_vmtracer.history import History
from eos_vmtracer.ledger import Ledger, Ownership
from eos_vmtracer.planner import live_plan, plan
from tests.examples import examples
from tests.unit.planner_world import World, with_config, worlds

SETTINGS = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(worlds())
def test_a_dry_run_is_the_live_plan_withheld_as_a_whole(w: World) -> None:
    dry_world = with_config(w, dry_run=True)
    live = live_plan(w.inventory, w.facts, dry_world.config, w.ledger, w.now)
    dry = plan(w.inventory, w.facts, dry_world.config, w.ledger, w.now)
    assert dry.empty() and not dry.remove_reasons
    withheld = {w_.interface: w_ for w_ in dry.withheld if w_.why == "dry run"}
    assert {c.interface: (c.add, c.remove) for c in live.changes} == {
        name: (x.add, x.remove) for name, x in withheld.items()
    }
    creates = [x.add for x in dry.withheld if x.why == "dry run: create"]
    deletes = [x.remove for x in dry.withheld if x.why == "dry run: delete"]
    assert creates == ([planner.VlanSet(live.create_vlans)] if live.create_vlans else [])
    assert deletes == ([live.delete_vlans] if live.delete_vlans else [])
    # The ledger owns nothing that was not done, and loses nothing that was not undone;
    # a repair not made keeps its entry, with the live plan's clock (stopped: needed).
    for c in live.changes:
        for v in c.add:
            before = w.ledger.entries.get((c.interface, v))
            now_owned = dry.ledger.entries.get((c.interface, v))
            if before is None:
                assert now_owned is None
            else:
                assert now_owned == replace(
                    before, unneeded_since=live.ledger.entries[(c.interface, v)].unneeded_since
                )
                assert now_owned.unneeded_since is None
        for v in c.remove:
            assert (c.interface, v) in dry.ledger.entries
            assert any(p.interface == c.interface and p.vlan == v for p in dry.pending)
    for v in live.create_vlans:
        assert (v in dry.ledger.created_vlans) == (v in w.ledger.created_vlans)
    for v in live.delete_vlans:
        assert v in dry.ledger.created_vlans
    # Without dry_run, plan() is the live plan.
    assert (
        plan(w.inventory, w.facts, w.config, w.ledger, w.now)
        == live_plan(w.inventory, w.facts, w.config, w.ledger, w.now)
        or w.config.switch.dry_run
    )


def test_dry_run_is_read_in_one_place() -> None:
    tree = ast.parse(Path(planner.__file__).read_text(encoding="utf-8"))
    readers = [
        fn.name
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef)
        and any(isinstance(n, ast.Attribute) and n.attr == "dry_run" for n in ast.walk(fn))
    ]
    assert readers == ["plan"]


@SETTINGS
@given(worlds())
def test_one_not_synchronised_hold(w: World) -> None:
    p = plan(w.inventory, w.facts, w.config, w.ledger, w.now)
    holds = [x.held for x in p.pending if "synchronised" in x.held]
    holds += [x.held for x in p.pending_vlans if "synchronised" in x.held]
    for held in holds:
        assert held.startswith("session ") and held.endswith(", not synchronised")
        name = held[len("session ") :].split(" is ")[0]
        inv = w.inventory.session(name)
        state = inv.state.value if inv is not None else "not started"
        assert held == f"session {name} is {state}, not synchronised"


def test_a_vlan_of_a_removed_session_is_held_with_the_state() -> None:
    """The path for VLANs whose session is no longer configured gives the same words."""
    from lab.builders import inventory, session

    from .test_planner_cases import NOW, cfg, facts

    inv = inventory(session([], synced=False))
    entry = Ownership("Ethernet1", 100, NOW - 10_000, sessions=frozenset({"gone"}))
    ledger = Ledger(entries={entry.key(): entry})
    p = plan(inv, facts(Ethernet1="1,100"), cfg(), ledger, NOW)
    assert [x.held for x in p.pending] == ["session vc1 is disconnected, not synchronised"]


def test_words_are_types() -> None:
    assert get_args(planner.ReasonKind) == ("vm", "vmk", "migration", "uplink")
    assert get_args(planner.Role) == ("edge", "uplink")
    assert {
        "add",
        "remove",
        "create-vlan",
        "delete-vlan",
        "repair",
        "error",
        "start",
        "stop",
        "resync",
    } == history.ACTIONS


def test_history_skips_a_line_with_an_unknown_action(tmp_path: Path) -> None:
    h = History(str(tmp_path))
    h.append([history.Event(1.0, "add", "Ethernet1", "100", "vm")])
    with open(h.path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"at": 2.0, "action": "rm -rf", "interface": "Ethernet1"}) + "\n")
    assert [e.action for e in h.read(10)] == ["add"]


def test_a_dry_run_repair_stops_the_clock_of_a_vlan_needed_again() -> None:
    """Found by hypothesis: an owned VLAN gone from its port (so the live plan would add
    it back) and needed again kept its removal clock in a dry run."""
    from lab.builders import a_vm, esx, inventory, session, std, vlan_pgs

    from .test_planner_cases import NOW, cfg, facts

    entry = Ownership(
        "Ethernet1", 100, NOW - 10_000, sessions=frozenset({"vc1"}), unneeded_since=NOW - 600
    )
    ledger = Ledger(entries={entry.key(): entry})
    host = esx(pgs=vlan_pgs([100]))
    inv = inventory(session([host], [a_vm("web1", host.moid, std("VM-100"))]))
    switch = replace(facts(Ethernet1="1"), vlans={1: "default", 100: "VM-100"})
    p = plan(inv, switch, cfg(dry_run=True), ledger, NOW)
    assert [(x.interface, str(x.add), x.why) for x in p.withheld] == [
        ("Ethernet1", "100", "dry run")
    ]
    assert 100 in p.interfaces["Ethernet1"].needed
    assert p.ledger.entries[entry.key()] == replace(entry, unneeded_since=None)
