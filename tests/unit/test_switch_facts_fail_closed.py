"""The facts parser fails closed: every field it reads is checked, nothing EOS always
sends is defaulted, and a bad answer is a PermanentSwitchError naming the command and
the field, never a ValueError/TypeError/KeyError (and never a made-up value)."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from eos_vmtracer.ledger import LedgerStore
from eos_vmtracer.planner import Plan
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
)
from eos_vmtracer.switch.transport import parse_reply
from eos_vmtracer.vlans import VlanSet
from tests.unit.fakes import FakeClock, SteppedLoop
from tests.unit.test_agent import build, inventory, vm
from tests.unit.test_switch_facts import load, outputs, trunk

Edit = Callable[[dict[str, Any]], None]


def ipv6_management() -> Any:
    ipv6 = load("show_ipv6_interface.napalm.json")
    ipv6["interfaces"]["Management1"] = ipv6["interfaces"].pop("Ethernet36")
    return ipv6


def broken(command: str, edit: Edit) -> dict[str, Any]:
    """The recorded outputs with ``command``'s answer edited by ``edit``."""
    base = outputs(**{SHOW_IPV6: ipv6_management()})
    answer = copy.deepcopy(base[command])
    edit(answer)
    base[command] = answer
    return base


def sw_info(answer: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = answer["switchports"]["Ethernet1"]["switchportInfo"]
    return info


def set_vlan_key(key: str) -> Edit:
    def edit(a: dict[str, Any]) -> None:
        a["vlans"][key] = a["vlans"].pop("10")

    return edit


def mgmt4(a: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = a["interfaces"]["Management1"]
    return entry


CASES: list[tuple[str, Edit, str]] = [
    # show vlan: ids are 1-4094 decimal keys; entries are objects with name and dynamic.
    (SHOW_VLANS, set_vlan_key("4095"), 'vlans."4095": not a VLAN id'),
    (SHOW_VLANS, set_vlan_key("0"), 'vlans."0": not a VLAN id'),
    (SHOW_VLANS, set_vlan_key("-5"), 'vlans."-5": not a VLAN id'),
    (SHOW_VLANS, set_vlan_key("abc"), 'vlans."abc": not a VLAN id'),
    (SHOW_VLANS, set_vlan_key("010"), 'vlans."010": not a VLAN id'),
    (SHOW_VLANS, set_vlan_key(" 10"), 'vlans." 10": not a VLAN id'),
    (SHOW_VLANS, lambda a: a["vlans"].update({"10": "x"}), 'vlans."10": not an object'),
    (SHOW_VLANS, lambda a: a["vlans"]["10"].pop("name"), 'vlans."10".name: missing'),
    (SHOW_VLANS, lambda a: a["vlans"]["10"].update(name=10), 'vlans."10".name: not a string'),
    (SHOW_VLANS, lambda a: a["vlans"]["10"].pop("dynamic"), 'vlans."10".dynamic: missing'),
    (SHOW_VLANS, lambda a: a["vlans"]["10"].update(dynamic=0), "dynamic: not a boolean"),
    (SHOW_VLANS, lambda a: a.pop("vlans"), "vlans: missing"),
    (SHOW_VLANS, lambda a: a.update(vlans=[]), "vlans: not an object"),
    # show interfaces switchport: no default for what EOS always sends.
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).pop("trunkAllowedVlans"), "trunkAllowedVlans: missing"),
    (
        SHOW_SWITCHPORTS,
        lambda a: sw_info(a).update(trunkAllowedVlans=None),
        'switchports."Ethernet1".switchportInfo.trunkAllowedVlans: not a string but null',
    ),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(trunkAllowedVlans=10), "not a string"),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(trunkAllowedVlans="1-5000"), "out of range"),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(trunkingNativeVlanId=0), "not in 1-4094"),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(trunkingNativeVlanId=4095), "not in 1-4094"),
    (
        SHOW_SWITCHPORTS,
        lambda a: sw_info(a).update(trunkingNativeVlanId=True),
        "trunkingNativeVlanId: not a VLAN id but a boolean",
    ),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(accessVlanId="5"), "accessVlanId: not a VLAN"),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).pop("accessVlanId"), "accessVlanId: missing"),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(mode=None), "mode: not a string"),
    (SHOW_SWITCHPORTS, lambda a: sw_info(a).update(mode=""), "mode: empty"),
    (
        SHOW_SWITCHPORTS,
        lambda a: a["switchports"]["Ethernet1"].pop("enabled"),
        'switchports."Ethernet1".enabled: missing',
    ),
    (
        SHOW_SWITCHPORTS,
        lambda a: a["switchports"]["Ethernet1"].update(enabled=1),
        "enabled: not a boolean",
    ),
    (
        SHOW_SWITCHPORTS,
        lambda a: a["switchports"]["Ethernet1"].update(switchportInfo=[]),
        "switchportInfo: not an object",
    ),
    (
        SHOW_SWITCHPORTS,
        lambda a: a["switchports"].update(Et1=copy.deepcopy(a["switchports"]["Ethernet1"])),
        "Ethernet1 is listed twice",
    ),
    (SHOW_SWITCHPORTS, lambda a: a.pop("switchports"), "switchports: missing"),
    # show port-channel all-ports
    (SHOW_PORT_CHANNELS, lambda a: a.update(portChannels=None), "portChannels: not an object"),
    (
        SHOW_PORT_CHANNELS,
        lambda a: a.update(portChannels={"Port-Channel1": {"activePorts": {}}}),
        'portChannels."Port-Channel1".inactivePorts: missing',
    ),
    (
        SHOW_PORT_CHANNELS,
        lambda a: a.update(
            portChannels={"Port-Channel1": {"activePorts": [], "inactivePorts": {}}}
        ),
        "activePorts: not an object",
    ),
    (
        SHOW_PORT_CHANNELS,
        lambda a: a.update(
            portChannels={
                "Port-Channel1": {"activePorts": {"Ethernet1": {}}, "inactivePorts": {}},
                "Port-Channel2": {"activePorts": {}, "inactivePorts": {"Ethernet1": {}}},
            }
        ),
        "also a member of Port-Channel1",
    ),
    # show hostname / show version: nothing defaulted.
    (SHOW_HOSTNAME, lambda a: a.pop("fqdn"), "fqdn: missing"),
    (SHOW_HOSTNAME, lambda a: a.update(hostname=["x"]), "hostname: not a string but a list"),
    (SHOW_VERSION, lambda a: a.pop("systemMacAddress"), "systemMacAddress: missing"),
    (SHOW_VERSION, lambda a: a.update(modelName=7), "modelName: not a string"),
    # show ip interface: the management addresses (CDP tells them to ESXi).
    (
        SHOW_IPV4,
        lambda a: mgmt4(a).update(interfaceAddress=5),
        'interfaces."Management1".interfaceAddress: not an object',
    ),
    (
        SHOW_IPV4,
        lambda a: mgmt4(a)["interfaceAddress"].update(secondaryIpsOrderedList=5),
        "secondaryIpsOrderedList: not a list but a number",
    ),
    (
        SHOW_IPV4,
        lambda a: mgmt4(a)["interfaceAddress"]["primaryIp"].update(address=3232235792),
        "primaryIp.address: not a string",
    ),
    (
        SHOW_IPV4,
        lambda a: mgmt4(a)["interfaceAddress"]["primaryIp"].update(address="192.168.1.300"),
        "primaryIp.address: not an IPv4 address",
    ),
    (
        SHOW_IPV4,
        lambda a: mgmt4(a)["interfaceAddress"].pop("primaryIp"),
        "primaryIp: missing",
    ),
    (SHOW_IPV4, lambda a: a.update(interfaces=[]), "interfaces: not an object"),
    (SHOW_IPV4, lambda a: a["interfaces"].update(Ethernet9=None), "not an object"),
    # show ipv6 interface is optional (EOS may answer it with an error), but an answer
    # it did give is checked as strictly as the others.
    (
        SHOW_IPV6,
        lambda a: mgmt4(a).update(addresses=7),
        'interfaces."Management1".addresses: not a list but a number',
    ),
    (
        SHOW_IPV6,
        lambda a: mgmt4(a)["addresses"][0].update(address="10.0.0.1"),
        "addresses[0].address: not an IPv6 address",
    ),
    (SHOW_IPV6, lambda a: mgmt4(a).update(addresses=[None]), "addresses[0]: not an object"),
    # show configuration sessions
    (SHOW_SESSIONS, lambda a: a.update(sessions=[]), "sessions: not an object"),
    (SHOW_SESSIONS, lambda a: a["sessions"]["jeremy1"].pop("state"), "state: missing"),
]


