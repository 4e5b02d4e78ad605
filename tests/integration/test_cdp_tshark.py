"""The CDP sender's frames as Wireshark (tshark) dissects them.

Frames are captured with dumpcap on the host side of veth pairs (capture filter:
the CDP multicast address, so every frame sent there is in the file) and
dissected by tshark: every one must be CDP, with a good checksum, nothing
malformed and no expert notes. A second test checks the Cisco checksum quirk
(odd lengths) over every possible last byte, offline.

Needs root (skipped otherwise); tshark and dumpcap missing is a failure.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from collections.abc import Iterator

import pytest

from eos_vmtracer.cdp import CdpIdentity, CdpSender, build_frame
from lab.netns import HostNamespace, Namespace, check_tools, is_root, read_fields

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not is_root(), reason="needs root: network namespaces and raw sockets"),
]

IDENTITY = CdpIdentity(
    device_id="leaf1",
    addresses=("192.0.2.10", "2001:db8::10"),
    version="Arista Networks EOS version 4.31.1F",
    platform="DCS-7050SX3-48YC8",
)
FIELDS = (
    "frame.time_relative",
    "frame.protocols",
    "eth.dst",
    "eth.src",
    "eth.len",
    "llc.oui",
    "llc.cisco_pid",
    "cdp.version",
    "cdp.ttl",
    "cdp.checksum.status",
    "cdp.deviceid",
    "cdp.portid",
    "cdp.capabilities",
    "cdp.software_version",
    "cdp.platform",
    "cdp.nrgyz.ip_address",
    "cdp.nrgyz.ipv6_address",
    "cdp.native_vlan",
    "cdp.duplex",
    "cdp.tlv.type",
    "_ws.malformed",
    "_ws.expert",
)


@pytest.fixture
def lab() -> Iterator[tuple[Namespace, HostNamespace]]:
    check_tools()
    with Namespace("sw") as switch, HostNamespace("esx1", switch=switch, lldpd=False) as host:
        yield switch, host


@pytest.fixture
def sender() -> Iterator[CdpSender]:
    sender = CdpSender(interval=0.5, holdtime=30, jitter=0.1)
    yield sender
    sender.stop()


def test_every_frame_is_clean_cdp_from_its_port(
    lab: tuple[Namespace, HostNamespace], sender: CdpSender
) -> None:
    switch, host = lab
    ports = ["Ethernet1", "Ethernet2", "Ethernet3"]
    nics = {port: host.add_link(f"et{n}") for n, port in enumerate(ports, 1)}
    sender.update(IDENTITY, {port: f"et{n}" for n, port in enumerate(nics, 1)}, {"Ethernet2": 20})
    captures = {port: host.capture(nic) for port, nic in nics.items()}
    try:
        with switch.entered():
            sender.start()
        deadline = time.monotonic() + 10
        while min(s.frames_sent for s in sender.stats().values()) < 3:
            assert time.monotonic() < deadline, sender.stats()
            time.sleep(0.05)
    finally:
        for capture in captures.values():
            capture.stop()

    for n, (port, capture) in enumerate(captures.items(), 1):
        frames = capture.fields(*FIELDS)
        assert len(frames) >= 2, f"{port}: {len(frames)} frames captured"
        for frame in frames:
            assert frame["frame.protocols"] == "eth:llc:cdp", frame
            assert frame["cdp.checksum.status"] == "1", frame  # 1 = Good
            assert frame["_ws.malformed"] == "" and frame["_ws.expert"] == "", frame
            assert frame["eth.dst"] == "01:00:0c:cc:cc:cc"
            assert frame["eth.src"] == switch.mac(f"et{n}")
            assert frame["llc.oui"] == "12" and frame["llc.cisco_pid"] == "0x2000"
            assert frame["cdp.version"] == "2" and frame["cdp.ttl"] == "30"
            assert frame["cdp.deviceid"] == "leaf1"
            assert frame["cdp.portid"] == port
            assert frame["cdp.capabilities"] == "0x00000028"
            assert frame["cdp.software_version"] == "Arista Networks EOS version 4.31.1F"
            assert frame["cdp.platform"] == "DCS-7050SX3-48YC8"
            # once in Addresses, once in Management Address
            assert frame["cdp.nrgyz.ip_address"] == "192.0.2.10,192.0.2.10"
            assert frame["cdp.nrgyz.ipv6_address"] == "2001:db8::10,2001:db8::10"
            assert frame["cdp.duplex"] == "1"
            assert "17" not in frame["cdp.tlv.type"].split(",")  # no MTU TLV
            assert frame["cdp.native_vlan"] == ("20" if port == "Ethernet2" else "")


def test_frames_keep_coming_at_the_configured_interval(
    lab: tuple[Namespace, HostNamespace], sender: CdpSender
) -> None:
    switch, host = lab
    nic = host.add_link("et1")
    sender.update(IDENTITY, {"Ethernet1": "et1"})
    with host.capture(nic) as capture:
        with switch.entered():
            sender.start()
        time.sleep(4.0)
    times = [float(f["frame.time_relative"]) for f in capture.fields("frame.time_relative")]
    # interval 0.5 s +- 10 %: about 8 frames in 4 s. Gross bounds only.
    assert 5 <= len(times) <= 11, times
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.3 <= g <= 0.9 for g in gaps), gaps


def _write_pcap(path: str, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(frame), len(frame)))
            f.write(frame)


def test_wireshark_accepts_the_checksum_for_every_last_byte_and_both_parities() -> None:
    check_tools(("tshark",))
    frames: list[bytes] = []
    for name in ("leaf1", "leaf12"):  # odd and even CDP lengths
        for octet in range(256):  # the management address is the last TLV
            identity = CdpIdentity(name, (f"10.0.0.{octet}",), "EOS", "DCS")
            frames.append(build_frame(identity, "Ethernet1", "02:00:00:00:00:01", holdtime=180))
    assert {len(f) % 2 for f in frames} == {0, 1}
    broken = bytearray(frames[0])
    broken[24] ^= 0x01  # a wrong checksum must be caught: the check can fail
    frames.append(bytes(broken))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cdp.pcap")
        _write_pcap(path, frames)
        rows = read_fields(path, ("cdp.checksum.status", "_ws.malformed", "_ws.expert"))
    assert len(rows) == len(frames)
    statuses = [r["cdp.checksum.status"] for r in rows]
    bad = [i for i, s in enumerate(statuses[:-1]) if s != "1"]
    assert bad == [], f"Wireshark rejects the checksum of frames {bad}"
    assert statuses[-1] == "0"  # Bad
    assert all(r["_ws.malformed"] == "" for r in rows)
