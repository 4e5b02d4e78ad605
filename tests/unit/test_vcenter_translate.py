"""Translation of vCenter property values (pyvmomi-shaped fakes) into the model,
including the bad data a real vCenter can send."""

from __future__ import annotations

from types import SimpleNamespace as O
from typing import Any

import pytest

from eos_vmtracer.model import (
    DvPortgroup,
    HostPortgroup,
    HostSwitch,
    Neighbor,
    NetworkRef,
    PhysicalNic,
    VlanKind,
    VlanSpec,
    VmkNic,
    VNic,
)
from eos_vmtracer.vcenter.slim import HOST_SHAPES, slim
from eos_vmtracer.vcenter.translate import (
    Dvs,
    dvpg_from_props,
    dvs_from_props,
    host_from_props,
    neighbors_from_hints,
    vlan_from_distributed,
    vlan_from_standard,
    vm_from_props,
    with_neighbors,
)
from eos_vmtracer.vlans import VlanSet


class Warnings(list[str]):
    def __call__(self, msg: str) -> None:
        self.append(msg)


def ref(moid: str) -> O:
    return O(_moId=moid)


# -- VLANs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vlan_id", "expected"),
    [
        (0, VlanSpec.untagged()),
        (1, VlanSpec.single(1)),
        (4094, VlanSpec.single(4094)),
        (4095, VlanSpec.trunk(VlanSet.all())),
    ],
)
def test_standard_vlan_ids(vlan_id: int, expected: VlanSpec) -> None:
    assert vlan_from_standard(vlan_id) == expected


@pytest.mark.parametrize("bad", [4096, -1, "100", None, True, 1.5])
def test_standard_vlan_id_nonsense_is_invalid(bad: Any) -> None:
    spec = vlan_from_standard(bad)
    assert spec.kind == VlanKind.INVALID and not spec.vlans


PVLANS = {200: 200, 201: 200, 202: 200}


def rng(start: Any, end: Any) -> O:
    return O(start=start, end=end)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (O(vlanId=0), VlanSpec.untagged()),
        (O(vlanId=300), VlanSpec.single(300)),
        (O(vlanId=[rng(400, 410), rng(420, 420)]), VlanSpec.trunk(VlanSet.parse("400-410,420"))),
        (O(vlanId=[rng(0, 4094)]), VlanSpec.trunk(VlanSet.all())),
        (O(vlanId=[rng(0, 0), rng(5, 5)]), VlanSpec.trunk(VlanSet([5]))),
        (O(pvlanId=201), VlanSpec.private(200, 201)),
        (O(pvlanId=200), VlanSpec(VlanKind.PVLAN, VlanSet([200]), "pvlan 200 (primary 200)")),
    ],
)
def test_distributed_vlan_settings(setting: O, expected: VlanSpec) -> None:
    assert vlan_from_distributed(setting, PVLANS) == expected


def test_trunk_ranges_that_make_no_sense_are_ignored_and_said() -> None:
    spec = vlan_from_distributed(O(vlanId=[rng(10, 5), rng(20, 20), rng("a", 3)]), {})
    assert spec.kind == VlanKind.TRUNK and spec.vlans == VlanSet([20])
    assert "ignored 10-5, a-3" in spec.detail


@pytest.mark.parametrize(
    "setting",
    [
        None,
        O(vlanId=5000),
        O(vlanId="300"),
        O(vlanId=[rng(5000, 6000)]),
        O(vlanId=[]),
        O(pvlanId=999),  # not in the switch's PVLAN map
        O(pvlanId=None),
        O(something=1),  # a setting type the adapter does not know
    ],
)
def test_unusable_distributed_vlan_settings_are_invalid(setting: Any) -> None:
    spec = vlan_from_distributed(setting, PVLANS)
    assert spec.kind == VlanKind.INVALID and not spec.vlans and spec.detail


# -- hosts ------------------------------------------------------------------------------


def pnic(device: str, mac: str = "") -> O:
    return O(key=f"key-vim.host.PhysicalNic-{device}", device=device, mac=mac)


def portgroup(name: str, vlan: Any, vswitch: str = "vSwitch0", order: Any = None) -> O:
    return O(
        spec=O(name=name, vlanId=vlan, vswitchName=vswitch, policy=O(nicTeaming=O(nicOrder=order)))
    )


