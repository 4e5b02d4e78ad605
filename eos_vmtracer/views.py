"""What each ``show`` command answers: the status document cut to one question.

What this module is for: ``vmtracer show …`` and ``explain`` in bash, and the EOS CLI
extension's ``show vm-tracer …`` commands answer the same questions with the same
data. Each function here takes the status document (or the change history) and gives
one answer typed in :mod:`eos_vmtracer.status_types`; :data:`COMMANDS` lists the EOS
commands (syntax, arguments, help, answer type) that
``extension/cli/EosVmTracer.yaml`` is generated from; :func:`text` prints any answer
as ``vmtracer`` prints it; :func:`main` serves the CLI extension on an EOS whose CLI
runs Python 2.7 and so cannot import this package.

It must never change anything (the switch, a file, the agent), never read the clock
except in :func:`main`, and never invent data the status does not hold: a name that
matches nothing is a :class:`LookupError` saying so.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from eos_vmtracer import render, status
from eos_vmtracer.history import History
from eos_vmtracer.shown import shown
from eos_vmtracer.static_hosts import is_static
from eos_vmtracer.status_types import (
    AgentBrief,
    CabledHost,
    HistoryAction,
    HistoryAnswer,
    HistoryEvent,
    HostAnswer,
    HostDetail,
    HostsAnswer,
    HostVm,
    InterfaceAnswer,
    InterfaceDetail,
    InterfacesAnswer,
    SessionsAnswer,
    StatusDocument,
    VmAnswer,
    VmDetail,
    VmPort,
    VmsAnswer,
    Words,
)
from eos_vmtracer.vlans import VlanSet, canonical_interface, interface_sort_key

Answer = Union[
    SessionsAnswer,
    InterfacesAnswer,
    VmsAnswer,
    HostsAnswer,
    InterfaceAnswer,
    VmAnswer,
    HostAnswer,
    HistoryAnswer,
]

DEFAULT_COUNT = 50  # history events shown when no count is given
MAX_COUNT = 100000


def agent_brief(doc: StatusDocument) -> AgentBrief:
    """The agent, as every ``show vm-tracer`` answer starts."""
    agent = doc["agent"]
    return {
        "running": True,
        "version": agent["version"],
        "pid": agent["pid"],
        "started": agent["started"],
        "updated": agent["updated"],
        "dry_run": agent["dry_run"],
        "hostname": agent["hostname"],
    }


def sessions(doc: StatusDocument) -> SessionsAnswer:
    """``show sessions``."""
    return {"agent": agent_brief(doc), "switch": doc["switch"], "sessions": doc["sessions"]}


def interfaces(doc: StatusDocument) -> InterfacesAnswer:
    """``show interfaces``."""
    return {
        "agent": agent_brief(doc),
        "switch": doc["switch"],
        "interfaces": doc["interfaces"],
        "vlans_pending_delete": doc["vlans_pending_delete"],
    }


def vms(doc: StatusDocument) -> VmsAnswer:
    """``show vms``."""
    return {"agent": agent_brief(doc), "switch": doc["switch"], "vms": doc["vms"]}


def hosts(doc: StatusDocument) -> HostsAnswer:
    """``show hosts``."""
    return {"agent": agent_brief(doc), "switch": doc["switch"], "hosts": doc["hosts"]}


# -- one interface ----------------------------------------------------------------------


def interface(doc: StatusDocument, name: str, vlan: Optional[int] = None) -> InterfaceAnswer:
    """``explain NAME`` / ``show vm-tracer interface NAME``: one interface in detail."""
    try:
        full = canonical_interface(name)
    except ValueError as e:
        raise LookupError(str(e)) from None
    entry = next((i for i in doc["interfaces"] if i["name"] == full), None)
    if entry is None:
        managed = ", ".join(i["name"] for i in doc["interfaces"][:6])
        raise LookupError(
            f"{full} is not managed by vmtracer (managed: {managed}"
            + (", ..." if len(doc["interfaces"]) > 6 else "")
            + ")"
        )
    cabled: List[CabledHost] = []
    for h in doc["hosts"]:
        links = [lk for lk in h["links"] if lk["interface"] == full]
        if links:
            cabled.append(
                {
                    "session": h["session"],
                    "name": h["name"],
                    "connected": h["connected"],
                    "vmnics": [lk["vmnic"] for lk in links],
                    "static": sorted({lk["neighbor"] for lk in links if is_static(lk["neighbor"])}),
                }
            )
    detail: InterfaceDetail = {
        **entry,
        "cabled": cabled,
        "withheld": [w for w in doc["withheld"] if w["interface"] == full],
    }
    return {"agent": agent_brief(doc), "switch": doc["switch"], "vlan": vlan, "interface": detail}


# -- one VM -------------------------------------------------------------------------------


def _vlan_ids(text: str) -> List[int]:
    return sorted(VlanSet.parse(text or "NONE"))


def vm(doc: StatusDocument, name: str) -> VmAnswer:
    """``show vm NAME``: every VM of that name (or moid) on a host cabled to this switch."""
    found = [v for v in doc["vms"] if name in (v["name"], v["moid"])]
    if not found:
        found = [v for v in doc["vms"] if v["name"].lower() == name.lower()]
    if not found:
        raise LookupError(f"no VM named {name!r} on a host cabled to this switch")
    by_name = {i["name"]: i for i in doc["interfaces"]}
    out: List[VmDetail] = []
    for v in found:
        ports: List[VmPort] = []
        for nic in v["nics"]:
            for port in nic["interfaces"]:
                entry = by_name.get(port)
                if entry is None:
                    continue
                allowed = VlanSet.parse(entry["allowed"] or "NONE")
                for vid in _vlan_ids(nic["vlans"]):
                    if str(vid) not in entry["reasons"]:
                        continue  # needed on another of its ports, not this one
                    withheld = [
                        w["why"]
                        for w in doc["withheld"]
                        if w["interface"] == port and vid in VlanSet.parse(w["add"] or "NONE")
                    ]
                    if vid in allowed:
                        state, why = "on", ""
                    elif withheld:
                        state, why = "withheld", "; ".join(withheld)
                    elif entry["note"]:
                        state, why = "withheld", f"{port} {entry['note']}"
                    else:
                        state, why = "adding", "next reconcile"
                    ports.append(
                        {
                            "nic": nic["label"],
                            "interface": port,
                            "vlan": vid,
                            "state": state,
                            "why": why,
                        }
                    )
        out.append({**v, "ports": ports})
    return {"agent": agent_brief(doc), "switch": doc["switch"], "name": name, "vms": out}


# -- one host -----------------------------------------------------------------------------


def host(doc: StatusDocument, name: str) -> HostAnswer:
    """``show host NAME``: every host of that name, moid or short name (before the dot)."""
    found = [h for h in doc["hosts"] if name in (h["name"], h["moid"])]
    if not found:
        short = name.lower()
        found = [h for h in doc["hosts"] if h["name"].lower().split(".")[0] == short]
    if not found:
        raise LookupError(f"no host named {name!r} (vmtracer show hosts lists them)")
    out: List[HostDetail] = []
    for h in found:
        on_it: List[HostVm] = []
        for v in doc["vms"]:
            if v["session"] != h["session"] or h["name"] not in (v["host"], v["migrating_to"]):
                continue
            ids: set[int] = set()
            for nic in v["nics"]:
                ids.update(_vlan_ids(nic["vlans"]))
            vlans = VlanSet(ids)
            on_it.append(
                {
                    "name": v["name"],
                    "moid": v["moid"],
                    "powered_on": v["powered_on"],
                    "vlans": status.vlan_text(vlans),
                }
            )
        ports = sorted(
            {lk["interface"] for lk in h["links"] if lk["interface"]}, key=interface_sort_key
        )
        out.append({**h, "interfaces": ports, "vm_list": on_it})
    return {"agent": agent_brief(doc), "switch": doc["switch"], "name": name, "hosts": out}


# -- the change history -------------------------------------------------------------------


def _words(alias: Any) -> Tuple[str, ...]:
    mark = next(m for m in alias.__metadata__ if isinstance(m, Words))
    return mark.words


ACTIONS = _words(HistoryAction)


def history(
    state_dir: str, count: int = DEFAULT_COUNT, *, source: Optional[History] = None
) -> HistoryAnswer:
    """``show history --count N``: the newest ``count`` events, oldest first.

    A line the agent could not have written (an unknown action, a VLAN list that does
    not parse) is left out, not shown half-read. ``source`` (default: the history in
    ``state_dir``) is read; its ``skipped`` then counts the lines it could not read.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1-{MAX_COUNT}, not {count}")
    events: List[HistoryEvent] = []
    for e in (source or History(state_dir)).read():
        try:
            vlans = VlanSet.parse(e.vlans or "NONE")
        except ValueError:
            continue
        if e.action not in ACTIONS:
            continue
        events.append(
            {
                "at": e.at,
                "action": e.action,
                "interface": e.interface,
                "vlans": status.vlan_text(vlans),
                "reason": e.reason,
            }
        )
    return {"count": count, "events": events[-count:]}


