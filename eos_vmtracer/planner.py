"""The planner: (inventory, switch facts, config, ledger, clock) -> plan.

What this module is for: the whole desired state, recomputed from scratch on
every reconcile, compared with what the switch has, giving the changes to make
and a reason for each. Every safety rule of the product lives here:

- only VLANs the ledger says the agent added are ever removed;
- nothing outside the allowed VLANs of the sessions concerned is added or removed;
- nothing caused by a session that is down or not yet synchronised, or by a host
  that is disconnected, is removed;
- a removal happens only after ``remove_delay`` seconds of continuous non-need;
- ``dry_run`` and ``autovlan = false`` withhold everything they would change;
- a Port-Channel member's needs land on the Port-Channel; uplinks carry the union
  of what the edge ports need, under the same rules;
- applying a plan and planning again gives an empty plan.

It must never do I/O, read the clock, start threads or touch a foreign object:
everything it knows comes in through its arguments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal, Mapping, Optional

from eos_vmtracer.config import Config, SessionConfig
from eos_vmtracer.ledger import Ledger, Ownership
from eos_vmtracer.model import (
    Host,
    Inventory,
    NetworkRef,
    SessionInventory,
    SwitchFacts,
    SwitchInterface,
    VlanSpec,
)
from eos_vmtracer.neighbors import SwitchIdentity
from eos_vmtracer.static_hosts import StaticHosts
from eos_vmtracer.static_hosts import describe as describe_static
from eos_vmtracer.timefmt import wall_clock
from eos_vmtracer.vlans import VlanSet, canonical_interface, interface_sort_key, vlan_name

# -- the plan --------------------------------------------------------------------------

ReasonKind = Literal["vm", "vmk", "migration", "uplink"]
"""What needs a VLAN: a VM's NIC, a VMkernel adapter, a VM on its way to this host
(vMotion), or an edge port whose needs an uplink carries."""
Role = Literal["edge", "uplink"]
"""A managed interface faces hosts (``edge``) or carries what the edge ports need."""


@dataclass(frozen=True)
class Reason:
    """Why a VLAN is needed on an interface: one VM NIC, VMkernel adapter or edge port."""

    kind: ReasonKind
    session: str
    host: str = ""  # host name
    host_id: str = ""  # host moid
    subject: str = ""  # VM name, vmk device, or the edge interface (uplink)
    subject_id: str = ""  # VM moid
    nic: str = ""  # vNIC label
    portgroup: str = ""
    vmnic: str = ""

    def text(self) -> str:
        """One line for logs, history and ``explain``."""
        if self.kind == "uplink":
            return f"uplink: carries what {self.subject} needs"
        where = f"on {self.host}" + (f" {self.vmnic}" if self.vmnic else "")
        pg = f" portgroup '{self.portgroup}'" if self.portgroup else ""
        if self.kind == "vmk":
            return f"VMkernel {self.subject} {where}{pg} [{self.session}]"
        if self.kind == "migration":
            return f"VM {self.subject} migrating to {self.host}{pg} [{self.session}]"
        nic = f" ({self.nic})" if self.nic else ""
        return f"VM {self.subject}{nic} {where}{pg} [{self.session}]"


@dataclass(frozen=True)
class InterfaceChange:
    """VLANs to add to and remove from one trunk's allowed list."""

    interface: str
    add: VlanSet = field(default_factory=VlanSet.none)
    remove: VlanSet = field(default_factory=VlanSet.none)


@dataclass(frozen=True)
class Pending:
    """A VLAN the agent owns on a port and no longer needs: removed once due."""

    interface: str
    vlan: int
    since: Optional[float]  # start of non-need; None when held before the clock started
    due: Optional[float]  # when it will be removed; None while held
    held: str = ""  # why it cannot be removed now ("" when the clock simply runs)


@dataclass(frozen=True)
class PendingVlan:
    """A VLAN the agent created that nothing needs or uses any more: deleted once due."""

    vlan: int
    since: Optional[float]  # start of non-need; None when held before the clock started
    due: Optional[float]  # when it will be deleted; None while held
    held: str = ""  # why it cannot be deleted now ("" when the clock simply runs)


