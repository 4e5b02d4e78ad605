"""The eAPI emulator itself: JSON shapes against recorded EOS outputs, CLI and session rules.

These drive the emulator's engine in-process (no sockets); the integration tests
talk to it over HTTP and the Unix socket.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import pytest

from lab.eapi.cli import Engine
from lab.eapi.server import EapiEmulator
from lab.eapi.state import SwitchState

DATA = Path(__file__).resolve().parent.parent / "data" / "eos"

# -- shapes -----------------------------------------------------------------------------

#: Objects keyed by data (interface names, VLAN ids, session names), per command.
MAPS: dict[str, set[tuple[str, ...]]] = {
    "show interfaces switchport": {
        ("switchports",),
        ("switchports", "*", "switchportInfo", "dynamicAllowedVlans"),
    },
    "show vlan": {("vlans",), ("vlans", "*", "interfaces")},
    "show port-channel all-ports": {
        ("portChannels",),
        ("portChannels", "*", "activePorts"),
        ("portChannels", "*", "inactivePorts"),
        ("portChannels", "*", "rxPorts"),
    },
    "show ip interface": {("interfaces",), ("interfaces", "*", "interfaceAddress", "secondaryIps")},
    "show ipv6 interface": {("interfaces",)},
    "show configuration sessions": {("sessions",), ("sessions", "*", "instances")},
}
SAMPLES = {
    "show hostname": ["show_hostname.napalm.json", "show_hostname.anta.json"],
    "show version": [
        "show_version.pyeapi.json",
        "show_version.napalm.json",
        "show_version.anta.json",
    ],
    "show interfaces switchport": ["show_interfaces_switchport.fake-switches.json"],
    "show vlan": ["show_vlan.napalm.json", "show_vlan.anta.json"],
    "show port-channel all-ports": ["show_port_channel.anta.json"],
    "show ip interface": ["show_ip_interface.pyeapi.json", "show_ip_interface.napalm.json"],
    "show ipv6 interface": ["show_ipv6_interface.napalm.json"],
    "show lldp neighbors": ["show_lldp_neighbors.napalm.json"],
    "show configuration sessions": ["show_configuration_sessions.anta.json"],
}


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object"


class Shape:
    """What recorded samples say a value looks like."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.keys: dict[str, Shape] = {}
        self.required: Optional[set[str]] = None
        self.items: Optional[Shape] = None
        self.values: Optional[Shape] = None  # for maps keyed by data

    def learn(self, value: Any, path: tuple[str, ...], maps: set[tuple[str, ...]]) -> None:
        self.kinds.add(kind(value))
        if isinstance(value, dict):
            if path in maps:
                for v in value.values():
                    self.values = self.values or Shape()
                    self.values.learn(v, (*path, "*"), maps)
            elif value:  # an empty object says nothing about its keys
                present = set(value)
                self.required = present if self.required is None else self.required & present
                for k, v in value.items():
                    self.keys.setdefault(k, Shape()).learn(v, (*path, k), maps)
        elif isinstance(value, list):
            for item in value:
                self.items = self.items or Shape()
                self.items.learn(item, (*path, "[]"), maps)

    def check(
        self, value: Any, where: str, maps: set[tuple[str, ...]], path: tuple[str, ...]
    ) -> list[str]:
        got = kind(value)
        if got not in self.kinds and not (got == "int" and "float" in self.kinds):
            return [f"{where}: {got}, recorded EOS has {sorted(self.kinds)}"]
        problems: list[str] = []
        if isinstance(value, dict) and path in maps:
            if self.values is not None:
                for k, v in value.items():
                    problems += self.values.check(v, f"{where}[{k}]", maps, (*path, "*"))
        elif isinstance(value, dict) and self.required is not None:
            for k in sorted(self.required - set(value)):
                problems.append(f"{where}: missing key '{k}' that every recording has")
            for k, v in value.items():
                if k not in self.keys:
                    problems.append(f"{where}: key '{k}' that no recording has")
                else:
                    problems += self.keys[k].check(v, f"{where}.{k}", maps, (*path, k))
        elif isinstance(value, list) and self.items is not None:
            for i, item in enumerate(value):
                problems += self.items.check(item, f"{where}[{i}]", maps, (*path, "[]"))
        return problems


def rich_state() -> SwitchState:
    state = SwitchState.build(
        ethernet=8,
        trunk_allowed="1-20",
        port_channels={"Port-Channel10": ["Ethernet7", "Ethernet8"]},
        vlans={10: "web", 20: ""},
        mgmt_ipv6=["2001:db8::10/64"],
        lldp=[{"port": "Ethernet1", "neighborDevice": "esx1", "neighborPort": "vmnic0"}],
        domain="example.net",
    )
    state.interfaces["Ethernet8"].active = False
    state.interfaces["Ethernet2"].mode = "access"
    state.interfaces["Ethernet2"].access_vlan = 10
    return state


