"""The switch adapter against the eAPI emulator, over the Unix socket, HTTP and HTTPS.

Every test runs for pyeapi's ``socket`` transport (HTTP over a Unix socket, the
on-box default), its ``http`` transport (TCP, Basic authentication with a
password file) and its ``https`` transport (the same over TLS, self-signed
certificate, verified with it as the CA file). The emulator is the one real peer; nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.planner import InterfaceChange, Plan
from eos_vmtracer.switch import (
    EapiSwitch,
    PermanentSwitchError,
    TransientSwitchError,
    plan_commands,
)
from eos_vmtracer.switch.eapi import FACTS_COMMANDS
from eos_vmtracer.vlans import VlanSet
from lab.eapi import EapiEmulator, LabClient, SwitchState
from lab.eapi.tls import self_signed

pytestmark = pytest.mark.integration

USER, PASSWORD = "vmtracer", "s3cret-eapi"


@dataclass
class Lab:
    emulator: EapiEmulator
    cfg: SwitchConfig
    client: LabClient  # an operator / a test in another process would use this
    directory: str

    def switch(self, **kw: Any) -> EapiSwitch:
        kw.setdefault("backoff", 0.01)
        return EapiSwitch(self.cfg, **kw)

    def config(self) -> str:
        return self.client.running_config()


def initial_state() -> SwitchState:
    state = SwitchState.build(
        hostname="leaf7",
        domain="dc1.example.net",
        model="DCS-7280SR-48C6",
        version="4.30.2F",
        system_mac="00:1c:73:aa:bb:cc",
        ethernet=48,
        trunk_allowed="1-9",
        port_channels={"Port-Channel10": ["Ethernet49", "Ethernet50"]},
        vlans={5: "mgmt-hosts", 7: ""},
        mgmt_ipv4="192.0.2.77/24",
    )
    state.interfaces["Ethernet2"].allowed = None  # ALL
    state.interfaces["Ethernet3"].allowed = frozenset()  # NONE
    state.interfaces["Ethernet4"].mode = "access"
    state.interfaces["Ethernet4"].access_vlan = 5
    state.interfaces["Ethernet5"].allowed = frozenset({10, 20, 30})
    state.interfaces["Ethernet5"].native_vlan = 7
    return state


@pytest.fixture(scope="module")
def certificate() -> Iterator[tuple[str, str]]:
    directory = tempfile.mkdtemp(prefix="eapi-tls-")
    try:
        yield self_signed(directory)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["socket", "http", "https"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    tls = request.getfixturevalue("certificate") if request.param == "https" else None
    directory = tempfile.mkdtemp(prefix="eapi-")  # short: AF_UNIX paths are limited
    emulator = EapiEmulator(initial_state(), users={USER: PASSWORD})
    ends = emulator.start(http_port=0, socket_path=os.path.join(directory, "eapi.sock"), tls=tls)
    try:
        if request.param == "socket":
            cfg = SwitchConfig(
                eapi_transport="socket", eapi_socket=ends.socket_path or "", eapi_timeout=5
            )
        else:
            secret = os.path.join(directory, "eapi.password")
            with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(PASSWORD + "\n")
            cfg = SwitchConfig(
                eapi_transport=request.param,
                eapi_host="127.0.0.1",
                eapi_port=ends.http_port or 0,
                eapi_username=USER,
                eapi_password_file=secret,
                eapi_timeout=5,
                eapi_ca_file=tls[0] if tls is not None else "",  # verified, as by default
            )
        client = LabClient(url=ends.url, auth=(USER, PASSWORD))
        yield Lab(emulator, cfg, client, directory)
    finally:
        emulator.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_facts_are_read_right_in_one_request(lab: Lab) -> None:
    with lab.switch() as sw:
        facts = sw.facts()
    assert lab.emulator.request_count == 1
    assert (facts.hostname, facts.fqdn) == ("leaf7", "leaf7.dc1.example.net")
    assert (facts.model, facts.version) == ("DCS-7280SR-48C6", "4.30.2F")
    assert facts.system_mac == "00:1c:73:aa:bb:cc"
    assert facts.mgmt_addresses == ("192.0.2.77",)
    assert facts.vlans == {1: "default", 5: "mgmt-hosts", 7: "VLAN0007"}
    ifs = facts.interfaces
    assert len([n for n in ifs if n.startswith("Ethernet")]) == 50
    assert ifs["Ethernet1"].mode == "trunk" and ifs["Ethernet1"].allowed == VlanSet.range(1, 9)
    assert ifs["Ethernet2"].allowed == VlanSet.all()
    assert ifs["Ethernet3"].allowed == VlanSet.none()
    assert (ifs["Ethernet4"].mode, ifs["Ethernet4"].access_vlan) == ("access", 5)
    assert ifs["Ethernet5"].allowed == VlanSet([10, 20, 30])
    assert ifs["Ethernet5"].native_vlan == 7
    assert ifs["Port-Channel10"].channel is None
    assert ifs["Ethernet49"].channel == "Port-Channel10"
    assert ifs["Ethernet50"].channel == "Port-Channel10"
    assert all(i.mac == "" for i in ifs.values())


def test_management_ipv6_is_read_when_configured(lab: Lab) -> None:
    state = initial_state()
    state.interfaces["Management1"].ipv6 = ["2001:db8:0:7::77/64"]
    lab.emulator.set_state(state)
    with lab.switch() as sw:
        assert sw.facts().mgmt_addresses == ("192.0.2.77", "2001:db8:0:7::77")
    assert [r["result"] for r in lab.emulator.requests] == ["ok"]


def big_plan() -> Plan:
    """48 interfaces, 200 new VLANs; no two interfaces get the same list."""
    vlans = list(range(1000, 1400, 2))  # 200 VLANs, no two adjacent: long lists
    changes = tuple(
        InterfaceChange(
            f"Ethernet{n}",
            VlanSet(v for i, v in enumerate(vlans) if i % 48 != n - 1),
            VlanSet([1]) if n % 2 else VlanSet.none(),
        )
        for n in range(1, 49)
    )
    return Plan(changes=changes, create_vlans={v: f"vm-net-{v}" for v in vlans})


def committed(request: dict[str, Any]) -> bool:
    """The emulator ran this request through ``commit`` (the optional IPv6 show after it
    may fail: no interface of the lab switch has IPv6)."""
    cmds = request["cmds"]
    return "commit" in cmds and (
        request["result"] == "ok"
        or (request["result"] == "error" and request["failed"] > cmds.index("commit"))
    )


def test_a_48_interface_200_vlan_plan_and_the_facts_after_it_are_one_request(lab: Lab) -> None:
    plan = big_plan()
    with lab.switch() as sw:
        before = sw.facts()
        lab.emulator.reset_requests()
        after = sw.apply(plan)
    requests = lab.emulator.requests
    assert len(requests) == 1
    cmds = requests[0]["cmds"]
    assert cmds[1].startswith("configure session vmtracer-")
    assert cmds.index("commit") == len(plan_commands(plan)) + 2
    assert cmds[cmds.index("commit") + 1 :] == list(FACTS_COMMANDS)
    assert committed(requests[0])
    for change in plan.changes:
        expected = (before.interfaces[change.interface].allowed | change.add) - change.remove
        assert after.interfaces[change.interface].allowed == expected, change.interface
    assert set(plan.create_vlans) <= set(after.vlans)
    assert after.vlans[1000] == "vm-net-1000"
    assert lab.emulator.sessions() and all(
        s["state"] == "completed" for s in lab.emulator.sessions().values()
    )


def test_a_failure_in_the_middle_changes_nothing(lab: Lab) -> None:
    plan = big_plan()
    middle = plan_commands(plan)[len(plan_commands(plan)) // 2]
    lab.emulator.add_fault("fail", command=middle, code=1002, message="Invalid input")
    with lab.switch() as sw:
        before = sw.run(["show running-config"], fmt="text")[0]["output"]
        with pytest.raises(PermanentSwitchError) as info:
            sw.apply(plan)
        after = sw.run(["show running-config"], fmt="text")[0]["output"]
    assert info.value.command == middle
    assert "Invalid input" in info.value.message
    assert after == before
    assert lab.emulator.sessions() == {}  # aborted, not left pending


def test_an_invalid_interface_is_reported_and_not_retried(lab: Lab) -> None:
    plan = Plan(
        changes=(
            InterfaceChange("Ethernet1", VlanSet([100]), VlanSet.none()),
            InterfaceChange("Ethernet99", VlanSet([101]), VlanSet.none()),
        ),
        create_vlans={100: "a", 101: "b"},
    )
    before = lab.config()
    with lab.switch() as sw, pytest.raises(PermanentSwitchError) as info:
        sw.apply(plan)
    assert info.value.command == "interface Ethernet99"
    assert info.value.message == "invalid command: Invalid input (at token 1: 'Ethernet99')"
    assert info.value.code == 1002
    apply_request, abort = lab.emulator.requests
    assert abort["cmds"] == ["enable", f"{apply_request['cmds'][1]} abort"]
    assert lab.config() == before and lab.emulator.sessions() == {}


def test_an_operators_change_to_another_vlan_on_the_same_port_survives(lab: Lab) -> None:
    with lab.switch() as sw:
        facts = sw.facts()  # the agent plans from this
        assert facts.interfaces["Ethernet5"].allowed == VlanSet([10, 20, 30])
        answer = lab.client.configure(
            "interface Ethernet5",
            "switchport trunk allowed vlan remove 30",
            "switchport trunk allowed vlan add 40",
        )
        assert "result" in answer, answer
        plan = Plan(changes=(InterfaceChange("Ethernet5", VlanSet([50]), VlanSet([10])),))
        after = sw.apply(plan)
    assert after.interfaces["Ethernet5"].allowed == VlanSet([20, 40, 50])


def test_transient_faults_are_retried_and_succeed(lab: Lab) -> None:
    plan = Plan(changes=(InterfaceChange("Ethernet6", VlanSet([300]), VlanSet.none()),))
    lab.emulator.add_fault("drop", when="before", count=1)
    lab.emulator.add_fault("http", status=503, count=1)
    with lab.switch(retries=3) as sw:
        facts = sw.facts()
        assert facts.hostname == "leaf7"
        # The facts request itself ends in an error: with no IPv6 anywhere, EOS answers
        # the (optional, last) 'show ipv6 interface' with one; the rest was answered.
        assert [r["result"] for r in lab.emulator.requests] == ["http 503", "dropped", "error"]
        lab.emulator.reset_requests()
        lab.emulator.add_fault("session_locked", count=1)
        after = sw.apply(plan)
    results = [(r["result"], r["cmds"][1]) for r in lab.emulator.requests]
    assert results[0][0] == "error"  # locked
    assert results[1][1] == f"{results[0][1]} abort"
    assert committed(lab.emulator.requests[2]) and results[2][1] != results[0][1]  # a new session
    assert len(results) == 3  # the facts came with the commit
    assert 300 in after.interfaces["Ethernet6"].allowed


def test_a_connection_dropped_before_commit_leaves_nothing_pending(lab: Lab) -> None:
    plan = Plan(changes=(InterfaceChange("Ethernet6", VlanSet([301]), VlanSet.none()),))
    lab.emulator.add_fault("drop", when="command", command="commit", count=1)
    with lab.switch() as sw:
        after = sw.apply(plan)
    assert 301 in after.interfaces["Ethernet6"].allowed
    assert all(s["state"] == "completed" for s in lab.emulator.sessions().values())
    dropped, abort, retry = lab.emulator.requests[:3]
    assert dropped["result"] == "dropped"
    assert (abort["cmds"][1], abort["result"]) == (f"{dropped['cmds'][1]} abort", "ok")
    assert committed(retry)


def test_resending_after_a_timeout_is_safe(lab: Lab) -> None:
    plan = Plan(
        changes=(InterfaceChange("Ethernet8", VlanSet([400, 401]), VlanSet([2])),),
        create_vlans={400: "x", 401: "y"},
    )
    cfg = lab.cfg.__class__(**{**lab.cfg.__dict__, "eapi_timeout": 0.3})
    lab.emulator.add_fault("latency", seconds=0.8, count=1)  # the first apply times out...
    with EapiSwitch(cfg, backoff=0.01) as sw:
        after = sw.apply(plan)
    deadline = time.monotonic() + 5
    while any(r["result"] == "?" for r in lab.emulator.requests):  # ...and commits late
        assert time.monotonic() < deadline
        time.sleep(0.05)
    applies = [r for r in lab.emulator.requests if "commit" in r["cmds"]]
    assert [committed(r) for r in applies] == [True, True]  # the plan went in twice
    assert after.interfaces["Ethernet8"].allowed == VlanSet([1, 3, 4, 5, 6, 7, 8, 9, 400, 401])
    final = EapiSwitch(lab.cfg).facts()
    assert final.interfaces["Ethernet8"].allowed == after.interfaces["Ethernet8"].allowed
    assert final.vlans[400] == "x"


def test_transient_faults_that_persist_are_raised_after_the_retries(lab: Lab) -> None:
    lab.emulator.add_fault("drop", when="before", count=None)
    before = lab.config()
    plan = Plan(changes=(InterfaceChange("Ethernet6", VlanSet([302]), VlanSet.none()),))
    with lab.switch(retries=2) as sw:
        with pytest.raises(TransientSwitchError):
            sw.facts()
        assert lab.emulator.request_count == 3
        with pytest.raises(TransientSwitchError):
            sw.apply(plan)
    assert lab.config() == before


def test_permanent_faults_are_reported_with_command_and_message_and_not_retried(lab: Lab) -> None:
    lab.emulator.add_fault(
        "fail", command="interface Ethernet6", code=1005, message="Command unauthorized", count=None
    )
    plan = Plan(changes=(InterfaceChange("Ethernet6", VlanSet([303]), VlanSet.none()),))
    with lab.switch(retries=3) as sw, pytest.raises(PermanentSwitchError) as info:
        sw.apply(plan)
    assert info.value.command == "interface Ethernet6"
    assert info.value.code == 1005
    assert "Command unauthorized" in str(info.value)
    assert lab.emulator.request_count == 2  # the apply and its abort, no retry


def test_wrong_credentials_are_permanent(lab: Lab) -> None:
    if lab.cfg.eapi_transport == "socket":
        pytest.skip("the Unix socket has no authentication (as on EOS)")
    with open(lab.cfg.eapi_password_file, "w") as f:
        f.write("wrong\n")
    with pytest.raises(PermanentSwitchError, match="401"):
        lab.switch(retries=3).facts()
    assert lab.emulator.request_count == 0  # refused before runCmds