@dataclass(frozen=True)
class Withheld:
    """A change the planner would make but may not (dry run, autovlan off, ...)."""

    interface: str  # "" for VLAN creation/deletion
    add: VlanSet
    remove: VlanSet
    why: str


@dataclass(frozen=True)
class Link:
    """A host's vmnic and the local port it is cabled to (or why it maps to none)."""

    session: str
    host_id: str
    host: str
    vmnic: str
    neighbor: str  # "devId portId (cdp)" or ""
    interface: str  # the managed port it maps to, or ""
    note: str = ""


@dataclass(frozen=True)
class InterfaceView:
    """What the planner knows and decided about one managed interface."""

    name: str
    role: Role
    mode: str
    allowed: VlanSet  # as the switch has it now
    static: VlanSet  # allowed and not owned: the operator's
    owned: VlanSet  # allowed and owned by the agent
    needed: Mapping[int, tuple[Reason, ...]]  # required VLANs and who requires them
    excluded: Mapping[int, tuple[str, ...]]  # needed but kept off, and why
    note: str = ""  # e.g. "not a trunk": the planner leaves it alone


@dataclass(frozen=True)
class Plan:
    """The result of one planning pass."""

    changes: tuple[InterfaceChange, ...] = ()
    create_vlans: Mapping[int, str] = field(default_factory=dict)  # VLAN -> name
    delete_vlans: VlanSet = field(default_factory=VlanSet.none)
    add_reasons: Mapping[tuple[str, int], tuple[Reason, ...]] = field(default_factory=dict)
    remove_reasons: Mapping[tuple[str, int], str] = field(default_factory=dict)
    repairs: frozenset[tuple[str, int]] = frozenset()  # adds that put back a removed VLAN
    pending: tuple[Pending, ...] = ()
    pending_vlans: tuple[PendingVlan, ...] = ()  # created VLANs waiting to be deleted
    withheld: tuple[Withheld, ...] = ()
    interfaces: Mapping[str, InterfaceView] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    notes: tuple[str, ...] = ()
    ledger: Ledger = field(default_factory=Ledger)  # the ledger once the plan is applied
    next_due: Optional[float] = None  # earliest time a pending removal falls due

    def empty(self) -> bool:
        """True when there is nothing to apply."""
        return not self.changes and not self.create_vlans and not self.delete_vlans


# -- neighbours -> ports ---------------------------------------------------------------


@dataclass
class _Ports:
    """Maps (session, host, vmnic) to the managed port it is cabled to."""

    links: list[Link]
    # (session, host moid, vmnic) -> interfaces (one when heard; static_hosts may name more)
    by_nic: dict[tuple[str, str, str], tuple[str, ...]]
    notes: list[str]


def _resolve_ports(
    inventory: Inventory, facts: SwitchFacts, config: Config, edge: frozenset[str]
) -> _Ports:
    ident = SwitchIdentity.of(facts, config.switch.hostname)
    result = _Ports([], {}, [])
    table = StaticHosts(config.switch.static_hosts)
    for session in inventory.sessions:
        for host in session.hosts.values():
            # Until a host was asked what it hears, static_hosts waits (heard wins).
            statics = table.ports(host.name) if host.moid not in session.unsettled else ()
            for nic in host.nics:
                key = (session.name, host.moid, nic.device)
                for neighbor in nic.neighbors:
                    if not ident.matches(neighbor.device_id):
                        continue
                    heard = f"{neighbor.device_id} {neighbor.port_id} ({neighbor.protocol})"
                    target, note = _target_port(neighbor.port_id, facts, edge)
                    result.links.append(
                        Link(session.name, host.moid, host.name, nic.device, heard, target, note)
                    )
                    if target:
                        result.by_nic[key] = (target,)
                    break
                if nic.neighbors:
                    continue  # whatever it hears (this switch or another) wins over static_hosts
                for port, pattern in statics:
                    target, note = _target_port(port, facts, edge)
                    result.links.append(
                        Link(
                            session.name,
                            host.moid,
                            host.name,
                            nic.device,
                            describe_static(pattern),
                            target,
                            note,
                        )
                    )
                    if target and target not in result.by_nic.get(key, ()):
                        result.by_nic[key] = (*result.by_nic.get(key, ()), target)
    return result