@pytest.mark.parametrize("command, edit, message", CASES, ids=[f"{c}: {m}" for c, _, m in CASES])
def test_a_bad_field_is_a_permanent_error_naming_command_and_field(
    command: str, edit: Edit, message: str
) -> None:
    with pytest.raises(PermanentSwitchError) as info:
        parse_facts(broken(command, edit))
    assert info.value.command == command
    assert "unexpected answer from EOS" in info.value.message
    assert message in info.value.message


def test_the_unedited_samples_parse() -> None:
    facts = parse_facts(broken(SHOW_VLANS, lambda a: None))
    assert facts.mgmt_addresses == ("192.168.1.16", "2001:db8:85a3:8d3:1319:8a2e:370:7349")


@pytest.mark.parametrize("command", [SHOW_HOSTNAME, SHOW_SWITCHPORTS, SHOW_SESSIONS])
def test_a_missing_or_non_object_answer_is_an_error(command: str) -> None:
    for value in (None, [], "text", 5):
        base = outputs()
        if value is None:
            del base[command]
        else:
            base[command] = value
        with pytest.raises(PermanentSwitchError) as info:
            parse_facts(base)
        assert info.value.command == command


def test_a_key_in_an_error_is_quoted_escaped_and_capped() -> None:
    key = "1\n\x1b[2J" + "9" * 200
    with pytest.raises(PermanentSwitchError) as info:
        parse_facts(broken(SHOW_VLANS, set_vlan_key(key)))
    text = str(info.value)
    assert "\n" not in text and "\x1b" not in text
    assert '"1\\n\\u001b[2J' in text and len(text) < 200