# -- the EOS CLI extension's commands -----------------------------------------------------


@dataclass(frozen=True)
class EosCommand:
    """One ``show vm-tracer …`` command, as EosVmTracer.yaml declares it."""

    name: str  # the command's name in the YAML (and in CliExtension.registerCommand)
    syntax: str
    answer: type  # the TypedDict of what the handler returns (its outputSchema)
    help: Mapping[str, str]  # keyword or argument -> help text
    matchers: Mapping[str, Mapping[str, Any]]  # argument -> its EOS matcher (besides help)


_KEYWORD = "VLANs that eos-vmtracer provisions for VMware ESXi hosts"

COMMANDS: Tuple[EosCommand, ...] = (
    EosCommand(
        "showVmTracerSessions",
        "show vm-tracer sessions",
        SessionsAnswer,
        {"sessions": "vCenter sessions (state, sync, hosts, VMs, allowed VLANs)"},
        {},
    ),
    EosCommand(
        "showVmTracerInterfaces",
        "show vm-tracer interfaces",
        InterfacesAnswer,
        {"interfaces": "Managed interfaces (static, dynamic, required VLANs, pending removals)"},
        {},
    ),
    EosCommand(
        "showVmTracerVms",
        "show vm-tracer vms",
        VmsAnswer,
        {"vms": "VMs on hosts cabled to this switch (adapters, portgroups, VLANs, interfaces)"},
        {},
    ),
    EosCommand(
        "showVmTracerHosts",
        "show vm-tracer hosts",
        HostsAnswer,
        {"hosts": "ESXi hosts (which vmnic hears this switch on which interface)"},
        {},
    ),
    EosCommand(
        "showVmTracerInterface",
        "show vm-tracer interface <interface> [vlan <vlan>]",
        InterfaceAnswer,
        {
            "interface": "One interface in detail: why each VLAN is (or is not) on it",
            "<interface>": "Ethernet or Port-Channel interface (e.g. Ethernet1, Et1/1, Po10)",
            "vlan": "Only this VLAN",
            "<vlan>": "VLAN id",
        },
        {
            "<interface>": {
                "regex": {"regex": r"^([Ee][Tt][A-Za-z]*|[Pp][Oo][A-Za-z-]*)[0-9]+(/[0-9]+)*$"}
            },
            "<vlan>": {"integer": {"min": 1, "max": 4094}},
        },
    ),
    EosCommand(
        "showVmTracerVm",
        "show vm-tracer vm <vm>",
        VmAnswer,
        {
            "vm": "One VM: its adapters, VLANs and the ports that carry them",
            "<vm>": "VM name (as vCenter shows it) or managed object id (vm-123)",
        },
        {"<vm>": {"regex": {"regex": r"^[^\s]+$"}}},
    ),
    EosCommand(
        "showVmTracerHost",
        "show vm-tracer host <host>",
        HostAnswer,
        {
            "host": "One ESXi host: its vmnics, ports and VMs",
            "<host>": "Host name, short name or managed object id (host-12)",
        },
        {"<host>": {"regex": {"regex": r"^[^\s]+$"}}},
    ),
    EosCommand(
        "showVmTracerHistory",
        "show vm-tracer history [count <count>]",
        HistoryAnswer,
        {
            "history": "Changes vmtracer made (or failed to make), with their reasons",
            "count": "How many of the newest changes (default 50)",
            "<count>": "Number of changes",
        },
        {"<count>": {"integer": {"min": 1, "max": MAX_COUNT}}},
    ),
)
KEYWORD_HELP = {"vm-tracer": _KEYWORD}


