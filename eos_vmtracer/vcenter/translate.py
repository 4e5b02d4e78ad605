"""vCenter property values -> the project's model (hosts, VMs, portgroups, neighbours).

What this module is for: turn the values the property collector reports (pyvmomi
data objects, or anything shaped like them: tests use plain fakes) into the frozen
dataclasses of :mod:`eos_vmtracer.model`. It reads attributes by name only, so it
needs no pyvmomi import and works on whatever vCenter sends.

It must never raise on bad data: an odd VLAN id, a missing property or a value of
the wrong type is reported through ``warn`` (naming the object and the field) and
skipped (the element, not the whole object: a bad uplink list costs that list, a
bad vNIC backing that vNIC's network), and never guess a VLAN it was not given. Its
cost stays linear in what vCenter sends (a trunk of 20,000 ranges included).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Optional

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
from eos_vmtracer.vlans import VLAN_MAX, VLAN_MIN, VlanSet

Warn = Callable[[str], None]
Props = Mapping[str, Any]

_MISSING = object()

#: Property paths the adapter watches, per kind of object.
HOST_PATHS = (
    "name",
    "runtime.connectionState",
    "configManager.networkSystem",
    "config.network.pnic",
    "config.network.vswitch",
    "config.network.portgroup",
    "config.network.proxySwitch",
    "config.network.vnic",
)
VM_PATHS = ("name", "runtime.powerState", "runtime.host", "config.hardware.device")
DVPG_PATHS = ("name", "key", "config.distributedVirtualSwitch", "config.defaultPortConfig")
DVS_PATHS = ("name", "uuid", "config")

#: The host properties kept from before while a host is not connected (vCenter may
#: stop reporting them; the host keeps its VLANs, so its picture must stay).
HOST_KEPT_WHILE_DISCONNECTED = tuple(p for p in HOST_PATHS if p.startswith("config."))


# -- small readers ---------------------------------------------------------------------


class Ref:
    """A managed-object reference reduced to its id (what the adapter keeps of one)."""

    __slots__ = ("_moId",)

    def __init__(self, moid: str) -> None:
        self._moId = moid  # read like pyvmomi's references

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other._moId == self._moId

    def __hash__(self) -> int:
        return hash(self._moId)

    def __repr__(self) -> str:
        return f"Ref({self._moId!r})"


def moid(obj: Any) -> Optional[str]:
    """The managed-object id of a reference (pyvmomi ``_moId``), or None."""
    value = getattr(obj, "_moId", None)
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _items(value: Any) -> list[Any]:
    """A list property (pyvmomi arrays are lists); None/unset is empty."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"expected a list, got {type(value).__name__}")


def _strings(value: Any, what: str, warn: Warn) -> tuple[str, ...]:
    """A list of names; anything else is warned about (naming ``what``) and read as
    empty, so that one bad field costs that field, not the object holding it."""
    return tuple(v for v in _each(value, what, warn) if isinstance(v, str) and v)


#: How many bad elements a message lists before "and N more".
_SHOWN = 5
#: How much of a value a message shows (vCenter text can be long).
_SHOW_CHARS = 40


def _cut(text: str) -> str:
    """``text`` cut to :data:`_SHOW_CHARS` characters."""
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."


def _show(value: Any) -> str:
    """A value for a message: a scalar's repr, cut to :data:`_SHOW_CHARS` characters;
    anything else by its kind (a list and its compact copy read the same)."""
    if value is None or isinstance(value, (str, int, float, bytes)):
        return _cut(repr(value))
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    return f"a {_cut(_name(value))}"


def _name(obj: Any) -> str:
    """A type name for messages: pyvmomi's wsdl name, else the class name."""
    wsdl = getattr(obj, "_wsdlName", None)
    return wsdl if isinstance(wsdl, str) else type(obj).__name__.rsplit(".", 1)[-1]


# -- VLANs -----------------------------------------------------------------------------


def vlan_from_standard(vlan_id: Any) -> VlanSpec:
    """A standard portgroup's vlanId: 0 untagged, 1-4094 one VLAN, 4095 trunk of all."""
    return _vlan_id(vlan_id, all_at_4095=True)


def _vlan_id(vlan_id: Any, all_at_4095: bool) -> VlanSpec:
    """One VLAN id: 0 untagged, 1-4094 that VLAN, 4095 every VLAN (standard only)."""
    vid = _int(vlan_id)
    if vid is None:
        return VlanSpec.invalid(f"VLAN id {_show(vlan_id)} is not a number")
    if vid == 0:
        return VlanSpec.untagged()
    if VLAN_MIN <= vid <= VLAN_MAX:
        return VlanSpec.single(vid)
    if vid == 4095 and all_at_4095:
        return VlanSpec.trunk(VlanSet.all())
    return VlanSpec.invalid(f"VLAN id {vid} is out of range")


