"""VLAN sets and interface names in EOS syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eos_vmtracer.vlans import (
    VlanSet,
    canonical_interface,
    eos_name,
    expand_interfaces,
    interface_sort_key,
    kernel_name,
)

vlan_ids = st.integers(min_value=1, max_value=4094)
vlan_sets = st.builds(VlanSet, st.sets(vlan_ids, max_size=60)) | st.builds(
    lambda a, n: VlanSet.range(a, min(4094, a + n)), vlan_ids, st.integers(0, 300)
)


@given(vlan_sets)
def test_parse_format_roundtrip(s: VlanSet) -> None:
    assert VlanSet.parse(s.format()) == s


@given(vlan_sets)
def test_format_is_compressed(s: VlanSet) -> None:
    text = s.format()
    if not s:
        assert text == "NONE"
        return
    runs = [tuple(int(x) for x in part.split("-")) for part in text.split(",")]
    # ascending, maximal runs: no two runs touch or overlap
    for before, after in zip(runs, runs[1:]):
        assert before[-1] + 1 < after[0]


@given(vlan_sets, st.integers(min_value=10, max_value=300))
def test_chunks_cover_the_set(s: VlanSet, limit: int) -> None:
    chunks = s.chunks(limit)
    assert all(len(c) <= limit for c in chunks)
    assert VlanSet.union_of(VlanSet.parse(c) for c in chunks) == s


@given(vlan_sets, vlan_sets)
def test_set_algebra(a: VlanSet, b: VlanSet) -> None:
    assert set(a | b) == set(a) | set(b)
    assert set(a & b) == set(a) & set(b)
    assert set(a - b) == set(a) - set(b)
    assert (a <= (a | b)) and ((a & b) <= a)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ALL", VlanSet.range(1, 4094)),
        ("all", VlanSet.range(1, 4094)),
        ("1-4094", VlanSet.all()),
        ("NONE", VlanSet()),
        ("", VlanSet()),
        ("10", VlanSet([10])),
        ("10,20-22", VlanSet([10, 20, 21, 22])),
        (" 10 , 20 - 21 ", VlanSet([10, 20, 21])),
        ("5,3,4", VlanSet([3, 4, 5])),
    ],
)
def test_parse(text: str, expected: VlanSet) -> None:
    assert VlanSet.parse(text) == expected


def test_formats() -> None:
    assert VlanSet([1, 2, 3, 5, 7, 8]).format() == "1-3,5,7-8"
    assert str(VlanSet.all()) == "1-4094"
    assert str(VlanSet()) == "NONE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "out of range"),
        ("4095", "out of range"),
        ("10-5", "reversed"),
        ("10,,20", "empty element"),
        ("ten", "not a VLAN"),
        ("10-", "not a VLAN"),
        ("99999", "not a VLAN"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VlanSet.parse(text)


def test_vlanset_rejects_bad_ids() -> None:
    with pytest.raises(ValueError):
        VlanSet([0])
    with pytest.raises(TypeError):
        VlanSet(["10"])  # type: ignore[list-item]
    assert VlanSet.clipped([0, 1, 4094, 4095, -3]) == VlanSet([1, 4094])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("Ethernet1-3", ["Ethernet1", "Ethernet2", "Ethernet3"]),
        ("Ethernet1/1-2", ["Ethernet1/1", "Ethernet1/2"]),
        ("Ethernet1-2,5", ["Ethernet1", "Ethernet2", "Ethernet5"]),
        ("Ethernet1/1-2,2/1", ["Ethernet1/1", "Ethernet1/2", "Ethernet2/1"]),
        ("Port-Channel10-12", ["Port-Channel10", "Port-Channel11", "Port-Channel12"]),
        ("Po10", ["Port-Channel10"]),
        ("et7", ["Ethernet7"]),
        ("Ethernet3/1/1", ["Ethernet3/1/1"]),
        ("Ethernet1, Port-Channel2", ["Ethernet1", "Port-Channel2"]),
    ],
)
def test_expand_interfaces(spec: str, expected: list[str]) -> None:
    assert expand_interfaces(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["Vlan10", "Ethernet", "Ethernet5-1", "Ethernet0", "1-4", "Management1", "Ethernet1,,2", ""],
)
def test_expand_interfaces_errors(spec: str) -> None:
    with pytest.raises(ValueError):
        expand_interfaces(spec)


@given(st.lists(st.integers(1, 64), min_size=1, max_size=3))
def test_kernel_names_roundtrip(numbers: list[int]) -> None:
    name = "Ethernet" + "/".join(map(str, numbers))
    assert eos_name(kernel_name(name)) == name
    assert canonical_interface(kernel_name(name).replace("et", "Et", 1).replace("_", "/")) == name


def test_kernel_names() -> None:
    assert kernel_name("Ethernet1") == "et1"
    assert kernel_name("Ethernet1/1") == "et1_1"
    assert kernel_name("Port-Channel10") == "po10"
    assert eos_name("et49_1") == "Ethernet49/1"
    with pytest.raises(ValueError):
        eos_name("eth0")


def test_natural_sort() -> None:
    names = ["Ethernet10", "Ethernet2", "Ethernet1/10", "Ethernet1/2", "Port-Channel1"]
    assert sorted(names, key=interface_sort_key) == [
        "Ethernet1/2",
        "Ethernet1/10",
        "Ethernet2",
        "Ethernet10",
        "Port-Channel1",
    ]
