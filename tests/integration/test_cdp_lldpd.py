"""The CDP sender heard by a real CDP listener: Debian's lldpd, in "ESXi host" namespaces.

The switch is a network namespace of its own whose veth ends carry EOS's
kernel names (et1, et2, ...), so the default naming (Ethernet1 -> et1) is what
gets exercised and nothing touches this machine's interfaces. The sender's
thread is started inside that namespace, as the agent runs in EOS's.

Needs root (skipped otherwise). lldpd, lldpcli, tshark and dumpcap must be
installed (``make apt``): without them these tests fail, they do not skip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Callable, Optional

import pytest

from eos_vmtracer.cdp import (
    CdpIdentity,
    CdpSender,
    cdp_native_vlans,
    cdp_ports,
    identity_from_facts,
)
from eos_vmtracer.config import CdpConfig, Config, SwitchConfig
from eos_vmtracer.model import SwitchFacts, SwitchInterface
from lab.netns import HostNamespace, LldpNeighbor, Namespace, check_tools, is_root

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not is_root(), reason="needs root: network namespaces and raw sockets"),
]

IDENTITY = CdpIdentity(
    device_id="leaf1",
    addresses=("192.0.2.10", "2001:db8::10"),
    version="Arista Networks EOS version 4.31.1F",
    platform="DCS-7050SX3-48YC8",
)
StartSender = Callable[..., CdpSender]


@pytest.fixture
def switch() -> Iterator[Namespace]:
    check_tools()  # a missing lldpd or tshark is a failure, not a skip
    with Namespace("sw") as ns:
        yield ns


@pytest.fixture
def host(switch: Namespace) -> Iterator[HostNamespace]:
    with HostNamespace("esx1", switch=switch) as ns:
        yield ns


@pytest.fixture
def start_sender(switch: Namespace) -> Iterator[StartSender]:
    """Start a CdpSender whose thread (and sockets) live in the switch namespace."""
    started: list[CdpSender] = []

    def start(
        ports: dict[str, str],
        *,
        identity: CdpIdentity = IDENTITY,
        native_vlans: Optional[dict[str, int]] = None,
        interval: float = 0.5,
        holdtime: int = 30,
        retry: float = 0.2,
    ) -> CdpSender:
        sender = CdpSender(interval=interval, holdtime=holdtime, retry=retry)
        started.append(sender)
        sender.update(identity, ports, native_vlans)
        with switch.entered():
            sender.start()
        return sender

    yield start
    for sender in started:
        sender.stop()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def by_nic(neighbors: list[LldpNeighbor]) -> dict[str, LldpNeighbor]:
    return {n.interface: n for n in neighbors}


def hears(expected: dict[str, str]) -> Callable[[list[LldpNeighbor]], bool]:
    """lldpd has a CDP neighbour on each NIC with the expected port ID."""

    def check(neighbors: list[LldpNeighbor]) -> bool:
        seen = {n.interface: n.port_id for n in neighbors if n.via.startswith("CDP")}
        return all(seen.get(nic) == port for nic, port in expected.items())

    return check


def test_lldpd_shows_our_device_id_port_and_management_address(
    host: HostNamespace, start_sender: StartSender
) -> None:
    host.add_link("et1")
    start_sender({"Ethernet1": "et1"}, native_vlans={"Ethernet1": 10}, holdtime=45)

    neighbor = by_nic(host.wait_for_neighbors(hears({"vmnic0": "Ethernet1"})))["vmnic0"]

    assert neighbor.via == "CDPv2"
    assert neighbor.name == "leaf1"
    assert neighbor.chassis_id == "leaf1"
    assert neighbor.port_id == "Ethernet1"
    assert neighbor.mgmt_ips == ("192.0.2.10",)  # lldpd keeps the IPv4 ones
    assert neighbor.ttl == 45
    assert neighbor.native_vlan == 10
    assert "Bridge" in neighbor.capabilities
    assert "DCS-7050SX3-48YC8" in neighbor.descr
    assert "Arista Networks EOS version 4.31.1F" in neighbor.descr


def test_every_port_and_port_channel_member_carries_its_own_port_id(
    switch: Namespace, start_sender: StartSender
) -> None:
    facts = SwitchFacts(
        hostname="leaf2",
        model="DCS-7280SR-48C6",
        version="4.30.2F",
        mgmt_addresses=("198.51.100.2/24",),
        interfaces={
            "Ethernet1": SwitchInterface("Ethernet1", native_vlan=11),
            "Ethernet2": SwitchInterface("Ethernet2", mode="access", access_vlan=12),
            "Ethernet3": SwitchInterface("Ethernet3", channel="Port-Channel10"),
            "Ethernet4": SwitchInterface("Ethernet4", channel="Port-Channel10"),
            "Port-Channel10": SwitchInterface("Port-Channel10", native_vlan=100),
        },
    )
    config = Config(
        switch=SwitchConfig(interfaces=("Ethernet1", "Ethernet2", "Port-Channel10")),
        cdp=CdpConfig(),
    )
    ports = cdp_ports(config, facts)
    assert ports == {"Ethernet1": "et1", "Ethernet2": "et2", "Ethernet3": "et3", "Ethernet4": "et4"}

    with HostNamespace("esx1", switch=switch) as esx1, HostNamespace("esx2", switch=switch) as esx2:
        esx1.add_link("et1")  # vmnic0
        esx1.add_link("et3")  # vmnic1: one leg of the Port-Channel
        esx2.add_link("et2")
        esx2.add_link("et4")
        start_sender(
            ports,
            identity=identity_from_facts(facts),
            native_vlans=cdp_native_vlans(facts, ports),
        )

        heard1 = by_nic(
            esx1.wait_for_neighbors(hears({"vmnic0": "Ethernet1", "vmnic1": "Ethernet3"}))
        )
        heard2 = by_nic(
            esx2.wait_for_neighbors(hears({"vmnic0": "Ethernet2", "vmnic1": "Ethernet4"}))
        )

    for neighbor in [*heard1.values(), *heard2.values()]:
        assert neighbor.name == "leaf2"
        assert neighbor.mgmt_ips == ("198.51.100.2",)
    assert heard1["vmnic0"].native_vlan == 11
    assert heard2["vmnic0"].native_vlan == 12
    assert heard1["vmnic1"].native_vlan == heard2["vmnic1"].native_vlan == 100


def test_a_deleted_interface_is_survived_and_frames_resume_when_it_returns(
    switch: Namespace,
    host: HostNamespace,
    start_sender: StartSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="eos_vmtracer.cdp")
    host.add_link("et1")
    host.add_link("et2")
    sender = start_sender({"Ethernet1": "et1", "Ethernet2": "et2"})
    host.wait_for_neighbors(hears({"vmnic0": "Ethernet1", "vmnic1": "Ethernet2"}))

    host.remove_link("vmnic1")  # takes et2 with it
    assert not switch.has_link("et2")
    host.wait_for_neighbors(lambda ns: "vmnic1" not in by_nic(ns))
    sent_on_et1 = sender.stats()["Ethernet1"].frames_sent
    with host.capture("vmnic0") as capture:
        # Several retries (every 0.2 s) and rounds (every 0.5 s) go by.
        wait_until(lambda: sender.stats()["Ethernet2"].errors >= 5)
        wait_until(lambda: sender.stats()["Ethernet1"].frames_sent >= sent_on_et1 + 3)
    assert len(capture.fields("cdp.portid")) >= 2  # Ethernet1 kept going, on the wire
    assert sender.running
    stats = sender.stats()["Ethernet2"]
    assert stats.failing and stats.last_error == "no such interface"
    complaints = [r.getMessage() for r in caplog.records if "Ethernet2" in r.getMessage()]
    assert len(complaints) == 1, complaints
    assert "et2" in complaints[0] and "no such interface" in complaints[0]

    sent_before = stats.frames_sent
    host.add_link("et2", "vmnic1")  # cabled again: a new interface with the same name
    neighbor = by_nic(host.wait_for_neighbors(hears({"vmnic1": "Ethernet2"})))["vmnic1"]
    assert neighbor.name == "leaf1"
    back = sender.stats()["Ethernet2"]
    assert back.frames_sent > sent_before and not back.failing
    assert "sending on Ethernet2 (et2) again" in caplog.text


def test_a_down_interface_is_logged_once_and_resumes_when_up(
    switch: Namespace,
    host: HostNamespace,
    start_sender: StartSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="eos_vmtracer.cdp")
    host.add_link("et1")
    switch.set_link("et1", False)
    sender = start_sender({"Ethernet1": "et1"})
    wait_until(lambda: sender.stats()["Ethernet1"].errors >= 4)
    stats = sender.stats()["Ethernet1"]
    assert stats.failing and stats.last_error == "interface is down" and stats.frames_sent == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "interface is down" in warnings[0].getMessage()
    assert host.neighbors() == []

    switch.set_link("et1", True)
    host.wait_for_neighbors(hears({"vmnic0": "Ethernet1"}))
    assert not sender.stats()["Ethernet1"].failing
