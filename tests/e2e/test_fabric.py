"""Fabric scale end to end: cabling found through link events (not a timer), hosts
leaving the agent's scope, VMs migrating in from a host not cabled here, and a host
whose bulk QueryNetworkHint answers nothing.

The world's bridge mirrors each vmnic's link into vCenter (``linkSpeed``), as ESXi
reports it; a recabling takes the link down for a second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from eos_vmtracer.agent import HEARING_WITHIN
from lab.world import World
from tests.e2e.helpers import pending, wait_vlan

pytestmark = pytest.mark.e2e

ESX2_VLANS = {106, 107, 108}  # rk1, rk2, dr1 on esx2 (powered on here)
SLOW = {"hint_interval": "3600", "discovery_interval": "3600"}


@pytest.fixture
def slow_timers(world: World) -> Iterator[World]:
    """The agent restarted with hint_interval and discovery_interval of an hour: only an
    event (a link change) can make it ask a host again."""
    original = world.config_path.read_text()
    changed = original
    for key, value in SLOW.items():
        changed = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", changed)
    world.stop_agent()
    world.config_path.write_text(changed)
    try:
        world.start_agent(timeout=90)
        _quiet(world, since=time.monotonic())
        yield world
    finally:
        world.stop_agent()
        world.config_path.write_text(original)
        world.start_agent(timeout=90)


def _esx2_on(world: World) -> None:
    ctl = world.control("vc1")
    for vm in ("rk1", "rk2", "dr1"):
        ctl.power(vm, on=True)
    for vlan in ESX2_VLANS:
        wait_vlan(world, "Ethernet2", vlan, timeout=10)


def _hint_calls(world: World) -> int:
    return world.control("vc1").counters().get("QueryNetworkHint", 0)


def _quiet(world: World, since: float) -> None:
    """Wait for the questions an agent asks as it starts to end: every host at once, and
    again once the first CDP frames could be heard (HEARING_WITHIN after CDP began)."""
    time.sleep(max(0.0, since + HEARING_WITHIN + 1.0 - time.monotonic()))
    calls, still = _hint_calls(world), time.monotonic()
    deadline = still + 20
    while time.monotonic() - still < 1.5:
        assert time.monotonic() < deadline, "the agent kept asking for neighbours"
        time.sleep(0.2)
        now = _hint_calls(world)
        if now != calls:
            calls, still = now, time.monotonic()


def test_a_recabled_host_is_found_through_its_link_change_not_the_timer(
    slow_timers: World,
) -> None:
    world = slow_timers
    _esx2_on(world)
    _quiet(world, since=0.0)  # past the link retries of esx2's first discovery
    world.control("vc1").reset_counters()
    world.recable("esx2", "vmnic0", "Ethernet4")
    up = time.monotonic()
    try:
        for vlan in ESX2_VLANS:
            wait_vlan(world, "Ethernet4", vlan, timeout=15)
        took = time.monotonic() - up
        cdp_interval = world.topology.timings.cdp_interval
        assert took <= 2 * cdp_interval + 4, f"{took:.1f} s after the link came up"
        # Asked because its link went down and up (and the retries after it), not by a
        # timer: the other three hosts of vc1 were not asked at all.
        assert _hint_calls(world) <= 8
        assert world.allowed("Ethernet2") >= ESX2_VLANS  # kept for remove_delay
    finally:
        world.recable("esx2", "vmnic0", "Ethernet2")
    for vlan in ESX2_VLANS:
        wait_vlan(world, "Ethernet2", vlan, timeout=15)


def test_a_host_whose_bulk_hint_is_empty_is_found_per_vmnic(slow_timers: World) -> None:
    world = slow_timers
    _esx2_on(world)
    ctl = world.control("vc1")
    ctl.set_bulk_hint_empty("esx2")
    try:
        world.recable("esx2", "vmnic0", "Ethernet4")
        for vlan in ESX2_VLANS:
            wait_vlan(world, "Ethernet4", vlan, timeout=15)
        esx2 = next(h for h in world.show_json("hosts") if h["name"] == "esx2")
        assert [(lk["vmnic"], lk["interface"]) for lk in esx2["links"]] == [("vmnic0", "Ethernet4")]
        assert "per vmnic" in world.agent_log(1)
    finally:
        ctl.set_bulk_hint_empty("esx2", False)
        world.recable("esx2", "vmnic0", "Ethernet2")
    for vlan in ESX2_VLANS:
        wait_vlan(world, "Ethernet2", vlan, timeout=15)


def test_a_host_leaving_the_scope_keeps_its_vlans_for_remove_delay_and_a_vm_migrating_in_from_it_arrives_to_its_vlan(  # noqa: E501
    world: World,
) -> None:
    _esx2_on(world)
    remove_delay = world.topology.timings.remove_delay
    duration = 6.0  # of rk1's migration
    ctl = world.control("vc1")
    world.unplug("esx2", "vmnic0")
    gone = time.monotonic()
    try:
        # esx2 is heard nowhere on this switch: out of the agent's scope, with its VMs.
        world.wait_for(
            lambda: not any(v["host"] == "esx2" for v in world.show_json("vms")),
            10,
            "esx2's VMs out of the agent's scope",
        )
        for vlan in ESX2_VLANS:
            world.wait_for(lambda v=vlan: pending(world, "Ethernet2", v) is not None, 10, "pending")
        time.sleep(max(0.0, remove_delay - 1.5 - (time.monotonic() - gone)))
        assert world.allowed("Ethernet2") >= ESX2_VLANS, "removed before remove_delay"
        for vlan in ESX2_VLANS:
            wait_vlan(world, "Ethernet2", vlan, present=False, timeout=remove_delay + 10)
        assert time.monotonic() - gone >= remove_delay
        # rk1 (VLAN 106) migrates from esx2, cabled nowhere here, to esx1 (Ethernet1):
        # the migration's start brings it into scope, and its VLAN is on Ethernet1
        # before the move completes.
        assert 106 not in world.allowed("Ethernet1")
        started = time.monotonic()
        ctl.relocate("rk1", "esx1", duration=duration)
        took = wait_vlan(world, "Ethernet1", 106, timeout=duration)
        assert took < duration, "the VLAN came only with the VM"
        assert time.monotonic() - started < duration
    finally:
        world.plug("esx2", "vmnic0", "Ethernet2")
        time.sleep(duration)  # a migration under way ends first
        if ctl.state()["vms"]["rk1"]["host"] != "esx2":
            ctl.relocate("rk1", "esx2", wait=True)
    for vlan in ESX2_VLANS:
        wait_vlan(world, "Ethernet2", vlan, timeout=15)
    wait_vlan(
        world, "Ethernet1", 106, present=False, timeout=world.topology.timings.remove_delay + 15
    )
