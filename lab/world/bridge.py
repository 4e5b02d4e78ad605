"""The CDP bridge: what each "ESXi host" heard on the wire becomes what vCenter reports.

What this module is for: a real ESXi host caches the CDP frames it hears and
answers ``QueryNetworkHint`` from that cache. In the lab the listener is lldpd
inside the host's namespace and the answer comes from the lab vCenter, so
:class:`NeighborBridge` closes the loop: every ``interval`` it reads each host's
neighbours with ``lldpcli`` (JSON) and, when they differ from what it last
told vCenter, pushes them with ``LabControl.set_neighbors`` — device ID, port
ID, management address, platform, software version and TTL exactly as lldpd
parsed them from the agent's frames. A neighbour lldpd forgot (TTL expired, link
down) is cleared in vCenter too. It also mirrors each cabled vmnic's link (the
interface is there and up in the host's namespace, or not) as ESXi reports it:
``LabControl.set_link`` (``config.network.pnic[].linkSpeed``).

It must never invent a neighbour (only what lldpd reports is pushed), never touch
a vmnic that is not cabled (a scenario may preset those), and never die on a
failed read or push: it records the error and tries again on the next round.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from lab.netns import HostNamespace, LabError, LldpNeighbor
from lab.vcsim import LabControl, LabControlError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Push:
    """One change the bridge made in vCenter."""

    at: float  # time.time()
    vcenter: str
    host: str
    vmnic: str
    cdp: Optional[Mapping[str, Any]]  # None: cleared


def cdp_spec(neighbor: LldpNeighbor) -> dict[str, Any]:
    """What ESXi would report for this CDP neighbour (the lab vCenter's ``cdp`` spec)."""
    platform, _, version = neighbor.descr.partition(" running on")
    return {
        "device_id": neighbor.name or neighbor.chassis_id,
        "port_id": neighbor.port_id,
        "address": neighbor.mgmt_ips[0] if neighbor.mgmt_ips else "",
        "platform": platform.strip(),
        "version": version.strip(),
        "ttl": neighbor.ttl,
    }


class NeighborBridge:
    """lldpd (per host) -> lab vCenter neighbours, on a background thread.

    ``hosts``: host name -> its namespace; ``cabled``: host name -> its cabled vmnics;
    ``vcenter_of``: host name -> session name; ``control``: session name -> the
    LabControl of that vCenter now (looked up on every push: a restarted lab keeps
    its control object but the caller may replace it).
    """

    def __init__(
        self,
        hosts: Mapping[str, HostNamespace],
        cabled: Mapping[str, tuple[str, ...]],
        vcenter_of: Mapping[str, str],
        control: Callable[[str], LabControl],
        *,
        interval: float = 0.3,
    ) -> None:
        self.hosts = dict(hosts)
        self.cabled = {h: tuple(v) for h, v in cabled.items()}
        self.vcenter_of = dict(vcenter_of)
        self._control = control
        self.interval = interval
        self.pushes: list[Push] = []
        self.errors: list[str] = []
        self.rounds = 0
        self._told: dict[tuple[str, str], Optional[dict[str, Any]]] = {}  # (host, vmnic) -> spec
        self._links: dict[tuple[str, str], bool] = {}  # (host, vmnic) -> link told to vCenter
        self._heard: dict[str, list[LldpNeighbor]] = {}
        self._lock = threading.Lock()  # one round at a time (thread and sync_now)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> NeighborBridge:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cdp-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sync_now()
            self._stop.wait(self.interval)

    # -- the work ---------------------------------------------------------------------------
    def forget(self, vcenter: str) -> None:
        """That vCenter lost what it was told (it restarted): tell it again next round."""
        with self._lock:
            for key in [k for k in self._told if self.vcenter_of[k[0]] == vcenter]:
                del self._told[key]
            for key in [k for k in self._links if self.vcenter_of[k[0]] == vcenter]:
                del self._links[key]

    def sync_now(self) -> int:
        """One round: read every host's lldpd, push the differences; returns how many."""
        with self._lock:
            self.rounds += 1
            pushed = 0
            for host, ns in self.hosts.items():
                try:
                    heard = ns.neighbors()
                except LabError as e:
                    self._error(f"{host}: {e}")
                    continue
                self._heard[host] = heard
                pushed += self._mirror_links(host, ns)
                by_nic = {n.interface: n for n in heard if n.via.upper().startswith("CDP")}
                for vmnic in self.cabled.get(host, ()):
                    neighbor = by_nic.get(vmnic)
                    spec = cdp_spec(neighbor) if neighbor is not None else None
                    key = (host, vmnic)
                    if key in self._told and self._told[key] == spec:
                        continue
                    if key not in self._told and spec is None:
                        self._told[key] = None  # nothing heard, nothing to clear
                        continue
                    vcenter = self.vcenter_of[host]
                    try:
                        self._control(vcenter).set_neighbors(host, vmnic, cdp=spec)
                    except LabControlError as e:
                        self._error(f"{vcenter} {host} {vmnic}: {e}")
                        continue
                    self._told[key] = spec
                    self.pushes.append(Push(time.time(), vcenter, host, vmnic, spec))
                    pushed += 1
            return pushed

    def _mirror_links(self, host: str, ns: HostNamespace) -> int:
        """Tell vCenter each cabled vmnic's link when it changed; how many were told."""
        try:
            links = ns.links()
        except LabError as e:
            self._error(f"{host}: {e}")
            return 0
        told = 0
        for vmnic in self.cabled.get(host, ()):
            rec = links.get(vmnic)
            up = (
                rec is not None
                and "UP" in rec.get("flags", [])
                and "LOWER_UP" in rec.get("flags", [])
            )
            key = (host, vmnic)
            if self._links.get(key, True) == up:
                self._links[key] = up
                continue
            vcenter = self.vcenter_of[host]
            try:
                self._control(vcenter).set_link(host, vmnic, up)
            except LabControlError as e:
                self._error(f"{vcenter} {host} {vmnic} link: {e}")
                continue
            self._links[key] = up
            told += 1
        return told

    def _error(self, text: str) -> None:
        if not self.errors or self.errors[-1] != text:
            log.info("cdp bridge: %s", text)
        self.errors.append(text)
        del self.errors[:-50]

    # -- views ------------------------------------------------------------------------------
    def heard(self, host: str) -> list[LldpNeighbor]:
        """What ``host``'s lldpd reported in the last round."""
        with self._lock:
            return list(self._heard.get(host, []))

    def told(self) -> dict[tuple[str, str], Optional[dict[str, Any]]]:
        """(host, vmnic) -> the CDP neighbour vCenter now reports (None: none)."""
        with self._lock:
            return dict(self._told)


__all__ = ["NeighborBridge", "Push", "cdp_spec"]