def host_props(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "esx1.lab",
        "runtime.connectionState": "connected",
        "configManager.networkSystem": ref("hostnetworksystem-9"),
        "config.network.pnic": [pnic("vmnic0", "aa"), pnic("vmnic1", "bb"), pnic("vmnic2", "cc")],
        "config.network.vswitch": [
            O(
                name="vSwitch0",
                pnic=["key-vim.host.PhysicalNic-vmnic0", "key-vim.host.PhysicalNic-vmnic1"],
                spec=O(bridge=O(nicDevice=["vmnic0", "vmnic1"])),
            )
        ],
        "config.network.proxySwitch": [
            O(
                dvsUuid="uuid-1",
                dvsName="DSwitch",
                pnic=["key-vim.host.PhysicalNic-vmnic2"],
                spec=O(backing=O(pnicSpec=[O(pnicDevice="vmnic2")])),
            )
        ],
        "config.network.portgroup": [
            portgroup("Management Network", 0),
            portgroup("VM-100", 100),
            portgroup(
                "VM-110", 110, order=O(activeNic=["vmnic1"], standbyNic=["vmnic0", "vmnic7"])
            ),
        ],
        "config.network.vnic": [
            O(device="vmk0", portgroup="Management Network", spec=O(distributedVirtualPort=None)),
            O(
                device="vmk1",
                portgroup="",
                spec=O(distributedVirtualPort=O(portgroupKey="dvportgroup-5", switchUuid="uuid-1")),
            ),
        ],
    }
    props.update(overrides)
    return props


def test_a_full_host() -> None:
    warn = Warnings()
    host = host_from_props("host-1", host_props(), warn)
    assert host.name == "esx1.lab" and host.connected
    assert host.nics == (
        PhysicalNic("vmnic0", "aa"),
        PhysicalNic("vmnic1", "bb"),
        PhysicalNic("vmnic2", "cc"),
    )
    assert host.switches == (
        HostSwitch("vSwitch0", "vSwitch0", False, ("vmnic0", "vmnic1")),
        HostSwitch("uuid-1", "DSwitch", True, ("vmnic2",)),
    )
    assert host.portgroups == (
        HostPortgroup("Management Network", "vSwitch0", VlanSpec.untagged(), None),
        HostPortgroup("VM-100", "vSwitch0", VlanSpec.single(100), None),
        # active + standby; vmnic7 is not a NIC of this host
        HostPortgroup("VM-110", "vSwitch0", VlanSpec.single(110), ("vmnic1", "vmnic0")),
    )
    assert host.vmknics == (
        VmkNic("vmk0", NetworkRef(False, "Management Network")),
        VmkNic("vmk1", NetworkRef(True, "dvportgroup-5", "uuid-1")),
    )
    assert warn == []


def test_uplinks_fall_back_to_the_bridge_and_pnic_spec() -> None:
    props = host_props()
    props["config.network.vswitch"][0].pnic = None
    props["config.network.proxySwitch"][0].pnic = []
    host = host_from_props("host-1", props, Warnings())
    assert host.switches[0].uplinks == ("vmnic0", "vmnic1")
    assert host.switches[1].uplinks == ("vmnic2",)


def test_a_disconnected_host_with_nothing_reported() -> None:
    warn = Warnings()
    host = host_from_props("host-7", {"runtime.connectionState": "notResponding"}, warn)
    assert host.name == "host-7" and not host.connected
    assert host.nics == host.switches == host.portgroups == host.vmknics == ()
    assert warn == []


def test_bad_host_data_is_skipped_element_by_element() -> None:
    warn = Warnings()
    props = host_props(**{"config.network.pnic": [pnic("vmnic0"), O(device=None), 42]})
    props["config.network.portgroup"].append(O(spec=None))
    props["config.network.portgroup"].append(portgroup("Odd", 9999))
    props["config.network.vnic"].append(
        O(device="vmk9", portgroup="", spec=O(distributedVirtualPort=None))
    )
    props["config.network.vswitch"][0].pnic.append("key-vim.host.PhysicalNic-vmnic8")
    host = host_from_props("host-1", props, warn)
    assert [n.device for n in host.nics] == ["vmnic0"]
    assert host.switches[0].uplinks == ("vmnic0",)  # vmnic1 and vmnic8 are unknown now
    assert host.portgroup("Odd").vlan.kind == VlanKind.INVALID  # type: ignore[union-attr]
    assert [v.device for v in host.vmknics] == ["vmk0", "vmk1"]
    joined = "\n".join(warn)
    for fragment in ("without a device name", "without a name", "9999", "vmk9", "vmnic8"):
        assert fragment in joined


def test_a_property_of_the_wrong_type_is_warned_not_raised() -> None:
    warn = Warnings()
    host = host_from_props("host-1", host_props(**{"config.network.portgroup": "VM-100"}), warn)
    assert host.portgroups == ()
    assert any("expected a list" in w for w in warn)


