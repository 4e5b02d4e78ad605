"""Wall-clock times as people read them: one format for logs, tables, reasons and errors.

What this module is for: every time stamp the agent shows a person (``vmtracer
show``, ``explain``, the daemon status, a planner's reason, a stale-status error)
is :func:`wall_clock`'s ``2026-11-29 07:12:00`` in the switch's local time.

It must never read the clock itself (the time is passed in) and never raise for
a missing time (``0`` or ``None`` is ``-``).
"""

from __future__ import annotations

import time
from typing import Optional

FORMAT = "%Y-%m-%d %H:%M:%S"


def wall_clock(t: Optional[float]) -> str:
    """``t`` (seconds since the epoch) as local ``YYYY-MM-DD HH:MM:SS``; ``-`` for none."""
    if not t:
        return "-"
    return time.strftime(FORMAT, time.localtime(t))
