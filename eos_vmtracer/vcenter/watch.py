"""The property-collector filter a session watches, and its long poll.

What this module is for: create one container view over hosts, VMs, distributed
portgroups and distributed switches, one event collector for migration events, and
one property filter over both (only the properties the agent needs); then wait for
updates (``WaitForUpdatesEx``, versioned, bounded in time and size), read objects
again when needed, and destroy what it created.

It must never poll objects one by one at steady state, never create more than one
filter, and never leave its view, collector or filter behind when told to stop.
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

from eos_vmtracer.vcenter.connection import Connection
from eos_vmtracer.vcenter.errors import VcenterError
from eos_vmtracer.vcenter.inventory import PATHS
from eos_vmtracer.vcenter.migrations import EVENT_TYPES
from eos_vmtracer.vcenter.pyvmomi import vim, vmodl

_PC = vmodl.query.PropertyCollector

#: pyvmomi type per kind of watched object.
TYPES: dict[str, Any] = {
    "host": vim.HostSystem,
    "vm": vim.VirtualMachine,
    "dvpg": vim.dvs.DistributedVirtualPortgroup,
    "dvs": vim.DistributedVirtualSwitch,
}


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
    ) -> None:
        self.conn = conn
        self.wait_timeout = wait_timeout
        self.event_page_size = event_page_size
        self.view: Any = None
        self.collector: Any = None
        self.filter: Any = None
        self.pc: Any = None
        self.options = _PC.WaitOptions(
            maxWaitSeconds=wait_seconds, maxObjectUpdates=max_object_updates
        )

    def create(self) -> None:
        """The container view, the event collector and the filter over both."""
        conn = self.conn
        content = conn.content
        self.pc = content.propertyCollector
        self.view = conn.call(
            "CreateContainerView",
            content.viewManager.CreateContainerView,
            content.rootFolder,
            list(TYPES.values()),
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
                *(_PC.PropertySpec(type=TYPES[kind], pathSet=list(PATHS[kind])) for kind in TYPES),
                _PC.PropertySpec(type=vim.event.EventHistoryCollector, pathSet=["latestPage"]),
            ],
        )
        self.filter = conn.call("CreateFilter", self.pc.CreateFilter, spec, False)

    def wait(self, version: str) -> Any:
        """One long poll: the next UpdateSet, or None when nothing changed in time."""
        return self.conn.call(
            "WaitForUpdatesEx",
            self.pc.WaitForUpdatesEx,
            version,
            self.options,
            timeout=self.wait_timeout,
        )

    def fetch(self, objs: list[Any]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Read the watched properties of ``objs`` again: moid -> (kind, path -> value)."""
        by_kind: dict[str, list[Any]] = {}
        for obj in objs:
            kind = kind_of(obj)
            if kind in TYPES:
                by_kind.setdefault(kind, []).append(obj)
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for kind, members in by_kind.items():
            spec = _PC.FilterSpec(
                objectSet=[_PC.ObjectSpec(obj=o, skip=False) for o in members],
                propSet=[_PC.PropertySpec(type=TYPES[kind], pathSet=list(PATHS[kind]))],
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
        """Destroy the filter, the view and the collector (best effort)."""
        for what, obj, method in (
            ("DestroyPropertyFilter", self.filter, "Destroy"),
            ("DestroyView", self.view, "Destroy"),
            ("DestroyCollector", self.collector, "DestroyCollector"),
        ):
            if obj is None:
                continue
            with contextlib.suppress(VcenterError):
                self.conn.call(what, getattr(obj, method), timeout=timeout)
        self.filter = self.view = self.collector = None


__all__ = ["TYPES", "Watch", "kind_of"]
