"""The agent: watch, plan, apply, publish, in one reconcile loop.

What this module is for: :class:`Agent` wires the adapters to the planner. One
:class:`~eos_vmtracer.vcenter.VcenterSession` per configured vCenter and the CDP
sender run on their own threads; every change they report marks the state dirty,
and the loop here coalesces bursts (a short settle time, a bounded delay) into
one plan and one eAPI request. The loop also wakes when a pending removal falls
due, when the periodic check re-reads the switch (drift repair), and on a
heartbeat that republishes the status.

It must never apply a change whose ownership it could not record first, never
leave a change half-applied on shutdown (a reconcile in progress finishes; the
switch adapter's configuration session is atomic), and never let an adapter's
failure end the loop: failures are logged, published and retried with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from dataclasses import replace
from typing import Any, Callable, Iterator, Optional, Protocol

from eos_vmtracer import resync as resync_mod
from eos_vmtracer import status as status_mod
from eos_vmtracer.backoff import Backoff
from eos_vmtracer.config import Config
from eos_vmtracer.fileio import StateLock
from eos_vmtracer.history import Event, History
from eos_vmtracer.ledger import Ledger, LedgerStore
from eos_vmtracer.messages import Message, emit
from eos_vmtracer.model import Inventory, SessionInventory, SwitchFacts
from eos_vmtracer.planner import Plan, applied, plan
from eos_vmtracer.status_types import StatusDocument
from eos_vmtracer.vlans import VlanSet

log = logging.getLogger("eos_vmtracer.agent")

# Coalescing: a reconcile starts once SETTLE has passed without a new event, and
# never later than MAX_DELAY after the first one. vCenter hands a burst over as fast
# as it happens, so a storm of power-ons becomes one or a few reconciles while a
# lone event still reaches the trunk at once. (Waiting longer "while in a burst"
# was measured: it cost independent back-to-back events 250 ms each.)
SETTLE = 0.05
MAX_DELAY = 0.3
STATUS_GAP = 0.5  # at most two status documents a second (they can be large)
# A status document costs time to build and write: 0.2 s for 10,000 VMs. The gap
# before the next one is at least this many times what the last one took, so the
# status takes at most a tenth of the loop, however large the estate. (A small
# document still goes out at once after a change.)
STATUS_COST_SHARE = 10.0
HEARING_WITHIN = 3.0  # seconds for a host to hear the first CDP frames on a new port
BACKOFF_MAX = 60.0
SWITCH_BACKOFF = Backoff(initial=1.0, maximum=BACKOFF_MAX)
"""After a failed eAPI call: about 1 s, doubling to a minute (a permanent error: a minute)."""
STATE_BACKOFF = Backoff(initial=10.0, maximum=BACKOFF_MAX)
"""After the ledger could not be written (flash full or read-only): 10 s, doubling."""
ERROR_TEXT_MAX = 300  # longest text of an unexpected error kept in the status
UNEXPECTED_RELOG = 3600.0  # an unexpected error of one kind is logged at most hourly


class SwitchPort(Protocol):
    """What the agent needs of the switch adapter."""

    def facts(self) -> SwitchFacts: ...
    def apply(self, plan: Plan) -> SwitchFacts: ...
    def close(self) -> None: ...


class SessionPort(Protocol):
    """What the agent needs of a vCenter session."""

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def snapshot(self) -> SessionInventory: ...
    def expect_hearing(self, within: float) -> None: ...
    def resync(self) -> None: ...


class CdpPort(Protocol):
    """What the agent needs of the CDP sender."""

    def update(self, identity: Any, ports: Any, native_vlans: Any = None) -> None: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def stats(self) -> dict[str, Any]: ...


def _default_switch(config: Config) -> SwitchPort:
    from eos_vmtracer.switch import EapiSwitch

    return EapiSwitch(config.switch)


#: Development switch (the fabric benchmark's baseline): set to 1, sessions watch every
#: VM of vCenter and ask every host every hint_interval, as before scoping existed.
UNSCOPED_ENV = "EOS_VMTRACER_DEV_UNSCOPED"


def _default_sessions(config: Config, on_change: Callable[[], None]) -> list[SessionPort]:
    from eos_vmtracer.static_hosts import StaticHosts
    from eos_vmtracer.switch.addresses import interface_address
    from eos_vmtracer.vcenter import VcenterSession

    def source_address(interface: str, vrf: str) -> str:
        return interface_address(config.switch, interface, vrf)

    scoped = os.environ.get(UNSCOPED_ENV, "") != "1"
    static = StaticHosts(config.switch.static_hosts)  # their hosts are in every scope
    return [
        VcenterSession(
            s,
            on_change,
            source_address=source_address,
            scoped=scoped,
            cdp_interval=config.cdp.interval,
            static_hosts=static,
        )
        for s in config.sessions
    ]


def _default_cdp(config: Config) -> Optional[CdpPort]:
    if not config.cdp.enabled:
        return None
    from eos_vmtracer.cdp import CdpSender

    return CdpSender(interval=config.cdp.interval, holdtime=config.cdp.holdtime)


class Agent:
    """The reconcile loop and everything it owns."""

    def __init__(
        self,
        config: Config,
        *,
        switch: Optional[SwitchPort] = None,
        sessions: Optional[Callable[[Callable[[], None]], list[SessionPort]]] = None,
        cdp: Optional[CdpPort] = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._mono = monotonic
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._switch = switch if switch is not None else _default_switch(config)
        make_sessions = sessions or (lambda cb: _default_sessions(config, cb))
        self._sessions = make_sessions(self.request_reconcile)
        self._cdp = cdp if cdp is not None else _default_cdp(config)
        self._store = LedgerStore(config.switch.state_dir, clock)
        self._state_lock = StateLock(config.switch.state_dir)
        self._history = History(config.switch.state_dir)
        self._ledger = Ledger()
        self._facts: Optional[SwitchFacts] = None
        self._plan: Optional[Plan] = None
        self._inventory = Inventory()
        self._started = clock()
        self._switch_state: dict[str, Any] = {"reachable": False, "error": "", "since": clock()}
        self._last: dict[str, Any] = {"at": 0.0, "duration_ms": 0.0, "result": "none", "error": ""}
        self._counters = {
            "reconciles": 0,
            "applies": 0,
            "eapi_errors": 0,
            "vlans_added": 0,
            "vlans_removed": 0,
            "vlans_created": 0,
            "vlans_deleted": 0,
            "drift_repairs": 0,
        }
        self._failures = 0  # consecutive failed reconciles (eAPI or the ledger)
        self._backoff_until = 0.0
        self._next_check = 0.0
        self._next_status = 0.0
        self._last_publish = 0.0
        self._publish_cost = 0.0  # seconds the last status document took
        self._cdp_ports: frozenset[str] = frozenset()
        self._last_withheld: tuple[Any, ...] = ()
        # A plan whose commit may have landed although its answer was lost: what the
        # next read of the switch shows of it is recorded then (history and syslog).
        self._unconfirmed: Optional[Plan] = None
        self._unexpected_seen: dict[tuple[str, str], float] = {}  # kind -> last logged
        self._resyncs: list[resync_mod.Request] = []  # taken by the watcher, not yet done
        self._resync_lock = threading.Lock()
        self._requests = resync_mod.RequestWatcher(config.switch.run_dir, self.request_resync)
        self.observers: list[Callable[[StatusDocument], None]] = []
        """Called with every status document published (e.g. the EOS SDK bridge)."""

    # -- control ------------------------------------------------------------------------
    def request_reconcile(self) -> None:
        """Mark the state dirty (thread-safe, cheap): a reconcile follows shortly."""
        self._wake.set()

    def request_resync(self, req: resync_mod.Request) -> None:
        """Drop the cached view of ``req.session`` (every session and the switch when
        empty) and read everything again (thread-safe)."""
        with self._resync_lock:
            self._resyncs.append(req)
        self._wake.set()

    def stop(self) -> None:
        """Ask the loop to finish (thread-safe; safe from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    @property
    def plan(self) -> Optional[Plan]:
        """The latest plan (for tests and tools)."""
        return self._plan

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> None:
        """Run until :meth:`stop`; returns after a clean shutdown.

        Raises :class:`~eos_vmtracer.fileio.StateDirError`, having started nothing, when
        another agent runs with the same ``state_dir`` (or its lock cannot be opened).
        """
        with self.started():
            timeout = self._timeout()
            while not self._stopping.is_set():
                woke = self._wake.wait(timeout)
                if self._stopping.is_set():
                    break
                if woke:
                    self._coalesce()
                self._wake.clear()
                timeout = self.step()

    @contextlib.contextmanager
    def started(self) -> Iterator[Agent]:
        """The agent started, without its loop: the state lock taken, the ledger read,
        the sessions, the CDP sender and the resync watcher running; on leaving, the
        clean shutdown of :meth:`run`. :meth:`run` turns the loop inside it; a caller
        that drives the agent itself calls :meth:`step` instead.

        Raises :class:`~eos_vmtracer.fileio.StateDirError`, having started nothing, when
        another agent runs with the same ``state_dir``.
        """
        self._state_lock.acquire()
        self._ledger = self._store.load()
        self._history_safe([Event(self._clock(), "start", reason=f"pid {os.getpid()}")])
        emit(
            log,
            Message.START,
            sessions=len(self._sessions),
            interfaces=len(self.config.switch.interfaces),
            dry_run=" (DRY RUN: nothing will be changed)" if self.config.switch.dry_run else "",
        )
        for session in self._sessions:
            session.start()
        if self._cdp is not None:
            self._cdp.start()
        self._requests.start()
        try:
            yield self
        finally:
            self._shutdown()

    def step(self) -> float:
        """One turn of the loop, as after a wake-up or a timeout: carry out the resync
        requests, reconcile unless a backoff holds the switch, publish the status when
        it is due. Never raises (an unexpected error is logged and backed off from).
        Returns the seconds until the loop has work again without a new event: what
        :meth:`run` waits for at most."""
        try:
            self._tick()
        except Exception as e:  # the loop must not die (reconcile catches its own)
            self._unexpected(e)
            self._next_status = max(self._next_status, self._backoff_until)
        return self._timeout()

    def _coalesce(self) -> None:
        """Let a burst of events finish before reconciling (see SETTLE)."""
        first = self._mono()
        while True:
            self._wake.clear()
            left = MAX_DELAY - (self._mono() - first)
            if left <= 0 or not self._wake.wait(min(SETTLE, left)):
                return
            if self._stopping.is_set():
                return

    def _timeout(self) -> float:
        now = self._mono()
        # Work on the switch waits for the end of a backoff; the status heartbeat does not.
        floor = max(now, self._backoff_until)
        work = [self._next_check]
        if self._plan is not None and self._plan.next_due is not None:
            work.append(now + (self._plan.next_due - self._clock()))
        deadlines = [max(floor, t) for t in work] + [self._next_status]
        return max(0.0, min(deadlines) - now)

    def _tick(self) -> None:
        self._resync()
        now = self._mono()
        if now >= self._backoff_until:
            applies = self._counters["applies"]
            self.reconcile(reread=now >= self._next_check or self._facts is None)
            # Never sooner than the document's cost allows (STATUS_COST_SHARE).
            cost_gap = self._last_publish + STATUS_COST_SHARE * self._publish_cost
            if self._counters["applies"] != applies:
                # The switch changed: say so at once, or as soon as the cost allows.
                self._next_status = max(now, cost_gap)
            else:
                # Otherwise not more often than STATUS_GAP: under a storm of events
                # the next reconcile matters more than the next status document.
                gap = max(self._last_publish + STATUS_GAP, cost_gap)
                self._next_status = min(self._next_status, gap)
        if self._mono() >= self._next_status:
            self.publish()

    def _resync(self) -> None:
        """Carry out the resync requests taken since the last tick."""
        with self._resync_lock:
            requests, self._resyncs = self._resyncs, []
        for req in requests:
            names = [s.snapshot().name for s in self._sessions]
            error = ""
            if req.session and req.session not in names:
                error = f"no session {req.session!r} is configured"
                emit(log, Message.RESYNC_REFUSED, error=error)
            else:
                chosen = [req.session] if req.session else names
                for session in self._sessions:
                    if session.snapshot().name in chosen:
                        session.resync()
                if not req.session:
                    self._facts = None  # read the switch again too
                    self._next_check = 0.0
                what = f"session {req.session}" if req.session else "every session and the switch"
                emit(log, Message.RESYNC, what=what)
                self._history_safe(
                    [Event(self._clock(), "resync", reason=", ".join(chosen) or "switch")]
                )
                names = chosen
            try:
                resync_mod.answer(self.config.switch.run_dir, req, names, error)
            except OSError as e:
                log.error("cannot answer a resync request (%s)", e.strerror)

    # -- one reconcile ------------------------------------------------------------------
    def reconcile(self, reread: bool = False) -> Optional[Plan]:
        """Read what is needed, plan, apply; returns the plan (None if the switch failed)."""
        from eos_vmtracer.switch import PermanentSwitchError, SwitchError

        started = self._mono()
        self._counters["reconciles"] += 1
        try:
            if reread or self._facts is None:
                self._set_facts(self._switch.facts())
                self._next_check = self._mono() + self.config.switch.check_interval
            assert self._facts is not None
            now = self._clock()
            if self._unconfirmed is not None:
                self._confirm(self._unconfirmed, self._facts, now)
            self._inventory = Inventory(tuple(s.snapshot() for s in self._sessions))
            p = plan(self._inventory, self._facts, self.config, self._ledger, now)
            self._plan = p
            self._report_withheld(p)
            if p.empty():
                if p.ledger != self._ledger or not self._ledger.trusted:
                    self._ledger = self._store.save(p.ledger)
            else:
                self._apply(p, now)
                if self._facts is not None:
                    self._plan = applied(p, self._facts)  # what the switch says now
            self._switch_ok()
            self._finish(started, "ok", "")
            return p
        except SwitchError as e:
            self._counters["eapi_errors"] += 1
            permanent = isinstance(e, PermanentSwitchError)
            self._switch_failed(str(e), permanent)
            self._finish(started, "error", str(e))
            return None
        except OSError as e:
            # The ledger could not be written: nothing was applied (see _apply).
            emit(log, Message.STATE_ERROR, path=e.filename or "state_dir", error=e.strerror)
            self._finish(started, "error", f"state: {e.strerror}")
            self._facts = None  # a change may have been applied before a later save failed
            self._backoff_until = self._mono() + STATE_BACKOFF.delay(self._failures)
            self._failures += 1
            return None
        except Exception as e:  # a bug or an untranslated failure: hold, back off, go on
            self._finish(started, "error", self._unexpected(e))
            return None

    def _apply(self, p: Plan, now: float) -> None:
        from eos_vmtracer.switch import PermanentSwitchError, TransientSwitchError

        before = self._ledger
        # Ownership first: what we are about to add is recorded as ours before the
        # commit, and what we are about to remove stays ours until it is gone.
        intent = Ledger(
            entries={**before.entries, **p.ledger.entries},
            created_vlans={**before.created_vlans, **p.ledger.created_vlans},
            vlans_unneeded_since=before.vlans_unneeded_since,
            trusted=before.trusted,
        )
        self._ledger = self._store.save(intent)
        try:
            facts = self._switch.apply(p)
        except PermanentSwitchError as e:
            # Rejected and aborted: nothing was applied. Forget the intent.
            self._ledger = self._store.save(before)
            self._record_failure(p, now, e)
            raise
        except TransientSwitchError as e:
            # The outcome is unknown (a timeout may hide a commit): keep the intent,
            # re-read the switch next time; the planner sorts out what is really there.
            self._facts = None
            self._unconfirmed = p
            self._record_failure(p, now, e)
            raise
        except Exception as e:
            # Not a switch error at all: the outcome is just as unknown.
            self._facts = None
            self._unconfirmed = p
            self._record_failure(p, now, e)
            raise
        self._ledger = self._store.save(p.ledger)
        self._counters["applies"] += 1
        self._set_facts(facts)
        self._verify(p, facts)
        self._record_success(p, now)

    def _confirm(self, p: Plan, facts: SwitchFacts, now: float) -> None:
        """Record what the switch, read again, shows of ``p`` (applied, its answer lost):
        the changes that landed are in the history and syslog like any other, with
        their reasons; the rest the planner plans again."""
        self._unconfirmed = None
        landed = []
        for change in p.changes:
            iface = facts.interfaces.get(change.interface)
            allowed = iface.allowed if iface is not None else VlanSet.none()
            add, remove = change.add & allowed, change.remove - allowed
            if iface is not None and (add or remove):
                landed.append(replace(change, add=add, remove=remove))
        created = {v: n for v, n in p.create_vlans.items() if v in facts.vlans}
        deleted = VlanSet(v for v in p.delete_vlans if v not in facts.vlans)
        if not (landed or created or deleted):
            return
        log.info("the switch shows that the change whose answer was lost was committed")
        self._record_success(
            replace(p, changes=tuple(landed), create_vlans=created, delete_vlans=deleted), now
        )

    def _set_facts(self, facts: SwitchFacts) -> None:
        self._facts = facts
        self._update_cdp(facts)
        from eos_vmtracer.neighbors import SwitchIdentity

        identity = SwitchIdentity.of(facts, self.config.switch.hostname)
        for session in self._sessions:
            set_identity = getattr(session, "set_switch_identity", None)
            if set_identity is not None:  # scoped sessions read only hosts heard here
                set_identity(identity)

    def _verify(self, p: Plan, facts: SwitchFacts) -> None:
        for change in p.changes:
            iface = facts.interfaces.get(change.interface)
            allowed = iface.allowed if iface else VlanSet.none()
            missing = change.add - allowed
            left = change.remove & allowed
            if missing or left:
                emit(
                    log,
                    Message.VERIFY,
                    interface=change.interface,
                    problem=(f"VLANs {missing} missing " if missing else "")
                    + (f"VLANs {left} still allowed" if left else ""),
                )
                self._facts = None  # read again next time

    # -- records --------------------------------------------------------------------------
    def _record_success(self, p: Plan, now: float) -> None:
        events: list[Event] = []
        by_name: dict[str, list[int]] = {}
        for v, name in sorted(p.create_vlans.items()):
            by_name.setdefault(name, []).append(v)
        for name, vlans in by_name.items():
            created = VlanSet(vlans)
            emit(log, Message.VLAN_CREATE, vlans=created, name=name)
            events.append(
                Event(now, "create-vlan", vlans=str(created), reason=f"needed; name {name}")
            )
        for change in p.changes:
            if change.add:
                repaired = VlanSet(v for v in change.add if (change.interface, v) in p.repairs)
                if repaired:
                    self._counters["drift_repairs"] += len(repaired)
                    emit(log, Message.DRIFT, interface=change.interface, vlans=repaired)
                    events.append(
                        Event(
                            now,
                            "repair",
                            change.interface,
                            str(repaired),
                            "removed by someone else",
                        )
                    )
                why = _summary(
                    [
                        r.text()
                        for v in change.add
                        for r in p.add_reasons.get((change.interface, v), ())
                    ]
                )
                self._counters["vlans_added"] += len(change.add)
                emit(log, Message.VLAN_ADD, interface=change.interface, vlans=change.add, why=why)
                events.append(Event(now, "add", change.interface, str(change.add), why))
            if change.remove:
                why = _summary(
                    [p.remove_reasons.get((change.interface, v), "") for v in change.remove]
                )
                self._counters["vlans_removed"] += len(change.remove)
                emit(
                    log,
                    Message.VLAN_REMOVE,
                    interface=change.interface,
                    vlans=change.remove,
                    why=why,
                )
                events.append(Event(now, "remove", change.interface, str(change.remove), why))
        for v in p.delete_vlans:
            emit(log, Message.VLAN_DELETE, vlan=v)
            events.append(
                Event(now, "delete-vlan", vlans=str(v), reason="created by vmtracer, unused")
            )
        self._counters["vlans_created"] += len(p.create_vlans)
        self._counters["vlans_deleted"] += len(p.delete_vlans)
        self._history_safe(events)

    def _record_failure(self, p: Plan, now: float, error: Exception) -> None:
        emit(log, Message.APPLY_FAILED, error=error)
        touched = ", ".join(c.interface for c in p.changes[:8])
        self._history_safe([Event(now, "error", touched, reason=str(error))])

    def _report_withheld(self, p: Plan) -> None:
        key = tuple((w.interface, w.add, w.remove, w.why) for w in p.withheld)
        if key == self._last_withheld:
            return
        self._last_withheld = key
        for w in p.withheld:
            what = " ".join(
                part
                for part in (
                    f"add {w.add}" if w.add else "",
                    f"remove {w.remove}" if w.remove else "",
                )
                if part
            )
            emit(log, Message.WITHHELD, interface=w.interface or "vlans", what=what, why=w.why)

    def _history_safe(self, events: list[Event]) -> None:
        try:
            self._history.append(events)
        except OSError as e:
            log.error("cannot write the history (%s); continuing", e.strerror)

    def _finish(self, started: float, result: str, error: str) -> None:
        self._last = {
            "at": self._clock(),
            "duration_ms": round((self._mono() - started) * 1000, 1),
            "result": result,
            "error": error,
        }

    def _switch_ok(self) -> None:
        if not self._switch_state["reachable"]:
            emit(log, Message.EAPI_OK)
            self._switch_state = {"reachable": True, "error": "", "since": self._clock()}
        self._failures = 0
        self._backoff_until = 0.0

    def _switch_failed(self, error: str, permanent: bool, logged: bool = False) -> None:
        if self._switch_state["reachable"] or self._switch_state["error"] != error:
            if not logged:
                emit(log, Message.EAPI_ERROR, error=error)
            self._switch_state = {"reachable": False, "error": error, "since": self._clock()}
        failures = 64 if permanent else self._failures  # permanent: the longest wait at once
        self._backoff_until = self._mono() + SWITCH_BACKOFF.delay(failures)
        self._failures += 1
        # Tried again, on a switch read again, as soon as the backoff ends (not on the
        # next status heartbeat or periodic check).
        self._next_check = min(self._next_check, self._mono())

    def _unexpected(self, error: Exception) -> str:
        """An exception nothing translated: log it once per kind (type and where it was
        raised; again at most hourly; the traceback at debug level), mark the switch
        unreachable with it, and back off as for a transient switch error. Returns the
        status text."""
        where = _raised_at(error)
        kind = type(error).__name__
        text = f"internal error: {kind} in {where}: {error}"
        if len(text) > ERROR_TEXT_MAX:
            text = text[: ERROR_TEXT_MAX - 3] + "..."
        last = self._unexpected_seen.get((kind, where))
        if last is None or self._mono() - last >= UNEXPECTED_RELOG:
            self._unexpected_seen[(kind, where)] = self._mono()
            emit(log, Message.INTERNAL_ERROR, error=text)
        log.debug("traceback of %s in %s", kind, where, exc_info=error)
        self._switch_failed(text, permanent=False, logged=True)
        return text

    # -- CDP ------------------------------------------------------------------------------
    def _update_cdp(self, facts: SwitchFacts) -> None:
        if self._cdp is None:
            return
        from eos_vmtracer.cdp import cdp_native_vlans, cdp_ports, identity_from_facts

        try:
            identity = identity_from_facts(facts, self.config.switch.hostname)
        except ValueError as e:
            log.error("cannot send CDP: %s", e)
            return
        ports = cdp_ports(self.config, facts)
        self._cdp.update(identity, ports, cdp_native_vlans(facts, ports))
        new = frozenset(ports) - self._cdp_ports
        self._cdp_ports = frozenset(ports)
        if new:
            # ESXi hears the first frames at once: each session asks its hosts again
            # shortly after, and static_hosts waits for the answers (a heard neighbour wins).
            for session in self._sessions:
                session.expect_hearing(HEARING_WITHIN)

    # -- status ---------------------------------------------------------------------------
    def status_document(self) -> StatusDocument:
        """The status as published now."""
        facts = self._facts
        switch = dict(self._switch_state)
        if facts is not None:
            switch.update(hostname=facts.hostname, model=facts.model, version=facts.version)
        cdp: dict[str, Any] = {"enabled": self._cdp is not None, "ports": {}}
        if self._cdp is not None:
            for name, st in sorted(self._cdp.stats().items()):
                cdp["ports"][name] = {
                    "frames": st.frames_sent,
                    "last_sent": st.last_sent,
                    "error": st.last_error if st.failing else "",
                }
        agent = status_mod.AgentFacts(
            pid=os.getpid(),
            started=self._started,
            config=self.config.source,
            last_reconcile=self._last,
            counters=self._counters,
            switch=switch,
            cdp=cdp,
            session_figures=self._session_figures(),
            ledger={
                "trusted": self._ledger.trusted,
                "error": self._store.error,
                "since": self._store.error_since,
            },
        )
        return status_mod.build(
            self.config, self._inventory, facts, self._plan, agent, self._clock()
        )

    def _session_figures(self) -> dict[str, dict[str, Any]]:
        """What each session costs and covers, read live (hint calls in the last minute)."""
        out: dict[str, dict[str, Any]] = {}
        for session in self._sessions:
            figures = getattr(session, "figures", None)
            if figures is not None:
                f = figures()
                out[session.snapshot().name] = {
                    "scoped": f.scoped,
                    "hosts_heard": f.hosts_heard,
                    "hints_last_minute": f.hints_last_minute,
                }
        return out

    def publish(self) -> None:
        """Write the status document (and hand it to observers)."""
        began = self._mono()
        doc = self.status_document()
        try:
            status_mod.write(self.config.switch.run_dir, doc)
        except OSError as e:
            log.error(
                "cannot publish the status in %s (%s)", self.config.switch.run_dir, e.strerror
            )
        for observer in self.observers:
            try:
                observer(doc)
            except Exception:  # an observer must not stop the agent
                log.exception("status observer failed")
        self._last_publish = self._mono()
        self._publish_cost = max(0.0, self._last_publish - began)
        self._next_status = self._last_publish + status_mod.HEARTBEAT

    # -- shutdown -------------------------------------------------------------------------
    def _shutdown(self) -> None:
        emit(log, Message.STOP)
        self._requests.stop()
        for session in self._sessions:
            try:
                session.stop()
            except Exception:
                log.exception("stopping a vCenter session failed")
        if self._cdp is not None:
            self._cdp.stop()
        try:
            self._switch.close()
        except Exception:
            log.exception("closing eAPI failed")
        try:
            if self._ledger.trusted:  # an untrusted ledger stays so until a reconcile wrote it
                self._store.save(self._ledger)
        except OSError as e:
            log.error("cannot flush the ledger (%s)", e.strerror)
        self._history_safe([Event(self._clock(), "stop")])
        with contextlib.suppress(OSError):
            os.unlink(status_mod.status_path(self.config.switch.run_dir))
        self._state_lock.release()


def _raised_at(error: BaseException) -> str:
    """``file.py:LINE (function)`` of the frame that raised ``error``."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.lineno} ({last.name})"


def _summary(reasons: list[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(r for r in reasons if r))
    if len(unique) <= limit:
        return "; ".join(unique)
    return "; ".join(unique[:limit]) + f"; and {len(unique) - limit} more"
