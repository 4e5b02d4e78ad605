"""Sockets to vCenter inside a VRF, from an agent that stays in the default one.

What this module is for: on EOS each VRF ``NAME`` is the Linux network namespace
``ns-NAME`` (``/var/run/netns/ns-NAME``). The agent itself stays in the default
namespace, where eAPI's Unix socket and the raw CDP sockets on the front-panel
ports live; only the TCP connections to a session's vCenter are made inside the
session's VRF. :class:`Dialer` makes them:

- under EOS, with the EOS SDK's ``vrf_mgr.socket_at`` when the SDK bridge
  registered it (:func:`use_sdk`);
- elsewhere, a short-lived thread enters the namespace (``setns``: ``os.setns``
  on Python 3.12+, libc's through ctypes before), resolves the name, creates and
  connects the socket there, and hands it back; a socket keeps its namespace for
  life, whichever thread uses it afterwards.

With a source address the socket is bound to it before connecting.

It must never move any thread but the short-lived one it starts into another
namespace (that thread ends right after), never leave a socket open on failure,
and never raise anything but :class:`~eos_vmtracer.vcenter.errors.ConnectionLost`
(:class:`VrfError` for a VRF or source address that cannot be used).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from eos_vmtracer.vcenter.errors import ConnectionLost

DEFAULT_VRF = "default"
#: Where ``ip netns`` (and EOS) keep the handles of named network namespaces.
NETNS_DIR = "/var/run/netns"
#: Development setting: another directory of namespace handles (the lab puts
#: ``ns-<VRF>`` links to its own namespaces there). Not for production use.
NETNS_DIR_ENV = "VMTRACER_NETNS_DIR"
_CLONE_NEWNET = 0x40000000


class VrfError(ConnectionLost):
    """The session's VRF or source address cannot be used (it may be later: retried)."""


