"""The running agent's published state: built, written, read back, judged for staleness.

What this module is for: after every reconcile (and on a heartbeat) the agent
writes one JSON document, ``status.json`` in ``run_dir``, that ``vmtracer show``,
``vmtracer explain``, the EOS CLI extension and the EOS SDK status all read. Its
shape is :class:`~eos_vmtracer.status_types.StatusDocument` (version
``SCHEMA_VERSION``); the JSON Schema :data:`STATUS_SCHEMA` is derived from it, and the
README's ``--json`` section is checked against it.

It must never let a reader mistake a dead or stale agent for one with no data:
:func:`read_status` says which it is. It holds no secret (no password, no URL
credentials).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, cast

from eos_vmtracer import __version__
from eos_vmtracer.config import Config
from eos_vmtracer.fileio import parse_json, write_json_atomic
from eos_vmtracer.model import Inventory, SessionInventory, SwitchFacts, Vm
from eos_vmtracer.planner import Plan, Reason
from eos_vmtracer.schema import json_schema
from eos_vmtracer.status_types import (
    SCHEMA_VERSION,
    AgentSection,
    CdpPort,
    CdpSection,
    HostEntry,
    HostLink,
    Interface,
    LastReconcile,
    PendingVlan,
    Session,
    StatusDocument,
    SwitchSection,
    VmEntry,
    VmNic,
    Withheld,
)
from eos_vmtracer.status_types import Reason as ReasonJson
from eos_vmtracer.timefmt import wall_clock
from eos_vmtracer.vlans import VlanSet, interface_sort_key

__all__ = ["SCHEMA_VERSION", "STATUS_SCHEMA", "StatusDocument", "build", "read_status", "write"]
FILE_NAME = "status.json"
HEARTBEAT = 5.0  # seconds between status writes when nothing happens
STALE_AFTER = 4 * HEARTBEAT
MAX_REASONS = 20  # reasons listed per interface and VLAN; the rest are counted


@dataclass(frozen=True)
class AgentFacts:
    """What the agent itself knows and the planner does not."""

    pid: int
    started: float
    config: str
    last_reconcile: Mapping[str, Any]
    counters: Mapping[str, int]
    switch: Mapping[str, Any]  # reachable, error, since, model, version, hostname
    cdp: Mapping[str, Any]
    #: Per session name: scoped, hosts_heard, hints_last_minute (what each costs vCenter).
    session_figures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The ownership ledger on flash: trusted (false while a corrupt one was set aside
    #: and no fresh one written), error ("" or why it is untrusted or cannot be written),
    #: since (when that error began, or null).
    ledger: Mapping[str, Any] = field(
        default_factory=lambda: {"trusted": True, "error": "", "since": None}
    )


def vlan_text(s: VlanSet) -> str:
    """A VLAN list as the status document writes it: ``"10,20-30"``, ``""`` for none."""
    return s.format() if s else ""


def _reason_json(r: Reason) -> ReasonJson:
    return {
        "kind": r.kind,
        "session": r.session,
        "host": r.host,
        "subject": r.subject,
        "nic": r.nic,
        "portgroup": r.portgroup,
        "vmnic": r.vmnic,
        "text": r.text(),
    }


def _session_json(
    config: Config,
    inv: Optional[SessionInventory],
    name: str,
    figures: Optional[Mapping[str, Any]] = None,
) -> Session:
    scfg = config.session(name)
    assert scfg is not None
    fig = figures or {}
    return {
        "name": name,
        "url": scfg.url,
        "state": inv.state.value if inv else "connecting",
        "synced": bool(inv and inv.synced),
        "since": inv.since if inv else 0.0,
        "error": inv.error if inv else "",
        "hosts": len(inv.hosts) if inv else 0,
        "vms": len(inv.vms) if inv else 0,
        "allowed_vlans": vlan_text(scfg.allowed_vlans),
        "autovlan": scfg.autovlan,
        "scoped": bool(fig.get("scoped", False)),
        "hosts_heard": int(fig.get("hosts_heard", 0)),
        "hints_last_minute": int(fig.get("hints_last_minute", 0)),
    }


def _by_vlan(pending: PendingVlan) -> int:
    return pending["vlan"]


def _interfaces_json(plan: Plan) -> List[Interface]:
    pending_by: dict[str, List[PendingVlan]] = {}  # interface -> [{vlan, since, due, held}]
    for p in plan.pending:
        pending_by.setdefault(p.interface, []).append(
            {"vlan": p.vlan, "since": p.since, "due": p.due, "held": p.held}
        )
    out: List[Interface] = []
    for name in sorted(plan.interfaces, key=interface_sort_key):
        view = plan.interfaces[name]
        required = VlanSet(view.needed)
        out.append(
            {
                "name": name,
                "role": view.role,
                "mode": view.mode,
                "allowed": vlan_text(view.allowed),
                "static": vlan_text(view.static),
                "dynamic": vlan_text(view.owned),
                "required": vlan_text(required),
                "pending": sorted(pending_by.get(name, []), key=_by_vlan),
                "excluded": {str(v): list(w) for v, w in sorted(view.excluded.items())},
                "reasons": {
                    str(v): [_reason_json(r) for r in rs[:MAX_REASONS]]
                    for v, rs in sorted(view.needed.items())
                },
                "reasons_more": {
                    str(v): len(rs) - MAX_REASONS
                    for v, rs in sorted(view.needed.items())
                    if len(rs) > MAX_REASONS
                },
                "note": view.note,
            }
        )
    return out


def _hosts_json(inventory: Inventory, plan: Plan) -> List[HostEntry]:
    links: dict[tuple[str, str], List[HostLink]] = {}
    for link in plan.links:
        links.setdefault((link.session, link.host_id), []).append(
            {
                "vmnic": link.vmnic,
                "neighbor": link.neighbor,
                "interface": link.interface,
                "note": link.note,
            }
        )
    out: List[HostEntry] = []
    for session in inventory.sessions:
        vms_on = Counter(vm.host for vm in session.vms.values())  # one pass, not one per host
        for host in sorted(session.hosts.values(), key=lambda h: h.name):
            out.append(
                {
                    "session": session.name,
                    "moid": host.moid,
                    "name": host.name,
                    "connected": host.connected,
                    "vms": vms_on[host.moid],
                    "links": sorted(
                        links.get((session.name, host.moid), []), key=lambda x: x["vmnic"]
                    ),
                }
            )
    return out


def _vms_json(inventory: Inventory, plan: Plan) -> List[VmEntry]:
    """VMs on hosts cabled to this switch, with each vNIC's VLANs and ports."""
    cabled = {(lk.session, lk.host_id) for lk in plan.links if lk.interface}
    ports: dict[tuple[str, str, str], set[str]] = {}
    vlans: dict[tuple[str, str, str], set[int]] = {}
    portgroups: dict[tuple[str, str, str], str] = {}
    for name, view in plan.interfaces.items():
        if view.role != "edge":
            continue
        for vlan, reasons in view.needed.items():
            for r in reasons:
                if r.kind in ("vm", "migration"):
                    key = (r.session, r.subject_id, r.nic)
                    ports.setdefault(key, set()).add(name)
                    vlans.setdefault(key, set()).add(vlan)
                    portgroups[key] = r.portgroup
    out: List[VmEntry] = []
    for session in inventory.sessions:
        for vm in sorted(session.vms.values(), key=lambda v: v.name):
            migration = session.migrations.get(vm.moid)
            on_switch = (session.name, vm.host or "") in cabled or (
                migration is not None and (session.name, migration.dest_host) in cabled
            )
            if not on_switch:
                continue
            out.append(_vm_json(session, vm, ports, vlans, portgroups))
    return out


