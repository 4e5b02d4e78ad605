"""Changes made in the lab vCenter reach a VcenterSession's snapshot within a second:
power, vNIC moves, VLAN edits, migrations (start seen before the end), hosts going
away and coming back, neighbours, VMs created and destroyed."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Optional

import pytest

from eos_vmtracer.model import SessionInventory, VlanKind, VlanSpec, Vm
from eos_vmtracer.vcenter import VcenterSession
from eos_vmtracer.vlans import VlanSet
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, expected_inventory, session_config, wait_for

pytestmark = pytest.mark.integration

WITHIN = 1.0  # seconds: an event must reach the snapshot within this


class Clock:
    """Wall-clock time that a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="session")
def vcsim_binary() -> Any:
    return ensure_built()


@pytest.fixture
def lab(vcsim_binary: Any) -> Iterator[VcsimLab]:
    with VcsimLab(scenarios.basic()) as lab:
        yield lab


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def session(lab: VcsimLab, clock: Clock) -> Iterator[VcenterSession]:
    s = VcenterSession(session_config(lab), lambda: None, clock=clock, timing=FAST)
    s.start()
    expected = expected_inventory(lab.scenario, lab.control.state())
    wait_for(lambda: s.snapshot().hosts == expected.hosts, 5, "synced with neighbours")
    yield s
    s.stop()


def ids(lab: VcsimLab) -> dict[str, Any]:
    return lab.control.state()


def vm(snap: SessionInventory, name: str) -> Optional[Vm]:
    return next((v for v in snap.vms.values() if v.name == name), None)


def reaches(session: VcenterSession, pred: Callable[[SessionInventory], Any], what: str) -> float:
    return wait_for(lambda: pred(session.snapshot()), WITHIN, what)


def test_power_off_and_on(lab: VcsimLab, session: VcenterSession) -> None:
    assert vm(session.snapshot(), "web1").powered_on  # type: ignore[union-attr]
    lab.control.power("web1", on=False)
    reaches(session, lambda s: not vm(s, "web1").powered_on, "web1 powered off")
    lab.control.power("web1", on=True)
    reaches(session, lambda s: vm(s, "web1").powered_on, "web1 powered on")
    assert session.snapshot().synced


def test_vnic_moved_to_another_portgroup_and_disconnected(
    lab: VcsimLab, session: VcenterSession
) -> None:
    state = ids(lab)
    trunk_key = state["dvportgroups"]["DV-trunk"]["key"]
    lab.control.move_nic("web1", 0, dvportgroup="DV-trunk")

    def moved(s: SessionInventory) -> bool:
        nic = vm(s, "web1").nics[0]  # type: ignore[union-attr]
        return nic.network is not None and nic.network.key == trunk_key and nic.network.distributed

    reaches(session, moved, "web1's first vNIC on DV-trunk")
    nic = vm(session.snapshot(), "web1").nics[0]  # type: ignore[union-attr]
    assert nic.key == state["vms"]["web1"]["nics"][0]["key"]  # same device, new backing
    assert nic.network.switch == state["dvswitches"]["DSwitch"]["uuid"]  # type: ignore[union-attr]
    lab.control.move_nic("web1", 0, portgroup="VM-110", connected=False)
    reaches(
        session,
        lambda s: (
            vm(s, "web1").nics[0].network.key == "VM-110"  # type: ignore[union-attr]
            and not vm(s, "web1").nics[0].connected
        ),  # type: ignore[union-attr]
        "web1's first vNIC on VM-110, disconnected",
    )


