"""Every safety rule (README.md, "Safety rules") as a hypothesis property of the planner.

Each property runs over random inventories, switch states, ledgers and clocks
(see planner_world.py) with at least 200 examples.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eos_vmtracer.ledger import Ledger
from eos_vmtracer.model import Inventory, SessionInventory, VlanKind, VlanSpec, Vm, VNic
from eos_vmtracer.planner import Plan, plan, simulate
from eos_vmtracer.vlans import VlanSet
from tests.examples import examples
from tests.unit.planner_world import PO, PO_MEMBERS, World, with_config, worlds

PROPERTY = settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run(w: World) -> Plan:
    return plan(w.inventory, w.facts, w.config, w.ledger, w.now)


def removals(p: Plan) -> list[tuple[str, int]]:
    return [(c.interface, v) for c in p.changes for v in c.remove]


def additions(p: Plan) -> list[tuple[str, int]]:
    return [(c.interface, v) for c in p.changes for v in c.add]


@PROPERTY
@given(worlds())
def test_never_removes_what_it_does_not_own(w: World) -> None:
    p = run(w)
    for iface, vlan in removals(p):
        assert (iface, vlan) in w.ledger.entries, f"{iface} VLAN {vlan} removed but not owned"
        assert vlan in w.facts.interfaces[iface].allowed
    # VLANs deleted from the switch are only ones the agent created itself.
    for vlan in p.delete_vlans:
        assert vlan in w.ledger.created_vlans


@PROPERTY
@given(worlds())
def test_never_touches_vlans_outside_allowed(w: World) -> None:
    p = run(w)
    for iface, vlan in additions(p):
        reasons = p.add_reasons[(iface, vlan)]
        assert reasons
        for r in reasons:
            scfg = w.config.session(r.session)
            assert scfg is not None and vlan in scfg.allowed_vlans
    for iface, vlan in removals(p):
        entry = w.ledger.entries[(iface, vlan)]
        assert vlan in w.config.managed_vlans()
        for name in entry.sessions:
            scfg = w.config.session(name)
            assert scfg is None or vlan in scfg.allowed_vlans
    for vlan in VlanSet(p.create_vlans) | p.delete_vlans:
        assert vlan in w.config.managed_vlans()


@PROPERTY
@given(worlds())
def test_fail_static(w: World) -> None:
    """Nothing caused by an unsynced session or a disconnected host is removed."""
    p = run(w)
    for iface, vlan in removals(p):
        entry = w.ledger.entries[(iface, vlan)]
        for name in entry.sessions:
            inv = w.inventory.session(name)
            if w.config.session(name) is not None:
                assert inv is not None and inv.synced, f"{name} not synced but {vlan} removed"
        for qualified in entry.hosts:
            sname, _, moid = qualified.partition("/")
            inv = w.inventory.session(sname)
            host = inv.hosts.get(moid) if inv else None
            assert host is None or host.connected


@PROPERTY
@given(worlds())
def test_all_sessions_down_removes_nothing(w: World) -> None:
    down = Inventory(tuple(replace(s, synced=False) for s in w.inventory.sessions))
    p = plan(down, w.facts, w.config, w.ledger, w.now)
    assert not removals(p)
    assert not p.delete_vlans  # any session may need a VLAN the agent created


@PROPERTY
@given(worlds(), st.integers(0, 1))
def test_one_session_unsynced_deletes_no_vlan(w: World, which: int) -> None:
    sessions = list(w.inventory.sessions)
    if not sessions:
        return
    i = which % len(sessions)
    sessions[i] = replace(sessions[i], synced=False)
    p = plan(Inventory(tuple(sessions)), w.facts, w.config, w.ledger, w.now)
    assert not p.delete_vlans
    # The clocks of unused created VLANs neither start nor move while held.
    for v, since in p.ledger.vlans_unneeded_since.items():
        assert w.ledger.vlans_unneeded_since.get(v) == since


@PROPERTY
@given(worlds())
def test_created_vlan_deleted_only_unneeded_for_the_delay(w: World) -> None:
    """A VLAN the agent created goes only after remove_delay of non-need, never while
    a port the agent manages needs it (even a trunk allowing every VLAN, where
    nothing is added and so nothing owned)."""
    p = run(w)
    delay = w.config.switch.remove_delay
    needed = VlanSet(v for view in p.interfaces.values() for v in view.needed)
    for v in p.delete_vlans:
        since = w.ledger.vlans_unneeded_since.get(v, w.now)
        assert w.now - since >= delay, (v, since, delay)
        assert v not in needed
    for v, since in p.ledger.vlans_unneeded_since.items():
        assert v in p.ledger.created_vlans and v not in needed and since <= w.now
    for pv in p.pending_vlans:  # what the status shows as waiting is not due yet
        assert pv.vlan not in p.delete_vlans and pv.vlan not in needed
        assert pv.held or (pv.due is not None and pv.due > w.now)


@PROPERTY
@given(worlds())
def test_removal_only_after_delay(w: World) -> None:
    p = run(w)
    delay = w.config.switch.remove_delay
    for iface, vlan in removals(p):
        since = w.ledger.entries[(iface, vlan)].unneeded_since
        start = w.now if since is None else since
        assert w.now - start >= delay
    # And what is pending is not due yet, or is held for a stated reason.
    for pend in p.pending:
        assert pend.held or (pend.due is not None and pend.due > w.now) or w.config.switch.dry_run


@PROPERTY
@given(worlds(), st.floats(1, 1000), st.floats(0, 1))
def test_continuous_non_need_clock(w: World, delay: float, frac: float) -> None:
    """A VLAN that stops being needed is removed exactly when remove_delay has passed."""
    w = with_config(w, remove_delay=delay, dry_run=False)
    first = run(w)
    applied = simulate(w.facts, first)
    # Everything stops being needed: all VMs off, no VMkernel adapters, no migrations.
    quiet = Inventory(
        tuple(
            replace(
                s,
                vms={k: replace(vm, powered_on=False) for k, vm in s.vms.items()},
                hosts={k: replace(h, vmknics=()) for k, h in s.hosts.items()},
                migrations={},
            )
            for s in w.inventory.sessions
        )
    )
    # Entries needed at the first plan: their clock must start when the need goes.
    fresh = {k for k, e in first.ledger.entries.items() if e.unneeded_since is None}
    t1 = w.now + 1
    second = plan(quiet, applied, w.config, first.ledger, t1)
    running = {(pd.interface, pd.vlan) for pd in second.pending if pd.due is not None}
    for pd in second.pending:
        if (pd.interface, pd.vlan) in fresh and pd.due is not None:
            assert pd.since == t1 and pd.due == t1 + delay
    assert not set(removals(second)) & fresh  # delay >= 1: not at once
    applied2 = simulate(applied, second)
    t2 = t1 + delay * frac * 0.999
    third = plan(quiet, applied2, w.config, second.ledger, t2)
    for iface, vlan in removals(third):
        since = second.ledger.entries[(iface, vlan)].unneeded_since
        assert since is not None and t2 - since >= delay
    assert not set(removals(third)) & fresh & running
    applied3 = simulate(applied2, third)
    fourth = plan(quiet, applied3, w.config, third.ledger, t1 + delay)
    assert fresh & running <= set(removals(fourth))


@PROPERTY
@given(worlds())
def test_dry_run_plans_nothing_to_apply(w: World) -> None:
    p = run(with_config(w, dry_run=True))
    assert p.empty()
    assert not p.changes and not p.create_vlans and not p.delete_vlans
    # ... but it still reports what it would do.
    real = run(with_config(w, dry_run=False))
    would_add = {(x.interface, v) for x in p.withheld for v in x.add if x.interface}
    assert set(additions(real)) <= would_add


@PROPERTY
@given(worlds())
def test_autovlan_false_plans_nothing_for_that_session(w: World) -> None:
    p = run(w)
    for iface, vlan in additions(p):
        assert any(
            w.config.session(r.session).autovlan  # type: ignore[union-attr]
            for r in p.add_reasons[(iface, vlan)]
        )
    for iface, vlan in removals(p):
        for name in w.ledger.entries[(iface, vlan)].sessions:
            scfg = w.config.session(name)
            assert scfg is None or scfg.autovlan
    off = replace(w.config, sessions=tuple(replace(s, autovlan=False) for s in w.config.sessions))
    p_off = plan(w.inventory, w.facts, off, w.ledger, w.now)
    assert not additions(p_off) and not p_off.create_vlans


@PROPERTY
@given(worlds())
def test_port_channel_members_are_never_touched(w: World) -> None:
    p = run(w)
    touched = {c.interface for c in p.changes}
    assert not touched & set(PO_MEMBERS)
    for link in p.links:
        port = link.neighbor.split()[1] if link.neighbor else ""
        if port in PO_MEMBERS:
            assert link.interface in ("", PO)
            if PO in w.config.switch.interfaces:
                assert link.interface == PO


@PROPERTY
@given(worlds())
def test_uplinks_carry_the_union_of_edge_needs(w: World) -> None:
    p = run(w)
    after = simulate(w.facts, p)
    edge_needed = VlanSet.union_of(
        VlanSet(v for v, rs in view.needed.items() if any(_active(w, r.session) for r in rs))
        for name, view in p.interfaces.items()
        if view.role == "edge"
    )
    for uplink in w.config.switch.uplinks:
        view = p.interfaces[uplink]
        if view.note or w.config.switch.dry_run:
            continue
        assert edge_needed <= after.interfaces[uplink].allowed
        for c in p.changes:
            if c.interface == uplink:
                assert c.add <= edge_needed


def _active(w: World, session: str) -> bool:
    scfg = w.config.session(session)
    return scfg is not None and scfg.autovlan


@PROPERTY
@given(worlds())
def test_vlan_zero_and_invalid_specs_add_nothing(w: World) -> None:
    def untag(s: SessionInventory) -> SessionInventory:
        hosts = {
            k: replace(
                h, portgroups=tuple(replace(pg, vlan=VlanSpec.untagged()) for pg in h.portgroups)
            )
            for k, h in s.hosts.items()
        }
        dv = {k: replace(pg, vlan=VlanSpec.invalid("x")) for k, pg in s.dv_portgroups.items()}
        return replace(s, hosts=hosts, dv_portgroups=dv)

    p = plan(
        Inventory(tuple(untag(s) for s in w.inventory.sessions)), w.facts, w.config, w.ledger, w.now
    )
    assert not additions(p) and not p.create_vlans
    assert all(not view.needed for view in p.interfaces.values())


@PROPERTY
@given(worlds())
def test_every_need_comes_from_a_portgroup_carrying_it(w: World) -> None:
    """Trunk portgroups add their (clipped) ranges; single and PVLAN specs their ids."""
    p = run(w)
    for view in p.interfaces.values():
        for vlan, reasons in view.needed.items():
            for r in reasons:
                if r.kind == "uplink":
                    continue
                inv = w.inventory.session(r.session)
                assert inv is not None
                specs = [pg.vlan for pg in inv.dv_portgroups.values() if pg.name == r.portgroup]
                host = inv.hosts[r.host_id]
                specs += [pg.vlan for pg in host.portgroups if pg.name == r.portgroup]
                assert any(vlan in s.vlans and s.kind != VlanKind.NONE for s in specs)


def _needs(p: Plan) -> dict[str, VlanSet]:
    return {name: VlanSet(view.needed) for name, view in p.interfaces.items()}


@PROPERTY
@given(worlds())
def test_vmkernel_adapters_count_like_powered_on_vms(w: World) -> None:
    """Replacing every VMkernel adapter by a powered-on VM on the same portgroup and host
    changes no interface's needs."""

    def as_vms(s: SessionInventory) -> SessionInventory:
        vms = dict(s.vms)
        for host in s.hosts.values():
            for vmk in host.vmknics:
                moid = f"vm-for-{host.moid}-{vmk.device}"
                nic = VNic(4000, "Network adapter 1", vmk.network)
                vms[moid] = Vm(moid, moid, True, host.moid, (nic,))
        hosts = {k: replace(h, vmknics=()) for k, h in s.hosts.items()}
        return replace(s, vms=vms, hosts=hosts)

    before = run(w)
    converted = Inventory(tuple(as_vms(s) for s in w.inventory.sessions))
    after = plan(converted, w.facts, w.config, w.ledger, w.now)
    assert _needs(before) == _needs(after)


