"""The change history: every change the agent made (or would make), with its reason.

What this module is for: one JSON line per event in ``state_dir/history.jsonl``,
written when a plan is applied (or fails), so that ``vmtracer show history``
answers "what changed on my switch, when, and why" across restarts. The file is
rotated at :data:`MAX_BYTES` (one older file kept), so flash is never filled.

It must never hold a secret, never append through a symbolic link, and a failure
to write it must never stop the agent from working (the caller logs it). Reading
it must never fail on what the file holds: a line that is not UTF-8, not JSON or
not an event is skipped and counted (:attr:`History.skipped`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Literal, Optional, cast, get_args

from eos_vmtracer.fileio import append_text, file_size, parse_json

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
        self.skipped = 0
        """How many lines the last :meth:`read` skipped as unreadable."""

    def append(self, events: list[Event]) -> None:
        """Append ``events``; rotate first when the file is full."""
        if not events:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        size = file_size(self.path)  # of the file itself: a symlink is not followed
        if size is not None and size > MAX_BYTES:
            os.replace(self.path, self.path + ".1")
        lines = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in events)
        append_text(self.path, lines)

    def read(self, limit: Optional[int] = None) -> list[Event]:
        """The newest ``limit`` events (all when None), oldest first; bad lines are skipped
        and counted in :attr:`skipped`."""
        self.skipped = 0
        events = list(self._lines(self.path + ".1")) + list(self._lines(self.path))
        return events[-limit:] if limit else events

    def _lines(self, path: str) -> Iterator[Event]:
        try:
            with open(path, "rb") as f:
                for line in f:
                    if not line.strip():
                        continue
                    event = _parse(line)
                    if event is None:
                        self.skipped += 1
                    else:
                        yield event
        except FileNotFoundError:
            return


_LAST_SECOND = 253402300799.0  # 9999-12-31 23:59:59: the last time a table can print


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _parse(line: bytes) -> Optional[Event]:
    """One line as an event; None when it is not one (not UTF-8, not JSON, bad fields)."""
    try:
        raw: Any = parse_json(line)
        if not isinstance(raw, dict):
            return None
        at = raw.get("at")
        if isinstance(at, bool) or not isinstance(at, (int, float)):
            return None
        if not math.isfinite(at) or not 0 <= at <= _LAST_SECOND:
            return None
        action = raw.get("action")
        if not isinstance(action, str) or action not in ACTIONS:
            return None  # not a line this agent writes
        return Event(
            at=float(at),
            action=cast(Action, action),
            interface=_text(raw, "interface"),
            vlans=_text(raw, "vlans"),
            reason=_text(raw, "reason"),
        )
    except ValueError:
        return None
