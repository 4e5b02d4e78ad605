"""The inventory store: property-collector updates in, model out (fakes for pyvmomi)."""

from __future__ import annotations

from types import SimpleNamespace as O
from typing import Any

from eos_vmtracer.model import VlanSpec
from eos_vmtracer.vcenter.inventory import InventoryStore
from eos_vmtracer.vcenter.translate import Nics


def ref(moid: str) -> O:
    return O(_moId=moid)


def store() -> tuple[InventoryStore, list[str]]:
    warnings: list[str] = []
    return InventoryStore(warnings.append), warnings


def assign(**values: Any) -> list[tuple[str, str, Any]]:
    return [(k.replace("__", "."), "assign", v) for k, v in values.items()]


PNICS = [O(key="k0", device="vmnic0", mac="aa")]
PGS = [O(spec=O(name="VM-100", vlanId=100, vswitchName="vSwitch0", policy=None))]


def enter_host(s: InventoryStore, state: str = "connected") -> None:
    s.apply(
        "host",
        "host-1",
        "enter",
        [
            ("name", "assign", "esx1"),
            ("runtime.connectionState", "assign", state),
            ("configManager.networkSystem", "assign", ref("hns-1")),
            ("config.network.pnic", "assign", PNICS),
            ("config.network.portgroup", "assign", PGS),
        ],
    )


def test_enter_modify_leave() -> None:
    s, warnings = store()
    enter_host(s)
    s.apply(
        "vm",
        "vm-1",
        "enter",
        [("name", "assign", "web1"), ("runtime.host", "assign", ref("host-1"))],
    )
    assert s.refresh()
    assert set(s.hosts()) == {"host-1"} and s.network_system("host-1") == "hns-1"
    assert s.vms()["vm-1"].host == "host-1" and s.vm_hosts() == {"vm-1": "host-1"}
    assert not s.refresh()  # nothing new
    s.apply("vm", "vm-1", "modify", [("runtime.powerState", "assign", "poweredOn")])
    assert s.refresh() and s.vms()["vm-1"].powered_on
    s.apply("vm", "vm-1", "modify", [("runtime.host", "remove", None)])
    assert s.refresh() and s.vms()["vm-1"].host is None
    s.apply("vm", "vm-1", "leave", [])
    assert s.refresh() and s.vms() == {} and s.vm_hosts() == {}
    assert warnings == []


def test_a_disconnected_host_keeps_its_network_when_vcenter_stops_reporting_it() -> None:
    s, _ = store()
    enter_host(s)
    s.refresh()
    before = s.hosts()["host-1"]
    s.apply(
        "host",
        "host-1",
        "modify",
        [
            ("runtime.connectionState", "assign", "disconnected"),
            ("config.network.pnic", "assign", None),
        ],
        missing=["config.network.portgroup"],
    )
    s.refresh()
    after = s.hosts()["host-1"]
    assert not after.connected
    assert after.nics == before.nics and after.portgroups == before.portgroups
    # Connected again, a real change of its network is taken.
    s.apply("host", "host-1", "modify", assign(runtime__connectionState="connected"))
    s.apply("host", "host-1", "modify", [("config.network.pnic", "assign", None)])
    s.refresh()
    assert s.hosts()["host-1"].nics == ()


def test_an_object_that_cannot_be_translated_keeps_its_last_picture() -> None:
    s, warnings = store()
    enter_host(s)
    s.refresh()
    good = s.hosts()["host-1"]

    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("boom")

    s.apply("host", "host-1", "modify", [("config.network.pnic", "assign", [Exploding()])])
    assert not s.refresh()
    assert s.hosts()["host-1"] is good
    assert any("boom" in w for w in warnings)


def test_a_switch_change_re_translates_its_portgroups() -> None:
    s, _ = store()
    config = O(
        uuid="u1", pvlanConfig=[O(primaryVlanId=200, secondaryVlanId=201)], uplinkPortgroup=[]
    )
    s.apply(
        "dvs",
        "dvs-1",
        "enter",
        [("name", "assign", "DSwitch"), ("uuid", "assign", "u1"), ("config", "assign", config)],
    )
    s.apply(
        "dvpg",
        "dvportgroup-5",
        "enter",
        [
            ("name", "assign", "DV-pvlan"),
            ("key", "assign", "dvportgroup-5"),
            ("config.distributedVirtualSwitch", "assign", ref("dvs-1")),
            ("config.defaultPortConfig", "assign", O(vlan=O(pvlanId=202))),
        ],
    )
    s.refresh()
    assert s.dv_portgroups()["dvportgroup-5"].vlan.kind.value == "invalid"  # 202 unmapped
    config2 = O(
        uuid="u1", pvlanConfig=[O(primaryVlanId=200, secondaryVlanId=202)], uplinkPortgroup=[]
    )
    s.apply("dvs", "dvs-1", "modify", [("config", "assign", config2)])
    assert s.refresh()
    assert s.dv_portgroups()["dvportgroup-5"].vlan == VlanSpec.private(200, 202)
    s.apply("dvpg", "dvportgroup-5", "leave", [])
    assert s.refresh() and s.dv_portgroups() == {}


