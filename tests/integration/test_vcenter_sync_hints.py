"""A session is "synced" only once every connected host was asked for its neighbours.

Without neighbours no VM's need is visible, so a session that reported itself synced
before its first QueryNetworkHint answers would let the planner start removal clocks
for VLANs that are in fact needed.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from eos_vmtracer.vcenter import VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, session_config, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def lab() -> Iterator[VcsimLab]:
    ensure_built()
    with VcsimLab(scenarios.basic()) as lab:
        yield lab


def test_not_synced_until_neighbours_are_known(lab: VcsimLab) -> None:
    lab.control.stall("QueryNetworkHint")
    s = VcenterSession(session_config(lab), lambda: None, timing=FAST)
    s.start()
    try:
        wait_for(lambda: s.snapshot().vms, 5, "the property collector's first sync")
        time.sleep(0.5)
        snap = s.snapshot()
        assert not snap.synced, "synced before any host was asked for its neighbours"
        assert all(not nic.neighbors for h in snap.hosts.values() for nic in h.nics)
        lab.control.stall("QueryNetworkHint", on=False)
        wait_for(lambda: s.snapshot().synced, 10, "synced once hints answered")
        snap = s.snapshot()
        heard: Any = [n for h in snap.hosts.values() for nic in h.nics for n in nic.neighbors]
        assert heard, "synced, but no neighbour known"
    finally:
        lab.control.stall("QueryNetworkHint", on=False)
        s.stop()
