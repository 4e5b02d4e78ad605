"""The planner on small, named situations: what a network engineer would check by hand.

Single-step situations are one table, :data:`CASES`: each row is one line of the
specification (a world, the switch, and what the plan must add, remove and say),
its name is the test id. Situations that take several plans in a row (a migration,
the uplink following its edges, a created VLAN's life) are told as prose tests
after the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import pytest

from eos_vmtracer.config import Config
from eos_vmtracer.ledger import Ledger, Ownership
from eos_vmtracer.model import (
    Inventory,
    Migration,
    Neighbor,
    PhysicalNic,
    SwitchFacts,
    SwitchInterface,
    VlanSpec,
    VmkNic,
)
from eos_vmtracer.planner import PendingVlan, Plan, plan, simulate
from eos_vmtracer.vlans import VlanSet
from lab.builders import (
    a_vm,
    config,
    dv,
    dvpg,
    esx,
    inventory,
    pg,
    session,
    std,
    switch_facts,
    vlan_pgs,
    with_allowed,
)

NOW = 10_000.0
PO = "Port-Channel10"
LEAF = switch_facts(
    ("Ethernet1", "Ethernet2", "Ethernet3", "Ethernet5", "Ethernet6", "Ethernet48", PO),
    channels={"Ethernet5": PO, "Ethernet6": PO},
    fqdn="leaf1.dc.example.com",
    system_mac="00:1c:73:aa:bb:cc",
)
"""leaf1: trunks allowing VLAN 1; Ethernet5-6 are members of Port-Channel10."""


def facts(**allowed: str) -> SwitchFacts:
    """:data:`LEAF` with some ports' allowed VLANs (``Ethernet1="1,100"``)."""
    return with_allowed(LEAF, **allowed)


def cfg(
    interfaces: tuple[str, ...] = ("Ethernet1", "Ethernet2", PO),
    allowed: str = "100-999",
    **switch: object,
) -> Config:
    """vc1 allowed 100-999 on Ethernet1, Ethernet2 and Port-Channel10, remove_delay 300 s."""
    return config(interfaces, allowed=allowed, remove_delay=300, **switch)


def one_vm(ports: tuple[str, ...] = ("Ethernet1",), device: str = "leaf1") -> Inventory:
    """The one-VM world: vm-1 on host-1, whose vmnics hear ``device`` on ``ports``
    (leaf1 Ethernet1), with its vNIC on portgroup VM-100 (VLAN 100)."""
    host = esx("host-1", ports, vlan_pgs([100]), device=device)
    return inventory(session([host], [a_vm("vm-1", "host-1", std("VM-100"))]))


def hearing(device: str, port: str) -> Inventory:
    """The one-VM world, host-1's vmnic0 hearing ``device`` ``port`` over LLDP."""
    world = one_vm()
    (s,) = world.sessions
    nic = PhysicalNic("vmnic0", neighbors=(Neighbor("lldp", device, port),))
    host = replace(s.hosts["host-1"], nics=(nic,))
    return inventory(replace(s, hosts={"host-1": host}))


def owned(vlan: int, unneeded_since: Optional[float], *hosts: str) -> Ledger:
    """A ledger: vmtracer added ``vlan`` to Ethernet1 for vc1 (and for ``hosts``)."""
    entry = Ownership("Ethernet1", vlan, 0.0, frozenset({"vc1"}), frozenset(hosts), unneeded_since)
    return Ledger(entries={entry.key(): entry})


def adds(p: Plan) -> dict[str, str]:
    return {c.interface: str(c.add) for c in p.changes if c.add}


def removes(p: Plan) -> dict[str, str]:
    return {c.interface: str(c.remove) for c in p.changes if c.remove}


@dataclass(frozen=True)
class Case:
    """One line of the specification: in ``world``, on ``facts`` with ``config`` and
    ``ledger``, one plan adds ``adds`` and removes ``removes`` (interface -> VLANs,
    exactly), and each of ``notes`` is in one of its notes. The optional columns say
    more where the line does: VLANs created and deleted, the first reason for an
    (interface, VLAN), the interfaces the hosts are linked to, the holds on pending
    removals, and ``also``, anything else the line promises."""

    name: str
    world: Inventory
    adds: Mapping[str, str] = field(default_factory=dict)
    removes: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    facts: SwitchFacts = LEAF
    config: Config = field(default_factory=cfg)
    ledger: Ledger = field(default_factory=Ledger)
    creates: Optional[Mapping[int, str]] = None
    deletes: Optional[str] = None
    reasons: Mapping[tuple[str, int], str] = field(default_factory=dict)
    links: Optional[set[str]] = None
    held: tuple[str, ...] = ()
    also: Optional[Callable[[Plan], bool]] = None


