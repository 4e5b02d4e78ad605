"""The planner on small, named situations: what a network engineer would check by hand."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from eos_vmtracer.config import Config, SessionConfig, SwitchConfig
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
from eos_vmtracer.planner import PendingVlan, Plan, plan, simulate
from eos_vmtracer.vlans import VlanSet

NOW = 10_000.0


def cfg(
    interfaces: tuple[str, ...] = ("Ethernet1", "Ethernet2", "Port-Channel10"),
    uplinks: tuple[str, ...] = (),
    allowed: str = "100-999",
    **switch: object,
) -> Config:
    return Config(
        switch=replace(
            SwitchConfig(interfaces=interfaces, uplinks=uplinks, remove_delay=300), **switch
        ),
        sessions=(SessionConfig(name="vc1", allowed_vlans=VlanSet.parse(allowed)),),
    )


def facts(**allowed: str) -> SwitchFacts:
    names = [
        "Ethernet1",
        "Ethernet2",
        "Ethernet3",
        "Ethernet5",
        "Ethernet6",
        "Ethernet48",
        "Port-Channel10",
    ]
    interfaces = {
        n: SwitchInterface(
            n,
            allowed=VlanSet.parse(allowed.get(n, "1")),
            channel="Port-Channel10" if n in ("Ethernet5", "Ethernet6") else None,
        )
        for n in names
    }
    return SwitchFacts(
        "leaf1",
        "leaf1.dc.example.com",
        system_mac="00:1c:73:aa:bb:cc",
        interfaces=interfaces,
        vlans={1: "default"},
    )


def esx(
    moid: str = "host-1",
    ports: tuple[str, ...] = ("Ethernet1",),
    pgs: tuple[HostPortgroup, ...] = (),
    device: str = "leaf1",
    connected: bool = True,
    vmks: tuple[VmkNic, ...] = (),
    dvs_uplinks: Optional[tuple[str, ...]] = None,
) -> Host:
    nics = tuple(
        PhysicalNic(f"vmnic{i}", neighbors=(Neighbor("cdp", device, port),))
        for i, port in enumerate(ports)
    )
    names = tuple(n.device for n in nics)
    switches = [HostSwitch("vSwitch0", "vSwitch0", False, names)]
    if dvs_uplinks is not None:
        switches.append(HostSwitch("dvs-1", "DSwitch", True, dvs_uplinks))
    return Host(moid, f"esx-{moid}", connected, nics, tuple(switches), pgs, vmks)


def pg(name: str, spec: VlanSpec, uplinks: Optional[tuple[str, ...]] = None) -> HostPortgroup:
    return HostPortgroup(name, "vSwitch0", spec, uplinks)


def a_vm(moid: str, host: str, *nets: NetworkRef, on: bool = True) -> Vm:
    return Vm(
        moid,
        moid,
        on,
        host,
        tuple(VNic(4000 + i, f"Network adapter {i + 1}", n) for i, n in enumerate(nets)),
    )


def std(name: str) -> NetworkRef:
    return NetworkRef(False, name)


def session(
    hosts: list[Host],
    vms: list[Vm],
    dv: tuple[DvPortgroup, ...] = (),
    synced: bool = True,
    migrations: tuple[Migration, ...] = (),
) -> Inventory:
    return Inventory(
        (
            SessionInventory(
                "vc1",
                SessionState.CONNECTED if synced else SessionState.DISCONNECTED,
                synced,
                hosts={h.moid: h for h in hosts},
                vms={v.moid: v for v in vms},
                dv_portgroups={p.key: p for p in dv},
                migrations={m.vm: m for m in migrations},
            ),
        )
    )


def adds(p: Plan) -> dict[str, str]:
    return {c.interface: str(c.add) for c in p.changes if c.add}


def removes(p: Plan) -> dict[str, str]:
    return {c.interface: str(c.remove) for c in p.changes if c.remove}


def test_single_vlan_portgroup() -> None:
    inv = session(
        [esx(pgs=(pg("VM-100", VlanSpec.single(100)),))], [a_vm("vm-1", "host-1", std("VM-100"))]
    )
    p = plan(inv, facts(), cfg(), Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "100"}
    (reason,) = p.add_reasons[("Ethernet1", 100)]
    assert (
        reason.text() == "VM vm-1 (Network adapter 1) on esx-host-1 vmnic0 portgroup 'VM-100' [vc1]"
    )
    assert p.create_vlans == {100: "VM-100"}
    assert p.ledger.entries[("Ethernet1", 100)].added == NOW


def test_standard_4095_is_a_trunk_clipped_to_allowed() -> None:
    inv = session(
        [esx(pgs=(pg("all", VlanSpec.trunk(VlanSet.all())),))], [a_vm("vm-1", "host-1", std("all"))]
    )
    p = plan(inv, facts(), cfg(allowed="100-110,4000"), Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "100-110,4000"}
    assert p.interfaces["Ethernet1"].excluded  # the rest is reported as kept off


def test_private_vlan_adds_primary_and_secondary() -> None:
    dv = (DvPortgroup("dvportgroup-1", "pvlan", "dvs-1", VlanSpec.private(200, 201)),)
    host = esx(dvs_uplinks=("vmnic0",))
    inv = session([host], [a_vm("vm-1", "host-1", NetworkRef(True, "dvportgroup-1", "dvs-1"))], dv)
    assert adds(plan(inv, facts(), cfg(), Ledger(), NOW)) == {"Ethernet1": "200-201"}


def test_distributed_portgroup_uses_the_hosts_proxy_switch_uplinks() -> None:
    dv = (DvPortgroup("dvportgroup-1", "DV-300", "dvs-1", VlanSpec.single(300)),)
    host = esx(ports=("Ethernet1", "Ethernet2"), dvs_uplinks=("vmnic1",))
    inv = session([host], [a_vm("vm-1", "host-1", NetworkRef(True, "dvportgroup-1", "dvs-1"))], dv)
    assert adds(plan(inv, facts(), cfg(), Ledger(), NOW)) == {"Ethernet2": "300"}
    # A host that is not a member of that distributed switch adds nothing.
    lonely = esx(ports=("Ethernet1", "Ethernet2"))
    inv = session(
        [lonely], [a_vm("vm-1", "host-1", NetworkRef(True, "dvportgroup-1", "dvs-1"))], dv
    )
    assert adds(plan(inv, facts(), cfg(), Ledger(), NOW)) == {}


def test_teaming_override_limits_the_uplinks() -> None:
    host = esx(
        ports=("Ethernet1", "Ethernet2"), pgs=(pg("VM-110", VlanSpec.single(110), ("vmnic1",)),)
    )
    inv = session([host], [a_vm("vm-1", "host-1", std("VM-110"))])
    assert adds(plan(inv, facts(), cfg(), Ledger(), NOW)) == {"Ethernet2": "110"}


def test_neighbour_matching_fqdn_case_and_chassis_mac() -> None:
    for device, port in (
        ("LEAF1.dc.example.com", "Ethernet1"),
        ("00:1c:73:aa:bb:cc", "Et1"),
        ("leaf1", "ethernet1"),
    ):
        host = esx(pgs=(pg("VM-100", VlanSpec.single(100)),))
        host = replace(
            host, nics=(PhysicalNic("vmnic0", neighbors=(Neighbor("lldp", device, port),)),)
        )
        inv = session([host], [a_vm("vm-1", "host-1", std("VM-100"))])
        assert adds(plan(inv, facts(), cfg(), Ledger(), NOW)) == {"Ethernet1": "100"}, device
    other = esx(device="leaf2", pgs=(pg("VM-100", VlanSpec.single(100)),))
    p = plan(
        session([other], [a_vm("vm-1", "host-1", std("VM-100"))]), facts(), cfg(), Ledger(), NOW
    )
    assert adds(p) == {} and not p.links


def test_port_channel_member_lands_on_the_port_channel() -> None:
    host = esx(ports=("Ethernet5", "Ethernet6"), pgs=(pg("VM-120", VlanSpec.single(120)),))
    inv = session([host], [a_vm("vm-1", "host-1", std("VM-120"))])
    p = plan(inv, facts(), cfg(), Ledger(), NOW)
    assert adds(p) == {"Port-Channel10": "120"}
    assert {lk.interface for lk in p.links} == {"Port-Channel10"}
    # ... and nowhere when the Port-Channel is not enabled, with a note saying why.
    p = plan(inv, facts(), cfg(interfaces=("Ethernet5", "Ethernet6")), Ledger(), NOW)
    assert adds(p) == {}
    assert any("member of Port-Channel10, which is not enabled" in n for n in p.notes)


def test_vmkernel_adapter_needs_its_vlan() -> None:
    host = esx(pgs=(pg("vMotion", VlanSpec.single(350)),), vmks=(VmkNic("vmk1", std("vMotion")),))
    p = plan(session([host], []), facts(), cfg(), Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "350"}
    assert p.add_reasons[("Ethernet1", 350)][0].text().startswith("VMkernel vmk1 on esx-host-1")


def test_migration_pre_provisions_the_destination() -> None:
    pgs = (pg("VM-100", VlanSpec.single(100)),)
    hosts = [esx("host-1", ("Ethernet1",), pgs), esx("host-2", ("Ethernet2",), pgs)]
    vm = a_vm("vm-1", "host-1", std("VM-100"))
    inv = session(hosts, [vm], migrations=(Migration("vm-1", "host-2", NOW - 1),))
    p = plan(inv, facts(), cfg(), Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "100", "Ethernet2": "100"}
    assert p.add_reasons[("Ethernet2", 100)][0].kind == "migration"
    # The VM arrived: the source's VLAN waits remove_delay before it goes.
    arrived = session(hosts, [replace(vm, host="host-2")])
    p2 = plan(arrived, simulate(facts(), p), cfg(), p.ledger, NOW + 5)
    assert not p2.changes
    (pending,) = p2.pending
    assert (pending.interface, pending.vlan, pending.due) == ("Ethernet1", 100, NOW + 5 + 300)
    p3 = plan(arrived, simulate(facts(), p), cfg(), p2.ledger, NOW + 305)
    assert removes(p3) == {"Ethernet1": "100"}


def test_disconnected_host_keeps_its_vlans() -> None:
    pgs = (pg("VM-100", VlanSpec.single(100)),)
    ledger = Ledger(
        entries={
            ("Ethernet1", 100): Ownership(
                "Ethernet1", 100, 0.0, frozenset({"vc1"}), frozenset({"vc1/host-1"}), 1.0
            )
        }
    )
    f = facts(Ethernet1="1,100")
    host = esx(pgs=pgs, connected=False)
    p = plan(session([host], []), f, cfg(), ledger, NOW)
    assert not p.changes
    assert "host esx-host-1 is disconnected" in p.pending[0].held
    p = plan(session([replace(host, connected=True)], []), f, cfg(), ledger, NOW)
    assert removes(p) == {"Ethernet1": "100"}


def test_operator_vlan_is_never_removed() -> None:
    f = facts(Ethernet1="1,100,150")
    ledger = Ledger(
        entries={
            ("Ethernet1", 150): Ownership(
                "Ethernet1", 150, 0.0, frozenset({"vc1"}), unneeded_since=0.0
            )
        }
    )
    p = plan(session([esx()], []), f, cfg(), ledger, NOW)
    assert removes(p) == {"Ethernet1": "150"}  # ours, unneeded for long enough
    assert p.interfaces["Ethernet1"].static == VlanSet([1, 100])


def test_uplink_carries_the_union_and_follows_the_edges() -> None:
    pgs = (pg("VM-100", VlanSpec.single(100)), pg("VM-200", VlanSpec.single(200)))
    hosts = [esx("host-1", ("Ethernet1",), pgs), esx("host-2", ("Ethernet2",), pgs)]
    vms = [a_vm("vm-1", "host-1", std("VM-100")), a_vm("vm-2", "host-2", std("VM-200"))]
    c = cfg(uplinks=("Ethernet48",))
    p = plan(session(hosts, vms), facts(), c, Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "100", "Ethernet2": "200", "Ethernet48": "100,200"}
    entry = p.ledger.entries[("Ethernet48", 100)]
    assert entry.hosts == frozenset({"vc1/host-1"})  # holds apply to the uplink too
    gone = plan(session(hosts, vms[1:]), simulate(facts(), p), c, p.ledger, NOW + 1)
    assert {(pd.interface, pd.vlan) for pd in gone.pending} == {
        ("Ethernet1", 100),
        ("Ethernet48", 100),
    }


def test_not_a_trunk_is_left_alone_and_said() -> None:
    f = facts()
    f = replace(
        f,
        interfaces={**f.interfaces, "Ethernet1": replace(f.interfaces["Ethernet1"], mode="access")},
    )
    inv = session(
        [esx(pgs=(pg("VM-100", VlanSpec.single(100)),))], [a_vm("vm-1", "host-1", std("VM-100"))]
    )
    p = plan(inv, f, cfg(), Ledger(), NOW)
    assert not p.changes
    assert p.interfaces["Ethernet1"].note == "is not a trunk (switchport mode access)"
    assert any("Ethernet1 is not a trunk" in n for n in p.notes)


def test_trunk_allowing_all_needs_nothing_added() -> None:
    inv = session(
        [esx(pgs=(pg("VM-100", VlanSpec.single(100)),))], [a_vm("vm-1", "host-1", std("VM-100"))]
    )
    p = plan(inv, facts(Ethernet1="ALL"), cfg(), Ledger(), NOW)
    assert adds(p) == {} and not p.ledger.entries  # nothing added, nothing owned


def test_created_vlan_deleted_only_when_nothing_uses_it() -> None:
    f = replace(facts(Ethernet1="1,100"), vlans={1: "default", 100: "VM-100"})
    ledger = Ledger(
        entries={
            ("Ethernet1", 100): Ownership(
                "Ethernet1", 100, 0.0, frozenset({"vc1"}), unneeded_since=0.0
            )
        },
        created_vlans={100: 0.0},
        vlans_unneeded_since={100: 0.0},
    )
    p = plan(session([esx()], []), f, cfg(), ledger, NOW)
    assert removes(p) == {"Ethernet1": "100"} and p.delete_vlans == VlanSet([100])
    assert not p.ledger.vlans_unneeded_since  # deleted with its last owned port
    # An access port (someone else's) still uses it: keep the VLAN.
    used = replace(
        f,
        interfaces={
            **f.interfaces,
            "Ethernet3": SwitchInterface("Ethernet3", "access", access_vlan=100),
        },
    )
    p = plan(session([esx()], []), used, cfg(), ledger, NOW)
    assert removes(p) == {"Ethernet1": "100"} and not p.delete_vlans


def test_a_vlan_created_for_a_trunk_allowing_all_is_not_deleted_while_needed() -> None:
    """Found by the idempotence property: on a trunk allowing every VLAN (EOS's
    default) nothing is added, so nothing is owned; the VLAN created for the VM must
    still not be deleted by the next plan while the VM needs it."""
    inv = session(
        [esx(pgs=(pg("VM-100", VlanSpec.single(100)),))], [a_vm("vm-1", "host-1", std("VM-100"))]
    )
    f = facts(Ethernet1="ALL")
    first = plan(inv, f, cfg(), Ledger(), NOW)
    assert first.create_vlans == {100: "VM-100"} and not first.changes
    second = plan(inv, simulate(f, first), cfg(), first.ledger, NOW + 1)
    assert second.empty(), (second.create_vlans, second.delete_vlans)
    # Once no VM needs it, it goes after remove_delay (300 s) of non-use, not before.
    f2, gone = simulate(f, first), session([esx()], [])
    third = plan(gone, f2, cfg(), first.ledger, NOW + 2)
    assert third.empty() and third.next_due == NOW + 2 + 300
    assert third.pending_vlans == (PendingVlan(100, NOW + 2, NOW + 2 + 300),)
    # Needed again in between: the clock starts over.
    again = plan(inv, f2, cfg(), third.ledger, NOW + 100)
    assert again.empty() and again.ledger.vlans_unneeded_since == {}
    fourth = plan(gone, f2, cfg(), third.ledger, NOW + 2 + 299)
    assert fourth.empty() and fourth.ledger.vlans_unneeded_since == {100: NOW + 2}
    fifth = plan(gone, f2, cfg(), fourth.ledger, NOW + 2 + 300)
    assert fifth.delete_vlans == VlanSet([100]) and 100 not in fifth.ledger.created_vlans
    # vCenter not synchronised: the clock neither starts nor runs.
    down = session([esx()], [], synced=False)
    held = plan(down, f2, cfg(), first.ledger, NOW + 10_000)
    assert held.empty() and held.ledger.vlans_unneeded_since == {} and held.next_due is None
    assert held.pending_vlans == (
        PendingVlan(100, None, None, "session vc1 is disconnected, not synchronised"),
    )
    held = plan(down, f2, cfg(), fourth.ledger, NOW + 10_000)
    assert held.empty() and held.ledger.vlans_unneeded_since == {100: NOW + 2}


def test_deleted_vlan_is_recreated_when_needed() -> None:
    inv = session(
        [esx(pgs=(pg("VM-100", VlanSpec.single(100)),))], [a_vm("vm-1", "host-1", std("VM-100"))]
    )
    f = facts(Ethernet1="1,100")  # the trunk lists it, but VLAN 100 does not exist
    p = plan(inv, f, cfg(), Ledger(), NOW)
    assert not p.changes and p.create_vlans == {100: "VM-100"}


def test_dry_run_reports_without_changing() -> None:
    inv = session(
        [esx(pgs=(pg("VM-100", VlanSpec.single(100)),))], [a_vm("vm-1", "host-1", std("VM-100"))]
    )
    p = plan(inv, facts(), cfg(dry_run=True), Ledger(), NOW)
    assert p.empty() and not p.ledger.entries
    assert [(w.interface, str(w.add), w.why) for w in p.withheld if w.interface] == [
        ("Ethernet1", "100", "dry run")
    ]