def test_a_portgroup_seen_before_its_switch_appears_once_the_switch_does() -> None:
    s, warnings = store()
    s.apply(
        "dvpg",
        "dvportgroup-5",
        "enter",
        [
            ("config.distributedVirtualSwitch", "assign", ref("dvs-1")),
            ("config.defaultPortConfig", "assign", O(vlan=O(vlanId=5))),
        ],
    )
    s.refresh()
    assert s.dv_portgroups() == {} and warnings
    s.apply(
        "dvs",
        "dvs-1",
        "enter",
        [("uuid", "assign", "u1"), ("config", "assign", O(uplinkPortgroup=None))],
    )
    s.refresh()
    assert s.dv_portgroups()["dvportgroup-5"].vlan == VlanSpec.single(5)


def test_a_change_to_part_of_a_property_asks_for_a_re_read() -> None:
    s, _ = store()
    enter_host(s)
    s.apply("host", "host-1", "modify", [('config.network.pnic["k0"]', "assign", O())])
    s.apply("host", "host-1", "modify", [("summary.quickStats", "assign", 1)])  # not watched
    assert s.take_refetch() == {("host", "host-1")}
    assert s.take_refetch() == set()
    s.replace("host", "host-1", {"name": "esx1b", "runtime.connectionState": "connected"})
    s.refresh()
    assert s.hosts()["host-1"].name == "esx1b" and s.hosts()["host-1"].nics == ()


def test_a_vm_keeps_only_its_vnics_of_its_devices() -> None:
    s, warnings = store()
    nic = O(
        key=4000,
        macAddress="00:50:56:00:00:01",
        deviceInfo=O(label="Network adapter 1"),
        connectable=O(connected=True),
        backing=O(deviceName="VM-100"),
    )
    devices = [O(key=200, deviceInfo=O(label="IDE 0")), nic, O(key=500, controllerKey=100)]
    s.apply("vm", "vm-1", "enter", assign(name="web1", config__hardware__device=devices))
    assert s.refresh()
    kept = s._props["vm"]["vm-1"]["config.hardware.device"]
    assert isinstance(kept, Nics) and tuple(kept) == s.vms()["vm-1"].nics  # no device objects
    assert [n.key for n in s.vms()["vm-1"].nics] == [4000] and warnings == []
    before = s.vms()["vm-1"]
    s.apply("vm", "vm-1", "modify", [("runtime.powerState", "assign", "poweredOn")])
    assert s.refresh()
    assert s.vms()["vm-1"].nics == before.nics and s.vms()["vm-1"].powered_on
    s.apply("vm", "vm-2", "enter", assign(name="bad", config__hardware__device="junk"))
    s.refresh()
    assert warnings  # a value that is not a list is still reported


def _pgs() -> list[O]:  # a fresh copy each time, as every update brings new objects
    return [
        O(spec=O(name=f"VM-{v}", vlanId=v, vswitchName="vSwitch0", policy=None)) for v in (100, 101)
    ]


def test_hosts_configured_alike_hold_one_copy_of_their_network() -> None:
    s, warnings = store()
    for i in (1, 2):
        s.apply(
            "host",
            f"host-{i}",
            "enter",
            assign(name=f"esx{i}", config__network__portgroup=_pgs()),
        )
    s.refresh()
    raw1, raw2 = (s._props["host"][f"host-{i}"]["config.network.portgroup"] for i in (1, 2))
    assert raw1 is raw2 and not any(isinstance(x, O) for x in raw1)
    h1, h2 = s.hosts()["host-1"], s.hosts()["host-2"]
    assert h1.portgroups is h2.portgroups and len(h1.portgroups) == 2 and warnings == []


def test_vms_share_their_networks_and_labels() -> None:
    s, _ = store()
    for i in (1, 2):
        nic = O(
            key=4000,
            macAddress=f"00:50:56:00:00:0{i}",
            deviceInfo=O(label="".join(["Network ", "adapter 1"])),  # equal, not identical
            connectable=O(connected=True),
            backing=O(deviceName="VM-100"),
        )
        s.apply("vm", f"vm-{i}", "enter", assign(name=f"web{i}", config__hardware__device=[nic]))
    s.refresh()
    n1, n2 = s.vms()["vm-1"].nics[0], s.vms()["vm-2"].nics[0]
    assert n1.network is n2.network and n1.label is n2.label and n1.mac != n2.mac


def test_the_pool_forgets_values_nobody_holds() -> None:
    s, _ = store()
    for vlan in range(2, 2500):  # one host, reconfigured again and again
        pg = [O(spec=O(name="VM", vlanId=vlan, vswitchName="vSwitch0", policy=None))]
        s.apply("host", "host-1", "modify", assign(config__network__portgroup=pg))
        s.refresh()
    assert s.hosts()["host-1"].portgroups[0].vlan == VlanSpec.single(2499)
    assert len(s._pool) < 1100  # rebuilt from the live values, not 2,498 of each kind
