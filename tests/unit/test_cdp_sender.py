"""The CDP sender's schedule and failure handling, over fake links.

The real raw sockets, lldpd and tshark are in tests/integration/test_cdp_*.py;
here the links are fakes so failures can be switched on and off at will.
Timing assertions are gross bounds only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Callable

import pytest

from eos_vmtracer.cdp import CdpIdentity, CdpSender, LinkError
from tests.unit.test_cdp_frames import parse_frame

MakeSender = Callable[..., CdpSender]
IDENTITY = CdpIdentity("leaf1", ("192.0.2.10",), "Arista Networks EOS version 4.31.1F", "DCS")


class FakeLink:
    """Records frames; ``problem`` makes every call fail with that reason."""

    def __init__(self, ifname: str, registry: Links) -> None:
        self.ifname = ifname
        self.registry = registry
        self.closed = False

    def mac(self) -> str:
        problem = self.registry.problems.get(self.ifname)
        if problem:
            raise LinkError(self.ifname, problem)
        return self.registry.macs.get(self.ifname, "02:00:00:00:00:01")

    def send(self, frame: bytes) -> None:
        with self.registry.lock:
            self.registry.sent.append((self.ifname, time.monotonic(), frame))

    def close(self) -> None:
        self.closed = True


class Links:
    """Every fake link a sender made, and what went out of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: list[FakeLink] = []
        self.sent: list[tuple[str, float, bytes]] = []
        self.problems: dict[str, str] = {}
        self.macs: dict[str, str] = {}

    def factory(self, ifname: str) -> FakeLink:
        link = FakeLink(ifname, self)
        self.made.append(link)
        return link

    def frames(self, ifname: str) -> list[bytes]:
        with self.lock:
            return [f for i, _, f in self.sent if i == ifname]

    def times(self, ifname: str) -> list[float]:
        with self.lock:
            return [t for i, t, _ in self.sent if i == ifname]


def wait_for(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


@pytest.fixture
def links() -> Links:
    return Links()


@pytest.fixture
def make_sender(links: Links) -> Iterator[Callable[..., CdpSender]]:
    made: list[CdpSender] = []

    def make(interval: float = 0.2, holdtime: int = 10, **kwargs: float) -> CdpSender:
        sender = CdpSender(
            interval=interval, holdtime=holdtime, link_factory=links.factory, **kwargs
        )
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.stop()
        assert not sender.running


def port_id(frame: bytes) -> bytes:
    return parse_frame(frame).tlv(0x03)


# -- schedule ----------------------------------------------------------------------------


def test_every_port_gets_a_frame_at_once_on_start(links: Links, make_sender: MakeSender) -> None:
    sender = make_sender(interval=60)
    sender.update(IDENTITY, {"Ethernet1": "et1", "Ethernet2": "et2"})
    started = time.monotonic()
    sender.start()
    wait_for(lambda: bool(links.frames("et1")) and bool(links.frames("et2")))
    assert time.monotonic() - started < 1.0
    assert port_id(links.frames("et1")[0]) == b"Ethernet1"
    assert port_id(links.frames("et2")[0]) == b"Ethernet2"
    assert parse_frame(links.frames("et1")[0]).ttl == 10


def test_frames_repeat_every_interval(links: Links, make_sender: MakeSender) -> None:
    sender = make_sender(interval=0.1, jitter=0.1)
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    sender.start()
    time.sleep(1.0)
    times = links.times("et1")
    assert 6 <= len(times) <= 14
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.05 < g < 0.3 for g in gaps), gaps
    assert sender.stats()["Ethernet1"].frames_sent == len(links.frames("et1"))


def test_a_port_added_later_gets_a_frame_at_once(links: Links, make_sender: MakeSender) -> None:
    sender = make_sender(interval=60)
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    sender.start()
    wait_for(lambda: bool(links.frames("et1")))
    sender.update(IDENTITY, {"Ethernet1": "et1", "Ethernet5": "et5"})
    wait_for(lambda: bool(links.frames("et5")), timeout=1.0)
    assert len(links.frames("et1")) == 1  # the others keep their schedule


def test_a_removed_port_stops_and_its_socket_is_closed(
    links: Links, make_sender: MakeSender
) -> None:
    sender = make_sender(interval=0.05)
    sender.update(IDENTITY, {"Ethernet1": "et1", "Ethernet2": "et2"})
    sender.start()
    wait_for(lambda: len(links.frames("et2")) >= 2)
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    wait_for(lambda: any(link.closed for link in links.made if link.ifname == "et2"))
    count = len(links.frames("et2"))
    before = len(links.frames("et1"))
    time.sleep(0.3)
    assert len(links.frames("et2")) == count
    assert len(links.frames("et1")) > before
    assert set(sender.stats()) == {"Ethernet1"}


def test_a_new_identity_is_announced_at_once_on_every_port(
    links: Links, make_sender: MakeSender
) -> None:
    sender = make_sender(interval=60)
    ports = {"Ethernet1": "et1", "Ethernet2": "et2"}
    sender.update(IDENTITY, ports)
    sender.start()
    wait_for(lambda: bool(links.frames("et1")) and bool(links.frames("et2")))
    renamed = CdpIdentity("leaf1-new", IDENTITY.addresses, IDENTITY.version, IDENTITY.platform)
    sender.update(renamed, ports, {"Ethernet2": 30})
    wait_for(lambda: len(links.frames("et1")) == 2 and len(links.frames("et2")) == 2, 1.0)
    assert parse_frame(links.frames("et1")[1]).tlv(0x01) == b"leaf1-new"
    assert parse_frame(links.frames("et2")[1]).tlv(0x0A) == b"\x00\x1e"  # native VLAN 30


