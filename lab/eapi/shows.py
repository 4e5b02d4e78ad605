"""The emulated switch's ``show`` commands, in the JSON shapes real EOS gives.

What this module is for: one function per supported show command, turning a
:class:`SwitchState` into the object eAPI returns for it. The key names and value
types follow recorded EOS outputs (``tests/data/eos``, compared by
``tests/unit/test_switch_emulator.py``); values that only a real box has
(uptime, counters, LACP timers) are plausible constants.

It must never change the state, and never answer a command it does not know:
the CLI raises "Invalid input" for those before they get here.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from lab.eapi.state import Port, SwitchState, allowed_text, default_vlan_name

BOOT_TIME = time.time() - 3600.0

Session = dict[str, Any]  # name -> {"state": ..., "completedTime": ...}


class NotConfigured(Exception):
    """A show command EOS answers with an error on this configuration (its message)."""


def show_hostname(state: SwitchState) -> dict[str, Any]:
    return {"hostname": state.hostname, "fqdn": state.fqdn}


def show_version(state: SwitchState) -> dict[str, Any]:
    now = time.time()
    return {
        "mfgName": "Arista",
        "modelName": state.model,
        "hardwareRevision": "11.02",
        "serialNumber": state.serial,
        "systemMacAddress": state.system_mac,
        "hwMacAddress": state.system_mac,
        "configMacAddress": "00:00:00:00:00:00",
        "version": state.version,
        "architecture": "x86_64",
        "internalVersion": f"{state.version}-00000000.{state.version.replace('.', '')}",
        "internalBuildId": "00000000-0000-4000-8000-000000000000",
        "imageFormatVersion": "3.0",
        "imageOptimization": "Default",
        "bootupTimestamp": BOOT_TIME,
        "uptime": now - BOOT_TIME,
        "memTotal": 8099732,
        "memFree": 5310240,
        "isIntlVersion": False,
    }


def _switchport_info(state: SwitchState, port: Port) -> dict[str, Any]:
    def name_of(vid: int) -> str:
        return state.vlans.get(vid) or default_vlan_name(vid)

    return {
        "mode": port.mode,
        "macLearning": True,
        "tpid": "0x8100",
        "tpidStatus": True,
        "dot1qVlanTagRequired": False,
        "dot1qVlanTagRequiredStatus": False,
        "accessVlanId": port.access_vlan,
        "accessVlanName": name_of(port.access_vlan),
        "trunkingNativeVlanId": port.native_vlan,
        "trunkingNativeVlanName": name_of(port.native_vlan),
        "trunkAllowedVlans": allowed_text(port.allowed),
        "staticTrunkGroups": [],
        "dynamicTrunkGroups": [],
        "dynamicAllowedVlans": {},
        "sourceportFilterMode": "enabled",
    }


def _bridged(state: SwitchState) -> list[Port]:
    """Switchports that forward on their own: not routed, not Port-Channel members."""
    return [
        p
        for p in state.sorted_ports()
        if p.kind in ("Ethernet", "Port-Channel") and p.mode != "routed" and p.channel_group is None
    ]


def show_interfaces_switchport(state: SwitchState) -> dict[str, Any]:
    return {
        "sourceDetail": "",
        "switchports": {
            p.name: {"enabled": True, "switchportInfo": _switchport_info(state, p)}
            for p in _bridged(state)
        },
    }


def show_vlan(state: SwitchState) -> dict[str, Any]:
    vlans: dict[str, Any] = {}
    bridged = _bridged(state)
    for vid in sorted(state.vlans):
        members = {}
        for p in bridged:
            carries = (
                p.access_vlan == vid
                if p.mode == "access"
                else (p.allowed is None or vid in p.allowed)
            )
            if carries:
                members[p.name] = {"privatePromoted": False}
        vlans[str(vid)] = {
            "name": state.vlans[vid] or default_vlan_name(vid),
            "dynamic": False,
            "status": "active",
            "interfaces": members,
        }
    return {"sourceDetail": "", "vlans": vlans}


def show_port_channel(state: SwitchState) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for p in state.sorted_ports():
        if p.kind != "Port-Channel":
            continue
        active: dict[str, Any] = {}
        inactive: dict[str, Any] = {}
        for m in state.members(p.name):
            protocol = "static" if m.channel_mode == "on" else "lacp"
            if m.active and not m.shutdown:
                active[m.name] = {
                    "protocol": protocol,
                    "lacpMode": m.channel_mode,
                    "timeBecameActive": BOOT_TIME + 60.0,
                }
            else:
                inactive[m.name] = {"reasonUnconfigured": "waiting for LACP response"}
        channels[p.name] = {
            "recircFeature": [],
            "maxWeight": 16,
            "minSpeed": "0 gbps",
            "rxPorts": {},
            "currWeight": 0,
            "minLinks": 0,
            "inactivePorts": inactive,
            "activePorts": active,
            "inactiveLag": not active,
        }
    return {"portChannels": channels}


def show_lldp_neighbors(state: SwitchState) -> dict[str, Any]:
    neighbors = [
        {
            "port": n["port"],
            "neighborDevice": n["neighborDevice"],
            "neighborPort": n["neighborPort"],
            "ttl": int(n.get("ttl", 120)),
        }
        for n in state.lldp
    ]
    return {
        "tablesLastChangeTime": BOOT_TIME + 120.0,
        "tablesAgeOuts": 0,
        "tablesInserts": len(neighbors),
        "lldpNeighbors": neighbors,
        "tablesDeletes": 0,
        "tablesDrops": 0,
    }


def _l3(state: SwitchState) -> list[Port]:
    return [p for p in state.sorted_ports() if p.ipv4 or p.ipv6]


def show_ip_interface(state: SwitchState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in _l3(state):
        address, _, length = (p.ipv4 or "0.0.0.0/0").partition("/")
        out[p.name] = {
            "name": p.name,
            "description": p.description,
            "interfaceStatus": "disabled" if p.shutdown else "connected",
            "lineProtocolStatus": "down" if p.shutdown else "up",
            "enabled": not p.shutdown,
            "mtu": 1500,
            "vrf": p.vrf,
            "urpf": "disable",
            "localProxyArp": False,
            "proxyArp": False,
            "interfaceAddress": {
                "primaryIp": {"address": address, "maskLen": int(length or 0)},
                "secondaryIps": {},
                "secondaryIpsOrderedList": [],
                "broadcastAddress": "255.255.255.255",
                "virtualIp": {"address": "0.0.0.0", "maskLen": 0},
            },
        }
    return {"interfaces": out}


def show_ip_interface_one(state: SwitchState, name: str) -> dict[str, Any]:
    """``show ip interface NAME``: that interface only (none when it has no IP)."""
    if name not in state.interfaces:
        raise NotConfigured(f"Interface {name} does not exist")
    found = show_ip_interface(state)["interfaces"]
    return {"interfaces": {name: found[name]} if name in found else {}}


def show_ipv6_interface(state: SwitchState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in _l3(state):
        if not p.ipv6:
            continue
        out[p.name] = {
            "name": p.name,
            "vrf": p.vrf,
            "interfaceStatus": "connected",
            "lineProtocolStatus": "up",
            "state": "enabled",
            "urpf": "disable",
            "urpfV4V6Mismatch": False,
            "dadStatus": "enabled",
            "dadAttempts": 1,
            "autoConfigStatus": "stateless",
            "ndReachableTime": 30000,
            "ndRetransmitInterval": 1000,
            "multicastGroupAddresses": ["ff02::1"],
            "neighborDiscoverDetails": {
                "ndAdvertisedReachableTime": 0,
                "ndRouterAdvRetransmitInterval": 0,
                "ndRouterAdvInterval": 200000,
                "routerAdvHopLimit": 64,
                "routerAdvLifetime": 1800,
                "ndRouterAdvSuppressed": True,
                "routerPreference": "Medium",
            },
            "linkLocal": {
                "address": "fe80::21c:73ff:fe00:1",
                "subnet": "fe80::/64",
                "active": True,
                "dadfailed": False,
            },
            "addresses": [
                {
                    "address": a.partition("/")[0],
                    "subnet": a,
                    "active": True,
                    "dadfailed": False,
                }
                for a in p.ipv6
            ],
        }
    if not out:
        raise NotConfigured("No IPv6 configured interfaces")
    return {"interfaces": out}


def show_configuration_sessions(sessions: dict[str, Session]) -> dict[str, Any]:
    listed: dict[str, Any] = {}
    for name, info in sessions.items():
        entry: dict[str, Any] = {
            "state": info["state"],
            "commitUser": "admin" if info["state"] == "completed" else "",
            "description": "",
            "instances": {},
        }
        if info.get("completedTime") is not None:
            entry["completedTime"] = info["completedTime"]
        listed[name] = entry
    return {
        "sessions": listed,
        "maxSavedSessions": 1,
        "maxOpenSessions": 5,
    }


def running_config_json(text: str) -> dict[str, Any]:
    """``show running-config`` in JSON: nested ``cmds`` objects, as EOS gives it."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    header: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.strip() == "end":
            continue
        if line.startswith("!"):
            if len(stack) == 1:
                header.append(line)
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 3
        while stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1]
        node: dict[str, Any] = {}
        parent.setdefault("cmds", {})[line.strip()] = node
        stack.append((depth, node))

    def tidy(node: dict[str, Any]) -> Optional[dict[str, Any]]:
        if "cmds" not in node:
            return None
        return {"cmds": {k: tidy(v) for k, v in node["cmds"].items()}, "comments": []}

    top = tidy(root) or {"cmds": {}}
    return {"cmds": top["cmds"], "header": header}


def text_hostname(state: SwitchState) -> str:
    return f"Hostname: {state.hostname}\nFQDN:     {state.fqdn}\n"


def text_version(state: SwitchState) -> str:
    v = show_version(state)
    return (
        f"Arista {v['modelName']}\n"
        f"Hardware version: {v['hardwareRevision']}\n"
        f"Serial number: {v['serialNumber']}\n"
        f"System MAC address: {v['systemMacAddress']}\n\n"
        f"Software image version: {v['version']}\n"
        f"Architecture: {v['architecture']}\n"
    )


#: The supported show commands: JSON builder per exact command text.
JSON_SHOWS: dict[str, Callable[[SwitchState], dict[str, Any]]] = {
    "show hostname": show_hostname,
    "show version": show_version,
    "show interfaces switchport": show_interfaces_switchport,
    "show vlan": show_vlan,
    "show port-channel": show_port_channel,
    "show port-channel all-ports": show_port_channel,
    "show lldp neighbors": show_lldp_neighbors,
    "show ip interface": show_ip_interface,
    "show ipv6 interface": show_ipv6_interface,
}
TEXT_SHOWS: dict[str, Callable[[SwitchState], str]] = {
    "show hostname": text_hostname,
    "show version": text_version,
}
