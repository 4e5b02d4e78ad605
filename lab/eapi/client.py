"""A client for a running emulator: raw ``runCmds`` and the ``/lab`` control API.

What this module is for: tests and the demo that run the emulator in another
process (``python -m lab.eapi``) inject faults, read the request counter,
read or replace the configuration, and make "operator" changes with plain
``runCmds`` requests — over HTTP or over the Unix socket.

It must never import the project under test (``eos_vmtracer``) or pyeapi: it
speaks HTTP with the standard library, so it cannot share a bug with the adapter.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from typing import Any, Optional


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class LabClient:
    """Talks to one emulator, by ``url`` (``http://127.0.0.1:PORT``) or ``socket_path``."""

    def __init__(
        self,
        url: Optional[str] = None,
        socket_path: Optional[str] = None,
        *,
        auth: Optional[tuple[str, str]] = None,
        timeout: float = 10.0,
    ) -> None:
        if (url is None) == (socket_path is None):
            raise ValueError("give url or socket_path")
        self.url, self.socket_path, self.timeout = url, socket_path, timeout
        self.auth = auth

    def _connection(self) -> http.client.HTTPConnection:
        if self.socket_path is not None:
            return _UnixHTTPConnection(self.socket_path, self.timeout)
        assert self.url is not None
        scheme, _, host_port = self.url.partition("://")
        host, _, port = host_port.rstrip("/").partition(":")
        if scheme == "https":  # the lab's self-signed certificate
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                host, int(port or 443), timeout=self.timeout, context=context
            )
        return http.client.HTTPConnection(host, int(port or 80), timeout=self.timeout)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """One HTTP request; (status, body)."""
        conn = self._connection()
        headers = {"Content-Type": "application/json"}
        if self.auth is not None:
            import base64

            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        data = None if body is None else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:200]!r}")
        return json.loads(data)

    # -- eAPI -----------------------------------------------------------------------------

    def run_cmds(self, cmds: list[Any], fmt: str = "json") -> dict[str, Any]:
        """A raw JSON-RPC ``runCmds``; the whole JSON-RPC answer (result or error)."""
        body = {
            "jsonrpc": "2.0",
            "method": "runCmds",
            "params": {"version": 1, "cmds": cmds, "format": fmt},
            "id": "lab",
        }
        answer: dict[str, Any] = self._json("POST", "/command-api", body)
        return answer

    def configure(self, *lines: str) -> dict[str, Any]:
        """An operator's change: ``enable``, ``configure``, ``lines``, ``end``."""
        return self.run_cmds(["enable", "configure", *lines, "end"])

    # -- control --------------------------------------------------------------------------

    def fault(self, kind: str, **params: Any) -> int:
        fault_id: int = self._json("POST", "/lab/fault", {"kind": kind, **params})["id"]
        return fault_id

    def clear_faults(self) -> None:
        self._json("DELETE", "/lab/faults")

    def requests(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self._json("GET", "/lab/requests")["requests"]
        return requests

    def request_count(self) -> int:
        count: int = self._json("GET", "/lab/requests")["count"]
        return count

    def reset_requests(self) -> None:
        self._json("DELETE", "/lab/requests")

    def running_config(self) -> str:
        status, data = self.request("GET", "/lab/config")
        if status != 200:
            raise RuntimeError(f"GET /lab/config: HTTP {status}")
        return data.decode()

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._json("GET", "/lab/state")
        return state

    def set_state(self, spec: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = self._json("PUT", "/lab/state", spec)
        return state

    def sessions(self) -> dict[str, Any]:
        sessions: dict[str, Any] = self._json("GET", "/lab/sessions")["sessions"]
        return sessions
