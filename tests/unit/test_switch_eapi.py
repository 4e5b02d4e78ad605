"""EapiSwitch's request logic (retries, sessions, aborts) against a scripted transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.planner import InterfaceChange, Plan
from eos_vmtracer.switch import (
    EapiSwitch,
    PermanentSwitchError,
    SwitchError,
    TransientSwitchError,
)
from eos_vmtracer.switch.errors import classify_eapi_error
from eos_vmtracer.switch.facts import OPTIONAL_COMMANDS, REQUIRED_COMMANDS
from eos_vmtracer.switch.transport import Reply
from eos_vmtracer.vlans import VlanSet

DATA = Path(__file__).resolve().parent.parent / "data" / "eos"
OUTPUTS = {
    "show hostname": "show_hostname.napalm.json",
    "show version": "show_version.napalm.json",
    "show interfaces switchport": "show_interfaces_switchport.fake-switches.json",
    "show port-channel all-ports": "show_port_channel.anta.json",
    "show vlan": "show_vlan.napalm.json",
    "show ip interface": "show_ip_interface.pyeapi.json",
    "show configuration sessions": "show_configuration_sessions.anta.json",
    "show ipv6 interface": "show_ipv6_interface.napalm.json",
}
PLAN = Plan(changes=(InterfaceChange("Ethernet1", VlanSet([10]), VlanSet.none()),))

Step = Union[Reply, SwitchError, Callable[[list[str]], Reply]]


def facts_reply(commands: Sequence[str]) -> Reply:
    return Reply([json.loads((DATA / OUTPUTS[c]).read_text()) for c in commands])


class Scripted:
    """A transport answering from a script; facts requests are answered from recordings."""

    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.sent: list[list[str]] = []
        self.requests = 0

    def send(self, commands: Sequence[Any], fmt: str = "json") -> Reply:
        self.requests += 1
        texts = [c if isinstance(c, str) else c["cmd"] for c in commands]
        self.sent.append(texts)
        if texts[0] == "show hostname":
            return facts_reply(texts)
        step = self.script.pop(0) if self.script else applied_reply(texts)
        if isinstance(step, SwitchError):
            raise step
        if callable(step):
            return step(texts)
        return step

    def close(self) -> None:
        pass


def applied_reply(texts: list[str]) -> Reply:
    """Empty outputs up to ``commit``; the shows after it answered from recordings."""
    n = texts.index("commit") + 1 if "commit" in texts else len(texts)
    return Reply([{} for _ in texts[:n]] + facts_reply(texts[n:]).results)


def command_error(texts: list[str], index: int, code: int, message: str) -> Reply:
    return Reply(
        [{} for _ in texts[:index]], classify_eapi_error(code, message, texts[index]), index
    )


def switch(transport: Scripted, sleeps: Optional[list[float]] = None, **kw: Any) -> EapiSwitch:
    record = sleeps if sleeps is not None else []
    return EapiSwitch(SwitchConfig(), sleep=record.append, transport=transport, **kw)


def test_facts_is_one_request() -> None:
    transport = Scripted()
    facts = switch(transport).facts()
    assert transport.sent == [list(REQUIRED_COMMANDS) + list(OPTIONAL_COMMANDS)]
    assert facts.hostname == "localhost" and facts.model == "vEOS"


def test_an_error_in_the_optional_ipv6_command_is_tolerated() -> None:
    def no_ipv6(texts: list[str]) -> Reply:
        reply = facts_reply(texts[:-1])
        reply.error = classify_eapi_error(1000, "No IPv6 configured interfaces", texts[-1])
        reply.failed = len(texts) - 1
        return reply

    transport = Scripted()
    transport.send = lambda commands, fmt="json": no_ipv6(list(commands))  # type: ignore[method-assign]
    facts = switch(transport).facts()
    assert facts.mgmt_addresses == ("192.168.1.16",)


def test_transient_errors_are_retried_with_growing_backoff() -> None:
    busy = TransientSwitchError("connection reset")
    transport = Scripted(busy, busy, busy)
    sleeps: list[float] = []
    sw = EapiSwitch(
        SwitchConfig(), retries=3, backoff=0.5, sleep=sleeps.append, transport=transport
    )
    sw.run(["show version"])
    assert transport.requests == 4
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):  # 0.5 * 2**n, jittered by +-50%
        assert 0.25 * 2**attempt <= delay <= 0.75 * 2**attempt


def test_transient_errors_give_up_after_the_retries() -> None:
    busy = TransientSwitchError("timed out")
    transport = Scripted(*[busy] * 10)
    with pytest.raises(TransientSwitchError, match="timed out"):
        switch(transport, retries=2).run(["show version"])
    assert transport.requests == 3


def test_permanent_errors_are_not_retried() -> None:
    transport = Scripted(lambda t: command_error(t, 1, 1002, "invalid command: Invalid input"))
    sleeps: list[float] = []
    with pytest.raises(PermanentSwitchError) as info:
        switch(transport, sleeps).run(["show bogus"])
    assert info.value.command == "show bogus"
    assert transport.requests == 1 and sleeps == []


def test_apply_is_one_session_and_the_facts_after_it_in_one_request() -> None:
    transport = Scripted()
    facts = switch(transport).apply(PLAN)
    (apply_request,) = transport.sent
    assert apply_request[0] == "enable"
    assert apply_request[1].startswith("configure session vmtracer-")
    assert apply_request[2:5] == [
        "interface Ethernet1",
        "switchport trunk allowed vlan add 10",
        "commit",
    ]
    assert apply_request[5:] == [*REQUIRED_COMMANDS, *OPTIONAL_COMMANDS]
    assert facts.hostname == "localhost"


def test_no_ipv6_after_the_commit_is_tolerated_in_the_same_request() -> None:
    def no_ipv6(texts: list[str]) -> Reply:
        reply = applied_reply(texts[:-1])
        reply.error = classify_eapi_error(1000, "No IPv6 configured interfaces", texts[-1])
        reply.failed = len(texts) - 1
        return reply

    transport = Scripted(no_ipv6)
    facts = switch(transport).apply(PLAN)
    assert transport.requests == 1
    assert facts.mgmt_addresses == ("192.168.1.16",)


def test_a_show_failing_after_the_commit_reads_the_facts_again() -> None:
    def bad_show(texts: list[str]) -> Reply:
        return command_error(texts, texts.index("commit") + 2, 1000, "could not run command")

    transport = Scripted(bad_show)
    facts = switch(transport).apply(PLAN)
    apply_request, reread = transport.sent
    assert "commit" in apply_request and reread[0] == "show hostname"
    assert facts.hostname == "localhost"


def test_empty_plan_sends_nothing() -> None:
    transport = Scripted()
    sw = switch(transport)
    first = sw.facts()
    assert sw.apply(Plan()) is first
    assert transport.requests == 1


def test_permanent_failure_aborts_the_session_and_is_not_retried() -> None:
    transport = Scripted(lambda t: command_error(t, 3, 1002, "invalid command: Invalid input"))
    with pytest.raises(PermanentSwitchError) as info:
        switch(transport).apply(PLAN)
    assert info.value.command == "switchport trunk allowed vlan add 10"
    apply_request, abort = transport.sent
    session = apply_request[1].split()[-1]
    assert abort == ["enable", f"configure session {session} abort"]


def test_transient_failure_aborts_then_retries_in_a_new_session() -> None:
    locked = lambda t: command_error(t, 1, 1000, "configuration is locked by another session")  # noqa: E731
    transport = Scripted(locked)
    switch(transport).apply(PLAN)
    first, abort, second = transport.sent
    assert abort[-1] == f"{first[1]} abort"
    assert second[1] != first[1] and "commit" in second
    assert second[-1] == OPTIONAL_COMMANDS[-1]


def test_an_abort_that_cannot_be_sent_is_done_before_the_next_apply() -> None:
    drop = TransientSwitchError("connection reset")
    transport = Scripted(drop, drop)  # the apply, then its abort, are lost
    sw = switch(transport, retries=0)
    with pytest.raises(TransientSwitchError):
        sw.apply(PLAN)
    lost = transport.sent[0][1].split()[-1]
    transport.sent.clear()
    sw.apply(PLAN)
    assert transport.sent[0] == ["enable", f"configure session {lost} abort"]
    assert "commit" in transport.sent[1]


def test_pending_sessions_of_an_earlier_run_are_aborted_before_applying() -> None:
    def with_stale(texts: list[str]) -> Reply:
        reply = facts_reply(texts)
        sessions = reply.results[REQUIRED_COMMANDS.index("show configuration sessions")]
        sessions["sessions"]["vmtracer-1700000000-abcdef"] = {"state": "pending"}
        return reply

    transport = Scripted()
    sw = switch(transport)
    transport.send = lambda commands, fmt="json": with_stale(list(commands))  # type: ignore[method-assign]
    sw.facts()
    transport = Scripted()
    sw._transport = transport
    sw.apply(PLAN)
    assert transport.sent[0] == ["enable", "configure session vmtracer-1700000000-abcdef abort"]
    assert "commit" in transport.sent[1]


def test_run_hides_enable() -> None:
    transport = Scripted(Reply([{}, {"hostname": "x", "fqdn": "x"}]))
    assert switch(transport).run(["show clock"]) == [{"hostname": "x", "fqdn": "x"}]
    assert transport.sent == [["enable", "show clock"]]
