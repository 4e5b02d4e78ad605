"""The lean SOAP parser: a response read for a pruning stub loses only what the
translator never reads, and one read for any other stub loses nothing."""

from __future__ import annotations

import gc
import io
import threading
import weakref
from typing import Any

from eos_vmtracer.vcenter.pyvmomi import SoapAdapter, SoapStubAdapter, vim, vmodl
from eos_vmtracer.vcenter.soap import INSTALLED, PARSING, SKIPPED_FIELDS, prune_devices
from eos_vmtracer.vcenter.translate import host_from_props, vm_from_props

XSI = 'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"'


def _val(xsi_type: str, body: str, extra: str = "") -> str:
    return f'<val {XSI} XMLSchema-instance:type="{xsi_type}"{extra}>{body}</val>'


def _change(name: str, val: str) -> str:
    return f"<changeSet><name>{name}</name><op>assign</op>{val}</changeSet>"


DEVICES = (
    '<VirtualDevice XMLSchema-instance:type="VirtualIDEController"><key>200</key>'
    "<deviceInfo><label>IDE 0</label><summary>IDE 0</summary></deviceInfo>"
    "<busNumber>0</busNumber><device>3000</device></VirtualDevice>"
    '<VirtualDevice XMLSchema-instance:type="VirtualMachineVideoCard"><key>500</key>'
    "<deviceInfo><label>Video card </label><summary>Video card</summary></deviceInfo>"
    "<videoRamSizeInKB>4096</videoRamSizeInKB></VirtualDevice>"
    '<VirtualDevice XMLSchema-instance:type="VirtualVmxnet3"><key>4000</key>'
    "<deviceInfo><label>Network adapter 1</label><summary>lab</summary></deviceInfo>"
    '<backing XMLSchema-instance:type="VirtualEthernetCardNetworkBackingInfo">'
    '<deviceName>PG-108</deviceName><network type="Network">network-71</network></backing>'
    "<connectable><startConnected>true</startConnected><allowGuestControl>true"
    "</allowGuestControl><connected>true</connected></connectable>"
    "<macAddress>00:50:56:a0:13:89</macAddress></VirtualDevice>"
    '<VirtualDevice XMLSchema-instance:type="VirtualE1000e"><key>4001</key>'
    "<deviceInfo><label>Network adapter 2</label><summary>dv</summary></deviceInfo>"
    '<backing XMLSchema-instance:type="VirtualEthernetCardDistributedVirtualPortBackingInfo">'
    "<port><switchUuid>uuid-1</switchUuid><portgroupKey>dvportgroup-5</portgroupKey></port>"
    "</backing><connectable><startConnected>true</startConnected><allowGuestControl>true"
    "</allowGuestControl><connected>false</connected></connectable>"
    "<macAddress>00:50:56:a0:13:8a</macAddress></VirtualDevice>"
)

PORTGROUPS = (
    "<HostPortGroup><key>key-vim.host.PortGroup-PG-100</key>"
    "<port><key>p1</key><mac>00:50:56:00:00:01</mac><type>virtualMachine</type></port>"
    "<vswitch>key-vim.host.VirtualSwitch-vSwitch0</vswitch>"
    "<computedPolicy><nicTeaming><policy>loadbalance_srcid</policy><nicOrder>"
    "<activeNic>vmnic0</activeNic></nicOrder></nicTeaming></computedPolicy>"
    "<spec><name>PG-100</name><vlanId>100</vlanId><vswitchName>vSwitch0</vswitchName>"
    "<policy><security><allowPromiscuous>false</allowPromiscuous></security>"
    "<nicTeaming><nicOrder><activeNic>vmnic1</activeNic><standbyNic>vmnic0</standbyNic>"
    "</nicOrder></nicTeaming></policy></spec></HostPortGroup>"
)

PNICS = (
    "<PhysicalNic><key>key-vim.host.PhysicalNic-vmnic0</key><device>vmnic0</device>"
    "<linkSpeed><speedMb>10000</speedMb><duplex>true</duplex></linkSpeed><spec></spec>"
    "<mac>00:50:56:10:00:00</mac></PhysicalNic>"
    "<PhysicalNic><key>key-vim.host.PhysicalNic-vmnic1</key><device>vmnic1</device>"
    "<mac>00:50:56:10:00:01</mac></PhysicalNic>"
)

BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
    '<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><version>1</version><filterSet>'
    '<filter type="PropertyFilter">f1</filter>'
    '<objectSet><kind>enter</kind><obj type="VirtualMachine">vm-1</obj>'
    + _change("name", _val("xsd:string", "web1"))
    + _change("runtime.host", _val("ManagedObjectReference", "host-1", ' type="HostSystem"'))
    + _change("runtime.powerState", _val("VirtualMachinePowerState", "poweredOn"))
    + _change("config.hardware.device", _val("ArrayOfVirtualDevice", DEVICES))
    + '</objectSet><objectSet><kind>enter</kind><obj type="HostSystem">host-1</obj>'
    + _change("name", _val("xsd:string", "esx1"))
    + _change("runtime.connectionState", _val("HostSystemConnectionState", "connected"))
    + _change("config.network.pnic", _val("ArrayOfPhysicalNic", PNICS))
    + _change("config.network.portgroup", _val("ArrayOfHostPortGroup", PORTGROUPS))
    + "</objectSet></filterSet></returnval></WaitForUpdatesExResponse>"
    "</soapenv:Body></soapenv:Envelope>"
).encode()