def test_a_result_that_is_not_an_object_is_not_read_as_empty() -> None:
    commands = ["show version", "show vlan"]
    reply = parse_reply({"result": [{"version": "x"}, None]}, commands)
    assert reply.results == [{"version": "x"}, None]  # kept as sent, not made {}
    error = {
        "code": 1002,
        "message": "CLI command 3 of 3 'x' failed: invalid command",
        "data": [{}, 7, {"errors": ["Invalid input"]}],
    }
    assert parse_reply({"error": error}, [*commands, "x"]).results == [{}, 7]
    for value in (None, 7, [], "text"):
        answers = outputs(**{SHOW_VLANS: value})
        with pytest.raises(PermanentSwitchError) as info:
            parse_facts(answers)
        assert info.value.command == SHOW_VLANS


# -- the story of issue 11: an invented NONE takes a VLAN off the operator's ALL trunk ----


class JsonSwitch:
    """A switch that answers in EOS JSON, read by the real parser.

    Ethernet1 is the operator's trunk allowing ALL. The first ``glitches`` answers
    carry ``trunkAllowedVlans: null`` for it (a malformed answer); later ones are right.
    """

    def __init__(self, glitches: int) -> None:
        self.allowed: dict[str, Optional[set[int]]] = {  # None: ALL
            "Ethernet1": None,
            "Ethernet2": set(range(1, 11)),
        }
        self.vlans = {1: "default", **{v: f"VM-{v}" for v in range(100, 200)}}
        self.glitches = glitches
        self.reads = 0
        self.applied: list[Plan] = []
        self.lock = threading.Lock()

    def _answer(self) -> dict[str, Any]:
        ports = {}
        for name, allowed in self.allowed.items():
            text = "ALL" if allowed is None else str(VlanSet(allowed))
            port = trunk(allowed=text)
            if allowed is None and self.reads <= self.glitches:
                port["switchportInfo"]["trunkAllowedVlans"] = None
            ports[name] = port
        vlans = {
            str(v): {"name": n, "dynamic": False, "status": "active", "interfaces": {}}
            for v, n in self.vlans.items()
        }
        return outputs(
            **{
                SHOW_HOSTNAME: {"hostname": "leaf1", "fqdn": "leaf1.example.net"},
                SHOW_SWITCHPORTS: {"switchports": ports, "sourceDetail": ""},
                SHOW_VLANS: {"vlans": vlans, "sourceDetail": ""},
            }
        )

    def facts(self) -> Any:
        with self.lock:
            self.reads += 1
            return parse_facts(self._answer())

    def apply(self, plan: Plan) -> Any:
        with self.lock:
            self.applied.append(plan)
            for change in plan.changes:
                now = self.allowed[change.interface]
                full = set(range(1, 4095)) if now is None else now
                after = (full | set(change.add)) - set(change.remove)
                self.allowed[change.interface] = None if after == set(range(1, 4095)) else after
            self.vlans.update(plan.create_vlans)
        return self.facts()

    def close(self) -> None:
        pass


def test_a_null_allowed_list_never_costs_the_operators_all_trunk_a_vlan(tmp_path: Path) -> None:
    switch = JsonSwitch(glitches=1)
    # host-1 is cabled to Ethernet1 (the ALL trunk); its VM needs VLAN 120.
    clock = FakeClock()
    agent, _, session = build(
        tmp_path,
        remove_delay=20.0,
        vms=[vm(1, "host-1", 120)],
        clock=clock,
        switch=switch,
        interfaces=("Ethernet1", "Ethernet2"),
    )
    with agent.started():
        loop = SteppedLoop(agent, clock)
        loop.turn()  # the first read glitches (null allowed list): refused
        assert switch.reads == 1
        doc = agent.status_document()
        loop.run_for(5)
        session.set(inventory([vm(1, "host-1", 120, on=False)]))  # VLAN 120 unneeded
        loop.turn()
        loop.run_for(100)  # well past remove_delay, and periodic checks
        ledger = LedgerStore(str(tmp_path / "state")).load()
        assert switch.reads > 1 and agent.status_document()["switch"]["reachable"] is True
    assert switch.allowed["Ethernet1"] is None, "VLAN taken off the operator's ALL trunk"
    assert ("Ethernet1", 120) not in ledger.entries, "an ALL trunk's VLAN recorded as ours"
    assert not [c for p in switch.applied for c in p.changes if c.interface == "Ethernet1"]
    # The malformed answer was refused and said so.
    assert doc["switch"]["reachable"] is False
    assert "trunkAllowedVlans: not a string but null" in doc["switch"]["error"]