@PROPERTY
@given(worlds())
def test_powered_off_vms_and_disconnected_nics_add_nothing(w: World) -> None:
    def quiet(s: SessionInventory) -> SessionInventory:
        vms = {
            k: replace(vm, nics=tuple(replace(n, connected=False) for n in vm.nics))
            if i % 2
            else replace(vm, powered_on=False)
            for i, (k, vm) in enumerate(sorted(s.vms.items()))
        }
        hosts = {k: replace(h, vmknics=()) for k, h in s.hosts.items()}
        return replace(s, vms=vms, hosts=hosts)

    p = plan(
        Inventory(tuple(quiet(s) for s in w.inventory.sessions)), w.facts, w.config, w.ledger, w.now
    )
    assert not additions(p) and not p.create_vlans
    assert all(not needed for needed in _needs(p).values())


@PROPERTY
@given(worlds())
def test_idempotent(w: World) -> None:
    first = run(w)
    after = simulate(w.facts, first)
    ledger = replace(first.ledger, trusted=True) if w.ledger.trusted else first.ledger
    second = plan(w.inventory, after, w.config, ledger, w.now)
    assert second.empty(), (second.changes, second.create_vlans, second.delete_vlans)
    assert second.ledger.entries == ledger.entries


@PROPERTY
@given(worlds())
def test_untrusted_ledger_removes_nothing(w: World) -> None:
    p = plan(w.inventory, w.facts, w.config, replace(w.ledger, trusted=False), w.now)
    assert not removals(p) and not p.delete_vlans


