"""Random worlds for the planner's property tests: inventories, switches, ledgers, clocks.

The VLAN universe is small on purpose, so that sessions' allowed ranges, the
switch's static VLANs, the ledger and the needs overlap often.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from hypothesis import strategies as st

from eos_vmtracer.config import CdpConfig, Config, SessionConfig, SwitchConfig
from eos_vmtracer.ledger import Ledger, Ownership
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
from eos_vmtracer.vlans import VlanSet

HOSTNAME = "leaf1"
UNIVERSE = [*list(range(1, 13)), 100, 101, 4094]
ETHERNETS = [f"Ethernet{i}" for i in range(1, 9)]
PO = "Port-Channel10"
PO_MEMBERS = ("Ethernet5", "Ethernet6")
UPLINK = "Ethernet8"
PORTS = [*ETHERNETS, PO]
STD_PGS = ["pg-a", "pg-b", "pg-c"]
DVS = "dvs-uuid-1"
DV_PGS = ["dvportgroup-1", "dvportgroup-2", "dvportgroup-3"]
NOW = 1_000_000.0

vlan_ids = st.sampled_from(UNIVERSE)


T = TypeVar("T")


def often(usual: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``usual`` about four times out of five, ``rare`` otherwise."""
    return st.integers(0, 4).flatmap(lambda n: rare if n == 0 else usual)


vlan_sets = st.builds(VlanSet, st.sets(vlan_ids, max_size=8))


@st.composite
def vlan_specs(draw: st.DrawFn) -> VlanSpec:
    kind = draw(st.sampled_from(["none", "single", "single", "trunk", "pvlan", "invalid"]))
    if kind == "none":
        return VlanSpec.untagged()
    if kind == "single":
        return VlanSpec.single(draw(vlan_ids))
    if kind == "trunk":
        return VlanSpec.trunk(draw(vlan_sets))
    if kind == "pvlan":
        return VlanSpec.private(draw(vlan_ids), draw(vlan_ids))
    return VlanSpec.invalid("odd data")


@st.composite
def networks(draw: st.DrawFn) -> NetworkRef:
    if draw(st.booleans()):
        return NetworkRef(False, draw(st.sampled_from([*STD_PGS, "pg-missing"])))
    return NetworkRef(True, draw(st.sampled_from([*DV_PGS, "dvportgroup-missing"])), DVS)


@st.composite
def hosts(draw: st.DrawFn, moid: str, edge: tuple[str, ...]) -> Host:
    nics = []
    for n in range(draw(st.integers(1, 3))):
        neighbors: tuple[Neighbor, ...] = ()
        if draw(often(st.just(True), st.just(False))):
            device = draw(st.sampled_from([HOSTNAME] * 4 + ["LEAF1.example.com", "other-switch"]))
            odd = st.sampled_from([*ETHERNETS, "Et3", "Ethernet99", "not-a-port", PO])
            port = draw(st.sampled_from(edge) if draw(st.integers(0, 3)) else odd)
            proto = draw(st.sampled_from(["cdp", "lldp"]))
            neighbors = (Neighbor(proto, device, port),)
        nics.append(PhysicalNic(f"vmnic{n}", neighbors=neighbors))
    names = [nic.device for nic in nics]
    some = st.lists(st.sampled_from(names), unique=True, max_size=len(names)).map(tuple)
    uplinks = st.just(tuple(names)) | st.just(tuple(names)) | some
    switches = [HostSwitch("vSwitch0", "vSwitch0", False, draw(uplinks))]
    if draw(st.booleans()):
        switches.append(HostSwitch(DVS, "dvs1", True, draw(uplinks)))
    portgroups = tuple(
        HostPortgroup(
            name,
            "vSwitch0",
            draw(vlan_specs()),
            draw(st.none() | uplinks),
        )
        for name in STD_PGS
        if draw(st.integers(0, 3))
    )
    vmknics = tuple(VmkNic(f"vmk{i}", draw(networks())) for i in range(draw(st.integers(0, 2))))
    return Host(
        moid,
        f"esx-{moid}",
        connected=draw(st.integers(0, 4)) > 0,
        nics=tuple(nics),
        switches=tuple(switches),
        portgroups=portgroups,
        vmknics=vmknics,
    )


