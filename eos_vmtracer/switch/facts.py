"""EOS ``show`` outputs (eAPI JSON) -> :class:`~eos_vmtracer.model.SwitchFacts`.

What this module is for: the list of show commands the adapter sends in ONE
request to learn the switch, and the pure functions that read their JSON (the
shapes real EOS gives; samples are kept in ``tests/data/eos``):

- ``show hostname`` -> ``hostname``, ``fqdn``;
- ``show version`` -> ``modelName``, ``version``, ``systemMacAddress``;
- ``show interfaces switchport`` -> every switchport: ``enabled``,
  ``switchportInfo.mode``, ``trunkAllowedVlans`` (``"ALL"``, ``"NONE"`` or
  ``"10,20-30"``), ``trunkingNativeVlanId``, ``accessVlanId`` (names
  canonicalised: some releases print ``Et1`` for ``Ethernet1``);
- ``show port-channel all-ports`` -> ``portChannels.<Po>.activePorts`` and
  ``inactivePorts``: every configured member Ethernet, active or not, gets
  ``channel = "Port-ChannelN"`` (an MLAG peer's ``PeerEthernetN`` is skipped);
- ``show vlan`` -> ``vlans`` ({id: {name, dynamic}}); dynamic VLANs (MLAG, MVRP,
  VM Tracer) are left out, since nobody configured them and they can vanish;
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

Fail closed. The switch's answer decides what the agent adds and removes, so a
field the parser reads is never guessed: every one of them is checked for its
type (a string is a string, an object an object, a list a list, a number an
integer and not a boolean) and its range (VLAN ids 1-4094, VLAN lists parsed in
full, addresses parsed), and a field EOS always sends must be there. Which ones
EOS always sends was decided from the recorded answers of real switches (pyeapi,
napalm, ANTA and fake-switches fixtures, kept in ``tests/data/eos``): every
field listed above is present in every sample of its command, from EOS 4.14 to
4.31, so every one of them is required. In particular a switchport without a
string ``trunkAllowedVlans`` is an error: reading a missing list as ``ALL`` or a
``null`` as ``NONE`` would make the agent "add" a VLAN an ``ALL`` trunk already
carries, take it for its own and later remove it from the operator's trunk. The
only things left out on purpose are entries the agent does not read at all
(interfaces that are neither Ethernet nor Port-Channel in ``show interfaces
switchport``, non-management interfaces' addresses) and the whole optional
``show ipv6 interface`` when EOS answered it with an error.

Any problem raises :class:`PermanentSwitchError` naming the command and the
path of the field (``show vlan: vlans."4095": not a VLAN id``); nothing else
(no ``ValueError``, ``TypeError`` or ``KeyError``) leaves :func:`parse_facts`,
whatever the JSON.

It must never do I/O or import pyeapi, and never invent a value.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import replace
from typing import Any, Mapping, Optional

from eos_vmtracer.model import SwitchFacts, SwitchInterface
from eos_vmtracer.switch.errors import PermanentSwitchError
from eos_vmtracer.vlans import (
    VLAN_MAX,
    VLAN_MIN,
    VlanSet,
    canonical_interface,
    interface_sort_key,
    is_port_channel,
)

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

Outputs = Mapping[str, Any]

#: A VLAN id as ``show vlan`` keys it: decimal ASCII digits, no sign, no padding.
_VLAN_KEY = re.compile(r"[1-9][0-9]{0,3}")
#: Longest piece of a key quoted in an error message.
_KEY_SHOWN = 48


def parse_facts(outputs: Outputs) -> SwitchFacts:
    """Build the switch facts from the JSON answers, keyed by command.

    Every command of :data:`REQUIRED_COMMANDS` must be present; optional ones
    may be missing (EOS answered them with an error). Raises
    :class:`PermanentSwitchError` on anything else than the shapes described in
    the module docstring.
    """
    host = _output(outputs, SHOW_HOSTNAME)
    version = _output(outputs, SHOW_VERSION)
    interfaces = _switchports(_output(outputs, SHOW_SWITCHPORTS))
    members = port_channel_members(_output(outputs, SHOW_PORT_CHANNELS))
    vlans = _vlans(_output(outputs, SHOW_VLANS))
    ipv4 = _output(outputs, SHOW_IPV4)
    stale_sessions(_output(outputs, SHOW_SESSIONS), "")  # checks its shape
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
    addresses = _ipv4_addresses(ipv4)
    if ipv6 is not None:
        addresses += [a for a in _ipv6_addresses(_output(outputs, SHOW_IPV6)) if a not in addresses]
    return SwitchFacts(
        hostname=_string(host, "hostname", SHOW_HOSTNAME, ""),
        fqdn=_string(host, "fqdn", SHOW_HOSTNAME, ""),
        model=_string(version, "modelName", SHOW_VERSION, ""),
        version=_string(version, "version", SHOW_VERSION, ""),
        system_mac=_string(version, "systemMacAddress", SHOW_VERSION, ""),
        mgmt_addresses=tuple(addresses),
        interfaces=dict(sorted(interfaces.items(), key=lambda kv: interface_sort_key(kv[0]))),
        vlans=vlans,
    )


def port_channel_members(output: Mapping[str, Any]) -> dict[str, str]:
    """Member Ethernet -> its Port-Channel, from ``show port-channel [all-ports]``."""
    command = SHOW_PORT_CHANNELS
    members: dict[str, str] = {}
    channels = _object(output, "portChannels", command, "")
    for raw_channel, entry in channels.items():
        where = _key("portChannels", raw_channel)
        channel = _canonical(raw_channel)
        if channel is None or not is_port_channel(channel):
            continue  # not a Port-Channel: nothing of ours
        if not isinstance(entry, Mapping):
            raise _bad(command, where, "not an object")
        for section in ("activePorts", "inactivePorts"):
            ports = _object(entry, section, command, where)
            for raw_member in ports:
                member = _canonical(raw_member)  # None for an MLAG peer's PeerEthernetN
                if member is None or is_port_channel(member):
                    continue
                other = members.get(member)
                if other is not None and other != channel:
                    raise _bad(
                        command,
                        _key(f"{where}.{section}", raw_member),
                        f"also a member of {other}",
                    )
                members[member] = channel
    return members


def stale_sessions(output: Optional[Mapping[str, Any]], prefix: str) -> list[str]:
    """Pending configuration sessions whose name starts with ``prefix``."""
    if output is None:
        return []
    command = SHOW_SESSIONS
    if not isinstance(output, Mapping):
        raise _bad(command, "", "not a JSON object")
    stale: list[str] = []
    for name, info in _object(output, "sessions", command, "").items():
        where = _key("sessions", name)
        if not isinstance(info, Mapping):
            raise _bad(command, where, "not an object")
        state = _string(info, "state", command, where)
        if name.startswith(prefix) and state == "pending":
            stale.append(name)
    return sorted(stale)


# -- pieces ----------------------------------------------------------------------------


def _switchports(output: Mapping[str, Any]) -> dict[str, SwitchInterface]:
    command = SHOW_SWITCHPORTS
    out: dict[str, SwitchInterface] = {}
    for raw_name, entry in _object(output, "switchports", command, "").items():
        name = _canonical(raw_name)
        if name is None:
            continue  # not an Ethernet or Port-Channel (nothing a host is cabled to)
        where = _key("switchports", raw_name)
        if name in out:
            raise _bad(command, where, f"{name} is listed twice")
        if not isinstance(entry, Mapping):
            raise _bad(command, where, "not an object")
        enabled = _boolean(entry, "enabled", command, where)
        info = _object(entry, "switchportInfo", command, where)
        at = f"{where}.switchportInfo"
        mode = _string(info, "mode", command, at)
        if not mode:
            raise _bad(command, f"{at}.mode", "empty")
        allowed_text = _string(info, "trunkAllowedVlans", command, at)
        try:
            allowed = VlanSet.parse(allowed_text)
        except ValueError as e:
            raise _bad(command, f"{at}.trunkAllowedVlans", str(e)) from None
        out[name] = SwitchInterface(
            name=name,
            mode=mode if enabled else "routed",
            allowed=allowed,
            native_vlan=_vlan_id(info, "trunkingNativeVlanId", command, at),
            access_vlan=_vlan_id(info, "accessVlanId", command, at),
        )
    return out


def _add_routed(interfaces: dict[str, SwitchInterface], ipv4: Mapping[str, Any]) -> None:
    """Ethernet/Port-Channel interfaces with an IP address are routed ports."""
    for raw_name, entry in _object(ipv4, "interfaces", SHOW_IPV4, "").items():
        if not isinstance(entry, Mapping):
            raise _bad(SHOW_IPV4, _key("interfaces", raw_name), "not an object")
        name = _canonical(raw_name)
        if name is not None and name not in interfaces:
            interfaces[name] = SwitchInterface(name, "routed", VlanSet.none())


def _vlans(output: Mapping[str, Any]) -> dict[int, str]:
    command = SHOW_VLANS
    out: dict[int, str] = {}
    for raw_id, entry in _object(output, "vlans", command, "").items():
        where = _key("vlans", raw_id)
        if not _VLAN_KEY.fullmatch(raw_id) or not VLAN_MIN <= int(raw_id) <= VLAN_MAX:
            raise _bad(command, where, "not a VLAN id")
        if not isinstance(entry, Mapping):
            raise _bad(command, where, "not an object")
        name = _string(entry, "name", command, where)
        if _boolean(entry, "dynamic", command, where):
            continue
        out[int(raw_id)] = name
    return dict(sorted(out.items()))


def _management(output: Mapping[str, Any], command: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(path, entry) of every ``Management*`` interface, in interface order."""
    interfaces = _object(output, "interfaces", command, "")
    names = sorted((n for n in interfaces if n.startswith("Management")), key=interface_sort_key)
    out: list[tuple[str, Mapping[str, Any]]] = []
    for name in names:
        where = _key("interfaces", name)
        entry = interfaces[name]
        if not isinstance(entry, Mapping):
            raise _bad(command, where, "not an object")
        out.append((where, entry))
    return out