def test_neighbors_are_merged_per_vmnic() -> None:
    host = host_from_props("host-1", host_props(), Warnings())
    heard = {"vmnic1": (Neighbor("cdp", "leaf1", "Ethernet1"),)}
    merged = with_neighbors(host, heard)
    assert merged.nic("vmnic1").neighbors == heard["vmnic1"]  # type: ignore[union-attr]
    assert merged.nic("vmnic0").neighbors == ()  # type: ignore[union-attr]
    assert with_neighbors(host, {}) is host


# -- VMs --------------------------------------------------------------------------------


def card(key: Any, backing: Any, connected: Any = True, label: str = "", mac: str = "m") -> O:
    return O(
        key=key,
        deviceInfo=O(label=label or f"Network adapter {key}"),
        connectable=None if connected is None else O(connected=connected),
        macAddress=mac,
        backing=backing,
    )


def test_a_vm_and_its_vnics() -> None:
    warn = Warnings()
    devices = [
        O(key=100, deviceInfo=O(label="IDE 0")),  # not an Ethernet card
        card(4001, O(port=O(portgroupKey="dvportgroup-5", switchUuid="uuid-1")), False, mac="m2"),
        card(4000, O(deviceName="VM-100", network=ref("network-3")), mac="m1"),
        card(4002, O(opaqueNetworkId="ls-1", opaqueNetworkType="nsx.LogicalSwitch")),
        card(4003, O(weird=True), None),
        card(4004, None),
    ]
    vm = vm_from_props(
        "vm-1",
        {
            "name": "web1",
            "runtime.powerState": "poweredOn",
            "runtime.host": ref("host-1"),
            "config.hardware.device": devices,
        },
        warn,
    )
    assert (vm.moid, vm.name, vm.powered_on, vm.host) == ("vm-1", "web1", True, "host-1")
    assert vm.nics == (
        VNic(4000, "Network adapter 4000", NetworkRef(False, "VM-100"), True, "m1"),
        VNic(
            4001, "Network adapter 4001", NetworkRef(True, "dvportgroup-5", "uuid-1"), False, "m2"
        ),
        VNic(4002, "Network adapter 4002", None, True, "m"),
        VNic(4003, "Network adapter 4003", None, True, "m"),
        VNic(4004, "Network adapter 4004", None, True, "m"),
    )
    assert len(warn) == 3 and "opaque network 'ls-1'" in warn[0]


@pytest.mark.parametrize("state", ["poweredOff", "suspended", None, 1])
def test_anything_but_powered_on_is_off(state: Any) -> None:
    assert not vm_from_props("vm-1", {"runtime.powerState": state}, Warnings()).powered_on


def test_a_vm_with_nothing_reported_yet() -> None:
    vm = vm_from_props("vm-9", {}, Warnings())
    assert (vm.name, vm.host, vm.powered_on, vm.nics) == ("vm-9", None, False, ())


def test_a_vnic_without_a_key_is_skipped() -> None:
    warn = Warnings()
    vm = vm_from_props("vm-1", {"config.hardware.device": [card("x", O(deviceName="A"))]}, warn)
    assert vm.nics == () and "without a device key" in warn[0]


# -- distributed switches and portgroups -------------------------------------------------


def dvs_props() -> dict[str, Any]:
    return {
        "name": "DSwitch",
        "uuid": "uuid-1",
        "config": O(
            uuid="uuid-1",
            pvlanConfig=[
                O(primaryVlanId=200, secondaryVlanId=200),
                O(primaryVlanId=200, secondaryVlanId=201),
                O(primaryVlanId=None, secondaryVlanId=202),
            ],
            uplinkPortgroup=[ref("dvportgroup-2")],
        ),
    }


def test_a_distributed_switch() -> None:
    warn = Warnings()
    dvs = dvs_from_props("dvs-1", dvs_props(), warn)
    assert dvs == Dvs(
        "dvs-1", "uuid-1", "DSwitch", {200: 200, 201: 200}, frozenset({"dvportgroup-2"})
    )
    assert len(warn) == 1  # the entry without a primary


def test_a_distributed_switch_without_uuid_is_skipped() -> None:
    warn = Warnings()
    assert dvs_from_props("dvs-1", {"name": "X", "config": None}, warn) is None
    assert warn


def dvpg_props(vlan: Any, switch: str = "dvs-1", key: str = "dvportgroup-5") -> dict[str, Any]:
    return {
        "name": "DV-pvlan",
        "key": key,
        "config.distributedVirtualSwitch": ref(switch),
        "config.defaultPortConfig": O(vlan=vlan),
    }


