"""The translator under arbitrary, mostly malformed property sets (hypothesis).

Whatever vCenter sends in the fields the translator reads (any type, any nesting,
any size), translating ends in a well-formed model object, or with that element
dropped and a warning: never an exception. The same values go through the inventory
store (which slims a host's network properties first), where an exception from the
translator would show as its "cannot read it" warning.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eos_vmtracer.model import DvPortgroup, Host, Neighbor, Vm, VNic
from eos_vmtracer.vcenter.inventory import PATHS, InventoryStore
from eos_vmtracer.vcenter.slim import HOST_SHAPES, slim
from eos_vmtracer.vcenter.translate import (
    Dvs,
    dvpg_from_props,
    dvs_from_props,
    host_from_props,
    neighbors_from_hints,
    vm_from_props,
)
from eos_vmtracer.vlans import VLAN_MAX, VLAN_MIN
from tests.examples import examples

FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Every attribute name the translator reads somewhere, so that generated objects
#: reach deep into its code paths.
FIELDS = (  # noqa: SIM905 - a word list
    "key device mac name pnic spec bridge nicDevice dvsUuid dvsName backing pnicSpec "
    "pnicDevice vlanId vswitchName policy nicTeaming nicOrder activeNic standbyNic "
    "portgroup distributedVirtualPort portgroupKey switchUuid deviceInfo label "
    "connectable connected macAddress port opaqueNetworkId deviceName uuid pvlanConfig "
    "primaryVlanId secondaryVlanId uplinkPortgroup _moId vlan pvlanId start end "
    "connectedSwitchPort devId portId address mgmtAddr lldpInfo parameter value chassisId"
).split()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=4100),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["vmnic0", "vmnic1", "k0", "u1", "dvportgroup-1", "VM-100", "connected"]),
    st.binary(max_size=4),
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from(FIELDS), children, max_size=5).map(
        lambda d: SimpleNamespace(**d)
    )


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=3), children, max_size=2),
        _objects(children),
    ),
    max_leaves=25,
)


# Values shaped like what vCenter sends, each field well-formed, missing or anything:
# random objects alone rarely reach the translator's deeper reads (a vSwitch's uplink
# list, a vNIC's distributed port).
_NAMES = ["vmnic0", "vmnic1", "vmnic2", "k0", "k1", "u1", "dvportgroup-1", "VM-100", "x"]
plausible = st.one_of(
    st.sampled_from(_NAMES),
    st.integers(min_value=-2, max_value=4096),
    st.lists(st.sampled_from(_NAMES), max_size=3),
    st.booleans(),
)
_RANGE = {"start": None, "end": None}
_VLAN = [{"vlanId": None}, {"vlanId": [_RANGE]}, {"pvlanId": None}]
_BACKING = [
    {"port": {"portgroupKey": None, "switchUuid": None}},
    {"deviceName": None},
    {"opaqueNetworkId": None},
]
_VNIC = {
    "key": None,
    "deviceInfo": {"label": None},
    "connectable": {"connected": None},
    "macAddress": None,
    "backing": _BACKING,
}
_HINT = {
    "device": None,
    "connectedSwitchPort": {"devId": None, "portId": None, "address": None},
    "lldpInfo": {"chassisId": None, "portId": None, "parameter": [{"key": None, "value": None}]},
}
SHAPES: dict[str, Any] = {
    **{path: shape for path, shape in HOST_SHAPES.items()},
    "config.hardware.device": [_VNIC],
    "config": {
        "uuid": None,
        "pvlanConfig": [{"primaryVlanId": None, "secondaryVlanId": None}],
        "uplinkPortgroup": [{"_moId": None}],
    },
    "config.defaultPortConfig": {"vlan": _VLAN},
    "runtime.host": {"_moId": None},
    "hints": [_HINT],
}


def shaped(shape: Any) -> st.SearchStrategy[Any]:
    """A value of ``shape`` (see :mod:`eos_vmtracer.vcenter.slim`; a list of several
    dicts is a choice of objects), with any part of it anything at all."""
    if shape is None:
        good: st.SearchStrategy[Any] = plausible
    elif isinstance(shape, list) and len(shape) == 1:
        good = st.lists(shaped(shape[0]), max_size=3)
    elif isinstance(shape, list):
        good = st.one_of(*(shaped(s) for s in shape))
    else:
        good = st.fixed_dictionaries({}, optional={f: shaped(sub) for f, sub in shape.items()}).map(
            lambda d: SimpleNamespace(**d)
        )
    return st.one_of(good, good, values)


def props(paths: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={p: shaped(SHAPES.get(p)) for p in paths})


def _vlans_ok(spec: Any) -> bool:
    return all(VLAN_MIN <= v <= VLAN_MAX for v in spec.vlans)


class Warnings(list):  # type: ignore[type-arg]
    def __call__(self, msg: Any) -> None:
        assert isinstance(msg, str)
        self.append(msg)


@FUZZ
@given(props(PATHS["host"]))
def test_any_host_properties_give_a_host(p: dict[str, Any]) -> None:
    warn = Warnings()
    host = host_from_props("host-1", p, warn)
    assert isinstance(host, Host) and host.moid == "host-1" and host.name
    assert all(isinstance(n.device, str) and n.device for n in host.nics)
    devices = {n.device for n in host.nics}
    assert all(set(s.uplinks) <= devices for s in host.switches)
    assert all(_vlans_ok(pg.vlan) for pg in host.portgroups)
    assert all(pg.uplinks is None or set(pg.uplinks) <= devices for pg in host.portgroups)
    # The inventory keeps a slim copy of each network property: it translates the same.
    slimmed = {k: slim(v, HOST_SHAPES[k]) if k in HOST_SHAPES else v for k, v in p.items()}
    warn2 = Warnings()
    assert host_from_props("host-1", slimmed, warn2) == host
    assert warn2 == warn


@FUZZ
@given(props(PATHS["vm"]))
def test_any_vm_properties_give_a_vm(p: dict[str, Any]) -> None:
    vm = vm_from_props("vm-1", p, Warnings())
    assert isinstance(vm, Vm) and vm.moid == "vm-1" and vm.name
    assert vm.host is None or isinstance(vm.host, str)
    assert all(isinstance(n, VNic) and isinstance(n.key, int) for n in vm.nics)
    assert [n.key for n in vm.nics] == sorted(n.key for n in vm.nics)


@FUZZ
@given(props(PATHS["dvs"]), props(PATHS["dvpg"]))
def test_any_switch_and_portgroup_properties(dvs_p: dict[str, Any], pg_p: dict[str, Any]) -> None:
    warn = Warnings()
    dvs = dvs_from_props("dvs-1", dvs_p, warn)
    assert dvs is None or isinstance(dvs, Dvs)
    switches = {"dvs-1": dvs} if dvs is not None else {}
    pg_p = dict(pg_p, **{"config.distributedVirtualSwitch": SimpleNamespace(_moId="dvs-1")})
    pg = dvpg_from_props("dvportgroup-1", pg_p, switches, warn)
    if dvs is None:
        assert pg is None and warn
    else:
        assert isinstance(pg, DvPortgroup) and _vlans_ok(pg.vlan) and pg.key


@FUZZ
@given(shaped(SHAPES["hints"]))
def test_any_network_hints(hints: Any) -> None:
    heard = neighbors_from_hints(hints, Warnings())
    for device, neighbours in heard.items():
        assert isinstance(device, str) and device
        assert all(isinstance(n, Neighbor) and n.device_id and n.port_id for n in neighbours)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["host", "vm", "dvpg", "dvs"]),
            st.sampled_from(["obj-1", "obj-2"]),
            st.sampled_from(["enter", "modify", "modify", "leave"]),
            st.data(),
        ),
        max_size=6,
    )
)
def test_the_inventory_never_meets_an_exception_from_the_translator(updates: list[Any]) -> None:
    warnings: list[str] = []
    store = InventoryStore(warnings.append)
    for kind, moid, update, data in updates:
        changed = data.draw(props(PATHS[kind]))
        store.apply(kind, moid, update, [(k, "assign", v) for k, v in changed.items()])
        store.refresh()
    assert not [w for w in warnings if "cannot read it" in w], warnings
