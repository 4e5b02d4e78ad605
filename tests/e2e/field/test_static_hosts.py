"""Hosts that are never heard: blades get their VMs' VLANs on the interface
``switch.static_hosts`` names, and a neighbour a host actually hears wins."""

from __future__ import annotations

import pytest

from lab.world import World
from lab.world.topology import Timings
from tests.e2e.helpers import agent_changes, parse_table, request_count, wait_vlan

pytestmark = pytest.mark.e2e

DELAY = Timings().remove_delay


def host_rows(world: World, host: str) -> list[dict[str, str]]:
    """``vmtracer show hosts`` rows of ``host`` (its first row names it, the next are blank)."""
    rows = parse_table(world.show("hosts"))
    out: list[dict[str, str]] = []
    for row in rows:
        if row["Host"]:
            if out:
                break
            if row["Host"] != host:
                continue
        elif not out:
            continue
        out.append(row)
    return out


def test_a_static_host_gets_its_vms_vlans(world: World) -> None:
    wait_vlan(world, "Ethernet4", 110, timeout=5)  # bl1 on blade1.lab, which hears nothing
    rows = host_rows(world, "blade1.lab")
    assert [(r["Vmnic"], r["Neighbor heard"], r["Interface"]) for r in rows] == [
        ("vmnic0", "static (blade1*)", "Ethernet4"),
        ("vmnic1", "static (blade1*)", "Ethernet4"),
    ]
    explained = world.explain("Ethernet4", vlan=110)
    assert "blade1.lab vmnic0/vmnic1 [static (blade1*): switch.static_hosts]" in explained
    assert "VM bl1 (Network adapter 1) on blade1.lab vmnic0 portgroup 'VM-110' [vc1]" in explained

    # A VM powering on on the other blade: its VLAN reaches the Port-Channel it is named on.
    ctl = world.control("vc1")
    before = request_count(world)
    ctl.power("bl2", on=True)
    try:
        wait_vlan(world, "Port-Channel10", 111, timeout=5)
        ops = {
            (c.op, i) for c in agent_changes(world, before) if 111 in c.vlans for i in c.interfaces
        }
        assert ops == {("add", "Port-Channel10")}
    finally:
        ctl.power("bl2", on=False)
    wait_vlan(world, "Port-Channel10", 111, present=False, timeout=DELAY + 10)


def test_a_heard_neighbour_overrides_static_hosts(world: World) -> None:
    # esx1 matches "esx1*" (Ethernet3), but hears this switch on Ethernet1: web1's VLAN
    # is on Ethernet1 only, and the agent never touched Ethernet3.
    wait_vlan(world, "Ethernet1", 100, timeout=5)
    rows = host_rows(world, "esx1")
    assert [(r["Vmnic"], r["Neighbor heard"], r["Interface"]) for r in rows] == [
        ("vmnic0", "leaf1 Ethernet1 (cdp)", "Ethernet1")
    ]
    assert world.allowed("Ethernet3") == {1}
    assert not [c for c in agent_changes(world) if "Ethernet3" in c.interfaces]

    # A VM moving from a blade to a heard host: its VLAN follows, and leaves the blade's port.
    ctl = world.control("vc1")
    before = request_count(world)
    ctl.relocate("bl1", "esx2", wait=True)
    try:
        wait_vlan(world, "Ethernet2", 110, timeout=5)
        wait_vlan(world, "Ethernet4", 110, present=False, timeout=DELAY + 10)
        ops = {
            (c.op, i) for c in agent_changes(world, before) if 110 in c.vlans for i in c.interfaces
        }
        assert ops == {("add", "Ethernet2"), ("remove", "Ethernet4")}
    finally:
        ctl.relocate("bl1", "blade1.lab", wait=True)
    wait_vlan(world, "Ethernet4", 110, timeout=5)
