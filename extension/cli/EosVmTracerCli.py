"""EOS CLI extension handlers: ``show vm-tracer sessions|interfaces|vms|hosts``.

What this module is for: EOS loads it as a CLI plugin (``EosVmTracer.yaml`` names
the commands, :func:`Plugin` registers one class per command). Each handler reads
the running agent's status document, the same one ``vmtracer show`` reads, and
returns the part its command shows, shaped as the command's ``outputSchema`` says
(so eAPI answers JSON); ``render`` prints it as the same EOS-style table as
``vmtracer show``. That text is escaped by the renderers, and the ``% ...`` errors
here are escaped too (:func:`eos_vmtracer.shown.shown`): this runs at privilege 1,
where a name from vCenter must not reach the terminal raw. The JSON keeps raw
values (JSON escapes on its own).

It must never change anything (the switch, a file, the agent), never raise into
the CLI (a missing or stale agent is one ``% ...`` error), and never shadow EOS's
own Python modules: the extension's private library directory is appended to
``sys.path``, never put in front.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from typing import Any, Dict, Optional

import CliExtension

DAEMON = "EosVmTracer"
"""The daemon name README configures; its ``run_dir`` status says where the status is."""
NAMESPACE = "eos_vmtracer"
SECTIONS = ("sessions", "interfaces", "vms", "hosts")


def library_dir() -> str:
    """``<prefix>/lib/eos-vmtracer/site``, next to this file's ``<prefix>/share``."""
    here = os.path.dirname(os.path.realpath(__file__))  # <prefix>/share/CliExtension/CliPlugin
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    return os.path.join(prefix, "lib", "eos-vmtracer", "site")


def _ensure_package() -> None:
    if importlib.util.find_spec("eos_vmtracer") is None:
        path = library_dir()
        if path not in sys.path:
            sys.path.append(path)


def _daemon_run_dir(ctx: Any) -> str:
    """``run_dir`` as the daemon published it (``show daemon EosVmTracer``), or ``""``."""
    try:
        daemon = ctx.getDaemon(DAEMON)
        if daemon is None:
            return ""
        value = daemon.status.status("run_dir")
    except Exception:  # an EOS without this API, or no such daemon: fall back
        return ""
    return value if isinstance(value, str) else ""


def _configured_run_dir() -> str:
    """``[switch] run_dir`` from the configuration file, or ``""``."""
    # tomllib on Python 3.11+, tomli before: as the configuration loader has it.
    from eos_vmtracer.config import default_path, tomllib

    try:
        with open(default_path(), "rb") as f:
            data = tomllib.load(f)
    except Exception:  # absent or unreadable: the default applies
        return ""
    switch = data.get("switch")
    value = switch.get("run_dir") if isinstance(switch, dict) else None
    return value if isinstance(value, str) else ""


def run_dir(ctx: Any) -> str:
    """Where the agent publishes its status: as the daemon says, as the file says, or the
    default."""
    _ensure_package()
    from eos_vmtracer.config import SwitchConfig

    return _daemon_run_dir(ctx) or _configured_run_dir() or SwitchConfig().run_dir


def view(doc: Dict[str, Any], section: str) -> Dict[str, Any]:
    """What ``show vm-tracer SECTION`` returns: the agent, eAPI reachability, SECTION."""
    agent = doc["agent"]
    switch = doc["switch"]
    out_switch = {"reachable": bool(switch["reachable"]), "error": str(switch["error"])}
    for key in ("since", "hostname", "model", "version"):
        if key in switch:
            out_switch[key] = switch[key]
    return {
        "agent": {
            "running": True,
            "version": agent["version"],
            "pid": agent["pid"],
            "started": agent["started"],
            "updated": agent["updated"],
            "dry_run": agent["dry_run"],
            "hostname": agent.get("hostname", ""),
        },
        "switch": out_switch,
        section: doc[section],
    }


def _shown(text: str) -> str:
    """``text`` escaped for the terminal; never raises (the package may be missing)."""
    try:
        _ensure_package()
        from eos_vmtracer.shown import shown
    except Exception:
        return "vm-tracer: the eos-vmtracer package cannot be loaded"
    return shown(text)


class ShowVmTracer(CliExtension.ShowCommandClass):
    """``show vm-tracer SECTION``; subclasses set ``section``."""

    section = ""

    def handler(self, ctx: Any) -> Optional[Dict[str, Any]]:
        """The data (validated by EOS against the command's outputSchema)."""
        try:
            directory = run_dir(ctx)
            from eos_vmtracer.status import StatusUnavailable, read_status

            try:
                doc = read_status(directory)
            except StatusUnavailable as e:
                ctx.addError(_shown(f"vm-tracer: {e}"))
                return None
            return view(doc, self.section)
        except Exception as e:  # never a traceback in the CLI
            ctx.addError(_shown(f"vm-tracer: cannot read the agent's status: {e}"))
            return None

    def render(self, data: Dict[str, Any]) -> None:
        """The EOS-style table, as ``vmtracer show SECTION`` prints it."""
        _ensure_package()
        from eos_vmtracer import render

        renderer = {
            "sessions": render.sessions_table,
            "interfaces": render.interfaces_table,
            "vms": render.vms_table,
            "hosts": render.hosts_table,
        }[self.section]
        print(renderer(data, time.time()))


class ShowVmTracerSessions(ShowVmTracer):
    """``show vm-tracer sessions``."""

    section = "sessions"


class ShowVmTracerInterfaces(ShowVmTracer):
    """``show vm-tracer interfaces``."""

    section = "interfaces"


class ShowVmTracerVms(ShowVmTracer):
    """``show vm-tracer vms``."""

    section = "vms"


class ShowVmTracerHosts(ShowVmTracer):
    """``show vm-tracer hosts``."""

    section = "hosts"


COMMANDS = {
    "showVmTracerSessions": ShowVmTracerSessions,
    "showVmTracerInterfaces": ShowVmTracerInterfaces,
    "showVmTracerVms": ShowVmTracerVms,
    "showVmTracerHosts": ShowVmTracerHosts,
}
"""Command name in EosVmTracer.yaml -> handler class."""


def Plugin(ctx: Any) -> None:
    """Register every command with EOS."""
    for name, cls in COMMANDS.items():
        CliExtension.registerCommand(name, cls, namespace=NAMESPACE)
