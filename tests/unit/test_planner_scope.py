"""The scoping rule as a planner property, and the scope's own bookkeeping.

A scoped session reads VMs and full host configuration only for hosts heard on the
switch; when the scope grows or shrinks, the objects coming in arrive over a few long
polls. Until the last change is delivered the session reports ``synced = False``, and
the planner must remove nothing it caused: a partial picture is not a reason.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eos_vmtracer.model import Host, Inventory, SessionInventory
from eos_vmtracer.planner import plan
from eos_vmtracer.static_hosts import StaticHosts
from eos_vmtracer.vcenter.scope import Scope, static_in_scope
from tests.examples import examples
from tests.unit.planner_world import World, worlds

PROPERTY = settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def partial(draw: st.DrawFn, s: SessionInventory) -> SessionInventory:
    """``s`` as a scope change half delivered: some VMs not yet in, some hosts with
    only what discovery reads (no switches, portgroups or VMkernel adapters)."""
    vms = {m: v for m, v in s.vms.items() if draw(st.booleans())}
    hosts = {
        m: h if draw(st.booleans()) else replace(h, switches=(), portgroups=(), vmknics=())
        for m, h in s.hosts.items()
    }
    return replace(s, vms=vms, hosts=hosts, synced=False)


@PROPERTY
@given(worlds(), st.data())
def test_nothing_is_removed_while_a_scope_change_is_being_delivered(
    w: World, data: st.DataObject
) -> None:
    sessions = list(w.inventory.sessions)
    if not sessions:
        return
    i = data.draw(st.integers(0, len(sessions) - 1))
    delivering = sessions[i].name
    sessions[i] = partial(data.draw, sessions[i])
    p = plan(Inventory(tuple(sessions)), w.facts, w.config, w.ledger, w.now)
    for change in p.changes:
        for vlan in change.remove:
            entry = w.ledger.entries[(change.interface, vlan)]
            assert delivering not in entry.sessions, (
                f"{change.interface} VLAN {vlan} removed while {delivering} was being scoped"
            )
    assert not p.delete_vlans


def test_the_scope_is_delivered_only_after_a_complete_poll_begun_after_the_change() -> None:
    s = Scope()
    token = s.poll_started()
    s.poll_complete(token)
    assert s.delivered()  # nothing wanted, nothing listed
    s.want(frozenset({"host-1"}), {}, {})
    assert not s.delivered()  # wanted, not listed
    assert s.diff() == (["host-1"], [])
    early = s.poll_started()  # a long poll already running when the list changes
    s.applied(["host-1"], [])
    assert not s.delivered()
    s.poll_complete(early)
    assert not s.delivered() and s.behind(early)  # it may have missed what came in
    late = s.poll_started()
    assert not s.behind(late)
    s.poll_complete(late)
    assert s.delivered()


def test_vms_migrating_to_a_host_heard_here_are_listed_until_they_arrive() -> None:
    s = Scope()
    heard = frozenset({"host-1"})
    s.want(heard, {"vm-9": "host-1", "vm-8": "host-2"}, {"vm-9": "host-7", "vm-8": "host-7"})
    assert s.diff() == (["host-1", "vm-9"], [])  # vm-8 goes elsewhere
    assert s.kind("host-1") == "host" and s.kind("vm-9") == "vm"
    s.applied(["host-1", "vm-9"], [])
    s.want(heard, {"vm-9": "host-1"}, {"vm-9": "host-1"})  # arrived: its host brings it
    assert s.diff() == ([], ["vm-9"])
    s.applied([], ["vm-9"])
    s.want(frozenset(), {}, {})
    assert s.diff() == ([], ["host-1"])
    assert s.kind("host-1") == "host"


def test_hosts_named_by_static_hosts_are_in_scope_though_never_heard() -> None:
    hosts = {
        "host-1": Host("host-1", "blade1.lab"),
        "host-2": Host("host-2", "Blade2.LAB", connected=False),
        "host-3": Host("host-3", "esx3.lab"),
        "host-4": Host("host-4", ""),
    }
    table = StaticHosts({"Ethernet4": ("blade1*",), "Port-Channel10": ("BLADE2.lab",)})
    assert static_in_scope(hosts, table) == {"host-1", "host-2"}
    assert static_in_scope(hosts, StaticHosts({})) == frozenset()
    scope = Scope()
    scope.want(frozenset({"host-3"}) | static_in_scope(hosts, table), {}, {})
    assert scope.diff() == (["host-1", "host-2", "host-3"], [])
    assert {scope.kind(m) for m in scope.wanted()} == {"host"}
