"""Fake adapters for unit tests of the agent: a switch that applies plans to its facts,
and a vCenter session whose inventory the test sets.

Unit tests only: integration and end-to-end tests use the real peers.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable, Optional

from eos_vmtracer.model import SessionInventory, SwitchFacts
from eos_vmtracer.planner import Plan, simulate
from eos_vmtracer.vlans import VlanSet


class FakeSwitch:
    """A switch that applies plans to its facts, counts requests, and can fail."""

    def __init__(self, facts: SwitchFacts) -> None:
        self.facts_now = facts
        self.applied: list[Plan] = []
        self.reads = 0
        self.fail_next: Optional[Exception] = None
        self.lock = threading.Lock()

    def facts(self) -> SwitchFacts:
        with self.lock:
            self.reads += 1
            return self.facts_now

    def apply(self, plan: Plan) -> SwitchFacts:
        with self.lock:
            if self.fail_next is not None:
                error, self.fail_next = self.fail_next, None
                raise error
            self.applied.append(plan)
            self.facts_now = simulate(self.facts_now, plan)
            return self.facts_now

    def operator_removes(self, iface: str, vlan: int) -> None:
        with self.lock:
            i = self.facts_now.interfaces[iface]
            interfaces = dict(self.facts_now.interfaces)
            interfaces[iface] = replace(i, allowed=i.allowed - VlanSet([vlan]))
            self.facts_now = replace(self.facts_now, interfaces=interfaces)

    def close(self) -> None:
        pass


class FakeSession:
    """A vCenter session whose inventory the test edits."""

    def __init__(self, inv: SessionInventory, on_change: Callable[[], None]) -> None:
        self.inv = inv
        self.on_change = on_change
        self.started = self.stopped = False
        self.hearing: list[float] = []  # expect_hearing calls
        self.resyncs = 0

    def start(self) -> None:
        self.started = True
        self.on_change()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped = True

    def snapshot(self) -> SessionInventory:
        return self.inv

    def expect_hearing(self, within: float) -> None:
        self.hearing.append(within)

    def resync(self) -> None:
        """As the real session: not synchronised until it has read everything again."""
        self.resyncs += 1
        self.inv = replace(self.inv, synced=False)
        self.on_change()

    def set(self, inv: SessionInventory) -> None:
        self.inv = inv
        self.on_change()
