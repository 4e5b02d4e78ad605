"""Which EOS daemon the running agent is: ``daemon.json`` in ``run_dir``, for ``vmtracer check``.

What this module is for: the EOS SDK delivers a daemon's options and shows its
status (``show daemon NAME``) under the name the process registers with. A daemon
configured under another name than the one the agent registers as gets no
options and no status, and nothing says so. The controller therefore writes
which name it registered as and which option names it saw (:func:`write`), and
``vmtracer check`` reads it back beside the running agent's status and says, in
words, when no option or no daemon status channel is there (:func:`check_lines`).

It must never hold an option's value (only names), never fail the agent's start
(a write that fails is the caller's warning), and never trust the file: a file
that does not parse, or that names another process, counts as absent.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Optional

from eos_vmtracer.eos.options import DEFAULT_DAEMON
from eos_vmtracer.fileio import write_json_atomic

FILE_NAME = "daemon.json"


@dataclass(frozen=True)
class Presence:
    """The daemon name this process registered with, its pid, the option names it saw."""

    name: str
    pid: int
    options: tuple[str, ...]


def path(run_dir: str) -> str:
    """Where the presence file lives."""
    return os.path.join(run_dir, FILE_NAME)


def write(run_dir: str, presence: Presence) -> None:
    """Publish ``presence`` atomically (raises ``OSError``)."""
    doc = {"name": presence.name, "pid": presence.pid, "options": list(presence.options)}
    write_json_atomic(path(run_dir), doc)


def clear(run_dir: str) -> None:
    """Remove the presence file, if there is one."""
    with contextlib.suppress(OSError):
        os.unlink(path(run_dir))


def read(run_dir: str) -> Optional[Presence]:
    """The presence file, or ``None`` when there is none or it is not one."""
    try:
        with open(path(run_dir), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    name, pid, options = doc.get("name"), doc.get("pid"), doc.get("options")
    if not isinstance(name, str) or not name or type(pid) is not int or pid <= 0:
        return None
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        return None
    return Presence(name, pid, tuple(options))


def check_lines(presence: Optional[Presence], agent_pid: int, on_eos: bool) -> list[str]:
    """What ``vmtracer check`` says about the running agent (pid ``agent_pid``) as a daemon.

    ``presence`` is :func:`read`'s answer; ``on_eos`` says whether this machine has
    the EOS SDK (where an agent outside it gets no options and shows no status).
    """
    if presence is None or presence.pid != agent_pid:
        if on_eos:
            return [
                f"daemon: WARNING: the running agent (pid {agent_pid}) is not an EOS SDK"
                " daemon: it sees no daemon option and shows no 'show daemon' status"
                f" (run it as 'daemon {DEFAULT_DAEMON}' with 'exec /usr/bin/vmtracer run')"
            ]
        return [f"daemon: none (the agent, pid {agent_pid}, runs without the EOS SDK)"]
    n = len(presence.options)
    lines = [
        f"daemon: {presence.name} (EOS SDK, pid {presence.pid}):"
        f" {n} option{'' if n == 1 else 's'} seen; status in 'show daemon {presence.name}'"
    ]
    if not presence.options:
        lines.append(
            f"daemon: WARNING: daemon {presence.name} sees no option: a daemon configured"
            f" under another name gets no options and shows no status (is it configured"
            f" as 'daemon {presence.name}'?)"
        )
    if presence.name != DEFAULT_DAEMON:
        lines.append(
            f"daemon: WARNING: registered as {presence.name}, not {DEFAULT_DAEMON}: 'show"
            f" vm-tracer' finds the status only through the configuration file's run_dir"
        )
    return lines