@PROPERTY
@given(worlds())
def test_static_vlans_survive_any_plan(w: World) -> None:
    """Whatever is on a port and not in the ledger is still there after the plan."""
    p = run(w)
    after = simulate(w.facts, p)
    for name, iface in w.facts.interfaces.items():
        static = iface.allowed - w.ledger.owned(name)
        assert static <= after.interfaces[name].allowed


@PROPERTY
@given(worlds())
def test_restart_does_not_remove_and_readd(w: World) -> None:
    """After a restart (sessions not yet synced, same ledger) nothing is removed; once
    resynced with the same inventory, nothing that was kept is removed and re-added."""
    first = run(w)
    after = simulate(w.facts, first)
    ledger = first.ledger
    restarting = Inventory(tuple(SessionInventory(s.name) for s in w.inventory.sessions))
    during = plan(restarting, after, w.config, ledger, w.now + 1)
    assert not removals(during)
    resynced = plan(w.inventory, simulate(after, during), w.config, during.ledger, w.now + 1)
    assert not additions(resynced)


def test_empty_world_plans_nothing() -> None:
    from eos_vmtracer.config import Config, SwitchConfig
    from eos_vmtracer.model import SwitchFacts

    p = plan(
        Inventory(),
        SwitchFacts("leaf1"),
        Config(switch=SwitchConfig(interfaces=("Ethernet1",))),
        Ledger(),
        0.0,
    )
    assert p.empty() and not p.pending


@PROPERTY
@given(worlds())
def test_need_stops_the_removal_clock(w: World) -> None:
    """An owned VLAN needed again loses its clock: a later non-need starts from zero."""
    p = run(w)
    for (iface, vlan), entry in p.ledger.entries.items():
        view = p.interfaces.get(iface)
        if view is None or view.note or vlan not in view.needed:
            continue
        assert entry.unneeded_since is None, f"{iface} {vlan} needed but its clock runs"
    assert {(pd.interface, pd.vlan) for pd in p.pending}.isdisjoint(
        (name, v) for name, view in p.interfaces.items() for v in view.needed
    )


@PROPERTY
@given(worlds())
def test_applied_equals_planning_again(w: World) -> None:
    """The cheap post-apply view (planner.applied) is what planning again would say."""
    from eos_vmtracer.planner import applied

    first = run(w)
    after = simulate(w.facts, first)
    again = plan(w.inventory, after, w.config, first.ledger, w.now)
    cheap = applied(first, after)
    assert cheap.interfaces == again.interfaces
    assert cheap.pending == again.pending
    assert cheap.pending_vlans == again.pending_vlans
    assert cheap.empty() and cheap.next_due == again.next_due
