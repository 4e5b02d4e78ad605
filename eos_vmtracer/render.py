"""Text for people: EOS-style tables of the agent's status, and ``explain``.

What this module is for: turn the status document (see :mod:`eos_vmtracer.status`)
into the aligned tables ``vmtracer show`` prints (a header, dashes under it, one
row per item, as EOS does) and into the sentences of ``vmtracer explain``. The
EOS CLI extension uses the same functions, so both say the same thing.

Every line is escaped here (:func:`eos_vmtracer.shown.shown`), cell by cell in
tables and line by line elsewhere: names from vCenter and error texts can neither
start a line nor send a terminal control sequence, on ``vmtracer show``,
``explain`` or the EOS CLI (privilege 1).

It must never read files or the clock on its own (``now`` is passed in), never
invent data the status does not hold, and never return a line it has not escaped
(nor escape one twice: callers print what it returns as it is).
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping, Optional, Sequence

from eos_vmtracer.shown import shown
from eos_vmtracer.vlans import VlanSet


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


def clock(t: Optional[float]) -> str:
    """A wall-clock time for tables."""
    if not t:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


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


def _pending_text(pending: Sequence[Mapping[str, Any]], now: float) -> str:
    parts = []
    for p in pending:
        if p.get("due") is not None:
            parts.append(f"{p['vlan']} (in {_duration(p['due'] - now)})")
        else:
            parts.append(f"{p['vlan']} (held)")
    return ", ".join(parts) or "-"


def sessions_table(doc: Mapping[str, Any], now: float) -> str:
    """``show sessions``."""
    rows = [
        (
            s["name"],
            s["state"],
            "yes" if s["synced"] else "no",
            ago(s["since"], now),
            f"{s.get('hosts_heard', 0)}/{s['hosts']}" if s.get("scoped") else s["hosts"],
            s["vms"],
            s.get("hints_last_minute", 0),
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


def interfaces_table(doc: Mapping[str, Any], now: float) -> str:
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
    for v in doc.get("vlans_pending_delete", []):
        if v["due"] is not None:
            when = f"deleted in {_duration(v['due'] - now)} unless needed again"
        else:
            when = f"kept while {v['held']}"
        notes.append(f"* VLAN {v['vlan']} (created by vmtracer) is used by nothing: {when}")
    return out + ("\n" + _lines(notes) if notes else "")


def hosts_table(doc: Mapping[str, Any], now: float) -> str:
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


def vms_table(doc: Mapping[str, Any], now: float) -> str:
    """``show vms``: VMs on hosts cabled to this switch, their NICs, VLANs and ports."""
    rows = []
    for vm in doc["vms"]:
        nics = vm["nics"] or [
            {"label": "-", "portgroup": "-", "vlans": "", "interfaces": [], "connected": True}
        ]
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


def history_table(events: Sequence[Mapping[str, Any]]) -> str:
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


def _preamble(doc: Mapping[str, Any], now: float) -> str:
    agent = doc["agent"]
    lines = []
    if agent.get("dry_run"):
        lines.append(
            "DRY RUN: the agent changes nothing; 'Required' shows what it would provision."
        )
    sw = doc.get("switch", {})
    if not sw.get("reachable", True):
        lines.append(f"eAPI unreachable since {clock(sw.get('since'))}: {sw.get('error', '')}")
    return _lines(lines) + ("\n\n" if lines else "")


# -- explain ---------------------------------------------------------------------------


def explain(doc: Mapping[str, Any], interface: str, vlan: Optional[int], now: float) -> str:
    """Why each VLAN is (or is not) on ``interface``."""
    entry = next((i for i in doc["interfaces"] if i["name"] == interface), None)
    if entry is None:
        managed = ", ".join(i["name"] for i in doc["interfaces"][:6])
        raise LookupError(
            f"{interface} is not managed by vmtracer (managed: {managed}"
            + (", ..." if len(doc["interfaces"]) > 6 else "")
            + ")"
        )
    lines = [f"{interface} ({entry['role']}, {entry['mode']})"]
    if entry["note"]:
        lines.append(f"  left alone: {interface} {entry['note']}")
    cabled = _cabled(doc, interface)
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
            lines.extend(_explain_vlan(doc, entry, v, now, brief=True))
    else:
        lines.extend(_explain_vlan(doc, entry, vlan, now, brief=False))
    return _lines(lines)


def _cabled(doc: Mapping[str, Any], interface: str) -> list[str]:
    out = []
    for h in doc["hosts"]:
        nics = [lk["vmnic"] for lk in h["links"] if lk["interface"] == interface]
        if nics:
            state = "" if h["connected"] else " [disconnected]"
            out.append(f"{h['name']} {'/'.join(nics)}{state}")
    return out


def _explain_vlan(
    doc: Mapping[str, Any], entry: Mapping[str, Any], vlan: int, now: float, brief: bool
) -> list[str]:
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
    more = entry.get("reasons_more", {}).get(str(vlan), 0)
    if more:
        lines.append(f"    ... and by {more} more (vmtracer show vms lists them all)")
    if pending is not None:
        if pending["due"] is not None:
            lines.append(
                f"    unneeded since {clock(pending['since'])}; removed at {clock(pending['due'])}"
                f" (in {_duration(pending['due'] - now)}) unless needed again"
            )
        else:
            lines.append(f"    unneeded, but kept: {pending['held']}")
    for why in excluded:
        lines.append(f"    kept off: {why}")
    if reasons and not on:
        withheld = [
            w["why"]
            for w in doc.get("withheld", [])
            if w["interface"] == entry["name"] and vlan in VlanSet.parse(w["add"] or "NONE")
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
