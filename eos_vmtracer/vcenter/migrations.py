"""Migrations in progress, from vCenter's migration events.

What this module is for: read the event collector's ``latestPage`` (as the property
collector reports it) and keep, per VM, the destination host of a migration that has
started and not yet ended, so the planner can put the VLANs on the destination port
before the VM arrives. A migration ends when the VM's host becomes the destination,
when a migrated/relocated or a failure event arrives, when the VM goes away, or
after ``timeout`` seconds.

It must never decide where a VM *is* (``runtime.host`` does that), never act twice
on the same event, and never raise on an event it does not understand.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Iterable, Mapping, Optional

from eos_vmtracer.model import Migration
from eos_vmtracer.vcenter.translate import moid

#: Events that announce a migration with its destination host (destHost).
START_EVENTS = frozenset(
    {"VmBeingHotMigratedEvent", "VmBeingMigratedEvent", "VmBeingRelocatedEvent"}
)
#: Events that say a migration is over (the VM is on its new host).
END_EVENTS = frozenset({"VmMigratedEvent", "DrsVmMigratedEvent", "VmRelocatedEvent"})
#: Events that say a migration failed (the VM stays where it was).
FAILED_EVENTS = frozenset({"VmFailedMigrateEvent", "VmRelocateFailedEvent", "MigrationErrorEvent"})
#: What the event collector is asked for.
EVENT_TYPES = tuple(sorted(START_EVENTS | END_EVENTS | FAILED_EVENTS))


def event_type(event: Any) -> str:
    """``VmBeingHotMigratedEvent`` for a pyvmomi event (or a fake named like one)."""
    wsdl = getattr(event, "_wsdlName", None)
    return wsdl if isinstance(wsdl, str) else type(event).__name__.rsplit(".", 1)[-1]


def _created(event: Any) -> Optional[float]:
    when = getattr(event, "createdTime", None)
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when.timestamp()
    return None


class MigrationTracker:
    """Migrations in progress, keyed by VM moid."""

    def __init__(
        self, timeout: float, clock: Callable[[], float], warn: Callable[[str], None]
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._warn = warn
        self._active: dict[str, tuple[Migration, int]] = {}  # vm -> (migration, event key)
        self._last_key: Optional[int] = None
        self._primed = False
        self._snapshot: dict[str, Migration] = {}

    def reset(self) -> None:
        """Forget everything (after a reconnect the first page is read afresh)."""
        self._active.clear()
        self._last_key = None
        self._primed = False
        self._snapshot = {}

    def feed(self, page: Any, page_size: int) -> bool:
        """Take a ``latestPage`` value; True when the migrations changed."""
        events: list[tuple[int, Any]] = []
        for event in page if isinstance(page, (list, tuple)) else ():
            key = getattr(event, "key", None)
            if isinstance(key, int) and not isinstance(key, bool):
                events.append((key, event))
        events.sort(key=lambda pair: pair[0])
        first_page = not self._primed
        self._primed = True
        fresh = [(k, e) for k, e in events if self._last_key is None or k > self._last_key]
        if not fresh:
            return False
        if not first_page and len(events) >= page_size and fresh[0][0] == events[0][0]:
            self._warn(
                f"more than {page_size} migration events arrived at once;"
                " some may be missed (VM hosts still come from runtime.host)"
            )
        now = self._clock()
        changed = False
        for key, event in fresh:
            changed |= self._apply(key, event, now, first_page)
        self._last_key = fresh[-1][0]
        if changed:
            self._snapshot = {vm: m for vm, (m, _) in self._active.items()}
        return changed

    def _apply(self, key: int, event: Any, now: float, historic: bool) -> bool:
        kind = event_type(event)
        vm = moid(getattr(getattr(event, "vm", None), "vm", None))
        if vm is None:
            return False
        if kind in START_EVENTS:
            dest = moid(getattr(getattr(event, "destHost", None), "host", None))
            if dest is None:
                self._warn(f"{kind} for {vm} without a destination host, ignored")
                return False
            started = now
            if historic:
                created = _created(event)
                if created is not None:
                    started = min(now, created)
                if now - started > self.timeout:
                    return False
            self._active[vm] = (Migration(vm=vm, dest_host=dest, started=started), key)
            return True
        if kind in END_EVENTS or kind in FAILED_EVENTS:
            current = self._active.get(vm)
            if current is not None and current[1] < key:
                del self._active[vm]
                return True
        return False

    def prune(self, vm_hosts: Mapping[str, Optional[str]], *, partial: bool = False) -> bool:
        """Drop migrations that are over: VM arrived or gone, or timed out. ``partial``:
        ``vm_hosts`` holds only the VMs in a scoped session's scope, so a VM missing
        from it may only be out of scope (yet), not gone."""
        now = self._clock()
        done = [
            vm
            for vm, (m, _) in self._active.items()
            if (vm not in vm_hosts and not partial)
            or vm_hosts.get(vm, "") == m.dest_host
            or now - m.started > self.timeout
        ]
        for vm in done:
            del self._active[vm]
        if done:
            self._snapshot = {vm: m for vm, (m, _) in self._active.items()}
        return bool(done)

    def next_expiry(self) -> Optional[float]:
        """When the oldest migration times out (clock seconds), if any is active."""
        if not self._active:
            return None
        return min(m.started for m, _ in self._active.values()) + self.timeout

    def migrations(self) -> Mapping[str, Migration]:
        """The migrations in progress (an immutable-by-convention snapshot)."""
        return self._snapshot

    def vms(self) -> Iterable[str]:
        return self._active.keys()


__all__ = [
    "END_EVENTS",
    "EVENT_TYPES",
    "FAILED_EVENTS",
    "START_EVENTS",
    "MigrationTracker",
    "event_type",
]
