"""One vCenter session: connect, watch, keep an inventory, survive everything.

What this module is for: :class:`VcenterSession` logs in (TLS checked first), builds
one property-collector filter, long-polls ``WaitForUpdatesEx`` and turns updates
into an immutable :class:`~eos_vmtracer.model.SessionInventory` the agent reads
with :meth:`VcenterSession.snapshot`. Beside the long poll it asks each host
``QueryNetworkHint`` (every ``hint_interval``, and at once when a host appears or
reconnects), keeps the session alive, and runs a watchdog that cuts a connection
whose call has outlived its deadline. Any failure ends the connection; the session
reconnects with capped exponential backoff and jitter (at once, once, after a lost
session; slowly after a refused login or certificate) and resynchronises from
scratch, showing the previous inventory with ``synced = False`` meanwhile.

Scoped (``scoped=True``, what the agent runs), the session costs vCenter what this
switch serves: :class:`~eos_vmtracer.vcenter.discovery.Discovery` decides which
host to ask when (at once on a new host, a reconnect, a link or uplink change; hosts
heard here every ``hint_interval``; the others as an even trickle every
``discovery_interval``; never more than ``max_hints_per_minute``, each call counted
before it is made; a round of many hosts overlaps up to :data:`HINT_CONCURRENCY` calls
when vCenter is slow to answer them, :class:`~eos_vmtracer.vcenter.fanout.Fanout`),
and the watch
reads VMs and full host network configuration only for hosts heard here (the
switch's identity comes from the agent, :meth:`VcenterSession.set_switch_identity`),
hosts named by ``switch.static_hosts`` (never heard, mapped by name) and VMs
migrating to them (:class:`~eos_vmtracer.vcenter.scope.Scope`). The
inventory counts as synchronised only once the scope's last change was delivered.

It must never log the password, never busy-loop, never block the caller of
``start``/``snapshot``/``request_hint_refresh`` on vCenter, never poll VMs, and never
call ``on_change`` with a lock held.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, ContextManager, Mapping, Optional

from eos_vmtracer.backoff import Backoff
from eos_vmtracer.config import SessionConfig
from eos_vmtracer.model import Host, Neighbor, SessionInventory, SessionState
from eos_vmtracer.neighbors import SwitchIdentity
from eos_vmtracer.passwords import PasswordError
from eos_vmtracer.static_hosts import StaticHosts
from eos_vmtracer.vcenter.connection import Connection
from eos_vmtracer.vcenter.discovery import Discovery, HostSignal
from eos_vmtracer.vcenter.errors import (
    AuthError,
    ConnectionLost,
    ProtocolError,
    SessionLost,
    TlsError,
    VcenterError,
)
from eos_vmtracer.vcenter.fanout import Fanout
from eos_vmtracer.vcenter.inventory import InventoryStore
from eos_vmtracer.vcenter.migrations import MigrationTracker
from eos_vmtracer.vcenter.scope import Scope, static_in_scope
from eos_vmtracer.vcenter.translate import moid, neighbors_from_hints, with_neighbors
from eos_vmtracer.vcenter.vrf import DEFAULT_VRF, Dialer, VrfError, check_exists
from eos_vmtracer.vcenter.watch import SCOPED_HOST_PATHS, Watch, kind_of


@dataclass(frozen=True)
class SessionTiming:
    """How a session paces itself. The defaults suit a real vCenter; tests shorten them."""

    wait_seconds: int = 30
    """``maxWaitSeconds`` of one WaitForUpdatesEx: an idle long poll returns this often."""
    grace: float = 30.0
    """Extra seconds a call may take before the watchdog cuts its connection."""
    keepalive_interval: float = 300.0
    """Seconds between keep-alive calls (CurrentTime)."""
    backoff_initial: float = 1.0
    """First delay before reconnecting after a failure; doubles up to ``backoff_max``."""
    backoff_max: float = 60.0
    """The cap of the reconnect delay."""
    retry_slow: float = 300.0
    """Delay before trying again after a refused login or certificate."""
    max_object_updates: int = 200
    """``maxObjectUpdates`` of one WaitForUpdatesEx (larger syncs come truncated). Small
    pages keep the parser's garbage small: at 20,000 VMs the session's RSS after a sync
    was 125 MB with pages of 1,000, 92 MB with 250, 76 MB with 100, for 21-23 s."""
    event_page_size: int = 100
    """How many migration events the collector's latest page holds."""
    tick: float = 0.25
    """How often the helper thread looks at its watchdog, hints and timers."""


@dataclass(frozen=True)
class SessionFigures:
    """What a session costs and covers, for status (``show sessions``)."""

    scoped: bool = False
    hosts_heard: int = 0  # hosts in scope: heard on this switch or named by static_hosts
    hosts_total: int = 0
    vms_in_scope: int = 0  # VMs the session holds
    hints_last_minute: int = 0  # QueryNetworkHint calls in the last 60 s