def _target_port(port_id: str, facts: SwitchFacts, edge: frozenset[str]) -> tuple[str, str]:
    try:
        name = canonical_interface(port_id)
    except ValueError:
        return "", f"port {port_id!r} is not an interface name"
    iface = facts.interfaces.get(name)
    if iface is None:
        return "", f"{name} does not exist on this switch"
    if iface.channel:
        if iface.channel in edge:
            return iface.channel, ""
        return "", f"{name} is a member of {iface.channel}, which is not enabled"
    if name in edge:
        return name, ""
    return "", f"{name} is not enabled for VM Tracer"


# -- needs -----------------------------------------------------------------------------


def _spec_and_uplinks(
    session: SessionInventory, host: Host, ref: NetworkRef
) -> tuple[Optional[VlanSpec], tuple[str, ...], str]:
    """The VLAN spec of ``ref`` on ``host`` and the vmnics it leaves by."""
    if ref.distributed:
        pg = session.dv_portgroups.get(ref.key)
        if pg is None:
            return None, (), f"distributed portgroup {ref.key}"
        sw = host.switch(pg.switch)
        return pg.vlan, (sw.uplinks if sw else ()), pg.name
    spg = host.portgroup(ref.key)
    if spg is None:
        return None, (), ref.key
    if spg.uplinks is not None:
        return spg.vlan, spg.uplinks, spg.name
    sw = host.switch(spg.switch)
    return spg.vlan, (sw.uplinks if sw else ()), spg.name


@dataclass
class _Needs:
    # interface -> vlan -> reasons, for the VLANs in the session's allowed range
    need: dict[str, dict[int, list[Reason]]]
    # interface -> vlan -> why it is kept off (outside allowed VLANs)
    excluded: dict[str, dict[int, list[str]]]


def _add_need(
    needs: _Needs,
    ports: _Ports,
    session: SessionInventory,
    allowed: VlanSet,
    host: Host,
    ref: NetworkRef,
    who: tuple[ReasonKind, str, str, str],
) -> None:
    """Record what the NIC ``who`` (kind, name, id, adapter label) on ``host`` needs."""
    spec, uplinks, pg_name = _spec_and_uplinks(session, host, ref)
    if spec is None or not spec.vlans:
        return
    kind, subject, subject_id, label = who
    inside = spec.vlans & allowed
    outside = spec.vlans - allowed
    for vmnic in uplinks:
        reason = Reason(
            kind, session.name, host.name, host.moid, subject, subject_id, label, pg_name, vmnic
        )
        for iface in ports.by_nic.get((session.name, host.moid, vmnic), ()):
            per_vlan = needs.need.setdefault(iface, {})
            for vlan in inside:
                per_vlan.setdefault(vlan, []).append(reason)
            if outside:
                why = f"outside allowed_vlans of {session.name} ({reason.text()})"
                kept_off = needs.excluded.setdefault(iface, {})
                for vlan in outside:
                    kept_off.setdefault(vlan, []).append(why)


def _session_needs(
    session: SessionInventory, allowed: VlanSet, ports: _Ports, needs: _Needs
) -> None:
    # Only hosts cabled to this switch can need anything here: the VMs elsewhere (most
    # of a large vCenter) cost one set lookup each.
    cabled = {h for (s, h, _) in ports.by_nic if s == session.name}
    for host in session.hosts.values():
        if host.moid not in cabled:
            continue
        for vmk in host.vmknics:
            who: tuple[ReasonKind, str, str, str] = ("vmk", vmk.device, "", "")
            _add_need(needs, ports, session, allowed, host, vmk.network, who)
    for vm in session.vms.values():
        if not vm.powered_on:
            continue
        placements: list[tuple[ReasonKind, str]] = []
        if vm.host in cabled:
            placements.append(("vm", vm.host))
        migration = session.migrations.get(vm.moid)
        if migration and migration.dest_host != vm.host and migration.dest_host in cabled:
            placements.append(("migration", migration.dest_host))
        for kind, host_id in placements:
            where = session.hosts.get(host_id)
            if where is None:
                continue
            for nic in vm.nics:
                if nic.connected and nic.network is not None:
                    who = (kind, vm.name, vm.moid, nic.label)
                    _add_need(needs, ports, session, allowed, where, nic.network, who)


