"""One full synchronisation, outside the agent: for ``vmtracer check`` and ``vmtracer plan``.

What this module is for: connect to every configured vCenter and to eAPI once,
wait until each session has synchronised (or failed for good), and hand back the
inventory and the switch facts, with what went wrong where.

It must never change the switch, the ledger or the agent's status: it only reads
(the ledger is read without being moved aside, even when corrupt).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from eos_vmtracer.config import Config
from eos_vmtracer.ledger import FILE_NAME as LEDGER_FILE
from eos_vmtracer.ledger import CorruptLedger, Ledger
from eos_vmtracer.model import Inventory, SessionState, SwitchFacts
from eos_vmtracer.progress import Progress
from eos_vmtracer.progress import line as progress_line

_TERMINAL = (SessionState.AUTH_FAILED, SessionState.TLS_ERROR)


@dataclass
class Collected:
    """What one synchronisation found."""

    inventory: Inventory = field(default_factory=Inventory)
    facts: Optional[SwitchFacts] = None
    switch_error: str = ""
    session_errors: dict[str, str] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)
    """Session -> through which VRF and source address it reached vCenter."""


def collect(
    config: Config,
    timeout: float = 60.0,
    *,
    want_switch: bool = True,
    progress: Optional[Progress] = None,
) -> Collected:
    """Synchronise every session (in parallel) and read the switch; with ``progress``,
    say how far the sessions have got meanwhile."""
    from eos_vmtracer.switch import EapiSwitch, SwitchError
    from eos_vmtracer.switch.addresses import interface_address
    from eos_vmtracer.vcenter import VcenterSession

    def source_address(interface: str, vrf: str) -> str:
        return interface_address(config.switch, interface, vrf)

    out = Collected()
    changed = threading.Event()
    sessions = [
        VcenterSession(s, changed.set, source_address=source_address) for s in config.sessions
    ]
    names = [s.name for s in sessions]
    tick = 0.2 if progress is not None and progress.enabled else 0.5
    for s in sessions:
        s.start()
    try:
        if want_switch:
            try:
                with EapiSwitch(config.switch, retries=1) as switch:
                    out.facts = switch.facts()
            except SwitchError as e:
                out.switch_error = str(e)
        deadline = time.monotonic() + timeout
        while True:
            if progress is not None:
                progress.show(progress_line(names, [s.progress() for s in sessions]))
            snaps = [s.snapshot() for s in sessions]
            if all(x.synced or x.state in _TERMINAL for x in snaps):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            changed.wait(min(left, tick))
            changed.clear()
        snaps = [s.snapshot() for s in sessions]
        out.inventory = Inventory(tuple(snaps))
        for session, snap in zip(sessions, snaps):
            if session.route:
                out.routes[snap.name] = session.route
            if not snap.synced:
                why = snap.error or f"not synchronised after {timeout:g}s"
                out.session_errors[snap.name] = f"{snap.state.value}: {why}"
    finally:
        if progress is not None:
            progress.clear()
        for s in sessions:
            s.stop()
    return out


def peek_ledger(state_dir: str) -> Ledger:
    """The ledger as it is on flash, read-only; untrusted if it cannot be read."""
    import os

    path = os.path.join(state_dir, LEDGER_FILE)
    try:
        with open(path, "rb") as f:
            return Ledger.from_bytes(f.read())
    except FileNotFoundError:
        return Ledger()
    except (OSError, CorruptLedger):
        return Ledger(trusted=False)
