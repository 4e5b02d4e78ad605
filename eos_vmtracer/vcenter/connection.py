"""One logged-in vCenter session over pyvmomi, with a watchdog-friendly transport.

What this module is for: open a session (TLS checked first, API version chosen,
login), make calls that translate every foreign exception into the adapter's own
errors, know which calls are in flight and since when (so a watchdog can see a hung
one), and cut every socket at once (``abort``) so no thread stays blocked on a dead
connection. ``QueryNetworkHint``, made once per host of vCenter on a first start, goes
through the stub's connection pool without pyvmomi's parser (:mod:`.hints`), and may
be called from several threads at once.

It must never log or keep the password, never send a request before the
certificate has been checked (see :mod:`eos_vmtracer.vcenter.tls`), and never let a
pyvmomi, ssl or socket exception escape.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import threading
import time
import weakref
from typing import Any, Callable, Optional
from xml.etree import ElementTree

from eos_vmtracer import __version__
from eos_vmtracer.config import SessionConfig
from eos_vmtracer.vcenter.errors import (
    AuthError,
    ConnectionLost,
    ProtocolError,
    SessionLost,
    TlsError,
    VcenterError,
)
from eos_vmtracer.vcenter.hints import MAX_ANSWER, HintFault, HintInfo, parse_answer, request_body
from eos_vmtracer.vcenter.pyvmomi import (
    SoapStubAdapter,
    ThumbprintMismatchException,
    VmomiSupport,
    vim,
    vmodl,
)
from eos_vmtracer.vcenter.soap import prune_devices
from eos_vmtracer.vcenter.tls import (
    Dial,
    host_port,
    https_connection,
    probe,
    shutdown_socket,
    ssl_context,
)

#: Used when vCenter publishes no vimServiceVersions.xml (vSphere 5.5 and later speak it).
FALLBACK_VERSION = "vim.version.version9"
#: Idle connections kept open to vCenter: the long poll's, the session helper's and
#: one for each hint call in flight (the session's HINT_CONCURRENCY, 8), so that a
#: round of hints does not open and close connections as it goes.
POOL_SIZE = 10
#: How the agent names itself to vCenter on the calls it makes without pyvmomi.
USER_AGENT = f"eos-vmtracer/{__version__}"


def choose_version(document: Optional[str]) -> str:
    """The newest vim25 API version both pyvmomi and vCenter speak."""
    if not document:
        return FALLBACK_VERSION
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        return FALLBACK_VERSION
    offered: set[str] = set()
    for ns in root.iter("namespace"):
        if (ns.findtext("name") or "").strip() != "urn:vim25":
            continue
        for version in [ns.find("version"), *ns.findall("priorVersions/version")]:
            if version is not None and version.text:
                offered.add(version.text.strip())
    for name in VmomiSupport.GetServiceVersions("vim25"):
        if not name.startswith("vim.version."):
            continue
        if VmomiSupport.versionIdMap.get(name) in offered:
            return str(name)
    return FALLBACK_VERSION


def _read_capped(resp: http.client.HTTPResponse, most: int) -> bytes:
    """The body of ``resp``, or its first ``most`` + 1 bytes when it is longer. (Not
    ``resp.read(most + 1)``: http.client allocates and zeroes a buffer of that size on
    every call, 4 MB for each hint answer of a few KB; RSS grew 5-8 MB from it.)"""
    if resp.length is not None:
        if resp.length > most:
            return resp.read(most + 1)  # refused by the caller; read no more than that
        return resp.read()
    chunks: list[bytes] = []
    size = 0
    while size <= most:
        chunk = resp.read(min(65536, most + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Connection:
    """A pyvmomi stub plus what the watchdog and the session manager need around it."""

    def __init__(
        self,
        cfg: SessionConfig,
        *,
        socket_timeout: float,
        call_timeout: float,
        dial: Optional[Dial] = None,
    ) -> None:
        self.cfg = cfg
        self.dial = dial
        """Makes the TCP connections (through a VRF, from a source address); None: the
        kernel's defaults."""
        self.socket_timeout = socket_timeout
        self.call_timeout = call_timeout
        self.version = ""
        self.stub: Any = None
        self.content: Any = None
        self._ctx: ssl.SSLContext = ssl_context(cfg)
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[http.client.HTTPSConnection] = weakref.WeakSet()
        self._inflight: dict[int, tuple[str, float]] = {}
        self._aborted = ""
        self._abort_kind: type[VcenterError] = ConnectionLost
        self.instance: Any = None

    # -- opening ---------------------------------------------------------------------------
    def open(self, password: str) -> None:
        """TLS check and version probe, then the stub, the service content and the login."""
        cfg = self.cfg
        document = probe(cfg.url, self._ctx, cfg.thumbprint, self.socket_timeout, self.dial)
        self.version = choose_version(document)
        host, port, path = host_port(cfg.url)
        try:
            stub = SoapStubAdapter(
                host=host,
                port=port,
                path=path,
                version=self.version,
                sslContext=self._ctx,
                thumbprint=cfg.thumbprint or None,
                httpConnectionTimeout=self.socket_timeout,
                poolSize=POOL_SIZE,
            )
        except Exception as e:  # pyvmomi raises bare Exception on bad arguments
            raise ProtocolError(f"cannot set up the SOAP client: {e}") from e
        stub.scheme = self._new_socket
        prune_devices(stub)  # parse only what the translator reads (see soap.py)
        self.stub = stub
        self.instance = vim.ServiceInstance("ServiceInstance", stub)
        self.content = self.call("RetrieveServiceContent", self.instance.RetrieveContent)
        self.call(
            "Login",
            self.content.sessionManager.Login,
            userName=cfg.username,
            password=password,
        )

    def _new_socket(self, host: str, **kwargs: Any) -> http.client.HTTPSConnection:
        with self._lock:
            if self._aborted:
                raise ConnectionLost(self._aborted)
            conn = https_connection(host, self.dial, **kwargs)
            self._sockets.add(conn)
        return conn

    # -- calling ---------------------------------------------------------------------------
    def call(
        self, what: str, fn: Callable[..., Any], *args: Any, timeout: float = 0.0, **kwargs: Any
    ) -> Any:
        """Call ``fn`` under a watchdog deadline; any failure becomes a VcenterError."""
        me = threading.get_ident()
        with self._lock:
            if self._aborted:
                raise self._abort_kind(f"{what}: {self._aborted}")
            self._inflight[me] = (what, time.monotonic() + (timeout or self.call_timeout))
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise self._translate(e, what) from e
        finally:
            with self._lock:
                self._inflight.pop(me, None)

    def overdue(self, now: Optional[float] = None) -> str:
        """The call that has outlived its deadline ("" when none)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for what, deadline in self._inflight.values():
                if now > deadline:
                    return what
        return ""

    def abort(self, reason: str, kind: type[VcenterError] = ConnectionLost) -> None:
        """Cut every socket now and for good: blocked calls fail at once, and so does
        every later call, with ``kind(reason)``."""
        with self._lock:
            if not self._aborted:
                self._aborted = reason
                self._abort_kind = kind
        self.interrupt()

    def interrupt(self) -> None:
        """Cut the sockets open now (blocked calls fail); later calls open new ones."""
        with self._lock:
            conns = list(self._sockets)
        for conn in conns:
            shutdown_socket(conn.sock)
        if self.stub is not None:
            with contextlib.suppress(Exception):  # closing a pool must never fail the caller
                self.stub.DropConnections()

    @property
    def aborted(self) -> str:
        return self._aborted

    def _translate(self, e: BaseException, what: str) -> VcenterError:
        if self._aborted:
            return self._abort_kind(f"{what}: {self._aborted}")
        if isinstance(e, VcenterError):
            return e
        if isinstance(e, vim.fault.InvalidLogin):
            return AuthError(f"vCenter refused the login of {self.cfg.username!r}")
        if isinstance(e, vim.fault.NotAuthenticated):
            return SessionLost(f"{what}: vCenter no longer knows this session")
        if isinstance(e, ThumbprintMismatchException):
            return TlsError(f"{what}: certificate does not match the pinned thumbprint")
        if isinstance(e, ssl.SSLCertVerificationError):
            return TlsError(f"{what}: certificate not trusted: {e.verify_message}")
        if isinstance(e, vmodl.MethodFault):
            kind = type(e).__name__.rsplit(".", 1)[-1]
            return ProtocolError(f"{what}: {kind}: {getattr(e, 'msg', '') or ''}".rstrip(": "))
        if isinstance(e, UnicodeError):  # its text quotes a character and its position
            refused: type[VcenterError] = AuthError if what == "Login" else ProtocolError
            return refused(f"{what}: the request cannot be encoded ({type(e).__name__})")
        if isinstance(e, (OSError, http.client.HTTPException)):
            return ConnectionLost(f"{what}: {e or type(e).__name__}")
        return ProtocolError(f"{what}: {type(e).__name__}: {e}")

    # -- the calls the session makes besides the watch ------------------------------------
    def network_hints(
        self, network_system: str, devices: Optional[list[str]] = None
    ) -> tuple[HintInfo, ...]:
        """QueryNetworkHint on a host's HostNetworkSystem (by moid): CDP/LLDP per vmnic
        (of ``devices`` only, when given). Safe to call from several threads at once:
        each call takes a connection of the stub's pool (see :mod:`.hints`)."""
        return self.call(  # type: ignore[no-any-return]
            "QueryNetworkHint", self._query_hints, network_system, devices
        )

    def _query_hints(
        self, network_system: str, devices: Optional[list[str]]
    ) -> tuple[HintInfo, ...]:
        stub = self.stub
        body = request_body(network_system, devices)
        headers = {
            "Cookie": stub.cookie,
            "SOAPAction": stub.versionId,
            "Content-Type": "text/xml; charset=utf-8",
            "User-Agent": USER_AGENT,
        }
        conn = stub.GetConnection()
        try:
            conn.request("POST", stub.path, body, headers)
            resp = conn.getresponse()
            encoding = (resp.getheader("Content-Encoding") or "identity").lower()
            data = _read_capped(resp, MAX_ANSWER)
        except BaseException:
            conn.close()
            stub.DropConnections()  # as pyvmomi does: the server may be sick
            raise
        problem = ""
        if resp.status not in (200, 500):
            problem = f"HTTP {resp.status} {resp.reason}"
        elif encoding != "identity":
            problem = f"an answer encoded {encoding!r}"
        elif len(data) > MAX_ANSWER:  # unread bytes may follow: the connection goes too
            problem = f"an answer over {MAX_ANSWER} bytes"
        if problem or resp.will_close:
            conn.close()
        else:
            stub.ReturnConnection(conn)
        if problem:
            raise ProtocolError(f"QueryNetworkHint: {problem}")
        answer = parse_answer(data)
        if isinstance(answer, HintFault):
            if answer.kind == "NotAuthenticated":
                raise SessionLost("QueryNetworkHint: vCenter no longer knows this session")
            text = f"QueryNetworkHint: {answer.kind}: {answer.message}"
            raise ProtocolError(text.rstrip(": "))
        if resp.status != 200:
            raise ProtocolError(f"QueryNetworkHint: HTTP {resp.status} without a fault")
        return answer

    def keepalive(self) -> None:
        """A cheap call that fails with SessionLost when vCenter forgot the session."""
        self.call("CurrentTime", self.instance.CurrentTime)

    # -- closing ---------------------------------------------------------------------------
    def logout(self, timeout: float = 5.0) -> None:
        """Log out (best effort: a dead session or network is not an error here)."""
        if self.content is None or self._aborted:
            return
        with contextlib.suppress(VcenterError):
            self.call("Logout", self.content.sessionManager.Logout, timeout=timeout)


__all__ = ["FALLBACK_VERSION", "Connection", "choose_version"]
