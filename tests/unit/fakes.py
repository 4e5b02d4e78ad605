"""Fake adapters for unit tests of the agent: a switch that applies plans to its facts,
a vCenter session whose inventory the test sets, and a clock with a loop the test
turns by hand.

Unit tests only: integration and end-to-end tests use the real peers.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable, Optional

from eos_vmtracer.agent import Agent
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


class FakeClock:
    """Wall-clock and monotonic time that move only when the test moves them.

    Give ``clock=c.time, monotonic=c.monotonic`` to an :class:`Agent`: its remove_delay,
    periodic check, backoff and status heartbeat then run on this clock.
    """

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self._wall = wall
        self.elapsed = 0.0

    def time(self) -> float:
        return self._wall + self.elapsed

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "time does not go back"
        self.elapsed += seconds


class SteppedLoop:
    """An agent's loop turned by the test instead of a thread, on a :class:`FakeClock`.

    :meth:`Agent.run` waits for an event or for the timeout its last turn returned,
    then takes one turn (:meth:`Agent.step`). Here the test makes its events (they are
    all in the next turn, as a burst coalesced by the loop), then calls :meth:`turn`;
    :meth:`run_for` lets time pass with a turn at every moment the loop would wake by
    itself. A loop that would spin (a zero timeout again and again) fails the test.
    """

    MAX_TURNS = 1000

    def __init__(self, agent: Agent, clock: FakeClock) -> None:
        self.agent = agent
        self.clock = clock
        self.wake_at = clock.elapsed  # when the loop wakes by itself (clock.elapsed)
        self.turns = 0

    def turn(self) -> None:
        """One turn now, as after a wake-up."""
        self.wake_at = self.clock.elapsed + self.agent.step()
        self.turns += 1

    def run_for(self, seconds: float) -> int:
        """Let ``seconds`` pass, turning whenever the loop would wake; returns the turns."""
        end = self.clock.elapsed + seconds
        turns = 0
        while self.wake_at <= end:
            turns = self._wake(turns, seconds)
        self.clock.advance(max(0.0, end - self.clock.elapsed))  # a turn may take time
        return turns

    def run_until(self, done: Callable[[], bool], within: float) -> float:
        """Turn as :meth:`run_for` does until ``done()`` holds; returns the time it took.

        Fails the test if it does not hold within ``within`` seconds.
        """
        start = self.clock.elapsed
        turns = 0
        while not done():
            if self.wake_at > start + within:
                raise AssertionError(f"not done within {within} s")
            turns = self._wake(turns, within)
        return self.clock.elapsed - start

    def _wake(self, turns: int, seconds: float) -> int:
        """Let time pass to the loop's next wake-up and turn; the turns so far + 1."""
        self.clock.advance(max(0.0, self.wake_at - self.clock.elapsed))
        self.turn()
        if turns + 1 > self.MAX_TURNS:
            raise AssertionError(f"the loop spins: {turns + 1} turns in {seconds} s")
        return turns + 1
