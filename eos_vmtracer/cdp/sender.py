"""The CDP sender: one background thread that keeps every port's frames going.

What this module is for: :class:`CdpSender` sends a CDPv2 frame out of each
port it is given, at once when the port appears (or what it says changes) and
then every ``interval`` seconds, give or take ``jitter``. The agent calls
:meth:`CdpSender.update` whenever the switch facts or the configuration change.

It must never crash or stop because of one port: a missing or down interface is
logged once (and again only when the problem changes or is over), retried
every ``retry`` seconds, and counted in :meth:`CdpSender.stats`. Sends never
block, so one slow or failing port never delays the others. Sockets are only
ever opened, used and closed by the sender's own thread, so they live in that
thread's network namespace.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Tuple

from eos_vmtracer.cdp.errors import CdpError, LinkError
from eos_vmtracer.cdp.frames import build_frame
from eos_vmtracer.cdp.identity import CdpIdentity
from eos_vmtracer.cdp.link import Link, RawLink

log = logging.getLogger(__name__)

#: Seconds between attempts on a port that failed (never more than ``interval``).
DEFAULT_RETRY = 5.0
#: Ports due within SLACK * interval (at most MAX_SLACK seconds) are sent together.
SLACK = 0.05
MAX_SLACK = 1.0


@dataclass(frozen=True)
class PortStats:
    """How sending on one EOS port is going."""

    interface: str
    """The kernel interface the frames go out of."""
    frames_sent: int = 0
    last_sent: Optional[float] = None
    """Wall-clock time (``time.time()``) of the last frame sent, if any."""
    failing: bool = False
    """The latest attempt failed (``last_error`` says why)."""
    last_error: str = ""
    """The most recent failure, kept after the port recovers."""
    last_error_at: Optional[float] = None
    errors: int = 0


@dataclass(frozen=True)
class _Want:
    """What the agent asked for on one port."""

    ifname: str
    native_vlan: Optional[int]


@dataclass
class _Port:
    """The sender thread's own state for one port (only that thread touches it)."""

    port_id: str
    want: _Want
    link: Link
    due: float = 0.0
    frame: bytes = b""
    frame_mac: str = ""
    problem: str = ""  # what was last logged as wrong; "" while the port works


class _Counters:
    """Mutable per-port counters behind :class:`PortStats` (guarded by the lock)."""

    __slots__ = (
        "errors",
        "failing",
        "frames_sent",
        "interface",
        "last_error",
        "last_error_at",
        "last_sent",
    )

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.frames_sent = 0
        self.last_sent: Optional[float] = None
        self.failing = False
        self.last_error = ""
        self.last_error_at: Optional[float] = None
        self.errors = 0

    def snapshot(self) -> PortStats:
        return PortStats(
            self.interface,
            frames_sent=self.frames_sent,
            last_sent=self.last_sent,
            failing=self.failing,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            errors=self.errors,
        )


#: One attempt's result: (EOS port, kernel interface, wall-clock time, error or "").
_Outcome = Tuple[str, str, float, str]


