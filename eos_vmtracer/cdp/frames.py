"""CDPv2 frames, as bytes, built with scapy.

What this module is for: the one place that knows the CDP wire format. It
builds complete Ethernet frames (IEEE 802.3 length + LLC/SNAP, OUI 00:00:0c,
PID 0x2000, to 01:00:0c:cc:cc:cc) carrying the TLVs a CDP listener such as
ESXi, lldpd or Wireshark expects, with a checksum computed the way Cisco does.

It must never send anything or touch the network, and never let a scapy type or
exception out: callers get ``bytes``, :class:`ValueError` for bad arguments and
:class:`~eos_vmtracer.cdp.errors.CdpError` if scapy fails.

Two scapy quirks are avoided on purpose:

* scapy's CDP checksum treats an odd-length frame ending in byte 0x80 like one
  ending below 0x80; Cisco (and Wireshark) sign-extend it. The checksum is
  computed here, by :func:`cdp_checksum`.
* scapy's ``CDPMsgMTU`` writes 2 bytes where the protocol has 4, so no MTU TLV
  is sent.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any, Optional

from scapy.contrib import cdp as scapy_cdp
from scapy.layers.l2 import LLC, SNAP, Dot3

from eos_vmtracer.cdp.errors import CdpError
from eos_vmtracer.cdp.identity import CdpIdentity
from eos_vmtracer.vlans import VLAN_MAX, VLAN_MIN

CDP_MULTICAST = "01:00:0c:cc:cc:cc"
CDP_VERSION = 2
#: Capabilities TLV bits.
CAP_SWITCH = 0x08
CAP_IGMP = 0x20
CAPABILITIES = CAP_SWITCH | CAP_IGMP
#: Where the CDP header starts in the frame: 802.3 (14) + LLC (3) + SNAP (5).
CDP_OFFSET = 22
#: Longest text put in one TLV, in bytes (longer text is cut at a character).
MAX_TEXT = 255
#: Most addresses sent (keeps the frame well inside one Ethernet payload).
MAX_ADDRESSES = 8

_MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def cdp_checksum(data: bytes) -> int:
    """The CDP checksum of ``data`` (the CDP header and TLVs, checksum field zero).

    The Internet checksum, except for an odd length: Cisco puts the last byte in
    the low half of a final word and sign-extends it, so a last byte ``v`` with
    the top bit set counts as ``0xff00 | (v - 1)``. Wireshark checks it that way.
    """
    even = len(data) - (len(data) % 2)
    words: tuple[int, ...] = struct.unpack(f"!{even // 2}H", data[:even])
    total = sum(words)
    if len(data) % 2:
        last = data[-1]
        total += (0xFF00 | (last - 1)) if last & 0x80 else last
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) <= MAX_TEXT:
        return raw
    return raw[:MAX_TEXT].decode("utf-8", "ignore").encode("utf-8")


def _mac(text: str) -> str:
    mac = text.strip().lower().replace("-", ":")
    if not _MAC_RE.fullmatch(mac):
        raise ValueError(f"{text!r} is not a MAC address")
    if int(mac[:2], 16) & 1:
        raise ValueError(f"{text!r} is a multicast MAC address, not a port's")
    return mac


def _address_records(addresses: tuple[str, ...]) -> list[Any]:
    records: list[Any] = []
    for text in addresses[:MAX_ADDRESSES]:
        address = ipaddress.ip_address(text)
        if address.version == 4:
            records.append(scapy_cdp.CDPAddrRecordIPv4(addr=str(address)))
        else:
            records.append(scapy_cdp.CDPAddrRecordIPv6(addr=str(address)))
    return records


def build_frame(
    identity: CdpIdentity,
    port_id: str,
    src_mac: str,
    *,
    holdtime: int,
    native_vlan: Optional[int] = None,
    full_duplex: bool = True,
) -> bytes:
    """One complete CDPv2 Ethernet frame for port ``port_id``, sent from ``src_mac``.

    TLVs, in type order: Device ID, Addresses (when there are any), Port ID,
    Capabilities (switch, IGMP), Software Version, Platform, Native VLAN (when
    given), Duplex, Management Address (same addresses). TTL is ``holdtime``.
    """
    if isinstance(holdtime, bool) or not 1 <= holdtime <= 255:
        raise ValueError(f"CDP holdtime must be 1-255 seconds, not {holdtime}")
    if native_vlan is not None and not VLAN_MIN <= native_vlan <= VLAN_MAX:
        raise ValueError(f"native VLAN {native_vlan} is out of range {VLAN_MIN}-{VLAN_MAX}")
    if not port_id.strip():
        raise ValueError("CDP port ID must not be empty")
    source = _mac(src_mac)
    try:
        records = _address_records(identity.addresses)
        tlvs: list[Any] = [scapy_cdp.CDPMsgDeviceID(val=_text(identity.device_id))]
        if records:
            tlvs.append(scapy_cdp.CDPMsgAddr(addr=records))
        tlvs += [
            scapy_cdp.CDPMsgPortID(iface=_text(port_id)),
            scapy_cdp.CDPMsgCapabilities(cap=CAPABILITIES),
            scapy_cdp.CDPMsgSoftwareVersion(val=_text(identity.version)),
            scapy_cdp.CDPMsgPlatform(val=_text(identity.platform)),
        ]
        if native_vlan is not None:
            tlvs.append(scapy_cdp.CDPMsgNativeVLAN(vlan=native_vlan))
        tlvs.append(scapy_cdp.CDPMsgDuplex(duplex=1 if full_duplex else 0))
        if records:
            tlvs.append(scapy_cdp.CDPMsgMgmtAddr(addr=_address_records(identity.addresses)))
        header = scapy_cdp.CDPv2_HDR(vers=CDP_VERSION, ttl=holdtime, cksum=0, msg=tlvs)
        frame = bytes(
            Dot3(dst=CDP_MULTICAST, src=source)
            / LLC(dsap=0xAA, ssap=0xAA, ctrl=0x03)
            / SNAP(OUI=0x00000C, code=0x2000)
            / header
        )
    except Exception as e:  # scapy raises many types; none may leave the adapter
        raise CdpError(f"cannot build the CDP frame for {port_id}: {e}") from e
    payload = frame[CDP_OFFSET:]
    return frame[: CDP_OFFSET + 2] + struct.pack("!H", cdp_checksum(payload)) + payload[4:]


__all__ = [
    "CAPABILITIES",
    "CDP_MULTICAST",
    "CDP_OFFSET",
    "MAX_ADDRESSES",
    "MAX_TEXT",
    "build_frame",
    "cdp_checksum",
]