@dataclass(frozen=True)
class SyncProgress:
    """How far a session's (re)synchronisation has got, for ``plan`` and ``check``."""

    connected: bool  # logged in (a sync is under way or done)
    synced: bool
    hosts: int  # hosts read so far
    vms: int  # VMs read so far
    hints: int  # hosts asked for their neighbours (QueryNetworkHint)


_RETRY_AT_ONCE = 0.0
HINT_PUBLISH_EVERY = 0.25  # seconds: neighbours learnt in a hint round are published this often
#: QueryNetworkHint calls in flight at once (scoped sessions). A first start asks every
#: host once; vCenter relays each call to the host's agent, so on a real vCenter the
#: calls wait far more than they work. Eight bare calls side by side answered the lab's
#: 1,000 hints 3x sooner (0.75 s against 2.3 s), and stay well inside what vCenter serves
#: one client at once. The fanout overlaps them only when they are slow (10 ms or more):
#: the lab answers in about 2 ms, where the agent's own parsing is what takes the time.
HINT_CONCURRENCY = 8


class VcenterSession:
    """A self-healing watch on one vCenter, readable at any time with :meth:`snapshot`."""

    def __init__(
        self,
        cfg: SessionConfig,
        on_change: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
        timing: Optional[SessionTiming] = None,
        rng: Optional[random.Random] = None,
        source_address: Optional[Callable[[str, str], str]] = None,
        scoped: bool = False,
        cdp_interval: float = 30.0,
        static_hosts: Optional[StaticHosts] = None,
    ) -> None:
        self.cfg = cfg
        self.scoped = scoped
        self._static = static_hosts or StaticHosts({})
        """``switch.static_hosts``: a scoped session also reads the hosts it names (and
        their VMs), which are never heard."""
        self._source_address = source_address
        """(interface, VRF) -> the interface's address (read from eAPI), for
        ``source_interface``; raises when it has none."""
        self.route = ""
        """Through which VRF and source address the last login went ("" before one)."""
        self.name = cfg.name
        self._on_change = on_change
        self._clock = clock
        self._timing = timing or SessionTiming()
        self._rng = rng or random.Random()
        self._log = logging.getLogger(f"eos_vmtracer.vcenter.{cfg.name}")
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._retry = threading.Event()  # ends a wait before reconnecting (stop, resync)
        self._resyncing = False  # guarded by _lock: a resync was asked for, not yet begun
        self._threads: list[threading.Thread] = []

        # Guarded by _lock:
        self._state = SessionState.CONNECTING
        self._since = clock()
        self._error = ""
        self._synced = False
        self._store: Optional[InventoryStore] = None  # the published one
        self._migrations = self._new_tracker()
        self._neighbors: dict[str, dict[str, tuple[Neighbor, ...]]] = {}
        # host moid -> (its neighbours as last answered, whether they name this switch):
        # worked out once per answer, not once per host for every answer (_rescope)
        self._here: dict[str, tuple[Mapping[str, tuple[Neighbor, ...]], bool]] = {}
        self._rescope_due = False  # neighbours changed since the scope was worked out
        self._merged: dict[str, tuple[Host, dict[str, tuple[Neighbor, ...]], Host]] = {}
        self._hint_due: dict[str, float] = {}  # host moid -> monotonic time
        self._host_up: dict[str, bool] = {}
        # Hosts asked for their neighbours at least once (answered or refused), with when
        # (monotonic) the last question was put: the inventory is not "synced" while a
        # connected host has never been asked, since without neighbours nothing it needs
        # would be seen.
        self._hinted: dict[str, float] = {}
        # Hosts asked before this (monotonic) may not have heard this switch yet: it began
        # advertising itself on new ports (expect_hearing). They are asked again then.
        self._settle_at = 0.0
        self._conn: Optional[Connection] = None
        self._watch: Optional[Watch] = None
        self._keepalive_due = 0.0
        self._synced_this_time = False  # watcher thread only
        self._read = (0, 0)  # hosts and VMs read by the sync under way (watcher writes)
        self._logged_in = False
        self._snapshot = SessionInventory(name=cfg.name, state=self._state, since=self._since)
        # Scoped sessions (see the module docstring); guarded by _lock:
        self._identity: Optional[SwitchIdentity] = None
        self._discovery = Discovery(
            hint_interval=cfg.hint_interval,
            discovery_interval=cfg.discovery_interval,
            max_per_minute=cfg.max_hints_per_minute,
            retry_spacing=cdp_interval,
            event_driven=scoped,
            clock=time.monotonic,
        )
        self._scope = Scope()
        self._per_vmnic: set[str] = set()  # hosts whose bulk hint answers empty
        self._fanout = Fanout(HINT_CONCURRENCY if scoped else 1, f"vcenter-{cfg.name}-hint")
        self._figures = SessionFigures(scoped=scoped)

    # -- the contract the agent calls ----------------------------------------------------------
    def start(self) -> None:
        """Start the session's threads; returns at once."""
        if self._threads:
            return
        if not self.cfg.tls_verify:
            self._log.warning(
                "TLS verification is OFF for %s (tls_verify = false): anyone on the path"
                " can impersonate vCenter",
                self.cfg.url,
            )
        for name, target in (("watch", self._run_watcher), ("helper", self._run_helper)):
            t = threading.Thread(target=target, name=f"vcenter-{self.name}-{name}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads, destroy the filter/view/collector, log out (within ``timeout``)."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        self._retry.set()
        self._fanout.close()
        with self._lock:
            conn, watch = self._conn, self._watch
        if conn is not None:
            conn.interrupt()
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()) / 2)
        if conn is not None and not conn.aborted:
            cleaner = threading.Thread(
                target=self._cleanup, args=(conn, watch), name=f"vcenter-{self.name}-logout",
                daemon=True,
            )  # fmt: skip
            cleaner.start()
            cleaner.join(max(0.1, deadline - time.monotonic()))
            if cleaner.is_alive():
                conn.abort("stopped")
        with self._lock:
            self._conn = self._watch = None
            self._set_state(SessionState.DISCONNECTED, "stopped")
        self._publish()

    def snapshot(self) -> SessionInventory:
        """The inventory as of the last update (immutable; cheap; any thread)."""
        return self._snapshot

    def progress(self) -> SyncProgress:
        """How far the synchronisation has got (cheap; any thread)."""
        snap = self._snapshot
        hosts, vms = self._read
        if snap.synced:
            hosts, vms = len(snap.hosts), len(snap.vms)
        with self._lock:
            hints = len(self._hinted)
        return SyncProgress(self._logged_in, snap.synced, hosts, vms, hints)

    def request_hint_refresh(self, host_moid: Optional[str] = None) -> None:
        """Ask QueryNetworkHint again now, for one host or (None) for every host."""
        with self._lock:
            for host in [host_moid] if host_moid else list(self._hint_due):
                if host in self._hint_due:
                    self._hint_due[host] = 0.0
            if self.scoped:
                self._discovery.refresh(host_moid)
        self._wake.set()

    def expect_hearing(self, within: float) -> None:
        """The switch began sending CDP on new ports: a host cabled there hears it within
        ``within`` seconds. Every host asked before then is asked again then; until it
        answers, ``switch.static_hosts`` waits for it (a heard neighbour wins, and it
        may be about to hear one), and a session with such a host that
        ``static_hosts`` names is not synchronised, so nothing is removed meanwhile."""
        with self._lock:
            self._settle_at = time.monotonic() + within
            for m in self._hinted:
                self._ask_again_at(m, self._settle_at)
        self._publish()
        self._wake.set()

    def _ask_again_at(self, host_moid: str, when: float) -> None:
        """Ask ``host_moid`` no later than ``when`` (monotonic). Caller holds _lock."""
        if self.scoped:
            self._discovery.refresh(host_moid, at=when)
        elif host_moid in self._hint_due:
            self._hint_due[host_moid] = min(self._hint_due[host_moid], when)

    def _mark_asked(self, host_moid: str, asked_at: float) -> bool:
        """``host_moid`` was asked at ``asked_at`` (answered or refused). True when that
        changes what is published: its first answer, or its first since it could hear
        this switch. Asked before then, it is asked again then. Caller holds _lock."""
        before = self._hinted.get(host_moid)
        self._hinted[host_moid] = asked_at
        if asked_at < self._settle_at:
            self._ask_again_at(host_moid, self._settle_at)
            return before is None
        return before is None or before < self._settle_at

    def _unsettled(self, hosts: Mapping[str, Host]) -> frozenset[str]:
        """Hosts whose neighbours are not known yet: never asked, or asked before they
        could hear this switch (see :meth:`expect_hearing`). Holds _lock."""
        return frozenset(
            m for m in hosts if m not in self._hinted or self._hinted[m] < self._settle_at
        )

    def set_switch_identity(self, identity: SwitchIdentity) -> None:
        """The names and MAC by which a neighbour report means this switch (scoped
        sessions read VMs only of hosts heard here; until this is known, none)."""
        with self._lock:
            if identity == self._identity:
                return
            self._identity = identity
            self._here.clear()
            self._rescope()
        self._wake.set()
        self._publish()

    def figures(self) -> SessionFigures:
        """Hosts heard here / in total, VMs in scope, hint calls in the last minute (live)."""
        with self._lock:
            return replace(self._figures, hints_last_minute=self._discovery.calls_last_minute())

    def resync(self) -> None:
        """Forget what was read and read everything again (a new login, a full sync, every
        host's neighbours asked again). Until that is done the inventory says it is not
        synchronised, so nothing it caused is removed. Returns at once."""
        with self._lock:
            conn = self._conn
            self._resyncing = True
            self._synced = False
            self._hinted.clear()
        self._log.info("resynchronising: reading everything again (requested)")
        self._publish()
        if conn is not None:
            conn.interrupt()  # the watcher's long poll fails now; it sees _resyncing
        self._retry.set()

    # -- state and publishing ----------------------------------------------------------------
    def _new_tracker(self) -> MigrationTracker:
        return MigrationTracker(self.cfg.migration_timeout, self._clock, self._log.warning)

    def _set_state(self, state: SessionState, error: str = "") -> None:
        """Caller holds _lock."""
        if state != self._state:
            self._state = state
            self._since = self._clock()
        if state == SessionState.CONNECTED:
            self._error = ""
        elif error:
            self._error = error
        self._synced = state == SessionState.CONNECTED and self._store is not None

    def _fail(self, state: SessionState, error: VcenterError) -> None:
        with self._lock:
            was = self._state
            self._set_state(state, str(error))
        level = logging.WARNING if was != state else logging.INFO
        self._log.log(level, "%s: %s", state.value, error)
        self._publish()

    def _publish(self) -> None:
        with self._lock:
            self._rescope_if_due()  # what is published never reads a stale scope
            store = self._store
            hosts: dict[str, Host] = {}
            vms: Mapping[str, Any] = {}
            dvpgs: Mapping[str, Any] = {}
            if store is not None:
                hosts = {m: self._with_neighbors(m, h) for m, h in store.hosts().items()}
                vms = dict(store.vms())
                dvpgs = dict(store.dv_portgroups())
            unasked = [m for m, h in hosts.items() if h.connected and m not in self._hinted]
            unsettled = self._unsettled(hosts)
            # A host static_hosts names, about to hear a neighbour or not: where it is
            # cabled is not known yet, so nothing may be removed for it.
            static_waiting = any(
                hosts[m].connected and self._static.ports(hosts[m].name) for m in unsettled
            )
            in_scope = not self.scoped or (self._identity is not None and self._scope.delivered())
            self._figures = SessionFigures(
                scoped=self.scoped,
                hosts_heard=len(self._scope.hosts) if self.scoped else len(hosts),
                hosts_total=len(hosts),
                vms_in_scope=len(vms),
                hints_last_minute=self._discovery.calls_last_minute(),
            )
            self._snapshot = SessionInventory(
                name=self.name,
                state=self._state,
                synced=self._synced and not unasked and not static_waiting and in_scope,
                hosts=hosts,
                vms=vms,
                dv_portgroups=dvpgs,
                migrations=dict(self._migrations.migrations()),
                error=self._error,
                since=self._since,
                unsettled=unsettled,
            )
        try:
            self._on_change()
        except Exception:  # the agent's callback must never kill the session
            self._log.exception("on_change failed")

    def _with_neighbors(self, host_moid: str, host: Host) -> Host:
        """Caller holds _lock."""
        heard = self._neighbors.get(host_moid)
        if not heard:
            return host
        cached = self._merged.get(host_moid)
        if cached is not None and cached[0] is host and cached[1] is heard:
            return cached[2]
        merged = with_neighbors(host, heard)
        self._merged[host_moid] = (host, heard, merged)
        return merged

    def _hosts_changed(self, store: InventoryStore) -> None:
        """Schedule hints for new and reconnected hosts; forget removed ones. Holds _lock."""
        hosts = store.hosts()
        if self.scoped:
            self._scoped_hosts_changed(store)
            return
        now = time.monotonic()
        for m, host in hosts.items():
            was_up = self._host_up.get(m)
            if m not in self._hint_due or (host.connected and was_up is False):
                self._hint_due[m] = now
            self._host_up[m] = host.connected
        for m in [m for m in self._hint_due if m not in hosts]:
            self._hint_due.pop(m, None)
            self._host_up.pop(m, None)
            self._neighbors.pop(m, None)
            self._here.pop(m, None)
            self._merged.pop(m, None)
            self._hinted.pop(m, None)
        if any(due <= now for due in self._hint_due.values()):
            self._wake.set()

    def _scoped_hosts_changed(self, store: InventoryStore) -> None:
        """Tell discovery what each host looks like now; rescope. Holds _lock."""
        hosts = store.hosts()
        listed = self._scope.listed()
        signals: dict[str, HostSignal] = {}
        for m, host in hosts.items():
            nics, links = store.links(m)
            uplinks: Optional[frozenset[str]] = None
            if m in listed:
                uplinks = frozenset(u for sw in host.switches for u in sw.uplinks)
            signals[m] = HostSignal(host.connected, links, nics, uplinks)
        for m in [m for m in self._neighbors if m not in hosts]:
            self._neighbors.pop(m, None)
            self._here.pop(m, None)
            self._merged.pop(m, None)
            self._hinted.pop(m, None)
            self._per_vmnic.discard(m)
        if self._discovery.update(signals):
            self._wake.set()
        self._rescope()

    def _heard_here(self, heard: Mapping[str, tuple[Neighbor, ...]]) -> bool:
        """Whether a host's neighbours name this switch. Holds _lock."""
        ident = self._identity
        return ident is not None and any(
            ident.matches(n.device_id) for ns in heard.values() for n in ns
        )

    def _host_heard_here(self, host_moid: str, heard: Mapping[str, tuple[Neighbor, ...]]) -> bool:
        """:meth:`_heard_here` of one host's neighbours, worked out once for each answer
        (identity changes clear what was worked out). Holds _lock."""
        known = self._here.get(host_moid)
        if known is not None and known[0] is heard:
            return known[1]
        here = self._heard_here(heard)
        self._here[host_moid] = (heard, here)
        return here

    def _rescope_if_due(self) -> None:
        """The rescope a hint round put off (one per answer made a round over N hosts
        cost N x N). Holds _lock."""
        if self._rescope_due:
            self._rescope()

    def _rescope(self) -> None:
        """What the scope should hold now: hosts heard here or named by ``static_hosts``
        (never heard, yet the planner maps their vmnics here), VMs migrating to them."""
        self._rescope_due = False
        if not self.scoped:
            return
        store = self._store
        hosts = store.hosts() if store is not None else {}
        heard = frozenset(
            m for m, nb in self._neighbors.items() if m in hosts and self._host_heard_here(m, nb)
        )
        heard |= static_in_scope(hosts, self._static)
        migrations = {vm: mg.dest_host for vm, mg in self._migrations.migrations().items()}
        vm_hosts = store.vm_hosts() if store is not None else {}
        self._scope.want(heard, migrations, vm_hosts)
        if self._scope.diff() != ([], []):
            self._wake.set()

    # -- the watcher thread ----------------------------------------------------------------------
    def _backoff(self, failures: int) -> float:
        t = self._timing
        return Backoff(t.backoff_initial, t.backoff_max).delay(failures, self._rng)

    def _run_watcher(self) -> None:
        failures = 0
        relogin_now = True
        while not self._stopping.is_set():
            self._synced_this_time = False
            self._logged_in = False
            self._retry.clear()
            with self._lock:
                self._resyncing = False
            conn: Optional[Connection] = None
            try:
                conn = self._connect()
                self._watch_until_failure(conn)
                return  # stopping
            except VcenterError as e:
                error: VcenterError = e
            except Exception as e:  # a bug must not end the session; it retries
                self._log.exception("unexpected error in the vCenter session")
                error = ProtocolError(f"internal error: {type(e).__name__}: {e}")
            if self._stopping.is_set():
                return
            with self._lock:
                resyncing, watch = self._resyncing, self._watch
            if resyncing and conn is not None and not conn.aborted:
                self._cleanup(conn, watch)  # log the old session out: never leak one
            if conn is not None:
                conn.abort(str(error))
            with self._lock:
                if self._conn is conn:
                    self._conn = self._watch = None
            if self._synced_this_time:
                failures, relogin_now = 0, True
            if resyncing:  # asked for: connect again at once, and say so calmly
                with self._lock:
                    self._set_state(SessionState.CONNECTING, "resynchronising (requested)")
                self._publish()
                continue
            if isinstance(error, AuthError):
                state, delay = SessionState.AUTH_FAILED, self._timing.retry_slow
            elif isinstance(error, TlsError):
                state, delay = SessionState.TLS_ERROR, self._timing.retry_slow
            elif isinstance(error, SessionLost) and relogin_now:
                state, delay, relogin_now = SessionState.DISCONNECTED, _RETRY_AT_ONCE, False
            else:
                state, delay = SessionState.DISCONNECTED, self._backoff(failures)
                failures += 1
            self._fail(state, error)
            if delay > 0:
                self._log.info("retrying in %.1f s", delay)
            self._retry.wait(delay)

    def _connect(self) -> Connection:
        # The state stays what the last failure made it (disconnected, auth-failed, ...)
        # until a full sync succeeds: a retry is not news, and ``since`` keeps meaning
        # "since the trouble began".
        try:
            password = self.cfg.password()
        except PasswordError as e:  # unreadable or unusable: retried slowly, as a refusal is
            raise AuthError(f"cannot use the password: {e}") from None
        if not password:
            raise AuthError("the password is empty")
        t = self._timing
        dialer = self._dialer()
        conn = Connection(
            self.cfg,
            socket_timeout=t.wait_seconds + 2 * t.grace,
            call_timeout=t.grace,
            dial=dialer,
        )
        with self._lock:
            self._conn = conn
        conn.open(password)
        del password
        self._logged_in = True
        self.route = (dialer or Dialer()).describe()
        self._log.info(
            "logged in to %s (API %s) through %s", self.cfg.url, conn.version, self.route
        )
        return conn

    def _dialer(self) -> Optional[Dialer]:
        """How to reach vCenter: None for the default VRF and the kernel's source address."""
        cfg = self.cfg
        if cfg.vrf == DEFAULT_VRF and not cfg.source_interface:
            return None
        check_exists(cfg.vrf)  # first: a missing VRF is the cause, whatever else fails
        source = ""
        if cfg.source_interface:
            if self._source_address is None:
                raise VrfError(f"source_interface {cfg.source_interface}: no way to read it")
            try:
                source = self._source_address(cfg.source_interface, cfg.vrf)
            except Exception as e:  # whatever eAPI said: one clear line, and retried
                raise VrfError(f"source_interface {cfg.source_interface}: {e}") from None
        return Dialer(cfg.vrf, source, cfg.source_interface)

    def _watch_until_failure(self, conn: Connection) -> None:
        t = self._timing
        watch = Watch(
            conn,
            wait_seconds=t.wait_seconds,
            wait_timeout=t.wait_seconds + t.grace,
            max_object_updates=t.max_object_updates,
            event_page_size=t.event_page_size,
            scoped=self.scoped,
        )
        with self._lock:
            self._watch = watch
        watch.create()  # scoped: an empty list; the helper fills it (see _sync_scope)
        with self._lock:
            self._scope.reset(frozenset())
        store = InventoryStore(self._log.warning)
        tracker = self._new_tracker()
        version = ""
        synced = False
        at_once = False
        while not self._stopping.is_set():
            with self._lock:
                if self._resyncing:
                    raise ConnectionLost("resynchronising (requested)")
                token = self._scope.poll_started()
            update = watch.wait(version, at_once=at_once)
            if self._stopping.is_set():
                return
            truncated = update is not None and bool(getattr(update, "truncated", False))
            with self._lock:
                was_delivered = self._scope.delivered()
                if not truncated:
                    self._scope.poll_complete(token)
                # A scope change applied while this poll ran: read what it brought at once.
                at_once = self._scope.behind(token)
                now_delivered = self._scope.delivered() and not was_delivered
            if update is None:
                if synced and now_delivered:
                    self._publish()  # the scope's last change is in: synchronised again
                continue
            version = str(update.version)
            if synced:
                with self._lock:
                    changed = self._apply(update, store, tracker, watch)
                changed |= self._refetch(update, store, tracker, watch, locked=True)
                if changed:
                    with self._lock:
                        self._hosts_changed(store)
                if changed or now_delivered:
                    self._publish()
                continue
            self._apply(update, store, tracker, watch)
            self._refetch(update, store, tracker, watch, locked=False)
            self._read = (len(store.hosts()), len(store.vms()))
            if truncated:
                continue
            self._adopt(store, tracker)
            synced = True
            self._synced_this_time = True

    def _apply(
        self, update: Any, store: InventoryStore, tracker: MigrationTracker, watch: Watch
    ) -> bool:
        """Apply one UpdateSet to ``store`` and ``tracker``; True when something changed."""
        events_changed = False
        touched = False
        for filter_update in update.filterSet or []:
            scope_paths = SCOPED_HOST_PATHS if watch.from_scope(filter_update.filter) else None
            for obj_update in filter_update.objectSet or []:
                obj = obj_update.obj
                kind = kind_of(obj)
                changes = obj_update.changeSet or []
                if kind == "events":
                    for change in changes:
                        if change.name == "latestPage":
                            page_size = self._timing.event_page_size
                            events_changed |= tracker.feed(change.val, page_size)
                    continue
                obj_moid = moid(obj)
                if kind is None or obj_moid is None:
                    continue
                store.apply(
                    kind,
                    obj_moid,
                    str(obj_update.kind),
                    [(str(c.name), str(c.op), c.val) for c in changes],
                    [str(m.path) for m in obj_update.missingSet or []],
                    scope_paths=scope_paths,
                )
                touched = True
        inventory_changed = store.refresh() if touched else False
        pruned = tracker.prune(store.vm_hosts(), partial=self.scoped)
        return inventory_changed or events_changed or pruned

    def _refetch(
        self,
        update: Any,
        store: InventoryStore,
        tracker: MigrationTracker,
        watch: Watch,
        *,
        locked: bool,
    ) -> bool:
        """Read again (outside the lock) objects whose update named part of a property."""
        wanted = store.take_refetch()
        if not wanted:
            return False
        objs = [o for o in self._objects(update) if (kind_of(o), moid(o)) in wanted]
        with self._lock:
            listed = self._scope.listed()
        values = watch.fetch(objs, listed)
        lock: ContextManager[Any] = self._lock if locked else contextlib.nullcontext()
        with lock:
            for obj_moid, (kind, props) in values.items():
                store.replace(kind, obj_moid, props)
            changed = store.refresh()
            return tracker.prune(store.vm_hosts(), partial=self.scoped) or changed

    @staticmethod
    def _objects(update: Any) -> list[Any]:
        return [o.obj for f in update.filterSet or [] for o in f.objectSet or []]

    def _adopt(self, store: InventoryStore, tracker: MigrationTracker) -> None:
        """A full, consistent sync: make it the published inventory."""
        with self._lock:
            self._store = store
            self._migrations = tracker
            hosts = store.hosts()
            self._neighbors = {m: v for m, v in self._neighbors.items() if m in hosts}
            self._here = {m: v for m, v in self._here.items() if m in hosts}
            self._merged = {m: v for m, v in self._merged.items() if m in hosts}
            self._hint_due = {}
            self._host_up = {}
            if self.scoped:  # after a reconnect, every host is asked again at once
                self._discovery.update({})
            self._hosts_changed(store)
            self._keepalive_due = time.monotonic() + self._timing.keepalive_interval
            self._set_state(SessionState.CONNECTED)
        self._log.info("synchronised: %d hosts, %d VMs", len(store.hosts()), len(store.vms()))
        self._publish()
        self._wake.set()

    # -- the helper thread: watchdog, hints, keep-alive, migration timeouts -------------------
    def _run_helper(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._timing.tick)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._helper_round()
            except Exception:  # never let the helper die
                self._log.exception("unexpected error in the vCenter helper")

    def _helper_round(self) -> None:
        t = self._timing
        with self._lock:
            conn = self._conn
            connected = self._state == SessionState.CONNECTED
        if conn is not None and not conn.aborted:  # cut once, not on every tick after
            late = conn.overdue()
            if late:
                reason = f"watchdog: {late} got no answer in time; cutting the connection"
                self._log.warning("%s", reason)
                conn.abort(reason)
        if conn is not None and connected and not conn.aborted:
            self._refresh_hints(conn)
            if self.scoped:
                self._sync_scope(conn)
            if time.monotonic() >= self._keepalive_due:
                self._keepalive_due = time.monotonic() + t.keepalive_interval
                try:
                    conn.keepalive()
                except (SessionLost, ConnectionLost) as e:
                    conn.abort(f"keep-alive failed: {e}", type(e))
                except VcenterError as e:
                    self._log.info("keep-alive: %s", e)
        with self._lock:
            store = self._store
            pruned = store is not None and self._migrations.prune(
                store.vm_hosts(), partial=self.scoped
            )
        if pruned:
            self._publish()

    def _refresh_hints(self, conn: Connection) -> None:
        unpublished = [False]  # a host's neighbours changed since the last publish
        try:
            if self.scoped:
                self._ask_scoped(conn, unpublished)
            else:
                self._ask_hints(conn, unpublished)
        finally:
            if unpublished[0]:
                self._publish()

    def _ask_hints(self, conn: Connection, unpublished: list[bool]) -> None:
        """QueryNetworkHint for every host due; publishes at most every HINT_PUBLISH_EVERY
        (a round over 1,000 hosts would otherwise rebuild the snapshot 1,000 times)."""
        now = time.monotonic()
        published = now
        due: list[tuple[str, str]] = []
        with self._lock:
            store = self._store
            if store is None:
                return
            hosts = store.hosts()
            for m, when in self._hint_due.items():
                ns = store.network_system(m)
                if m in self._hinted and self._hinted[m] < self._settle_at <= now:
                    when = now  # asked before it could hear this switch (expect_hearing)
                if when <= now and m in hosts and hosts[m].connected and ns is not None:
                    due.append((m, ns))
        for host_moid, network_system in due:
            if self._stopping.is_set() or conn.aborted:
                return
            with self._lock:
                self._discovery.asking(host_moid)  # counted for status
            asked_at = time.monotonic()
            try:
                answer = conn.network_hints(network_system)
            except (SessionLost, ConnectionLost) as e:
                if isinstance(e, SessionLost):
                    conn.abort(f"QueryNetworkHint: {e}", SessionLost)
                return
            except VcenterError as e:
                self._log.info("no network hints for host %s: %s", host_moid, e)
                with self._lock:
                    if host_moid in self._hint_due:
                        self._hint_due[host_moid] = time.monotonic() + self.cfg.hint_interval
                    marked = self._mark_asked(host_moid, asked_at)
                unpublished[0] |= marked
                continue
            heard = neighbors_from_hints(answer, self._log.warning)
            with self._lock:
                if host_moid not in self._hint_due:
                    continue
                self._hint_due[host_moid] = time.monotonic() + self.cfg.hint_interval
                changed = self._mark_asked(host_moid, asked_at)
                changed |= self._neighbors.get(host_moid) != heard
                if changed:
                    self._neighbors[host_moid] = heard
            unpublished[0] |= changed
            if unpublished[0] and time.monotonic() - published >= HINT_PUBLISH_EVERY:
                self._publish()
                unpublished[0], published = False, time.monotonic()

    def _ask_scoped(self, conn: Connection, unpublished: list[bool]) -> None:
        """QueryNetworkHint for the hosts discovery says are due (scoped sessions), up to
        HINT_CONCURRENCY at once; every answer is handled here, in this thread."""
        work: list[tuple[str, str, frozenset[str], bool]] = []
        with self._lock:
            store = self._store
            if store is None:
                return
            hosts = store.hosts()
            room = self._discovery.room()
            for m in self._discovery.due():
                ns = store.network_system(m)
                host = hosts.get(m)
                if ns is None or host is None or not host.connected:
                    self._discovery.failed(m)
                    continue
                links = store.links(m)[1]
                per_vmnic = m in self._per_vmnic and bool(links)
                calls = len(links) if per_vmnic else 1
                if calls > room:
                    break  # still due: asked once the ceiling allows
                room -= calls
                self._discovery.asking(m, calls)  # counted now: the ceiling holds
                work.append((m, ns, links, per_vmnic))
        published = time.monotonic()

        def ask(item: tuple[str, str, frozenset[str], bool]) -> dict[str, tuple[Neighbor, ...]]:
            return self._query(conn, *item)

        def stopped() -> bool:
            return self._stopping.is_set() or bool(conn.aborted)

        for (host_moid, _, _, _), outcome in self._fanout.run(work, ask, stopped):
            asked_at = time.monotonic()
            e = outcome.error
            if isinstance(e, (SessionLost, ConnectionLost)):
                if isinstance(e, SessionLost):
                    conn.abort(f"QueryNetworkHint: {e}", SessionLost)
                return
            if e is not None and not isinstance(e, VcenterError):
                raise e
            if e is not None or outcome.value is None:
                self._log.info("no network hints for host %s: %s", host_moid, e)
                with self._lock:
                    self._discovery.failed(host_moid)
                    marked = self._mark_asked(host_moid, asked_at)
                unpublished[0] |= marked
                continue
            heard = outcome.value
            with self._lock:
                hearing = [d for d, ns in heard.items() if ns]
                changed = self._neighbors.get(host_moid) != heard
                if changed:
                    self._neighbors[host_moid] = heard
                known = self._neighbors[host_moid]
                here = self._host_heard_here(host_moid, known)
                self._discovery.answered(host_moid, here, hearing)  # before _mark_asked
                marked = self._mark_asked(host_moid, asked_at)
                if changed:
                    self._rescope_due = True  # once per publish, not once per answer
                changed |= marked
            unpublished[0] |= changed
            if unpublished[0] and time.monotonic() - published >= HINT_PUBLISH_EVERY:
                # The VMs of the hosts found here so far come in now (that publishes).
                if not self._sync_scope(conn):
                    self._publish()
                unpublished[0], published = False, time.monotonic()

    def _query(
        self, conn: Connection, host_moid: str, network_system: str, links: frozenset[str],
        per_vmnic: bool,
    ) -> dict[str, tuple[Neighbor, ...]]:  # fmt: skip
        """One host's neighbours: the bulk call, or one call per vmnic with link when the
        bulk call answers nothing (some ESXi builds do) or answered nothing before. Runs
        on a fanout thread: the calls were counted by the caller, except the per-vmnic
        ones after an empty bulk answer, counted here within the ceiling."""
        if not per_vmnic:
            heard = neighbors_from_hints(conn.network_hints(network_system), self._log.warning)
            if any(heard.values()) or not links:
                return heard
            with self._lock:
                if self._discovery.room() < len(links):
                    return heard  # asked per vmnic next time, within the ceiling
                self._discovery.asking(host_moid, len(links))
        found: dict[str, tuple[Neighbor, ...]] = {}
        for device in sorted(links):
            answer = conn.network_hints(network_system, [device])
            for dev, ns in neighbors_from_hints(answer, self._log.warning).items():
                if dev == device and ns:
                    found[dev] = ns
        with self._lock:
            if found and host_moid not in self._per_vmnic:
                self._log.info(
                    "host %s answers QueryNetworkHint only per vmnic; asking it so", host_moid
                )
                self._per_vmnic.add(host_moid)
            elif not found:
                self._per_vmnic.discard(host_moid)
        return found

    def _sync_scope(self, conn: Connection) -> bool:
        """ModifyListView to what the scope should hold (hosts heard here, VMs coming);
        True when it changed the scope (and published)."""
        with self._lock:
            self._rescope_if_due()
            watch, store = self._watch, self._store
            if watch is None or store is None or watch.list_view is None:
                return False
            add, remove = self._scope.diff()
            if not add and not remove:
                return False
            kinds = {m: self._scope.kind(m) for m in add + remove}
        try:
            watch.modify_scope([(kinds[m], m) for m in add], [(kinds[m], m) for m in remove])
        except (SessionLost, ConnectionLost) as e:
            conn.abort(f"ModifyListView: {e}", type(e))
            return False
        except VcenterError as e:
            # An object that just went away: the next change of the inventory rescopes.
            self._log.info("cannot change the scope (+%d -%d): %s", len(add), len(remove), e)
            return False
        with self._lock:
            self._scope.applied(add, remove)
            heard, coming = len(self._scope.hosts), len(self._scope.vms)
        self._log.info(
            "scope: %d in, %d out (%d hosts heard here, %d VMs migrating to them)",
            len(add), len(remove), heard, coming,
        )  # fmt: skip
        self._publish()
        return True

    def _cleanup(self, conn: Connection, watch: Optional[Watch]) -> None:
        if watch is not None:
            watch.destroy()
        conn.logout()


__all__ = ["SessionFigures", "SessionTiming", "SyncProgress", "VcenterSession"]
