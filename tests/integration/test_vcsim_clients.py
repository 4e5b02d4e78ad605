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
