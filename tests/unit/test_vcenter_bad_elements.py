"""Bad data from vCenter at the scale of one element: a bad nested field costs that
element (with a warning naming the object and the field), never its host or VM; a
trunk of many ranges translates in linear time; two distributed portgroups with one
key are resolved the same way whatever order they arrive in."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace as O
from typing import Any

import pytest

from eos_vmtracer.model import NetworkRef, VlanKind, VlanSpec
from eos_vmtracer.vcenter.inventory import InventoryStore, moid_order
from eos_vmtracer.vcenter.translate import vlan_from_distributed
from eos_vmtracer.vlans import VlanSet


def ref(moid: str) -> O:
    return O(_moId=moid)


def store() -> tuple[InventoryStore, list[str]]:
    warnings: list[str] = []
    return InventoryStore(warnings.append), warnings


def rng(start: Any, end: Any) -> O:
    return O(start=start, end=end)


# -- trunk ranges in linear time ------------------------------------------------------------


def test_a_trunk_of_20000_ranges_translates_in_well_under_a_second() -> None:
    r = random.Random(7)
    ranges = []
    for _ in range(20_000):
        start = r.randint(0, 4094)
        ranges.append((start, r.randint(start, min(4094, start + 300))))
    setting = O(vlanId=[rng(a, b) for a, b in ranges])
    began = time.process_time()  # CPU time: the machine may be busy with other work
    spec = vlan_from_distributed(setting, {})
    took = time.process_time() - began
    expected: set[int] = set()
    for a, b in ranges:
        expected.update(range(max(a, 1), b + 1))
    assert spec.kind == VlanKind.TRUNK and spec.vlans == VlanSet(expected)
    assert took < 1.0, (
        f"{took:.2f} s for 20,000 ranges"
    )  # a gross bound: 13-24 s before, 0.07 s now


def test_many_bad_ranges_are_counted_not_all_listed() -> None:
    bad = [rng(10, 5)] * 20_000
    spec = vlan_from_distributed(O(vlanId=[*bad, rng(7, 8)]), {})
    assert spec.vlans == VlanSet([7, 8])
    assert "and 19995 more" in spec.detail and len(spec.detail) < 200


def test_overlapping_and_nested_ranges_are_one_union() -> None:
    spec = vlan_from_distributed(
        O(vlanId=[rng(10, 20), rng(15, 30), rng(12, 13), rng(4094, 4094), rng(0, 0)]), {}
    )
    assert spec == VlanSpec.trunk(VlanSet.parse("10-30,4094"))


# -- one bad element costs that element ------------------------------------------------------

PNICS = [
    O(key="k0", device="vmnic0", mac="aa"),
    O(key="k1", device="vmnic1", mac="bb"),
    O(key="k2", device="vmnic2", mac="cc"),
]


def _pg(name: str, vlan: Any, order: Any = None) -> O:
    return O(
        spec=O(
            name=name, vlanId=vlan, vswitchName="vSwitch0", policy=O(nicTeaming=O(nicOrder=order))
        )
    )


def host_changes(**overrides: Any) -> list[tuple[str, str, Any]]:
    props: dict[str, Any] = {
        "name": "esx1",
        "runtime.connectionState": "connected",
        "configManager.networkSystem": ref("hns-1"),
        "config.network.pnic": list(PNICS),
        "config.network.vswitch": [
            O(name="vSwitch0", pnic=["k0"], spec=O(bridge=O(nicDevice=["vmnic0"]))),
            O(name="vSwitch1", pnic=["k1"], spec=O(bridge=O(nicDevice=["vmnic1"]))),
        ],
        "config.network.proxySwitch": [
            O(dvsUuid="u1", dvsName="DSwitch", pnic=["k2"], spec=O(backing=O(pnicSpec=[])))
        ],
        "config.network.portgroup": [
            _pg("VM-100", 100),
            _pg("VM-110", 110, O(activeNic=["vmnic1"], standbyNic=["vmnic0"])),
        ],
        "config.network.vnic": [],
    }
    props.update(overrides)
    return [(k, "assign", v) for k, v in props.items()]


def translated_host(**overrides: Any) -> tuple[Any, list[str]]:
    s, warnings = store()
    s.apply("host", "host-1", "enter", host_changes(**overrides))
    s.refresh()
    return s.hosts().get("host-1"), warnings


def test_a_vswitch_whose_uplink_list_is_not_a_list_loses_its_uplinks_only() -> None:
    vswitches = [
        O(name="vSwitch0", pnic=7, spec=O(bridge=O(nicDevice=["vmnic0"]))),
        O(name="vSwitch1", pnic=["k1"], spec=O(bridge=O(nicDevice=["vmnic1"]))),
    ]
    host, warnings = translated_host(**{"config.network.vswitch": vswitches})
    assert host is not None, "the whole host was dropped"
    assert [(s.name, s.uplinks) for s in host.switches] == [
        ("vSwitch0", ("vmnic0",)),  # the bridge's NICs, as when pnic is empty
        ("vSwitch1", ("vmnic1",)),
        ("DSwitch", ("vmnic2",)),
    ]
    assert any("vSwitch 'vSwitch0' pnic" in w and "got int" in w for w in warnings), warnings


def test_a_teaming_order_of_the_wrong_type_loses_that_list_only() -> None:
    pgs = [_pg("VM-100", 100), _pg("VM-110", 110, O(activeNic="vmnic1", standbyNic=["vmnic0"]))]
    host, warnings = translated_host(**{"config.network.portgroup": pgs})
    assert host is not None, "the whole host was dropped"
    assert host.portgroup("VM-110").uplinks == ("vmnic0",)
    assert host.portgroup("VM-100").vlan == VlanSpec.single(100)
    assert any(
        "portgroup 'VM-110' spec.policy.nicTeaming.nicOrder.activeNic" in w for w in warnings
    ), warnings


def test_a_physical_nic_with_a_bad_name_type_is_dropped_alone() -> None:
    pnics = [PNICS[0], O(key="k1", device=1, mac="bb"), PNICS[2]]
    host, warnings = translated_host(**{"config.network.pnic": pnics})
    assert host is not None
    assert [n.device for n in host.nics] == ["vmnic0", "vmnic2"]
    assert [len(s.uplinks) for s in host.switches] == [1, 0, 1]  # vSwitch1's only NIC is gone
    assert any("host esx1: physical NIC #1" in w and "device 1" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("vlan", "says"),
    [("100", "VLAN id '100' is not a number"), (4096, "VLAN id 4096 is out of range")],
)
def test_a_portgroup_with_an_odd_vlan_adds_nothing_and_is_named(vlan: Any, says: str) -> None:
    pgs = [_pg("VM-100", 100), _pg("Odd", vlan)]
    host, warnings = translated_host(**{"config.network.portgroup": pgs})
    assert host is not None
    assert host.portgroup("VM-100").vlan == VlanSpec.single(100)
    odd = host.portgroup("Odd")
    assert odd is not None and odd.vlan.kind == VlanKind.INVALID and not odd.vlan.vlans
    assert any(f"host esx1 portgroup 'Odd': spec.vlanId: {says}" in w for w in warnings), warnings


def _vm(devices: list[Any]) -> tuple[Any, list[str]]:
    s, warnings = store()
    s.apply(
        "vm",
        "vm-1",
        "enter",
        [
            ("name", "assign", "web1"),
            ("runtime.powerState", "assign", "poweredOn"),
            ("runtime.host", "assign", ref("host-1")),
            ("config.hardware.device", "assign", devices),
        ],
    )
    s.refresh()
    return s.vms().get("vm-1"), warnings


def _card(key: Any, backing: Any) -> O:
    return O(
        key=key,
        deviceInfo=O(label=f"Network adapter {key}"),
        connectable=O(connected=True),
        macAddress="m",
        backing=backing,
    )


@pytest.mark.parametrize(
    ("backing", "says"),
    [
        (5, "backing int is not mapped"),
        (O(port="dvport-7"), "backing.port without a portgroup key or switch UUID"),
        (O(port=O(portgroupKey=5, switchUuid="u1")), "portgroupKey 5"),
        (O(deviceName=["VM-100"]), "backing.deviceName a list of 1 is not a portgroup name"),
    ],
)
def test_a_vnic_with_a_malformed_backing_loses_its_network_only(backing: Any, says: str) -> None:
    vm, warnings = _vm([_card(4000, O(deviceName="VM-100")), _card(4001, backing)])
    assert vm is not None and vm.powered_on and vm.host == "host-1"
    assert [(n.key, n.network) for n in vm.nics] == [
        (4000, NetworkRef(False, "VM-100")),
        (4001, None),
    ]
    assert any(w.startswith("VM web1 Network adapter 4001: ") and says in w for w in warnings), (
        warnings
    )


def test_a_vnic_with_a_bad_key_is_dropped_alone() -> None:
    vm, warnings = _vm([_card("x", O(deviceName="VM-1")), _card(4001, O(deviceName="VM-2"))])
    assert vm is not None and [n.key for n in vm.nics] == [4001]
    assert any("VM web1: a vNIC without a device key (key 'x')" in w for w in warnings), warnings


def _dvs(s: InventoryStore) -> None:
    s.apply(
        "dvs",
        "dvs-1",
        "enter",
        [
            ("name", "assign", "DSwitch"),
            ("uuid", "assign", "u1"),
            ("config", "assign", O(uplinkPortgroup=[], pvlanConfig=[])),
        ],
    )


def _dvpg(s: InventoryStore, moid: str, name: str, vlan: Any, key: str = "") -> None:
    s.apply(
        "dvpg",
        moid,
        "enter",
        [
            ("name", "assign", name),
            ("key", "assign", key or moid),
            ("config.distributedVirtualSwitch", "assign", ref("dvs-1")),
            ("config.defaultPortConfig", "assign", O(vlan=vlan)),
        ],
    )


@pytest.mark.parametrize(
    ("vlan", "says"),
    [
        (O(vlanId=5000), "VLAN id 5000 is out of range"),
        (O(vlanId=[5, 6]), "trunk without a usable range"),
        (O(pvlanId="201"), "private VLAN id '201' is not usable"),
        (O(weird=1), "unknown VLAN setting"),
    ],
)
def test_a_distributed_portgroup_with_an_odd_vlan_spec_is_named(vlan: Any, says: str) -> None:
    s, warnings = store()
    _dvs(s)
    _dvpg(s, "dvportgroup-1", "DV-odd", vlan)
    _dvpg(s, "dvportgroup-2", "DV-300", O(vlanId=300))
    s.refresh()
    assert s.dv_portgroups()["dvportgroup-2"].vlan == VlanSpec.single(300)
    assert s.dv_portgroups()["dvportgroup-1"].vlan.kind == VlanKind.INVALID
    assert any(
        f"distributed portgroup DV-odd: config.defaultPortConfig.vlan: {says}" in w
        for w in warnings
    ), warnings


# -- duplicate distributed portgroup keys ------------------------------------------------------


def test_moid_order_compares_numbers_by_value() -> None:
    ids = ["dvportgroup-10", "dvportgroup-9", "dvportgroup-100", "a", "dvportgroup-9a"]
    assert sorted(ids, key=moid_order) == [
        "a",
        "dvportgroup-9",
        "dvportgroup-9a",
        "dvportgroup-10",
        "dvportgroup-100",
    ]


@pytest.mark.parametrize(
    "order", [["dvportgroup-9", "dvportgroup-10"], ["dvportgroup-10", "dvportgroup-9"]]
)
@pytest.mark.parametrize("one_refresh", [True, False])
def test_two_portgroups_with_one_key_resolve_to_the_lowest_id_in_any_order(
    order: list[str], one_refresh: bool
) -> None:
    vlans = {"dvportgroup-9": 109, "dvportgroup-10": 110}
    s, warnings = store()
    _dvs(s)
    for moid in order:
        _dvpg(s, moid, f"DV-{vlans[moid]}", O(vlanId=vlans[moid]), key="pg-key")
        if not one_refresh:
            s.refresh()
    s.refresh()
    assert s.dv_portgroups()["pg-key"].vlan == VlanSpec.single(109)
    dup = [w for w in warnings if "all have key 'pg-key'" in w]
    assert dup == [
        "distributed portgroups dvportgroup-9, dvportgroup-10 all have key 'pg-key';"
        " using dvportgroup-9 (the lowest id), ignoring the others"
    ]
    # A change to the loser changes nothing; the winner leaving hands the key over.
    s.apply("dvpg", "dvportgroup-10", "modify", [("name", "assign", "DV-110b")])
    assert not s.refresh()
    s.apply("dvpg", "dvportgroup-9", "leave", [])
    assert s.refresh()
    assert s.dv_portgroups()["pg-key"].vlan == VlanSpec.single(110)
    s.apply("dvpg", "dvportgroup-10", "leave", [])
    assert s.refresh() and s.dv_portgroups() == {}


def test_a_portgroup_changing_its_key_frees_the_old_one() -> None:
    s, _ = store()
    _dvs(s)
    _dvpg(s, "dvportgroup-1", "A", O(vlanId=101), key="k")
    _dvpg(s, "dvportgroup-2", "B", O(vlanId=102), key="k")
    s.refresh()
    assert s.dv_portgroups()["k"].name == "A"
    s.apply("dvpg", "dvportgroup-1", "modify", [("key", "assign", "k2")])
    assert s.refresh()
    assert s.dv_portgroups()["k"].name == "B" and s.dv_portgroups()["k2"].name == "A"
