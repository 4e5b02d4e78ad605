"""source_interface's address from ``show ip interface NAME``: EOS's JSON checked, nothing
invented (no address, another VRF, odd data are errors that say so)."""

from __future__ import annotations

from typing import Any

import pytest

from eos_vmtracer.switch.addresses import NoAddress, parse_interface_address


def show(address: Any = "10.1.2.3", vrf: Any = "MGMT", name: str = "Management1") -> Any:
    """What EOS answers (trimmed to the keys that matter, plus some it always sends)."""
    return {
        "interfaces": {
            name: {
                "name": name,
                "interfaceStatus": "connected",
                "lineProtocolStatus": "up",
                "vrf": vrf,
                "interfaceAddress": {
                    "primaryIp": {"address": address, "maskLen": 24},
                    "secondaryIps": {},
                    "secondaryIpsOrderedList": [],
                    "virtualIp": {"address": "0.0.0.0", "maskLen": 0},
                },
            }
        }
    }


def test_the_primary_address_in_the_sessions_vrf() -> None:
    assert parse_interface_address(show(), "Management1", "MGMT") == "10.1.2.3"
    assert parse_interface_address(show(vrf="default"), "Management1", "default") == "10.1.2.3"


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (show(address="0.0.0.0"), "Management1 has no IPv4 address"),
        (show(vrf="default"), "Management1 is in VRF default, not in VRF MGMT"),
        (show(vrf=None), "EOS does not say which VRF Management1 is in"),
        (show(address=None), "EOS shows no primary address for Management1"),
        (show(address="10.1.2"), "'10.1.2' is not an IPv4 address"),
        ({"interfaces": {}}, "EOS shows no IP interface Management1"),
        (show(name="Management2"), "EOS shows no IP interface Management1"),
        ([], "EOS shows no IP interface Management1"),
        ({"interfaces": {"Management1": "up"}}, "EOS shows no IP interface Management1"),
    ],
)
def test_no_usable_address_is_an_error_saying_why(output: Any, problem: str) -> None:
    with pytest.raises(NoAddress) as e:
        parse_interface_address(output, "Management1", "MGMT")
    assert problem in str(e.value)
