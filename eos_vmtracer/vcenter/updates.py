"""WaitForUpdatesEx answers about hosts and VMs, read by ElementTree instead of pyvmomi.

What this module is for: a first start reads every host of vCenter (name, state,
physical NICs) and, for the hosts cabled to this switch, their network configuration
and their VMs. pyvmomi builds a typed object for every element of those answers,
field by field, in Python: measured on the lab, 0.9 s of the agent's CPU for 1,000
hosts and 0.75 s for 25 hosts with their 500 VMs, most of a first start's time.
ElementTree builds the elements in C, one object at a time (each object's elements
are freed once it is read, :data:`CHUNK`); :func:`read` takes from them only what the
translator reads (:data:`SHAPES`), with the types pyvmomi's own type tables give
(an ``int`` field is read as an int, an enum must be one of its values, a managed
object reference is pyvmomi's). The same answers cost 0.15-0.25 s and 0.25-0.35 s here.

What it makes reads as pyvmomi's objects read to the adapter: an ``UpdateSet`` whose
``filterSet``, ``objectSet``, ``changeSet`` and ``val`` are named as vSphere names
them; the objects inside a value are :class:`Record` instances that have exactly the
fields their vSphere type declares (one not sent reads as pyvmomi's would: ``None``,
``()`` for a list), so that "has this backing a ``port``?" is answered as pyvmomi answers it.

It reads only what it knows: answers about hosts and VMs, the watched paths, types
it can look up. Anything else (another kind of object, a fault, an event page, a
type it cannot resolve, a field given twice, a value that does not convert) raises
:class:`Defer`, and pyvmomi reads the whole answer as it always did, with its own
checks and errors: this module only ever makes a well-formed answer cheaper, and
never accepts a bad value the translator reads. Fields the translator never reads
are skipped unread, as :mod:`eos_vmtracer.vcenter.soap` skips them for pyvmomi (so a
bad value there no longer costs the whole answer, as it did with pyvmomi).

It must never resolve entities or read a document type declaration (refused with
:class:`~eos_vmtracer.vcenter.errors.ProtocolError`), and never give a field another
value than the one vCenter sent or, when it sent none, the one pyvmomi's object holds.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Optional
from xml.etree import ElementTree

from eos_vmtracer.vcenter.errors import ProtocolError
from eos_vmtracer.vcenter.pyvmomi import VmomiSupport, vim, vmodl
from eos_vmtracer.vcenter.slim import HOST_SHAPES, Shape


class Defer(Exception):
    """Not an error: this answer holds something only pyvmomi reads (see the module)."""


_SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
_NS = "urn:vim25"
_VIM = "{urn:vim25}"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_XSD_DECLARED = re.compile(rb'xmlns:xsd="([^"]*)"')

_PC = vmodl.query.PropertyCollector
_FILTER: Any = _PC.Filter
_KIND: Any = _PC.ObjectUpdate.Kind
_OP: Any = _PC.Change.Op
_ANY: Any = object  # what pyvmomi declares PropertyChange.val as (xsd:anyType)
_MANAGED: Any = VmomiSupport.ManagedObject
_DATA: Any = VmomiSupport.DataObject
_ENUM: Any = VmomiSupport.Enum
_NIC: Any = vim.vm.device.VirtualEthernetCard

#: What the translator reads of a VM's devices: its virtual Ethernet cards only.
DEVICE: Shape = {
    "key": None,
    "macAddress": None,
    "deviceInfo": {"label": None},
    "connectable": {"connected": None},
    "backing": {
        "port": {"portgroupKey": None, "switchUuid": None},
        "opaqueNetworkId": None,
        "deviceName": None,
    },
}
_DEVICES = "config.hardware.device"

#: The watched paths this module reads, by kind of object, and what of each value.
SHAPES: Mapping[str, Mapping[str, Shape]] = {
    "HostSystem": {
        "name": None,
        "runtime.connectionState": None,
        "configManager.networkSystem": None,
        **HOST_SHAPES,
    },
    "VirtualMachine": {
        "name": None,
        "runtime.powerState": None,
        "runtime.host": None,
        _DEVICES: [DEVICE],
    },
}


# -- what the answer is read into ------------------------------------------------------


class UpdateSet:
    """``vmodl.query.PropertyCollector.UpdateSet``: what the session reads of one."""

    def __init__(self, version: str, truncated: Optional[bool], filter_set: list[Any]) -> None:
        self.version = version
        self.truncated = truncated
        self.filterSet = filter_set


class FilterUpdate:
    """One filter's part of an UpdateSet."""

    __slots__ = ("filter", "missingSet", "objectSet")

    def __init__(self, filter_ref: Any, object_set: list[Any]) -> None:
        self.filter = filter_ref
        self.objectSet = object_set
        self.missingSet: tuple[Any, ...] = ()