def _ipv4_addresses(output: Mapping[str, Any]) -> list[str]:
    command = SHOW_IPV4
    out: list[str] = []
    for where, entry in _management(output, command):
        address = _field(entry, "interfaceAddress", command, where)
        at = f"{where}.interfaceAddress"
        # Revision 1 has one object; some releases wrap it in a list.
        blocks = address if isinstance(address, list) else [address]
        for i, block in enumerate(blocks):
            here = f"{at}[{i}]" if isinstance(address, list) else at
            if not isinstance(block, Mapping):
                raise _bad(command, here, "not an object")
            primary = _object(block, "primaryIp", command, here)
            ips = [(f"{here}.primaryIp", primary)]
            secondary = _list(block, "secondaryIpsOrderedList", command, here)
            ips += [(f"{here}.secondaryIpsOrderedList[{n}]", ip) for n, ip in enumerate(secondary)]
            for path, ip in ips:
                if not isinstance(ip, Mapping):
                    raise _bad(command, path, "not an object")
                value = _address(ip, command, path, 4)
                if value != "0.0.0.0" and value not in out:
                    out.append(value)
    return out


def _ipv6_addresses(output: Mapping[str, Any]) -> list[str]:
    command = SHOW_IPV6
    out: list[str] = []
    for where, entry in _management(output, command):
        for n, ip in enumerate(_list(entry, "addresses", command, where)):
            path = f"{where}.addresses[{n}]"
            if not isinstance(ip, Mapping):
                raise _bad(command, path, "not an object")
            value = _address(ip, command, path, 6)
            if value not in out:
                out.append(value)
    return out


