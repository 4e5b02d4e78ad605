"""Client for the lab vCenter's control interface (JSON over HTTP on loopback).

What this module is for: let tests and the demo change what the simulated vCenter
reports (power, vNIC moves, VLAN edits, migrations with their events, host
disconnects, CDP/LLDP neighbours) and read its request counters.

It must never talk to the vCenter endpoint itself (that is the agent's job) and
never retry a control call silently: every failure raises :class:`LabControlError`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Optional, Sequence


class LabControlError(RuntimeError):
    """The lab refused a control call (the message says why)."""


class LabControl:
    """Calls /lab/... on the lab's control port."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}/lab/{path}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                msg = json.loads(e.read()).get("error", "")
            except ValueError:
                msg = ""
            raise LabControlError(f"{path}: {msg or e}") from None
        except (urllib.error.URLError, OSError) as e:
            raise LabControlError(f"{path}: {e}") from None

    # -- reading -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Names -> ids: hosts, vms (with host, power, vNIC keys), dvswitches, dvportgroups."""
        return dict(self._call("state"))

    def counters(self) -> dict[str, int]:
        """SOAP requests received, by method (plus ``"GET /path"`` for plain requests)."""
        return {str(k): int(v) for k, v in self._call("counters").items()}

    def sent_bytes(self) -> dict[str, int]:
        """Response bytes sent to clients, by SOAP method (reset with the counters)."""
        return {str(k): int(v) for k, v in self._call("bytes")["bytes"].items()}

    def update_answers(self) -> int:
        """WaitForUpdatesEx answers that carried updates (reset with the counters)."""
        return int(self._call("bytes")["update_answers"])

    def peaks(self) -> dict[str, int]:
        """The most requests of each SOAP method in flight at once (reset with the
        counters)."""
        return {str(k): int(v) for k, v in self._call("peaks").items()}

    def reset_counters(self) -> None:
        self._call("counters/reset", {})

    # -- faults ------------------------------------------------------------------------------
    def stall(self, method: str, on: bool = True) -> None:
        """Hold every request for SOAP ``method`` unanswered until stalled off."""
        self._call("stall", {"method": method, "on": on})

    def delay(self, method: str, seconds: float) -> None:
        """Answer every request for SOAP ``method`` ``seconds`` late (0: at once), each
        request on its own: a vCenter relaying calls to its hosts' agents."""
        self._call("delay", {"method": method, "seconds": seconds})

    def terminate_sessions(self) -> int:
        """End every client session the lab has seen (clients then get NotAuthenticated)."""
        return int(self._call("sessions/terminate", {})["terminated"])

    # -- changes -----------------------------------------------------------------------------
    def set_neighbors(
        self,
        host: str,
        vmnic: str,
        cdp: Optional[dict[str, Any]] = None,
        lldp: Optional[dict[str, Any]] = None,
    ) -> None:
        """What ``vmnic`` of ``host`` hears; neither CDP nor LLDP clears it."""
        self._call("neighbors", {"host": host, "vmnic": vmnic, "cdp": cdp, "lldp": lldp})

    def power(self, vm: str, on: bool) -> bool:
        """Power a VM on or off; False when it already was."""
        return bool(self._call("vm/power", {"vm": vm, "on": on})["changed"])

    def move_nic(
        self,
        vm: str,
        nic: int,
        *,
        portgroup: str = "",
        dvportgroup: str = "",
        opaque: str = "",
        connected: Optional[bool] = None,
    ) -> None:
        """Re-plug vNIC number ``nic`` (0-based, by device key) and/or (dis)connect it."""
        body: dict[str, Any] = {"vm": vm, "nic": nic}
        if portgroup:
            body["portgroup"] = portgroup
        if dvportgroup:
            body["dvportgroup"] = dvportgroup
        if opaque:
            body["opaque"] = opaque
        if connected is not None:
            body["connected"] = connected
        self._call("vm/nic", body)

    def set_portgroup_vlan(self, portgroup: str, vlan: int, hosts: Sequence[str] = ()) -> int:
        """Set a standard portgroup's VLAN id on ``hosts`` (default: every host having it)."""
        body = {"portgroup": portgroup, "vlan": vlan, "hosts": list(hosts)}
        return int(self._call("portgroup/vlan", body)["hosts"])

    def set_dvportgroup_vlan(
        self,
        dvportgroup: str,
        *,
        vlan: Optional[int] = None,
        trunk: Optional[Sequence[tuple[int, int]]] = None,
        pvlan: Optional[int] = None,
    ) -> None:
        """Give a distributed portgroup a VLAN id, trunk ranges or a private VLAN."""
        body: dict[str, Any] = {"dvportgroup": dvportgroup}
        if vlan is not None:
            body["vlan"] = vlan
        if trunk is not None:
            body["trunk"] = [list(r) for r in trunk]
        if pvlan is not None:
            body["pvlan"] = pvlan
        self._call("dvportgroup/vlan", body)

    def relocate(
        self, vm: str, host: str, *, duration: float = 0.0, fail: bool = False, wait: bool = False
    ) -> None:
        """Migrate a VM: VmBeingHotMigratedEvent (destHost) now, runtime.host and
        VmMigratedEvent after ``duration`` seconds (VmFailedMigrateEvent when ``fail``)."""
        body = {"vm": vm, "host": host, "duration": duration, "fail": fail, "wait": wait}
        self._call("vm/relocate", body)

    def set_host_connected(self, host: str, connected: bool) -> None:
        """Disconnect or reconnect a host (runtime.connectionState, and its VMs')."""
        self._call("host/connection", {"host": host, "connected": connected})

    def set_link(self, host: str, vmnic: str, up: bool) -> None:
        """Take a physical NIC's link down or up (``config.network.pnic[].linkSpeed``
        unset or set, seen by the property collector); without link it hears nobody."""
        self._call("host/link", {"host": host, "vmnic": vmnic, "up": up})

    def set_bulk_hint_empty(self, host: str, empty: bool = True) -> None:
        """Make ``host`` answer QueryNetworkHint without devices with nothing (it still
        answers per vmnic), as some ESXi builds do."""
        self._call("host/bulk-hint", {"host": host, "empty": empty})

    def add_vm(
        self, name: str, host: str, nics: Sequence[dict[str, Any]], power: str = "on"
    ) -> str:
        """Create a VM; returns its moid."""
        body = {"name": name, "host": host, "nics": list(nics), "power": power}
        return str(self._call("vm/add", body)["moid"])

    def remove_vm(self, name: str) -> None:
        """Power off (if needed) and destroy a VM."""
        self._call("vm/remove", {"vm": name})
