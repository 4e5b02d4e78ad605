"""Lean SOAP parsing: pyvmomi skips what the agent never reads while it parses.

What this module is for: pyvmomi turns every element of a response into typed
objects, and that was most of the CPU time of a large sync. A VM's
``config.hardware.device`` holds ten or more devices (controllers, disks, video card,
...) of which the agent reads only the virtual Ethernet cards, and a host's network
configuration carries fields it never reads (each portgroup's computed policy and
active ports, each NIC's link modes: :data:`SKIPPED_FIELDS`). Here the parser drops
those subtrees as it reads them, before pyvmomi builds anything from them. Measured
on the lab at 1,000 hosts and 20,000 VMs: 25 s of parsing became 13 s.

The pruning is opt-in per SOAP stub (:func:`prune_devices`): pyvmomi builds its
response deserializer by name inside ``SoapStubAdapter.InvokeMethod``, so this module
installs a subclass under that name which behaves exactly as pyvmomi's own unless
the stub it is built for has opted in. Other pyvmomi users in the process see no
change. If a pyvmomi release changes the internals this relies on, nothing is
installed and everything still works, only slower (:data:`INSTALLED` says which).

For those stubs it also parses one response at a time in the process
(:data:`PARSING`), after reading its body off the network, and hands the long poll's
answers (``WaitForUpdatesEx``) to :mod:`eos_vmtracer.vcenter.updates`, which reads
those about hosts and VMs 2.5 to 5 times cheaper, and leaves the others to
pyvmomi.

It must never drop anything but whole devices that are not virtual Ethernet cards
and the fields named in :data:`SKIPPED_FIELDS`, and never drop a device whose type
it cannot look up (pyvmomi decides about those).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from eos_vmtracer.vcenter import updates
from eos_vmtracer.vcenter.pyvmomi import SoapAdapter as _soap
from eos_vmtracer.vcenter.pyvmomi import vim, vmodl

_FLAG = "_vmtracer_prune_devices"

#: Held while one response of an opted-in stub is parsed: one at a time in the process.
#: pyvmomi checks every field it sets under one global lock of its own; sessions that
#: parsed at the same time handed that lock to each other at every field. Measured in
#: the soak (8 sessions churning), 59% of the threads' samples waited on that lock, and
#: long polls starved past their watchdog deadline. A whole response per turn instead:
#: the body is read off the network first, so a slow vCenter holds no one up.
PARSING = threading.Lock()
#: Read WaitForUpdatesEx answers with :mod:`eos_vmtracer.vcenter.updates` where it can
#: (False: pyvmomi reads every answer, as before; for comparisons).
READ_UPDATES = True
_UPDATE_SET: Any = vmodl.query.PropertyCollector.UpdateSet
_ORIGINAL: Any = getattr(_soap, "SoapResponseDeserializer", None)
_BASE: Any = getattr(_soap, "SoapDeserializer", None)
_XSI_TYPE: str = getattr(_soap, "XSI_TYPE", "")


def prune_devices(stub: Any) -> bool:
    """Make responses to ``stub`` skip VM devices other than virtual Ethernet cards.

    True when pruning is in effect (False: this pyvmomi cannot be hooked)."""
    if not INSTALLED:
        return False
    setattr(stub, _FLAG, True)
    return True


def _usable() -> bool:
    if _ORIGINAL is None or _BASE is None or not _XSI_TYPE:
        return False
    needed = ("StartElementHandler", "EndElementHandler", "CharacterDataHandler")
    return all(callable(getattr(_BASE, n, None)) for n in needed) and hasattr(
        _ORIGINAL, "Deserialize"
    )


#: Fields of host network objects the adapter never reads and vCenter fills
#: generously (a portgroup's computed policy and active ports, a NIC's link modes).
SKIPPED_FIELDS: dict[Any, frozenset[str]] = {
    vim.host.PortGroup: frozenset({"port", "computedPolicy"}),
    vim.host.VirtualSwitch.Specification: frozenset({"policy"}),
    # linkSpeed stays: it says whether the NIC has link (neighbour discovery reads it).
    vim.host.PhysicalNic: frozenset({"validLinkSpecification", "spec", "fcoeConfiguration"}),
    vim.host.NetworkPolicy: frozenset({"security", "offloadPolicy", "shapingPolicy"}),
    vim.host.NetworkPolicy.NicTeamingPolicy: frozenset({"failureCriteria"}),
    vim.host.VirtualNic: frozenset({"port"}),
    vim.host.VirtualNic.Specification: frozenset({"ip", "ipRouteSpec"}),
    vim.host.HostProxySwitch: frozenset(
        {"uplinkPort", "hostLag", "transportZones", "nsxUsedUplinkPort", "ensInfo"}
    ),
}

if _usable():
    _start: Any = _BASE.StartElementHandler
    _end: Any = _BASE.EndElementHandler
    _DEVICES: Any = type(vim.vm.device.VirtualDevice.Array())
    _NIC: Any = vim.vm.device.VirtualEthernetCard

    class _PruningDeserializer(_BASE):  # type: ignore[misc,valid-type]
        """pyvmomi's SOAP deserializer, blind to the subtrees the agent never reads."""

        def __init__(self, stub: Any = None, version: Any = None) -> None:
            super().__init__(stub, version)
            self._skipping = 0  # depth inside a dropped element (0: not dropping)
            self._keep: dict[str, bool] = {}  # a device's xsi:type -> keep the device

        def _kept(self, xsi_type: str) -> bool:
            keep = self._keep.get(xsi_type)
            if keep is None:
                try:
                    ns, name = self.GetNSAndWsdlname(xsi_type)
                    found = self.LookupWsdlType(ns, name)
                    keep = not isinstance(found, type) or issubclass(found, _NIC)
                except Exception:  # an unknown type: let pyvmomi decide, as it would
                    keep = True
                self._keep[xsi_type] = keep
            return keep

        def _dropped(self, tag: str, attr: dict[str, str]) -> bool:
            top = self.stack[-1]
            cls = type(top)
            if cls is _DEVICES:
                xsi_type = attr.get(_XSI_TYPE)
                return xsi_type is not None and not self._kept(xsi_type)
            skipped = SKIPPED_FIELDS.get(cls)
            return skipped is not None and tag[tag.find(" ") + 1 :] in skipped

        def StartElementHandler(self, tag: str, attr: dict[str, str]) -> None:
            if self._skipping:
                self._skipping += 1
            elif self.stack and self._dropped(tag, attr):
                self._skipping = 1
            else:
                _start(self, tag, attr)

        def EndElementHandler(self, tag: str) -> Any:
            if self._skipping:
                self._skipping -= 1
                return None
            return _end(self, tag)

        def CharacterDataHandler(self, data: str) -> None:
            if not self._skipping:
                self.data += data

    class _ResponseDeserializer(_ORIGINAL):  # type: ignore[misc,valid-type]
        """pyvmomi's response deserializer; for the stubs that opted in, it prunes and
        parses one response at a time (:data:`PARSING`)."""

        def __init__(self, stub: Any) -> None:
            super().__init__(stub)
            self._ours = bool(getattr(stub, _FLAG, False))
            if self._ours:
                self.deser = _PruningDeserializer(stub)

        def Deserialize(self, response: Any, resultType: Any, nsMap: Any = None) -> Any:
            if not self._ours or isinstance(response, (bytes, str)):
                return super().Deserialize(response, resultType, nsMap)
            body = response.read()  # the network's time, outside the lock
            try:
                with PARSING:
                    if resultType is _UPDATE_SET and READ_UPDATES:
                        version = getattr(self.deser, "version", None)
                        with contextlib.suppress(updates.Defer):
                            return updates.read(body, self.stub, version)
                    return super().Deserialize(body, resultType, nsMap)
            finally:
                # pyvmomi keeps its expat parser, whose handlers are this object's
                # methods: a reference cycle that holds the whole answer until the
                # cyclic GC runs, rarely in a process with many long-lived objects.
                # Under churn the answers piled up by the hundred megabytes.
                self.__dict__.pop("parser", None)

    if not issubclass(_soap.SoapResponseDeserializer, _ResponseDeserializer):
        _soap.SoapResponseDeserializer = _ResponseDeserializer
    INSTALLED = True
else:  # pragma: no cover - depends on the pyvmomi release
    INSTALLED = False


__all__ = ["INSTALLED", "PARSING", "SKIPPED_FIELDS", "prune_devices"]