def _vm_json(
    session: SessionInventory,
    vm: Vm,
    ports: Mapping[tuple[str, str, str], set[str]],
    vlans: Mapping[tuple[str, str, str], set[int]],
    portgroups: Mapping[tuple[str, str, str], str],
) -> VmEntry:
    host = session.hosts.get(vm.host or "")
    migration = session.migrations.get(vm.moid)
    dest = session.hosts.get(migration.dest_host) if migration else None
    nics: List[VmNic] = []
    for nic in vm.nics:
        key = (session.name, vm.moid, nic.label)
        pg = portgroups.get(key, "")
        if not pg and nic.network is not None:
            dv = session.dv_portgroups.get(nic.network.key) if nic.network.distributed else None
            pg = dv.name if dv else nic.network.key
        nics.append(
            {
                "label": nic.label,
                "connected": nic.connected,
                "portgroup": pg,
                "vlans": vlan_text(VlanSet(vlans.get(key, set()))),
                "interfaces": sorted(ports.get(key, set()), key=interface_sort_key),
            }
        )
    return {
        "session": session.name,
        "moid": vm.moid,
        "name": vm.name,
        "powered_on": vm.powered_on,
        "host": host.name if host else (vm.host or ""),
        "migrating_to": (dest.name if dest else migration.dest_host) if migration else "",
        "nics": nics,
    }