def namespace_path(vrf: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """The handle of VRF ``vrf``'s network namespace ("" for the default VRF)."""
    if vrf == DEFAULT_VRF:
        return ""
    env = os.environ if environ is None else environ
    return os.path.join(env.get(NETNS_DIR_ENV) or NETNS_DIR, f"ns-{vrf}")


def check_exists(vrf: str) -> None:
    """Raise :class:`VrfError` when VRF ``vrf`` does not exist (its namespace, or for the
    EOS SDK); the default VRF always does."""
    path = namespace_path(vrf)
    if not path:
        return
    with _sdk_lock:
        mgr = _sdk_vrf_mgr
        if mgr is not None:
            try:
                known = bool(mgr.exists(vrf))
            except Exception as e:  # the SDK's own errors
                raise VrfError(f"VRF {vrf}: the EOS SDK cannot tell if it exists: {e}") from None
            if not known:
                raise VrfError(f"VRF {vrf} does not exist (the EOS SDK does not know it)")
            return
    if not os.path.exists(path):
        raise VrfError(f"VRF {vrf} does not exist (no network namespace {path})")


# -- entering a namespace ------------------------------------------------------------------

_libc: Optional[Any] = None


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace ``fd`` refers to."""
    native = getattr(os, "setns", None)  # Python 3.12+
    if native is not None:
        native(fd, _CLONE_NEWNET)
        return
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def run_in_namespace(path: str, fn: Callable[[], socket.socket], wait: float) -> socket.socket:
    """Run ``fn`` on a new thread inside the namespace ``path``; its socket.

    Raises :class:`VrfError` when the namespace cannot be entered, what ``fn``
    raises otherwise, and :class:`ConnectionLost` when it takes longer than
    ``wait`` seconds (its socket, if it comes later, is closed)."""
    lock = threading.Lock()
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise VrfError(f"does not exist (no network namespace {path})") from None
            except OSError as e:
                raise VrfError(f"cannot open network namespace {path}: {e.strerror}") from None
            try:
                _setns(fd)
            except OSError as e:
                raise VrfError(f"cannot enter network namespace {path}: {e.strerror}") from None
            finally:
                os.close(fd)
            sock = fn()
        except BaseException as e:  # handed to the caller as is
            with lock:
                box["error"] = e
            return
        with lock:
            if box.get("gave_up"):
                sock.close()
            else:
                box["sock"] = sock

    thread = threading.Thread(target=body, name="vrf-dial", daemon=True)
    thread.start()
    thread.join(wait)
    with lock:
        if "sock" in box:
            return box["sock"]  # type: ignore[no-any-return]
        if "error" in box:
            raise box["error"]
        box["gave_up"] = True
    raise ConnectionLost(f"no connection within {wait:g} s")


# -- the EOS SDK ---------------------------------------------------------------------------

_sdk_lock = threading.Lock()
_sdk_vrf_mgr: Optional[Any] = None


def use_sdk(vrf_mgr: Optional[Any]) -> None:
    """Make sockets in VRFs with the EOS SDK's ``vrf_mgr`` (None: with setns again)."""
    global _sdk_vrf_mgr
    with _sdk_lock:
        _sdk_vrf_mgr = vrf_mgr


def _sdk_socket(vrf: str, family: int) -> Optional[socket.socket]:
    """A socket made by the EOS SDK in ``vrf``; None when the SDK is not in use."""
    with _sdk_lock:  # one SDK call at a time, whatever thread asks
        mgr = _sdk_vrf_mgr
        if mgr is None:
            return None
        try:
            if not mgr.exists(vrf):
                raise VrfError("does not exist (the EOS SDK does not know it)")
            fd = int(mgr.socket_at(family, socket.SOCK_STREAM, 0, vrf))
        except VrfError:
            raise
        except Exception as e:  # the SDK's own errors: the VRF is not usable now
            raise VrfError(f"the EOS SDK could not open a socket: {e}") from None
    if fd < 0:
        raise VrfError("the EOS SDK could not open a socket")
    return socket.socket(family, socket.SOCK_STREAM, 0, fileno=fd)


# -- dialing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialer:
    """How the connections to one vCenter are made: through which VRF, from which address."""

    vrf: str = DEFAULT_VRF
    source: str = ""  # the source address; "" lets the kernel choose
    source_interface: str = ""  # where ``source`` was read from (for messages)

    def describe(self) -> str:
        """``VRF MGMT, source 10.0.0.5 (Management1)``, for ``check`` and the log."""
        text = f"VRF {self.vrf}"
        if self.source:
            text += f", source {self.source}"
            if self.source_interface:
                text += f" ({self.source_interface})"
        else:
            text += ", source chosen by the kernel"
        return text

    def __call__(
        self,
        address: tuple[str, int],
        timeout: Optional[float] = None,
        source_address: Optional[tuple[str, int]] = None,
    ) -> socket.socket:
        """A connected socket to ``address`` (the signature of
        :func:`socket.create_connection`; ``source_address`` is ignored: ours is used)."""
        del source_address
        host, port = address
        bind = (self.source, 0) if self.source else None
        wait = (timeout or 60.0) * 2 + 5.0  # name resolution, then the connect itself

        def dial() -> socket.socket:
            return self._connect(host, port, timeout, bind)

        path = namespace_path(self.vrf)
        try:
            if not path:
                return dial()
            with _sdk_lock:
                sdk = _sdk_vrf_mgr is not None
            if sdk:
                return dial()  # _connect asks the SDK for each socket
            return run_in_namespace(path, dial, wait)
        except VrfError as e:
            text = str(e)
            glue = " " if text.startswith("does not exist") else ": "
            raise VrfError(f"VRF {self.vrf}{glue}{text}") from None
        except ConnectionLost:
            raise
        except OSError as e:
            raise ConnectionLost(
                f"cannot reach {host}:{port} through VRF {self.vrf}: {e.strerror or e}"
            ) from None

    def _connect(
        self, host: str, port: int, timeout: Optional[float], bind: Optional[tuple[str, int]]
    ) -> socket.socket:
        """Resolve and connect (inside the namespace when called there), as
        :func:`socket.create_connection` does, one address after the other."""
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        if bind is not None:  # only the addresses of the source address's family
            family = socket.AF_INET6 if ":" in bind[0] else socket.AF_INET
            infos = [i for i in infos if i[0] == family]
            if not infos:
                raise VrfError(f"{host} has no address of the family of source {bind[0]}")
        last: Optional[OSError] = None
        for family, kind, proto, _, sockaddr in infos:
            sock = _sdk_socket(self.vrf, family) if self.vrf != DEFAULT_VRF else None
            if sock is None:
                sock = socket.socket(family, kind, proto)
            try:
                if timeout is not None:
                    sock.settimeout(timeout)
                if bind is not None:
                    try:
                        sock.bind(bind)
                    except OSError as e:
                        raise VrfError(
                            f"source address {bind[0]} is not usable: {e.strerror}"
                        ) from None
                sock.connect(sockaddr)
                return sock
            except VrfError:
                sock.close()
                raise
            except OSError as e:
                sock.close()
                last = e
        if last is not None:
            raise last
        raise OSError(f"{host} has no address")


__all__ = [
    "DEFAULT_VRF",
    "NETNS_DIR",
    "NETNS_DIR_ENV",
    "Dialer",
    "VrfError",
    "check_exists",
    "namespace_path",
    "run_in_namespace",
    "use_sdk",
]
