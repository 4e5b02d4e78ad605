"""The eAPI emulator's servers: JSON-RPC ``runCmds`` over HTTP and over a Unix socket.

What this module is for: :class:`EapiEmulator` serves ``POST /command-api`` the way
EOS does — over TCP (``http``/``http_local`` transports, optional Basic auth) and
over a Unix socket speaking the same HTTP (pyeapi's ``socket`` transport opens an
``http.client`` connection on the socket and sends ``POST /command-api`` with
``Content-Type: application/json-rpc``) — plus a small control API on the same
servers for tests and the demo:

- ``GET /lab/requests`` (count and list of requests), ``DELETE /lab/requests``
  (in-process, :attr:`EapiEmulator.http_requests` also lists every HTTP request
  and whether it carried credentials);
- ``POST /lab/fault`` (JSON fault, answer ``{"id": N}``), ``GET /lab/faults``,
  ``DELETE /lab/faults``;
- ``GET /lab/config`` (``show running-config`` text), ``GET /lab/state`` (JSON),
  ``PUT /lab/state`` (replace it), ``GET /lab/sessions``.

Faults (each fires ``count`` times, ``null`` for ever): ``latency`` (``seconds``
before anything runs, or with ``when`` = ``after``: after everything ran, before
the answer — a client that gives up meanwhile loses an answer whose commands took
effect), ``fail`` (a ``command`` — exact text, or ``regex`` — fails with
``code`` and ``message``), ``session_locked`` (``configure session NAME`` fails as
when another session holds the lock), ``drop`` (the connection is closed without an
answer: ``when`` = ``before`` anything runs, ``after`` everything ran, or
``command`` = just before the command matching ``command`` runs), ``http``
(answer with HTTP ``status`` and a non-JSON body). A ``latency`` or ``drop`` fault
with ``when`` = ``before``/``after`` and a ``command`` fires only for requests
that contain a matching command (e.g. only the one that commits).

It must never bind anything but the address it is given (loopback by default) and
never leave its socket file behind after :meth:`EapiEmulator.stop`.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import re
import socketserver
import ssl
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any, Optional

from lab.eapi.cli import COULD_NOT_RUN, CliError, Engine
from lab.eapi.state import SwitchState

FAULT_KINDS = ("latency", "fail", "session_locked", "drop", "http")
LOCKED_MESSAGE = (
    "Cannot enter configuration session: the configuration is locked by another session"
)


@dataclass
class Fault:
    """One injected fault."""

    id: int
    kind: str
    count: Optional[int] = 1
    seconds: float = 0.0
    command: str = ""
    regex: bool = False
    code: int = COULD_NOT_RUN
    message: str = "injected failure"
    when: str = "before"
    status: int = 503
    fired: int = 0

    def live(self) -> bool:
        return self.count is None or self.fired < self.count

    def matches(self, command: str) -> bool:
        if self.kind == "session_locked":
            return re.fullmatch(r"configure session \S+", command.strip()) is not None
        if self.regex:
            return re.search(self.command, command) is not None
        return command.strip() == self.command.strip()


@dataclass
class Endpoints:
    """Where a started emulator listens."""

    http_port: Optional[int]
    url: Optional[str]
    socket_path: Optional[str]


class _Dropped(Exception):
    """Close the connection without answering."""


class EapiEmulator:
    """A stateful EOS eAPI stand-in; see the module docstring."""

    def __init__(
        self, state: Optional[SwitchState] = None, *, users: Optional[dict[str, str]] = None
    ) -> None:
        self.engine = Engine(state if state is not None else SwitchState.build())
        self.users = dict(users or {})
        self._faults: list[Fault] = []
        self._requests: list[dict[str, Any]] = []
        self._http: list[dict[str, Any]] = []  # every HTTP request, with or without auth
        self._meta = threading.Lock()  # faults and the request log
        self._next_fault = 1
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.http_port: Optional[int] = None
        self.socket_path: Optional[str] = None
        self.host = "127.0.0.1"
        self.scheme = "http"

    # -- life cycle -----------------------------------------------------------------------

    def start(
        self,
        http_port: Optional[int] = 0,
        socket_path: Optional[str] = None,
        host: str = "127.0.0.1",
        tls: Optional[tuple[str, str]] = None,
    ) -> Endpoints:
        """Serve HTTP on ``host:http_port`` (0: any free port; None: no HTTP) and/or
        the Unix socket ``socket_path``; ``tls=(certfile, keyfile)`` makes it HTTPS."""
        self.host = host
        if http_port is not None:
            tcp = _TcpServer((host, http_port), _Handler)
            tcp.emulator, tcp.transport = self, "http"
            if tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*tls)
                tcp.socket = context.wrap_socket(tcp.socket, server_side=True)
                self.scheme = "https"
            self.http_port = tcp.server_address[1]
            self._serve(tcp)
        if socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(socket_path)
            unix = _UnixServer(socket_path, _Handler)
            unix.emulator, unix.transport = self, "socket"
            self.socket_path = socket_path
            self._serve(unix)
        return Endpoints(self.http_port, self.url, self.socket_path)

    @property
    def url(self) -> Optional[str]:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS; None without HTTP)."""
        if self.http_port is None:
            return None
        return f"{self.scheme}://{self.host}:{self.http_port}"

    def stop(self) -> None:
        """Stop serving and remove the socket file."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        if self.socket_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)

    def __enter__(self) -> EapiEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, server: socketserver.BaseServer) -> None:
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="eapi-emulator", daemon=True
        )
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)

    # -- control --------------------------------------------------------------------------

    def add_fault(self, kind: str, **params: Any) -> int:
        """Inject a fault (see the module docstring); returns its id."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._meta:
            fault = Fault(id=self._next_fault, kind=kind, **params)
            self._next_fault += 1
            self._faults.append(fault)
            return fault.id

    def clear_faults(self) -> None:
        with self._meta:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._meta:
            return [asdict(f) for f in self._faults]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every ``/command-api`` request received, oldest first."""
        with self._meta:
            return [dict(r) for r in self._requests]

    @property
    def http_requests(self) -> list[dict[str, Any]]:
        """Every HTTP request that reached the server (after TLS, if any), oldest first:
        transport, method, path and whether it carried an ``Authorization`` header."""
        with self._meta:
            return [dict(r) for r in self._http]

    def note_http(self, transport: str, method: str, path: str, authorization: bool) -> None:
        with self._meta:
            self._http.append(
                {
                    "transport": transport,
                    "method": method,
                    "path": path,
                    "authorization": authorization,
                }
            )

    @property
    def request_count(self) -> int:
        with self._meta:
            return len(self._requests)

    def reset_requests(self) -> None:
        with self._meta:
            self._requests.clear()

    def running_config(self) -> str:
        with self.engine.lock:
            return self.engine.running.running_config()

    def state(self) -> SwitchState:
        """A copy of the running configuration."""
        with self.engine.lock:
            return self.engine.running.copy()

    def set_state(self, state: SwitchState) -> None:
        with self.engine.lock:
            self.engine.running = state.copy()
            self.engine.sessions.clear()

    def sessions(self) -> dict[str, dict[str, Any]]:
        with self.engine.lock:
            return self.engine.session_view()

    # -- the JSON-RPC request -------------------------------------------------------------

    def _take(
        self, kind: str, when: Optional[str] = None, texts: Optional[list[str]] = None
    ) -> list[Fault]:
        with self._meta:
            out = []
            for f in self._faults:
                if f.kind == kind and f.live() and (when is None or f.when == when):
                    if f.command and texts is not None and not any(map(f.matches, texts)):
                        continue
                    f.fired += 1
                    out.append(f)
            return out

    def _log(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._meta:
            entry["n"] = len(self._requests) + 1
            self._requests.append(entry)
            return entry

    def handle_rpc(self, body: bytes, transport: str) -> tuple[int, str, bytes]:
        """(HTTP status, content type, body) for one ``POST /command-api``."""
        try:
            request = json.loads(body)
        except ValueError:
            return _rpc_error(None, -32700, "Parse error")
        if not isinstance(request, dict):
            return _rpc_error(None, -32600, "Invalid Request")
        rid = request.get("id")
        raw_params = request.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        cmds = params.get("cmds")
        fmt = params.get("format") or "json"
        if request.get("method") != "runCmds":
            return _rpc_error(rid, -32601, "Method not found")
        if (
            not isinstance(cmds, list)
            or fmt not in ("json", "text")
            or not all(isinstance(c, str) or (isinstance(c, dict) and "cmd" in c) for c in cmds)
        ):
            return _rpc_error(rid, -32602, "Invalid params")
        texts = [c["cmd"] if isinstance(c, dict) else c for c in cmds]
        entry = self._log({"transport": transport, "cmds": texts, "format": fmt, "result": "?"})

        for fault in self._take("http"):
            entry["result"] = f"http {fault.status}"
            return fault.status, "text/html", b"<html><body>injected HTTP error</body></html>"
        delay = sum(f.seconds for f in self._take("latency", "before", texts))
        if delay:
            time.sleep(delay)
        if self._take("drop", "before", texts):
            entry["result"] = "dropped"
            raise _Dropped()

        def hook(index: int, command: str) -> None:
            with self._meta:
                for f in self._faults:
                    if f.kind not in ("fail", "session_locked", "drop") or not f.live():
                        continue
                    if f.kind == "drop" and f.when != "command":
                        continue
                    if not f.matches(command):
                        continue
                    if f.kind == "drop" and f.when == "command":
                        f.fired += 1
                        raise _Dropped()
                    if f.kind == "fail":
                        f.fired += 1
                        raise CliError(f.code, [f.message])
                    if f.kind == "session_locked":
                        f.fired += 1
                        raise CliError(COULD_NOT_RUN, [LOCKED_MESSAGE])

        try:
            results, failure = self.engine.execute(cmds, fmt, hook)
        except _Dropped:
            entry["result"] = "dropped"
            raise
        if self._take("drop", "after", texts):
            entry["result"] = "dropped"
            raise _Dropped()
        late = sum(f.seconds for f in self._take("latency", "after", texts))
        if late:
            entry["late"] = late  # it ran; the answer comes ``late`` seconds later
            time.sleep(late)
        if failure is None:
            entry["result"] = "ok"
            return _json(200, {"jsonrpc": "2.0", "id": rid, "result": results})
        index, error = failure
        entry["result"], entry["code"], entry["failed"] = "error", error.code, index
        message = f"CLI command {index + 1} of {len(cmds)} '{texts[index]}' failed: {error.reason}"
        data = [*results, {**error.data, "errors": error.errors}]
        return _json(
            200,
            {
                "jsonrpc": "2.0",
                "id": rid,
                "error": {"code": error.code, "message": message, "data": data},
            },
        )

    def handle_control(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        """(HTTP status, content type, body) for one ``/lab/...`` request."""
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return _json(400, {"error": "body is not JSON"})
        route = (method, path.rstrip("/"))
        if route == ("GET", "/lab/requests"):
            requests = self.requests
            return _json(200, {"count": len(requests), "requests": requests})
        if route == ("DELETE", "/lab/requests"):
            self.reset_requests()
            return _json(200, {"count": 0})
        if route == ("POST", "/lab/fault"):
            if not isinstance(payload, dict) or "kind" not in payload:
                return _json(400, {"error": 'expected {"kind": ..., ...}'})
            params = dict(payload)
            kind = params.pop("kind")
            try:
                return _json(200, {"id": self.add_fault(kind, **params)})
            except (TypeError, ValueError) as e:
                return _json(400, {"error": str(e)})
        if route == ("GET", "/lab/faults"):
            return _json(200, {"faults": self.faults()})
        if route == ("DELETE", "/lab/faults"):
            self.clear_faults()
            return _json(200, {"faults": []})
        if route == ("GET", "/lab/config"):
            return 200, "text/plain", self.running_config().encode()
        if route == ("GET", "/lab/state"):
            return _json(200, self.state().to_dict())
        if route == ("PUT", "/lab/state"):
            if not isinstance(payload, dict):
                return _json(400, {"error": "expected a state object"})
            self.set_state(SwitchState.from_spec(payload))
            return _json(200, self.state().to_dict())
        if route == ("GET", "/lab/sessions"):
            return _json(200, {"sessions": self.sessions()})
        return _json(404, {"error": f"no route {method} {path}"})

    def authorized(self, header: Optional[str]) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.users.get(user) == password


def _json(status: int, obj: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(obj).encode()


def _rpc_error(rid: Any, code: int, message: str) -> tuple[int, str, bytes]:
    return _json(200, {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the
        # client's delayed ACK add ~40 ms to every answer over TCP (not on AF_UNIX).
        self.disable_nagle_algorithm = self.server.transport == "http"  # type: ignore[misc]
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # quiet (and AF_UNIX-safe)
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, ctype: str, body: bytes, extra: Optional[dict[str, str]] = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _dispatch(self, method: str) -> None:
        emulator: EapiEmulator = self.server.emulator
        body = self._body()
        path = self.path.split("?", 1)[0]
        emulator.note_http(
            self.server.transport, method, path, self.headers.get("Authorization") is not None
        )
        try:
            if path.startswith("/lab/"):
                self._send(*emulator.handle_control(method, path, body))
                return
            if path != "/command-api" or method != "POST":
                self._send(404, "text/plain", b"Not Found")
                return
            transport = self.server.transport
            if transport == "http" and not emulator.authorized(self.headers.get("Authorization")):
                headers = {"WWW-Authenticate": 'Basic realm="eAPI"'}
                self._send(401, "text/plain", b"Unauthorized", headers)
                return
            try:
                answer = emulator.handle_rpc(body, transport)
            except _Dropped:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            except Exception:
                traceback.print_exc()  # an emulator bug: loud, and a 500 for the client
                self._send(500, "text/plain", b"emulator error")
                return
            self._send(*answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class _Quiet:
    """Connection errors from clients that went away are not server errors."""

    emulator: EapiEmulator
    transport: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)  # type: ignore[misc]


class _TcpServer(_Quiet, http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UnixServer(_Quiet, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