# -- the plan itself -------------------------------------------------------------------


def _vlan_name(vlan: int, reasons: Iterable[Reason]) -> str:
    names = sorted({r.portgroup for r in reasons if r.portgroup})
    return vlan_name(names[0] if names else "") or f"vmtracer-{vlan}"


@dataclass
class _Context:
    inventory: Inventory
    facts: SwitchFacts
    config: Config
    ledger: Ledger
    now: float

    def unsynchronised(self, sessions: Iterable[SessionConfig]) -> str:
        """The hold while any of ``sessions`` is not synchronised ("" when all are): what
        it has not reported yet may need the VLAN, so nothing it may need is removed."""
        for scfg in sessions:
            inv = self.inventory.session(scfg.name)
            if inv is None or not inv.synced:
                state = inv.state.value if inv is not None else "not started"
                return f"session {scfg.name} is {state}, not synchronised"
        return ""

    def vlan_hold_reason(self) -> str:
        """Why no VLAN the agent created may be deleted now ("" if they may): any
        session may need it, so every configured session must be synchronised."""
        return self.unsynchronised(self.config.sessions)

    def hold_reason(self, entry: Ownership) -> str:
        """Why an owned, unneeded VLAN may not be removed now ("" if it may)."""
        if not self.ledger.trusted:
            return "the ledger was reset; removing nothing until it has been rewritten"
        configured = [self.config.session(s) for s in sorted(entry.sessions)]
        live = [s for s in configured if s is not None]
        if not live:
            # Caused by sessions no longer configured: removable only once every
            # configured session is synchronised (one of them may need it now).
            if entry.vlan not in self.config.managed_vlans():
                return "outside every session's allowed VLANs"
            held = self.unsynchronised(self.config.sessions)
            if held:
                return held
        for scfg in live:
            if entry.vlan not in scfg.allowed_vlans:
                return f"outside allowed_vlans of session {scfg.name}"
            if not scfg.autovlan:
                return f"session {scfg.name} has autovlan = false"
            held = self.unsynchronised([scfg])
            if held:
                return held
        for qualified in sorted(entry.hosts):
            sname, _, moid = qualified.partition("/")
            inv = self.inventory.session(sname)
            host = inv.hosts.get(moid) if inv is not None else None
            if host is not None and not host.connected:
                return f"host {host.name} is disconnected"
        return ""


def _uplink_needs(needs: _Needs, uplinks: Iterable[str]) -> None:
    """Uplinks carry the union of what the edge ports need.

    One reason per edge port, session and host, so that ownership holds (session
    down, host disconnected) apply to the uplinks exactly as to the edge ports.
    """
    edge_reasons: dict[int, dict[tuple[str, str, str], Reason]] = {}
    for edge_port in sorted(needs.need, key=interface_sort_key):
        for vlan, reasons in needs.need[edge_port].items():
            per_vlan = edge_reasons.setdefault(vlan, {})
            for r in reasons:
                key = (edge_port, r.session, r.host_id)
                if key not in per_vlan:
                    per_vlan[key] = Reason(
                        "uplink", r.session, r.host, r.host_id, subject=edge_port
                    )
    for uplink in uplinks:
        needs.need[uplink] = {v: list(rs.values()) for v, rs in edge_reasons.items()}


@dataclass
class _Builder:
    """What the per-interface decisions accumulate into."""

    changes: list[InterfaceChange] = field(default_factory=list)
    add_reasons: dict[tuple[str, int], tuple[Reason, ...]] = field(default_factory=dict)
    remove_reasons: dict[tuple[str, int], str] = field(default_factory=dict)
    repairs: set[tuple[str, int]] = field(default_factory=set)
    pending: list[Pending] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    views: dict[str, InterfaceView] = field(default_factory=dict)
    entries: dict[tuple[str, int], Ownership] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    provisioned: dict[int, list[Reason]] = field(default_factory=dict)  # needed on usable ports


