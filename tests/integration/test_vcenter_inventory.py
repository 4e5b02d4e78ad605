"""A VcenterSession against the lab vCenter (govmomi's simulator over https): the
initial inventory, the neighbours, the cost at steady state, a clean stop."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import pytest

from eos_vmtracer.model import SessionState
from eos_vmtracer.vcenter import SessionTiming, VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, expected_inventory, session_config, wait_for

pytestmark = pytest.mark.integration

Factory = Callable[..., VcenterSession]


@pytest.fixture(scope="session")
def vcsim_binary() -> Any:
    return ensure_built()


@pytest.fixture
def lab(vcsim_binary: Any) -> Iterator[VcsimLab]:
    with VcsimLab(scenarios.basic()) as lab:
        yield lab


def _factory(lab: VcsimLab) -> tuple[Factory, list[VcenterSession]]:
    made: list[VcenterSession] = []

    def make(
        timing: SessionTiming = FAST, on_change: Any = None, **overrides: Any
    ) -> VcenterSession:
        s = VcenterSession(
            session_config(lab, **overrides), on_change or (lambda: None), timing=timing
        )
        made.append(s)
        s.start()
        return s

    return make, made


@pytest.fixture
def session(lab: VcsimLab) -> Iterator[Factory]:
    make, made = _factory(lab)
    yield make
    for s in made:
        s.stop()


def test_initial_inventory_matches_the_scenario_exactly(lab: VcsimLab, session: Factory) -> None:
    changes = threading.Event()
    s = session(on_change=changes.set)
    expected = expected_inventory(lab.scenario, lab.control.state())
    wait_for(lambda: s.snapshot().synced, 5, "a first full sync")
    wait_for(lambda: s.snapshot().hosts == expected.hosts, 2, "hosts with their neighbours")
    snap = s.snapshot()
    assert changes.is_set()
    assert snap.state == SessionState.CONNECTED and snap.error == ""
    assert snap.name == "vc1"
    assert dict(snap.vms) == dict(expected.vms)
    assert dict(snap.dv_portgroups) == dict(expected.dv_portgroups)
    assert dict(snap.migrations) == {}
    # A few facts spelled out, so a wrong oracle cannot hide a wrong adapter.
    web1 = next(v for v in snap.vms.values() if v.name == "web1")
    assert web1.powered_on and [n.network.key if n.network else None for n in web1.nics] == [
        "VM-100",
        lab.control.state()["dvportgroups"]["DV-300"]["key"],
    ]
    nsx1 = next(v for v in snap.vms.values() if v.name == "nsx1")
    assert nsx1.nics[0].network is None  # opaque network: kept, but unmapped
    pvlan = next(p for p in snap.dv_portgroups.values() if p.name == "DV-pvlan")
    assert str(pvlan.vlan.vlans) == "200-201"
    esx1 = next(h for h in snap.hosts.values() if h.name == "esx1.lab")
    assert esx1.portgroup("VM-110").uplinks == ("vmnic1",)  # type: ignore[union-attr]
    assert [str(n.neighbors[0].port_id) for n in esx1.nics] == [
        "Ethernet1",
        "Ethernet1",
        "Ethernet11",
        "Ethernet11",
    ]
    assert esx1.nic("vmnic3").neighbors[1].protocol == "lldp"  # type: ignore[union-attr]


def test_snapshot_is_immutable_and_stable_between_changes(lab: VcsimLab, session: Factory) -> None:
    s = session()
    expected = expected_inventory(lab.scenario, lab.control.state())
    wait_for(lambda: s.snapshot().hosts == expected.hosts, 5, "synced with neighbours")
    first = s.snapshot()
    lab.control.power("web1", on=False)
    wait_for(lambda: s.snapshot() is not first, 2, "a new snapshot")
    web1 = expected.vms[lab.control.state()["vms"]["web1"]["moid"]]
    assert first.vms[web1.moid].powered_on  # the old snapshot did not change under us


def _steady_counts(lab: VcsimLab, s: VcenterSession, seconds: float) -> dict[str, int]:
    expected = expected_inventory(lab.scenario, lab.control.state())
    wait_for(lambda: s.snapshot().hosts == expected.hosts, 5, "synced with neighbours")
    time.sleep(0.3)
    lab.control.reset_counters()
    time.sleep(seconds)
    return lab.control.counters()


STEADY = SessionTiming(
    wait_seconds=1, grace=2.0, keepalive_interval=1.0, backoff_initial=0.1, tick=0.05
)
ALLOWED_AT_STEADY_STATE = {"WaitForUpdatesEx", "QueryNetworkHint", "CurrentTime"}


def test_steady_state_costs_only_the_long_poll_hints_and_keepalive(
    lab: VcsimLab, session: Factory
) -> None:
    s = session(timing=STEADY, hint_interval=1.0)
    counts = _steady_counts(lab, s, 4.0)
    assert set(counts) <= ALLOWED_AT_STEADY_STATE, counts
    # 4 s of 1 s long polls; 3 hosts asked once a second; a keep-alive a second.
    assert 3 <= counts.get("WaitForUpdatesEx", 0) <= 7, counts
    assert 9 <= counts.get("QueryNetworkHint", 0) <= 18, counts
    assert 2 <= counts.get("CurrentTime", 0) <= 6, counts


def test_steady_state_cost_does_not_grow_with_the_number_of_vms(vcsim_binary: Any) -> None:
    big = scenarios.scaled(hosts=3, vms_per_host=100)
    with VcsimLab(big) as lab:
        make, made = _factory(lab)
        try:
            s = make(timing=STEADY, hint_interval=1.0)
            wait_for(lambda: len(s.snapshot().vms) == 200, 10, "200 VMs synchronised")
            counts = _steady_counts(lab, s, 4.0)
        finally:
            for m in made:
                m.stop()
    assert set(counts) <= ALLOWED_AT_STEADY_STATE, counts
    assert counts.get("WaitForUpdatesEx", 0) <= 7, counts
    assert counts.get("QueryNetworkHint", 0) <= 18, counts  # per host, not per VM


def test_stop_destroys_the_filter_view_and_collector_and_logs_out(
    lab: VcsimLab, session: Factory
) -> None:
    s = session()
    wait_for(lambda: s.snapshot().synced, 5, "synced")
    lab.control.reset_counters()
    began = time.monotonic()
    s.stop(timeout=5.0)
    assert time.monotonic() - began < 5.0
    counts = lab.control.counters()
    for method in ("DestroyPropertyFilter", "DestroyView", "DestroyCollector", "Logout"):
        assert counts.get(method) == 1, counts
    snap = s.snapshot()
    assert snap.state == SessionState.DISCONNECTED and not snap.synced
    time.sleep(0.5)
    assert lab.control.counters() == counts  # nothing runs after stop


def test_the_adapter_parses_only_the_vnics_a_plain_client_sees_every_device(
    lab: VcsimLab,
) -> None:
    """The lean parser (vcenter/soap.py) over https against the simulator: the
    adapter's connection gets only a VM's virtual Ethernet cards, while a plain pyvmomi
    connection in the same process still gets every device."""
    from eos_vmtracer.vcenter.connection import Connection
    from eos_vmtracer.vcenter.pyvmomi import SoapStubAdapter, vim, vmodl
    from eos_vmtracer.vcenter.tls import host_port, ssl_context
    from eos_vmtracer.vcenter.watch import Watch

    moid = lab.control.state()["vms"]["web1"]["moid"]
    conn = Connection(session_config(lab), socket_timeout=10, call_timeout=10)
    conn.open(lab.password)
    watch = Watch(conn, wait_seconds=1, wait_timeout=5, max_object_updates=100, event_page_size=10)
    try:
        watch.create()
        values = watch.fetch([vim.VirtualMachine(moid, conn.stub)])
    finally:
        watch.destroy()
        conn.logout()
    kept = values[moid][1]["config.hardware.device"]
    assert len(kept) == 2 and all(isinstance(d, vim.vm.device.VirtualEthernetCard) for d in kept)

    cfg = session_config(lab)
    host, port, path = host_port(cfg.url)
    plain = SoapStubAdapter(
        host=host,
        port=port,
        path=path,
        version=conn.version,
        sslContext=ssl_context(cfg),
        thumbprint=cfg.thumbprint,
    )
    si = vim.ServiceInstance("ServiceInstance", plain)
    content = si.RetrieveContent()
    content.sessionManager.Login(lab.username, lab.password)
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=vim.VirtualMachine(moid, plain))],
        propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=["config.hardware.device"])],
    )
    every = content.propertyCollector.RetrieveContents([spec])[0].propSet[0].val
    content.sessionManager.Logout()
    assert len(every) > len(kept) + 3  # controllers, disks, video card, ...
    assert sorted(d.key for d in every if isinstance(d, vim.vm.device.VirtualEthernetCard)) == [
        d.key for d in kept
    ]


def test_hints_read_on_the_wire_are_what_pyvmomi_reads(lab: VcsimLab) -> None:
    """QueryNetworkHint as the adapter makes it (by hand, read by ElementTree) against
    pyvmomi's own call, for every host of the lab, in bulk and per vmnic; a bulk call a
    host answers empty; an unknown object; a session vCenter forgot."""
    from eos_vmtracer.vcenter.connection import Connection
    from eos_vmtracer.vcenter.errors import ProtocolError, SessionLost
    from eos_vmtracer.vcenter.pyvmomi import vim
    from eos_vmtracer.vcenter.translate import neighbors_from_hints

    conn = Connection(session_config(lab), socket_timeout=10, call_timeout=10)
    conn.open(lab.password)
    hosts = lab.control.state()["hosts"]
    try:
        lab.control.set_bulk_hint_empty("esx2.lab")
        asked = 0
        for name, host in sorted(hosts.items()):
            ns = vim.HostSystem(host["moid"], conn.stub).configManager.networkSystem._moId
            ours = neighbors_from_hints(conn.network_hints(ns), pytest.fail)
            stock = vim.host.NetworkSystem(ns, conn.stub).QueryNetworkHint()
            assert ours == neighbors_from_hints(stock, pytest.fail), name
            if name == "esx2.lab":
                assert not any(ours.values()), "the bulk call was to answer empty"
            for vmnic in ("vmnic0", "vmnic1"):
                ours = neighbors_from_hints(conn.network_hints(ns, [vmnic]), pytest.fail)
                stock = vim.host.NetworkSystem(ns, conn.stub).QueryNetworkHint([vmnic])
                assert ours == neighbors_from_hints(stock, pytest.fail), (name, vmnic)
                assert set(ours) <= {vmnic}
                asked += int(bool(ours.get(vmnic)))
        assert asked >= 3, "the lab's hosts hear their switches per vmnic"
        with pytest.raises(ProtocolError, match="ManagedObjectNotFound"):
            conn.network_hints("hostnetworksystem-nosuch")
        lab.control.terminate_sessions()
        with pytest.raises(SessionLost):
            conn.network_hints(ns)
    finally:
        lab.control.set_bulk_hint_empty("esx2.lab", False)
        conn.logout()


def test_long_poll_answers_read_here_are_what_pyvmomi_reads(
    lab: VcsimLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every WaitForUpdatesEx answer of a scoped watch (the light hosts, hosts coming
    into scope with their VMs, then a VM powered off, moved and a NIC's link going
    down), read by ElementTree, makes the same inventory as pyvmomi's own reading of
    the same bytes; answers it does not know (switches, events) go to pyvmomi."""
    from eos_vmtracer.vcenter import updates
    from eos_vmtracer.vcenter.pyvmomi import SoapAdapter, SoapStubAdapter, vmodl
    from lab.vcsim.testing import drain, inventory_of, scoped_watch

    update_set = vmodl.query.PropertyCollector.UpdateSet
    plain = SoapStubAdapter(host="localhost", version="vim.version.version11")

    def models(update: Any) -> tuple[Any, ...]:
        return (*inventory_of([update]), str(update.version))

    read_here: list[tuple[int, int]] = []
    deferred = [0]
    real_read = updates.read

    def compared(body: bytes, stub: Any, version: Any = None) -> Any:
        try:
            ours = real_read(body, stub, version)
        except updates.Defer:
            deferred[0] += 1
            raise
        stock = SoapAdapter.SoapResponseDeserializer(plain).Deserialize(body, update_set)
        hosts, vms, warnings, version_read = models(ours)
        assert (hosts, vms, warnings, version_read) == models(stock)
        read_here.append((len(hosts), len(vms)))
        return ours

    monkeypatch.setattr(updates, "read", compared)
    with scoped_watch(lab, 10, max_object_updates=5, event_page_size=10) as watch:
        version = drain(watch, "")
        hosts = lab.control.state()["hosts"]
        watch.modify_scope([("host", h["moid"]) for h in hosts.values()], [])
        version = drain(watch, version)
        vm = lab.scenario["vms"][0]["name"]
        assert lab.control.power(vm, False)
        lab.control.set_link("esx1.lab", "vmnic0", False)
        version = drain(watch, version)
        assert lab.control.power(vm, True)
        lab.control.set_link("esx1.lab", "vmnic0", True)
        drain(watch, version)
    assert sum(h for h, _ in read_here) >= len(hosts), "the hosts were read here"
    assert sum(v for _, v in read_here) >= 2, "and VMs"
    assert deferred[0] >= 1, "switches and events went to pyvmomi"
