"""The CDP adapter's own error types.

What this module is for: the exceptions that leave ``eos_vmtracer.cdp``. Errors
from scapy or from the kernel are translated into these (``raise ... from e``),
so nothing outside the adapter has to know about scapy or errno values.

It must never import scapy, and never carry anything but plain text and numbers.
"""

from __future__ import annotations


class CdpError(Exception):
    """A CDP frame could not be built or sent."""


class LinkError(CdpError):
    """Sending on one kernel interface failed.

    ``reason`` is short and stable ("no such interface", "interface is down", ...)
    so that a caller can log a problem once and notice when it changes.
    """

    def __init__(self, ifname: str, reason: str, errno: int = 0) -> None:
        self.ifname = ifname
        self.reason = reason
        self.errno = errno
        super().__init__(f"{ifname}: {reason}")


__all__ = ["CdpError", "LinkError"]
