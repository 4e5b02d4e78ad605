"""The address of one of the switch's interfaces, read from eAPI, for ``source_interface``.

What this module is for: a session with ``source_interface`` connects to vCenter
from that interface's primary IPv4 address. :func:`interface_address` reads it
with ``show ip interface <name>`` (one request on its own short-lived
connection, so any thread may call it beside the agent's own eAPI traffic) and
:func:`parse_interface_address` checks what EOS answered.

It must never invent an address: an interface that does not exist, has no
address (EOS shows ``0.0.0.0``), or is in another VRF than the session's is an
error that says so, and the caller connects nowhere.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.switch.errors import SwitchError
from eos_vmtracer.switch.transport import EapiTransport


class NoAddress(Exception):
    """The interface has no usable address (the message says why)."""


def parse_interface_address(output: Any, interface: str, vrf: str) -> str:
    """The primary IPv4 address of ``interface`` in ``show ip interface <interface>``."""
    interfaces = output.get("interfaces") if isinstance(output, Mapping) else None
    entry = interfaces.get(interface) if isinstance(interfaces, Mapping) else None
    if not isinstance(entry, Mapping):
        raise NoAddress(f"EOS shows no IP interface {interface}")
    where = entry.get("vrf")
    if not isinstance(where, str):
        raise NoAddress(f"EOS does not say which VRF {interface} is in")
    if where != vrf:
        raise NoAddress(f"{interface} is in VRF {where}, not in VRF {vrf}")
    block = entry.get("interfaceAddress")
    primary = block.get("primaryIp") if isinstance(block, Mapping) else None
    address = primary.get("address") if isinstance(primary, Mapping) else None
    if not isinstance(address, str):
        raise NoAddress(f"EOS shows no primary address for {interface}")
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        raise NoAddress(f"{interface}: {address!r} is not an IPv4 address") from None
    if parsed.is_unspecified:
        raise NoAddress(f"{interface} has no IPv4 address")
    return str(parsed)


def interface_address(cfg: SwitchConfig, interface: str, vrf: str) -> str:
    """Ask eAPI for ``interface``'s address (:class:`NoAddress` when there is none)."""
    try:
        transport = EapiTransport(cfg)
    except SwitchError as e:
        raise NoAddress(f"eAPI: {e}") from None
    try:
        reply = transport.send(["enable", f"show ip interface {interface}"])
    except SwitchError as e:
        raise NoAddress(f"eAPI: {e}") from None
    finally:
        transport.close()
    if reply.error is not None:
        raise NoAddress(str(reply.error))
    if len(reply.results) < 2:
        raise NoAddress("eAPI answered nothing")
    return parse_interface_address(reply.results[1], interface, vrf)


__all__ = ["NoAddress", "interface_address", "parse_interface_address"]