def plan(
    inventory: Inventory,
    facts: SwitchFacts,
    config: Config,
    ledger: Ledger,
    now: float,
) -> Plan:
    """Compute the plan. Pure: the same arguments always give the same plan.

    With ``dry_run`` the plan is computed as if for real (:func:`live_plan`), then
    withheld as a whole (:func:`_withheld_as_a_whole`): this is the one place
    ``dry_run`` is read.
    """
    live = live_plan(inventory, facts, config, ledger, now)
    if config.switch.dry_run:
        return _withheld_as_a_whole(live, ledger, config, now)
    return live


def live_plan(
    inventory: Inventory,
    facts: SwitchFacts,
    config: Config,
    ledger: Ledger,
    now: float,
) -> Plan:
    """The plan as the agent would apply it, whatever ``dry_run`` says."""
    ctx = _Context(inventory, facts, config, ledger, now)
    edge = frozenset(config.switch.interfaces)
    ports = _resolve_ports(inventory, facts, config, edge)
    out = _Builder(notes=[f"{lk.host} {lk.vmnic}: {lk.note}" for lk in ports.links if lk.note])

    active = _Needs({}, {})  # sessions with autovlan = true
    passive = _Needs({}, {})  # sessions with autovlan = false: reported, never applied
    for session in inventory.sessions:
        scfg = config.session(session.name)
        if scfg is not None:
            _session_needs(session, scfg.allowed_vlans, ports, active if scfg.autovlan else passive)
    for needs in (active, passive):
        _uplink_needs(needs, config.switch.uplinks)

    by_iface = ledger.by_interface()
    managed: list[tuple[str, Role]] = [(n, "edge") for n in config.switch.interfaces]
    managed += [(n, "uplink") for n in config.switch.uplinks]
    for name, role in managed:
        _decide_interface(ctx, out, name, role, by_iface.get(name, {}), active, passive)

    # Entries on interfaces no longer managed: still ours, never touched.
    managed_names = {n for n, _ in managed}
    for key, entry in ledger.entries.items():
        if key[0] not in managed_names:
            out.entries[key] = entry

    vlan_changes = _vlan_changes(ctx, out)
    create, delete, created = vlan_changes.create, vlan_changes.delete, vlan_changes.created

    dues = [p.due for p in out.pending if p.due is not None and not p.held]
    dues += [p.due for p in vlan_changes.pending if p.due is not None]
    return Plan(
        changes=tuple(out.changes),
        create_vlans=create,
        delete_vlans=delete,
        add_reasons=out.add_reasons,
        remove_reasons=out.remove_reasons,
        repairs=frozenset(out.repairs),
        pending=tuple(out.pending),
        pending_vlans=tuple(vlan_changes.pending),
        withheld=tuple(out.withheld),
        interfaces=out.views,
        links=tuple(ports.links),
        notes=tuple(out.notes),
        ledger=Ledger(
            entries=out.entries,
            created_vlans=created,
            vlans_unneeded_since=vlan_changes.unneeded_since,
            trusted=ledger.trusted,
        ),
        next_due=min(dues) if dues else None,
    )


