# -*- coding: utf-8 -*-
# ruff: noqa: UP009, UP010, UP031, RUF005 - Python 2.7 syntax on purpose (see below)
"""EOS CLI extension handlers: the ``show vm-tracer ...`` commands.

What this module is for: EOS loads it as a CLI plugin (``EosVmTracer.yaml`` names
the commands, :func:`Plugin` registers one class per command). Each handler answers
what ``vmtracer show``/``explain`` answer in bash, from the same running agent's
status document, shaped as the command's ``outputSchema`` says (so eAPI answers
JSON); ``render`` prints it as ``vmtracer`` prints it. The answers and the text come
from ``eos_vmtracer.views``; this module only finds the agent and calls it.

EOS releases before 4.30.2F run the CLI, and so this module, on Python 2.7; later
releases on Python 3.9. The file is therefore written in the syntax both accept
(no f-strings, no annotations: type comments). On Python 3.9 it imports
``eos_vmtracer`` from the extension's private library; on Python 2.7 it cannot (the
package is Python 3.9 code), so it runs the same functions in EOS's ``python3``
(``eos_vmtracer.views.main``) and passes JSON both ways.

The text is escaped by the renderers, and the ``% ...`` errors are escaped too
(``eos_vmtracer.shown``; under Python 2.7 by python3, or, if even that fails, cut
to printable ASCII here): this runs at privilege 1, where a name from vCenter must
not reach the terminal raw. The JSON keeps raw values (JSON escapes on its own).

It must never change anything (the switch, a file, the agent), never raise into
the CLI (a missing or stale agent, or an unknown name, is one ``% ...`` error), and
never shadow EOS's own Python modules: the extension's private library directory is
appended to ``sys.path``, never put in front.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import threading
import time

import CliExtension

MYPY = False  # mypy takes this as True: the typing names exist only for type comments
if MYPY:
    from typing import Any, Dict, List, Optional, Tuple  # noqa: F401 # novermin

DAEMON = "EosVmTracer"
"""The daemon name README configures; its ``run_dir`` status says where the status is."""
NAMESPACE = "eos_vmtracer"
IN_PROCESS = sys.version_info >= (3, 9)
"""True where this CLI's Python can import eos_vmtracer (EOS 4.30.2F and later)."""
PYTHON3 = "python3"
"""EOS's Python 3.9, which runs eos_vmtracer for a Python 2.7 CLI."""
TIMEOUT = 30.0
"""Seconds a Python 2.7 CLI waits for python3 before it gives up."""


def library_dir():
    # type: () -> str
    """``<prefix>/lib/eos-vmtracer/site``, next to this file's real location.

    The module lives in ``<prefix>/share/CliExtension/CliPlugin`` and is linked from
    ``<prefix>/lib/python*/site-packages/CliPlugin``; both resolve to the first.
    """
    here = os.path.dirname(os.path.realpath(__file__))
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    return os.path.join(prefix, "lib", "eos-vmtracer", "site")


def _ensure_package():
    # type: () -> None
    try:
        import eos_vmtracer  # noqa: F401
    except ImportError:
        path = library_dir()
        if path not in sys.path:
            sys.path.append(path)


def _daemon_run_dir(ctx):
    # type: (Any) -> str
    """``run_dir`` as the daemon published it (``show daemon EosVmTracer``), or ``""``."""
    try:
        daemon = ctx.getDaemon(DAEMON)
        if daemon is None:
            return ""
        value = daemon.status.status("run_dir")
    except Exception:  # an EOS without this API, or no such daemon: fall back
        return ""
    return value if value and hasattr(value, "encode") else ""  # str (or Python 2 unicode)


def _args(ctx):
    # type: (Any) -> Dict[str, Any]
    """The command's arguments (``{"<vm>": "web01"}``), as plain JSON values."""
    try:
        raw = dict(getattr(ctx, "args", None) or {})
    except Exception:
        return {}
    out = {}  # type: Dict[str, Any]
    for key, value in raw.items():
        if not (hasattr(key, "startswith") and key.startswith("<")) or value is None:
            continue  # keywords, and EOS's own entries
        out[key] = value if isinstance(value, int) or hasattr(value, "encode") else "%s" % value
    return out