def test_standard_portgroup_vlan_edited(lab: VcsimLab, session: VcenterSession) -> None:
    lab.control.set_portgroup_vlan("VM-100", 150, hosts=["esx2.lab"])

    def vlan_on(s: SessionInventory, host: str) -> VlanSpec:
        h = next(h for h in s.hosts.values() if h.name == host)
        return h.portgroup("VM-100").vlan  # type: ignore[union-attr]

    reaches(session, lambda s: vlan_on(s, "esx2.lab") == VlanSpec.single(150), "VLAN 150 on esx2")
    assert vlan_on(session.snapshot(), "esx1.lab") == VlanSpec.single(100)  # per host
    lab.control.set_portgroup_vlan("VM-100", 4095)
    reaches(
        session,
        lambda s: all(
            vlan_on(s, h) == VlanSpec.trunk(VlanSet.all()) for h in ("esx1.lab", "esx2.lab")
        ),
        "VLAN 4095 (trunk) everywhere",
    )
    lab.control.set_portgroup_vlan("VM-100", 5000)  # nonsense from vCenter: logged, not a crash
    reaches(session, lambda s: vlan_on(s, "esx1.lab").kind == VlanKind.INVALID, "invalid VLAN")
    assert session.snapshot().synced


def test_distributed_portgroup_vlan_edited(lab: VcsimLab, session: VcenterSession) -> None:
    key = ids(lab)["dvportgroups"]["DV-300"]["key"]

    def vlan(s: SessionInventory) -> VlanSpec:
        return s.dv_portgroups[key].vlan

    lab.control.set_dvportgroup_vlan("DV-300", vlan=310)
    reaches(session, lambda s: vlan(s) == VlanSpec.single(310), "DV-300 on VLAN 310")
    lab.control.set_dvportgroup_vlan("DV-300", trunk=[(0, 0), (500, 502)])
    reaches(session, lambda s: vlan(s) == VlanSpec.trunk(VlanSet([500, 501, 502])), "a trunk")
    lab.control.set_dvportgroup_vlan("DV-300", pvlan=202)
    reaches(session, lambda s: vlan(s) == VlanSpec.private(200, 202), "private VLAN 202 (200)")
    lab.control.set_dvportgroup_vlan("DV-300", pvlan=999)  # not in the switch's PVLAN map
    reaches(session, lambda s: vlan(s).kind == VlanKind.INVALID, "an unusable private VLAN")
    lab.control.set_dvportgroup_vlan("DV-300", vlan=0)
    reaches(session, lambda s: vlan(s) == VlanSpec.untagged(), "untagged")
    assert session.snapshot().synced


def test_migration_start_is_seen_before_the_relocation_completes(
    lab: VcsimLab, session: VcenterSession
) -> None:
    state = ids(lab)
    web1, esx1, esx2 = (
        state["vms"]["web1"]["moid"],
        state["hosts"]["esx1.lab"]["moid"],
        state["hosts"]["esx2.lab"]["moid"],
    )
    lab.control.relocate("web1", "esx2.lab", duration=2.0)
    began = time.monotonic()
    reaches(session, lambda s: web1 in s.migrations, "the migration start")
    snap = session.snapshot()
    assert snap.migrations[web1].dest_host == esx2
    assert snap.vms[web1].host == esx1  # still on the source: the start came first
    assert time.monotonic() - began < 2.0
    wait_for(lambda: session.snapshot().vms[web1].host == esx2, 2.0 + WITHIN, "web1 on esx2")
    reaches(session, lambda s: web1 not in s.migrations, "the migration over")
    assert lab.control.state()["vms"]["web1"]["host"] == "esx2.lab"


def test_failed_migration_ends_it_and_the_vm_stays(lab: VcsimLab, session: VcenterSession) -> None:
    state = ids(lab)
    web2, esx2 = state["vms"]["web2"]["moid"], state["hosts"]["esx2.lab"]["moid"]
    lab.control.relocate("web2", "esx3.lab", duration=0.5, fail=True)
    reaches(session, lambda s: web2 in s.migrations, "the migration start")
    wait_for(lambda: web2 not in session.snapshot().migrations, 0.5 + WITHIN, "failure seen")
    assert session.snapshot().vms[web2].host == esx2


