"""The vCenter adapter: watch vCenters and keep an inventory the planner can read.

What this package is for: one :class:`VcenterSession` per configured vCenter logs
in, watches hosts, VMs, portgroups and migration events through the property
collector, asks hosts which switch ports their vmnics see (QueryNetworkHint), and
hands the agent an immutable :class:`~eos_vmtracer.model.SessionInventory`.

It must never let pyvmomi objects or exceptions out of this package: everything
leaving it is the project's model or one of :mod:`eos_vmtracer.vcenter.errors`.
"""

from __future__ import annotations

from eos_vmtracer.vcenter.errors import (
    AuthError,
    ConnectionLost,
    ProtocolError,
    SessionLost,
    TlsError,
    VcenterError,
)
from eos_vmtracer.vcenter.session import SessionTiming, VcenterSession

__all__ = [
    "AuthError",
    "ConnectionLost",
    "ProtocolError",
    "SessionLost",
    "SessionTiming",
    "TlsError",
    "VcenterError",
    "VcenterSession",
]
