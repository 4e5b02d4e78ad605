"""What the CDP frames say about the switch, and which ports send them."""

from __future__ import annotations

import pytest

from eos_vmtracer.cdp import CdpIdentity, cdp_native_vlans, cdp_ports, identity_from_facts
from eos_vmtracer.config import CdpConfig, Config, SwitchConfig
from eos_vmtracer.model import SwitchFacts, SwitchInterface
from eos_vmtracer.vlans import expand_interfaces

FACTS = SwitchFacts(
    hostname="leaf1",
    fqdn="leaf1.dc1.example.com",
    model="DCS-7050SX3-48YC8",
    version="4.31.1F",
    system_mac="00:1c:73:aa:bb:cc",
    mgmt_addresses=("2001:db8::10/64", "fe80::1", "192.0.2.10/24", "192.0.2.10"),
    interfaces={
        "Ethernet1": SwitchInterface("Ethernet1", native_vlan=10),
        "Ethernet2": SwitchInterface("Ethernet2", mode="access", access_vlan=20),
        "Ethernet3": SwitchInterface("Ethernet3", mode="routed"),
        "Ethernet10": SwitchInterface("Ethernet10", channel="Port-Channel10"),
        "Ethernet9": SwitchInterface("Ethernet9", channel="Port-Channel10"),
        "Ethernet11": SwitchInterface("Ethernet11", channel="Port-Channel11"),
        "Ethernet12/1": SwitchInterface("Ethernet12/1"),
        "Port-Channel10": SwitchInterface("Port-Channel10", native_vlan=100),
        "Port-Channel11": SwitchInterface("Port-Channel11"),
        "Port-Channel1000": SwitchInterface("Port-Channel1000"),
    },
)


def config(*interfaces: str, uplinks: tuple[str, ...] = (), **cdp: object) -> Config:
    names = tuple(n for spec in interfaces for n in expand_interfaces(spec))
    ups = tuple(n for spec in uplinks for n in expand_interfaces(spec))
    return Config(
        switch=SwitchConfig(interfaces=names, uplinks=ups),
        cdp=CdpConfig(**cdp),  # type: ignore[arg-type]
    )


# -- identity ----------------------------------------------------------------------------


def test_identity_names_the_switch_its_eos_and_its_model() -> None:
    identity = identity_from_facts(FACTS)
    assert identity == CdpIdentity(
        device_id="leaf1",
        addresses=("192.0.2.10", "2001:db8::10"),
        version="Arista Networks EOS version 4.31.1F",
        platform="DCS-7050SX3-48YC8",
    )


def test_configured_hostname_wins() -> None:
    assert identity_from_facts(FACTS, " rack7-leaf ").device_id == "rack7-leaf"


@pytest.mark.parametrize(
    ("facts", "device_id"),
    [
        (
            SwitchFacts(hostname="", fqdn="sw.example.com", system_mac="00:1c:73:00:00:01"),
            "sw.example.com",
        ),
        (SwitchFacts(hostname="", system_mac="00:1c:73:00:00:01"), "00:1c:73:00:00:01"),
        (SwitchFacts(hostname=""), "localhost"),
    ],
)
def test_a_switch_without_hostname_still_has_a_device_id(
    facts: SwitchFacts, device_id: str
) -> None:
    assert identity_from_facts(facts).device_id == device_id


def test_unknown_version_and_model_still_fill_the_tlvs_lldpd_requires() -> None:
    identity = identity_from_facts(SwitchFacts(hostname="sw"))
    assert identity.version == "Arista Networks EOS"
    assert identity.platform == "Arista Networks"
    assert identity.addresses == ()


def test_unusable_addresses_are_dropped() -> None:
    facts = SwitchFacts(hostname="sw", mgmt_addresses=("not-an-ip", "127.0.0.1", "::", "10.1.1.1"))
    assert identity_from_facts(facts).addresses == ("10.1.1.1",)


def test_identity_refuses_an_empty_device_id_or_a_bad_address() -> None:
    with pytest.raises(ValueError, match="device ID"):
        CdpIdentity(" ", (), "v", "p")
    with pytest.raises(ValueError, match="not an IP address"):
        CdpIdentity("sw", ("192.0.2.300",), "v", "p")


# -- ports -------------------------------------------------------------------------------


def test_enabled_ethernets_send_on_their_eos_kernel_interfaces() -> None:
    ports = cdp_ports(config("Ethernet1-2", "Ethernet12/1"), FACTS)
    assert ports == {"Ethernet1": "et1", "Ethernet2": "et2", "Ethernet12/1": "et12_1"}


def test_members_of_an_enabled_port_channel_send_under_their_own_names() -> None:
    ports = cdp_ports(config("Port-Channel10", "Ethernet1"), FACTS)
    assert list(ports) == ["Ethernet9", "Ethernet10", "Ethernet1"]
    assert ports["Ethernet9"] == "et9"
    assert "Port-Channel10" not in ports


def test_uplinks_and_members_of_other_channels_do_not_send() -> None:
    ports = cdp_ports(config("Ethernet1", uplinks=("Port-Channel11",)), FACTS)
    assert ports == {"Ethernet1": "et1"}


def test_an_enabled_ethernet_unknown_to_the_switch_is_still_tried() -> None:
    # The sender reports a missing kernel interface; nothing is silently dropped.
    assert cdp_ports(config("Ethernet48"), FACTS) == {"Ethernet48": "et48"}


def test_kernel_interface_overrides_apply_to_plain_ports_and_members() -> None:
    overrides = {"Ethernet1": "swp1", "Ethernet10": "swp10"}
    ports = cdp_ports(config("Ethernet1", "Port-Channel10", kernel_interfaces=overrides), FACTS)
    assert ports == {"Ethernet1": "swp1", "Ethernet9": "et9", "Ethernet10": "swp10"}


def test_no_ports_when_cdp_is_disabled() -> None:
    assert cdp_ports(config("Ethernet1-4", enabled=False), FACTS) == {}


def test_native_vlans_follow_mode_and_port_channel() -> None:
    ports = cdp_ports(config("Ethernet1-3", "Port-Channel10", "Ethernet40"), FACTS)
    assert cdp_native_vlans(FACTS, ports) == {
        "Ethernet1": 10,  # trunk: native VLAN
        "Ethernet2": 20,  # access: access VLAN
        "Ethernet9": 100,  # member: its Port-Channel's native VLAN
        "Ethernet10": 100,
    }  # routed Ethernet3 and unknown Ethernet40: no Native VLAN TLV
