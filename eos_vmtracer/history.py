"""The change history: every change the agent made (or would make), with its reason.

What this module is for: one JSON line per event in ``state_dir/history.jsonl``,
written when a plan is applied (or fails), so that ``vmtracer show history``
answers "what changed on my switch, when, and why" across restarts. The file is
rotated at :data:`MAX_BYTES` (one older file kept), so flash is never filled.

It must never hold a secret, and a failure to write it must never stop the agent
from working (the caller logs it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Literal, Optional, get_args

FILE_NAME = "history.jsonl"
MAX_BYTES = 1024 * 1024


Action = Literal[
    "add", "remove", "create-vlan", "delete-vlan", "repair", "error", "start", "stop", "resync"
]
"""What a history line records."""
ACTIONS: frozenset[str] = frozenset(get_args(Action))


@dataclass(frozen=True)
class Event:
    """One line of history."""

    at: float
    action: Action
    interface: str = ""
    vlans: str = ""
    reason: str = ""


class History:
    """The history file of one agent."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, FILE_NAME)

    def append(self, events: list[Event]) -> None:
        """Append ``events``; rotate first when the file is full."""
        if not events:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            if os.path.getsize(self.path) > MAX_BYTES:
                os.replace(self.path, self.path + ".1")
        except FileNotFoundError:
            pass
        lines = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in events)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())

    def read(self, limit: Optional[int] = None) -> list[Event]:
        """The newest ``limit`` events (all when None), oldest first; bad lines are skipped."""
        events = list(self._lines(self.path + ".1")) + list(self._lines(self.path))
        return events[-limit:] if limit else events

    @staticmethod
    def _lines(path: str) -> Iterator[Event]:
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    event = _parse(line)
                    if event is not None:
                        yield event
        except FileNotFoundError:
            return


def _parse(line: str) -> Optional[Event]:
    try:
        raw: Any = json.loads(line)
        action = raw["action"]
        if action not in ACTIONS:
            return None  # not a line this agent writes
        return Event(
            at=float(raw["at"]),
            action=action,
            interface=str(raw.get("interface", "")),
            vlans=str(raw.get("vlans", "")),
            reason=str(raw.get("reason", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None
