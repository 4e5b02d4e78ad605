"""A scoped session against the lab vCenter: it reads VMs only of the hosts heard on
this switch (a ListView with traversal to their VMs, changed with ModifyListView as
cabling changes), and finds cabling changes through link events."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from eos_vmtracer.model import SwitchFacts
from eos_vmtracer.neighbors import SwitchIdentity
from eos_vmtracer.static_hosts import StaticHosts
from eos_vmtracer.vcenter import VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, session_config, wait_for

LEAF1 = SwitchIdentity.of(SwitchFacts(hostname="leaf1", fqdn="leaf1.lab"))


def _cdp(switch: str, port: str) -> dict[str, Any]:
    return {"device_id": switch, "port_id": port, "address": "192.0.2.1"}


def scenario() -> dict[str, Any]:
    """The basic estate with esx3 cabled to leaf3 only: not heard on leaf1."""
    s = scenarios.basic()
    for h in s["hosts"]:
        if h["name"] == "esx3.lab":
            h["neighbors"] = {
                "vmnic0": {"cdp": _cdp("leaf3.lab", "Ethernet5")},
                "vmnic1": {"cdp": _cdp("leaf3.lab", "Ethernet6")},
            }
    for v in s["vms"]:
        if v["name"] == "idle1":
            v["power"] = "on"
    return s


@pytest.fixture(scope="session")
def vcsim_binary() -> Any:
    return ensure_built()


@pytest.fixture(scope="module")
def lab(vcsim_binary: Any) -> Iterator[VcsimLab]:
    with VcsimLab(scenario()) as lab:
        yield lab


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.n += 1


@contextlib.contextmanager
def synced_scoped(
    lab: VcsimLab, on_change: Callable[[], None], within: float = 10
) -> Iterator[VcenterSession]:
    """A scoped session for leaf1, started and synchronised; stopped on leaving."""
    s = VcenterSession(
        session_config(lab, discovery_interval=1800.0),
        on_change,
        timing=FAST,
        scoped=True,
        cdp_interval=1.0,
    )
    s.set_switch_identity(LEAF1)
    s.start()
    try:
        wait_for(lambda: s.snapshot().synced, within, "the scoped session synchronised")
        yield s
    finally:
        s.stop()


@pytest.fixture
def scoped(lab: VcsimLab) -> Iterator[tuple[VcenterSession, Counter]]:
    calls = Counter()
    with synced_scoped(lab, calls) as s:
        yield s, calls


def names(s: VcenterSession) -> set[str]:
    return {vm.name for vm in s.snapshot().vms.values()}


def host(s: VcenterSession, name: str) -> Any:
    return next(h for h in s.snapshot().hosts.values() if h.name == name)


def recable(lab: VcsimLab, host_name: str, cables: dict[str, dict[str, Any]]) -> None:
    """Move cables of a host (vmnic -> its new neighbour): link down (for as long as
    moving a cable takes; the collector batches what changes within 250 ms), the new
    neighbour, link up."""
    for vmnic in cables:
        lab.control.set_link(host_name, vmnic, False)
    time.sleep(0.6)
    for vmnic, heard in cables.items():
        lab.control.set_neighbors(host_name, vmnic, **heard)
        lab.control.set_link(host_name, vmnic, True)


def to(switch: str, **ports: str) -> dict[str, dict[str, Any]]:
    return {vmnic: {"cdp": _cdp(switch, port)} for vmnic, port in ports.items()}


def as_before(host_name: str, *vmnics: str) -> dict[str, dict[str, Any]]:
    """The cables of the scenario."""
    h = next(h for h in scenario()["hosts"] if h["name"] == host_name)
    return {v: dict(h["neighbors"][v]) for v in vmnics}


def test_only_hosts_heard_here_bring_their_vms(scoped: Any) -> None:
    s, _ = scoped
    snap = s.snapshot()
    assert {h.name for h in snap.hosts.values()} == {"esx1.lab", "esx2.lab", "esx3.lab"}
    assert names(s) == {"web1", "web2", "db1", "nsx1"}  # not idle1, on esx3
    assert host(s, "esx1.lab").portgroups and host(s, "esx1.lab").switches
    esx3 = host(s, "esx3.lab")
    assert not esx3.portgroups and not esx3.switches  # name, state and pnics only
    assert {n.device for n in esx3.nics} == {"vmnic0", "vmnic1"}
    f = s.figures()
    assert (f.scoped, f.hosts_heard, f.hosts_total, f.vms_in_scope) == (True, 2, 3, 4)
    assert f.hints_last_minute >= 3


def test_a_vm_change_on_a_host_not_heard_here_sends_nothing(lab: VcsimLab, scoped: Any) -> None:
    s, calls = scoped
    time.sleep(1.0)
    before, snap = calls.n, s.snapshot()
    lab.control.power("idle1", False)
    lab.control.move_nic("idle1", 0, connected=False)
    time.sleep(2.0)
    assert calls.n == before, "the session heard about a VM on a host not cabled here"
    assert s.snapshot() is snap
    lab.control.power("idle1", True)
    lab.control.move_nic("idle1", 0, connected=True)


def test_recabling_brings_a_host_and_its_vms_in_and_takes_them_out(
    lab: VcsimLab, scoped: Any
) -> None:
    s, _ = scoped
    lab.control.reset_counters()
    recable(lab, "esx3.lab", to("leaf1.lab", vmnic0="Ethernet5", vmnic1="Ethernet6"))
    wait_for(lambda: "idle1" in names(s) and s.snapshot().synced, 5, "esx3 in scope")
    assert host(s, "esx3.lab").switches
    counts = lab.control.counters()
    assert counts.get("ModifyListView", 0) >= 1, counts
    assert counts.get("QueryNetworkHint", 0) <= 8, counts  # esx3 only, not every host
    recable(lab, "esx1.lab", to("leaf3.lab", vmnic0="Ethernet7", vmnic2="Ethernet8"))
    wait_for(lambda: not {"web1", "nsx1"} & names(s) and s.snapshot().synced, 5, "esx1 out")
    assert not host(s, "esx1.lab").switches
    assert s.figures().hosts_heard == 2
    # Back as it was, for the other tests.
    recable(lab, "esx1.lab", as_before("esx1.lab", "vmnic0", "vmnic2"))
    recable(lab, "esx3.lab", as_before("esx3.lab", "vmnic0", "vmnic1"))
    wait_for(lambda: names(s) == {"web1", "web2", "db1", "nsx1"}, 5, "back")


def test_a_vm_migrating_here_from_elsewhere_is_known_before_it_arrives(
    lab: VcsimLab, scoped: Any
) -> None:
    s, _ = scoped
    lab.control.relocate("idle1", "esx1.lab", duration=4.0)
    started = time.monotonic()
    wait_for(lambda: "idle1" in names(s), 3, "the migrating VM in scope")
    snap = s.snapshot()
    moid = next(m for m, vm in snap.vms.items() if vm.name == "idle1")
    assert snap.migrations[moid].dest_host == host(s, "esx1.lab").moid
    assert time.monotonic() - started < 4.0, "known only after it arrived"
    wait_for(lambda: s.snapshot().vms[moid].host == host(s, "esx1.lab").moid, 8, "arrived")
    lab.control.relocate("idle1", "esx3.lab", wait=True)
    wait_for(lambda: "idle1" not in names(s), 5, "gone with its move away")


def test_a_host_answering_the_bulk_hint_empty_is_asked_per_vmnic(
    lab: VcsimLab, scoped: Any
) -> None:
    s, _ = scoped
    lab.control.set_bulk_hint_empty("esx3.lab")
    try:
        recable(lab, "esx3.lab", to("leaf1.lab", vmnic0="Ethernet5", vmnic1="Ethernet6"))
        wait_for(lambda: "idle1" in names(s), 5, "esx3 found per vmnic")

        def ports() -> dict[str, str]:
            return {
                n.device: n.neighbors[0].port_id for n in host(s, "esx3.lab").nics if n.neighbors
            }

        wait_for(lambda: ports() == {"vmnic0": "Ethernet5", "vmnic1": "Ethernet6"}, 5, "both")
    finally:
        lab.control.set_bulk_hint_empty("esx3.lab", False)
        recable(lab, "esx3.lab", as_before("esx3.lab", "vmnic0", "vmnic1"))
    wait_for(lambda: "idle1" not in names(s), 5, "esx3 out again")


def test_a_resync_of_a_scoped_session_reads_its_scope_again(lab: VcsimLab, scoped: Any) -> None:
    s, _ = scoped
    before = names(s)
    lab.control.reset_counters()
    s.resync()
    assert not s.snapshot().synced  # at once: nothing it caused may be removed meanwhile
    wait_for(lambda: s.snapshot().synced, 10, "synchronised again")
    assert names(s) == before
    counts = lab.control.counters()
    assert counts.get("Login", 0) == 1 and counts.get("CreateListView", 0) >= 1, counts


def test_a_host_named_by_static_hosts_is_read_like_a_host_heard_here(lab: VcsimLab) -> None:
    """A blade never hears this switch; ``switch.static_hosts`` maps it by name. The
    planner can only give its VMs' VLANs to the port named if the scoped session reads
    those VMs and the host's network configuration."""
    for vmnic in ("vmnic0", "vmnic1"):
        lab.control.set_neighbors("esx3.lab", vmnic)  # hears nobody, like a blade
    calls = Counter()
    s = VcenterSession(
        session_config(lab, discovery_interval=1800.0),
        calls,
        timing=FAST,
        scoped=True,
        cdp_interval=1.0,
        static_hosts=StaticHosts({"Ethernet7": ("ESX3*",)}),  # case-insensitive, as EOS
    )
    s.set_switch_identity(LEAF1)
    s.start()
    try:
        wait_for(lambda: s.snapshot().synced and "idle1" in names(s), 10, "esx3's VMs read")
        esx3 = host(s, "esx3.lab")
        assert esx3.portgroups and esx3.switches  # its full network configuration too
        assert not any(n.neighbors for n in esx3.nics)  # heard nowhere: in scope by name
        assert names(s) == {"web1", "web2", "db1", "nsx1", "idle1"}
        f = s.figures()
        assert (f.hosts_heard, f.hosts_total, f.vms_in_scope) == (3, 3, 5)
        # Its VMs' changes reach the session like those of a host heard here.
        moid = next(m for m, vm in s.snapshot().vms.items() if vm.name == "idle1")
        lab.control.power("idle1", False)
        wait_for(lambda: not s.snapshot().vms[moid].powered_on, 5, "idle1 powered off seen")
    finally:
        s.stop()
        lab.control.power("idle1", True)
        for vmnic, heard in as_before("esx3.lab", "vmnic0", "vmnic1").items():
            lab.control.set_neighbors("esx3.lab", vmnic, **heard)


