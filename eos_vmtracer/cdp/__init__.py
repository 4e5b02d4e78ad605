"""The CDP adapter: CDPv2 frames out of the switch ports that face ESXi hosts.

What this package is for: EOS does not send CDP, and ESXi learns where each
vmnic is cabled from CDP, so the agent sends it itself, through raw sockets on
the front-panel kernel interfaces. :func:`identity_from_facts` and
:func:`cdp_ports` say what to send where, :func:`build_frame` makes the bytes
(with scapy), :class:`CdpSender` keeps them going.

It must never be imported by the model or the planner, and nothing outside this
package may import scapy or see a scapy object or exception.
"""

from __future__ import annotations

from eos_vmtracer.cdp.errors import CdpError, LinkError
from eos_vmtracer.cdp.frames import CDP_MULTICAST, build_frame, cdp_checksum
from eos_vmtracer.cdp.identity import (
    CdpIdentity,
    cdp_native_vlans,
    cdp_ports,
    identity_from_facts,
)
from eos_vmtracer.cdp.link import RawLink
from eos_vmtracer.cdp.sender import CdpSender, PortStats

__all__ = [
    "CDP_MULTICAST",
    "CdpError",
    "CdpIdentity",
    "CdpSender",
    "LinkError",
    "PortStats",
    "RawLink",
    "build_frame",
    "cdp_checksum",
    "cdp_native_vlans",
    "cdp_ports",
    "identity_from_facts",
]
