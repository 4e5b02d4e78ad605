"""Fuzzing the facts parser: whatever JSON eAPI sends, the result is SwitchFacts whose
every value is in range, or a clean PermanentSwitchError naming a command."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eos_vmtracer.model import SwitchFacts
from eos_vmtracer.switch import PermanentSwitchError
from eos_vmtracer.switch.facts import OPTIONAL_COMMANDS, REQUIRED_COMMANDS, SHOW_IPV6, parse_facts
from eos_vmtracer.vlans import VLAN_MAX, VLAN_MIN
from tests.examples import examples
from tests.unit.test_switch_facts import load, outputs

COMMANDS = (*REQUIRED_COMMANDS, *OPTIONAL_COMMANDS)
#: Keys real answers use, so generated objects reach past the first check.
KEYS = [
    "hostname",
    "fqdn",
    "modelName",
    "version",
    "systemMacAddress",
    "switchports",
    "enabled",
    "switchportInfo",
    "mode",
    "trunkAllowedVlans",
    "trunkingNativeVlanId",
    "accessVlanId",
    "portChannels",
    "activePorts",
    "inactivePorts",
    "vlans",
    "name",
    "dynamic",
    "interfaces",
    "interfaceAddress",
    "primaryIp",
    "address",
    "secondaryIpsOrderedList",
    "addresses",
    "sessions",
    "state",
    "Ethernet1",
    "Et2",
    "Port-Channel1",
    "Management1",
    "PeerEthernet3",
    "1",
    "10",
    "4094",
    "4095",
    "0",
]

keys = st.sampled_from(KEYS) | st.text(max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=5000)
    | st.floats(allow_nan=False)
    | st.sampled_from(["ALL", "NONE", "10,20-30", "1-4094", "4095", "trunk", "", "10.0.0.1"])
    | st.text(max_size=10)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def check(answers: Any) -> None:
    """The property: SwitchFacts in range, or a PermanentSwitchError naming a command."""
    try:
        facts = parse_facts(answers)
    except PermanentSwitchError as e:
        assert e.command in COMMANDS, e.command
        assert "unexpected answer from EOS" in e.message
        return
    assert isinstance(facts, SwitchFacts)
    for text in (facts.hostname, facts.fqdn, facts.model, facts.version, facts.system_mac):
        assert isinstance(text, str)
    for vid, name in facts.vlans.items():
        assert isinstance(vid, int) and VLAN_MIN <= vid <= VLAN_MAX and isinstance(name, str)
    for name, iface in facts.interfaces.items():
        assert name == iface.name and isinstance(iface.mode, str) and iface.mode
        assert all(VLAN_MIN <= v <= VLAN_MAX for v in iface.allowed)
        for vid in (iface.native_vlan, iface.access_vlan):
            assert not isinstance(vid, bool) and VLAN_MIN <= vid <= VLAN_MAX
    for address in facts.mgmt_addresses:
        ipaddress.ip_address(address)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(COMMANDS), json_values, max_size=len(COMMANDS)))
def test_arbitrary_json_gives_facts_or_a_clean_error(answers: dict[str, Any]) -> None:
    check(answers)


def samples() -> dict[str, Any]:
    ipv6 = load("show_ipv6_interface.napalm.json")
    ipv6["interfaces"]["Management1"] = ipv6["interfaces"].pop("Ethernet36")
    base = outputs(**{SHOW_IPV6: ipv6})
    base["show port-channel all-ports"] = load("show_port_channel.anta.json")
    return base


SAMPLES = samples()


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_real_answers_give_facts_or_a_clean_error(data: st.DataObject) -> None:
    answers = copy.deepcopy(SAMPLES)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        command = data.draw(st.sampled_from(sorted(answers)), label="command")
        parent: Any = answers
        key: Any = command
        # Walk down a random path of the real answer.
        while isinstance(parent[key], (dict, list)) and parent[key]:
            if not data.draw(st.booleans(), label="deeper"):
                break
            child = parent[key]
            parent, key = (
                child,
                data.draw(
                    st.sampled_from(
                        sorted(child) if isinstance(child, dict) else range(len(child))
                    ),
                    label="step",
                ),
            )
        action = data.draw(st.sampled_from(["replace", "delete", "rename"]), label="action")
        if action == "replace" or isinstance(parent, list):
            parent[key] = data.draw(json_values, label="value")
        elif action == "delete":
            del parent[key]
        else:
            parent[data.draw(keys, label="new key")] = parent.pop(key)
    check(answers)


def test_the_samples_themselves_pass_the_property() -> None:
    check(copy.deepcopy(SAMPLES))
    assert parse_facts(copy.deepcopy(SAMPLES)).interfaces


@given(st.lists(st.text(max_size=12), max_size=8))
def test_any_interface_names_can_be_put_in_order(names: list[str]) -> None:
    # Management interfaces are sorted by name whatever EOS calls them ("Management1²").
    from eos_vmtracer.vlans import interface_sort_key

    assert sorted(sorted(names, key=interface_sort_key), key=interface_sort_key) == sorted(
        names, key=interface_sort_key
    )
