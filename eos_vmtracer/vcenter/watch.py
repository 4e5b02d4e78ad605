"""The property-collector filters a session watches, and their long poll.

What this module is for: create one container view over hosts, VMs, distributed
portgroups and distributed switches, one event collector for migration events, and
one property filter over both (only the properties the agent needs); then wait for
updates (``WaitForUpdatesEx``, versioned, bounded in time and size), read objects
again when needed, and destroy what it created.

Scoped (``scoped=True``, what the agent runs), the container view holds hosts,
distributed portgroups and switches only, and the filter over it reads of a host only
what neighbour discovery needs (:data:`LIGHT_HOST_PATHS`). A second filter, on the
same collector, watches a ListView of the objects in scope (the hosts heard on this
switch, and VMs migrating to them) with traversal from each host to its VMs: the
rest of the hosts' network configuration and every property of those VMs. The
session changes the list with :meth:`Watch.modify_scope` (ModifyListView) as
cabling changes; the collector then reports objects entering and leaving it.

It must never poll objects one by one at steady state, never create more than two
filters, and never leave its views, collector or filters behind when told to stop.
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

from eos_vmtracer.vcenter.connection import Connection
from eos_vmtracer.vcenter.errors import VcenterError
from eos_vmtracer.vcenter.inventory import PATHS
from eos_vmtracer.vcenter.migrations import EVENT_TYPES
from eos_vmtracer.vcenter.pyvmomi import vim, vmodl
from eos_vmtracer.vcenter.translate import HOST_PATHS, VM_PATHS

_PC = vmodl.query.PropertyCollector

#: pyvmomi type per kind of watched object.
TYPES: dict[str, Any] = {
    "host": vim.HostSystem,
    "vm": vim.VirtualMachine,
    "dvpg": vim.dvs.DistributedVirtualPortgroup,
    "dvs": vim.DistributedVirtualSwitch,
}

#: What the scoped session reads of every host: enough to find its cabling.
LIGHT_HOST_PATHS = (
    "name",
    "runtime.connectionState",
    "configManager.networkSystem",
    "config.network.pnic",
)
#: The rest of a host's properties, read only while the host is in scope.
SCOPED_HOST_PATHS = tuple(p for p in HOST_PATHS if p not in LIGHT_HOST_PATHS)


def kind_of(obj: Any) -> Optional[str]:
    """host, vm, dvpg, dvs or events for a managed object reference; None otherwise."""
    if isinstance(obj, vim.event.EventHistoryCollector):
        return "events"
    for kind, cls in TYPES.items():
        if isinstance(obj, cls):
            return kind
    return None


class Watch:
    """One session's view, event collector and property filter."""

    def __init__(
        self,
        conn: Connection,
        *,
        wait_seconds: int,
        wait_timeout: float,
        max_object_updates: int,
        event_page_size: int,
        scoped: bool = False,
    ) -> None:
        self.conn = conn
        self.scoped = scoped
        self.list_view: Any = None
        self.scope_filter: Any = None
        self.wait_timeout = wait_timeout
        self.event_page_size = event_page_size
        self.view: Any = None
        self.collector: Any = None
        self.filter: Any = None
        self.pc: Any = None
        self.options = _PC.WaitOptions(
            maxWaitSeconds=wait_seconds, maxObjectUpdates=max_object_updates
        )

    def create(self, listed: tuple[tuple[str, str], ...] = ()) -> None:
        """The container view, the event collector and the filter over both; scoped,
        also the ListView of ``listed`` ((kind, moid) pairs) and its filter."""
        conn = self.conn
        content = conn.content
        self.pc = content.propertyCollector
        kinds = [k for k in TYPES if not (self.scoped and k == "vm")]
        self.view = conn.call(
            "CreateContainerView",
            content.viewManager.CreateContainerView,
            content.rootFolder,
            [TYPES[k] for k in kinds],
            True,
        )
        events = vim.event.EventFilterSpec(
            entity=vim.event.EventFilterSpec.ByEntity(entity=content.rootFolder, recursion="all"),
            eventTypeId=list(EVENT_TYPES),
        )
        self.collector = conn.call(
            "CreateCollectorForEvents", content.eventManager.CreateCollectorForEvents, events
        )
        conn.call("SetCollectorPageSize", self.collector.SetCollectorPageSize, self.event_page_size)
        traverse = _PC.TraversalSpec(
            name="traverseView", type=vim.view.ContainerView, path="view", skip=False
        )
        spec = _PC.FilterSpec(
            objectSet=[
                _PC.ObjectSpec(obj=self.view, skip=True, selectSet=[traverse]),
                _PC.ObjectSpec(obj=self.collector, skip=False),
            ],
            propSet=[
                *(_PC.PropertySpec(type=TYPES[k], pathSet=list(self._paths(k))) for k in kinds),
                _PC.PropertySpec(type=vim.event.EventHistoryCollector, pathSet=["latestPage"]),
            ],
        )
        self.filter = conn.call("CreateFilter", self.pc.CreateFilter, spec, False)
        if self.scoped:
            self._create_scope(listed)

    def _paths(self, kind: str, in_scope: bool = False) -> tuple[str, ...]:
        if self.scoped and kind == "host":
            return HOST_PATHS if in_scope else LIGHT_HOST_PATHS
        return tuple(PATHS[kind])

    def _create_scope(self, listed: tuple[tuple[str, str], ...]) -> None:
        conn = self.conn
        self.list_view = conn.call(
            "CreateListView",
            conn.content.viewManager.CreateListView,
            [self.ref(kind, m) for kind, m in listed],
        )
        host_vms = _PC.TraversalSpec(name="hostVms", type=vim.HostSystem, path="vm", skip=False)
        listed_objects = _PC.TraversalSpec(
            name="traverseList", type=vim.view.ListView, path="view", skip=False,
            selectSet=[host_vms],
        )  # fmt: skip
        spec = _PC.FilterSpec(
            objectSet=[_PC.ObjectSpec(obj=self.list_view, skip=True, selectSet=[listed_objects])],
            propSet=[
                _PC.PropertySpec(type=vim.HostSystem, pathSet=list(SCOPED_HOST_PATHS)),
                _PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(VM_PATHS)),
            ],
        )
        self.scope_filter = conn.call("CreateFilter", self.pc.CreateFilter, spec, False)

    def ref(self, kind: str, obj_moid: str) -> Any:
        """A managed-object reference to a host or VM by id."""
        return TYPES[kind](obj_moid, self.conn.stub)

    def modify_scope(self, add: list[tuple[str, str]], remove: list[tuple[str, str]]) -> None:
        """ModifyListView: ((kind, moid) pairs) into and out of the scope."""
        self.conn.call(
            "ModifyListView",
            self.list_view.ModifyListView,
            [self.ref(k, m) for k, m in add],
            [self.ref(k, m) for k, m in remove],
        )

    def from_scope(self, filter_ref: Any) -> bool:
        """True when an update came from the scope's filter."""
        return self.scope_filter is not None and getattr(filter_ref, "_moId", None) == getattr(
            self.scope_filter, "_moId", ""
        )

    def wait(self, version: str, *, at_once: bool = False) -> Any:
        """One long poll: the next UpdateSet, or None when nothing changed in time
        (``at_once``: what is there now, without waiting)."""
        options = self.options
        if at_once:
            options = _PC.WaitOptions(maxWaitSeconds=0, maxObjectUpdates=options.maxObjectUpdates)
        return self.conn.call(
            "WaitForUpdatesEx",
            self.pc.WaitForUpdatesEx,
            version,
            options,
            timeout=self.wait_timeout,
        )

    def fetch(
        self, objs: list[Any], in_scope: frozenset[str] = frozenset()
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """Read the watched properties of ``objs`` again: moid -> (kind, path -> value)
        (a scoped session reads all of a host's only when it is ``in_scope``)."""
        by_kind: dict[tuple[str, bool], list[Any]] = {}
        for obj in objs:
            kind = kind_of(obj)
            if kind in TYPES:
                by_kind.setdefault((kind, obj._moId in in_scope), []).append(obj)
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for (kind, scoped), members in by_kind.items():
            paths = self._paths(kind, scoped)
            spec = _PC.FilterSpec(
                objectSet=[_PC.ObjectSpec(obj=o, skip=False) for o in members],
                propSet=[_PC.PropertySpec(type=TYPES[kind], pathSet=list(paths))],
            )
            result = self.conn.call(
                "RetrievePropertiesEx", self.pc.RetrievePropertiesEx, [spec], _PC.RetrieveOptions()
            )
            while result is not None:
                for content in result.objects or []:
                    values = {p.name: p.val for p in content.propSet or []}
                    out[content.obj._moId] = (kind, values)
                token = result.token
                if not token:
                    break
                result = self.conn.call(
                    "ContinueRetrievePropertiesEx", self.pc.ContinueRetrievePropertiesEx, token
                )
        return out

    def destroy(self, timeout: float = 5.0) -> None:
        """Destroy the filters, the views and the collector (best effort)."""
        for what, obj, method in (
            ("DestroyPropertyFilter", self.scope_filter, "Destroy"),
            ("DestroyView", self.list_view, "Destroy"),
            ("DestroyPropertyFilter", self.filter, "Destroy"),
            ("DestroyView", self.view, "Destroy"),
            ("DestroyCollector", self.collector, "DestroyCollector"),
        ):
            if obj is None:
                continue
            with contextlib.suppress(VcenterError):
                self.conn.call(what, getattr(obj, method), timeout=timeout)
        self.filter = self.view = self.collector = None
        self.scope_filter = self.list_view = None


__all__ = ["LIGHT_HOST_PATHS", "SCOPED_HOST_PATHS", "TYPES", "Watch", "kind_of"]
