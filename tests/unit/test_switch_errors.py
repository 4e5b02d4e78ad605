"""eAPI answers and failures -> the adapter's typed errors (recorded EOS errors included)."""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.switch import PermanentSwitchError, SwitchError, TransientSwitchError
from eos_vmtracer.switch.errors import classify_eapi_error, classify_http_status
from eos_vmtracer.switch.transport import EapiTransport, parse_reply

DATA = Path(__file__).resolve().parent.parent / "data" / "eos"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_recorded_invalid_command_names_the_command_and_keeps_earlier_results() -> None:
    answer = load("error_invalid_command.anta.json")
    reply = parse_reply(answer, ["show version", "bad command", "show hostname"])
    assert reply.failed == 1
    assert reply.results == [answer["error"]["data"][0]]
    error = reply.error
    assert isinstance(error, PermanentSwitchError)
    assert error.command == "bad command"
    assert error.code == 1002
    assert error.message == "invalid command: Invalid input (at token 1: 'bad')"
    assert str(error) == (
        "'bad command': invalid command: Invalid input (at token 1: 'bad') [eAPI error 1002]"
    )


def test_recorded_could_not_run_is_permanent() -> None:
    reply = parse_reply(load("error_could_not_run.fake-switches.json"), ["show vlan 999"])
    assert isinstance(reply.error, PermanentSwitchError)
    assert reply.error.command == "show vlan 999"
    assert "VLAN 999 not found in current VLAN database" in reply.error.message
    assert reply.results == []


def test_success_gives_one_result_per_command() -> None:
    reply = parse_reply({"jsonrpc": "2.0", "id": "1", "result": [{}, {"x": 1}]}, ["a", "b"])
    assert reply.error is None and reply.results == [{}, {"x": 1}]
    with pytest.raises(TransientSwitchError):
        parse_reply({"jsonrpc": "2.0", "id": "1", "result": [{}]}, ["a", "b"])


def test_dict_commands_are_named_by_their_cmd() -> None:
    answer = {
        "error": {
            "code": 1002,
            "message": "CLI command 1 of 1 'enable' failed: invalid command",
            "data": [{"errors": ["Bad secret"]}],
        }
    }
    reply = parse_reply(answer, [{"cmd": "enable", "input": "hunter2"}])
    assert reply.error is not None and reply.error.command == "enable"
    assert "hunter2" not in str(reply.error)


@pytest.mark.parametrize(
    "code, message, transient",
    [
        (1002, "invalid command: Invalid input (at token 0: 'x')", False),
        (1005, "Command unauthorized: user has insufficient permissions", False),
        (1003, "Command unconverted", False),
        (1000, "could not run command: Interface does not exist", False),
        (1000, "could not run command: configuration is locked by another session", True),
        (1000, "could not run command: Maximum number of pending sessions has been reached", True),
        (1000, "could not run command: session is in use", True),
        (-32603, "Internal error", True),
        (-32601, "Method not found", False),
    ],
)
def test_classification(code: int, message: str, transient: bool) -> None:
    error = classify_eapi_error(code, message, "cmd")
    assert isinstance(error, TransientSwitchError if transient else PermanentSwitchError)
    assert isinstance(error, SwitchError)
    assert (error.command, error.code) == ("cmd", code)


@pytest.mark.parametrize(
    "status, transient",
    [(401, False), (403, False), (404, False), (500, True), (502, True), (503, True), (408, True)],
)
def test_http_status(status: int, transient: bool) -> None:
    error = classify_http_status(status, "Reason")
    assert isinstance(error, TransientSwitchError if transient else PermanentSwitchError)
    assert error.code == status and error.command == ""


def test_connection_refused_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nobody listens
    transport = EapiTransport(
        SwitchConfig(eapi_transport="http_local", eapi_port=port, eapi_timeout=2)
    )
    with pytest.raises(TransientSwitchError, match="ConnectionRefusedError"):
        transport.send(["show version"])


def test_missing_socket_is_transient_and_says_how_to_fix_it() -> None:
    with tempfile.TemporaryDirectory() as d:
        transport = EapiTransport(
            SwitchConfig(eapi_transport="socket", eapi_socket=f"{d}/none.sock", eapi_timeout=2)
        )
        with pytest.raises(TransientSwitchError, match="unix-socket"):
            transport.send(["show version"])


def test_password_from_an_unset_variable_is_a_permanent_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VMTRACER_TEST_NO_SUCH_VAR", raising=False)
    cfg = SwitchConfig(
        eapi_transport="http",
        eapi_host="127.0.0.1",
        eapi_username="u",
        eapi_password_env="VMTRACER_TEST_NO_SUCH_VAR",
    )
    with pytest.raises(PermanentSwitchError, match="VMTRACER_TEST_NO_SUCH_VAR"):
        EapiTransport(cfg)