def command(name: str) -> EosCommand:
    """The command called ``name`` (KeyError if there is none)."""
    for c in COMMANDS:
        if c.name == name:
            return c
    raise KeyError(name)


def _arg(args: Mapping[str, Any], key: str) -> Optional[Any]:
    value = args.get(key)
    return None if value is None or value == "" else value


def _int_arg(args: Mapping[str, Any], key: str) -> Optional[int]:
    value = _arg(args, key)
    return None if value is None else int(value)


def answer(name: str, args: Mapping[str, Any], run_dir_hint: str = "") -> Answer:
    """What EOS command ``name`` answers for ``args`` (``ctx.args``: ``{"<vm>": "web01"}``).

    ``run_dir_hint`` is the ``run_dir`` the daemon published (``""`` if none). Raises
    :class:`LookupError` (nothing by that name), :class:`~eos_vmtracer.status.StatusUnavailable`
    (no running agent) with the message for the operator.
    """
    command(name)  # KeyError for an unknown command
    run_dir, state_dir = _directories(run_dir_hint)
    if name == "showVmTracerHistory":
        # The history is on flash: readable while the agent is down.
        with contextlib.suppress(status.StatusUnavailable):
            state_dir = status.read_status(run_dir)["agent"]["state_dir"] or state_dir
        return history(state_dir, _int_arg(args, "<count>") or DEFAULT_COUNT)
    doc = status.read_status(run_dir)
    simple: Dict[str, Callable[[StatusDocument], Answer]] = {
        "showVmTracerSessions": sessions,
        "showVmTracerInterfaces": interfaces,
        "showVmTracerVms": vms,
        "showVmTracerHosts": hosts,
    }
    if name in simple:
        return simple[name](doc)
    if name == "showVmTracerInterface":
        return interface(doc, str(_arg(args, "<interface>")), _int_arg(args, "<vlan>"))
    if name == "showVmTracerVm":
        return vm(doc, str(_arg(args, "<vm>")))
    return host(doc, str(_arg(args, "<host>")))