def _decide_interface(
    ctx: _Context,
    out: _Builder,
    name: str,
    role: Role,
    owned_entries: Mapping[int, Ownership],
    active: _Needs,
    passive: _Needs,
) -> None:
    """Decide what to add to and remove from one managed interface."""
    iface = ctx.facts.interfaces.get(name)
    need = {v: tuple(rs) for v, rs in active.need.get(name, {}).items()}
    passive_need = {v: tuple(rs) for v, rs in passive.need.get(name, {}).items()}
    excluded: dict[int, list[str]] = defaultdict(list)
    for needs in (active, passive):
        for v, whys in needs.excluded.get(name, {}).items():
            excluded[v].extend(whys)
    for v, rs in passive_need.items():
        if v not in need:
            excluded[v].append(f"session {rs[0].session} has autovlan = false")
    kept_off = {v: tuple(w) for v, w in excluded.items()}

    note = _unmanageable(iface)
    if iface is None or note:
        # Leave it alone entirely, ownership included.
        out.entries.update(((name, v), e) for v, e in owned_entries.items())
        allowed = iface.allowed if iface else VlanSet.none()
        mode = iface.mode if iface else "absent"
        out.views[name] = InterfaceView(
            name, role, mode, allowed, allowed, VlanSet.none(), need, kept_off, note
        )
        if need:
            out.notes.append(f"{name} {note}; VLANs {VlanSet(need)} not provisioned")
        return

    current = iface.allowed
    needed = VlanSet(need)
    add = needed - current
    for v, rs in need.items():
        out.provisioned.setdefault(v, []).extend(rs)
    remove = _decide_removals(
        ctx, out, name, owned_entries, current, needed | VlanSet(passive_need), need
    )

    for v in add:
        out.add_reasons[(name, v)] = need[v]
        previous = owned_entries.get(v)
        if previous is not None:
            out.repairs.add((name, v))  # drift: someone removed what we still need
        added_at = previous.added if previous is not None else ctx.now
        fresh = Ownership(name, v, added_at)
        out.entries[(name, v)] = _refresh(fresh, need[v])
    if add or remove:
        out.changes.append(InterfaceChange(name, add, remove))
    passive_add = VlanSet(passive_need) - current - needed
    if passive_add:
        sessions = sorted({passive_need[v][0].session for v in passive_add})
        why = f"autovlan = false ({', '.join(sessions)})"
        out.withheld.append(Withheld(name, passive_add, VlanSet.none(), why))
    owned = VlanSet(v for v in owned_entries if v in current)
    out.views[name] = InterfaceView(
        name, role, iface.mode, current, current - owned, owned, {**passive_need, **need}, kept_off
    )


def _decide_removals(
    ctx: _Context,
    out: _Builder,
    name: str,
    owned_entries: Mapping[int, Ownership],
    current: VlanSet,
    keep: VlanSet,
    need: Mapping[int, tuple[Reason, ...]],
) -> VlanSet:
    """Owned VLANs on ``name``: keep, start or continue their clock, or remove them."""
    delay = ctx.config.switch.remove_delay
    remove: list[int] = []
    for v, entry in owned_entries.items():
        if v not in current:
            continue  # gone: re-added below if needed (ownership carried over), else forgotten
        if v in keep:
            out.entries[(name, v)] = _refresh(entry, need.get(v, ()))
            continue
        held = ctx.hold_reason(entry)
        since = entry.unneeded_since
        if held:
            # The clock neither starts nor resets while held.
            out.entries[(name, v)] = entry
            out.pending.append(Pending(name, v, since, None, held))
            continue
        since = ctx.now if since is None else since
        due = since + delay
        if ctx.now >= due:
            remove.append(v)
            out.remove_reasons[(name, v)] = (
                f"unneeded since {wall_clock(since)} (remove_delay {delay:g}s)"
            )
            continue
        out.entries[(name, v)] = replace(entry, unneeded_since=since)
        out.pending.append(Pending(name, v, since, due))
    return VlanSet(remove)


def _unmanageable(iface: Optional[SwitchInterface]) -> str:
    if iface is None:
        return "does not exist on this switch"
    if iface.channel:
        return f"is a member of {iface.channel}; enable {iface.channel} instead"
    if iface.mode != "trunk":
        return f"is not a trunk (switchport mode {iface.mode})"
    return ""


def _refresh(entry: Ownership, reasons: Iterable[Reason]) -> Ownership:
    """The entry as needed now: its causes are the current reasons, its clock stopped.

    Only reasons from sessions with autovlan on are passed in as causes; a VLAN
    kept solely by an autovlan-off session keeps the causes that put it there.
    """
    named = frozenset(r.session for r in reasons)
    sessions = named or entry.sessions
    hosts = (
        frozenset(f"{r.session}/{r.host_id}" for r in reasons if r.host_id)
        if named
        else entry.hosts
    )
    if entry.unneeded_since is None and entry.sessions == sessions and entry.hosts == hosts:
        return entry  # as it was (the common case: no new copy at every reconcile)
    return replace(entry, sessions=sessions, hosts=hosts, unneeded_since=None)


@dataclass
class _VlanChanges:
    create: dict[int, str]
    delete: VlanSet
    created: dict[int, float]  # the ledger's created VLANs after the plan
    unneeded_since: dict[int, float]  # the ledger's clocks of created, unused VLANs
    pending: list[PendingVlan]  # of those, the ones only time (or a hold) keeps


