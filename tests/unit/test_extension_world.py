"""A small world for the EOS extension tests: the REAL agent against a fake switch and vCenter.

The CLI extension and the EOS SDK bridge are tested against what the agent really
publishes, not against hand-written documents: :class:`World` runs
:class:`~eos_vmtracer.agent.Agent` with :class:`FakeSwitch` and :class:`FakeSession`
(three ESXi hosts cabled to Ethernet1-3, VMs on VLANs inside and outside the allowed
range, one VM powered off after its VLAN was added so that a removal is pending).
The test here checks that world itself.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import jsonschema

from eos_vmtracer import status as status_mod
from eos_vmtracer.agent import Agent
from eos_vmtracer.config import CdpConfig, Config, LogConfig
from eos_vmtracer.model import (
    SessionInventory,
    SwitchFacts,
    Vm,
)
from lab.builders import a_vm, config, esx, session, std, switch_facts, vlan_pgs
from tests.unit.fakes import FakeSession, FakeSwitch

HOSTNAME = "leaf1"
EDGE = ("Ethernet1", "Ethernet2", "Ethernet3", "Ethernet4")
UPLINK = "Ethernet48"
ALLOWED = "100-199"


def _switch_facts() -> SwitchFacts:
    return switch_facts(
        (*EDGE, UPLINK),
        "1-9",
        vlans={v: f"VLAN{v:04d}" for v in (1, 100, 110, 120)},
        fqdn=f"{HOSTNAME}.example.com",
        model="DCS-7050SX3-48YC8",
        version="4.30.2F",
    )


def _vm(n: int, host: str, vlan: int, on: bool = True) -> Vm:
    return a_vm(f"vm-{n}", host, std(f"VM-{vlan}"), on=on, name=f"app{n:02d}")


def inventory(vm3_on: bool = True) -> SessionInventory:
    """vc1: three hosts on Ethernet1-3; VMs on VLAN 100, 110, 120 (vm-3) and 300 (outside)."""
    pgs = vlan_pgs((100, 110, 120, 300))
    hosts = [
        esx(f"host-{i}", (f"Ethernet{i}",), pgs, name=f"esx-host-{i}.example.com")
        for i in (1, 2, 3)
    ]
    vms = [
        _vm(1, "host-1", 100),
        _vm(2, "host-2", 110),
        _vm(3, "host-3", 120, on=vm3_on),
        _vm(4, "host-1", 300),
    ]
    return session(hosts, vms)


def world_config(tmp: Path, **switch: Any) -> Config:
    """The configuration of the world (no CDP, no syslog, state and status under ``tmp``)."""
    return config(
        EDGE,
        uplinks=(UPLINK,),
        allowed=ALLOWED,
        url="https://vc1.example.com/sdk",
        username="svc-vmtracer@vsphere.local",
        password_env="VMTRACER_TEST_PASSWORD",
        cdp=CdpConfig(enabled=False),
        log=LogConfig(syslog=False),
        source=str(tmp / "vmtracer.toml"),
        state_dir=str(tmp / "state"),
        run_dir=str(tmp / "run"),
        remove_delay=300.0,
        **switch,
    )


class World:
    """The fakes, and agents built on them (the same switch across restarts)."""

    def __init__(self) -> None:
        self.switch = FakeSwitch(_switch_facts())
        self.sessions: list[FakeSession] = []
        self.inv = inventory()

    def make_agent(self, config: Config) -> Agent:
        def sessions(on_change: Callable[[], None]) -> list[Any]:
            s = FakeSession(self.inv, on_change)
            self.sessions.append(s)
            return [s]

        return Agent(config, switch=self.switch, sessions=sessions, cdp=None)

    def set_inventory(self, inv: SessionInventory) -> None:
        self.inv = inv
        for s in self.sessions:
            s.set(inv)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        time.sleep(0.01)


def _pending(doc: dict[str, Any]) -> bool:
    return any(i["pending"] for i in doc["interfaces"])


class RunningAgent:
    """The real agent of a :class:`World`, running on a thread until :meth:`stop`."""

    def __init__(self, tmp: Path, **switch: Any) -> None:
        self.world = World()
        self.config = world_config(tmp, **switch)
        self.agent = self.world.make_agent(self.config)
        self.docs: list[dict[str, Any]] = []
        self.agent.observers.append(self.docs.append)
        self.thread = threading.Thread(target=self.agent.run, daemon=True)
        self.thread.start()

    @property
    def run_dir(self) -> str:
        return self.config.switch.run_dir

    def latest(self) -> dict[str, Any]:
        return self.docs[-1]

    def settle(self) -> dict[str, Any]:
        """Let VLAN 120 be added for vm-3, then power vm-3 off: 120 is pending removal."""
        wait_for(lambda: bool(self.docs) and "120" in self.latest()["interfaces"][2]["dynamic"])
        self.world.set_inventory(inventory(vm3_on=False))
        wait_for(lambda: _pending(self.latest()))
        return self.latest()

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_world_publishes_a_status_with_every_kind_of_entry(tmp_path: Path) -> None:
    running = RunningAgent(tmp_path)
    try:
        doc = running.settle()
        jsonschema.validate(doc, status_mod.STATUS_SCHEMA)
        by_name = {i["name"]: i for i in doc["interfaces"]}
        assert by_name["Ethernet1"]["dynamic"] == "100"
        assert by_name["Ethernet1"]["static"] == "1-9"
        assert [p["vlan"] for p in by_name["Ethernet3"]["pending"]] == [120]
        assert by_name["Ethernet1"]["excluded"], "VLAN 300 is outside the allowed range"
        assert by_name[UPLINK]["role"] == "uplink"
        assert doc["sessions"][0]["state"] == "connected"
        assert {h["name"] for h in doc["hosts"]} == {f"esx-host-{i}.example.com" for i in (1, 2, 3)}
        assert status_mod.read_status(running.run_dir)["agent"]["pid"] == doc["agent"]["pid"]
    finally:
        running.stop()
    assert not Path(status_mod.status_path(running.run_dir)).exists()