PVLAN = dvpg("dvportgroup-1", "pvlan", VlanSpec.private(200, 201))
DV300 = dvpg("dvportgroup-1", "DV-300", VlanSpec.single(300))
ACCESS_ETH1 = replace(
    LEAF, interfaces={**LEAF.interfaces, "Ethernet1": SwitchInterface("Ethernet1", "access")}
)
CREATED_100 = replace(
    facts(Ethernet1="1,100"),
    vlans={1: "default", 100: "VM-100"},
)
OURS_100 = replace(owned(100, 0.0), created_vlans={100: 0.0}, vlans_unneeded_since={100: 0.0})
NOBODY = inventory(session([esx()]))  # host-1 on Ethernet1, no VM

CASES = [
    Case(
        "a single-VLAN portgroup adds its VLAN to the host's port, and creates it",
        one_vm(),
        adds={"Ethernet1": "100"},
        creates={100: "VM-100"},
        reasons={
            ("Ethernet1", 100): "VM vm-1 (Network adapter 1) on esx-host-1 vmnic0 portgroup"
            " 'VM-100' [vc1]"
        },
        links={"Ethernet1"},
        also=lambda p: p.ledger.entries[("Ethernet1", 100)].added == NOW,
    ),
    Case(
        "a standard portgroup on VLAN 4095 is a trunk, clipped to the allowed VLANs",
        inventory(
            session(
                [esx(pgs=(pg("all", VlanSpec.trunk(VlanSet.all())),))],
                [a_vm("vm-1", "host-1", std("all"))],
            )
        ),
        config=cfg(allowed="100-110,4000"),
        adds={"Ethernet1": "100-110,4000"},
        also=lambda p: bool(p.interfaces["Ethernet1"].excluded),  # the rest is said kept off
    ),
    Case(
        "a private VLAN adds its primary and its secondary",
        inventory(
            session(
                [esx(dvs_uplinks=("vmnic0",))], [a_vm("vm-1", "host-1", dv(PVLAN.key))], dv=[PVLAN]
            )
        ),
        adds={"Ethernet1": "200-201"},
    ),
    Case(
        "a distributed portgroup uses the host's proxy-switch uplinks",
        inventory(
            session(
                [esx(ports=("Ethernet1", "Ethernet2"), dvs_uplinks=("vmnic1",))],
                [a_vm("vm-1", "host-1", dv(DV300.key))],
                dv=[DV300],
            )
        ),
        adds={"Ethernet2": "300"},
    ),
    Case(
        "a distributed portgroup on a host not in that distributed switch adds nothing",
        inventory(
            session(
                [esx(ports=("Ethernet1", "Ethernet2"))],
                [a_vm("vm-1", "host-1", dv(DV300.key))],
                dv=[DV300],
            )
        ),
    ),
    Case(
        "a teaming override limits the uplinks",
        inventory(
            session(
                [
                    esx(
                        ports=("Ethernet1", "Ethernet2"),
                        pgs=(pg("VM-110", VlanSpec.single(110), ("vmnic1",)),),
                    )
                ],
                [a_vm("vm-1", "host-1", std("VM-110"))],
            )
        ),
        adds={"Ethernet2": "110"},
    ),
    Case(
        "the neighbour is this switch by its FQDN in any case",
        hearing("LEAF1.dc.example.com", "Ethernet1"),
        adds={"Ethernet1": "100"},
    ),
    Case(
        "the neighbour is this switch by its chassis MAC, the port by its short name",
        hearing("00:1c:73:aa:bb:cc", "Et1"),
        adds={"Ethernet1": "100"},
    ),
    Case(
        "the neighbour is this switch by its hostname, the port in lower case",
        hearing("leaf1", "ethernet1"),
        adds={"Ethernet1": "100"},
    ),
    Case(
        "a host cabled to another switch is linked to nothing and adds nothing",
        one_vm(device="leaf2"),
        links=set(),
    ),
    Case(
        "a Port-Channel member lands on the Port-Channel",
        one_vm(("Ethernet5", "Ethernet6")),
        adds={PO: "100"},
        links={PO},
    ),
    Case(
        "a member of a Port-Channel that is not enabled lands nowhere, and says why",
        one_vm(("Ethernet5", "Ethernet6")),
        config=cfg(interfaces=("Ethernet5", "Ethernet6")),
        notes=("member of Port-Channel10, which is not enabled",),
    ),
    Case(
        "a VMkernel adapter needs its portgroup's VLAN",
        inventory(
            session(
                [
                    esx(
                        pgs=(pg("vMotion", VlanSpec.single(350)),),
                        vmks=(VmkNic("vmk1", std("vMotion")),),
                    )
                ]
            )
        ),
        adds={"Ethernet1": "350"},
        reasons={
            ("Ethernet1", 350): "VMkernel vmk1 on esx-host-1 vmnic0 portgroup 'vMotion' [vc1]"
        },
    ),
    Case(
        "a disconnected host keeps its VLANs",
        inventory(session([esx(pgs=vlan_pgs([100]), connected=False)])),
        facts=facts(Ethernet1="1,100"),
        ledger=owned(100, 1.0, "vc1/host-1"),
        held=("host esx-host-1 is disconnected",),
    ),
    Case(
        "a VLAN no VM needs goes once its host is connected",
        inventory(session([esx(pgs=vlan_pgs([100]))])),
        facts=facts(Ethernet1="1,100"),
        ledger=owned(100, 1.0, "vc1/host-1"),
        removes={"Ethernet1": "100"},
    ),
    Case(
        "an operator's VLAN is never removed; ours goes once unneeded for remove_delay",
        NOBODY,
        facts=facts(Ethernet1="1,100,150"),
        ledger=owned(150, 0.0),
        removes={"Ethernet1": "150"},
        also=lambda p: p.interfaces["Ethernet1"].static == VlanSet([1, 100]),
    ),
    Case(
        "a port that is not a trunk is left alone, and said",
        one_vm(),
        facts=ACCESS_ETH1,
        notes=("Ethernet1 is not a trunk",),
        also=lambda p: p.interfaces["Ethernet1"].note == "is not a trunk (switchport mode access)",
    ),
    Case(
        "a trunk allowing every VLAN needs nothing added, and nothing is owned",
        one_vm(),
        facts=facts(Ethernet1="ALL"),
        also=lambda p: not p.ledger.entries,
    ),
    Case(
        "a VLAN vmtracer created is deleted with its last owned port",
        NOBODY,
        facts=CREATED_100,
        ledger=OURS_100,
        removes={"Ethernet1": "100"},
        deletes="100",
        also=lambda p: not p.ledger.vlans_unneeded_since,
    ),
    Case(
        "a VLAN vmtracer created is kept while someone else's access port uses it",
        NOBODY,
        facts=replace(
            CREATED_100,
            interfaces={
                **CREATED_100.interfaces,
                "Ethernet3": SwitchInterface("Ethernet3", "access", access_vlan=100),
            },
        ),
        ledger=OURS_100,
        removes={"Ethernet1": "100"},
        deletes="NONE",  # EOS's word for no VLAN
    ),
    Case(
        "a needed VLAN deleted behind vmtracer's back is created again",
        one_vm(),
        facts=facts(Ethernet1="1,100"),  # the trunk lists it, but VLAN 100 does not exist
        creates={100: "VM-100"},
    ),
    Case(
        "a dry run reports what it would do and changes nothing",
        one_vm(),
        config=cfg(dry_run=True),
        also=lambda p: (
            p.empty()
            and not p.ledger.entries
            and [(w.interface, str(w.add), w.why) for w in p.withheld if w.interface]
            == [("Ethernet1", "100", "dry run")]
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    p = plan(case.world, case.facts, case.config, case.ledger, NOW)
    assert adds(p) == dict(case.adds)
    assert removes(p) == dict(case.removes)
    for note in case.notes:
        assert any(note in n for n in p.notes), (note, p.notes)
    if case.creates is not None:
        assert p.create_vlans == dict(case.creates)
    if case.deletes is not None:
        assert str(p.delete_vlans) == case.deletes
    for key, text in case.reasons.items():
        assert p.add_reasons[key][0].text() == text
    if case.links is not None:
        assert {lk.interface for lk in p.links} == case.links
    for hold in case.held:
        assert any(hold in pd.held for pd in p.pending), (hold, p.pending)
    if case.held:
        assert not p.changes
    if case.also is not None:
        assert case.also(p)


def test_the_table_names_each_case_once() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)


# -- stories: several plans in a row ----------------------------------------------------


def test_migration_pre_provisions_the_destination() -> None:
    pgs = vlan_pgs([100])
    hosts = [esx("host-1", ("Ethernet1",), pgs), esx("host-2", ("Ethernet2",), pgs)]
    vm = a_vm("vm-1", "host-1", std("VM-100"))
    inv = inventory(session(hosts, [vm], migrations=[Migration("vm-1", "host-2", NOW - 1)]))
    p = plan(inv, facts(), cfg(), Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "100", "Ethernet2": "100"}
    assert p.add_reasons[("Ethernet2", 100)][0].kind == "migration"
    # The VM arrived: the source's VLAN waits remove_delay before it goes.
    arrived = inventory(session(hosts, [replace(vm, host="host-2")]))
    p2 = plan(arrived, simulate(facts(), p), cfg(), p.ledger, NOW + 5)
    assert not p2.changes
    (pending,) = p2.pending
    assert (pending.interface, pending.vlan, pending.due) == ("Ethernet1", 100, NOW + 5 + 300)
    p3 = plan(arrived, simulate(facts(), p), cfg(), p2.ledger, NOW + 305)
    assert removes(p3) == {"Ethernet1": "100"}


def test_uplink_carries_the_union_and_follows_the_edges() -> None:
    pgs = vlan_pgs([100, 200])
    hosts = [esx("host-1", ("Ethernet1",), pgs), esx("host-2", ("Ethernet2",), pgs)]
    vms = [a_vm("vm-1", "host-1", std("VM-100")), a_vm("vm-2", "host-2", std("VM-200"))]
    c = cfg(uplinks=("Ethernet48",))
    p = plan(inventory(session(hosts, vms)), facts(), c, Ledger(), NOW)
    assert adds(p) == {"Ethernet1": "100", "Ethernet2": "200", "Ethernet48": "100,200"}
    entry = p.ledger.entries[("Ethernet48", 100)]
    assert entry.hosts == frozenset({"vc1/host-1"})  # holds apply to the uplink too
    gone = plan(inventory(session(hosts, vms[1:])), simulate(facts(), p), c, p.ledger, NOW + 1)
    assert {(pd.interface, pd.vlan) for pd in gone.pending} == {
        ("Ethernet1", 100),
        ("Ethernet48", 100),
    }


def test_a_vlan_created_for_a_trunk_allowing_all_is_not_deleted_while_needed() -> None:
    """Found by the idempotence property: on a trunk allowing every VLAN (EOS's
    default) nothing is added, so nothing is owned; the VLAN created for the VM must
    still not be deleted by the next plan while the VM needs it."""
    inv = one_vm()
    f = facts(Ethernet1="ALL")
    first = plan(inv, f, cfg(), Ledger(), NOW)
    assert first.create_vlans == {100: "VM-100"} and not first.changes
    second = plan(inv, simulate(f, first), cfg(), first.ledger, NOW + 1)
    assert second.empty(), (second.create_vlans, second.delete_vlans)
    # Once no VM needs it, it goes after remove_delay (300 s) of non-use, not before.
    f2, gone = simulate(f, first), NOBODY
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
    down = inventory(session([esx()], synced=False))
    held = plan(down, f2, cfg(), first.ledger, NOW + 10_000)
    assert held.empty() and held.ledger.vlans_unneeded_since == {} and held.next_due is None
    assert held.pending_vlans == (
        PendingVlan(100, None, None, "session vc1 is disconnected, not synchronised"),
    )
    held = plan(down, f2, cfg(), fourth.ledger, NOW + 10_000)
    assert held.empty() and held.ledger.vlans_unneeded_since == {100: NOW + 2}
