"""Migrations in progress, from migration events (fakes shaped like pyvmomi's)."""

from __future__ import annotations

import datetime
from types import SimpleNamespace as O
from typing import Any, Optional

from eos_vmtracer.model import Migration
from eos_vmtracer.vcenter.migrations import EVENT_TYPES, MigrationTracker


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(kind: str, key: int, vm: str, dest: Optional[str] = None, created: Any = None) -> O:
    e = O(_wsdlName=kind, key=key, vm=O(vm=O(_moId=vm)), createdTime=created)
    if dest is not None:
        e.destHost = O(host=O(_moId=dest))
    return e


def tracker(clock: Clock, timeout: float = 600.0) -> tuple[MigrationTracker, list[str]]:
    warnings: list[str] = []
    return MigrationTracker(timeout, clock, warnings.append), warnings


def test_the_event_collector_asks_for_start_end_and_failure_events() -> None:
    for kind in (
        "VmBeingHotMigratedEvent",
        "VmMigratedEvent",
        "VmFailedMigrateEvent",
        "DrsVmMigratedEvent",
    ):
        assert kind in EVENT_TYPES


def test_start_then_end() -> None:
    clock = Clock()
    t, _ = tracker(clock)
    assert not t.feed([], 10)  # the first (empty) page
    assert t.feed([event("VmBeingHotMigratedEvent", 5, "vm-1", "host-2")], 10)
    assert t.migrations() == {"vm-1": Migration("vm-1", "host-2", clock.now)}
    # The same page again (latestPage is reported whole): nothing new.
    assert not t.feed([event("VmBeingHotMigratedEvent", 5, "vm-1", "host-2")], 10)
    page = [
        event("VmMigratedEvent", 9, "vm-1"),
        event("VmBeingHotMigratedEvent", 5, "vm-1", "host-2"),
    ]
    assert t.feed(page, 10)
    assert t.migrations() == {}


def test_a_failure_ends_it_but_an_older_end_does_not() -> None:
    t, _ = tracker(Clock())
    t.feed([], 10)
    t.feed(
        [event("VmMigratedEvent", 3, "vm-1"), event("VmBeingMigratedEvent", 4, "vm-1", "host-2")],
        10,
    )
    assert "vm-1" in t.migrations()  # the end event came before this start
    assert t.feed([event("VmFailedMigrateEvent", 6, "vm-1", "host-2")], 10)
    assert t.migrations() == {}


def test_prune_when_the_vm_arrives_goes_away_or_times_out() -> None:
    clock = Clock()
    t, _ = tracker(clock, timeout=600)
    t.feed([], 10)
    t.feed(
        [
            event("VmBeingHotMigratedEvent", 1, "vm-1", "host-2"),
            event("VmBeingHotMigratedEvent", 2, "vm-2", "host-2"),
            event("VmBeingRelocatedEvent", 3, "vm-3", "host-3"),
        ],
        10,
    )
    hosts = {"vm-1": "host-1", "vm-2": "host-1", "vm-3": "host-1"}
    assert not t.prune(hosts)
    hosts["vm-1"] = "host-2"  # arrived (runtime.host says so, before any event)
    del hosts["vm-2"]  # removed
    assert t.prune(hosts)
    assert set(t.migrations()) == {"vm-3"}
    assert t.next_expiry() == clock.now + 600
    clock.now += 601
    assert t.prune(hosts)
    assert t.migrations() == {} and t.next_expiry() is None


def test_the_first_page_after_a_connect_keeps_recent_starts_only() -> None:
    clock = Clock(
        now=datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.timezone.utc).timestamp()
    )
    t, _ = tracker(clock, timeout=600)
    recent = datetime.datetime(2030, 1, 1, 11, 58, tzinfo=datetime.timezone.utc)
    old = datetime.datetime(2030, 1, 1, 10, 0, tzinfo=datetime.timezone.utc)
    t.feed(
        [
            event("VmBeingHotMigratedEvent", 1, "vm-1", "host-2", created=old),
            event("VmBeingHotMigratedEvent", 2, "vm-2", "host-2", created=recent),
        ],
        10,
    )
    assert t.migrations() == {"vm-2": Migration("vm-2", "host-2", recent.timestamp())}


def test_events_that_make_no_sense_are_skipped() -> None:
    t, warnings = tracker(Clock())
    t.feed([], 10)
    assert not t.feed(
        [
            event("VmBeingHotMigratedEvent", 1, "vm-1"),  # no destination
            O(_wsdlName="VmBeingHotMigratedEvent", key=2, vm=None),
            O(key="x"),
            "not an event",
        ],
        10,
    )
    assert not t.feed("garbage", 10)
    assert t.migrations() == {} and warnings


def test_a_full_page_of_new_events_is_reported() -> None:
    t, warnings = tracker(Clock())
    t.feed([event("VmBeingHotMigratedEvent", 1, "vm-0", "host-2")], 3)
    t.feed([event("VmBeingHotMigratedEvent", k, f"vm-{k}", "host-2") for k in (7, 8, 9)], 3)
    assert any("some may be missed" in w for w in warnings)
    assert len(t.migrations()) == 4


def test_reset_forgets_everything() -> None:
    t, _ = tracker(Clock())
    t.feed([event("VmBeingHotMigratedEvent", 1, "vm-1", "host-2")], 10)
    t.reset()
    assert t.migrations() == {}
    assert t.feed([event("VmBeingHotMigratedEvent", 1, "vm-1", "host-2")], 10)
