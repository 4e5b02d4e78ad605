"""CDPv2 frame bytes: layout, TLVs and the Cisco checksum, read back by a parser of our own.

The parser below is written from the protocol description, not with scapy, so
a misuse of scapy in the adapter shows up here. Wireshark's verdict on the same
frames is checked in tests/integration/test_cdp_tshark.py.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

import pytest

from eos_vmtracer.cdp import CDP_MULTICAST, CdpIdentity, build_frame, cdp_checksum

IDENTITY = CdpIdentity(
    device_id="leaf1",
    addresses=("192.0.2.10", "2001:db8::10"),
    version="Arista Networks EOS version 4.31.1F",
    platform="DCS-7050SX3-48YC8",
)
MAC = "02:1c:73:00:00:01"


@dataclass
class Parsed:
    dst: str
    src: str
    length: int
    version: int
    ttl: int
    checksum: int
    cdp: bytes
    tlvs: list[tuple[int, bytes]] = field(default_factory=list)

    def tlv(self, kind: int) -> bytes:
        values = [v for t, v in self.tlvs if t == kind]
        assert len(values) == 1, f"TLV {kind:#x} appears {len(values)} times"
        return values[0]

    def types(self) -> list[int]:
        return [t for t, _ in self.tlvs]


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def parse_frame(frame: bytes) -> Parsed:
    """Decode an 802.3 + LLC/SNAP + CDP frame; assert on anything malformed."""
    dst, src = _mac(frame[0:6]), _mac(frame[6:12])
    (length,) = struct.unpack("!H", frame[12:14])
    assert length <= 1500, "not an 802.3 length frame"
    assert length == len(frame) - 14, "802.3 length does not match the frame"
    assert frame[14:17] == b"\xaa\xaa\x03", "LLC is not SNAP/UI"
    assert frame[17:22] == b"\x00\x00\x0c\x20\x00", "SNAP is not Cisco/CDP"
    cdp = frame[22:]
    version, ttl, checksum = struct.unpack("!BBH", cdp[:4])
    parsed = Parsed(dst, src, length, version, ttl, checksum, cdp)
    offset = 4
    while offset < len(cdp):
        kind, tlv_len = struct.unpack("!HH", cdp[offset : offset + 4])
        assert tlv_len >= 4 and offset + tlv_len <= len(cdp), f"bad TLV length at {offset}"
        parsed.tlvs.append((kind, cdp[offset + 4 : offset + tlv_len]))
        offset += tlv_len
    assert offset == len(cdp), "trailing bytes after the last TLV"
    return parsed


def parse_addresses(value: bytes) -> list[str]:
    (count,) = struct.unpack("!I", value[:4])
    out, offset = [], 4
    for _ in range(count):
        ptype, plen = value[offset], value[offset + 1]
        proto = value[offset + 2 : offset + 2 + plen]
        offset += 2 + plen
        (alen,) = struct.unpack("!H", value[offset : offset + 2])
        raw = value[offset + 2 : offset + 2 + alen]
        offset += 2 + alen
        if (ptype, proto) == (1, b"\xcc"):
            out.append(str(ipaddress.IPv4Address(raw)))
        elif (ptype, proto) == (2, b"\xaa\xaa\x03\x00\x00\x00\x86\xdd"):
            out.append(str(ipaddress.IPv6Address(raw)))
        else:
            raise AssertionError(f"unknown address record {ptype} {proto!r}")
    assert offset == len(value)
    return out


# -- the frame ---------------------------------------------------------------------------


def test_frame_is_802_3_llc_snap_to_the_cdp_multicast_from_the_port_mac() -> None:
    parsed = parse_frame(build_frame(IDENTITY, "Ethernet1", MAC, holdtime=180))
    assert parsed.dst == CDP_MULTICAST
    assert parsed.src == MAC
    assert parsed.version == 2
    assert parsed.ttl == 180


def test_tlvs_carry_the_switch_identity_and_the_port_in_type_order() -> None:
    parsed = parse_frame(build_frame(IDENTITY, "Ethernet1/1", MAC, holdtime=120, native_vlan=42))
    assert parsed.types() == [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0B, 0x16]
    assert parsed.tlv(0x01) == b"leaf1"
    assert parse_addresses(parsed.tlv(0x02)) == ["192.0.2.10", "2001:db8::10"]
    assert parsed.tlv(0x03) == b"Ethernet1/1"
    assert struct.unpack("!I", parsed.tlv(0x04)) == (0x08 | 0x20,)  # switch + IGMP
    assert parsed.tlv(0x05) == b"Arista Networks EOS version 4.31.1F"
    assert parsed.tlv(0x06) == b"DCS-7050SX3-48YC8"
    assert struct.unpack("!H", parsed.tlv(0x0A)) == (42,)
    assert parsed.tlv(0x0B) == b"\x01"
    assert parse_addresses(parsed.tlv(0x16)) == ["192.0.2.10", "2001:db8::10"]
    assert parsed.ttl == 120


def test_optional_tlvs_are_left_out_and_half_duplex_is_said() -> None:
    bare = CdpIdentity("leaf1", (), "Arista Networks EOS", "Arista Networks")
    parsed = parse_frame(build_frame(bare, "Ethernet7", MAC, holdtime=10, full_duplex=False))
    assert parsed.types() == [0x01, 0x03, 0x04, 0x05, 0x06, 0x0B]
    assert parsed.tlv(0x0B) == b"\x00"


def test_no_mtu_tlv_is_sent() -> None:
    # scapy's CDPMsgMTU writes 2 bytes where the protocol has 4.
    parsed = parse_frame(build_frame(IDENTITY, "Ethernet1", MAC, holdtime=180, native_vlan=1))
    assert 0x11 not in parsed.types()


def test_long_texts_are_cut_at_a_character_and_the_frame_stays_in_one_ethernet_payload() -> None:
    many = tuple(f"10.0.0.{i}" for i in range(1, 20)) + tuple(f"2001:db8::{i}" for i in range(20))
    huge = CdpIdentity("h" * 300, many, "v" * 300 + "é", "p" * 254 + "é")
    frame = build_frame(huge, "Ethernet1", MAC, holdtime=180, native_vlan=4094)
    parsed = parse_frame(frame)
    assert len(frame) <= 1514
    assert parsed.tlv(0x01) == b"h" * 255
    assert parsed.tlv(0x05) == b"v" * 255
    assert parsed.tlv(0x06) == b"p" * 254  # the 2-byte "é" did not fit: no half character
    assert len(parse_addresses(parsed.tlv(0x02))) == 8


# -- the checksum ------------------------------------------------------------------------

# CDP payloads (checksum included) that Wireshark 4.0.17 reports as "Good". Odd
# lengths ending in a byte >= 0x80 are where Cisco's sign extension matters and
# scapy's own checksum is wrong for 0x80.
WIRESHARK_GOOD = [
    "02b49be100010007616200",
    "02b49ba000010007616241",
    "02b49b620001000761627f",
    "02b49c6100010007616280",
    "02b49c6000010007616281",
    "02b49be3000100076162fe",
    "02b49be2000100076162ff",
    "02b49be2000100066162",
]


@pytest.mark.parametrize("payload_hex", WIRESHARK_GOOD)
def test_checksum_matches_wireshark(payload_hex: str) -> None:
    payload = bytes.fromhex(payload_hex)
    expected = struct.unpack("!H", payload[2:4])[0]
    assert cdp_checksum(payload[:2] + b"\0\0" + payload[4:]) == expected


@pytest.mark.parametrize("last_octet", [0, 1, 0x7F, 0x80, 0x81, 0xFE, 0xFF])
@pytest.mark.parametrize("name", ["leaf1", "leaf12"])  # both parities of the frame length
def test_built_frames_carry_their_own_checksum(name: str, last_octet: int) -> None:
    identity = CdpIdentity(name, (f"192.0.2.{last_octet}",), "EOS", "DCS")
    parsed = parse_frame(build_frame(identity, "Ethernet1", MAC, holdtime=180))
    zeroed = parsed.cdp[:2] + b"\0\0" + parsed.cdp[4:]
    assert parsed.checksum == cdp_checksum(zeroed)
    assert parsed.cdp[-1] == last_octet  # the management address ends the frame


# -- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"holdtime": 0}, "holdtime"),
        ({"holdtime": 256}, "holdtime"),
        ({"holdtime": 180, "native_vlan": 0}, "native VLAN"),
        ({"holdtime": 180, "native_vlan": 4095}, "native VLAN"),
    ],
)
def test_out_of_range_values_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_frame(IDENTITY, "Ethernet1", MAC, **kwargs)


@pytest.mark.parametrize("mac", ["", "02:00:00:00:00", "zz:00:00:00:00:01", "01:00:0c:cc:cc:cc"])
def test_bad_or_multicast_source_macs_are_refused(mac: str) -> None:
    with pytest.raises(ValueError, match="MAC"):
        build_frame(IDENTITY, "Ethernet1", mac, holdtime=180)


def test_empty_port_id_is_refused() -> None:
    with pytest.raises(ValueError, match="port ID"):
        build_frame(IDENTITY, " ", MAC, holdtime=180)