class ObjectUpdate:
    """One object's changes (``kind``: enter, modify or leave)."""

    __slots__ = ("changeSet", "kind", "missingSet", "obj")

    def __init__(self, kind: str, obj: Any, change_set: list[Any]) -> None:
        self.kind = kind
        self.obj = obj
        self.changeSet = change_set
        self.missingSet: tuple[Any, ...] = ()


class PropertyChange:
    """One property's change (``op``: assign, add, remove or indirectRemove)."""

    __slots__ = ("name", "op", "val")

    def __init__(self, name: str, op: str, val: Any) -> None:
        self.name = name
        self.op = op
        self.val = val


class Record:
    """A vSphere data object holding the fields the translator reads. Each vSphere type
    has its own subclass (:func:`_record_class`), whose instances answer every field the
    type declares: what was read, else what pyvmomi's object would hold (``None``, or
    ``""``, ``0``, ``False`` for a field the type requires, ``()`` for a list); a field
    the type does not declare is an AttributeError."""

    _wsdlName = "DataObject"
    _defaults: Mapping[str, Any] = {}
    _props: Mapping[str, tuple[Any, Any]] = {}  # field -> (type, item type of a list)

    def __getattr__(self, name: str) -> Any:
        try:
            return type(self)._defaults[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"{self._wsdlName}({self.__dict__!r})"


_records: dict[Any, type[Record]] = {}


def _record_class(t: Any) -> type[Record]:
    cls = _records.get(t)
    if cls is None:
        props = {
            p.name: (p.type, p.type.Item if issubclass(p.type, list) else None)
            for p in t._GetPropertyList()
        }
        # What pyvmomi gives a field that was not sent: None when the field is
        # optional, else "", 0 or False by its type, and an empty list for a list.
        blank = t()
        defaults = {
            n: (() if item is not None else getattr(blank, n, None))
            for n, (_, item) in props.items()
        }
        wsdl = str(getattr(t, "_wsdlName", "DataObject"))
        ns = {"_wsdlName": wsdl, "_defaults": defaults, "_props": props, "__slots__": ()}
        cls = _records[t] = type(wsdl, (Record,), ns)  # what was read: in __dict__
    return cls


# -- reading ---------------------------------------------------------------------------


#: Bytes handed to the parser at a time: each object's elements are freed as soon as it
#: is read, so that an answer never stands in memory as a whole tree (a 1.5 MB answer is
#: about 9 MB of elements, and memory freed late in a long-lived process stays with it).
CHUNK = 64 * 1024
_OBJECT_SET = f"{_VIM}objectSet"


def read(body: bytes, stub: Any, version: Any = None) -> UpdateSet:
    """The UpdateSet of a ``WaitForUpdatesEx`` answer ``body`` (``stub``: for managed
    object references; ``version``: read types as that API version has them, as
    pyvmomi's deserializer does when it is given one). Raises
    :class:`Defer` when pyvmomi must read it, ProtocolError when it declares a document
    type."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError("WaitForUpdatesEx: the answer declares a document type")
    if any(ns != b"http://www.w3.org/2001/XMLSchema" for ns in _XSD_DECLARED.findall(body)):
        raise Defer("the xsd prefix is bound elsewhere")
    reader = _Reader(stub, version)
    parser: Any = ElementTree.XMLPullParser(events=("end",))
    try:
        for at in range(0, len(body), CHUNK):
            parser.feed(body[at : at + CHUNK])
            reader.objects_read(parser)
        parser.close()
    except ElementTree.ParseError:
        raise Defer("not XML") from None
    reader.objects_read(parser)
    root = reader.last  # the last element to end is the document's
    soap_body = None
    if root is not None and root.tag == f"{_SOAP}Envelope":
        soap_body = root.find(f"{_SOAP}Body")
    if soap_body is None or len(soap_body) != 1:
        raise Defer("not one SOAP answer")
    response = soap_body[0]
    if response.tag != f"{_VIM}WaitForUpdatesExResponse" or len(response) != 1:
        raise Defer("not an UpdateSet")
    update = reader.update_set(response[0])
    if reader.read_objects:  # an objectSet elsewhere than in a filterSet: its text is gone
        raise Defer("an objectSet out of place")
    return update


class _Reader:
    """One answer's reading (the stub and version its references and types need)."""

    def __init__(self, stub: Any, version: Any) -> None:
        self.stub = stub
        self.version = version
        self._kinds = _KINDS.setdefault(version, {})
        # The objectSets read while parsing (their elements freed), by element id, until
        # their filterSet takes them.
        self.read_objects: dict[int, ObjectUpdate] = {}
        self.last: Optional[ElementTree.Element] = None

    def objects_read(self, parser: Any) -> None:
        """Read each objectSet the parser has finished, then free its elements."""
        for _, e in parser.read_events():
            self.last = e
            if e.tag == _OBJECT_SET:
                self.read_objects[id(e)] = self.object_update(e)
                e.clear()

    def update_set(self, e: ElementTree.Element) -> UpdateSet:
        if e.tag != f"{_VIM}returnval":
            raise Defer("no returnval")
        version: Optional[str] = None
        truncated: Optional[bool] = None
        filters: list[Any] = []
        for child in e:
            name = _field(child)
            if name == "filterSet":
                filters.append(self.filter_update(child))
            elif name == "version" and version is None:
                version = _text(child)
            elif name == "truncated" and truncated is None:
                truncated = _scalar(_text(child), bool)
            else:
                raise Defer(f"UpdateSet.{name}")
        if version is None:
            raise Defer("no version")
        return UpdateSet(version, truncated, filters)

    def filter_update(self, e: ElementTree.Element) -> FilterUpdate:
        filter_ref = None
        objects: list[Any] = []
        for child in e:
            name = _field(child)
            if name == "objectSet":
                read = self.read_objects.pop(id(child), None)
                objects.append(read if read is not None else self.object_update(child))
            elif name == "filter" and filter_ref is None:
                filter_ref = self.element(child, _FILTER, None)
            else:
                raise Defer(f"FilterUpdate.{name}")
        if filter_ref is None:
            raise Defer("no filter")
        return FilterUpdate(filter_ref, objects)

    def object_update(self, e: ElementTree.Element) -> ObjectUpdate:
        kind = obj = None
        shapes: Mapping[str, Shape] = {}
        changes: list[Any] = []
        for child in e:
            name = _field(child)
            if name == "changeSet":
                changes.append(child)
            elif name == "kind" and kind is None:
                kind = _scalar(_text(child), _KIND)
            elif name == "obj" and obj is None:
                wsdl = child.get("type", "")
                shapes = SHAPES.get(wsdl, {})
                if not shapes:
                    raise Defer(f"an object of type {wsdl!r}")
                obj = self.element(child, _MANAGED, None)
            else:
                raise Defer(f"ObjectUpdate.{name}")
        if kind is None or obj is None:
            raise Defer("an object update without kind or object")
        return ObjectUpdate(kind, obj, [self.change(c, shapes) for c in changes])

    def change(self, e: ElementTree.Element, shapes: Mapping[str, Shape]) -> PropertyChange:
        fields: dict[str, ElementTree.Element] = {}
        for child in e:
            name = _field(child)
            if name not in ("name", "op", "val") or name in fields:
                raise Defer(f"PropertyChange.{name}")
            fields[name] = child
        if "name" not in fields or "op" not in fields:
            raise Defer("a change without name or op")
        path = _text(fields["name"])
        if path not in shapes:
            raise Defer(f"the path {path!r}")
        op = _scalar(_text(fields["op"]), _OP)
        val_e = fields.get("val")
        keep = _is_nic if path == _DEVICES else None
        val = None if val_e is None else self.element(val_e, _ANY, shapes[path], keep)
        return PropertyChange(path, op, val)

    def element(
        self,
        e: ElementTree.Element,
        declared: Any,
        shape: Shape,
        keep: Optional[Callable[[Any], bool]] = None,
    ) -> Any:
        """The value of ``e``, declared as ``declared``; its xsi:type, when given, must
        name that type or a narrower one. ``keep``: which list items are read."""
        xsi = e.get(_XSI_TYPE)
        if xsi is None:
            if declared is _ANY:
                raise Defer("an untyped value")
            t = declared
        else:
            t = _lookup(xsi, e.get("type"))
            if t is not declared and declared is not _ANY and not _narrower(t, declared):
                raise Defer(f"{xsi} where {declared.__name__} is declared")
        kind, item = self._kind(t)
        if kind is _REF:
            return self.reference(e, t)
        if kind is _DATA_OBJECT:
            if not isinstance(shape, dict):  # shapes are dicts (typing.Mapping is slow)
                raise Defer(f"an object ({t.__name__}) where a value is read")
            return self.data_object(e, t, shape)
        if kind is _LIST:
            if declared is not _ANY:
                raise Defer("a typed list inside a value")
            item_shape = shape[0] if isinstance(shape, list) else shape
            items = []
            for child in e:
                if keep is not None:
                    child_xsi = child.get(_XSI_TYPE)
                    if child_xsi is not None and not keep(_lookup(child_xsi, child.get("type"))):
                        continue  # a device the translator never reads (see soap.py)
                items.append(self.element(child, item, item_shape))
            return items
        if len(e):
            raise Defer(f"elements inside a {t.__name__}")
        return _scalar(e.text or "", t)

    def _kind(self, t: Any) -> tuple[object, Any]:
        """What ``t`` is read as (a reference, a data object, a list or a value), and a
        list's item type; Defer for a type this API version would read as another."""
        found = self._kinds.get(t)
        if found is None:
            if self.version and VmomiSupport.GetCompatibleType(t, self.version) is not t:
                raise Defer(f"{t.__name__} is not of this API version")
            if issubclass(t, _MANAGED):
                found = (_REF, None)
            elif issubclass(t, list):
                found = (_LIST, t.Item)
            elif issubclass(t, _DATA):
                found = (_DATA_OBJECT, None)
            else:
                found = (_VALUE, None)
            self._kinds[t] = found
        return found

    def reference(self, e: ElementTree.Element, t: Any) -> Any:
        if len(e) or "serverGuid" in e.attrib:
            raise Defer("a reference pyvmomi must read")
        ref_t = _lookup(e.get("type") or "", None)
        if ref_t is not t and not _narrower(ref_t, t):
            raise Defer(f"a reference to {ref_t.__name__} where {t.__name__} is declared")
        return ref_t(e.text or "", self.stub)

    def data_object(self, e: ElementTree.Element, t: Any, shape: Mapping[str, Shape]) -> Record:
        cls = _record_class(t)
        record = cls()
        values = record.__dict__
        props = cls._props
        for child in e:
            name = _field(child)
            if name not in shape:
                continue  # a field the translator never reads
            declared = props.get(name)
            if declared is None:
                raise Defer(f"{t.__name__}.{name} is not declared")
            prop_t, item_t = declared
            sub = shape[name]
            if item_t is not None:  # a list: each element is one item
                item = self.element(child, item_t, sub[0] if isinstance(sub, list) else sub)
                values.setdefault(name, []).append(item)
            elif name in values:
                raise Defer(f"{t.__name__}.{name} given twice")
            else:
                values[name] = self.element(child, prop_t, sub)
        return record


_fields: dict[Any, str] = {}


def _field(e: ElementTree.Element) -> str:
    """An element's name in the vim25 namespace (Defer for one outside it)."""
    tag = e.tag
    name = _fields.get(tag)
    if name is None:
        if not isinstance(tag, str) or not tag.startswith(_VIM):
            raise Defer(f"an element outside {_NS}")
        name = tag[len(_VIM) :]
        if len(_fields) < 4096:  # names come from vCenter: the cache stays bounded
            _fields[tag] = name
    return name


def _text(e: ElementTree.Element) -> str:
    if len(e):
        raise Defer("elements where text belongs")
    return e.text or ""


_types: dict[str, Any] = {}  # only names that resolved: bounded by pyvmomi's tables
_narrowing: dict[tuple[Any, Any], bool] = {}
_REF, _DATA_OBJECT, _LIST, _VALUE = object(), object(), object(), object()
#: What each type is read as, per API version (see _Reader._kind).
_KINDS: dict[Any, dict[Any, tuple[object, Any]]] = {}


def _narrower(t: Any, declared: Any) -> bool:
    key = (t, declared)
    found = _narrowing.get(key)
    if found is None:
        found = _narrowing[key] = issubclass(t, declared)
    return found


def _lookup(xsi: str, ref_type: Optional[str]) -> Any:
    """The pyvmomi type an xsi:type names; for a managed object reference, the type its
    ``type`` attribute (``ref_type``) names."""
    found = _types.get(xsi)
    if found is None:
        prefix, _, name = xsi.rpartition(":")
        ns = {"": _NS, "xsd": VmomiSupport.XMLNS_XSD}.get(prefix)
        if ns is None or not name:
            raise Defer(f"the type {xsi[:60]!r}")
        if ns == _NS and name == "ManagedObjectReference":
            if not ref_type or ref_type.endswith("ManagedObjectReference"):
                raise Defer("a reference without a type")
            return _lookup(ref_type, None)
        try:
            found = VmomiSupport.GetWsdlType(ns, name)
        except Exception:
            raise Defer(f"the type {xsi[:60]!r}") from None
        _types[xsi] = found
    return found


def _scalar(text: str, t: Any) -> Any:
    """``text`` as pyvmomi reads a value of type ``t`` (Defer where it would fail or
    make something else than text, a number or a truth value)."""
    convert = _converters.get(t)
    if convert is None:
        convert = _converters[t] = _converter(t)
    try:
        return convert(text)
    except (AttributeError, ValueError):
        raise Defer(f"{text[:40]!r} is not a {t.__name__}") from None


def _truth(text: str) -> bool:
    low = text.lower()
    if text == "0" or low == "false":
        return False
    if text == "1" or low == "true":
        return True
    raise ValueError(text)


def _converter(t: Any) -> Callable[[str], Any]:
    if t is bool:
        return _truth
    if issubclass(t, _ENUM):

        def member(text: str) -> str:
            value = getattr(t, text, None)
            if not isinstance(value, str) or value != text:
                raise ValueError(text)
            return value

        return member
    if issubclass(t, str):
        return str
    if issubclass(t, int) and not issubclass(t, bool):
        return int
    if issubclass(t, float):
        return float

    def other(text: str) -> Any:
        raise Defer(f"a value of type {t.__name__}")

    return other


_converters: dict[Any, Callable[[str], Any]] = {}


def _is_nic(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, _NIC)


__all__ = [
    "DEVICE",
    "SHAPES",
    "Defer",
    "FilterUpdate",
    "ObjectUpdate",
    "PropertyChange",
    "Record",
    "UpdateSet",
    "read",
]