@pytest.mark.parametrize("scoped_session", [True, False], ids=["scoped", "unscoped"])
def test_a_host_asked_before_it_could_hear_this_switch_is_asked_again(
    lab: VcsimLab, scoped_session: bool
) -> None:
    """The agent just began sending CDP (``expect_hearing``): a host asked at once may not
    have heard it yet. Until it is asked again, static_hosts waits for it and nothing
    may be removed; then what it hears now wins, not the 30-minute background timer."""
    for vmnic in ("vmnic0", "vmnic1"):
        lab.control.set_neighbors("esx3.lab", vmnic)  # hears nobody yet
    s = VcenterSession(
        session_config(lab, discovery_interval=1800.0, hint_interval=600.0),
        lambda: None,
        timing=FAST,
        scoped=scoped_session,
        cdp_interval=1.0,
        static_hosts=StaticHosts({"Ethernet7": ("esx3*",)}),
    )
    s.set_switch_identity(LEAF1)
    within = 6.0
    settle = time.monotonic() + within
    s.start()
    s.expect_hearing(within)
    try:
        wait_for(lambda: s.snapshot().hosts, 5, "hosts read")
        esx3 = host(s, "esx3.lab").moid
        wait_for(lambda: s.progress().hints == 3, 5, "every host asked once")
        assert time.monotonic() < settle, "the lab was too slow to ask before settling"
        snap = s.snapshot()
        assert esx3 in snap.unsettled and not snap.synced  # static_hosts names it
        # Now it hears this switch (the CDP frames arrived): asked again, it is heard.
        lab.control.set_neighbors("esx3.lab", "vmnic0", cdp=_cdp("leaf1.lab", "Ethernet1"))
        wait_for(lambda: s.snapshot().synced, within + 5, "synchronised once settled")
        assert time.monotonic() >= settle
        snap = s.snapshot()
        assert not snap.unsettled
        heard = [n.device_id for n in snap.hosts[esx3].nics[0].neighbors]
        assert heard == ["leaf1.lab"]
    finally:
        s.stop()
        for vmnic, cables in as_before("esx3.lab", "vmnic0", "vmnic1").items():
            lab.control.set_neighbors("esx3.lab", vmnic, **cables)


def test_hint_calls_overlap_when_vcenter_answers_them_slowly(vcsim_binary: Any) -> None:
    """A vCenter that takes 30 ms to relay each QueryNetworkHint (as a real one does,
    asking the host's agent): after three calls made alone, the round runs
    HINT_CONCURRENCY calls at once, never more, and every host's neighbours are known.
    (That quick answers are asked one at a time is shown by the fanout's unit tests:
    on a loaded machine a quick answer can look slow.)"""
    from eos_vmtracer.vcenter.session import HINT_CONCURRENCY

    with VcsimLab(scenarios.scaled(30, 1)) as lab:
        lab.control.delay("QueryNetworkHint", 0.03)
        lab.control.reset_counters()
        with synced_scoped(lab, lambda: None, within=30) as s:
            snap = s.snapshot()
            assert len(snap.hosts) == 30
            assert all(any(n.neighbors for n in h.nics) for h in snap.hosts.values())
            assert s.figures().hosts_heard == 30
        assert lab.control.peaks()["QueryNetworkHint"] == HINT_CONCURRENCY
        assert lab.control.counters()["QueryNetworkHint"] >= 30
