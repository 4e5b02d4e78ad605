"""Small builders of the project's model: ESXi hosts, VMs and their vNICs, portgroups,
inventories, switch facts, configurations and what the agent publishes of itself.

What this module is for: the worlds that unit tests and benchmarks hand to the
planner and the agent, written once. Each builder takes the few things a reader
cares about and fills the rest with the lab's usual values (switch ``leaf1``, session
``vc1``, standard switch ``vSwitch0``, distributed switch ``dvs-1``), so that a test
reads as the situation it describes: ``esx(ports=("Ethernet1",), pgs=vlan_pgs([100]))``
is "an ESXi host cabled to Ethernet1 with a portgroup VM-100 on VLAN 100".

It must never talk to a peer or read a file: it builds frozen values and nothing
else. ``bench`` and ``tests`` both import it; it imports only ``eos_vmtracer``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Optional

from eos_vmtracer.config import CdpConfig, Config, LogConfig, SessionConfig, SwitchConfig
from eos_vmtracer.model import (
    DvPortgroup,
    Host,
    HostPortgroup,
    HostSwitch,
    Inventory,
    Migration,
    Neighbor,
    NetworkRef,
    PhysicalNic,
    SessionInventory,
    SessionState,
    SwitchFacts,
    SwitchInterface,
    VlanSpec,
    Vm,
    VmkNic,
    VNic,
)
from eos_vmtracer.status import AgentFacts
from eos_vmtracer.vlans import VlanSet

SWITCH = "leaf1"
"""The switch the builders' hosts are cabled to (its hostname)."""
SESSION = "vc1"
"""The vCenter session the builders' inventories come from."""
DVS = "dvs-1"
"""The distributed switch's UUID in the builders' worlds."""


# -- ESXi hosts -------------------------------------------------------------------------
def heard(port: str, device: str = SWITCH, protocol: str = "cdp") -> tuple[Neighbor, ...]:
    """What a vmnic cabled to ``port`` of switch ``device`` hears (one neighbour)."""
    return (Neighbor(protocol, device, port),)


def pg(name: str, spec: VlanSpec, uplinks: Optional[tuple[str, ...]] = None) -> HostPortgroup:
    """A portgroup of ``vSwitch0``; ``uplinks``: a teaming override (vmnic names)."""
    return HostPortgroup(name, "vSwitch0", spec, uplinks)


def vlan_pgs(vlans: Iterable[int]) -> tuple[HostPortgroup, ...]:
    """One portgroup ``VM-<vlan>`` on a single VLAN per VLAN of ``vlans``."""
    return tuple(pg(f"VM-{v}", VlanSpec.single(v)) for v in vlans)


def esx(
    moid: str = "host-1",
    ports: tuple[str, ...] = ("Ethernet1",),
    pgs: tuple[HostPortgroup, ...] = (),
    *,
    device: str = SWITCH,
    connected: bool = True,
    vmks: tuple[VmkNic, ...] = (),
    dvs_uplinks: Optional[tuple[str, ...]] = None,
    name: str = "",
) -> Host:
    """An ESXi host (named ``esx-<moid>`` unless ``name``) whose vmnic<i> hears CDP from
    ``device`` on ``ports[i]`` (an empty port: that vmnic hears nothing). Every vmnic is
    an uplink of ``vSwitch0``; ``dvs_uplinks``: the host is a member of the distributed
    switch ``dvs-1`` with those vmnics."""
    nics = tuple(
        PhysicalNic(f"vmnic{i}", neighbors=heard(port, device) if port else ())
        for i, port in enumerate(ports)
    )
    switches = [HostSwitch("vSwitch0", "vSwitch0", False, tuple(n.device for n in nics))]
    if dvs_uplinks is not None:
        switches.append(HostSwitch(DVS, "DSwitch", True, dvs_uplinks))
    return Host(moid, name or f"esx-{moid}", connected, nics, tuple(switches), pgs, vmks)


# -- VMs ----------------------------------------------------------------------------------
def std(name: str) -> NetworkRef:
    """A vNIC's network: the standard portgroup ``name``."""
    return NetworkRef(False, name)


def dv(key: str) -> NetworkRef:
    """A vNIC's network: the distributed portgroup ``key`` of ``dvs-1``."""
    return NetworkRef(True, key, DVS)


def dvpg(key: str, name: str, spec: VlanSpec) -> DvPortgroup:
    """A distributed portgroup of ``dvs-1``."""
    return DvPortgroup(key, name, DVS, spec)


def a_vm(moid: str, host: Optional[str], *nets: NetworkRef, on: bool = True, name: str = "") -> Vm:
    """A VM (named ``moid`` unless ``name``) on ``host`` with one connected vNIC per
    network, "Network adapter 1" first."""
    return Vm(
        moid,
        name or moid,
        on,
        host,
        tuple(VNic(4000 + i, f"Network adapter {i + 1}", n) for i, n in enumerate(nets)),
    )


