"""The safety rules over the whole lab: ownership, allowed VLANs, fail-static, restarts, drift.

Whatever vCenter, the agent's own process or an operator does, the switch (the
eAPI emulator's state and its request log) only ever sees the changes the safety
rules (README.md, "Safety rules") allow. Each test uses its own VMs and VLANs
(topology.STANDARD_VLANS).
"""

from __future__ import annotations

import time

import pytest

from lab.world import World
from tests.e2e.helpers import (
    agent_changes,
    config_changes,
    pending,
    request_count,
    status_vlans,
    wait_status,
    wait_vlan,
)

pytestmark = pytest.mark.e2e

DELAY = 5.0  # topology.standard()'s remove_delay
CHECK = 3.0  # and its check_interval
MANAGED = set(range(100, 300))  # vc1 allows 100-199, vc2 200-299


def test_a_vlan_the_operator_configured_is_never_removed(world: World) -> None:
    ctl = world.control("vc1")
    assert 150 in status_vlans(world, "Ethernet1", "static")
    before = request_count(world)

    ctl.power("ops1", on=True)
    world.wait_for(
        lambda: "150" in world.interface_status("Ethernet1")["reasons"], 5, "150 required"
    )
    assert "static (configured by an operator" in world.explain("Ethernet1", vlan=150)
    ctl.remove_vm("ops1")  # the VM that needed it goes away for good
    world.wait_for(
        lambda: "150" not in world.interface_status("Ethernet1")["reasons"], 5, "150 unneeded"
    )
    assert pending(world, "Ethernet1", 150) is None
    time.sleep(DELAY + CHECK + 1)  # past remove_delay and a periodic check

    assert 150 in world.allowed("Ethernet1")
    assert world.vlans()[150] == "ops"
    touched = [c for c in config_changes(world.requests()) if c.n > before and 150 in c.vlans]
    assert touched == []


def test_nothing_outside_the_allowed_vlans_is_touched(world: World) -> None:
    before = request_count(world)
    world.control("vc1").power("big1", on=True)  # VLAN 500: outside vc1's 100-199
    world.control("vc2").power("x150", on=True)  # VLAN 150: vc1's range, outside vc2's 200-299
    try:
        world.wait_for(
            lambda: (
                "500" in world.interface_status("Ethernet1")["excluded"]
                and "150" in world.interface_status("Ethernet3")["excluded"]
            ),
            5,
            "500 and 150 kept off",
        )
        time.sleep(1.0)  # a reconcile or two later
        assert 500 not in world.allowed("Ethernet1") and 500 not in world.vlans()
        assert 150 not in world.allowed("Ethernet3")
        assert "kept off: outside allowed_vlans of vc1" in world.explain("Ethernet1", vlan=500)
        assert "kept off: outside allowed_vlans of vc2" in world.explain("Ethernet3", vlan=150)
        assert [c for c in agent_changes(world, before) if c.vlans & {150, 500}] == []
    finally:
        world.control("vc1").power("big1", on=False)
        world.control("vc2").power("x150", on=False)
    # Over the whole run so far: the agent never named a VLAN outside the allowed ones,
    # and never touched VLAN 1 or the operator's 900.
    for change in agent_changes(world):
        assert change.vlans <= MANAGED, change


