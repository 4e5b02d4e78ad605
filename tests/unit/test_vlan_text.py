"""Runs of numbers as EOS writes them (VLAN lists, interface ranges) and safe VLAN names:
one function each, used by VlanSet, the eAPI commands and the planner."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eos_vmtracer.switch import commands
from eos_vmtracer.switch.commands import interface_ranges
from eos_vmtracer.vlans import VlanSet, pack, run_pieces, runs, vlan_name


def test_runs() -> None:
    assert runs([]) == []
    assert runs([5, 3, 4, 4, 10]) == [(3, 5), (10, 10)]
    assert runs(range(1, 4095)) == [(1, 4094)]
    assert run_pieces({1, 2, 3, 7, 9, 10}) == ["1-3", "7", "9-10"]


@given(st.sets(st.integers(1, 4094)))
def test_runs_cover_exactly_the_numbers(ids: set[int]) -> None:
    found = runs(ids)
    assert {n for a, b in found for n in range(a, b + 1)} == ids
    assert all(a <= b for a, b in found)
    assert all(b + 1 < c for (_, b), (c, _) in zip(found, found[1:]))  # maximal, sorted
    assert VlanSet(ids).format() == (",".join(run_pieces(ids)) or "NONE")


@given(st.lists(st.text("0123456789-", min_size=1, max_size=12), max_size=40), st.integers(5, 60))
def test_pack_fits_and_keeps_order(pieces: list[str], max_len: int) -> None:
    packed = pack(pieces, max_len)
    assert ",".join(packed) == ",".join(pieces)
    assert all(len(p) <= max_len or "," not in p for p in packed)


def test_vlan_set_and_interface_ranges_share_the_packing() -> None:
    many = VlanSet(range(1, 4095, 2))
    assert many.chunks(50) == pack(run_pieces(range(1, 4095, 2)), 50)
    names = [f"Ethernet{n}" for n in range(1, 400, 2)]
    specs = interface_ranges(names)
    assert all(len(s) <= 200 for s in specs)
    assert [s[len("Ethernet") :] for s in specs] == pack(
        run_pieces(range(1, 400, 2)), 200 - len("Ethernet")
    )


def test_vlan_name_is_the_stricter_rule() -> None:
    assert vlan_name("web servers\nno vlan 1") == "web_servers_no_vlan_1"
    assert vlan_name("x" * 40) == "x" * 32
    assert vlan_name("PG:Prod/App#1") == "PG_Prod_App_1"  # printable, yet not in a name
    assert vlan_name("__db.tier-2__") == "db.tier-2"
    assert vlan_name("!!!") == vlan_name("") == ""
    assert commands.vlan_name is vlan_name  # the eAPI commands apply the same rule


@given(st.text())
def test_vlan_names_are_always_safe(text: str) -> None:
    name = vlan_name(text)
    assert len(name) <= 32
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)
    assert not name.startswith("_") and not name.endswith("_")