def test_migration_forgotten_after_migration_timeout(
    lab: VcsimLab, session: VcenterSession, clock: Clock
) -> None:
    web2 = ids(lab)["vms"]["web2"]["moid"]
    lab.control.relocate("web2", "esx3.lab", duration=60.0)
    reaches(session, lambda s: web2 in s.migrations, "the migration start")
    clock.offset = session.cfg.migration_timeout + 1
    reaches(session, lambda s: web2 not in s.migrations, "the migration timed out")


def test_host_disconnected_keeps_its_neighbours_and_reconnect_asks_hints_at_once(
    lab: VcsimLab, session: VcenterSession
) -> None:
    esx2 = ids(lab)["hosts"]["esx2.lab"]["moid"]
    before = session.snapshot().hosts[esx2]
    assert before.connected and before.nics[0].neighbors
    lab.control.set_host_connected("esx2.lab", False)
    reaches(session, lambda s: not s.hosts[esx2].connected, "esx2 disconnected")
    after = session.snapshot().hosts[esx2]
    assert after.nics == before.nics  # neighbours and uplinks kept
    assert after.portgroups == before.portgroups

    cdp = {"device_id": "leaf9.lab", "port_id": "Ethernet9"}
    lab.control.set_neighbors("esx2.lab", "vmnic0", cdp=cdp)
    lab.control.set_host_connected("esx2.lab", True)
    reaches(
        session,
        lambda s: (
            s.hosts[esx2].connected and s.hosts[esx2].nics[0].neighbors[0].device_id == "leaf9.lab"
        ),
        "esx2 back, with what it hears now (hint_interval is 60 s: asked at once)",
    )

    lab.control.set_host_connected("esx2.lab", False)
    reaches(session, lambda s: not s.hosts[esx2].connected, "esx2 disconnected again")
    lab.control.reset_counters()
    session.request_hint_refresh(esx2)
    time.sleep(0.5)
    assert "QueryNetworkHint" not in lab.control.counters()  # nobody asks a disconnected host
    assert session.snapshot().hosts[esx2].nics[0].neighbors[0].device_id == "leaf9.lab"


def test_new_neighbours_after_request_hint_refresh(lab: VcsimLab, session: VcenterSession) -> None:
    esx3 = ids(lab)["hosts"]["esx3.lab"]["moid"]
    lldp = {"chassis_id": "00:1c:73:aa:bb:cc", "port_id": "Ethernet7", "address": "10.0.0.9"}
    lab.control.set_neighbors("esx3.lab", "vmnic0", lldp=lldp)
    time.sleep(0.3)
    assert session.snapshot().hosts[esx3].nics[0].neighbors[0].protocol == "cdp"  # not asked yet
    session.request_hint_refresh(esx3)
    reaches(
        session,
        lambda s: (
            [
                (n.protocol, n.device_id, n.port_id, n.address)
                for n in s.hosts[esx3].nics[0].neighbors
            ]
            == [("lldp", "00:1c:73:aa:bb:cc", "Ethernet7", "10.0.0.9")]
        ),
        "the new LLDP neighbour (chassis id when no system name)",
    )
    lab.control.set_neighbors("esx3.lab", "vmnic0")
    session.request_hint_refresh()
    reaches(session, lambda s: s.hosts[esx3].nics[0].neighbors == (), "no neighbour")


def test_vm_created_and_destroyed(lab: VcsimLab, session: VcenterSession) -> None:
    nics = [{"portgroup": "VM-100"}, {"dvportgroup": "DV-301"}]
    moid = lab.control.add_vm("app9", "esx3.lab", nics)
    reaches(session, lambda s: moid in s.vms and len(s.vms[moid].nics) == 2, "app9 appears")
    app9 = session.snapshot().vms[moid]
    assert app9.name == "app9" and app9.powered_on
    assert app9.host == ids(lab)["hosts"]["esx3.lab"]["moid"]
    assert [n.network.key for n in app9.nics] == [  # type: ignore[union-attr]
        "VM-100",
        ids(lab)["dvportgroups"]["DV-301"]["key"],
    ]
    lab.control.remove_vm("app9")
    reaches(session, lambda s: moid not in s.vms, "app9 gone")