def test_a_dead_vcenter_removes_nothing_until_it_is_back_and_resynchronised(
    world: World,
) -> None:
    ctl = world.control("vc1")
    ctl.power("fs1", on=True)
    wait_vlan(world, "Ethernet2", 105, timeout=5)
    ctl.power("fs1", on=False)
    world.wait_for(lambda: pending(world, "Ethernet2", 105) is not None, 5, "105 pending")
    due = pending(world, "Ethernet2", 105)["due"]  # type: ignore[index]
    owned_by_vc1 = {
        (i["name"], v)
        for i in world.status()["interfaces"]
        for v in (int(x) for x in i["reasons"])
        if v < 200
    }
    before = request_count(world)

    world.kill_vcenter("vc1")
    restarted = 0.0
    try:
        world.wait_for(
            lambda: world.status()["sessions"][0]["state"] == "disconnected", 10, "vc1 down"
        )
        # vc2 is not held up: its changes still go through.
        world.control("vc2").power("two2", on=True)
        wait_vlan(world, "Ethernet3", 209, timeout=5)
        world.control("vc2").power("two2", on=False)
        world.wait_for(lambda: time.time() > due + 3.0, DELAY + 5, "past the due time")
        assert 105 in world.allowed("Ethernet2"), "removed while vCenter was down"
        held = pending(world, "Ethernet2", 105)
        assert held is not None and held["due"] is None
        assert "session vc1 is disconnected, not synchronised" in held["held"]
        for interface, vlan in owned_by_vc1:
            assert vlan in world.allowed(interface), (interface, vlan)
        assert "unneeded, but kept: session vc1" in world.explain("Ethernet2", vlan=105)
    finally:
        back = request_count(world)
        world.restart_vcenter("vc1")  # the scenario's state: fs1 is off
        restarted = time.time()
    during = [c for c in agent_changes(world, before) if c.n <= back and c.op == "remove"]
    assert all(c.vlans <= set(range(200, 300)) for c in during), during
    wait_vlan(world, "Ethernet2", 105, present=False, timeout=45)
    removed_at = time.time()
    history = world.show_json("history")
    removal = [e for e in history if e["action"] == "remove" and e["vlans"] == "105"][-1]
    assert removal["at"] >= restarted, "removed before vCenter came back"
    assert removal["at"] <= removed_at
    assert world.status()["sessions"][0]["synced"]


def test_an_agent_killed_and_restarted_removes_nothing_and_keeps_removal_clocks(
    world: World,
) -> None:
    ctl = world.control("vc1")
    ctl.power("rk1", on=True)
    ctl.power("rk2", on=True)
    wait_vlan(world, "Ethernet2", 106, timeout=5)
    wait_vlan(world, "Ethernet2", 107, timeout=5)
    ctl.power("rk2", on=False)
    world.wait_for(lambda: pending(world, "Ethernet2", 107) is not None, 5, "107 pending")
    due = pending(world, "Ethernet2", 107)["due"]  # type: ignore[index]
    status = world.status()
    was_pending = {(i["name"], p["vlan"]) for i in status["interfaces"] for p in i["pending"]}
    vlans_pending = {v["vlan"] for v in status["vlans_pending_delete"]}
    on_switch = {name: world.allowed(name) for name in ("Ethernet1", "Ethernet2", "Ethernet3")}
    old_pid = world.agent_pid
    before = request_count(world)

    world.kill_agent()  # SIGKILL: no shutdown, no flush
    world.start_agent(timeout=60)
    assert world.agent_pid != old_pid

    again = pending(world, "Ethernet2", 107)
    assert again is not None and again["due"] == pytest.approx(due, abs=0.01), again
    assert time.time() < due, "the restart took longer than remove_delay: test inconclusive"
    wait_vlan(world, "Ethernet2", 107, present=False, timeout=DELAY + 5)
    assert time.time() <= due + 1.5, "the removal clock was reset by the restart"
    assert 106 in world.allowed("Ethernet2")
    for c in agent_changes(world, before):
        touched = {(i, v) for i in c.interfaces for v in c.vlans}
        if c.op == "remove":
            assert touched <= was_pending, f"removed what was not pending: {c}"
        elif c.op == "delete":  # a VLAN it created, once its last port let it go
            assert c.vlans <= {v for (_, v) in was_pending} | vlans_pending, c
        else:
            again = {(i, v) for (i, v) in touched if v in on_switch.get(i, set())}
            assert c.op in ("add", "create") and not again, f"re-added: {c}"
    history = world.show_json("history")
    starts = [e for e in history if e["action"] == "start"]
    assert starts[-1]["reason"] == f"pid {world.agent_pid}"
    ctl.power("rk2", on=True)


