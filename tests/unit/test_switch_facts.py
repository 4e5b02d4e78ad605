"""Reading real EOS JSON (tests/data/eos) into SwitchFacts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from eos_vmtracer.switch import PermanentSwitchError
from eos_vmtracer.switch.facts import (
    SHOW_HOSTNAME,
    SHOW_IPV4,
    SHOW_IPV6,
    SHOW_PORT_CHANNELS,
    SHOW_SESSIONS,
    SHOW_SWITCHPORTS,
    SHOW_VERSION,
    SHOW_VLANS,
    parse_facts,
    port_channel_members,
    stale_sessions,
)
from eos_vmtracer.vlans import VlanSet

DATA = Path(__file__).resolve().parent.parent / "data" / "eos"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def trunk(mode: str = "trunk", allowed: str = "ALL", native: int = 1, access: int = 1) -> Any:
    info = copy.deepcopy(
        load("show_interfaces_switchport.fake-switches.json")["switchports"]["Ethernet1"]
    )
    info["switchportInfo"].update(
        mode=mode, trunkAllowedVlans=allowed, trunkingNativeVlanId=native, accessVlanId=access
    )
    return info


def outputs(**overrides: Any) -> dict[str, Any]:
    base = {
        SHOW_HOSTNAME: load("show_hostname.anta.json"),
        SHOW_VERSION: load("show_version.anta.json"),
        SHOW_SWITCHPORTS: load("show_interfaces_switchport.fake-switches.json"),
        SHOW_PORT_CHANNELS: {"portChannels": {}},
        SHOW_VLANS: load("show_vlan.napalm.json"),
        SHOW_IPV4: load("show_ip_interface.pyeapi.json"),
        SHOW_SESSIONS: load("show_configuration_sessions.anta.json"),
    }
    base.update(overrides)
    return base


def test_identity_from_recorded_outputs() -> None:
    facts = parse_facts(outputs())
    assert facts.hostname == "s1-spine1"
    assert facts.fqdn == "s1-spine1.fun.aristanetworks.com"
    assert facts.model == "cEOSLab"
    assert facts.version == "4.31.1F-34554157.4311F (engineering build)"
    assert facts.system_mac == "00:1c:73:2e:7b:a3"


@pytest.mark.parametrize(
    "name, model, version",
    [
        ("show_version.pyeapi.json", "DCS-7048T-A-F", "4.14.1-2055159.fldaytonamplspush"),
        ("show_version.napalm.json", "vEOS", "4.15.5M"),
    ],
)
def test_every_recorded_show_version_is_read(name: str, model: str, version: str) -> None:
    facts = parse_facts(outputs(**{SHOW_VERSION: load(name)}))
    assert facts.model == model
    assert facts.version.startswith(version)


def test_recorded_switchports_are_read() -> None:
    facts = parse_facts(outputs())
    assert set(facts.interfaces) == {"Ethernet1", "Ethernet2"}
    eth1 = facts.interfaces["Ethernet1"]
    assert (eth1.mode, eth1.allowed, eth1.native_vlan, eth1.access_vlan) == (
        "access",
        VlanSet.all(),
        1,
        1,
    )
    assert eth1.channel is None and eth1.mac == ""


def test_allowed_vlans_all_none_and_lists() -> None:
    ports = {
        "Ethernet1": trunk(allowed="ALL"),
        "Ethernet2": trunk(allowed="NONE"),
        "Ethernet3": trunk(allowed="10,20-22", native=10),
        "Ethernet4": trunk(mode="access", access=30),
        "Et5": trunk(allowed="7"),  # some releases abbreviate the names
        "Po10": trunk(allowed="100-101"),
    }
    facts = parse_facts(outputs(**{SHOW_SWITCHPORTS: {"switchports": ports}}))
    got = {
        n: (i.mode, str(i.allowed), i.native_vlan, i.access_vlan)
        for n, i in facts.interfaces.items()
    }
    assert got == {
        "Ethernet1": ("trunk", "1-4094", 1, 1),
        "Ethernet2": ("trunk", "NONE", 1, 1),
        "Ethernet3": ("trunk", "10,20-22", 10, 1),
        "Ethernet4": ("access", "1-4094", 1, 30),
        "Ethernet5": ("trunk", "7", 1, 1),
        "Port-Channel10": ("trunk", "100-101", 1, 1),
    }


def test_port_channel_members_from_recorded_output() -> None:
    members = port_channel_members(load("show_port_channel.anta.json"))
    # Active and inactive members count; the MLAG peer's PeerEthernet4 is not ours.
    assert members == {
        "Ethernet1": "Port-Channel1",
        "Ethernet6": "Port-Channel1",
        "Ethernet4": "Port-Channel5",
        "Ethernet8": "Port-Channel5",
    }


def test_members_get_their_channel_whether_listed_as_switchports_or_not() -> None:
    ports = {
        "Ethernet1": trunk(allowed="10"),  # a member EOS lists on its own
        "Port-Channel1": trunk(allowed="100,200"),
        "Port-Channel5": trunk(allowed="300"),
    }
    facts = parse_facts(
        outputs(
            **{
                SHOW_SWITCHPORTS: {"switchports": ports},
                SHOW_PORT_CHANNELS: load("show_port_channel.anta.json"),
            }
        )
    )
    assert facts.interfaces["Ethernet1"].channel == "Port-Channel1"
    assert facts.interfaces["Ethernet1"].allowed == VlanSet([10])
    # Not listed: it carries what its Port-Channel carries.
    assert facts.interfaces["Ethernet6"].channel == "Port-Channel1"
    assert facts.interfaces["Ethernet6"].allowed == VlanSet([100, 200])
    assert facts.interfaces["Ethernet8"].channel == "Port-Channel5"
    assert facts.interfaces["Port-Channel1"].channel is None
    assert "PeerEthernet4" not in facts.interfaces


def test_vlans_without_dynamic_ones() -> None:
    assert parse_facts(outputs()).vlans == {
        1: "default",
        10: "VLAN0010",
        11: "VLAN0011",
        100: "VLAN0100",
        1000: "VLAN1000",
    }
    facts = parse_facts(outputs(**{SHOW_VLANS: load("show_vlan.anta.json")}))
    assert facts.vlans == {1: "default"}  # 4092 and 4094 are dynamic


def test_management_addresses_ipv4_and_ipv6() -> None:
    facts = parse_facts(outputs())
    assert facts.mgmt_addresses == ("192.168.1.16",)  # not Loopback0, not Vlan4094
    assert "Vlan4094" not in facts.interfaces

    ipv6 = load("show_ipv6_interface.napalm.json")
    entry = ipv6["interfaces"].pop("Ethernet36")
    entry["name"] = "Management1"
    ipv6["interfaces"]["Management1"] = entry
    ipv4 = load("show_ip_interface.napalm.json")
    ipv4["interfaces"]["Management1"] = ipv4["interfaces"].pop("Vlan100")
    facts = parse_facts(outputs(**{SHOW_IPV4: ipv4, SHOW_IPV6: ipv6}))
    assert facts.mgmt_addresses == (
        "192.168.233.1",
        "192.168.234.1",
        "192.168.235.1",
        "2001:db8:85a3:8d3:1319:8a2e:370:7349",
    )
    # A routed Ethernet with an address is known, as routed.
    assert facts.interfaces["Ethernet36"].mode == "routed"


def test_stale_sessions_are_pending_ones_with_our_prefix() -> None:
    sessions = load("show_configuration_sessions.anta.json")
    assert stale_sessions(sessions, "jeremy") == ["jeremy1"]
    assert stale_sessions(sessions, "ansible_") == []  # completed
    assert stale_sessions(None, "x") == []


@pytest.mark.parametrize(
    "command, broken",
    [
        (SHOW_VERSION, {"version": "4.31.1F"}),
        (SHOW_HOSTNAME, {"fqdn": "x"}),
        (SHOW_SWITCHPORTS, {"switchports": {"Ethernet1": {"enabled": True}}}),
        (SHOW_SWITCHPORTS, {"switchports": {"Ethernet1": trunk(allowed="10-5")}}),
        (SHOW_VLANS, {"vlans": {"ten": {"name": "x"}}}),
        (SHOW_PORT_CHANNELS, {"portChannels": {"Port-Channel1": {"activePorts": []}}}),
    ],
)
def test_unexpected_shapes_are_permanent_errors_naming_the_command(
    command: str, broken: Any
) -> None:
    with pytest.raises(PermanentSwitchError) as info:
        parse_facts(outputs(**{command: broken}))
    assert info.value.command == command
    assert "unexpected answer" in info.value.message