# -- inventories --------------------------------------------------------------------------
def session(
    hosts: Iterable[Host],
    vms: Iterable[Vm] = (),
    *,
    dv: Iterable[DvPortgroup] = (),
    synced: bool = True,
    migrations: Iterable[Migration] = (),
    name: str = SESSION,
) -> SessionInventory:
    """What a session hands the agent: connected and synchronised, or (``synced=False``)
    disconnected."""
    return SessionInventory(
        name,
        SessionState.CONNECTED if synced else SessionState.DISCONNECTED,
        synced,
        hosts={h.moid: h for h in hosts},
        vms={v.moid: v for v in vms},
        dv_portgroups={p.key: p for p in dv},
        migrations={m.vm: m for m in migrations},
    )


def inventory(*sessions: SessionInventory) -> Inventory:
    """The agent's whole inventory: these sessions."""
    return Inventory(tuple(sessions))


# -- the switch ---------------------------------------------------------------------------
def trunk(name: str, allowed: str = "1", channel: Optional[str] = None) -> SwitchInterface:
    """A trunk port allowing ``allowed`` (VLAN text: "1-10", "ALL")."""
    return SwitchInterface(name, "trunk", VlanSet.parse(allowed), channel=channel)


def switch_facts(
    ports: Iterable[str],
    allowed: str = "1",
    *,
    vlans: Optional[Mapping[int, str]] = None,
    channels: Optional[Mapping[str, str]] = None,
    hostname: str = SWITCH,
    **more: Any,
) -> SwitchFacts:
    """A switch whose ``ports`` are all trunks allowing ``allowed``; ``channels``: member
    -> Port-Channel; ``vlans``: the VLANs that exist (default: VLAN 1 "default");
    ``more``: other :class:`SwitchFacts` fields (fqdn, system_mac, model, version)."""
    members = channels or {}
    return SwitchFacts(
        hostname,
        interfaces={p: trunk(p, allowed, members.get(p)) for p in ports},
        vlans=dict(vlans) if vlans is not None else {1: "default"},
        **more,
    )


def with_allowed(facts: SwitchFacts, **allowed: str) -> SwitchFacts:
    """``facts`` with some interfaces' allowed VLANs changed (keyword: interface name)."""
    interfaces = dict(facts.interfaces)
    for name, text in allowed.items():
        interfaces[name] = replace(interfaces[name], allowed=VlanSet.parse(text))
    return replace(facts, interfaces=interfaces)


# -- configuration ------------------------------------------------------------------------
def config(
    interfaces: tuple[str, ...],
    *,
    allowed: str = "1-4094",
    uplinks: tuple[str, ...] = (),
    url: str = "",
    username: str = "",
    password_env: str = "",
    cdp: Optional[CdpConfig] = None,
    log: Optional[LogConfig] = None,
    source: str = "<defaults>",
    **switch: Any,
) -> Config:
    """One session ``vc1`` (at ``url``, as ``username``) allowed ``allowed``, on a switch
    with these edge ``interfaces`` and ``uplinks``; ``switch``: other ``[switch]``
    settings; ``cdp`` and ``log``: those sections (default: their defaults); ``source``:
    the file it was read from."""
    vc1 = SessionConfig(
        name=SESSION,
        url=url,
        username=username,
        password_env=password_env,
        allowed_vlans=VlanSet.parse(allowed),
    )
    return Config(
        switch=SwitchConfig(interfaces=interfaces, uplinks=uplinks, **switch),
        cdp=cdp or CdpConfig(),
        log=log or LogConfig(),
        sessions=(vc1,),
        source=source,
    )


# -- what the agent knows of itself (for status.build) -----------------------------------
def agent_facts(
    now: float,
    *,
    pid: int = 1,
    started: Optional[float] = None,
    config: str = "/mnt/flash/vmtracer.toml",
    reconcile_error: str = "",
    switch_error: str = "",
    cdp_ports: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> AgentFacts:
    """An agent started a minute before ``now`` (unless ``started``) whose last reconcile,
    at ``now``, was "ok" (or "error" with ``reconcile_error``) after three; the switch
    reachable since it started (or not, with ``switch_error``); CDP off, or on with
    ``cdp_ports`` (port -> frames, last_sent, error)."""
    since = now - 60 if started is None else started
    return AgentFacts(
        pid=pid,
        started=since,
        config=config,
        last_reconcile={
            "at": now,
            "duration_ms": 3.1,
            "result": "error" if reconcile_error else "ok",
            "error": reconcile_error,
        },
        counters={"reconciles": 3},
        switch={"reachable": not switch_error, "error": switch_error, "since": since},
        cdp={"enabled": cdp_ports is not None, "ports": dict(cdp_ports or {})},
    )