def _python3(args, stdin=b""):
    # type: (List[str], bytes) -> bytes
    """Run ``eos_vmtracer.views.main(args)`` in EOS's Python 3.9; its stdout (UTF-8)."""
    code = (
        "import sys; sys.path.insert(0, %r); "
        "from eos_vmtracer.views import main; sys.exit(main())" % library_dir()
    )
    proc = subprocess.Popen(
        [PYTHON3, "-c", code] + args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()
    try:
        out, err = proc.communicate(stdin)
    finally:
        timer.cancel()
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines() or ["killed after timeout"]
        raise RuntimeError("%s failed: %s" % (PYTHON3, lines[-1]))
    return out


def _shown(text):
    # type: (str) -> str
    """``text`` escaped for the terminal; never raises (the package may be missing)."""
    if IN_PROCESS:
        try:
            _ensure_package()
            from eos_vmtracer.shown import shown

            return shown(text)
        except Exception:
            pass
    # Python 2.7, or no package: printable ASCII only (fails closed).
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def answer(command, ctx):
    # type: (str, Any) -> Tuple[Optional[Dict[str, Any]], str]
    """What ``command`` answers, or ``(None, error)``: the ``% ...`` line, escaped."""
    run_dir = _daemon_run_dir(ctx)
    args = _args(ctx)
    if IN_PROCESS:
        _ensure_package()
        from eos_vmtracer import views
        from eos_vmtracer.status import StatusUnavailable

        try:
            return dict(views.answer(command, args, run_dir)), ""
        except LookupError as e:
            return None, _shown("vm-tracer: %s" % (e.args[0],))
        except (StatusUnavailable, ValueError) as e:
            return None, _shown("vm-tracer: %s" % (e,))
    reply = json.loads(_python3(["answer", command, run_dir, json.dumps(args)]).decode("utf-8"))
    return reply.get("data"), reply.get("error", "")


class ShowVmTracer(CliExtension.ShowCommandClass):  # type: ignore[misc]
    """``show vm-tracer ...``; subclasses set ``command`` (its name in the YAML)."""

    command = ""
    section = ""

    def handler(self, ctx):
        # type: (Any) -> Optional[Dict[str, Any]]
        """The data (validated by EOS against the command's outputSchema)."""
        try:
            data, error = answer(self.command, ctx)
        except Exception as e:  # never a traceback in the CLI
            ctx.addError(_shown("vm-tracer: cannot read the agent's status: %s" % (e,)))
            return None
        if error:
            ctx.addError(error)
            return None
        return data

    def render(self, data):
        # type: (Dict[str, Any]) -> None
        """The text ``vmtracer`` prints for the same question."""
        if IN_PROCESS:
            _ensure_package()
            from eos_vmtracer import views

            print(views.text(self.command, data, time.time()))
            return
        text = _python3(["text", self.command], json.dumps(data).encode("utf-8"))
        # UTF-8 bytes, whatever the terminal's encoding: names come from vCenter.
        out = getattr(sys.stdout, "buffer", sys.stdout)  # type: Any  # Python 2: stdout takes bytes
        out.write(text)
        sys.stdout.flush()


class ShowVmTracerSessions(ShowVmTracer):
    """``show vm-tracer sessions``."""

    command = "showVmTracerSessions"
    section = "sessions"


class ShowVmTracerInterfaces(ShowVmTracer):
    """``show vm-tracer interfaces``."""

    command = "showVmTracerInterfaces"
    section = "interfaces"


class ShowVmTracerVms(ShowVmTracer):
    """``show vm-tracer vms``."""

    command = "showVmTracerVms"
    section = "vms"


class ShowVmTracerHosts(ShowVmTracer):
    """``show vm-tracer hosts``."""

    command = "showVmTracerHosts"
    section = "hosts"


class ShowVmTracerInterface(ShowVmTracer):
    """``show vm-tracer interface INTERFACE [vlan VLAN]``."""

    command = "showVmTracerInterface"
    section = "interface"


class ShowVmTracerVm(ShowVmTracer):
    """``show vm-tracer vm VM``."""

    command = "showVmTracerVm"
    section = "vm"


class ShowVmTracerHost(ShowVmTracer):
    """``show vm-tracer host HOST``."""

    command = "showVmTracerHost"
    section = "host"


class ShowVmTracerHistory(ShowVmTracer):
    """``show vm-tracer history [count N]``."""

    command = "showVmTracerHistory"
    section = "history"


COMMANDS = dict(
    (cls.command, cls)
    for cls in (
        ShowVmTracerSessions,
        ShowVmTracerInterfaces,
        ShowVmTracerVms,
        ShowVmTracerHosts,
        ShowVmTracerInterface,
        ShowVmTracerVm,
        ShowVmTracerHost,
        ShowVmTracerHistory,
    )
)
"""Command name in EosVmTracer.yaml -> handler class."""


def Plugin(ctx):
    # type: (Any) -> None
    """Register every command with EOS."""
    for name, cls in COMMANDS.items():
        CliExtension.registerCommand(name, cls, namespace=NAMESPACE)
