"""The lab world: every peer of the agent on one machine, cabled by veths, and the agent.

What this package is for: the end-to-end tests (tests/e2e) and ``make demo`` build
one :class:`World` from a :class:`Topology` — lab vCenters, the eAPI emulator, a
switch namespace, ESXi hosts as namespaces running lldpd, the CDP bridge from
lldpd to vCenter — and run ``vmtracer run`` in it. See :mod:`lab.world.world`.

It must never be imported by runtime code (eos_vmtracer/).
"""

from __future__ import annotations

from lab.world import topology
from lab.world.bridge import NeighborBridge, Push, cdp_spec
from lab.world.topology import Cable, Timings, Topology, TopologyError, Vcenter
from lab.world.world import World, WorldError, vlan_set

__all__ = [
    "Cable",
    "NeighborBridge",
    "Push",
    "Timings",
    "Topology",
    "TopologyError",
    "Vcenter",
    "World",
    "WorldError",
    "cdp_spec",
    "topology",
    "vlan_set",
]
