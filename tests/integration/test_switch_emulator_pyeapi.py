"""The emulator speaks eAPI as pyeapi's own client expects it (not just as our adapter does).

pyeapi is the reference client of eAPI; whatever it sends over its ``socket`` and
``http`` transports (its headers, its ``enable`` first, its config sessions) the
emulator must answer as EOS would, and its errors must parse into pyeapi's
``CommandError`` with the failing command's output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pyeapi
import pytest
from pyeapi.eapilib import CommandError

from lab.eapi import EapiEmulator, SwitchState

pytestmark = pytest.mark.integration


@pytest.fixture(params=["socket", "http"])
def node(request: pytest.FixtureRequest) -> Iterator[tuple[object, EapiEmulator]]:
    directory = tempfile.mkdtemp(prefix="eapi-")
    emulator = EapiEmulator(SwitchState.build(ethernet=4, trunk_allowed="10"), users={"a": "b"})
    ends = emulator.start(http_port=0, socket_path=os.path.join(directory, "eapi.sock"))
    try:
        if request.param == "socket":
            conn = pyeapi.client.make_connection("socket", path=ends.socket_path, timeout=5)
        else:
            conn = pyeapi.client.connect(
                transport="http", host="127.0.0.1", port=ends.http_port, username="a",
                password="b", timeout=5,
            )  # fmt: skip
        yield pyeapi.client.Node(conn), emulator
    finally:
        emulator.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_pyeapi_reads_and_configures(node: tuple[object, EapiEmulator]) -> None:
    client, emulator = node
    assert client.enable("show hostname")[0]["result"]["hostname"] == "leaf1"  # type: ignore[attr-defined]
    client.config(["interface Ethernet2", "switchport trunk allowed vlan add 20"])  # type: ignore[attr-defined]
    assert (
        "interface Ethernet2\n   switchport trunk allowed vlan 10,20\n" in emulator.running_config()
    )


def test_pyeapi_config_sessions(node: tuple[object, EapiEmulator]) -> None:
    client, emulator = node
    client.configure_session()  # type: ignore[attr-defined]
    client.config(["vlan 77", "name seventy-seven"])  # type: ignore[attr-defined]
    assert "vlan 77" not in emulator.running_config()
    assert list(emulator.sessions().values()) == [{"state": "pending", "completedTime": None}]
    client.commit()  # type: ignore[attr-defined]
    assert "vlan 77\n   name seventy-seven\n" in emulator.running_config()


def test_pyeapi_sees_eos_errors(node: tuple[object, EapiEmulator]) -> None:
    client, _ = node
    with pytest.raises(CommandError) as info:
        client.run_commands(["show version", "show bogus"])  # type: ignore[attr-defined]
    error = info.value
    assert error.error_code == 1002
    assert error.error_text == "CLI command 3 of 3 'show bogus' failed: invalid command"
    assert "Invalid input (at token 1: 'bogus')" in error.command_error
    assert error.output[1]["modelName"] == "DCS-7050TX-64"  # results before the failure
