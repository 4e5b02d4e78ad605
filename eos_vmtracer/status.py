"""The running agent's published state: built, written, read back, judged for staleness.

What this module is for: after every reconcile (and on a heartbeat) the agent
writes one JSON document, ``status.json`` in ``run_dir``, that ``vmtracer show``,
``vmtracer explain``, the EOS CLI extension and the EOS SDK status all read. Its
schema (``SCHEMA_VERSION``) is documented in README.md and checked in tests; the
JSON Schema is :data:`STATUS_SCHEMA`.

It must never let a reader mistake a dead or stale agent for one with no data:
:func:`read_status` says which it is. It holds no secret (no password, no URL
credentials).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from eos_vmtracer import __version__
from eos_vmtracer.config import Config
from eos_vmtracer.ledger import write_json_atomic
from eos_vmtracer.model import Inventory, SessionInventory, SwitchFacts, Vm
from eos_vmtracer.planner import Plan, Reason
from eos_vmtracer.vlans import VlanSet, interface_sort_key

SCHEMA_VERSION = 1
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


def _vlans(s: VlanSet) -> str:
    return s.format() if s else ""


def _reason_json(r: Reason) -> dict[str, str]:
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
) -> dict[str, Any]:
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
        "allowed_vlans": scfg.allowed_vlans.format(),
        "autovlan": scfg.autovlan,
        "scoped": bool(fig.get("scoped", False)),
        "hosts_heard": int(fig.get("hosts_heard", 0)),
        "hints_last_minute": int(fig.get("hints_last_minute", 0)),
    }


def _by_vlan(pending: Mapping[str, Any]) -> int:
    return int(pending["vlan"])


def _interfaces_json(plan: Plan) -> list[dict[str, Any]]:
    pending_by: dict[str, list[dict[str, Any]]] = {}  # interface -> [{vlan, since, due, held}]
    for p in plan.pending:
        pending_by.setdefault(p.interface, []).append(
            {"vlan": p.vlan, "since": p.since, "due": p.due, "held": p.held}
        )
    out: list[dict[str, Any]] = []
    for name in sorted(plan.interfaces, key=interface_sort_key):
        view = plan.interfaces[name]
        required = VlanSet(view.needed)
        out.append(
            {
                "name": name,
                "role": view.role,
                "mode": view.mode,
                "allowed": view.allowed.format(),
                "static": _vlans(view.static),
                "dynamic": _vlans(view.owned),
                "required": _vlans(required),
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


def _hosts_json(inventory: Inventory, plan: Plan) -> list[dict[str, Any]]:
    links: dict[tuple[str, str], list[dict[str, str]]] = {}
    for link in plan.links:
        links.setdefault((link.session, link.host_id), []).append(
            {
                "vmnic": link.vmnic,
                "neighbor": link.neighbor,
                "interface": link.interface,
                "note": link.note,
            }
        )
    out = []
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


def _vms_json(inventory: Inventory, plan: Plan) -> list[dict[str, Any]]:
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
    out = []
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
) -> dict[str, Any]:
    host = session.hosts.get(vm.host or "")
    migration = session.migrations.get(vm.moid)
    dest = session.hosts.get(migration.dest_host) if migration else None
    nics = []
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
                "vlans": _vlans(VlanSet(vlans.get(key, set()))),
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


def build(
    config: Config,
    inventory: Inventory,
    facts: Optional[SwitchFacts],
    plan: Optional[Plan],
    agent: AgentFacts,
    now: float,
) -> dict[str, Any]:
    """The status document."""
    empty = Plan()
    p = plan or empty
    return {
        "schema": SCHEMA_VERSION,
        "agent": {
            "version": __version__,
            "pid": agent.pid,
            "started": agent.started,
            "updated": now,
            "config": agent.config,
            "dry_run": config.switch.dry_run,
            "hostname": config.switch.hostname or (facts.hostname if facts else ""),
            "last_reconcile": dict(agent.last_reconcile),
            "counters": dict(agent.counters),
        },
        "switch": dict(agent.switch),
        "cdp": dict(agent.cdp),
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
        "withheld": [
            {
                "interface": w.interface,
                "add": _vlans(w.add),
                "remove": _vlans(w.remove),
                "why": w.why,
            }
            for w in p.withheld
        ],
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


def read_status(run_dir: str, *, now: Optional[float] = None) -> dict[str, Any]:
    """The running agent's status; raises :class:`StatusUnavailable` saying why not."""
    path = status_path(run_dir)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise StatusUnavailable(f"the agent is not running (no {path})") from None
    except (OSError, ValueError) as e:
        raise StatusUnavailable(f"cannot read {path}: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION:
        raise StatusUnavailable(f"{path} has an unknown schema")
    agent = doc.get("agent", {})
    updated = float(agent.get("updated", 0))
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(updated))
    pid = int(agent.get("pid", 0))
    if pid and not _alive(pid):
        raise StatusUnavailable(f"the agent is not running (pid {pid} is gone; last status {when})")
    age = (time.time() if now is None else now) - updated
    if age > STALE_AFTER:
        raise StatusUnavailable(
            f"the agent's status is stale: last updated {when} ({age:.0f}s ago); is it hung?"
        )
    return doc


#: A list of VLANs waiting to go (from a port, or from the switch): when, or why not yet.
_PENDING: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["vlan", "since", "due", "held"],
        "properties": {
            "vlan": {"type": "integer"},
            "since": {"type": ["number", "null"]},
            "due": {"type": ["number", "null"]},
            "held": {"type": "string"},
        },
    },
}

#: JSON Schema of the status document (and so of every ``show --json``).
STATUS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema", "agent", "switch", "cdp", "sessions", "interfaces", "hosts", "vms"],
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "agent": {
            "type": "object",
            "required": [
                "version",
                "pid",
                "started",
                "updated",
                "dry_run",
                "last_reconcile",
                "counters",
            ],
        },
        "switch": {"type": "object", "required": ["reachable", "error"]},
        "cdp": {"type": "object", "required": ["enabled", "ports"]},
        "sessions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "url",
                    "state",
                    "synced",
                    "since",
                    "error",
                    "hosts",
                    "vms",
                    "allowed_vlans",
                    "autovlan",
                    "scoped",
                    "hosts_heard",
                    "hints_last_minute",
                ],
                "properties": {
                    "state": {
                        "enum": [
                            "connecting",
                            "connected",
                            "disconnected",
                            "auth-failed",
                            "tls-error",
                        ]
                    },
                    "synced": {"type": "boolean"},
                    "hosts": {"type": "integer"},
                    "vms": {"type": "integer"},
                },
            },
        },
        "interfaces": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "role",
                    "mode",
                    "allowed",
                    "static",
                    "dynamic",
                    "required",
                    "pending",
                    "excluded",
                    "reasons",
                    "reasons_more",
                    "note",
                ],
                "properties": {
                    "role": {"enum": ["edge", "uplink"]},
                    "pending": _PENDING,
                },
            },
        },
        "vlans_pending_delete": _PENDING,
        "hosts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["session", "moid", "name", "connected", "vms", "links"],
            },
        },
        "vms": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "session",
                    "moid",
                    "name",
                    "powered_on",
                    "host",
                    "migrating_to",
                    "nics",
                ],
                "properties": {
                    "nics": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["label", "connected", "portgroup", "vlans", "interfaces"],
                        },
                    }
                },
            },
        },
    },
}