class CdpSender:
    """Sends CDP frames on a set of ports from a background (daemon) thread.

    ``interval``: seconds between frames on a port; ``holdtime``: the TTL the
    frames carry (1-255 s); ``jitter``: each interval is stretched or shrunk by
    up to this fraction (0.1 = +-10 %); ``retry``: seconds between attempts on
    a failing port (at most ``interval``); ``link_factory``: how a kernel
    interface name becomes a :class:`~eos_vmtracer.cdp.link.Link` (tests use
    fakes). The thread, and so every socket, lives in the network namespace of
    the thread that calls :meth:`start`.
    """

    def __init__(
        self,
        *,
        interval: float,
        holdtime: int,
        jitter: float = 0.1,
        retry: float = DEFAULT_RETRY,
        link_factory: Callable[[str], Link] = RawLink,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"CDP interval must be positive, not {interval}")
        if isinstance(holdtime, bool) or not 1 <= holdtime <= 255:
            raise ValueError(f"CDP holdtime must be 1-255 seconds, not {holdtime}")
        if not 0 <= jitter < 1:
            raise ValueError(f"CDP jitter must be at least 0 and below 1, not {jitter}")
        if not retry > 0:
            raise ValueError(f"CDP retry must be positive, not {retry}")
        self._interval = float(interval)
        self._holdtime = holdtime
        self._jitter = jitter
        self._retry = min(float(retry), self._interval)
        # Ports due within this much of each other go out in the same wake-up
        # (a little early, well inside the jitter): fewer wake-ups, same rate.
        self._slack = min(self._interval * SLACK, MAX_SLACK)
        self._link_factory = link_factory
        self._random = random.Random()
        self._cond = threading.Condition()
        # Guarded by _cond:
        self._identity: Optional[CdpIdentity] = None
        self._wanted: dict[str, _Want] = {}
        self._changed = False
        self._stopping = False
        self._counters: dict[str, _Counters] = {}
        self._thread: Optional[threading.Thread] = None
        # Owned by the sender thread:
        self._ports: dict[str, _Port] = {}
        self._sent_identity: Optional[CdpIdentity] = None

    # -- the agent's side ---------------------------------------------------------------

    def update(
        self,
        identity: CdpIdentity,
        ports: Mapping[str, str],
        native_vlans: Optional[Mapping[str, int]] = None,
    ) -> None:
        """Send ``identity`` on ``ports`` (EOS port -> kernel interface) from now on.

        A new port, or one whose frame changes, gets a frame at once; ports left
        out stop. Safe to call from any thread, before or after :meth:`start`.
        """
        vlans = native_vlans or {}
        wanted = {port: _Want(ifname, vlans.get(port)) for port, ifname in ports.items()}
        with self._cond:
            self._identity = identity
            self._wanted = wanted
            counters: dict[str, _Counters] = {}
            for port, want in wanted.items():
                old = self._counters.get(port)
                same = old is not None and old.interface == want.ifname
                counters[port] = old if old is not None and same else _Counters(want.ifname)
            self._counters = counters
            self._changed = True
            self._cond.notify_all()

    def start(self) -> None:
        """Start the background thread; every port gets a frame at once."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._changed = True
            self._thread = threading.Thread(target=self._run, name="cdp-sender", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending and close every socket (waits up to ``timeout`` seconds)."""
        with self._cond:
            self._stopping = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("CDP: the sender thread did not stop within %.0fs", timeout)

    def stats(self) -> dict[str, PortStats]:
        """Per EOS port: frames sent, when the last one went, the last error."""
        with self._cond:
            return {port: c.snapshot() for port, c in self._counters.items()}

    @property
    def running(self) -> bool:
        """True while the background thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- the sender thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    if self._changed:
                        self._reconcile(time.monotonic())
                    now = time.monotonic()
                    identity = self._identity
                    due = min((p.due for p in self._ports.values()), default=None)
                    if identity is None or due is None or due > now:
                        self._cond.wait(None if identity is None or due is None else due - now)
                        continue
                outcomes = self._send_due(identity, time.monotonic())
                with self._cond:
                    self._record(outcomes)
        except Exception:  # a bug here must not end CDP silently (``running`` turns False)
            log.exception("CDP: the sender thread failed; no more CDP frames will be sent")
        finally:
            for port in self._ports.values():
                port.link.close()
            self._ports = {}

    def _reconcile(self, now: float) -> None:
        """Make the thread's ports match what was asked for (called under the lock)."""
        self._changed = False
        identity_changed = self._identity != self._sent_identity
        self._sent_identity = self._identity
        for port_id in list(self._ports):
            port = self._ports[port_id]
            want = self._wanted.get(port_id)
            if want is None or want.ifname != port.want.ifname:
                port.link.close()
                del self._ports[port_id]
                if want is None and port.problem:
                    log.info("CDP: %s (%s) is no longer sent on", port_id, port.want.ifname)
            elif want != port.want or identity_changed:
                port.want = want
                port.frame = b""
                port.due = now
        for port_id, want in self._wanted.items():
            if port_id not in self._ports:
                self._ports[port_id] = _Port(port_id, want, self._link_factory(want.ifname), now)

    def _send_due(self, identity: CdpIdentity, now: float) -> list[_Outcome]:
        """Send on every port that is due (or nearly); schedule each one's next frame.

        The ports sent together share one jittered next time, so they stay
        together: one wake-up per interval, as a switch sends CDP on all ports
        from one timer. Jitter keeps this switch from falling in step with others.
        """
        spread = self._random.uniform(-self._jitter, self._jitter)
        next_due = now + self._interval * (1.0 + spread)
        outcomes: list[_Outcome] = []
        for port in self._ports.values():
            if port.due > now + self._slack:
                continue
            outcome = self._send_one(identity, port)
            outcomes.append(outcome)
            port.due = now + self._retry if outcome[3] else next_due
        return outcomes

    def _send_one(self, identity: CdpIdentity, port: _Port) -> _Outcome:
        name, ifname = port.port_id, port.want.ifname
        try:
            mac = port.link.mac()
            if not port.frame or mac != port.frame_mac:
                port.frame = build_frame(
                    identity,
                    port.port_id,
                    mac,
                    holdtime=self._holdtime,
                    native_vlan=port.want.native_vlan,
                )
                port.frame_mac = mac
            port.link.send(port.frame)
        except LinkError as e:
            problem = e.reason
        except (CdpError, ValueError) as e:
            problem = str(e)
        except Exception as e:  # never let one port stop the others
            log.exception("CDP: unexpected failure on %s (%s)", name, ifname)
            problem = f"unexpected error: {e}"
        else:
            if port.problem:
                log.info("CDP: sending on %s (%s) again", name, ifname)
                port.problem = ""
            return (name, ifname, time.time(), "")
        if problem != port.problem:
            log.warning(
                "CDP: cannot send on %s (%s): %s; retrying every %gs",
                name,
                ifname,
                problem,
                self._retry,
            )
            port.problem = problem
        return (name, ifname, time.time(), problem)

    def _record(self, outcomes: list[_Outcome]) -> None:
        """Fold one wake-up's outcomes into the counters (called under the lock)."""
        for port_id, ifname, at, error in outcomes:
            counters = self._counters.get(port_id)
            if counters is None or counters.interface != ifname:
                continue  # the port was removed or moved while the frames went out
            if error:
                counters.failing = True
                counters.last_error = error
                counters.last_error_at = at
                counters.errors += 1
            else:
                counters.failing = False
                counters.frames_sent += 1
                counters.last_sent = at


__all__ = ["DEFAULT_RETRY", "CdpSender", "PortStats"]
