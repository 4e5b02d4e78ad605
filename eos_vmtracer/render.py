"""Text for people: EOS-style tables of the agent's status, and ``explain``.

What this module is for: turn the status document (see :mod:`eos_vmtracer.status`)
into the aligned tables ``vmtracer show`` prints (a header, dashes under it, one
row per item, as EOS does) and into the sentences of ``vmtracer explain`` and the
detail views (one interface, VM or host). Each function reads one answer of
:mod:`eos_vmtracer.views` (typed in :mod:`eos_vmtracer.status_types`); the EOS CLI
extension uses the same functions, so both say the same thing. The short key/values
of ``show daemon EosVmTracer`` come from :func:`daemon_status`.

Every line is escaped here (:func:`eos_vmtracer.shown.shown`), cell by cell in
tables and line by line elsewhere: names from vCenter and error texts can neither
start a line nor send a terminal control sequence, on ``vmtracer show``,
``explain`` or the EOS CLI (privilege 1).

It must never read files or the clock on its own (``now`` is passed in), never
invent data the status does not hold, and never return a line it has not escaped
(nor escape one twice: callers print what it returns as it is).
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

from eos_vmtracer.shown import shown
from eos_vmtracer.status_types import (
    HistoryEvent,
    HostAnswer,
    HostsAnswer,
    InterfaceAnswer,
    InterfaceDetail,
    InterfacesAnswer,
    LedgerState,
    PendingVlan,
    SessionsAnswer,
    StatusDocument,
    VmAnswer,
    VmNic,
    VmsAnswer,
)
from eos_vmtracer.timefmt import wall_clock as clock
from eos_vmtracer.vlans import VlanSet

#: What the preamble reads: any answer that carries the agent and the switch.
_WithAgent = Union[
    StatusDocument,
    SessionsAnswer,
    InterfacesAnswer,
    VmsAnswer,
    HostsAnswer,
    InterfaceAnswer,
    VmAnswer,
    HostAnswer,
]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An EOS-style table: aligned columns, dashes under each header; every cell escaped."""
    cells = [[shown(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def ago(t: Optional[float], now: float) -> str:
    """``"3m12s ago"`` style durations."""
    if not t:
        return "-"
    return _duration(now - t) + " ago"


def _duration(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def _pending_text(pending: Sequence[PendingVlan], now: float) -> str:
    parts = []
    for p in pending:
        due = p["due"]
        if due is not None:
            parts.append(f"{p['vlan']} (in {_duration(due - now)})")
        else:
            parts.append(f"{p['vlan']} (held)")
    return ", ".join(parts) or "-"


def sessions_table(doc: Union[StatusDocument, SessionsAnswer], now: float) -> str:
    """``show sessions``."""
    rows = [
        (
            s["name"],
            s["state"],
            "yes" if s["synced"] else "no",
            ago(s["since"], now),
            f"{s['hosts_heard']}/{s['hosts']}" if s["scoped"] else s["hosts"],
            s["vms"],
            s["hints_last_minute"],
            s["allowed_vlans"],
            "on" if s["autovlan"] else "off",
            s["error"] or "-",
        )
        for s in doc["sessions"]
    ]
    head = (
        "Session",
        "State",
        "Synced",
        "Since",
        "Hosts here/all",
        "VMs",
        "Hints/min",
        "Allowed VLANs",
        "Autovlan",
        "Last error",
    )
    return _preamble(doc, now) + table(head, rows)


def interfaces_table(doc: Union[StatusDocument, InterfacesAnswer], now: float) -> str:
    """``show interfaces``: static (operator), dynamic (agent), required, pending."""
    rows = []
    for i in doc["interfaces"]:
        rows.append(
            (
                i["name"],
                i["role"],
                i["mode"] if not i["note"] else f"{i['mode']}*",
                i["static"] or "-",
                i["dynamic"] or "-",
                i["required"] or "-",
                _pending_text(i["pending"], now),
            )
        )
    out = _preamble(doc, now) + table(
        (
            "Interface",
            "Role",
            "Mode",
            "Static VLANs",
            "Dynamic VLANs",
            "Required",
            "Pending removal",
        ),
        rows,
    )
    notes = [f"* {i['name']} {i['note']}" for i in doc["interfaces"] if i["note"]]
    for v in doc["vlans_pending_delete"]:
        due = v["due"]
        if due is not None:
            when = f"deleted in {_duration(due - now)} unless needed again"
        else:
            when = f"kept while {v['held']}"
        notes.append(f"* VLAN {v['vlan']} (created by vmtracer) is used by nothing: {when}")
    return out + ("\n" + _lines(notes) if notes else "")


def hosts_table(doc: Union[StatusDocument, HostsAnswer], now: float) -> str:
    """``show hosts``: which vmnic hears this switch on which port."""
    rows = []
    for h in doc["hosts"]:
        links = h["links"] or [{"vmnic": "-", "neighbor": "-", "interface": "", "note": ""}]
        for n, link in enumerate(links):
            rows.append(
                (
                    h["name"] if n == 0 else "",
                    h["session"] if n == 0 else "",
                    ("yes" if h["connected"] else "NO") if n == 0 else "",
                    h["vms"] if n == 0 else "",
                    link["vmnic"],
                    link["neighbor"] or "-",
                    link["interface"] or (f"({link['note']})" if link["note"] else "-"),
                )
            )
    return _preamble(doc, now) + table(
        ("Host", "Session", "Connected", "VMs", "Vmnic", "Neighbor heard", "Interface"), rows
    )


def vms_table(doc: Union[StatusDocument, VmsAnswer], now: float) -> str:
    """``show vms``: VMs on hosts cabled to this switch, their NICs, VLANs and ports."""
    rows = []
    for vm in doc["vms"]:
        none: VmNic = {
            "label": "-",
            "portgroup": "-",
            "vlans": "",
            "interfaces": [],
            "connected": True,
        }
        nics = vm["nics"] or [none]
        host = vm["host"] + (f" -> {vm['migrating_to']}" if vm["migrating_to"] else "")
        for n, nic in enumerate(nics):
            rows.append(
                (
                    vm["name"] if n == 0 else "",
                    ("on" if vm["powered_on"] else "off") if n == 0 else "",
                    host if n == 0 else "",
                    nic["label"] + ("" if nic["connected"] else " (disconnected)"),
                    nic["portgroup"] or "-",
                    nic["vlans"] or "-",
                    ", ".join(nic["interfaces"]) or "-",
                )
            )
    return _preamble(doc, now) + table(
        ("VM", "Power", "Host", "Adapter", "Portgroup", "VLANs", "Interfaces"), rows
    )


# -- the EOS daemon status (show daemon EosVmTracer) ---------------------------------------

DAEMON_VALUE_MAX = 1000
"""Longest daemon status value published (EOS allows 10 KB; shorter reads better)."""


def clip_daemon_value(text: str) -> str:
    """``text`` cut to :data:`DAEMON_VALUE_MAX` characters, ``...`` marking a cut."""
    return text if len(text) <= DAEMON_VALUE_MAX else text[: DAEMON_VALUE_MAX - 3] + "..."


def daemon_status(doc: Mapping[str, Any]) -> dict[str, str]:
    """The daemon status keys and values for one status document (short, no secrets)."""
    agent = doc.get("agent", {})
    sw = doc.get("switch", {})
    items: dict[str, str] = {
        "version": str(agent.get("version", "")),
        "pid": str(agent.get("pid", "")),
        "updated": clock(agent.get("updated")),
        "dry_run": "yes" if agent.get("dry_run") else "no",
    }
    if sw.get("reachable"):
        items["eapi"] = (
            f"ok: {sw.get('hostname', '')} ({sw.get('model', '')}, EOS {sw.get('version', '')})"
        )
    else:
        items["eapi"] = f"unreachable since {clock(sw.get('since'))}: {sw.get('error', '')}"
    for s in doc.get("sessions", []):
        scoped = bool(s.get("scoped"))
        hosts = f"{s['hosts']} hosts"
        if scoped:
            hosts = f"{s.get('hosts_heard', 0)}/{s['hosts']} hosts here/all"
        text = (
            f"{s['state']}, {'synced' if s['synced'] else 'not synced'}, {hosts},"
            f" {s['vms']} VMs, VLANs {s['allowed_vlans']},"
            f" autovlan {'on' if s['autovlan'] else 'off'}"
        )
        if scoped:
            text += f", {s.get('hints_last_minute', 0)} hint calls in the last minute"
        if s.get("error"):
            text += f", error: {s['error']}"
        items[f"session.{s['name']}"] = text
    interfaces = doc.get("interfaces", [])
    edge = sum(1 for i in interfaces if i["role"] == "edge")
    dynamic = sum(1 for i in interfaces if i["dynamic"])
    pending = sum(len(i["pending"]) for i in interfaces)
    items["interfaces"] = (
        f"{len(interfaces)} managed ({edge} edge, {len(interfaces) - edge} uplink),"
        f" {dynamic} with dynamic VLANs, {pending} removals pending"
    )
    items["vms"] = str(len(doc.get("vms", [])))
    last = agent.get("last_reconcile", {})
    items["last_reconcile"] = (
        f"{last.get('result', 'none')} at {clock(last.get('at'))}"
        f" ({last.get('duration_ms', 0)} ms)" + (f": {last['error']}" if last.get("error") else "")
    )
    counters = agent.get("counters", {})
    items["counters"] = ", ".join(f"{k}={v}" for k, v in sorted(counters.items()))
    withheld = doc.get("withheld", [])
    if withheld:
        items["withheld"] = f"{len(withheld)} change(s) withheld; see vmtracer explain"
    # Shown by "show daemon": escaped like every human channel (names come from vCenter).
    return {shown(k): clip_daemon_value(shown(v)) for k, v in items.items()}


def history_table(events: Sequence[HistoryEvent]) -> str:
    """``show history``."""
    rows = [
        (clock(e["at"]), e["action"], e["interface"] or "-", e["vlans"] or "-", _cut(e["reason"]))
        for e in events
    ]
    return table(("Time", "Action", "Interface", "VLANs", "Reason"), rows)


def _lines(lines: Iterable[str]) -> str:
    """Lines of text, each escaped, one per line."""
    return "\n".join(shown(line) for line in lines)


def _cut(text: str, width: int = 120) -> str:
    """A long reason, shortened for a table (``--json`` keeps it whole)."""
    if not text:
        return "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def _preamble(doc: _WithAgent, now: float) -> str:
    lines = []
    if doc["agent"]["dry_run"]:
        lines.append(
            "DRY RUN: the agent changes nothing; 'Required' shows what it would provision."
        )
    sw = doc["switch"]
    if not sw["reachable"]:
        lines.append(f"eAPI unreachable since {clock(sw['since'])}: {sw['error']}")
    agent = doc["agent"]
    # The full document's agent has the ledger; a table answer's agent does not.
    ledger: Optional[LedgerState] = (
        agent["ledger"] if "ledger" in agent else None  # type: ignore[typeddict-item]  # noqa: SIM401
    )
    if ledger and ledger["error"]:
        lines.append(f"LEDGER since {clock(ledger['since'])}: {ledger['error']}")
    elif ledger and not ledger["trusted"]:
        lines.append("LEDGER untrusted: removing nothing until a fresh ledger has been written")
    return _lines(lines) + ("\n\n" if lines else "")


# -- explain: one interface in detail ---------------------------------------------------


def explain(doc: StatusDocument, interface: str, vlan: Optional[int], now: float) -> str:
    """Why each VLAN is (or is not) on ``interface`` (LookupError if it is not managed)."""
    from eos_vmtracer.views import interface as interface_answer

    return interface_detail(interface_answer(doc, interface, vlan), now)


def interface_detail(answer: InterfaceAnswer, now: float) -> str:
    """``vmtracer explain`` / ``show vm-tracer interface``: why each VLAN is (or is not) on
    the interface."""
    entry = answer["interface"]
    vlan = answer["vlan"]
    interface = entry["name"]
    lines = [f"{interface} ({entry['role']}, {entry['mode']})"]
    if entry["note"]:
        lines.append(f"  left alone: {interface} {entry['note']}")
    cabled = [
        f"{h['name']} {'/'.join(h['vmnics'])}"
        + (f" [{', '.join(h['static'])}: switch.static_hosts]" if h["static"] else "")
        + ("" if h["connected"] else " [disconnected]")
        for h in entry["cabled"]
    ]
    if entry["role"] == "edge":
        lines.append(
            "  cabled hosts: "
            + (", ".join(cabled) if cabled else "none heard (no vmnic reports this port)")
        )
    if vlan is None:
        vlans = sorted(
            set(VlanSet.parse(entry["static"] or "NONE"))
            | set(VlanSet.parse(entry["dynamic"] or "NONE"))
            | {int(v) for v in entry["reasons"]}
            | {int(v) for v in entry["excluded"]}
            | {p["vlan"] for p in entry["pending"]}
        )
        if len(vlans) > 64:
            lines.append(f"  static VLANs (operator): {entry['static'] or 'none'}")
            vlans = [v for v in vlans if v not in VlanSet.parse(entry["static"] or "NONE")]
        for v in vlans:
            lines.extend(_explain_vlan(entry, v, now, brief=True))
    else:
        lines.extend(_explain_vlan(entry, vlan, now, brief=False))
    return _lines(lines)


def _explain_vlan(entry: InterfaceDetail, vlan: int, now: float, brief: bool) -> List[str]:
    allowed = VlanSet.parse(entry["allowed"] or "NONE")
    static = VlanSet.parse(entry["static"] or "NONE")
    dynamic = VlanSet.parse(entry["dynamic"] or "NONE")
    reasons = entry["reasons"].get(str(vlan), [])
    excluded = entry["excluded"].get(str(vlan), [])
    pending = next((p for p in entry["pending"] if p["vlan"] == vlan), None)
    on = vlan in allowed
    if vlan in static:
        state = "on, static (configured by an operator: vmtracer never removes it)"
    elif vlan in dynamic:
        state = "on, dynamic (added by vmtracer)"
    elif on:
        state = "on"
    else:
        state = "off"
    lines = [f"  VLAN {vlan}: {state}"]
    for r in reasons:
        lines.append(f"    needed by {r['text']}")
    more = entry["reasons_more"].get(str(vlan), 0)
    if more:
        lines.append(f"    ... and by {more} more (vmtracer show vms lists them all)")
    if pending is not None:
        due = pending["due"]
        if due is not None:
            lines.append(
                f"    unneeded since {clock(pending['since'])}; removed at {clock(due)}"
                f" (in {_duration(due - now)}) unless needed again"
            )
        else:
            lines.append(f"    unneeded, but kept: {pending['held']}")
    for why in excluded:
        lines.append(f"    kept off: {why}")
    if reasons and not on:
        withheld = [
            w["why"] for w in entry["withheld"] if vlan in VlanSet.parse(w["add"] or "NONE")
        ]
        for why in withheld:
            lines.append(f"    not added: {why}")
        if not withheld and not entry["note"]:
            lines.append("    being added (next reconcile)")
    if not reasons and not excluded and pending is None and not brief:
        if vlan in static:
            pass
        elif on:
            lines.append("    no VM on a cabled host needs it")
        else:
            lines.append(
                "    no powered-on VM or VMkernel adapter on a host cabled to this port uses a"
                " portgroup with this VLAN"
            )
    return lines


# -- one VM, one host ---------------------------------------------------------------------


def vm_detail(answer: VmAnswer, now: float) -> str:
    """``vmtracer show vm NAME`` / ``show vm-tracer vm NAME``."""
    blocks = []
    for vm in answer["vms"]:
        lines = [f"VM {vm['name']} ({vm['moid']}, {vm['session']})"]
        lines.append(f"  power: {'on' if vm['powered_on'] else 'off'}")
        lines.append(
            f"  host: {vm['host'] or '-'}"
            + (f" (migrating to {vm['migrating_to']})" if vm["migrating_to"] else "")
        )
        for nic in vm["nics"]:
            lines.append(
                f"  {nic['label']}{'' if nic['connected'] else ' (disconnected)'}:"
                f" portgroup {nic['portgroup'] or '-'}, VLANs {nic['vlans'] or '-'},"
                f" interfaces {', '.join(nic['interfaces']) or '-'}"
            )
        rows = [
            (p["nic"], p["interface"], p["vlan"], p["state"], p["why"] or "-") for p in vm["ports"]
        ]
        text = _lines(lines)
        if rows:  # a table escapes its own cells
            ports = table(("Adapter", "Interface", "VLAN", "State", "Why"), rows)
            text += "\n\n" + "\n".join("  " + line for line in ports.split("\n"))
        blocks.append(text)
    return _preamble(answer, now) + "\n\n".join(blocks)


def host_detail(answer: HostAnswer, now: float) -> str:
    """``vmtracer show host NAME`` / ``show vm-tracer host NAME``."""
    blocks = []
    for h in answer["hosts"]:
        lines = [f"Host {h['name']} ({h['moid']}, {h['session']})"]
        lines.append(f"  connected: {'yes' if h['connected'] else 'NO'}")
        lines.append(f"  interfaces: {', '.join(h['interfaces']) or 'none heard'}")
        for link in h["links"]:
            where = link["interface"] or (f"({link['note']})" if link["note"] else "-")
            lines.append(f"  {link['vmnic']}: hears {link['neighbor'] or '-'} on {where}")
        lines.append(f"  VMs: {h['vms']}")
        rows = [
            (v["name"], "on" if v["powered_on"] else "off", v["vlans"] or "-") for v in h["vm_list"]
        ]
        text = _lines(lines)
        if rows:  # a table escapes its own cells
            vms = table(("VM", "Power", "VLANs"), rows)
            text += "\n\n" + "\n".join("  " + line for line in vms.split("\n"))
        blocks.append(text)
    return _preamble(answer, now) + "\n\n".join(blocks)
