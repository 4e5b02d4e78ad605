"""The emulated switch's configuration: ports, Port-Channels, VLANs, and its running-config.

What this module is for: a plain, mutable picture of an EOS switch's
configuration that the emulator's CLI edits and its show commands read, a
builder for the initial state tests want (N Ethernet trunks, Port-Channels with
members, VLANs), JSON round-tripping (the state file of the standalone emulator)
and the ``show running-config`` text rendered the way EOS writes it (defaults
left out; ``switchport trunk allowed vlan`` before ``switchport mode trunk``;
VLANs with identical configuration grouped as ``vlan 20-21``).

It must never import the project under test (``eos_vmtracer``): the emulator
parses VLAN lists and interface ranges itself, so a bug in the project's parser
cannot hide behind the same bug here.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

VLAN_MIN, VLAN_MAX = 1, 4094
ALL_VLANS = frozenset(range(VLAN_MIN, VLAN_MAX + 1))


class VlanListError(ValueError):
    """A VLAN list EOS would not accept."""


def parse_vlan_list(text: str) -> frozenset[int]:
    """``"10,20-30"`` -> ids; raises :class:`VlanListError` for anything EOS refuses."""
    ids: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\d{1,4})(?:-(\d{1,4}))?", part)
        if not match:
            raise VlanListError(part)
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if not (VLAN_MIN <= first <= last <= VLAN_MAX):
            raise VlanListError(part)
        ids.update(range(first, last + 1))
    return frozenset(ids)


def format_vlans(ids: Iterable[int]) -> str:
    """Ids -> ``"10,20-30"`` (empty string for none)."""
    runs: list[list[int]] = []
    for vid in sorted(set(ids)):
        if runs and runs[-1][1] == vid - 1:
            runs[-1][1] = vid
        else:
            runs.append([vid, vid])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def allowed_text(allowed: Optional[frozenset[int]]) -> str:
    """``trunkAllowedVlans`` as EOS prints it: ``ALL``, ``NONE`` or the list."""
    if allowed is None:
        return "ALL"
    return format_vlans(allowed) or "NONE"


def default_vlan_name(vid: int) -> str:
    """EOS's name for a VLAN nobody named: ``default`` for 1, else ``VLAN0010``."""
    return "default" if vid == 1 else f"VLAN{vid:04d}"


def if_sort_key(name: str) -> tuple[Any, ...]:
    """Natural order, Ethernets first, then Port-Channels, then Management."""
    rank = {"Ethernet": 0, "Port-Channel": 1, "Management": 2}
    kind = re.match(r"[A-Za-z-]+", name)
    prefix = kind.group(0) if kind else name
    numbers = tuple(int(n) for n in re.findall(r"\d+", name))
    return (rank.get(prefix, 3), prefix, numbers)


@dataclass
class Port:
    """One interface's configuration (and the little run-time state shows need)."""

    name: str
    mode: str = "access"  # access | trunk | routed
    allowed: Optional[frozenset[int]] = None  # None: ALL (no allowed-vlan line)
    native_vlan: int = 1
    access_vlan: int = 1
    channel_group: Optional[int] = None
    channel_mode: str = "active"
    description: str = ""
    shutdown: bool = False
    ipv4: str = ""  # "192.0.2.10/24"
    ipv6: list[str] = field(default_factory=list)  # ["2001:db8::10/64"]
    vrf: str = "default"
    active: bool = True  # as a Port-Channel member: LACP up (run-time, not configuration)

    @property
    def kind(self) -> str:
        """``Ethernet``, ``Port-Channel`` or ``Management``."""
        match = re.match(r"[A-Za-z-]+", self.name)
        return match.group(0) if match else ""

    def config_lines(self) -> list[str]:
        """The interface's lines in ``show running-config`` (defaults left out)."""
        lines: list[str] = []
        if self.description:
            lines.append(f"description {self.description}")
        if self.shutdown:
            lines.append("shutdown")
        if self.channel_group is not None:
            lines.append(f"channel-group {self.channel_group} mode {self.channel_mode}")
        if self.kind == "Management":
            pass
        elif self.mode == "routed":
            lines.append("no switchport")
        else:
            if self.access_vlan != 1:
                lines.append(f"switchport access vlan {self.access_vlan}")
            if self.native_vlan != 1:
                lines.append(f"switchport trunk native vlan {self.native_vlan}")
            if self.allowed is not None:
                text = format_vlans(self.allowed) or "none"
                lines.append(f"switchport trunk allowed vlan {text}")
            if self.mode == "trunk":
                lines.append("switchport mode trunk")
        if self.vrf != "default":
            lines.append(f"vrf {self.vrf}")
        if self.ipv4:
            lines.append(f"ip address {self.ipv4}")
        lines.extend(f"ipv6 address {a}" for a in self.ipv6)
        return lines