def run(engine: Engine, *commands: str, fmt: str = "json") -> list[dict[str, Any]]:
    results, failure = engine.execute(list(commands), fmt)
    assert failure is None, failure[1].errors if failure else None
    return results


@pytest.mark.parametrize("command", sorted(SAMPLES))
def test_emulator_answers_have_the_recorded_shapes(command: str) -> None:
    maps = MAPS.get(command, set())
    shape = Shape()
    for name in SAMPLES[command]:
        shape.learn(json.loads((DATA / name).read_text()), (), maps)
    engine = Engine(rich_state())
    run(engine, "enable", "configure session old", "vlan 30", "end")  # a pending session
    run(engine, "enable", "configure session done", "vlan 31", "commit")  # and a completed one
    answer = run(engine, command)[0]
    assert shape.check(answer, command, maps, ()) == []


def error_of(engine: Engine, *commands: str) -> dict[str, Any]:
    emulator = EapiEmulator()
    emulator.engine = engine
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "runCmds",
            "id": 7,
            "params": {"version": 1, "cmds": list(commands)},
        }
    )
    status, _, data = emulator.handle_rpc(body.encode(), "http")
    assert status == 200
    answer: dict[str, Any] = json.loads(data)
    return answer


def test_invalid_command_error_has_the_recorded_shape() -> None:
    recorded = json.loads((DATA / "error_invalid_command.anta.json").read_text())
    answer = error_of(Engine(rich_state()), "show version", "bad command", "show hostname")
    assert set(answer) == set(recorded)
    error = answer["error"]
    assert set(error) == set(recorded["error"])
    assert error["code"] == 1002
    assert error["message"] == "CLI command 2 of 3 'bad command' failed: invalid command"
    assert len(error["data"]) == 2 and error["data"][0]["modelName"] == "DCS-7050TX-64"
    assert error["data"][1] == {"errors": ["Invalid input (at token 0: 'bad')"]}


def test_could_not_run_error_has_the_recorded_shape() -> None:
    recorded = json.loads((DATA / "error_could_not_run.fake-switches.json").read_text())
    answer = error_of(Engine(SwitchState.build(mgmt_ipv6=())), "show ipv6 interface")
    assert answer["error"]["code"] == recorded["error"]["code"] == 1000
    assert re.fullmatch(
        r"CLI command 1 of 1 '.*' failed: could not run command", answer["error"]["message"]
    )
    assert answer["error"]["data"] == [{"errors": ["No IPv6 configured interfaces"]}]


# -- CLI --------------------------------------------------------------------------------


def failure(engine: Engine, *commands: str) -> tuple[int, int, list[str]]:
    _, failed = engine.execute(list(commands))
    assert failed is not None, "expected an error"
    index, error = failed
    return index, error.code, error.errors


def test_unknown_commands_fail_loudly() -> None:
    engine = Engine(rich_state())
    assert failure(engine, "show vlan shizzle") == (
        0,
        1002,
        ["Invalid input (at token 2: 'shizzle')"],
    )
    assert failure(engine, "enable", "configure", "interface Ethernet1", "switchport nonsense") == (
        3,
        1002,
        ["Invalid input (at token 1: 'nonsense')"],
    )
    assert failure(engine, "enable", "configure", "interface Ethernet99")[1:] == (
        1002,
        ["Invalid input (at token 1: 'Ethernet99')"],
    )
    assert failure(engine, "enable", "configure", "vlan 5000")[1] == 1002
    assert failure(engine, "enable", "configure", "switchport mode")[2] == [
        "Invalid input (at token 0: 'switchport')"
    ]


def test_configuration_needs_enable() -> None:
    engine = Engine(rich_state())
    assert failure(engine, "configure") == (0, 1002, ["Invalid input (privileged mode required)"])
    assert failure(engine, "show running-config")[2] == ["Invalid input (privileged mode required)"]


@pytest.mark.parametrize(
    "start, commands, expected",
    [
        ("ALL", ["switchport trunk allowed vlan add 10"], "ALL"),
        ("ALL", ["switchport trunk allowed vlan remove 100"], "1-99,101-4094"),
        ("10,20", ["switchport trunk allowed vlan add 30-31"], "10,20,30-31"),
        ("10,20", ["switchport trunk allowed vlan remove 20,99"], "10"),
        ("10,20", ["switchport trunk allowed vlan none"], "NONE"),
        ("10,20", ["switchport trunk allowed vlan all"], "ALL"),
        ("10,20", ["switchport trunk allowed vlan except 2-4094"], "1"),
        ("10,20", ["switchport trunk allowed vlan 5,7"], "5,7"),
        ("10,20", ["no switchport trunk allowed vlan"], "ALL"),
        ("NONE", ["switchport trunk allowed vlan add 1-4094"], "ALL"),
    ],
)
def test_trunk_allowed_vlans(start: str, commands: list[str], expected: str) -> None:
    engine = Engine(SwitchState.build(ethernet=2, trunk_allowed=start))
    run(engine, "enable", "configure", "interface Ethernet1", *commands, "end")
    info = run(engine, "show interfaces switchport")[0]["switchports"]
    assert info["Ethernet1"]["switchportInfo"]["trunkAllowedVlans"] == expected
    assert info["Ethernet2"]["switchportInfo"]["trunkAllowedVlans"] == start


