"""plan_commands: the exact EOS lines a plan becomes (what ``vmtracer plan`` prints)."""

from __future__ import annotations

from eos_vmtracer.planner import InterfaceChange, Plan
from eos_vmtracer.switch import plan_commands
from eos_vmtracer.switch.commands import (
    abort_commands,
    interface_ranges,
    session_commands,
    vlan_name,
)
from eos_vmtracer.vlans import VlanSet, expand_interfaces


def change(name: str, add: str = "NONE", remove: str = "NONE") -> InterfaceChange:
    return InterfaceChange(name, VlanSet.parse(add), VlanSet.parse(remove))


def test_empty_plan_has_no_lines() -> None:
    assert plan_commands(Plan()) == []


def test_order_is_create_then_trunks_then_delete() -> None:
    plan = Plan(
        changes=(change("Ethernet1", add="20,21,30", remove="15"),),
        create_vlans={30: "db", 20: "web", 21: "app"},
        delete_vlans=VlanSet([15, 16, 17]),
    )
    assert plan_commands(plan) == [
        "vlan 20",
        "name web",
        "vlan 21",
        "name app",
        "vlan 30",
        "name db",
        "exit",
        "interface Ethernet1",
        "switchport trunk allowed vlan add 20-21,30",
        "switchport trunk allowed vlan remove 15",
        "exit",
        "no vlan 15-17",
    ]


def test_interfaces_with_the_same_change_share_one_range() -> None:
    plan = Plan(
        changes=(
            change("Ethernet3", add="100"),
            change("Ethernet1", add="100"),
            change("Port-Channel10", add="100"),
            change("Ethernet2", add="100"),
            change("Ethernet7", add="100"),
            change("Ethernet5", remove="200"),
            change("Ethernet1/1", add="100"),
        )
    )
    assert plan_commands(plan) == [
        "interface Ethernet1-3,7",
        "switchport trunk allowed vlan add 100",
        "interface Ethernet1/1",
        "switchport trunk allowed vlan add 100",
        "interface Port-Channel10",
        "switchport trunk allowed vlan add 100",
        "interface Ethernet5",
        "switchport trunk allowed vlan remove 200",
    ]


def test_every_interface_of_the_plan_is_covered_exactly_once() -> None:
    changes = tuple(change(f"Ethernet{n}", add=str(100 + n % 3)) for n in range(1, 49))
    lines = plan_commands(Plan(changes=changes))
    covered: list[str] = []
    for line in lines:
        if line.startswith("interface "):
            covered += expand_interfaces(line.split(" ", 1)[1])
    assert sorted(covered) == sorted(c.interface for c in changes)


def test_long_vlan_lists_are_split_and_nothing_is_lost() -> None:
    add = VlanSet(range(100, 1100, 2))  # 500 separate VLANs
    lines = plan_commands(Plan(changes=(InterfaceChange("Ethernet1", add, VlanSet.none()),)))
    adds = [line for line in lines if line.startswith("switchport trunk allowed vlan add ")]
    assert len(adds) > 1
    assert all(len(line) < 260 for line in lines)
    carried = VlanSet.union_of(VlanSet.parse(line.rsplit(" ", 1)[1]) for line in adds)
    assert carried == add


def test_deleting_many_vlans_uses_ranges() -> None:
    lines = plan_commands(Plan(delete_vlans=VlanSet(range(300, 400))))
    assert lines == ["no vlan 300-399"]


def test_vlan_names_cannot_break_the_command_line() -> None:
    assert vlan_name("web servers\nno vlan 1") == "web_servers_no_vlan_1"
    assert vlan_name("x" * 40) == "x" * 32
    lines = plan_commands(Plan(create_vlans={10: "a b", 11: ""}))
    assert lines == ["vlan 10", "name a_b", "vlan 11"]


def test_long_interface_ranges_are_split() -> None:
    names = [f"Ethernet{n}" for n in range(1, 400, 2)]
    specs = interface_ranges(names)
    assert len(specs) > 1
    assert sorted(n for s in specs for n in expand_interfaces(s)) == sorted(names)


def test_session_wrapper() -> None:
    assert session_commands("vmtracer-1", ["vlan 10"]) == [
        "enable",
        "configure session vmtracer-1",
        "vlan 10",
        "commit",
    ]
    assert abort_commands("vmtracer-1") == ["enable", "configure session vmtracer-1 abort"]