# -- shape checks ----------------------------------------------------------------------


def _canonical(name: str) -> Optional[str]:
    try:
        return canonical_interface(name)
    except ValueError:
        return None


def _key(path: str, key: str) -> str:
    """``path."key"``: a key from the answer, quoted (control characters escaped), capped."""
    shown = key if len(key) <= _KEY_SHOWN else key[:_KEY_SHOWN] + "..."
    quoted = json.dumps(shown, ensure_ascii=True)
    return f"{path}.{quoted}" if path else quoted


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _bad(command: str, path: str, what: str) -> PermanentSwitchError:
    where = f"{path}: " if path else ""
    return PermanentSwitchError(f"unexpected answer from EOS: {where}{what}", command)


def _output(outputs: Outputs, command: str) -> Mapping[str, Any]:
    value = outputs.get(command)
    if value is None:
        raise _bad(command, "", "no answer")
    if not isinstance(value, Mapping):
        raise _bad(command, "", "not a JSON object")
    return value


def _field(obj: Mapping[str, Any], key: str, command: str, path: str) -> Any:
    if key not in obj:
        raise _bad(command, _join(path, key), "missing")
    return obj[key]


def _object(obj: Mapping[str, Any], key: str, command: str, path: str) -> Mapping[str, Any]:
    value = _field(obj, key, command, path)
    if not isinstance(value, Mapping):
        raise _bad(command, _join(path, key), f"not an object but {_kind(value)}")
    return value


def _list(obj: Mapping[str, Any], key: str, command: str, path: str) -> list[Any]:
    value = _field(obj, key, command, path)
    if not isinstance(value, list):
        raise _bad(command, _join(path, key), f"not a list but {_kind(value)}")
    return value


def _string(obj: Mapping[str, Any], key: str, command: str, path: str) -> str:
    value = _field(obj, key, command, path)
    if not isinstance(value, str):
        raise _bad(command, _join(path, key), f"not a string but {_kind(value)}")
    return value


def _boolean(obj: Mapping[str, Any], key: str, command: str, path: str) -> bool:
    value = _field(obj, key, command, path)
    if not isinstance(value, bool):
        raise _bad(command, _join(path, key), f"not a boolean but {_kind(value)}")
    return value


def _vlan_id(obj: Mapping[str, Any], key: str, command: str, path: str) -> int:
    value = _field(obj, key, command, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(command, _join(path, key), f"not a VLAN id but {_kind(value)}")
    if not VLAN_MIN <= value <= VLAN_MAX:
        raise _bad(command, _join(path, key), f"VLAN id {value} is not in {VLAN_MIN}-{VLAN_MAX}")
    return value


def _address(obj: Mapping[str, Any], command: str, path: str, family: int) -> str:
    value = _string(obj, "address", command, path)
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        raise _bad(command, f"{path}.address", f"not an IPv{family} address") from None
    if parsed.version != family:
        raise _bad(command, f"{path}.address", f"not an IPv{family} address")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
