"""EOS ``show`` outputs (eAPI JSON) -> :class:`~eos_vmtracer.model.SwitchFacts`.

What this module is for: the list of show commands the adapter sends in ONE
request to learn the switch, and the pure functions that read their JSON (the
shapes real EOS gives; samples are kept in ``tests/data/eos``):

- ``show hostname`` -> ``hostname``, ``fqdn``;
- ``show version`` -> ``modelName``, ``version``, ``systemMacAddress``;
- ``show interfaces switchport`` -> every switchport: ``switchportInfo.mode``,
  ``trunkAllowedVlans`` (``"ALL"``, ``"NONE"`` or ``"10,20-30"``),
  ``trunkingNativeVlanId``, ``accessVlanId`` (names canonicalised: some releases
  print ``Et1`` for ``Ethernet1``);
- ``show port-channel all-ports`` -> ``portChannels.<Po>.activePorts`` and
  ``inactivePorts``: every configured member Ethernet, active or not, gets
  ``channel = "Port-ChannelN"`` (an MLAG peer's ``PeerEthernetN`` is skipped);
- ``show vlan`` -> ``vlans`` ({id: name}); dynamic VLANs (MLAG, MVRP, VM Tracer)
  are left out, since nobody configured them and they can vanish;
- ``show ip interface`` -> the IPv4 addresses of ``Management*`` interfaces.
  It lists the layer-3 interfaces of every VRF (the management interface usually
  sits in a management VRF) with structured ``primaryIp`` and
  ``secondaryIpsOrderedList``, where ``show management api http-commands`` only
  has URLs as text;
- ``show configuration sessions`` -> pending sessions a crashed run of the agent
  left behind (they count against EOS's limit of open sessions);
- ``show ipv6 interface`` -> IPv6 addresses of ``Management*``. It goes LAST and is
  optional: EOS answers "No IPv6 configured interfaces" as an *error* when no
  interface has IPv6, and an error stops the request there; everything before it
  has been answered already (eAPI returns those results in the error's data).

It must never do I/O or import pyeapi, and never invent a value: an answer that
does not have the expected shape raises :class:`PermanentSwitchError` naming the
command.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Optional

from eos_vmtracer.model import SwitchFacts, SwitchInterface
from eos_vmtracer.switch.errors import PermanentSwitchError
from eos_vmtracer.vlans import VlanSet, canonical_interface, interface_sort_key, is_port_channel

SHOW_HOSTNAME = "show hostname"
SHOW_VERSION = "show version"
SHOW_SWITCHPORTS = "show interfaces switchport"
SHOW_PORT_CHANNELS = "show port-channel all-ports"
SHOW_VLANS = "show vlan"
SHOW_IPV4 = "show ip interface"
SHOW_SESSIONS = "show configuration sessions"
SHOW_IPV6 = "show ipv6 interface"

#: Sent in this order, in one request; every one of them must succeed.
REQUIRED_COMMANDS: tuple[str, ...] = (
    SHOW_HOSTNAME,
    SHOW_VERSION,
    SHOW_SWITCHPORTS,
    SHOW_PORT_CHANNELS,
    SHOW_VLANS,
    SHOW_IPV4,
    SHOW_SESSIONS,
)
#: Sent after the required ones, in the same request; an error in them is tolerated.
OPTIONAL_COMMANDS: tuple[str, ...] = (SHOW_IPV6,)

Outputs = Mapping[str, Mapping[str, Any]]


def parse_facts(outputs: Outputs) -> SwitchFacts:
    """Build the switch facts from the JSON answers, keyed by command.

    Every command of :data:`REQUIRED_COMMANDS` must be present; optional ones
    may be missing.
    """
    host = _output(outputs, SHOW_HOSTNAME)
    version = _output(outputs, SHOW_VERSION)
    interfaces = _switchports(_output(outputs, SHOW_SWITCHPORTS))
    members = port_channel_members(_output(outputs, SHOW_PORT_CHANNELS))
    ipv4 = _output(outputs, SHOW_IPV4)
    _add_routed(interfaces, ipv4)
    for member, channel in members.items():
        current = interfaces.get(member)
        if current is None:
            # EOS lists a member's switchport settings under its Port-Channel; what
            # is in effect on the member is the Port-Channel's configuration.
            base = interfaces.get(channel) or SwitchInterface(channel, "routed", VlanSet.none())
            current = replace(base, name=member, mac="")
        interfaces[member] = replace(current, channel=channel)
    ipv6 = outputs.get(SHOW_IPV6)
    return SwitchFacts(
        hostname=_string(host, "hostname", SHOW_HOSTNAME),
        fqdn=_string(host, "fqdn", SHOW_HOSTNAME, default=""),
        model=_string(version, "modelName", SHOW_VERSION),
        version=_string(version, "version", SHOW_VERSION),
        system_mac=_string(version, "systemMacAddress", SHOW_VERSION, default=""),
        mgmt_addresses=tuple(_ipv4_addresses(ipv4) + _ipv6_addresses(ipv6)),
        interfaces=dict(sorted(interfaces.items(), key=lambda kv: interface_sort_key(kv[0]))),
        vlans=_vlans(_output(outputs, SHOW_VLANS)),
    )


def port_channel_members(output: Mapping[str, Any]) -> dict[str, str]:
    """Member Ethernet -> its Port-Channel, from ``show port-channel [all-ports]``."""
    members: dict[str, str] = {}
    for raw_channel, entry in _mapping(output, "portChannels", SHOW_PORT_CHANNELS).items():
        channel = _canonical(raw_channel)
        if channel is None or not isinstance(entry, Mapping):
            continue
        for section in ("activePorts", "inactivePorts"):
            ports = entry.get(section, {})
            if ports is None:
                continue
            if not isinstance(ports, Mapping):
                raise _bad(SHOW_PORT_CHANNELS, f"'{section}' of {raw_channel} is not an object")
            for raw_member in ports:
                member = _canonical(raw_member)  # None for an MLAG peer's PeerEthernetN
                if member is not None and not is_port_channel(member):
                    members[member] = channel
    return members


def stale_sessions(output: Optional[Mapping[str, Any]], prefix: str) -> list[str]:
    """Pending configuration sessions whose name starts with ``prefix``."""
    if output is None:
        return []
    sessions = output.get("sessions") or {}
    if not isinstance(sessions, Mapping):
        raise _bad(SHOW_SESSIONS, "'sessions' is not an object")
    return sorted(
        name
        for name, info in sessions.items()
        if name.startswith(prefix) and isinstance(info, Mapping) and info.get("state") == "pending"
    )


# -- pieces ----------------------------------------------------------------------------


def _switchports(output: Mapping[str, Any]) -> dict[str, SwitchInterface]:
    out: dict[str, SwitchInterface] = {}
    for raw_name, entry in _mapping(output, "switchports", SHOW_SWITCHPORTS).items():
        name = _canonical(raw_name)
        if name is None:
            continue  # not an Ethernet or Port-Channel (nothing a host is cabled to)
        if not isinstance(entry, Mapping):
            raise _bad(SHOW_SWITCHPORTS, f"entry for {raw_name} is not an object")
        info = entry.get("switchportInfo")
        if not isinstance(info, Mapping):
            raise _bad(SHOW_SWITCHPORTS, f"{raw_name} has no 'switchportInfo'")
        enabled = entry.get("enabled", True) is not False
        mode = str(info.get("mode", "")) if enabled else "routed"
        if not mode:
            raise _bad(SHOW_SWITCHPORTS, f"{raw_name} has no switchport mode")
        allowed_text = info.get("trunkAllowedVlans", "ALL")
        try:
            allowed = VlanSet.parse(str(allowed_text))
        except ValueError as e:
            raise _bad(SHOW_SWITCHPORTS, f"{raw_name}: trunkAllowedVlans: {e}") from e
        out[name] = SwitchInterface(
            name=name,
            mode=mode,
            allowed=allowed,
            native_vlan=_int(info, "trunkingNativeVlanId", SHOW_SWITCHPORTS, 1),
            access_vlan=_int(info, "accessVlanId", SHOW_SWITCHPORTS, 1),
        )
    return out


def _add_routed(interfaces: dict[str, SwitchInterface], ipv4: Mapping[str, Any]) -> None:
    """Ethernet/Port-Channel interfaces with an IP address are routed ports."""
    for raw_name in _mapping(ipv4, "interfaces", SHOW_IPV4):
        name = _canonical(raw_name)
        if name is not None and name not in interfaces:
            interfaces[name] = SwitchInterface(name, "routed", VlanSet.none())


def _vlans(output: Mapping[str, Any]) -> dict[int, str]:
    out: dict[int, str] = {}
    for raw_id, entry in _mapping(output, "vlans", SHOW_VLANS).items():
        try:
            vid = int(raw_id)
        except ValueError as e:
            raise _bad(SHOW_VLANS, f"VLAN id {raw_id!r} is not a number") from e
        if not isinstance(entry, Mapping):
            raise _bad(SHOW_VLANS, f"entry for VLAN {raw_id} is not an object")
        if entry.get("dynamic") is True:
            continue
        out[vid] = str(entry.get("name", ""))
    return dict(sorted(out.items()))


def _management(output: Optional[Mapping[str, Any]], command: str) -> list[Mapping[str, Any]]:
    if output is None:
        return []
    interfaces = _mapping(output, "interfaces", command)
    names = sorted((n for n in interfaces if n.startswith("Management")), key=interface_sort_key)
    return [interfaces[n] for n in names if isinstance(interfaces[n], Mapping)]


def _ipv4_addresses(output: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for entry in _management(output, SHOW_IPV4):
        address = entry.get("interfaceAddress")
        # Revision 1 has one object; some releases wrap it in a list.
        blocks = address if isinstance(address, list) else [address]
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            ips = [block.get("primaryIp"), *(block.get("secondaryIpsOrderedList") or [])]
            for ip in ips:
                value = ip.get("address") if isinstance(ip, Mapping) else None
                if isinstance(value, str) and value and value != "0.0.0.0" and value not in out:
                    out.append(value)
    return out


def _ipv6_addresses(output: Optional[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    for entry in _management(output, SHOW_IPV6):
        for ip in entry.get("addresses") or []:
            value = ip.get("address") if isinstance(ip, Mapping) else None
            if isinstance(value, str) and value and value not in out:
                out.append(value)
    return out


# -- shape checks ----------------------------------------------------------------------


def _canonical(name: str) -> Optional[str]:
    try:
        return canonical_interface(name)
    except ValueError:
        return None


def _bad(command: str, what: str) -> PermanentSwitchError:
    return PermanentSwitchError(f"unexpected answer from EOS: {what}", command)


def _output(outputs: Outputs, command: str) -> Mapping[str, Any]:
    value = outputs.get(command)
    if not isinstance(value, Mapping):
        raise _bad(command, "no JSON object in the answer")
    return value


def _mapping(output: Mapping[str, Any], key: str, command: str) -> Mapping[str, Any]:
    value = output.get(key, {})
    if not isinstance(value, Mapping):
        raise _bad(command, f"'{key}' is not an object")
    return value


def _string(
    output: Mapping[str, Any], key: str, command: str, default: Optional[str] = None
) -> str:
    value = output.get(key, default)
    if not isinstance(value, str):
        raise _bad(command, f"'{key}' is missing or not a string")
    return value


def _int(output: Mapping[str, Any], key: str, command: str, default: int) -> int:
    value = output.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(command, f"'{key}' is not a number")
    return value