def vlan_from_distributed(spec: Any, pvlan_primary: Mapping[int, int]) -> VlanSpec:
    """A distributed portgroup's VLAN setting: VLAN id, trunk ranges or private VLAN.

    ``pvlan_primary`` maps each secondary (and promiscuous) VLAN of the switch's
    private-VLAN map to its primary.
    """
    if spec is None:
        return VlanSpec.invalid("no VLAN setting")
    pvlan = getattr(spec, "pvlanId", _MISSING)
    if pvlan is not _MISSING:
        secondary = _int(pvlan)
        if secondary is None or not VLAN_MIN <= secondary <= VLAN_MAX:
            return VlanSpec.invalid(f"private VLAN id {_show(pvlan)} is not usable")
        primary = pvlan_primary.get(secondary)
        if primary is None:
            return VlanSpec.invalid(f"private VLAN {secondary} is not in the switch's PVLAN map")
        if not VLAN_MIN <= primary <= VLAN_MAX:
            return VlanSpec.invalid(f"private VLAN {secondary} has primary {primary}")
        return VlanSpec.private(primary, secondary)
    vlan_id = getattr(spec, "vlanId", _MISSING)
    if vlan_id is _MISSING:
        return VlanSpec.invalid(f"unknown VLAN setting {_cut(_name(spec))}")
    if isinstance(vlan_id, (list, tuple)):
        return _trunk(vlan_id)
    return _vlan_id(vlan_id, all_at_4095=False)


def _trunk(ranges: Iterable[Any]) -> VlanSpec:
    """Trunk ranges -> one VLAN set, in time linear in the number of ranges.

    Each usable range only marks where it starts and ends (a difference array over
    the 4,094 VLANs); one pass over the VLANs then reads the union. Materialising
    every range as a set first made one portgroup with 20,000 ranges cost seconds.
    """
    edges = [0] * (VLAN_MAX + 2)
    bad: list[str] = []
    bad_count = 0
    for r in ranges:
        start, end = _int(getattr(r, "start", None)), _int(getattr(r, "end", None))
        if start is None or end is None or start > end:
            bad_count += 1
            if len(bad) < _SHOWN:
                bad.append(
                    f"{_cut(str(getattr(r, 'start', '?')))}-{_cut(str(getattr(r, 'end', '?')))}"
                )
            continue
        low, high = max(start, VLAN_MIN), min(end, VLAN_MAX)
        if low <= high:
            edges[low] += 1
            edges[high + 1] -= 1
        elif not (start == end == 0):  # 0 (untagged) inside a trunk is normal and adds nothing
            bad_count += 1
            if len(bad) < _SHOWN:
                bad.append(f"{start}-{end}")
    ids: list[int] = []
    depth = 0
    for vid in range(VLAN_MIN, VLAN_MAX + 1):
        depth += edges[vid]
        if depth:
            ids.append(vid)
    ignored = ", ".join(bad) + (f" and {bad_count - len(bad)} more" if bad_count > len(bad) else "")
    if not ids:
        return VlanSpec.invalid("trunk without a usable range" + (f" ({ignored})" if bad else ""))
    spec = VlanSpec.trunk(VlanSet(ids))
    if bad:
        return VlanSpec(spec.kind, spec.vlans, f"{spec.detail} (ignored {ignored})")
    return spec


# -- hosts -----------------------------------------------------------------------------


def _each(items: Any, what: str, warn: Warn) -> list[Any]:
    """A list property's elements; a value that is not a list is warned about
    (``what`` names the object and the field) and read as empty."""
    try:
        return _items(items)
    except TypeError as e:
        warn(f"{what}: {e}; ignored")
        return []