@dataclass
class SwitchState:
    """The switch: identity, interfaces, VLANs, LLDP neighbours."""

    hostname: str = "leaf1"
    domain: str = ""
    model: str = "DCS-7050TX-64"
    version: str = "4.31.1F"
    system_mac: str = "00:1c:73:00:00:01"
    serial: str = "JPE00000001"
    interfaces: dict[str, Port] = field(default_factory=dict)
    vlans: dict[int, str] = field(default_factory=lambda: {1: ""})  # id -> name ("" default)
    lldp: list[dict[str, Any]] = field(default_factory=list)

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        hostname: str = "leaf1",
        domain: str = "",
        model: str = "DCS-7050TX-64",
        version: str = "4.31.1F",
        system_mac: str = "00:1c:73:00:00:01",
        ethernet: int = 48,
        trunk_allowed: str = "ALL",
        port_channels: Optional[dict[str, list[str]]] = None,
        vlans: Optional[dict[int, str]] = None,
        mgmt_ipv4: str = "192.0.2.10/24",
        mgmt_ipv6: Iterable[str] = (),
        mgmt_vrf: str = "MGMT",
        lldp: Optional[list[dict[str, Any]]] = None,
    ) -> SwitchState:
        """A switch with ``ethernet`` trunk ports (allowed ``trunk_allowed``)."""
        allowed = _allowed_from_text(trunk_allowed)
        state = cls(hostname, domain, model, version, system_mac)
        for n in range(1, ethernet + 1):
            state.interfaces[f"Ethernet{n}"] = Port(f"Ethernet{n}", "trunk", allowed)
        for po_name, members in (port_channels or {}).items():
            number = int(po_name.replace("Port-Channel", ""))
            state.interfaces[po_name] = Port(po_name, "trunk", allowed)
            for member in members:
                state.interfaces[member] = Port(member, channel_group=number)
        state.interfaces["Management1"] = Port(
            "Management1",
            "routed",
            ipv4=mgmt_ipv4,
            ipv6=list(mgmt_ipv6),
            vrf=mgmt_vrf,
        )
        state.vlans = {1: ""}
        state.vlans.update({int(k): v for k, v in (vlans or {}).items()})
        state.lldp = list(lldp or [])
        return state

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SwitchState:
        """A state from a JSON object: a full dump (``to_dict``) or ``build`` arguments."""
        if "interfaces" in spec:
            return cls.from_dict(spec)
        kwargs = dict(spec)
        if "vlans" in kwargs:
            kwargs["vlans"] = {int(k): v for k, v in kwargs["vlans"].items()}
        return cls.build(**kwargs)

    def copy(self) -> SwitchState:
        """A deep copy (a configuration session's snapshot)."""
        return copy.deepcopy(self)

    # -- JSON -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything, as JSON-able data."""
        return {
            "hostname": self.hostname,
            "domain": self.domain,
            "model": self.model,
            "version": self.version,
            "system_mac": self.system_mac,
            "serial": self.serial,
            "vlans": {str(k): v for k, v in sorted(self.vlans.items())},
            "lldp": self.lldp,
            "interfaces": {
                name: {
                    "mode": p.mode,
                    "allowed": None if p.allowed is None else format_vlans(p.allowed),
                    "native_vlan": p.native_vlan,
                    "access_vlan": p.access_vlan,
                    "channel_group": p.channel_group,
                    "channel_mode": p.channel_mode,
                    "description": p.description,
                    "shutdown": p.shutdown,
                    "ipv4": p.ipv4,
                    "ipv6": p.ipv6,
                    "vrf": p.vrf,
                    "active": p.active,
                }
                for name, p in sorted(self.interfaces.items(), key=lambda kv: if_sort_key(kv[0]))
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwitchState:
        """The inverse of :meth:`to_dict`."""
        state = cls(
            hostname=data.get("hostname", "leaf1"),
            domain=data.get("domain", ""),
            model=data.get("model", "DCS-7050TX-64"),
            version=data.get("version", "4.31.1F"),
            system_mac=data.get("system_mac", "00:1c:73:00:00:01"),
            serial=data.get("serial", "JPE00000001"),
        )
        state.vlans = {int(k): v for k, v in data.get("vlans", {"1": ""}).items()}
        state.lldp = list(data.get("lldp", []))
        for name, p in data["interfaces"].items():
            allowed = p.get("allowed")
            state.interfaces[name] = Port(
                name=name,
                mode=p.get("mode", "access"),
                allowed=None if allowed is None else _allowed_from_text(allowed or "NONE"),
                native_vlan=p.get("native_vlan", 1),
                access_vlan=p.get("access_vlan", 1),
                channel_group=p.get("channel_group"),
                channel_mode=p.get("channel_mode", "active"),
                description=p.get("description", ""),
                shutdown=p.get("shutdown", False),
                ipv4=p.get("ipv4", ""),
                ipv6=list(p.get("ipv6", [])),
                vrf=p.get("vrf", "default"),
                active=p.get("active", True),
            )
        return state

    # -- views ----------------------------------------------------------------------------

    @property
    def fqdn(self) -> str:
        """``hostname.domain``, or the hostname without a domain."""
        return f"{self.hostname}.{self.domain}" if self.domain else self.hostname

    def sorted_ports(self) -> list[Port]:
        """Interfaces in EOS order."""
        return [self.interfaces[n] for n in sorted(self.interfaces, key=if_sort_key)]

    def members(self, channel: str) -> list[Port]:
        """The Ethernets configured into ``channel`` (``Port-Channel10``)."""
        number = int(channel.replace("Port-Channel", ""))
        return [p for p in self.sorted_ports() if p.channel_group == number]

    def running_config(self) -> str:
        """``show running-config`` as EOS prints it."""
        out = [
            "! Command: show running-config",
            f"! device: {self.hostname} ({self.model}, EOS-{self.version})",
            "!",
            "! boot system flash:/EOS.swi",
            "!",
            "transceiver qsfp default-mode 4x10G",
            "!",
            f"hostname {self.hostname}",
        ]
        if self.domain:
            out.append(f"ip domain-name {self.domain}")
        out += ["!", "spanning-tree mode mstp", "!"]
        vrfs = sorted({p.vrf for p in self.interfaces.values() if p.vrf != "default"})
        for vrf in vrfs:
            out += [f"vrf instance {vrf}", "!"]
        for spec, name in self._vlan_groups():
            out.append(f"vlan {spec}")
            if name:
                out.append(f"   name {name}")
            out.append("!")
        for port in self.sorted_ports():
            out.append(f"interface {port.name}")
            out.extend(f"   {line}" for line in port.config_lines())
            out.append("!")
        out += ["management api http-commands", "   no shutdown", "!", "end", ""]
        return "\n".join(out)

    def _vlan_groups(self) -> list[tuple[str, str]]:
        """VLANs with the same configuration, as EOS groups them (``vlan 20-21``)."""
        by_config: dict[str, list[int]] = {}
        for vid, name in sorted(self.vlans.items()):
            if vid == 1 and not name:
                continue  # the default VLAN is not in the running-config
            by_config.setdefault(name, []).append(vid)
        groups = [(format_vlans(ids), name) for name, ids in by_config.items()]
        return sorted(groups, key=lambda g: int(re.split(r"[,-]", g[0])[0]))


def _allowed_from_text(text: str) -> Optional[frozenset[int]]:
    upper = text.strip().upper()
    if upper == "ALL":
        return None
    if upper in ("NONE", ""):
        return frozenset()
    ids = parse_vlan_list(text.replace(" ", ""))
    return None if ids == ALL_VLANS else ids