def _vlan_changes(ctx: _Context, out: _Builder) -> _VlanChanges:
    """VLANs to create (needed, missing) and delete (created by us, then needed by no
    VM and used by nothing for ``remove_delay``).

    A needed VLAN that someone deleted is created again (drift), whether or not
    the trunk still lists it. A VLAN still needed is never deleted, even when no
    entry owns it: a trunk allowing every VLAN needs nothing added, so it owns
    nothing, yet the VLAN was created for its VMs. As for removals from a trunk,
    the clock of non-use neither starts nor runs while a session is not synchronised
    (any session may need the VLAN), and starts again when the VLAN is needed again.
    """
    cfg, facts, ledger, now = ctx.config, ctx.facts, ctx.ledger, ctx.now
    existing = facts.existing_vlans()
    created = {v: t for v, t in ledger.created_vlans.items() if v in existing}
    create: dict[int, str] = {}
    if cfg.switch.create_vlans:
        for v in sorted(out.provisioned):
            if v not in existing:
                create[v] = _vlan_name(v, out.provisioned[v])
                created[v] = ledger.created_vlans.get(v, now)
    # Needed on any port the agent manages (even one it cannot provision: not a trunk).
    needed = VlanSet(out.provisioned) | VlanSet(
        v for view in out.views.values() for v in view.needed
    )
    clocks = {
        v: t for v, t in ledger.vlans_unneeded_since.items() if v in created and v not in needed
    }
    if not cfg.switch.create_vlans or not ledger.trusted:
        return _VlanChanges(create, VlanSet.none(), created, clocks, [])

    # What each interface will allow once the plan is applied.
    after = {name: iface.allowed for name, iface in facts.interfaces.items()}
    for change in out.changes:
        if change.interface in after:
            after[change.interface] = (after[change.interface] | change.add) - change.remove
    still_owned = VlanSet(v for (_, v) in out.entries)
    wanted = VlanSet(v for w in out.withheld for v in w.add) | VlanSet(create)
    wanted |= needed
    full = VlanSet.all()
    held = ctx.vlan_hold_reason()
    delay = cfg.switch.remove_delay
    delete: list[int] = []
    unneeded: dict[int, float] = {}
    pending: list[PendingVlan] = []
    for v in sorted(created):
        if v in wanted or v not in cfg.managed_vlans():
            continue  # needed (the clock starts over), or never the agent's to delete
        blocked = v in still_owned or any(
            (iface.mode == "access" and iface.access_vlan == v)
            or (iface.mode == "trunk" and after[name] != full and v in after[name])
            for name, iface in facts.interfaces.items()
        )
        since = clocks.get(v)
        if held:
            if since is not None:
                unneeded[v] = since  # the clock neither starts nor runs while held
            if not blocked:
                pending.append(PendingVlan(v, since, None, held))
            continue
        since = now if since is None else since
        if not blocked and now >= since + delay:
            delete.append(v)
            del created[v]
            continue
        unneeded[v] = since
        if not blocked:  # (an owned VLAN goes with its last port, when that is due)
            pending.append(PendingVlan(v, since, since + delay))
    return _VlanChanges(create, VlanSet(delete), created, unneeded, pending)


# -- dry run ------------------------------------------------------------------------------

DRY_RUN = "dry run"


