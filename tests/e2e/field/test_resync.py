"""``vmtracer resync`` while VMs churn: the agent reads vCenter and the switch again, and
nothing that is needed is removed meanwhile (nor ever missing from its port)."""

from __future__ import annotations

import threading
import time

import pytest

from lab.world import World
from lab.world.topology import Timings
from lab.world.world import vlan_set
from tests.e2e.helpers import agent_changes, request_count, wait_vlan

pytestmark = pytest.mark.e2e

DELAY = Timings().remove_delay
STEADY = {("Ethernet1", 100), ("Ethernet2", 130), ("Ethernet4", 110)}  # web1, kp1, bl1
CHURN = (120, 121, 122, 123)  # ch120..ch123 on esx2 (Ethernet2)


def test_resync_during_churn_removes_nothing_that_is_needed(world: World) -> None:
    for port, vlan in STEADY:
        wait_vlan(world, port, vlan, timeout=5)
    ctl = world.control("vc1")
    before = request_count(world)
    stop = threading.Event()
    missing: list[str] = []
    errors: list[BaseException] = []

    def watch() -> None:  # what is needed stays on its port, all along
        while not stop.is_set():
            state = world.switch_state()["interfaces"]
            for port, vlan in STEADY:
                if vlan not in vlan_set(state[port]["allowed"]):
                    missing.append(f"{vlan} off {port} at {time.time():.2f}")
            time.sleep(0.05)

    def churn() -> None:
        try:
            for n in range(16):
                vm = f"ch{CHURN[n % 4]}"
                ctl.power(vm, on=(n // 4) % 2 == 0)
                time.sleep(0.25)
        except BaseException as e:
            errors.append(e)

    watcher = threading.Thread(target=watch, daemon=True)
    churner = threading.Thread(target=churn, daemon=True)
    watcher.start()
    churner.start()
    try:
        out = world.vmtracer("resync", on_switch=True).stdout
        assert "is reading every session (vc1) and the switch again" in out, out
        time.sleep(1.0)
        out = world.vmtracer("resync", "--session", "vc1", on_switch=True).stdout
        assert "is reading session vc1 again" in out, out
        churner.join(30)
        assert not errors, errors
        # The churn ends with every ch VM off (n = 12..15 powered them off): their
        # VLANs go after remove_delay, the steady ones never did.
        world.wait_ready(30)
        for vlan in CHURN:
            wait_vlan(world, "Ethernet2", vlan, present=False, timeout=DELAY + 15)
    finally:
        stop.set()
        watcher.join(5)
    assert not missing, missing[:5]
    removed = {
        (i, v)
        for c in agent_changes(world, before)
        if c.op == "remove"
        for i in c.interfaces
        for v in c.vlans
    }
    assert not removed & STEADY, removed
    assert removed <= {("Ethernet2", v) for v in CHURN}, removed
    history = world.vmtracer("show", "history", "--json").stdout
    assert '"action": "resync"' in history
    log = world.agent_log(1)
    assert log.count("resynchronising: reading everything again (requested)") >= 2
    assert "%VMTRACER-5-RESYNC" in log
