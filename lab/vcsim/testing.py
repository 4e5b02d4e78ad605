"""Helpers for tests that run a VcenterSession against the lab vCenter.

What this module is for: build a SessionConfig for a running lab, poll a condition
with a deadline, open a scoped watch on the lab and read its long poll until it is
quiet, make of UpdateSets the inventory the adapter's store makes, and compute from a
scenario (plus the ids the lab assigned) the inventory a session must report: an
oracle written from the scenario, independent of the adapter's own translation code.

It must never be imported by runtime code, and never weaken an assertion: every wait
raises AssertionError with what was expected when its deadline passes.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from eos_vmtracer.config import SessionConfig
from eos_vmtracer.model import (
    DvPortgroup,
    Host,
    HostPortgroup,
    HostSwitch,
    Neighbor,
    NetworkRef,
    PhysicalNic,
    VlanSpec,
    Vm,
    VmkNic,
    VNic,
)
from eos_vmtracer.vcenter import SessionTiming
from eos_vmtracer.vcenter.connection import Connection
from eos_vmtracer.vcenter.inventory import InventoryStore
from eos_vmtracer.vcenter.translate import moid
from eos_vmtracer.vcenter.watch import Watch, kind_of
from eos_vmtracer.vlans import VlanSet
from lab.vcsim.lab import VcsimLab

#: Timings that make a session react fast in tests (defaults suit production).
FAST = SessionTiming(
    wait_seconds=2,
    grace=2.0,
    keepalive_interval=30.0,
    backoff_initial=0.1,
    backoff_max=0.5,
    retry_slow=30.0,
    tick=0.05,
)


def session_config(lab: VcsimLab, **overrides: Any) -> SessionConfig:
    """A session for ``lab``: its URL, user, a 0600 password file and its thumbprint."""
    values: dict[str, Any] = {
        "name": "vc1",
        "url": lab.url,
        "username": lab.username,
        "password_file": str(lab.password_file()),
        "allowed_vlans": VlanSet.all(),
        "thumbprint": lab.thumbprint,
        "hint_interval": 60.0,
    }
    values.update(overrides)
    return SessionConfig(**values)


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.01) -> float:
    """Poll ``pred`` until it is true; return the seconds it took."""
    start = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(interval)


@contextlib.contextmanager
def scoped_watch(lab: VcsimLab, timeout: float, **options: Any) -> Iterator[Any]:
    """A scoped Watch on ``lab``, created (``options``: its size limits), over a
    connection logged in; destroyed and logged out on leaving."""
    conn = Connection(session_config(lab), socket_timeout=timeout, call_timeout=timeout)
    conn.open(lab.password)
    watch = Watch(conn, wait_seconds=1, wait_timeout=timeout, scoped=True, **options)
    try:
        watch.create()
        yield watch
    finally:
        watch.destroy()
        conn.logout()


def drain(watch: Any, version: str, rounds: int = 200) -> str:
    """Read ``watch``'s long poll until nothing is left; the version reached."""
    for _ in range(rounds):
        update = watch.wait(version, at_once=True)
        if update is None:
            return version
        version = str(update.version)
    raise AssertionError(f"the long poll never settled in {rounds} answers")