def host_from_props(host_moid: str, props: Props, warn: Warn) -> Host:
    """A host from its watched properties (neighbours are merged in later)."""
    name = _text(props.get("name")) or host_moid
    where = f"host {name}"
    connected = props.get("runtime.connectionState") == "connected"

    key_to_device: dict[str, str] = {}
    nics: list[PhysicalNic] = []
    for i, pnic in enumerate(_each(props.get("config.network.pnic"), f"{where} pnic", warn)):
        device = _text(getattr(pnic, "device", None))
        if not device:
            warn(
                f"{where}: physical NIC #{i} without a device name"
                f" (device {_show(getattr(pnic, 'device', None))}), skipped"
            )
            continue
        key = _text(getattr(pnic, "key", None))
        if key:
            key_to_device[key] = device
        nics.append(PhysicalNic(device=device, mac=_text(getattr(pnic, "mac", None)) or ""))
    devices = {n.device for n in nics}

    def uplinks(pnic_keys: Any, fallback: Iterable[str], what: str) -> tuple[str, ...]:
        out: list[str] = []
        for key in _strings(pnic_keys, f"{what} pnic", warn):
            device = key_to_device.get(key)
            if device is None and key in devices:
                device = key
            if device is None:
                warn(f"{what}: uplink {_show(key)} is not one of its physical NICs")
                continue
            if device not in out:
                out.append(device)
        if not out:
            out = [d for d in fallback if d in devices]
        return tuple(out)

    switches: list[HostSwitch] = []
    for vs in _each(props.get("config.network.vswitch"), f"{where} vswitch", warn):
        sw_name = _text(getattr(vs, "name", None))
        if not sw_name:
            warn(f"{where}: a vSwitch without a name, skipped")
            continue
        what = f"{where} vSwitch {_show(sw_name)}"
        bridge = getattr(getattr(vs, "spec", None), "bridge", None)
        fallback = (
            _strings(getattr(bridge, "nicDevice", None), f"{what} spec.bridge.nicDevice", warn)
            if bridge is not None
            else ()
        )
        switches.append(
            HostSwitch(sw_name, sw_name, False, uplinks(getattr(vs, "pnic", None), fallback, what))
        )
    for proxy in _each(props.get("config.network.proxySwitch"), f"{where} proxySwitch", warn):
        uuid = _text(getattr(proxy, "dvsUuid", None))
        if not uuid:
            warn(f"{where}: a distributed switch proxy without a switch UUID, skipped")
            continue
        what = f"{where} distributed switch proxy {_show(uuid)}"
        backing = getattr(getattr(proxy, "spec", None), "backing", None)
        fallback = tuple(
            d
            for d in (
                _text(getattr(p, "pnicDevice", None))
                for p in _each(
                    getattr(backing, "pnicSpec", None), f"{what} spec.backing.pnicSpec", warn
                )
            )
            if d
        )
        sw_name = _text(getattr(proxy, "dvsName", None)) or uuid
        switches.append(
            HostSwitch(uuid, sw_name, True, uplinks(getattr(proxy, "pnic", None), fallback, what))
        )

    portgroups: list[HostPortgroup] = []
    for pg in _each(props.get("config.network.portgroup"), f"{where} portgroup", warn):
        spec = getattr(pg, "spec", None)
        pg_name = _text(getattr(spec, "name", None))
        if not pg_name:
            warn(f"{where}: a portgroup without a name, skipped")
            continue
        what = f"{where} portgroup {_show(pg_name)}"
        vlan = vlan_from_standard(getattr(spec, "vlanId", None))
        if vlan.kind.value == "invalid":
            warn(f"{what}: spec.vlanId: {vlan.detail}; it adds no VLAN")
        order = getattr(
            getattr(getattr(spec, "policy", None), "nicTeaming", None), "nicOrder", None
        )
        override: Optional[tuple[str, ...]] = None
        if order is not None:
            teaming = f"{what} spec.policy.nicTeaming.nicOrder"
            named = [
                *_strings(getattr(order, "activeNic", None), f"{teaming}.activeNic", warn),
                *_strings(getattr(order, "standbyNic", None), f"{teaming}.standbyNic", warn),
            ]
            override = tuple(dict.fromkeys(d for d in named if d in devices))
        portgroups.append(
            HostPortgroup(pg_name, _text(getattr(spec, "vswitchName", None)) or "", vlan, override)
        )

    vmknics: list[VmkNic] = []
    for vnic in _each(props.get("config.network.vnic"), f"{where} vnic", warn):
        device = _text(getattr(vnic, "device", None))
        if not device:
            warn(f"{where}: a VMkernel adapter without a device name, skipped")
            continue
        spec = getattr(vnic, "spec", None)
        dvport = getattr(spec, "distributedVirtualPort", None)
        ref: Optional[NetworkRef] = None
        if dvport is not None:
            key = _text(getattr(dvport, "portgroupKey", None))
            uuid = _text(getattr(dvport, "switchUuid", None))
            if key and uuid:
                ref = NetworkRef(True, key, uuid)
        else:
            pg_name = _text(getattr(vnic, "portgroup", None)) or _text(
                getattr(spec, "portgroup", None)
            )
            if pg_name:
                ref = NetworkRef(False, pg_name)
        if ref is None:
            warn(
                f"{where}: VMkernel adapter {device} is on a network the agent cannot map"
                " (spec.distributedVirtualPort / portgroup), skipped"
            )
            continue
        vmknics.append(VmkNic(device, ref))

    return Host(
        moid=host_moid,
        name=name,
        connected=connected,
        nics=tuple(nics),
        switches=tuple(switches),
        portgroups=tuple(portgroups),
        vmknics=tuple(vmknics),
    )


