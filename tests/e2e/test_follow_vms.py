"""VLANs follow VMs over the whole lab: power, vMotion, portgroup edits, Port-Channel, 2 vCenters.

Each test drives a lab vCenter through its control API, as vCenter users would,
and looks at the switch (the eAPI emulator's state and request log) and at what
``vmtracer show``/``explain`` print. The hosts' cabling reaches vCenter only
through the agent's own CDP frames, heard by lldpd in each host's namespace.
Timed bounds are gross (the benchmarks measure latency).
"""

from __future__ import annotations

import threading
import time

import jsonschema
import pytest

from eos_vmtracer.status import STATUS_SCHEMA
from lab.world import World
from tests.e2e.helpers import (
    agent_changes,
    parse_table,
    pending,
    request_count,
    row,
    vlans_in,
    wait_status,
    wait_vlan,
)

pytestmark = pytest.mark.e2e

DELAY = 5.0  # topology.standard()'s remove_delay


def schema_of(part: str) -> dict[str, object]:
    return {"$schema": STATUS_SCHEMA["$schema"], **STATUS_SCHEMA["properties"][part]}


def vm_host(world: World, vcenter: str, vm: str) -> str:
    return str(world.control(vcenter).state()["vms"][vm]["host"])


def test_power_on_adds_the_vlan_within_a_second_and_power_off_removes_it_after_remove_delay(
    world: World,
) -> None:
    ctl = world.control("vc1")
    ctl.power("pwr1", on=False)
    wait_vlan(world, "Ethernet1", 101, present=False, timeout=DELAY + 5)
    before = request_count(world)

    ctl.power("pwr1", on=True)  # returns once vCenter reports the VM powered on
    took = wait_vlan(world, "Ethernet1", 101, timeout=5)
    assert took < 1.0, f"VLAN 101 reached Ethernet1 {took:.2f}s after the power-on"
    wait_status(world, "Ethernet1", 101)

    assert world.vlans()[101] == "VM-101"  # created, named after the portgroup
    for other in ("Ethernet2", "Ethernet3", "Port-Channel10"):
        assert 101 not in world.allowed(other)
    changed = {
        (c.op, i) for c in agent_changes(world, before) if 101 in c.vlans for i in c.interfaces
    }
    assert changed == {("add", "Ethernet1")}

    # What a user sees: the table, the JSON (schema-checked), explain.
    table = row(parse_table(world.show("interfaces")), "Ethernet1")
    assert 101 in vlans_in(table["Dynamic VLANs"])
    assert 101 in vlans_in(table["Required"])
    assert {150, 900} <= vlans_in(table["Static VLANs"])
    jsonschema.validate(world.status(), STATUS_SCHEMA)  # the whole document
    interfaces = world.show_json("interfaces")
    jsonschema.validate(interfaces, schema_of("interfaces"))
    et1 = next(i for i in interfaces if i["name"] == "Ethernet1")
    assert [r["subject"] for r in et1["reasons"]["101"]] == ["pwr1"]
    explained = world.explain("Ethernet1", vlan=101)
    assert "VLAN 101: on, dynamic (added by vmtracer)" in explained
    assert "VM pwr1 (Network adapter 1) on esx1 vmnic0 portgroup 'VM-101' [vc1]" in explained
    vms = world.show_json("vms")
    jsonschema.validate(vms, schema_of("vms"))
    pwr1 = next(v for v in vms if v["name"] == "pwr1")
    assert pwr1["powered_on"] and pwr1["nics"][0]["interfaces"] == ["Ethernet1"]

    ctl.power("pwr1", on=False)
    off = time.time()
    world.wait_for(lambda: pending(world, "Ethernet1", 101) is not None, 5, "101 pending")
    due = pending(world, "Ethernet1", 101)["due"]  # type: ignore[index]
    assert off - 0.5 <= due - DELAY <= off + 2.0
    assert "unless needed again" in world.explain("Ethernet1", vlan=101)
    time.sleep(max(0.0, off + DELAY - 1.0 - time.time()))
    assert 101 in world.allowed("Ethernet1"), "removed before remove_delay"
    wait_vlan(world, "Ethernet1", 101, present=False, timeout=5)
    assert time.time() >= due - 0.1
    world.wait_for(lambda: 101 not in world.vlans(), 5, "VLAN 101 deleted (created by vmtracer)")
    history = world.show_json("history")
    removes = [e for e in history if e["action"] == "remove" and e["vlans"] == "101"]
    assert removes and removes[-1]["interface"] == "Ethernet1"
    assert "remove_delay" in removes[-1]["reason"]


def test_vmotion_puts_the_vlan_on_the_destination_before_the_move_completes(world: World) -> None:
    ctl = world.control("vc1")
    if vm_host(world, "vc1", "mig1") != "esx1":
        ctl.relocate("mig1", "esx1", wait=True)
    ctl.power("mig1", on=True)
    wait_vlan(world, "Ethernet1", 102, timeout=5)
    wait_vlan(world, "Ethernet2", 102, present=False, timeout=DELAY + 5)

    duration = 4.0
    started = time.monotonic()
    ctl.relocate("mig1", "esx2", duration=duration)  # VmBeingHotMigratedEvent now, the move later
    wait_vlan(world, "Ethernet2", 102, timeout=duration)
    ready_after = time.monotonic() - started
    assert vm_host(world, "vc1", "mig1") == "esx1", "the move completed before the VLAN was ready"
    assert ready_after < duration
    wait_status(world, "Ethernet2", 102)
    mig1 = next(v for v in world.show_json("vms") if v["name"] == "mig1")
    assert (mig1["host"], mig1["migrating_to"]) == ("esx1", "esx2")
    assert "VM mig1 migrating to esx2" in world.explain("Ethernet2", vlan=102)
    assert 102 in world.allowed("Ethernet1")

    world.wait_for(lambda: vm_host(world, "vc1", "mig1") == "esx2", duration + 5, "the move")
    done = time.time()
    world.wait_for(lambda: pending(world, "Ethernet1", 102) is not None, 5, "102 pending on Et1")
    assert 102 in world.allowed("Ethernet1"), "the source lost the VLAN at once"
    wait_vlan(world, "Ethernet1", 102, present=False, timeout=DELAY + 5)
    removed = time.time()
    assert removed - done >= DELAY - 0.5, f"removed {removed - done:.1f}s after the move"
    assert 102 in world.allowed("Ethernet2")