def inventory_of(update_sets: Iterable[Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Hosts, VMs and warnings the adapter's store makes of ``update_sets``, in order."""
    warnings: list[str] = []
    store = InventoryStore(warnings.append)
    for update in update_sets:
        for f in update.filterSet or []:
            for o in f.objectSet or []:
                kind, obj_moid = kind_of(o.obj), moid(o.obj)
                if kind is None or obj_moid is None:
                    continue
                changes = [(str(c.name), str(c.op), c.val) for c in o.changeSet or []]
                store.apply(kind, obj_moid, str(o.kind), changes)
    store.refresh()
    return dict(store.hosts()), dict(store.vms()), warnings


def _vlan(value: Any) -> VlanSpec:
    """A scenario VLAN (standard vlanId, or a distributed portgroup's setting)."""
    if isinstance(value, int):
        if value == 4095:
            return VlanSpec.trunk(VlanSet.all())
        return VlanSpec.single(value)
    raise ValueError(value)


def _dv_vlan(pg: Mapping[str, Any], pvlans: Mapping[int, int]) -> VlanSpec:
    if "vlan" in pg:
        return VlanSpec.single(pg["vlan"])
    if "trunk" in pg:
        ids: set[int] = set()
        for start, end in pg["trunk"]:
            ids.update(v for v in range(start, end + 1) if 1 <= v <= 4094)
        return VlanSpec.trunk(VlanSet(ids))
    return VlanSpec.private(pvlans[pg["pvlan"]], pg["pvlan"])


def _neighbors(spec: Mapping[str, Any]) -> tuple[Neighbor, ...]:
    out = []
    if spec.get("cdp"):
        c = spec["cdp"]
        out.append(Neighbor("cdp", c["device_id"], c["port_id"], c.get("address", "")))
    if spec.get("lldp"):
        d = spec["lldp"]
        device = d.get("system_name") or d["chassis_id"]
        out.append(Neighbor("lldp", device, d["port_id"], d.get("address", "")))
    return tuple(out)


@dataclass(frozen=True)
class Expected:
    """What a synchronised session must show for a scenario."""

    hosts: Mapping[str, Host]
    vms: Mapping[str, Vm]
    dv_portgroups: Mapping[str, DvPortgroup]


def expected_inventory(
    scenario: Mapping[str, Any],
    state: Mapping[str, Any],
    neighbors: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> Expected:
    """The inventory ``scenario`` must produce, with the ids the lab reports in ``state``.

    ``neighbors`` overrides the scenario's per-host neighbours (host -> vmnic -> spec).
    """
    dvs_uuid = {name: d["uuid"] for name, d in state["dvswitches"].items()}
    dvpg = state["dvportgroups"]
    pvlans: dict[str, dict[int, int]] = {}
    dv_portgroups: dict[str, DvPortgroup] = {}
    for d in scenario.get("dvswitches", []):
        pvlans[d["name"]] = {p["secondary"]: p["primary"] for p in d.get("pvlans", [])}
        for pg in d.get("portgroups", []):
            key = dvpg[pg["name"]]["key"]
            vlan = _dv_vlan(pg, pvlans[d["name"]])
            dv_portgroups[key] = DvPortgroup(key, pg["name"], dvs_uuid[d["name"]], vlan)
    for name, info in dvpg.items():
        if info.get("uplink"):
            dv_portgroups[info["key"]] = DvPortgroup(
                info["key"], name, dvs_uuid[info["dvs"]], VlanSpec.trunk(VlanSet.all()), True
            )

    hosts: dict[str, Host] = {}
    for h in scenario.get("hosts", []):
        st = state["hosts"][h["name"]]
        heard = (neighbors or {}).get(h["name"], h.get("neighbors", {}))
        macs = {n["device"]: n["mac"] for n in st["nics"]}
        nics = tuple(
            PhysicalNic(n["device"], macs[n["device"]], _neighbors(heard.get(n["device"], {})))
            for n in h["nics"]
        )
        switches = [
            HostSwitch(vs["name"], vs["name"], False, tuple(vs["uplinks"]))
            for vs in h.get("vswitches", [])
        ]
        switches += [
            HostSwitch(dvs_uuid[p["dvs"]], p["dvs"], True, tuple(p["uplinks"]))
            for p in h.get("dvs", [])
        ]
        portgroups = tuple(
            HostPortgroup(
                pg["name"],
                vs["name"],
                _vlan(pg["vlan"]),
                tuple(pg.get("active", []) + pg.get("standby", []))
                if "active" in pg or "standby" in pg
                else None,
            )
            for vs in h.get("vswitches", [])
            for pg in vs.get("portgroups", [])
        )
        vmknics = tuple(
            VmkNic(
                v["device"],
                NetworkRef(False, v["portgroup"])
                if "portgroup" in v
                else NetworkRef(
                    True, dvpg[v["dvportgroup"]]["key"], dvs_uuid[dvpg[v["dvportgroup"]]["dvs"]]
                ),
            )
            for v in h.get("vmknics", [])
        )
        hosts[st["moid"]] = Host(
            st["moid"], h["name"], st["connected"], nics, tuple(switches), portgroups, vmknics
        )

    vms: dict[str, Vm] = {}
    for v in scenario.get("vms", []):
        st = state["vms"][v["name"]]
        vnics: list[VNic] = []
        for spec, nic in zip(v["nics"], st["nics"]):
            if "portgroup" in spec:
                net: Optional[NetworkRef] = NetworkRef(False, spec["portgroup"])
            elif "dvportgroup" in spec:
                info = dvpg[spec["dvportgroup"]]
                net = NetworkRef(True, info["key"], dvs_uuid[info["dvs"]])
            else:
                net = None
            vnics.append(
                VNic(nic["key"], nic["label"], net, spec.get("connected", True), nic["mac"])
            )
        vms[st["moid"]] = Vm(
            st["moid"],
            v["name"],
            v.get("power", "on") == "on",
            state["hosts"][v["host"]]["moid"],
            tuple(vnics),
        )
    return Expected(hosts, vms, dv_portgroups)


__all__ = ["FAST", "Expected", "expected_inventory", "session_config", "wait_for"]
