"""Progress of a long read on a terminal: one line on stderr, rewritten in place.

What this module is for: ``vmtracer plan`` and ``check`` read the whole of every
vCenter before they print anything (20 s at 20,000 VMs). On a terminal,
:class:`Progress` shows how far that has got (sessions connected, hosts and VMs
read, hosts asked for their neighbours) on one line of stderr, and erases it
when done. When stderr is not a terminal (piped, in a script) it writes nothing.

It must never write to stdout, never write anything when stderr is not a
terminal, and never fail the command (a broken stderr is ignored).
"""

from __future__ import annotations

import sys
from typing import Optional, Protocol, Sequence, TextIO


class SyncProgress(Protocol):
    """What a session says about its sync (see ``VcenterSession.progress``)."""

    @property
    def connected(self) -> bool: ...
    @property
    def synced(self) -> bool: ...
    @property
    def hosts(self) -> int: ...
    @property
    def vms(self) -> int: ...
    @property
    def hints(self) -> int: ...


def line(names: Sequence[str], states: Sequence[SyncProgress]) -> str:
    """``vCenter 1/2 connected, 1/2 synchronised: 120 hosts, 2,400 VMs read, 80 hints asked``."""
    connected = sum(1 for p in states if p.connected)
    synced = sum(1 for p in states if p.synced)
    hosts = sum(p.hosts for p in states)
    vms = sum(p.vms for p in states)
    hints = sum(p.hints for p in states)
    total = len(names)
    return (
        f"vCenter: {connected}/{total} connected, {synced}/{total} synchronised:"
        f" {hosts:,} hosts, {vms:,} VMs read, {hints:,} hosts asked for neighbours"
    )


class Progress:
    """One status line on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, stream: Optional[TextIO] = None, enabled: Optional[bool] = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            try:
                enabled = self._stream.isatty()
            except (AttributeError, ValueError, OSError):
                enabled = False
        self.enabled = enabled
        self._shown = ""

    def show(self, text: str) -> None:
        """Replace the line with ``text`` (nothing when disabled or unchanged)."""
        if not self.enabled or text == self._shown:
            return
        self._write("\r\x1b[K" + text)
        self._shown = text

    def clear(self) -> None:
        """Erase the line (before the command prints its result)."""
        if self.enabled and self._shown:
            self._write("\r\x1b[K")
            self._shown = ""

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self.enabled = False


__all__ = ["Progress", "line"]
