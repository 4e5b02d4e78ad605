"""Raw frames out of one kernel interface (Linux AF_PACKET).

What this module is for: :class:`RawLink`, one packet socket bound to one
kernel interface (``et1``), opened when first needed and reopened after the
interface went away. It reports the interface's MAC address as the kernel
sees it (the address of the bound socket, so it is right in any network
namespace) and sends prebuilt frames without ever blocking.

It must never block, never raise anything but
:class:`~eos_vmtracer.cdp.errors.LinkError`, and never receive: the socket is
bound with protocol 0, so the kernel queues no incoming frames on it.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Optional, Protocol

from eos_vmtracer.cdp.errors import LinkError

_ARPHRD_ETHER = 1
#: errno -> the short reason a user sees; anything else uses os.strerror().
_REASONS = {
    errno.ENODEV: "no such interface",
    errno.ENXIO: "no such interface",
    errno.ENETDOWN: "interface is down",
    errno.EAGAIN: "transmit queue is full",
    errno.ENOBUFS: "transmit queue is full",
    errno.EMSGSIZE: "frame is larger than the interface MTU",
    errno.EPERM: "permission denied (raw sockets need CAP_NET_RAW)",
    errno.EACCES: "permission denied (raw sockets need CAP_NET_RAW)",
}
#: After these the socket is useless (interface gone): close it, reopen next time.
_REOPEN = frozenset({errno.ENODEV, errno.ENXIO, errno.EBADF})


def _reason(e: OSError) -> str:
    if e.errno in _REASONS:
        return _REASONS[e.errno]
    return os.strerror(e.errno) if e.errno else str(e)


class Link(Protocol):
    """What the sender needs from a kernel interface (a fake in unit tests)."""

    ifname: str

    def mac(self) -> str:
        """The interface's MAC address, ``aa:bb:cc:dd:ee:ff``; raises LinkError."""
        ...

    def send(self, frame: bytes) -> None:
        """Queue one frame for transmission now; raises LinkError."""
        ...

    def close(self) -> None:
        """Release the socket (idempotent)."""
        ...


class RawLink:
    """An AF_PACKET socket on kernel interface ``ifname``, opened on demand."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self._sock: Optional[socket.socket] = None

    def _open(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except OSError as e:
            raise LinkError(self.ifname, _reason(e), e.errno or 0) from e
        try:
            sock.setblocking(False)
            sock.bind((self.ifname, 0))
        except OSError as e:
            sock.close()
            raise LinkError(self.ifname, _reason(e), e.errno or 0) from e
        self._sock = sock
        return sock

    def mac(self) -> str:
        """The MAC address the kernel has for the bound interface, read now."""
        for _attempt in range(2):
            sock = self._open()
            try:
                name, _proto, _pkttype, hatype, address = sock.getsockname()
            except OSError as e:
                raise self._error(e) from e
            if name == self.ifname:
                break
            # The interface this socket was bound to is gone (the kernel reports
            # no name for it any more): bind a new socket to the current one.
            self.close()
        else:
            raise LinkError(self.ifname, _REASONS[errno.ENODEV], errno.ENODEV)
        if hatype != _ARPHRD_ETHER or len(address) != 6:
            raise LinkError(self.ifname, "not an Ethernet interface")
        return ":".join(f"{b:02x}" for b in address)

    def send(self, frame: bytes) -> None:
        """Send ``frame`` as is; never waits for room in the transmit queue."""
        sock = self._open()
        try:
            sent = sock.send(frame)
        except OSError as e:
            raise self._error(e) from e
        if sent != len(frame):
            raise LinkError(self.ifname, f"short write ({sent} of {len(frame)} bytes)")

    def _error(self, e: OSError) -> LinkError:
        """The LinkError for ``e``; drops the socket if the interface went away."""
        if e.errno in _REOPEN:
            self.close()
        return LinkError(self.ifname, _reason(e), e.errno or 0)

    def close(self) -> None:
        """Close the socket; the next call opens a new one."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


__all__ = ["Link", "RawLink"]