def test_unchanged_update_does_not_resend(links: Links, make_sender: MakeSender) -> None:
    sender = make_sender(interval=60)
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    sender.start()
    wait_for(lambda: bool(links.frames("et1")))
    for _ in range(5):
        sender.update(IDENTITY, {"Ethernet1": "et1"})
    time.sleep(0.2)
    assert len(links.frames("et1")) == 1


def test_a_new_mac_is_used_as_soon_as_the_kernel_reports_it(
    links: Links, make_sender: MakeSender
) -> None:
    sender = make_sender(interval=0.05)
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    sender.start()
    wait_for(lambda: bool(links.frames("et1")))
    links.macs["et1"] = "02:aa:bb:cc:dd:ee"
    wait_for(lambda: parse_frame(links.frames("et1")[-1]).src == "02:aa:bb:cc:dd:ee")


# -- failures ----------------------------------------------------------------------------


def test_a_failing_port_is_logged_once_retried_and_does_not_hold_up_the_others(
    links: Links, make_sender: MakeSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eos_vmtracer.cdp")
    links.problems["et2"] = "interface is down"
    sender = make_sender(interval=0.05, retry=0.02)
    sender.update(IDENTITY, {"Ethernet1": "et1", "Ethernet2": "et2"})
    sender.start()
    wait_for(lambda: sender.stats()["Ethernet2"].errors >= 5)
    stats = sender.stats()["Ethernet2"]
    assert stats.failing and stats.last_error == "interface is down" and stats.frames_sent == 0
    assert sender.stats()["Ethernet1"].frames_sent >= 2
    warnings = [r for r in caplog.records if "Ethernet2" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert "et2" in warnings[0].getMessage() and "interface is down" in warnings[0].getMessage()

    links.problems["et2"] = "no such interface"  # a different problem is said once more
    wait_for(lambda: sender.stats()["Ethernet2"].last_error == "no such interface")
    del links.problems["et2"]
    wait_for(lambda: sender.stats()["Ethernet2"].frames_sent >= 1)
    time.sleep(0.2)
    messages = [r.getMessage() for r in caplog.records if "Ethernet2" in r.getMessage()]
    assert len(messages) == 3, messages
    assert "again" in messages[2]
    recovered = sender.stats()["Ethernet2"]
    assert not recovered.failing and recovered.last_error == "no such interface"
    assert port_id(links.frames("et2")[0]) == b"Ethernet2"


def test_a_port_that_cannot_build_a_frame_does_not_stop_the_sender(
    links: Links, make_sender: MakeSender, caplog: pytest.LogCaptureFixture
) -> None:
    links.macs["et2"] = "not-a-mac"
    sender = make_sender(interval=0.05, retry=0.02)
    sender.update(IDENTITY, {"Ethernet1": "et1", "Ethernet2": "et2"})
    sender.start()
    wait_for(lambda: sender.stats()["Ethernet2"].errors >= 3)
    assert "MAC" in sender.stats()["Ethernet2"].last_error
    wait_for(lambda: len(links.frames("et1")) >= 3)
    assert sender.running


def test_stop_closes_every_socket_and_keeps_the_stats(
    links: Links, make_sender: MakeSender
) -> None:
    sender = make_sender(interval=60)
    sender.update(IDENTITY, {"Ethernet1": "et1", "Ethernet2": "et2"})
    sender.start()
    wait_for(lambda: len(links.sent) == 2)
    sender.stop()
    assert not sender.running
    assert all(link.closed for link in links.made)
    assert sender.stats()["Ethernet1"].frames_sent == 1
    sender.start()  # and it can start again
    wait_for(lambda: len(links.sent) == 4)


def test_updates_from_many_threads_while_running(links: Links, make_sender: MakeSender) -> None:
    sender = make_sender(interval=0.01)
    sender.start()
    errors: list[BaseException] = []

    def churn(offset: int) -> None:
        try:
            for i in range(200):
                n = (i + offset) % 8 + 1
                sender.update(IDENTITY, {f"Ethernet{k}": f"et{k}" for k in range(1, n + 1)})
                sender.stats()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=churn, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = {f"Ethernet{k}": f"et{k}" for k in range(1, 4)}
    sender.update(IDENTITY, final)
    assert set(sender.stats()) == set(final)
    time.sleep(0.1)  # a round that was under way when update() returned ends
    mark = len(links.sent)
    time.sleep(0.3)
    assert {i for i, _, _ in links.sent[mark:]} == {"et1", "et2", "et3"}
    assert sender.running


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": 0, "holdtime": 10},
        {"interval": 1, "holdtime": 0},
        {"interval": 1, "holdtime": 256},
        {"interval": 1, "holdtime": 10, "jitter": 1.0},
        {"interval": 1, "holdtime": 10, "retry": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CdpSender(**kwargs)  # type: ignore[arg-type]


def test_stats_before_start_list_the_ports(make_sender: MakeSender) -> None:
    sender = make_sender()
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    stats = sender.stats()["Ethernet1"]
    assert (stats.interface, stats.frames_sent, stats.last_sent, stats.failing) == (
        "et1",
        0,
        None,
        False,
    )
