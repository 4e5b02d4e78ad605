"""What the CDP frames say about the switch, and which ports they go out of.

What this module is for: turn the switch facts (read over eAPI) and the
configuration into a :class:`CdpIdentity` and the map of EOS ports to kernel
interfaces that the sender transmits on. Pure functions over plain data.

It must never import scapy, open a socket or read a file: the frames and the
sending live in :mod:`eos_vmtracer.cdp.frames` and :mod:`eos_vmtracer.cdp.sender`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping

from eos_vmtracer.config import Config
from eos_vmtracer.model import SwitchFacts, SwitchInterface
from eos_vmtracer.vlans import (
    VLAN_MAX,
    VLAN_MIN,
    canonical_interface,
    interface_sort_key,
    is_port_channel,
    kernel_name,
)

#: The Software Version TLV when the switch did not say which EOS it runs.
DEFAULT_VERSION = "Arista Networks EOS"
#: The Platform TLV when the switch did not give its model.
DEFAULT_PLATFORM = "Arista Networks"


@dataclass(frozen=True)
class CdpIdentity:
    """What the frames say about the switch (the same on every port)."""

    device_id: str
    """Device ID TLV: the switch's hostname, which ESXi reports as ``devId``."""
    addresses: tuple[str, ...]
    """Addresses TLV: management IPv4 then IPv6 addresses, without prefix lengths."""
    version: str
    """Software Version TLV: ``Arista Networks EOS version 4.31.1F``."""
    platform: str
    """Platform TLV: the switch model, ``DCS-7050SX3-48YC8``."""

    def __post_init__(self) -> None:
        if not self.device_id.strip():
            raise ValueError("CDP device ID must not be empty")
        for address in self.addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None


def _clean_addresses(raw: tuple[str, ...]) -> tuple[str, ...]:
    """Usable management addresses: IPv4 first, no prefix lengths, no link-local."""
    v4: list[str] = []
    v6: list[str] = []
    for text in raw:
        try:
            address = ipaddress.ip_address(text.split("/")[0].strip())
        except ValueError:
            continue
        if address.is_link_local or address.is_loopback or address.is_unspecified:
            continue
        bucket = v4 if address.version == 4 else v6
        if str(address) not in bucket:
            bucket.append(str(address))
    return tuple(v4 + v6)


def identity_from_facts(facts: SwitchFacts, hostname_override: str = "") -> CdpIdentity:
    """The identity for these facts; ``hostname_override`` (``[switch] hostname``) wins.

    Without any name (no override, no hostname, no FQDN) the system MAC is the
    device ID: the planner recognises it too.
    """
    device_id = (
        hostname_override.strip()
        or facts.hostname.strip()
        or facts.fqdn.strip()
        or facts.system_mac.strip()
        or "localhost"
    )
    version = facts.version.strip()
    return CdpIdentity(
        device_id=device_id,
        addresses=_clean_addresses(facts.mgmt_addresses),
        version=f"{DEFAULT_VERSION} version {version}" if version else DEFAULT_VERSION,
        platform=facts.model.strip() or DEFAULT_PLATFORM,
    )


def _canonical(name: str) -> str:
    try:
        return canonical_interface(name)
    except ValueError:
        return ""


def _is_ethernet(name: str) -> bool:
    return name.startswith("Ethernet")


def _members(channel: str, facts: SwitchFacts) -> list[str]:
    members = [
        iface.name
        for iface in facts.interfaces.values()
        if iface.channel and _canonical(iface.channel) == channel and _is_ethernet(iface.name)
    ]
    return sorted(members, key=interface_sort_key)


def cdp_ports(config: Config, facts: SwitchFacts) -> dict[str, str]:
    """EOS port -> kernel interface, for every port that sends CDP.

    Those are the enabled Ethernets (``[switch] interfaces``) and the member
    Ethernets of the enabled Port-Channels (their Port ID is the member's own
    name). Kernel names come from ``[cdp] kernel_interfaces``, else EOS's naming
    (``Ethernet1/1`` -> ``et1_1``). Empty when ``[cdp] enabled`` is false.
    """
    if not config.cdp.enabled:
        return {}
    names: list[str] = []
    for name in config.switch.interfaces:
        if is_port_channel(name):
            candidates = _members(name, facts)
        elif _is_ethernet(name):
            candidates = [name]
        else:
            candidates = []
        names.extend(n for n in candidates if n not in names)
    overrides = config.cdp.kernel_interfaces
    return {name: overrides.get(name) or kernel_name(name) for name in names}


def _native_vlan(iface: SwitchInterface) -> int:
    if iface.mode == "access":
        return iface.access_vlan
    if iface.mode == "trunk":
        return iface.native_vlan
    return 0


def cdp_native_vlans(facts: SwitchFacts, ports: Mapping[str, str]) -> dict[str, int]:
    """EOS port -> the VLAN its untagged frames belong to, for the Native VLAN TLV.

    A Port-Channel member reports its Port-Channel's native VLAN. Ports the
    facts do not know, and routed ports, are left out (no Native VLAN TLV).
    """
    out: dict[str, int] = {}
    for name in ports:
        iface = facts.interfaces.get(name)
        if iface is None:
            continue
        if iface.channel:
            iface = facts.interfaces.get(_canonical(iface.channel), iface)
        vlan = _native_vlan(iface)
        if VLAN_MIN <= vlan <= VLAN_MAX:
            out[name] = vlan
    return out


__all__ = [
    "DEFAULT_PLATFORM",
    "DEFAULT_VERSION",
    "CdpIdentity",
    "cdp_native_vlans",
    "cdp_ports",
    "identity_from_facts",
]