def _directories(run_dir_hint: str) -> Tuple[str, str]:
    """``run_dir`` (as the daemon says, else as the configuration file says, else the
    default) and ``state_dir`` (as the file says, else the default)."""
    from eos_vmtracer.config import ConfigError, SwitchConfig, default_path, read_toml

    defaults = SwitchConfig()
    table: Mapping[str, Any] = {}
    try:
        switch = read_toml(default_path()).get("switch")
        if isinstance(switch, dict):
            table = switch
    except ConfigError:  # absent or unreadable: the defaults apply
        table = {}

    def setting(key: str, default: str) -> str:
        value = table.get(key)
        return value if isinstance(value, str) and value else default

    return (
        run_dir_hint or setting("run_dir", defaults.run_dir),
        setting("state_dir", defaults.state_dir),
    )


def text(name: str, data: Any, now: float) -> str:
    """``data`` (what command ``name`` answered) as ``vmtracer`` prints it."""
    tables: Dict[str, Callable[[Any, float], str]] = {
        "showVmTracerSessions": render.sessions_table,
        "showVmTracerInterfaces": render.interfaces_table,
        "showVmTracerVms": render.vms_table,
        "showVmTracerHosts": render.hosts_table,
        "showVmTracerInterface": render.interface_detail,
        "showVmTracerVm": render.vm_detail,
        "showVmTracerHost": render.host_detail,
    }
    if name == "showVmTracerHistory":
        return render.history_table(data["events"])
    return tables[name](data, now)


def main(argv: Optional[List[str]] = None) -> int:
    """For a CLI handler that cannot import this package (EOS's Python 2.7 CLI).

    ``answer NAME RUN_DIR ARGS_JSON`` prints ``{"data": …}`` or ``{"error": "…"}`` (the
    CLI's ``% vm-tracer: …`` line, escaped);
    ``text NAME`` reads an answer on stdin and prints it as ``vmtracer`` does.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 4 and args[0] == "answer":
        try:
            data: Any = answer(args[1], json.loads(args[3]), args[2])
            out: Dict[str, Any] = {"data": data}
        except (LookupError, status.StatusUnavailable, ValueError) as e:
            why = str(e.args[0]) if isinstance(e, LookupError) else str(e)
            out = {"error": shown(f"vm-tracer: {why}")}
        print(json.dumps(out))
        return 0
    if len(args) == 2 and args[0] == "text":
        print(text(args[1], json.load(sys.stdin), time.time()))
        return 0
    print("usage: views answer NAME RUN_DIR ARGS_JSON | views text NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
