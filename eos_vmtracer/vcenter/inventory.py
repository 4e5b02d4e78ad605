"""The watched objects' properties, as the property collector last reported them.

What this module is for: keep, per host, VM, distributed portgroup and distributed
switch, the raw value of each watched property, apply the collector's updates
(enter, modify, leave; assign, remove) and translate only what changed into the
model (a distributed switch's change re-translates its portgroups, whose VLANs
depend on its private-VLAN map).

At 20,000 VMs what it keeps is most of the agent's memory, so it keeps little: a
host's network properties as compact copies (:mod:`eos_vmtracer.vcenter.slim`), a
VM's devices as its translated vNICs once read, a VM's host as its id, and equal
values (portgroup lists, networks, labels) once for all objects that hold them.

Two distributed portgroups reporting one key (vCenter gives each its own) are
warned about and resolved the same way whatever order they arrive in: the lowest
managed-object id wins (:func:`moid_order`), the next takes over when it goes.

It must never do I/O, never drop what a disconnected host last reported about its
network, and never let bad data escape as an exception: a property it cannot
translate is reported through ``warn`` and the object keeps its last good picture.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping, Optional, TypeVar

from eos_vmtracer.model import DvPortgroup, Host, Vm
from eos_vmtracer.vcenter.slim import HOST_SHAPES, Pool, slim
from eos_vmtracer.vcenter.translate import (
    DVPG_PATHS,
    DVS_PATHS,
    HOST_KEPT_WHILE_DISCONNECTED,
    HOST_PATHS,
    VM_PATHS,
    Dvs,
    Nics,
    Ref,
    dvpg_from_props,
    dvs_from_props,
    host_from_props,
    moid,
    vm_from_props,
)

_T = TypeVar("_T")

KINDS = ("host", "vm", "dvpg", "dvs")
_DEVICES = "config.hardware.device"
_HOST_REF = "runtime.host"
PATHS: Mapping[str, tuple[str, ...]] = {
    "host": HOST_PATHS,
    "vm": VM_PATHS,
    "dvpg": DVPG_PATHS,
    "dvs": DVS_PATHS,
}

#: One property change: (path, op, value); op is assign, add, remove or indirectRemove.
Change = tuple[str, str, Any]


class InventoryStore:
    """Raw properties per object and their translation, kept up to date incrementally."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._props: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self._dirty: dict[str, set[str]] = {k: set() for k in KINDS}
        self._refetch: set[tuple[str, str]] = set()
        self._hosts: dict[str, Host] = {}
        self._vms: dict[str, Vm] = {}
        self._vm_hosts: dict[str, Optional[str]] = {}
        self._dvs: dict[str, Dvs] = {}
        self._dvpgs: dict[str, DvPortgroup] = {}  # by portgroup key: each key's winner
        self._dvpg_keys: dict[str, str] = {}  # portgroup moid -> key
        self._dvpg_by_moid: dict[str, DvPortgroup] = {}  # every translated portgroup
        self._dvpg_claims: dict[str, set[str]] = {}  # key -> moids of portgroups with it
        self._dvpg_warned: dict[str, tuple[str, ...]] = {}  # key -> duplicates last warned
        self._network_systems: dict[str, str] = {}  # host moid -> HostNetworkSystem moid
        self._links: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # see links()
        self._pool = Pool()  # equal values stored once (see slim.py)
        self._paths = {k: {p: p for p in PATHS[k]} for k in KINDS}

    # -- updates ---------------------------------------------------------------------------
    def apply(
        self,
        kind: str,
        obj_moid: str,
        update: str,
        changes: Iterable[Change],
        missing: Iterable[str] = (),
        *,
        scope_paths: Optional[tuple[str, ...]] = None,
    ) -> None:
        """Apply one ObjectUpdate (``update`` is enter, modify or leave). ``scope_paths``:
        the update came from a filter watching only these paths of a host (a scoped
        session's), whose leave drops those paths and keeps the host."""
        if kind not in self._props:
            return
        self._dirty[kind].add(obj_moid)
        if update == "leave" and scope_paths is not None and kind == "host":
            scoped_props = self._props[kind].get(obj_moid, {})
            for path in scope_paths:
                scoped_props.pop(path, None)  # out of scope: forgotten, not kept as last known
            return
        if update == "leave":
            self._props[kind].pop(obj_moid, None)
            return
        props = self._props[kind].setdefault(obj_moid, {})
        watched = PATHS[kind]
        values: dict[str, Any] = {}
        for name, op, value in changes:
            if name in watched:
                name = self._paths[kind][name]  # one string object per path, not per update
                if op in ("remove", "indirectRemove"):
                    value = None
                elif kind == "host" and name in HOST_SHAPES:
                    value = self._slim(name, value)
                elif name == _HOST_REF and kind == "vm":
                    ref = moid(value)
                    if ref:  # keep its id, not a pyvmomi object
                        value = self._share("ref", Ref(ref))
                values[name] = value
            elif any(name.startswith(p + ".") or name.startswith(p + "[") for p in watched):
                self._refetch.add((kind, obj_moid))  # a part of a watched value: read it whole
        for path in missing:
            if path in watched:
                values.setdefault(path, None)
        keep_network = False
        if kind == "host":
            state = values.get("runtime.connectionState", props.get("runtime.connectionState"))
            keep_network = state is not None and state != "connected"
        for name, value in values.items():
            kept = keep_network and value is None and name in HOST_KEPT_WHILE_DISCONNECTED
            if kept and props.get(name) is not None:
                continue  # a disconnected host keeps its last known network
            props[name] = value

    def replace(self, kind: str, obj_moid: str, props: Mapping[str, Any]) -> None:
        """Set every watched property of an object at once (after a re-read)."""
        changes = [(p, "assign", props.get(p)) for p in PATHS.get(kind, ())]
        self.apply(kind, obj_moid, "modify", changes)

    def take_refetch(self) -> set[tuple[str, str]]:
        """Objects whose update named part of a property: they must be read again."""
        out, self._refetch = self._refetch, set()
        return out

    # -- translation -----------------------------------------------------------------------
    def refresh(self) -> bool:
        """Translate what changed; True when the model changed."""
        changed = False
        if self._dirty["dvs"]:
            for m in self._dirty["dvs"]:
                changed |= self._translate_dvs(m)
            self._dirty["dvs"].clear()
            self._dirty["dvpg"].update(self._props["dvpg"])
            self._dirty["dvpg"].update(self._dvpg_keys)
        for m in self._dirty["dvpg"]:
            changed |= self._translate_dvpg(m)
        self._dirty["dvpg"].clear()
        for m in self._dirty["host"]:
            changed |= self._translate_host(m)
        self._dirty["host"].clear()
        for m in self._dirty["vm"]:
            changed |= self._translate_vm(m)
        self._dirty["vm"].clear()
        return changed

    def _safely(self, what: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except Exception as e:  # bad data must never stop the session
            self._warn(f"{what}: cannot read it ({type(e).__name__}: {e}); keeping what was known")
            raise _Skip() from e

    def _translate_dvs(self, m: str) -> bool:
        props = self._props["dvs"].get(m)
        if props is None:
            return self._dvs.pop(m, None) is not None
        try:
            dvs = self._safely(
                f"distributed switch {m}", lambda: dvs_from_props(m, props, self._warn)
            )
        except _Skip:
            return False
        if dvs is None:
            return self._dvs.pop(m, None) is not None
        old = self._dvs.get(m)
        self._dvs[m] = dvs
        return old != dvs

    def _translate_dvpg(self, m: str) -> bool:
        props = self._props["dvpg"].get(m)
        old_key = self._dvpg_keys.get(m)
        pg: Optional[DvPortgroup] = None
        if props is not None:
            switches = self._dvs
            try:
                pg = self._safely(
                    f"distributed portgroup {m}",
                    lambda: dvpg_from_props(m, props, switches, self._warn),
                )
            except _Skip:
                return False
        if old_key is not None and (pg is None or pg.key != old_key):
            self._dvpg_keys.pop(m, None)
            self._dvpg_claims.get(old_key, set()).discard(m)
        if pg is None:
            self._dvpg_by_moid.pop(m, None)
        else:
            self._dvpg_by_moid[m] = pg
            self._dvpg_keys[m] = pg.key
            self._dvpg_claims.setdefault(pg.key, set()).add(m)
        changed = False
        for key in {k for k in (old_key, pg.key if pg else None) if k is not None}:
            changed |= self._elect_dvpg(key)
        return changed

    def _elect_dvpg(self, key: str) -> bool:
        """Which portgroup a key means: vCenter gives each distributed portgroup its own
        key, so two with one key are bad data; the lowest managed-object id wins (by
        number: dvportgroup-9 before dvportgroup-10), whatever order they came in, and
        the others are ignored (with a warning) until it goes. True when that changed
        what the key means."""
        claims = self._dvpg_claims.get(key)
        before = self._dvpgs.get(key)
        if not claims:
            self._dvpg_claims.pop(key, None)
            self._dvpg_warned.pop(key, None)
            return self._dvpgs.pop(key, None) is not None
        ordered = tuple(sorted(claims, key=moid_order))
        if len(ordered) > 1:
            if self._dvpg_warned.get(key) != ordered:
                self._dvpg_warned[key] = ordered
                self._warn(
                    f"distributed portgroups {', '.join(ordered)} all have key {key!r};"
                    f" using {ordered[0]} (the lowest id), ignoring the others"
                )
        else:
            self._dvpg_warned.pop(key, None)
        winner = self._dvpg_by_moid[ordered[0]]
        self._dvpgs[key] = winner
        return before != winner

    def _translate_host(self, m: str) -> bool:
        props = self._props["host"].get(m)
        if props is None:
            self._network_systems.pop(m, None)
            self._links.pop(m, None)
            return self._hosts.pop(m, None) is not None
        ns = moid(props.get("configManager.networkSystem"))
        if ns:
            self._network_systems[m] = ns
        links = self.links(m)
        links_changed = self._links.get(m) != links  # news for discovery, not the model
        self._links[m] = links
        try:
            host = self._safely(f"host {m}", lambda: host_from_props(m, props, self._warn))
        except _Skip:
            return False
        old = self._hosts.get(m)
        if old == host:
            return links_changed and old is not None
        self._hosts[m] = replace(
            host,
            portgroups=self._share("portgroups", host.portgroups),
            switches=self._share("switches", host.switches),
            vmknics=self._share("vmknics", host.vmknics),
        )
        return True

    # -- sharing equal values between objects ----------------------------------------------------
    def _slim(self, path: str, value: Any) -> Any:
        """A host property's compact, shared copy; the value itself if it cannot be read
        (translating it then reports the problem)."""
        try:
            return self._share(path, slim(value, HOST_SHAPES[path]))
        except Exception:  # bad data: keep it as vCenter sent it
            return value

    def _share(self, kind: str, value: _T) -> _T:
        shared: _T = self._pool.share(kind, value)
        if self._pool.full():
            self._pool.rebuild(self._live())
        return shared

    def _shared_vm(self, vm: Vm) -> Vm:
        """``vm`` with its vNICs' networks and labels shared with other VMs."""
        nics = tuple(
            replace(
                n,
                label=self._share("label", n.label),
                network=self._share("network", n.network) if n.network else None,
            )
            for n in vm.nics
        )
        return replace(vm, nics=nics)

    def _live(self) -> dict[tuple[str, Any], Any]:
        """Every shared value still in use, by (kind, value)."""
        live: dict[tuple[str, Any], Any] = {}

        def keep(kind: str, value: Any) -> None:
            with contextlib.suppress(TypeError):
                live[(kind, value)] = value

        for props in self._props["host"].values():
            for path in HOST_SHAPES:
                if props.get(path) is not None:
                    keep(path, props[path])
        for host in self._hosts.values():
            keep("portgroups", host.portgroups)
            keep("switches", host.switches)
            keep("vmknics", host.vmknics)
        for props in self._props["vm"].values():
            if isinstance(props.get(_HOST_REF), Ref):
                keep("ref", props[_HOST_REF])
        for vm in self._vms.values():
            for nic in vm.nics:
                keep("label", nic.label)
                if nic.network is not None:
                    keep("network", nic.network)
        return live

    def _translate_vm(self, m: str) -> bool:
        props = self._props["vm"].get(m)
        if props is None:
            self._vm_hosts.pop(m, None)
            return self._vms.pop(m, None) is not None
        try:
            vm = self._safely(f"VM {m}", lambda: vm_from_props(m, props, self._warn))
        except _Skip:
            return False
        old = self._vms.get(m)
        changed = old != vm
        if old is None or changed:
            self._vms[m] = old = self._shared_vm(vm)
            self._vm_hosts[m] = vm.host
        if not isinstance(props.get(_DEVICES), Nics):
            props[_DEVICES] = Nics(old.nics)  # the devices are read: keep the vNICs only
        return changed

    # -- reading -----------------------------------------------------------------------------
    def hosts(self) -> Mapping[str, Host]:
        """Hosts by moid, without neighbours (live: copy before handing out)."""
        return self._hosts

    def vms(self) -> Mapping[str, Vm]:
        """VMs by moid (live: copy before handing out)."""
        return self._vms

    def vm_hosts(self) -> Mapping[str, Optional[str]]:
        """Each VM's host moid (live)."""
        return self._vm_hosts

    def dv_portgroups(self) -> Mapping[str, DvPortgroup]:
        """Distributed portgroups by key (live: copy before handing out)."""
        return self._dvpgs

    def links(self, host_moid: str) -> tuple[frozenset[str], frozenset[str]]:
        """(every physical NIC, those with link) of a host, from ``config.network.pnic``
        (``linkSpeed`` is unset while a NIC has no link)."""
        pnics = self._props["host"].get(host_moid, {}).get("config.network.pnic")
        every: set[str] = set()
        up: set[str] = set()
        if isinstance(pnics, (list, tuple)):
            for pnic in pnics:
                try:
                    device = getattr(pnic, "device", None)
                    link = getattr(pnic, "linkSpeed", None)
                except Exception:  # bad data: translating the host reports it
                    continue
                if isinstance(device, str) and device:
                    every.add(device)
                    if link is not None:
                        up.add(device)
        return frozenset(every), frozenset(up)

    def network_system(self, host_moid: str) -> Optional[str]:
        """The moid of a host's HostNetworkSystem (for QueryNetworkHint)."""
        return self._network_systems.get(host_moid)


def moid_order(obj_moid: str) -> tuple[tuple[int, int, str], ...]:
    """A managed-object id as a sort key, its numbers by value: ``dvportgroup-9`` sorts
    before ``dvportgroup-10``."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", obj_moid)
    )


class _Skip(Exception):
    """An object could not be translated; its previous picture stays."""


__all__ = ["KINDS", "PATHS", "Change", "InventoryStore", "moid_order"]