def _stub(pruning: bool) -> Any:
    stub = SoapStubAdapter(host="localhost", version="vim.version.version9")
    if pruning:
        assert prune_devices(stub)
    return stub


def _read(pruning: bool) -> dict[str, dict[str, Any]]:
    update = SoapAdapter.SoapResponseDeserializer(_stub(pruning)).Deserialize(
        BODY, vmodl.query.PropertyCollector.UpdateSet
    )
    return {
        o.obj._moId: {c.name: c.val for c in o.changeSet}
        for f in update.filterSet
        for o in f.objectSet
    }


def test_the_hook_is_installed_for_this_pyvmomi() -> None:
    assert INSTALLED
    # the name pyvmomi's InvokeMethod looks up is ours
    assert SoapAdapter.SoapResponseDeserializer.__module__ == "eos_vmtracer.vcenter.soap"


def test_a_pruning_stub_reads_only_the_virtual_ethernet_cards() -> None:
    plain, pruned = _read(False), _read(True)
    assert [d.key for d in plain["vm-1"]["config.hardware.device"]] == [200, 500, 4000, 4001]
    kept = pruned["vm-1"]["config.hardware.device"]
    assert [d.key for d in kept] == [4000, 4001]
    assert all(isinstance(d, vim.vm.device.VirtualEthernetCard) for d in kept)
    assert kept[1].backing.port.portgroupKey == "dvportgroup-5"
    assert kept[1].connectable.connected is False


def test_a_pruning_stub_skips_the_host_fields_nobody_reads() -> None:
    plain, pruned = _read(False), _read(True)
    pg_plain = plain["host-1"]["config.network.portgroup"][0]
    pg = pruned["host-1"]["config.network.portgroup"][0]
    assert pg_plain.computedPolicy is not None and pg_plain.port
    assert pg.computedPolicy is None and not pg.port
    assert pg.spec.policy.security is None and pg_plain.spec.policy.security is not None
    assert list(pg.spec.policy.nicTeaming.nicOrder.activeNic) == ["vmnic1"]
    nic = pruned["host-1"]["config.network.pnic"][0]
    assert nic.spec is None and nic.device == "vmnic0" and nic.mac == "00:50:56:10:00:00"
    assert nic.linkSpeed.speedMb == 10000  # kept: whether the NIC has link


def test_both_readings_translate_to_the_same_model() -> None:
    plain, pruned = _read(False), _read(True)
    warnings: list[str] = []
    assert vm_from_props("vm-1", plain["vm-1"], warnings.append) == vm_from_props(
        "vm-1", pruned["vm-1"], warnings.append
    )
    assert host_from_props("host-1", plain["host-1"], warnings.append) == host_from_props(
        "host-1", pruned["host-1"], warnings.append
    )
    assert warnings == []


def test_every_skipped_field_exists() -> None:
    for cls, names in SKIPPED_FIELDS.items():
        known = {p.name for p in cls._GetPropertyList()}
        assert names <= known, (cls, names - known)


class _Network(io.BytesIO):
    """A response body as pyvmomi gets it (a file object); says when it was read."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.was_read = threading.Event()

    def read(self, size: Any = -1) -> bytes:
        self.was_read.set()
        return super().read(size)


def test_a_body_from_the_network_reads_as_the_same_bytes() -> None:
    update = SoapAdapter.SoapResponseDeserializer(_stub(True)).Deserialize(
        _Network(BODY), vmodl.query.PropertyCollector.UpdateSet
    )
    objs = {o.obj._moId for f in update.filterSet for o in f.objectSet}
    assert objs == {"vm-1", "host-1"}


def test_responses_are_parsed_one_at_a_time_but_read_off_the_network_meanwhile() -> None:
    done = threading.Event()
    body = _Network(BODY)

    def parse() -> None:
        SoapAdapter.SoapResponseDeserializer(_stub(True)).Deserialize(
            body, vmodl.query.PropertyCollector.UpdateSet
        )
        done.set()

    with PARSING:  # another session's response is being parsed
        t = threading.Thread(target=parse, daemon=True)
        t.start()
        assert body.was_read.wait(5), "the body is read while another response is parsed"
        assert not done.wait(0.3), "but not parsed until that one is done"
    t.join(5)
    assert done.is_set()


def test_other_stubs_are_not_held_by_the_lock() -> None:
    with PARSING:
        update = SoapAdapter.SoapResponseDeserializer(_stub(False)).Deserialize(
            _Network(BODY), vmodl.query.PropertyCollector.UpdateSet
        )
    assert update.filterSet


def _freed_without_the_cyclic_gc(pruning: bool) -> bool:
    gc.collect()
    gc.disable()
    try:
        update = SoapAdapter.SoapResponseDeserializer(_stub(pruning)).Deserialize(
            _Network(BODY), vmodl.query.PropertyCollector.UpdateSet
        )
        gone = weakref.ref(update)
        del update
        return gone() is None
    finally:
        gc.enable()


def test_an_answer_is_freed_as_soon_as_it_is_dropped() -> None:
    # pyvmomi's own deserializer keeps its parser, whose handlers point back at it:
    # the answer lives on until the cyclic GC runs. Ours breaks that cycle.
    assert not _freed_without_the_cyclic_gc(pruning=False)
    assert _freed_without_the_cyclic_gc(pruning=True)