def test_a_portgroup_vlan_edit_moves_the_vlan(world: World) -> None:
    ctl = world.control("vc1")
    ctl.set_portgroup_vlan("PG-edit", 120)
    ctl.power("edit1", on=True)
    wait_vlan(world, "Ethernet2", 120, timeout=5)
    try:
        ctl.set_portgroup_vlan("PG-edit", 121)  # on every host that has it
        took = wait_vlan(world, "Ethernet2", 121, timeout=5)
        assert took < 1.0
        assert world.vlans()[121] == "PG-edit"
        world.wait_for(lambda: pending(world, "Ethernet2", 120) is not None, 5, "120 pending")
        assert 120 in world.allowed("Ethernet2")  # kept for remove_delay
        wait_vlan(world, "Ethernet2", 120, present=False, timeout=DELAY + 5)
        assert 121 in world.allowed("Ethernet2")
        edit1 = next(v for v in world.show_json("vms") if v["name"] == "edit1")
        assert edit1["nics"][0]["portgroup"] == "PG-edit" and edit1["nics"][0]["vlans"] == "121"
    finally:
        ctl.set_portgroup_vlan("PG-edit", 120)


def test_a_dual_homed_host_gets_the_vlan_on_its_port_channel(world: World) -> None:
    # The host heard the two member ports in the agent's CDP ...
    heard = {n.interface: n.port_id for n in world.bridge.heard("esx3")}  # type: ignore[union-attr]
    assert heard == {"vmnic0": "Ethernet7", "vmnic1": "Ethernet8"}
    # ... and the agent maps both vmnics to the Port-Channel.
    esx3 = next(h for h in world.show_json("hosts") if h["name"] == "esx3")
    assert {(lk["vmnic"], lk["neighbor"], lk["interface"]) for lk in esx3["links"]} == {
        ("vmnic0", "leaf1 Ethernet7 (cdp)", "Port-Channel10"),
        ("vmnic1", "leaf1 Ethernet8 (cdp)", "Port-Channel10"),
    }
    ctl = world.control("vc1")
    before = request_count(world)
    ctl.power("pc1", on=True)
    try:
        took = wait_vlan(world, "Port-Channel10", 110, timeout=5)
        assert took < 1.0
        changes = agent_changes(world, before)
        assert {(c.op, i) for c in changes if 110 in c.vlans for i in c.interfaces} == {
            ("add", "Port-Channel10")
        }
        touched = {i for c in changes for i in c.interfaces}
        assert not touched & {"Ethernet7", "Ethernet8"}, "a member port was configured"
        wait_status(world, "Port-Channel10", 110)
        explained = world.explain("Port-Channel10", vlan=110)
        assert "VM pc1 (Network adapter 1) on esx3 vmnic0 portgroup 'VM-110' [vc1]" in explained
        assert "VM pc1 (Network adapter 1) on esx3 vmnic1 portgroup 'VM-110' [vc1]" in explained
    finally:
        ctl.power("pc1", on=False)


def test_two_vcenters_are_watched_at_once(world: World) -> None:
    sessions = world.show_json("sessions")
    jsonschema.validate(sessions, schema_of("sessions"))
    assert [(s["name"], s["state"], s["synced"], s["hosts"]) for s in sessions] == [
        ("vc1", "connected", True, 3),
        ("vc2", "connected", True, 1),
    ]
    table = parse_table(world.show("sessions"))
    assert [(r["Session"], r["State"], r["Synced"]) for r in table] == [
        ("vc1", "connected", "yes"),
        ("vc2", "connected", "yes"),
    ]
    wait_vlan(world, "Ethernet2", 109, present=False, timeout=DELAY + 5)
    wait_vlan(world, "Ethernet3", 209, present=False, timeout=DELAY + 5)
    calls = [
        threading.Thread(target=world.control("vc1").power, args=("two1", True)),
        threading.Thread(target=world.control("vc2").power, args=("two2", True)),
    ]
    for t in calls:
        t.start()
    for t in calls:
        t.join()
    try:
        assert wait_vlan(world, "Ethernet2", 109, timeout=5) < 1.0
        assert wait_vlan(world, "Ethernet3", 209, timeout=5) < 1.0
        assert 209 not in world.allowed("Ethernet2") and 109 not in world.allowed("Ethernet3")
        wait_status(world, "Ethernet3", 209)
        explained = world.explain("Ethernet3", vlan=209)
        assert "VM two2 (Network adapter 1) on esx4 vmnic0 portgroup 'VM-209' [vc2]" in explained
        assert "[vc2]" in world.explain("Ethernet3")
        hosts = {r["Host"]: r["Session"] for r in parse_table(world.show("hosts")) if r["Host"]}
        assert hosts == {"esx1": "vc1", "esx2": "vc1", "esx3": "vc1", "esx4": "vc2"}
    finally:
        world.control("vc1").power("two1", on=False)
        world.control("vc2").power("two2", on=False)