@st.composite
def sessions(draw: st.DrawFn, name: str, edge: tuple[str, ...]) -> SessionInventory:
    host_ids = [f"host-{i}" for i in range(draw(st.integers(1, 3)))]
    host_map = {h: draw(hosts(h, edge)) for h in host_ids}
    dv = {
        key: DvPortgroup(key, f"dv-{key[-1]}", DVS, draw(vlan_specs()))
        for key in DV_PGS
        if draw(st.integers(0, 3))
    }
    vms = {}
    for i in range(draw(st.integers(1, 6))):
        moid = f"vm-{i}"
        nics = tuple(
            VNic(
                4000 + k,
                f"Network adapter {k + 1}",
                draw(often(networks(), st.none())),
                connected=draw(st.integers(0, 5)) > 0,
            )
            for k in range(draw(st.integers(1, 2)))
        )
        vms[moid] = Vm(
            moid,
            f"{name}-vm{i}",
            powered_on=draw(st.integers(0, 3)) > 0,
            host=draw(st.sampled_from([*host_ids, *host_ids, None])),
            nics=nics,
        )
    migrations = {}
    for moid in vms:
        if draw(st.integers(0, 5)) == 0:
            migrations[moid] = Migration(moid, draw(st.sampled_from(host_ids)), NOW - 5)
    synced = draw(st.integers(0, 4)) > 0
    state = SessionState.CONNECTED if synced else draw(st.sampled_from(list(SessionState)))
    return SessionInventory(
        name, state, synced, hosts=host_map, vms=vms, dv_portgroups=dv, migrations=migrations
    )


@st.composite
def switch_facts(draw: st.DrawFn) -> SwitchFacts:
    interfaces = {}
    for name in PORTS:
        mode = "trunk" if draw(st.integers(0, 6)) else "access"
        allowed = VlanSet.all() if draw(st.integers(0, 5)) == 0 else draw(vlan_sets)
        channel = PO if name in PO_MEMBERS else None
        interfaces[name] = SwitchInterface(
            name, mode, allowed, access_vlan=draw(vlan_ids), channel=channel
        )
    vlans = {v: f"VLAN{v:04d}" for v in draw(st.sets(vlan_ids))} | {1: "default"}
    return SwitchFacts(HOSTNAME, f"{HOSTNAME}.example.com", interfaces=interfaces, vlans=vlans)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    edge = draw(
        st.lists(st.sampled_from([p for p in PORTS if p != UPLINK]), unique=True, min_size=1)
    )
    uplinks = (UPLINK,) if draw(st.booleans()) else ()
    sess = tuple(
        SessionConfig(
            name=name,
            url=f"https://{name}.example.com/sdk",
            username="u",
            password_env="X",
            allowed_vlans=draw(st.builds(VlanSet, st.sets(vlan_ids, min_size=2, max_size=12))),
            autovlan=draw(st.integers(0, 3)) > 0,
        )
        for name in ("vc1", "vc2")[: draw(st.integers(1, 2))]
    )
    switch = SwitchConfig(
        interfaces=tuple(edge),
        uplinks=uplinks,
        remove_delay=draw(st.sampled_from([0.0, 10.0, 300.0])),
        dry_run=draw(st.integers(0, 5)) == 0,
        create_vlans=draw(st.booleans()),
    )
    return Config(switch=switch, cdp=CdpConfig(), sessions=sess)


@st.composite
def ledgers(draw: st.DrawFn) -> Ledger:
    entries = []
    for iface in draw(st.lists(st.sampled_from(PORTS), unique=True)):
        for vlan in draw(st.sets(vlan_ids, max_size=4)):
            since = draw(st.none() | st.floats(NOW - 1000, NOW))
            entries.append(
                Ownership(
                    iface,
                    vlan,
                    added=NOW - 2000,
                    sessions=frozenset(
                        draw(st.sets(st.sampled_from(["vc1", "vc2", "gone"]), max_size=2))
                    ),
                    hosts=frozenset(
                        draw(
                            st.sets(
                                st.sampled_from(["vc1/host-0", "vc1/host-1", "vc2/host-0"]),
                                max_size=2,
                            )
                        )
                    ),
                    unneeded_since=since,
                )
            )
    created = {v: NOW - 2000 for v in draw(st.sets(vlan_ids, max_size=3))}
    clocks = {
        v: draw(st.floats(NOW - 1000, NOW))
        for v in sorted(created)
        if draw(st.booleans())  # some created VLANs already unused for a while
    }
    return Ledger(
        entries={e.key(): e for e in entries},
        created_vlans=created,
        vlans_unneeded_since=clocks,
        trusted=draw(st.integers(0, 5)) > 0,
    )


@dataclass(frozen=True)
class World:
    """Everything the planner takes."""

    inventory: Inventory
    facts: SwitchFacts
    config: Config
    ledger: Ledger
    now: float


@st.composite
def worlds(draw: st.DrawFn) -> World:
    config = draw(configs())
    edge = config.switch.interfaces
    inv = Inventory(tuple(draw(sessions(s.name, edge)) for s in config.sessions))
    return World(inv, draw(switch_facts()), config, draw(ledgers()), NOW + draw(st.floats(0, 600)))


def with_config(world: World, **switch_changes: Any) -> World:
    """The world with some [switch] settings changed."""
    return replace(
        world, config=replace(world.config, switch=replace(world.config.switch, **switch_changes))
    )
