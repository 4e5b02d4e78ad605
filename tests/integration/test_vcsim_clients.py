"""The lab vCenter serves several clients at once, as a real vCenter serves a fabric's
agents: each session's WaitForUpdatesEx gets every change, a session that logs out
stops costing the simulator, and a big lab starts in seconds.

govmomi's simulator kept one update handler per reference, and every session's
property collector has the same one: only the last client to wait got updates. The
lab keys them per instance (lab/vcsim/build.sh) and drops them when a collector is
destroyed or its session logs out; without that, every collector ever made (each
task waited on has one) queued every later change forever.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from eos_vmtracer.vcenter import VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, session_config, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[VcsimLab]:
    ensure_built()
    with VcsimLab(scenarios.basic()) as lab:
        yield lab


def _session(lab: VcsimLab, name: str) -> VcenterSession:
    s = VcenterSession(session_config(lab, name=name), lambda: None, timing=FAST)
    s.start()
    wait_for(lambda: s.snapshot().synced, 10, f"{name} synchronised")
    return s


def _powered(s: VcenterSession, vm: str) -> bool:
    return next(v.powered_on for v in s.snapshot().vms.values() if v.name == vm)


def test_every_session_gets_every_change(lab: VcsimLab) -> None:
    first, second, third = (_session(lab, f"vc{n}") for n in (1, 2, 3))
    try:
        assert _powered(first, "web1") and _powered(second, "web1")
        lab.control.power("web1", False)
        for s in (first, second, third):
            wait_for(lambda s=s: not _powered(s, "web1"), 5, f"{s.name} saw web1 off")
        # One client gone (it logs out): the others still get every change.
        second.stop()
        lab.control.power("web1", True)
        for s in (first, third):
            wait_for(lambda s=s: _powered(s, "web1"), 5, f"{s.name} saw web1 on")
    finally:
        for s in (first, second, third):
            s.stop()
        lab.control.power("web1", True)


def test_a_lab_of_2000_vms_starts_in_seconds() -> None:
    """100 hosts and 2,000 VMs, each created through a task that lab/vcsim/scenario.go
    waits on (through a property collector of its own). While every gone collector
    still queued every later change, this took 128 s and 12 GB (20,000 VMs: past 18 GB
    in 3 minutes); now 10 s and 80 MB."""
    from bench.fabric_scale import scenario

    started = time.monotonic()
    with VcsimLab(scenario(hosts=100, vms=2000)).start(timeout=60) as lab:
        took = time.monotonic() - started
        assert lab.pid is not None
        rss_kb = int(
            next(
                line.split()[1]
                for line in Path(f"/proc/{lab.pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:")
            )
        )
        assert rss_kb < 1024 * 1024, f"the lab vCenter holds {rss_kb // 1024} MB"
        assert len(lab.control.state()["vms"]) >= 2000  # and the probes and movers
    assert took < 60


def test_an_object_changed_several_times_comes_once_per_update_set(lab: VcsimLab) -> None:
    """As vCenter does: one object update per object in an update set, each property
    with its last value. The simulator sent one per change: an event collector's
    latestPage (the whole page) once per event posted."""
    import ssl

    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim, vmodl

    host, port = lab.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    si = SmartConnect(
        host=host, port=int(port), user=lab.username, pwd=lab.password, sslContext=ctx
    )
    try:
        content = si.RetrieveContent()
        collector = content.eventManager.CreateCollectorForEvents(
            vim.event.EventFilterSpec(eventTypeId=["VmMigratedEvent", "VmBeingHotMigratedEvent"])
        )
        pc = vmodl.query.PropertyCollector
        content.propertyCollector.CreateFilter(
            pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=collector)],
                propSet=[pc.PropertySpec(type=type(collector), pathSet=["latestPage"])],
            ),
            partialUpdates=False,
        )
        options = pc.WaitOptions(maxWaitSeconds=5)
        version = content.propertyCollector.WaitForUpdatesEx("", options).version
        # Three migrations, six events, posted faster than the simulator's batches.
        for dest in ("esx2.lab", "esx1.lab", "esx2.lab"):
            lab.control.relocate("web1", dest, wait=True)
        seen = 0
        deadline = time.monotonic() + 10
        while seen < 6 and time.monotonic() < deadline:
            update = content.propertyCollector.WaitForUpdatesEx(version, options)
            if update is None:
                continue
            version = update.version
            objs = [o for f in update.filterSet for o in f.objectSet]
            assert len(objs) == 1, [len(o.changeSet) for o in objs]  # one per update set
            pages = [c.val for c in objs[0].changeSet if c.name == "latestPage"]
            assert len(pages) == 1
            seen = len(pages[0])
        assert seen >= 6  # the last value holds every event
        collector.DestroyCollector()
    finally:
        Disconnect(si)
        lab.control.relocate("web1", "esx1.lab", wait=True)
