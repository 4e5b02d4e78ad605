"""switch.static_hosts in the planner: hosts that are never heard get their VMs' VLANs,
a neighbour heard wins, and every safety rule holds with static mappings as without.

The properties run the planner's own safety properties (test_planner_properties.py)
again over worlds with a random ``static_hosts`` table, and check what static mappings
may add: only needs of vmnics that hear nothing, on interfaces their host's name matches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eos_vmtracer.ledger import Ledger
from eos_vmtracer.model import (
    Inventory,
    Neighbor,
    PhysicalNic,
    VlanSpec,
)
from eos_vmtracer.planner import Plan, plan
from eos_vmtracer.render import explain, hosts_table
from eos_vmtracer.static_hosts import static_ports
from eos_vmtracer.status import build
from eos_vmtracer.vlans import VlanSet
from lab.builders import (
    a_vm,
    agent_facts,
    config,
    esx,
    inventory,
    pg,
    session,
    std,
    switch_facts,
)
from tests.examples import examples
from tests.unit import test_planner_properties as safety
from tests.unit.planner_world import NOW, PO, PO_MEMBERS, PORTS, World, with_config, worlds
from tests.unit.test_planner_properties import PROPERTY

FEWER = settings(PROPERTY, max_examples=examples(100))  # each example runs two plans or more
PATTERNS = ["esx-host-*", "esx-host-0", "ESX-HOST-1", "*", "esx-host-[12]", "nomatch*"]


@st.composite
def static_worlds(draw: st.DrawFn) -> World:
    w = draw(worlds())
    table = {
        port: tuple(draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True)))
        for port in draw(st.lists(st.sampled_from(PORTS), unique=True, max_size=3))
        if port != PO or PO in w.config.switch.interfaces
    }
    table = {k: tuple(p.lower() for p in v) for k, v in table.items()}
    sessions = tuple(
        replace(s, unsettled=frozenset(draw(st.sets(st.sampled_from(sorted(s.hosts))))))
        if s.hosts and draw(st.booleans())
        else s
        for s in w.inventory.sessions
    )
    return with_config(replace(w, inventory=Inventory(sessions)), static_hosts=table)


def needs(p: Plan) -> set[tuple[str, int, Any]]:
    return {
        (name, v, r)
        for name, view in p.interfaces.items()
        for v, rs in view.needed.items()
        for r in rs
    }


def nic_of(w: World, session: str, host_id: str, vmnic: str) -> PhysicalNic | None:
    inv = w.inventory.session(session)
    host = inv.hosts.get(host_id) if inv else None
    return host.nic(vmnic) if host else None


@FEWER
@given(static_worlds())
def test_static_mappings_only_add_needs_of_vmnics_that_hear_nothing(w: World) -> None:
    with_static = run(w)
    without = run(with_config(w, static_hosts={}))
    before, after = needs(without), needs(with_static)
    assert before <= after, "a static mapping took away a need (heard must win)"
    for iface, _vlan, r in after - before:
        if r.kind == "uplink":
            continue  # uplinks carry what the edge ports need: checked by the safety rules
        nic = nic_of(w, r.session, r.host_id, r.vmnic)
        assert nic is not None and not nic.neighbors, f"{r.host} {r.vmnic} hears a neighbour"
        inv = w.inventory.session(r.session)
        assert inv is not None and r.host_id not in inv.unsettled, f"{r.host} was never asked"
        matched = {port for port, _ in static_ports(r.host, w.config.switch.static_hosts)}
        assert iface in matched or (iface == PO and matched & set(PO_MEMBERS)), (iface, matched)


@FEWER
@given(static_worlds())
def test_heard_neighbours_map_exactly_as_without_static_hosts(w: World) -> None:
    heard = [lk for lk in run(w).links if not lk.neighbor.startswith("static (")]
    assert heard == list(run(with_config(w, static_hosts={})).links)


@FEWER
@given(static_worlds())
def test_safety_rules_hold_with_static_hosts(w: World) -> None:
    for prop in (
        safety.test_never_removes_what_it_does_not_own,
        safety.test_never_touches_vlans_outside_allowed,
        safety.test_fail_static,
        safety.test_all_sessions_down_removes_nothing,
        safety.test_removal_only_after_delay,
        safety.test_dry_run_plans_nothing_to_apply,
        safety.test_autovlan_false_plans_nothing_for_that_session,
        safety.test_port_channel_members_are_never_touched,
        safety.test_uplinks_carry_the_union_of_edge_needs,
        safety.test_idempotent,
        safety.test_untrusted_ledger_removes_nothing,
    ):
        prop.hypothesis.inner_test(w)  # type: ignore[attr-defined]


def run(w: World) -> Plan:
    return plan(w.inventory, w.facts, w.config, w.ledger, w.now)


# -- examples -------------------------------------------------------------------------------


def blade_world(*, heard: str = "", static: dict[str, tuple[str, ...]] | None = None) -> World:
    """blade-a-1 with two vmnics, one VM on VLAN 10; ``heard``: vmnic0 hears leaf1 there."""
    host = esx(
        "host-1", (heard, ""), (pg("pg-10", VlanSpec.single(10)),), name="Blade-A-1.example.com"
    )
    inv = inventory(session([host], [a_vm("vm-1", "host-1", std("pg-10"), name="app1")]))
    facts = switch_facts(
        PORTS, channels={m: PO for m in PO_MEMBERS}, vlans={1: "default", 10: "ten"}
    )
    cfg = config(
        ("Ethernet1", "Ethernet2", "Ethernet3", PO),
        allowed="1-100",
        url="https://vc1/sdk",
        static_hosts=static if static is not None else {"Ethernet3": ("blade-a-*",)},
    )
    return World(inv, facts, cfg, Ledger(), NOW)


def adds(p: Plan) -> dict[str, VlanSet]:
    return {c.interface: c.add for c in p.changes if c.add}


def test_a_host_never_heard_gets_its_vms_vlans_on_the_static_interface() -> None:
    w = blade_world()
    p = run(w)
    assert adds(p) == {"Ethernet3": VlanSet([10])}
    links = {(lk.vmnic, lk.interface, lk.neighbor) for lk in p.links}
    assert links == {
        ("vmnic0", "Ethernet3", "static (blade-a-*)"),
        ("vmnic1", "Ethernet3", "static (blade-a-*)"),
    }


def test_static_hosts_wait_until_the_host_was_asked_what_it_hears() -> None:
    w = blade_world()
    inv = replace(w.inventory.sessions[0], unsettled=frozenset({"host-1"}))
    p = run(replace(w, inventory=Inventory((inv,))))
    assert p.changes == () and p.links == ()


def test_a_heard_neighbour_wins_over_static_hosts() -> None:
    w = blade_world(heard="Ethernet1")
    p = run(w)
    # vmnic0 hears Ethernet1: it goes there; vmnic1 hears nothing: static still applies.
    assert adds(p) == {"Ethernet1": VlanSet([10]), "Ethernet3": VlanSet([10])}
    assert {(lk.vmnic, lk.interface) for lk in p.links} == {
        ("vmnic0", "Ethernet1"),
        ("vmnic1", "Ethernet3"),
    }


def test_a_neighbour_heard_from_another_switch_also_wins() -> None:
    w = blade_world()
    inv = w.inventory.sessions[0]
    host = inv.hosts["host-1"]
    other = PhysicalNic("vmnic0", neighbors=(Neighbor("cdp", "leaf2", "Ethernet9"),))
    other1 = PhysicalNic("vmnic1", neighbors=(Neighbor("lldp", "leaf2", "Ethernet9"),))
    host = replace(host, nics=(other, other1))
    w = replace(w, inventory=Inventory((replace(inv, hosts={"host-1": host}),)))
    assert run(w).changes == ()


def test_a_static_member_of_an_enabled_port_channel_lands_on_the_channel() -> None:
    p = run(blade_world(static={PO_MEMBERS[0]: ("blade-*",)}))
    assert adds(p) == {PO: VlanSet([10])}


def test_a_host_matching_two_interfaces_is_cabled_to_both() -> None:
    p = run(blade_world(static={"Ethernet2": ("blade-a-1*",), "Ethernet3": ("*.example.com",)}))
    assert adds(p) == {"Ethernet2": VlanSet([10]), "Ethernet3": VlanSet([10])}


def test_a_static_interface_not_enabled_maps_nothing_and_says_why() -> None:
    p = run(blade_world(static={"Ethernet4": ("blade-*",)}))
    assert p.changes == ()
    assert {lk.note for lk in p.links} == {"Ethernet4 is not enabled for VM Tracer"}


def test_show_hosts_and_explain_say_static() -> None:
    w = blade_world()
    p = run(w)
    doc = build(w.config, w.inventory, w.facts, p, agent_facts(NOW, started=NOW, config="x"), NOW)
    table = hosts_table(doc, NOW)
    assert "static (blade-a-*)" in table
    text = explain(doc, "Ethernet3", None, NOW)
    assert "cabled hosts: Blade-A-1.example.com vmnic0/vmnic1 [static (blade-a-*):" in text
