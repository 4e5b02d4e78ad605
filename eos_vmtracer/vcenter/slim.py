"""Compact, shared copies of the host network properties the translator reads.

What this module is for: the adapter keeps each watched property's last value so that
an update naming one property can be translated together with the others. For a
host, those values are trees of pyvmomi objects (a portgroup alone is four objects,
and a host has dozens), most of whose fields the translator never reads: at 1,000
hosts they were a third of the agent's memory. :func:`slim` copies a value into
small immutable tuples holding only the fields :data:`HOST_SHAPES` names, and
:class:`Pool` shares equal copies, so that hosts configured alike (a cluster's hosts
usually are) hold one copy between them.

A shape is ``None`` (keep the value: a string, a number, a list of strings), a
mapping of field name to shape (an object: only those fields are kept, read by
name), or a one-element list (a list of that shape). A value that does not have the
shape it should (a number where a list belongs) is kept as it is, so that the
translator still sees and reports it.

It must never change what :func:`eos_vmtracer.vcenter.translate.host_from_props`
makes of a value (tests translate both and compare), and never hold a pyvmomi
object where the shape names an object.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Mapping, Union

Shape = Union[None, Mapping[str, Any], "list[Any]"]  # list: [item shape]

_PNIC: Shape = {"key": None, "device": None, "mac": None, "linkSpeed": {"speedMb": None}}
_VSWITCH: Shape = {"name": None, "pnic": None, "spec": {"bridge": {"nicDevice": None}}}
_PORTGROUP: Shape = {
    "spec": {
        "name": None,
        "vlanId": None,
        "vswitchName": None,
        "policy": {"nicTeaming": {"nicOrder": {"activeNic": None, "standbyNic": None}}},
    }
}
_PROXY: Shape = {
    "dvsUuid": None,
    "dvsName": None,
    "pnic": None,
    "spec": {"backing": {"pnicSpec": [{"pnicDevice": None}]}},
}
_VMKNIC: Shape = {
    "device": None,
    "portgroup": None,
    "spec": {
        "portgroup": None,
        "distributedVirtualPort": {"portgroupKey": None, "switchUuid": None},
    },
}

#: What the translator reads of each host network property.
HOST_SHAPES: Mapping[str, Shape] = {
    "config.network.pnic": [_PNIC],
    "config.network.vswitch": [_VSWITCH],
    "config.network.portgroup": [_PORTGROUP],
    "config.network.proxySwitch": [_PROXY],
    "config.network.vnic": [_VMKNIC],
}

_SCALARS = (str, int, float, bool, bytes)
_classes: dict[tuple[str, ...], Any] = {}


def _record(fields: tuple[str, ...]) -> Any:
    cls = _classes.get(fields)
    if cls is None:
        cls = _classes[fields] = namedtuple("Slim", fields)  # type: ignore[misc]
    return cls


def slim(value: Any, shape: Shape) -> Any:
    """A compact copy of ``value`` keeping only what ``shape`` names."""
    if value is None:
        return None
    if shape is None:
        if isinstance(value, (list, tuple)):
            return tuple(slim(v, None) for v in value)
        return value
    if isinstance(shape, list):
        if isinstance(value, (list, tuple)):
            return tuple(slim(v, shape[0]) for v in value)
        return value  # not a list: the translator reports it
    if isinstance(value, (_SCALARS, list, tuple, dict)):
        return value  # not an object: the translator reports it
    fields = tuple(shape)
    return _record(fields)(*(slim(getattr(value, f, None), shape[f]) for f in fields))


class Pool:
    """Equal immutable values, stored once. Rebuilt from the live values when it has
    grown to twice what they need, so values nobody holds any more do not pile up."""

    def __init__(self, minimum: int = 1024) -> None:
        self._values: dict[Any, Any] = {}
        self._minimum = minimum
        self._limit = minimum

    def share(self, kind: str, value: Any) -> Any:
        """``value``, or an equal one already pooled under ``kind``."""
        try:
            key = (kind, value)
            found = self._values.get(key)
        except TypeError:  # unhashable (a value kept as vCenter sent it)
            return value
        if found is not None:
            return found
        self._values[key] = value
        return value

    def full(self) -> bool:
        return len(self._values) > self._limit

    def rebuild(self, live: Mapping[tuple[str, Any], Any]) -> None:
        """Keep only ``live`` ((kind, value) -> value), then allow twice as many."""
        self._values = dict(live)
        self._limit = max(self._minimum, 2 * len(self._values))

    def __len__(self) -> int:
        return len(self._values)


__all__ = ["HOST_SHAPES", "Pool", "Shape", "slim"]