def test_interface_ranges_and_abbreviations() -> None:
    engine = Engine(SwitchState.build(ethernet=8, trunk_allowed="NONE"))
    run(engine, "enable", "configure", "interface Et1-3,5", "switchport trunk allowed vlan add 9")
    run(engine, "enable", "configure", "interface Ethernet 8", "switchport trunk allowed vlan 8")
    info = run(engine, "show interfaces switchport")[0]["switchports"]
    allowed = {n: i["switchportInfo"]["trunkAllowedVlans"] for n, i in info.items()}
    assert allowed == {
        "Ethernet1": "9", "Ethernet2": "9", "Ethernet3": "9", "Ethernet4": "NONE",
        "Ethernet5": "9", "Ethernet6": "NONE", "Ethernet7": "NONE", "Ethernet8": "8",
    }  # fmt: skip


def test_session_edits_reach_running_config_only_on_commit() -> None:
    engine = Engine(SwitchState.build(ethernet=2, trunk_allowed="10"))
    before = engine.running.running_config()
    run(engine, "enable", "configure session s1", "vlan 20", "name app", "interface Ethernet1",
        "switchport trunk allowed vlan add 20")  # fmt: skip
    assert engine.running.running_config() == before
    sessions = run(engine, "show configuration sessions")[0]["sessions"]
    assert sessions["s1"]["state"] == "pending"
    run(engine, "enable", "configure session s1", "commit")
    after = engine.running.running_config()
    assert "vlan 20\n   name app\n" in after
    assert "switchport trunk allowed vlan 10,20\n" in after
    assert run(engine, "show configuration sessions")[0]["sessions"]["s1"]["state"] == "completed"


def test_a_failure_mid_request_leaves_the_session_pending_and_abort_discards_it() -> None:
    engine = Engine(SwitchState.build(ethernet=2))
    before = engine.running.running_config()
    index, code, _ = failure(
        engine, "enable", "configure session s2", "vlan 20", "interface Ethernet9", "commit"
    )
    assert (index, code) == (3, 1002)
    assert engine.running.running_config() == before
    assert engine.sessions["s2"].state == "pending"
    run(engine, "enable", "configure session s2 abort")
    assert "s2" not in engine.sessions
    assert engine.running.running_config() == before
    assert failure(engine, "enable", "configure session s2 abort")[1] == 1000


def test_pending_sessions_are_limited() -> None:
    engine = Engine(SwitchState.build(ethernet=1))
    for n in range(5):
        run(engine, "enable", f"configure session p{n}", "end")
    index, code, errors = failure(engine, "enable", "configure session p5")
    assert (index, code) == (1, 1000)
    assert "Maximum number of pending sessions" in errors[0]


def test_running_config_text_and_json() -> None:
    engine = Engine(
        SwitchState.build(ethernet=2, trunk_allowed="10", vlans={10: "web", 20: "", 21: "", 30: ""})
    )
    text = run(engine, "enable", "show running-config", fmt="text")[1]["output"]
    assert "vlan 10\n   name web\n!\nvlan 20-21,30\n!\n" in text
    assert (
        "interface Ethernet1\n   switchport trunk allowed vlan 10\n   switchport mode trunk\n"
        in text
    )
    cmds = run(engine, "enable", "show running-config")[1]["cmds"]
    assert cmds["interface Ethernet1"]["cmds"] == {
        "switchport trunk allowed vlan 10": None,
        "switchport mode trunk": None,
    }


def test_show_vlan_lists_the_trunks_carrying_each_vlan() -> None:
    engine = Engine(rich_state())
    vlans = run(engine, "show vlan")[0]["vlans"]
    assert set(vlans) == {"1", "10", "20"}
    assert vlans["10"]["name"] == "web" and vlans["20"]["name"] == "VLAN0020"
    assert "Ethernet2" in vlans["10"]["interfaces"]  # access port in VLAN 10
    assert "Ethernet7" not in vlans["10"]["interfaces"]  # a member shows as its Port-Channel
    assert "Port-Channel10" in vlans["10"]["interfaces"]


def test_port_channel_members_active_and_not() -> None:
    channels = run(Engine(rich_state()), "show port-channel all-ports")[0]["portChannels"]
    po = channels["Port-Channel10"]
    assert set(po["activePorts"]) == {"Ethernet7"}
    assert set(po["inactivePorts"]) == {"Ethernet8"}