def test_a_restart_while_vcenter_is_slow_to_tell_cabling_removes_nothing(world: World) -> None:
    # After a restart the agent knows nothing of the cabling until vCenter answers
    # QueryNetworkHint: until then it must not take the owned VLANs for unneeded ones.
    world.control("vc1").power("rk1", on=True)
    wait_vlan(world, "Ethernet2", 106, timeout=5)
    before = request_count(world)
    world.kill_agent()
    world.control("vc1").stall("QueryNetworkHint")
    try:
        world.start_agent(wait=False)
        time.sleep(DELAY + 2)
        assert 106 in world.allowed("Ethernet2")
        assert [c for c in agent_changes(world, before) if c.vlans & {106}] == []
    finally:
        world.control("vc1").stall("QueryNetworkHint", on=False)
    world.wait_ready(60)  # the stalled call is cut by the watchdog, the session recovers
    assert 106 in world.allowed("Ethernet2")


def test_drift_is_repaired_and_reported(world: World) -> None:
    world.control("vc1").power("dr1", on=True)
    wait_vlan(world, "Ethernet2", 108, timeout=5)
    wait_status(world, "Ethernet2", 108)  # owned by the agent

    answer = world.operator("interface Ethernet2", "switchport trunk allowed vlan remove 108")
    assert "error" not in answer
    removed = time.monotonic()
    assert 108 not in world.allowed("Ethernet2")
    wait_vlan(world, "Ethernet2", 108, timeout=CHECK + 3)
    assert time.monotonic() - removed <= CHECK + 2

    world.wait_for(
        lambda: (
            "%VMTRACER-4-DRIFT: Ethernet2: VLAN 108 was removed by someone else"
            in world.agent_log()
        ),
        5,
        "the drift log line",
    )
    repairs = [e for e in world.show_json("history") if e["action"] == "repair"]
    assert repairs and (repairs[-1]["interface"], repairs[-1]["vlans"]) == ("Ethernet2", "108")
    assert repairs[-1]["reason"] == "removed by someone else"
    assert "repair" in world.show("history")


def test_a_vlan_created_for_a_trunk_allowing_every_vlan_stays_while_needed(
    world: World,
) -> None:
    """EOS trunks allow every VLAN by default: nothing is added there, so nothing is
    owned, yet a VM behind one still needs its VLAN to exist. The agent creates it,
    keeps it while the VM needs it (no create/delete flapping), and deletes it only
    after remove_delay of non-need."""
    ctl = world.control("vc1")
    world.wait_for(lambda: 105 not in world.vlans(), DELAY + CHECK + 5, "VLAN 105 absent")
    world.operator("interface Ethernet5", "switchport trunk allowed vlan all")
    world.recable("esx2", "vmnic0", "Ethernet5")
    try:

        def esx2_on_ethernet5() -> bool:
            esx2 = next(h for h in world.show_json("hosts") if h["name"] == "esx2")
            return [lk["interface"] for lk in esx2["links"]] == ["Ethernet5"]

        world.wait_for(esx2_on_ethernet5, 15, "esx2 heard on Ethernet5")
        before = request_count(world)
        ctl.power("fs1", on=True)  # VM-105 on esx2
        world.wait_for(lambda: 105 in world.vlans(), 15, "VLAN 105 created")
        wait_status(world, "Ethernet5", 105, column="required")
        assert world.vlans()[105] == "VM-105"
        time.sleep(DELAY + CHECK + 1)  # past remove_delay and a periodic check
        assert 105 in world.vlans()
        mine = [c for c in agent_changes(world, before) if 105 in c.vlans]
        assert [c.op for c in mine] == ["create"], mine  # created once, never deleted
        assert not [c for c in agent_changes(world, before) if "Ethernet5" in c.interfaces]
        assert world.allowed("Ethernet5") == set(range(1, 4095))  # untouched: still all

        ctl.power("fs1", on=False)
        off = time.time()
        time.sleep(DELAY - 1.5)
        assert 105 in world.vlans(), "deleted before remove_delay"
        world.wait_for(lambda: 105 not in world.vlans(), 10, "VLAN 105 deleted")
        assert time.time() - off >= DELAY - 0.5
        assert world.allowed("Ethernet5") == set(range(1, 4095))
    finally:
        ctl.power("fs1", on=False)
        world.recable("esx2", "vmnic0", "Ethernet2")
        world.operator("interface Ethernet5", "switchport trunk allowed vlan 1")
    world.wait_ready(30)
