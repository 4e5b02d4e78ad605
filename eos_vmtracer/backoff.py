"""One retry policy: capped exponential backoff with jitter.

What this module is for: every retry in the agent (eAPI commands, the agent's
own loop after a switch or flash failure, vCenter reconnects) waits
:meth:`Backoff.delay` seconds: ``initial * 2**failures`` capped at ``maximum``,
then jittered down to between half and all of it (so that many switches that fail
together do not retry together, and the cap is never exceeded).

It must never sleep, never keep state (the caller counts failures), and never
return a negative delay or one above ``maximum``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

_RANDOM = random.Random()


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff: ``delay(0)`` is about ``initial``, doubling up to ``maximum``."""

    initial: float
    maximum: float

    def __post_init__(self) -> None:
        if not 0 <= self.initial <= self.maximum:
            raise ValueError(f"backoff wants 0 <= initial <= maximum, not {self}")

    def ceiling(self, failures: int) -> float:
        """The delay before jitter after ``failures`` consecutive failures (0: the first)."""
        factor: float = 2.0 ** min(max(failures, 0), 60)
        return min(self.maximum, self.initial * factor)

    def delay(self, failures: int, rng: Optional[random.Random] = None) -> float:
        """Seconds to wait after ``failures`` consecutive failures: jittered into
        ``[ceiling / 2, ceiling]``."""
        top = self.ceiling(failures)
        return (rng or _RANDOM).uniform(top / 2, top)