def with_neighbors(host: Host, neighbors: Mapping[str, tuple[Neighbor, ...]]) -> Host:
    """``host`` with each vmnic's neighbours filled in."""
    if not neighbors:
        return host
    nics = tuple(
        replace(n, neighbors=neighbors[n.device]) if n.device in neighbors else n for n in host.nics
    )
    return replace(host, nics=nics)


# -- VMs -------------------------------------------------------------------------------


class Nics(tuple):  # type: ignore[type-arg]
    """A VM's vNICs, already translated: what the adapter keeps of its
    ``config.hardware.device`` once read (a VM has ten or more devices, each a tree of
    objects, and only its virtual Ethernet cards matter)."""


def vm_from_props(vm_moid: str, props: Props, warn: Warn) -> Vm:
    """A VM from its watched properties; vNICs with unusable backings get network None."""
    name = _text(props.get("name")) or vm_moid
    host = moid(props.get("runtime.host"))
    powered_on = props.get("runtime.powerState") == "poweredOn"
    devices = props.get("config.hardware.device")
    if isinstance(devices, Nics):
        nics = tuple(devices)
    else:
        nics = vnics_from_devices(devices, f"VM {name}", warn)
    return Vm(moid=vm_moid, name=name, powered_on=powered_on, host=host, nics=nics)


def vnics_from_devices(devices: Any, where: str, warn: Warn) -> tuple[VNic, ...]:
    """The virtual Ethernet cards of a ``config.hardware.device``, by device key."""
    nics: list[VNic] = []
    for dev in _each(devices, f"{where} devices", warn):
        if getattr(dev, "macAddress", _MISSING) is _MISSING:
            continue  # not a virtual Ethernet card
        key = _int(getattr(dev, "key", None))
        if key is None:
            warn(
                f"{where}: a vNIC without a device key"
                f" (key {_show(getattr(dev, 'key', None))}), skipped"
            )
            continue
        label = _text(getattr(getattr(dev, "deviceInfo", None), "label", None)) or f"vNIC {key}"
        connectable = getattr(dev, "connectable", None)
        connected = True if connectable is None else getattr(connectable, "connected", None) is True
        nics.append(
            VNic(
                key=key,
                label=label,
                network=_vnic_network(getattr(dev, "backing", None), f"{where} {label}", warn),
                connected=connected,
                mac=_text(getattr(dev, "macAddress", None)) or "",
            )
        )
    nics.sort(key=lambda n: n.key)
    return tuple(nics)


def _vnic_network(backing: Any, where: str, warn: Warn) -> Optional[NetworkRef]:
    if backing is None:
        warn(f"{where}: no backing, not mapped")
        return None
    port = getattr(backing, "port", _MISSING)
    if port is not _MISSING:
        key = _text(getattr(port, "portgroupKey", None))
        uuid = _text(getattr(port, "switchUuid", None))
        if key and uuid:
            return NetworkRef(True, key, uuid)
        warn(
            f"{where}: backing.port without a portgroup key or switch UUID"
            f" (portgroupKey {_show(getattr(port, 'portgroupKey', None))},"
            f" switchUuid {_show(getattr(port, 'switchUuid', None))}), not mapped"
        )
        return None
    if getattr(backing, "opaqueNetworkId", _MISSING) is not _MISSING:
        warn(
            f"{where}: on opaque network"
            f" {_show(getattr(backing, 'opaqueNetworkId', ''))}, not mapped"
        )
        return None
    device_name = getattr(backing, "deviceName", _MISSING)
    if device_name is not _MISSING:
        pg = _text(device_name)
        if pg:
            return NetworkRef(False, pg)
        warn(
            f"{where}: backing.deviceName {_show(device_name)} is not a portgroup name, not mapped"
        )
        return None
    warn(f"{where}: backing {_cut(_name(backing))} is not mapped")
    return None


# -- distributed switches and portgroups -----------------------------------------------


@dataclass(frozen=True)
class Dvs:
    """What the adapter keeps of a distributed switch."""

    moid: str
    uuid: str
    name: str
    pvlan_primary: Mapping[int, int] = field(default_factory=dict)  # secondary -> primary
    uplink_portgroups: frozenset[str] = frozenset()  # portgroup moids


