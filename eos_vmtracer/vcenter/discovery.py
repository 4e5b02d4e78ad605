"""Which host to ask for its neighbours (QueryNetworkHint), and when.

What this module is for: :class:`Discovery` is a pure scheduler with an injected
clock. The session tells it what each host looks like (:class:`HostSignal`: connected,
which physical NICs have link, which vmnics its switches use) and what each answer
said; it answers with the hosts to ask now, most urgent first:

1. *urgent*: a host that appeared, (re)connected, had a physical NIC's link go down
   or up, or had its vSwitch/DVS uplinks change is asked at once. After a link-up it
   is asked again up to ``link_retries`` times, ``retry_spacing`` apart (ESXi learns a
   neighbour from the next CDP/LLDP frame only), until the NIC that came up hears a
   neighbour;
2. *heard*: a host heard on this switch is refreshed every ``hint_interval``;
3. *background*: the other hosts are refreshed every ``discovery_interval``, one at a
   time, evenly spaced (``discovery_interval`` / their number apart), the one asked
   longest ago first, so the background costs a steady trickle and never a burst.

Every call counts against a ceiling of ``max_per_minute`` calls in any sliding
minute; urgent asks go first. With ``event_driven`` off it behaves as the agent did
before (every host every ``hint_interval``, no ceiling): the benchmark's baseline.

It must never do I/O or read the real clock, never return a host it was not told
about, and never let the calls of any sliding minute exceed the ceiling.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional

WINDOW = 60.0  # seconds: the ceiling's sliding window


@dataclass(frozen=True)
class HostSignal:
    """What discovery watches of a host: anything that can change its cabling."""

    connected: bool
    links: frozenset[str]  # physical NICs (vmnic names) with link
    nics: frozenset[str] = frozenset()  # every physical NIC
    uplinks: Optional[frozenset[str]] = None  # vmnics its switches use (None: not watched)


@dataclass
class _Host:
    signal: HostSignal
    heard_here: bool = False
    last_asked: Optional[float] = None
    urgent_at: Optional[float] = None  # ask at (or after) this time, before anything else
    urgent_since: float = 0.0  # for ordering the urgent ones: oldest first
    retries_left: int = 0
    waiting_for: frozenset[str] = frozenset()  # NICs that came up and hear nobody yet
    asked_once: bool = False


class Discovery:
    """The hint schedule of one session."""

    def __init__(
        self,
        *,
        hint_interval: float,
        discovery_interval: float,
        max_per_minute: int,
        retry_spacing: float,
        link_retries: int = 3,
        event_driven: bool = True,
        clock: Callable[[], float],
    ) -> None:
        self.hint_interval = hint_interval
        self.discovery_interval = discovery_interval
        self.max_per_minute = max_per_minute
        self.retry_spacing = retry_spacing
        self.link_retries = link_retries
        self.event_driven = event_driven
        self._clock = clock
        self._hosts: dict[str, _Host] = {}
        self._calls: collections.deque[float] = collections.deque()
        self._next_background = 0.0
        self._next_heard = 0.0

    # -- what the session reports -------------------------------------------------------
    def update(self, hosts: Mapping[str, HostSignal]) -> bool:
        """The hosts as they are now; True when one of them became urgent."""
        now = self._clock()
        urgent = False
        for m in [m for m in self._hosts if m not in hosts]:
            del self._hosts[m]
        for m, signal in hosts.items():
            h = self._hosts.get(m)
            if h is None:
                self._hosts[m] = _Host(signal, urgent_at=now, urgent_since=now)
                urgent = True
                continue
            old, h.signal = h.signal, signal
            if old == signal:
                continue
            came_up = signal.links - old.links
            went_down = old.links - signal.links
            reconnected = signal.connected and not old.connected
            uplinks_moved = (
                old.uplinks is not None
                and signal.uplinks is not None
                and old.uplinks != signal.uplinks
            )
            if not (came_up or went_down or reconnected or uplinks_moved):
                continue
            if not self.event_driven and not reconnected:
                continue
            self._make_urgent(h, now)
            urgent = True
            if came_up and self.event_driven:
                h.retries_left = self.link_retries
                h.waiting_for = h.waiting_for | came_up
        return urgent

    def answered(self, host: str, heard_here: bool, hearing: Iterable[str]) -> None:
        """A hint answer: whether it names this switch, and which NICs hear anybody."""
        h = self._hosts.get(host)
        if h is None:
            return
        now = self._clock()
        h.heard_here = heard_here
        h.asked_once = True
        h.last_asked = now
        h.waiting_for = h.waiting_for - frozenset(hearing)
        self._after_ask(h, now)

    def failed(self, host: str) -> None:
        """A hint call that failed (host not connected, fault): retried on schedule."""
        h = self._hosts.get(host)
        if h is None:
            return
        now = self._clock()
        h.asked_once = True
        h.last_asked = now
        self._after_ask(h, now)

    def refresh(self, host: Optional[str] = None, at: Optional[float] = None) -> None:
        """Ask ``host`` (None: every host; the switch began sending CDP on new ports, so
        any of them may hear it now) at once, or no later than ``at`` (clock seconds)."""
        when = self._clock() if at is None else at
        for m, h in self._hosts.items():
            if host is None or m == host:
                self._make_urgent(h, when)

    def room(self) -> int:
        """How many more calls the ceiling allows now."""
        self._expire(self._clock())
        return self._budget()

    def forget_heard(self) -> None:
        """The switch's identity changed: what was heard here must be asked again."""
        now = self._clock()
        for h in self._hosts.values():
            self._make_urgent(h, now)

    # -- what the session asks -------------------------------------------------------------
    def due(self) -> list[str]:
        """The hosts to ask now, most urgent first, within the ceiling."""
        now = self._clock()
        self._expire(now)
        budget = self._budget()
        if budget <= 0:
            return []
        out: list[str] = []
        urgent = sorted(
            (h.urgent_since, m)
            for m, h in self._hosts.items()
            if h.urgent_at is not None and h.urgent_at <= now and h.signal.connected
        )
        out.extend(m for _, m in urgent[:budget])
        if not self.event_driven:
            for m, h in sorted(self._hosts.items()):
                if len(out) >= budget:
                    break
                if m not in out and h.signal.connected and self._periodic_due(h, now):
                    out.append(m)
            return out
        if len(out) < budget:
            out.extend(self._paced(now, heard=True, budget=budget - len(out), taken=out))
        if len(out) < budget:
            out.extend(self._paced(now, heard=False, budget=budget - len(out), taken=out))
        return out

    def asking(self, host: str, calls: int = 1) -> None:
        """Count ``calls`` QueryNetworkHint calls made now for ``host``."""
        now = self._clock()
        for _ in range(calls):
            self._calls.append(now)

    def next_due(self) -> Optional[float]:
        """When :meth:`due` may next return something (clock seconds), if ever."""
        now = self._clock()
        times: list[float] = []
        for h in self._hosts.values():
            if not h.signal.connected:
                continue
            if h.urgent_at is not None:
                times.append(h.urgent_at)
            elif not self.event_driven:
                times.append((h.last_asked or now) + self.hint_interval)
        if self.event_driven:
            for heard in (True, False):
                when = self._paced_next(heard)
                if when is not None:
                    times.append(when)
        if not times:
            return None
        when = max(now, min(times))
        self._expire(now)
        if self._budget() <= 0 and self._calls:
            when = max(when, self._calls[0] + WINDOW)
        return when

    # -- what status shows -------------------------------------------------------------------
    def calls_last_minute(self) -> int:
        self._expire(self._clock())
        return len(self._calls)

    def heard_here(self) -> frozenset[str]:
        return frozenset(m for m, h in self._hosts.items() if h.heard_here)

    def unasked(self) -> list[str]:
        """Connected hosts never asked yet (the session is not synchronised meanwhile)."""
        return [m for m, h in self._hosts.items() if h.signal.connected and not h.asked_once]

    # -- internals -------------------------------------------------------------------------
    def _make_urgent(self, h: _Host, when: float) -> None:
        """Ask ``h`` at ``when``, or earlier when it is due earlier already."""
        if h.urgent_at is None:
            h.urgent_since = when
            h.urgent_at = when
        else:
            h.urgent_at = min(h.urgent_at, when)

    def _after_ask(self, h: _Host, now: float) -> None:
        if h.retries_left > 0 and h.waiting_for and h.signal.links & h.waiting_for:
            h.retries_left -= 1
            h.urgent_at = now + self.retry_spacing
            h.urgent_since = now
        else:
            h.retries_left = 0
            h.waiting_for = frozenset()
            h.urgent_at = None

    def _expire(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - WINDOW:
            self._calls.popleft()

    def _budget(self) -> int:
        if not self.event_driven:
            return 1 << 30
        return self.max_per_minute - len(self._calls)

    def _periodic_due(self, h: _Host, now: float) -> bool:
        return h.last_asked is None or h.last_asked + self.hint_interval <= now

    def _paced_next(self, heard: bool) -> Optional[float]:
        """When the paced refresh of one class next has something to ask."""
        lasts = [
            h.last_asked
            for h in self._hosts.values()
            if h.heard_here == heard and h.signal.connected and h.urgent_at is None
        ]
        if not lasts:
            return None
        interval = self.hint_interval if heard else self.discovery_interval
        slot = self._next_heard if heard else self._next_background
        if any(t is None for t in lasts):
            return slot
        early = min(interval / len(lasts), interval / 10)
        return max(slot, min(t for t in lasts if t is not None) + interval - early)

    def _paced(self, now: float, *, heard: bool, budget: int, taken: list[str]) -> list[str]:
        """Refreshes of one class: one every interval / count seconds, the one asked
        longest ago first; a host asked lately (after an event) is not asked again early."""
        members = sorted(
            (h.last_asked if h.last_asked is not None else -1.0, m)
            for m, h in self._hosts.items()
            if h.heard_here == heard
            and h.signal.connected
            and h.urgent_at is None
            and m not in taken
        )
        if not members:
            return []
        interval = self.hint_interval if heard else self.discovery_interval
        gap = interval / len(members)
        early = min(gap, interval / 10)  # how early a refresh may come to keep the pace
        slot = max(self._next_heard if heard else self._next_background, now - gap)
        out: list[str] = []
        for last, m in members:
            if len(out) >= budget or slot > now:
                break
            if last >= 0 and last + interval - early > now:
                slot = max(slot, min(now + gap, last + interval - early))
                break  # the oldest was asked lately: nothing to refresh yet
            out.append(m)
            slot += gap
        if heard:
            self._next_heard = slot
        else:
            self._next_background = slot
        return out


__all__ = ["WINDOW", "Discovery", "HostSignal"]