def _withheld_as_a_whole(live: Plan, ledger: Ledger, config: Config, now: float) -> Plan:
    """``live`` with nothing to apply: every change it holds becomes a withheld one.

    The ledger records nothing that was not done: no VLAN added or created is
    owned, and what would have been removed or deleted stays owned (its clock
    runs on, shown as pending, held by the dry run). What does not change the
    switch (clocks, refreshed causes) is kept, so that turning ``dry_run`` off
    applies exactly what the dry run showed.
    """
    order = {name: n for n, name in enumerate((*config.switch.interfaces, *config.switch.uplinks))}
    withheld = [Withheld(c.interface, c.add, c.remove, DRY_RUN) for c in live.changes]
    withheld += [w for w in live.withheld if w.interface]  # autovlan = false, per interface
    withheld.sort(key=lambda w: order.get(w.interface, len(order)))  # stable: dry run first
    withheld += [w for w in live.withheld if not w.interface]
    if live.create_vlans:
        withheld.append(Withheld("", VlanSet(live.create_vlans), VlanSet.none(), "dry run: create"))
    if live.delete_vlans:
        withheld.append(Withheld("", VlanSet.none(), live.delete_vlans, "dry run: delete"))

    entries = dict(live.ledger.entries)
    pending = list(live.pending)
    delay = config.switch.remove_delay
    for c in live.changes:
        for v in c.add:  # not added: owned only if it was before (a repair)
            before = ledger.entries.get((c.interface, v))
            if before is None:
                entries.pop((c.interface, v), None)
            else:  # owned as before; needed, so its clock stops as in the live plan
                live_entry = live.ledger.entries.get((c.interface, v))
                since = before.unneeded_since if live_entry is None else live_entry.unneeded_since
                entries[(c.interface, v)] = replace(before, unneeded_since=since)
        for v in c.remove:  # not removed: still owned, its clock running
            entry = ledger.entries[(c.interface, v)]
            since = now if entry.unneeded_since is None else entry.unneeded_since
            entries[(c.interface, v)] = replace(entry, unneeded_since=since)
            pending.append(Pending(c.interface, v, since, since + delay, DRY_RUN))
    pending.sort(key=lambda p: order.get(p.interface, len(order)))
    created = {v: t for v, t in live.ledger.created_vlans.items() if v not in live.create_vlans}
    for v in live.create_vlans:  # not created: the agent's only if it was before (a re-create)
        if v in ledger.created_vlans:
            created[v] = ledger.created_vlans[v]
    unneeded = dict(live.ledger.vlans_unneeded_since)
    for v in live.delete_vlans:  # not deleted: still the agent's, its clock running
        created[v] = ledger.created_vlans.get(v, now)
        unneeded[v] = ledger.vlans_unneeded_since.get(v, now)
    return replace(
        live,
        changes=(),
        create_vlans={},
        delete_vlans=VlanSet.none(),
        remove_reasons={},
        pending=tuple(pending),
        withheld=tuple(withheld),
        ledger=replace(
            live.ledger, entries=entries, created_vlans=created, vlans_unneeded_since=unneeded
        ),
    )


# -- after application -------------------------------------------------------------------


def applied(plan_: Plan, facts: SwitchFacts) -> Plan:
    """``plan_`` as it stands once applied, ``facts`` being the switch read after the commit.

    The needs, reasons, timers and ledger are the plan's own; only the interface views
    are brought up to date, and nothing is left to apply. Equal to planning again over
    ``facts`` and ``plan_.ledger`` at the same time, without the cost of it.
    """
    owned_by = plan_.ledger.by_interface()
    views: dict[str, InterfaceView] = {}
    for name, view in plan_.interfaces.items():
        iface = facts.interfaces.get(name)
        if iface is None or view.note:
            views[name] = view
            continue
        owned = VlanSet(v for v in owned_by.get(name, {}) if v in iface.allowed)
        views[name] = replace(
            view, mode=iface.mode, allowed=iface.allowed, static=iface.allowed - owned, owned=owned
        )
    return replace(
        plan_,
        changes=(),
        create_vlans={},
        delete_vlans=VlanSet.none(),
        add_reasons={},
        remove_reasons={},
        repairs=frozenset(),
        interfaces=views,
    )


# -- simulation (for tests, ``plan`` output and idempotence) -----------------------------


def simulate(facts: SwitchFacts, plan_: Plan) -> SwitchFacts:
    """The switch facts as they will be once ``plan_`` has been applied."""
    interfaces = dict(facts.interfaces)
    for change in plan_.changes:
        iface = interfaces.get(change.interface)
        if iface is None:
            continue
        interfaces[change.interface] = replace(
            iface, allowed=(iface.allowed | change.add) - change.remove
        )
    vlans = dict(facts.vlans)
    vlans.update(plan_.create_vlans)
    for v in plan_.delete_vlans:
        vlans.pop(v, None)
    return replace(facts, interfaces=interfaces, vlans=vlans)