def _last_reconcile(m: Mapping[str, Any]) -> LastReconcile:
    return {
        "at": float(m.get("at", 0.0)),
        "duration_ms": float(m.get("duration_ms", 0.0)),
        "result": str(m.get("result", "none")),
        "error": str(m.get("error", "")),
    }


def _optional_time(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def _switch_json(m: Mapping[str, Any]) -> SwitchSection:
    out: SwitchSection = {
        "reachable": bool(m["reachable"]),
        "error": str(m["error"]),
        "since": _optional_time(m.get("since")),
    }
    for key in ("hostname", "model", "version"):
        if key in m:
            out[key] = str(m[key])  # type: ignore[literal-required,unused-ignore]
    return out


def _cdp_json(m: Mapping[str, Any]) -> CdpSection:
    ports: dict[str, CdpPort] = {
        str(name): {
            "frames": int(p["frames"]),
            "last_sent": _optional_time(p.get("last_sent")),
            "error": str(p.get("error", "")),
        }
        for name, p in m.get("ports", {}).items()
    }
    return {"enabled": bool(m.get("enabled", False)), "ports": ports}


def _withheld_json(plan: Plan) -> List[Withheld]:
    return [
        {
            "interface": w.interface,
            "add": vlan_text(w.add),
            "remove": vlan_text(w.remove),
            "why": w.why,
        }
        for w in plan.withheld
    ]


def build(
    config: Config,
    inventory: Inventory,
    facts: Optional[SwitchFacts],
    plan: Optional[Plan],
    agent: AgentFacts,
    now: float,
) -> StatusDocument:
    """The status document."""
    empty = Plan()
    p = plan or empty
    agent_json: AgentSection = {
        "version": __version__,
        "pid": agent.pid,
        "started": agent.started,
        "updated": now,
        "config": agent.config,
        "state_dir": config.switch.state_dir,
        "dry_run": config.switch.dry_run,
        "hostname": config.switch.hostname or (facts.hostname if facts else ""),
        "last_reconcile": _last_reconcile(agent.last_reconcile),
        "counters": {str(k): int(v) for k, v in agent.counters.items()},
        "ledger": {
            "trusted": bool(agent.ledger["trusted"]),
            "error": str(agent.ledger["error"]),
            "since": agent.ledger["since"],
        },
    }
    return {
        "schema": SCHEMA_VERSION,
        "agent": agent_json,
        "switch": _switch_json(agent.switch),
        "cdp": _cdp_json(agent.cdp),
        "sessions": [
            _session_json(
                config, inventory.session(s.name), s.name, agent.session_figures.get(s.name)
            )
            for s in config.sessions
        ],
        "interfaces": _interfaces_json(p),
        "hosts": _hosts_json(inventory, p),
        "vms": _vms_json(inventory, p),
        "notes": list(p.notes),
        "vlans_pending_delete": [
            {"vlan": v.vlan, "since": v.since, "due": v.due, "held": v.held}
            for v in p.pending_vlans
        ],
        "withheld": _withheld_json(p),
    }


def status_path(run_dir: str) -> str:
    """Where the status document lives."""
    return os.path.join(run_dir, FILE_NAME)


def write(run_dir: str, doc: Mapping[str, Any]) -> None:
    """Publish ``doc`` atomically (readers never see half a file)."""
    os.makedirs(run_dir, exist_ok=True)
    write_json_atomic(status_path(run_dir), doc)


class StatusUnavailable(Exception):
    """No usable status: the agent is not running, or its status is stale."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_LAST_SECOND = 253402300799.0  # 9999-12-31 23:59:59: the last time a table can print


def schema_problem(doc: Any, schema: Mapping[str, Any], where: str = "") -> str:
    """The first place where ``doc`` breaks ``schema`` ("" when it does not).

    Understands the keywords :data:`STATUS_SCHEMA` uses (``type``, ``const``,
    ``enum``, ``required``, ``properties``, ``items``) and ignores others; a JSON
    boolean is not a number here.
    """
    name = where or "the document"
    kinds = schema.get("type")
    if kinds is not None:
        wanted = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(doc, k) for k in wanted):
            return f"{name} is not {' or '.join(wanted)}"
    if "const" in schema and not _same(doc, schema["const"]):
        return f"{name} is not {schema['const']!r}"
    if "enum" in schema and not any(_same(doc, e) for e in schema["enum"]):
        return f"{name} is not one of {', '.join(map(str, schema['enum']))}"
    if isinstance(doc, dict):
        for key in schema.get("required", ()):
            if key not in doc:
                return f"{where + '.' if where else ''}{key} is missing"
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                problem = schema_problem(doc[key], sub, f"{where + '.' if where else ''}{key}")
                if problem:
                    return problem
    items = schema.get("items")
    if isinstance(doc, list) and isinstance(items, Mapping):
        for i, item in enumerate(doc):
            problem = schema_problem(item, items, f"{name}[{i}]")
            if problem:
                return problem
    return ""


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    python = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind == "null":
        return value is None
    return isinstance(value, python.get(kind, object))


def _same(value: Any, expected: Any) -> bool:
    return type(value) is type(expected) and bool(value == expected)


def _time_of(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 0 <= value <= _LAST_SECOND:
        return None
    return float(value)


def read_status(run_dir: str, *, now: Optional[float] = None) -> StatusDocument:
    """The running agent's status; raises :class:`StatusUnavailable` saying why not.

    A document that is not the agent's (not UTF-8, not JSON, the wrong shape or
    types) is reported as malformed, naming the first bad member; never an exception
    of another kind.
    """
    path = status_path(run_dir)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise StatusUnavailable(f"the agent is not running (no {path})") from None
    except OSError as e:
        raise StatusUnavailable(f"cannot read {path}: {e.strerror}") from None
    try:
        doc = parse_json(data)
    except ValueError as e:
        raise StatusUnavailable(f"{path} is malformed: {e}") from None
    if not isinstance(doc, dict) or not _same(doc.get("schema"), SCHEMA_VERSION):
        raise StatusUnavailable(f"{path} has an unknown schema")
    problem = schema_problem(doc, STATUS_SCHEMA)
    agent = doc["agent"] if not problem else {}
    updated = _time_of(agent.get("updated"))
    pid = agent.get("pid")
    if not problem and updated is None:
        problem = "agent.updated is not a time"
    if not problem and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid < 2**22):
        problem = "agent.pid is not a process id"
    if problem or updated is None or not isinstance(pid, int):
        raise StatusUnavailable(f"{path} is malformed: {problem}")
    when = wall_clock(updated)
    if pid and not _alive(pid):
        raise StatusUnavailable(f"the agent is not running (pid {pid} is gone; last status {when})")
    age = (time.time() if now is None else now) - updated
    if age > STALE_AFTER:
        raise StatusUnavailable(
            f"the agent's status is stale: last updated {when} ({age:.0f}s ago); is it hung?"
        )
    return cast(StatusDocument, doc)  # written by the agent from the same types


#: JSON Schema (draft-07) of the status document (and so of every ``show --json``),
#: derived from :class:`~eos_vmtracer.status_types.StatusDocument`.
STATUS_SCHEMA: dict[str, Any] = json_schema(StatusDocument)
