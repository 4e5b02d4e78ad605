"""Dialing vCenter through a VRF: the namespace EOS names, the EOS SDK's socket_at, the
source address, and one clear error for a VRF or an address that cannot be used.

(Entering a real namespace needs root: tests/integration/test_vcenter_vrf.py.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eos_vmtracer.vcenter import vrf
from eos_vmtracer.vcenter.errors import ConnectionLost
from eos_vmtracer.vcenter.tls import https_connection
from eos_vmtracer.vcenter.vrf import Dialer, VrfError, namespace_path


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()
    stop.set()
    t.join()
    srv.close()


def test_a_vrf_is_the_network_namespace_eos_names_ns_vrf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(vrf.NETNS_DIR_ENV, raising=False)
    assert namespace_path("default") == ""
    assert namespace_path("MGMT") == "/var/run/netns/ns-MGMT"
    assert namespace_path("MGMT", {vrf.NETNS_DIR_ENV: "/tmp/lab"}) == "/tmp/lab/ns-MGMT"


def test_the_default_vrf_dials_from_the_source_address(listener: tuple[str, int]) -> None:
    sock = Dialer("default", "127.0.0.1", "Loopback0")(listener, 5)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
        assert sock.getpeername() == listener
    finally:
        sock.close()


def test_a_missing_vrf_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vrf.NETNS_DIR_ENV, str(tmp_path))
    with pytest.raises(VrfError) as e:
        Dialer("NOPE")(("127.0.0.1", 9), 1)
    assert str(e.value) == f"VRF NOPE does not exist (no network namespace {tmp_path}/ns-NOPE)"
    assert isinstance(e.value, ConnectionLost)  # retried with backoff, like any unreachable vCenter


def test_a_source_address_that_is_not_ours_is_one_clear_error(listener: tuple[str, int]) -> None:
    with pytest.raises(VrfError, match=r"^VRF default: source address 192\.0\.2\.77 is not usable"):
        Dialer("default", "192.0.2.77", "Management1")(listener, 1)


def test_an_unreachable_vcenter_is_connection_lost_naming_the_vrf() -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    with pytest.raises(ConnectionLost, match=f"cannot reach 127.0.0.1:{port} through VRF default"):
        Dialer("default", "127.0.0.1")(("127.0.0.1", port), 1)


def test_describe_says_vrf_and_source() -> None:
    assert Dialer("MGMT", "10.0.0.5", "Management1").describe() == (
        "VRF MGMT, source 10.0.0.5 (Management1)"
    )
    assert Dialer().describe() == "VRF default, source chosen by the kernel"


class FakeVrfMgr:
    """The EOS SDK's vrf_mgr: socket_at opens a socket (here, in this namespace)."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.calls: list[tuple[int, int, int, str]] = []

    def exists(self, name: str) -> bool:
        return name in self.known

    def socket_at(self, domain: int, kind: int, proto: int, name: str) -> int:
        self.calls.append((domain, kind, proto, name))
        return socket.socket(domain, kind, proto).detach()


def test_under_eos_the_sdk_makes_the_socket(
    listener: tuple[str, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(vrf.NETNS_DIR_ENV, str(tmp_path))  # no namespace file: SDK only
    mgr = FakeVrfMgr({"MGMT"})
    vrf.use_sdk(mgr)
    try:
        sock = Dialer("MGMT", "127.0.0.1")(listener, 5)
        sock.close()
        assert mgr.calls == [(socket.AF_INET, socket.SOCK_STREAM, 0, "MGMT")]
        with pytest.raises(VrfError, match=r"^VRF OTHER does not exist"):
            Dialer("OTHER")(listener, 5)
    finally:
        vrf.use_sdk(None)


def test_https_connections_get_their_socket_from_the_dialer(listener: tuple[str, int]) -> None:
    dialed: list[Any] = []

    def dial(address: tuple[str, int], *args: Any) -> socket.socket:
        dialed.append(address)
        return socket.create_connection(listener)

    conn = https_connection("vcenter.example.com", dial, port=443, timeout=2)
    with pytest.raises(Exception):  # noqa: B017 - the listener speaks no TLS
        conn.connect()
    conn.close()
    assert dialed == [("vcenter.example.com", 443)]


def test_a_missing_vrf_is_found_before_anything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session checks the VRF first: its error names the cause, not a symptom (such as
    the source interface being in another VRF)."""
    monkeypatch.setenv(vrf.NETNS_DIR_ENV, str(tmp_path))
    with pytest.raises(VrfError, match=r"^VRF NOPE does not exist \(no network namespace "):
        vrf.check_exists("NOPE")
    (tmp_path / "ns-MGMT").write_text("")
    vrf.check_exists("MGMT")
    vrf.check_exists("default")
    vrf.use_sdk(FakeVrfMgr({"MGMT"}))
    try:
        vrf.check_exists("MGMT")
        with pytest.raises(VrfError, match=r"^VRF OTHER does not exist \(the EOS SDK"):
            vrf.check_exists("OTHER")
    finally:
        vrf.use_sdk(None)
