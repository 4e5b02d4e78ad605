"""The configuration keys of a real fabric: session.vrf, session.source_interface and
switch.static_hosts load with their defaults, and bad values give one line."""

from __future__ import annotations

from typing import Any

import pytest

from eos_vmtracer.config import ConfigError, from_mapping


def config(switch: dict[str, Any] | None = None, **session: Any) -> Any:
    sess = {
        "name": "vc1",
        "url": "https://vc1.example.com/sdk",
        "username": "svc",
        "password_env": "HOME",
        "allowed_vlans": "100-199",
        **session,
    }
    sw = {"interfaces": ["Ethernet1-8", "Port-Channel10"], **(switch or {})}
    return from_mapping({"switch": sw, "session": [sess]}, "vmtracer.toml")


def test_defaults_are_the_default_vrf_no_source_and_no_static_hosts() -> None:
    cfg = config()
    assert cfg.sessions[0].vrf == "default"
    assert cfg.sessions[0].source_interface == ""
    assert dict(cfg.switch.static_hosts) == {}


def test_an_avd_style_management_vrf_and_source_interface() -> None:
    cfg = config(vrf="MGMT", source_interface="ma1")
    assert cfg.sessions[0].vrf == "MGMT"
    assert cfg.sessions[0].source_interface == "Management1"
    assert config(source_interface="Loopback0").sessions[0].source_interface == "Loopback0"
    assert config(source_interface="vlan4094").sessions[0].source_interface == "Vlan4094"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("vrf", "", "is not a VRF name"),
        ("vrf", "ns/../etc", "is not a VRF name"),
        ("vrf", "MG MT", "is not a VRF name"),
        ("vrf", 5, "must be a string"),
        ("source_interface", "Tunnel1", "is not an interface with an address"),
        ("source_interface", "Management1\n", "is not an interface with an address"),
    ],
)
def test_bad_vrf_or_source_interface_is_one_line(key: str, value: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(**{key: value})
    assert str(e.value).startswith(f"vmtracer.toml: session[1].{key}: ")
    assert problem in str(e.value)
    assert "\n" not in str(e.value)


def test_static_hosts_are_canonical_interfaces_with_lowercase_patterns() -> None:
    cfg = config({"static_hosts": {"et4": ["Blade-A-*.example.com"], "Po10": "fi-b-*"}})
    assert dict(cfg.switch.static_hosts) == {
        "Ethernet4": ("blade-a-*.example.com",),
        "Port-Channel10": ("fi-b-*",),
    }


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (["blade*"], "must be a table of interface"),
        ({"Management1": ["x"]}, "is not an Ethernet or Port-Channel interface name"),
        ({"Ethernet4": []}, "must be a non-empty list"),
        ({"Ethernet4": [3]}, "patterns must be strings"),
        ({"Ethernet4": [""]}, "is not a host-name pattern"),
        ({"Ethernet4": ["a\x07b"]}, "is not a host-name pattern"),
        ({"Ethernet4": ["Blade*", "blade*"]}, "is listed twice"),
        ({"Ethernet4": ["a"], "et4": ["b"]}, "Ethernet4 is listed twice"),
        ({"Port-Channel20": ["a"]}, "Port-Channel20 is not in switch.interfaces"),
    ],
)
def test_bad_static_hosts_are_one_line(table: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        config({"static_hosts": table})
    assert str(e.value).startswith("vmtracer.toml: switch.static_hosts: ")
    assert problem in str(e.value)


def test_a_static_host_on_an_uplink_is_refused() -> None:
    with pytest.raises(ConfigError, match="Port-Channel99 is an uplink"):
        config({"uplinks": ["Port-Channel99"], "static_hosts": {"Port-Channel99": ["x"]}})