def dvs_from_props(dvs_moid: str, props: Props, warn: Warn) -> Optional[Dvs]:
    """A distributed switch: UUID, private-VLAN map and uplink portgroups."""
    name = _text(props.get("name")) or dvs_moid
    config = props.get("config")
    uuid = _text(props.get("uuid")) or _text(getattr(config, "uuid", None))
    if not uuid:
        warn(f"distributed switch {name}: no UUID, skipped")
        return None
    pvlans: dict[int, int] = {}
    for entry in _each(getattr(config, "pvlanConfig", None), f"switch {name} pvlanConfig", warn):
        primary = _int(getattr(entry, "primaryVlanId", None))
        secondary = _int(getattr(entry, "secondaryVlanId", None))
        if primary is None or secondary is None:
            warn(
                f"distributed switch {name}: config.pvlanConfig entry without VLAN ids"
                f" (primaryVlanId {_show(getattr(entry, 'primaryVlanId', None))},"
                f" secondaryVlanId {_show(getattr(entry, 'secondaryVlanId', None))}), skipped"
            )
            continue
        pvlans[secondary] = primary
    uplinks = frozenset(
        m
        for m in (
            moid(r) for r in _each(getattr(config, "uplinkPortgroup", None), f"switch {name}", warn)
        )
        if m
    )
    return Dvs(dvs_moid, uuid, name, pvlans, uplinks)


def dvpg_from_props(
    pg_moid: str, props: Props, switches: Mapping[str, Dvs], warn: Warn
) -> Optional[DvPortgroup]:
    """A distributed portgroup; None when its switch is not known (yet)."""
    name = _text(props.get("name")) or pg_moid
    key = _text(props.get("key")) or pg_moid
    switch_moid = moid(props.get("config.distributedVirtualSwitch"))
    dvs = switches.get(switch_moid or "")
    if dvs is None:
        warn(f"distributed portgroup {name}: its switch {switch_moid or '?'} is not known, skipped")
        return None
    setting = props.get("config.defaultPortConfig")
    vlan = vlan_from_distributed(getattr(setting, "vlan", None), dvs.pvlan_primary)
    uplink = pg_moid in dvs.uplink_portgroups
    if vlan.kind.value == "invalid" and not uplink:
        warn(
            f"distributed portgroup {name}: config.defaultPortConfig.vlan: {vlan.detail};"
            " it adds no VLAN"
        )
    return DvPortgroup(key=key, name=name, switch=dvs.uuid, vlan=vlan, uplink_portgroup=uplink)


# -- neighbours ------------------------------------------------------------------------


def neighbors_from_hints(hints: Any, warn: Warn) -> dict[str, tuple[Neighbor, ...]]:
    """QueryNetworkHint's answer -> vmnic -> neighbours heard (CDP first, then LLDP)."""
    out: dict[str, tuple[Neighbor, ...]] = {}
    for hint in _each(hints, "network hints", warn):
        device = _text(getattr(hint, "device", None))
        if not device:
            continue
        heard: list[Neighbor] = []
        cdp = getattr(hint, "connectedSwitchPort", None)
        if cdp is not None:
            dev_id = _text(getattr(cdp, "devId", None))
            port_id = _text(getattr(cdp, "portId", None))
            if dev_id and port_id:
                address = _text(getattr(cdp, "address", None)) or _text(
                    getattr(cdp, "mgmtAddr", None)
                )
                heard.append(Neighbor("cdp", dev_id, port_id, address or ""))
        lldp = getattr(hint, "lldpInfo", None)
        if lldp is not None:
            params: dict[str, str] = {}
            for p in _each(getattr(lldp, "parameter", None), f"{device} lldp", warn):
                key, value = _text(getattr(p, "key", None)), getattr(p, "value", None)
                if key and isinstance(value, str):
                    params[key] = value
            dev_id = params.get("System Name") or _text(getattr(lldp, "chassisId", None))
            port_id = _text(getattr(lldp, "portId", None))
            if dev_id and port_id:
                heard.append(
                    Neighbor("lldp", dev_id, port_id, params.get("Management Address", ""))
                )
        out[device] = tuple(heard)
    return out


__all__ = [
    "DVPG_PATHS",
    "DVS_PATHS",
    "HOST_PATHS",
    "VM_PATHS",
    "Dvs",
    "Nics",
    "Ref",
    "dvpg_from_props",
    "dvs_from_props",
    "host_from_props",
    "moid",
    "neighbors_from_hints",
    "vlan_from_distributed",
    "vlan_from_standard",
    "vm_from_props",
    "vnics_from_devices",
    "with_neighbors",
]