def test_distributed_portgroups_resolve_their_switch_and_private_vlan() -> None:
    switches = {"dvs-1": dvs_from_props("dvs-1", dvs_props(), Warnings())}
    assert switches["dvs-1"] is not None
    known: dict[str, Dvs] = {k: v for k, v in switches.items() if v is not None}
    pg = dvpg_from_props("dvportgroup-5", dvpg_props(O(pvlanId=201)), known, Warnings())
    assert pg == DvPortgroup("dvportgroup-5", "DV-pvlan", "uuid-1", VlanSpec.private(200, 201))
    uplink = dvpg_from_props(
        "dvportgroup-2",
        dvpg_props(O(vlanId=[rng(0, 4094)]), key="dvportgroup-2"),
        known,
        Warnings(),
    )
    assert uplink is not None and uplink.uplink_portgroup
    warn = Warnings()
    assert (
        dvpg_from_props("dvportgroup-6", dvpg_props(O(vlanId=1), switch="dvs-9"), known, warn)
        is None
    )
    assert "not known" in warn[0]


# -- neighbours -------------------------------------------------------------------------


def test_network_hints_give_cdp_and_lldp_neighbours() -> None:
    hints = [
        O(
            device="vmnic0",
            connectedSwitchPort=O(devId="leaf1", portId="Ethernet1", address="10.0.0.1"),
            lldpInfo=None,
        ),
        O(
            device="vmnic1",
            connectedSwitchPort=None,
            lldpInfo=O(
                chassisId="00:1c:73:00:00:01",
                portId="Ethernet2",
                parameter=[
                    O(key="System Name", value="leaf2"),
                    O(key="Management Address", value="10.0.0.2"),
                ],
            ),
        ),
        O(
            device="vmnic2",
            connectedSwitchPort=O(devId=None, portId="x", address=None),
            lldpInfo=O(chassisId="cc", portId="p3", parameter=None),
        ),
        O(device="vmnic3", connectedSwitchPort=None, lldpInfo=None),
        O(device=None),
    ]
    assert neighbors_from_hints(hints, Warnings()) == {
        "vmnic0": (Neighbor("cdp", "leaf1", "Ethernet1", "10.0.0.1"),),
        "vmnic1": (Neighbor("lldp", "leaf2", "Ethernet2", "10.0.0.2"),),
        "vmnic2": (Neighbor("lldp", "cc", "p3", ""),),
        "vmnic3": (),
    }


def test_network_hints_of_the_wrong_shape() -> None:
    warn = Warnings()
    assert neighbors_from_hints("garbage", warn) == {}
    assert warn
    assert neighbors_from_hints(None, Warnings()) == {}


# -- compact copies (slim.py) translate exactly like the values they copy ---------------


def _host_variants() -> list[dict[str, Any]]:
    fallback = host_props()
    fallback["config.network.vswitch"][0].pnic = None
    fallback["config.network.proxySwitch"][0].pnic = []
    bad = host_props(**{"config.network.pnic": [pnic("vmnic0"), O(device=None), 42]})
    bad["config.network.portgroup"] += [O(spec=None), portgroup("Odd", 9999), O()]
    bad["config.network.vnic"].append(O(device="vmk9", portgroup="", spec=O()))
    bad["config.network.vswitch"][0].pnic.append("key-vim.host.PhysicalNic-vmnic8")
    bad["config.network.proxySwitch"].append(O(dvsUuid="u2", spec=O(backing=O(pnicSpec=7))))
    return [
        host_props(),
        fallback,
        bad,
        host_props(**{"config.network.portgroup": "VM-100", "config.network.pnic": 3}),
        {"runtime.connectionState": "notResponding"},
    ]


@pytest.mark.parametrize("props", _host_variants())
def test_a_slim_copy_translates_like_the_original(props: dict[str, Any]) -> None:
    slimmed = {
        path: slim(value, HOST_SHAPES[path]) if path in HOST_SHAPES else value
        for path, value in props.items()
    }

    def holds_object(value: Any) -> bool:  # a fake standing in for a pyvmomi object
        if isinstance(value, tuple):
            return any(holds_object(v) for v in value)
        return isinstance(value, O)

    assert not any(holds_object(slimmed.get(path)) for path in HOST_SHAPES)
    warn_a, warn_b = Warnings(), Warnings()
    assert host_from_props("host-1", props, warn_a) == host_from_props("host-1", slimmed, warn_b)
    assert warn_a == warn_b
