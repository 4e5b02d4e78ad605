"""One eAPI request over pyeapi's transports, with every failure translated.

What this module is for: the only place that imports pyeapi. It builds pyeapi's
connection for the configured transport (``socket``: HTTP over the Unix socket
``/var/run/command-api.sock``; ``http_local``; ``http``; ``https``), sends one
JSON-RPC ``runCmds`` request and returns a :class:`Reply`: the per-command
results, and for a command error the failing command's index and a
:class:`SwitchError` naming it with EOS's message.

pyeapi's own ``send`` turns every HTTP status but 401 into "unable to connect"
and raises on the first command error without saying which command it was, so
the exchange itself is driven here over pyeapi's connection object (its
``transport``, an ``http.client`` connection that already knows the Unix socket,
the port and the TLS context) with pyeapi's request builder.

Over ``https`` the switch's certificate is verified before the request (and its
password) is sent: against the system CAs or ``switch.eapi_ca_file`` (host name
included), or against the SHA-256 pin ``switch.eapi_thumbprint``, checked on the
connected socket first. Only an explicit ``switch.eapi_tls_verify = false`` turns
that off, and it is logged as a warning.

It must never retry (the caller decides), never log or put a password in a
message, never send a request to a TLS peer it has not verified (unless told
so), and never let a pyeapi, socket, TLS or ``http.client`` exception escape.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

import pyeapi.eapilib as eapilib

from eos_vmtracer import passwords
from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.switch.errors import (
    PermanentSwitchError,
    SwitchError,
    TransientSwitchError,
    classify_eapi_error,
    classify_http_status,
)
from eos_vmtracer.tls import client_context, peer_thumbprint

log = logging.getLogger(__name__)

Command = Union[str, Mapping[str, Any]]

_CONNECTIONS = {
    "socket": eapilib.SocketEapiConnection,
    "http_local": eapilib.HttpLocalEapiConnection,
    "http": eapilib.HttpEapiConnection,
    "https": eapilib.HttpsEapiConnection,
}
_FAILED_AT = re.compile(r"CLI command (\d+) of (\d+)")
_REASON = re.compile(r"failed: (.*)$")


@dataclass
class Reply:
    """What eAPI answered to one request."""

    # The outputs of the commands that ran, in order, as EOS sent them: each is checked
    # where it is read (never replaced by an invented empty one).
    results: list[Any] = field(default_factory=list)
    error: Optional[SwitchError] = None  # the command error, naming the command
    failed: Optional[int] = None  # index of the failing command


class EapiTransport:
    """Sends ``runCmds`` requests to one switch; one short-lived connection per request."""

    def __init__(self, cfg: SwitchConfig) -> None:
        self.requests = 0  # requests sent (tests and benchmarks read it)
        self._timeout = float(cfg.eapi_timeout)
        self._auth = ""
        self._pin = cfg.eapi_thumbprint if cfg.eapi_transport == "https" else ""
        kind = cfg.eapi_transport
        self._tcp = kind != "socket"
        if kind not in _CONNECTIONS:
            raise PermanentSwitchError(f"unknown eAPI transport {kind!r}")
        kwargs: dict[str, Any] = {"timeout": self._timeout}
        if kind == "socket":
            kwargs["path"] = cfg.eapi_socket
            self.where = f"unix:{cfg.eapi_socket}"
        else:
            host = cfg.eapi_host if kind in ("http", "https") else "localhost"
            self.where = f"{kind}://{host}:{cfg.eapi_port or 'default'}"
            if cfg.eapi_port:
                kwargs["port"] = cfg.eapi_port
        if kind in ("http", "https"):
            password = _password(cfg)
            kwargs.update(host=cfg.eapi_host, username=cfg.eapi_username, password=password)
            token = base64.b64encode(f"{cfg.eapi_username}:{password}".encode()).decode()
            self._auth = f"Basic {token}"
        if kind == "https":
            kwargs["context"] = _tls_context(cfg)
            if not cfg.eapi_tls_verify:
                log.warning(
                    "TLS verification is OFF for eAPI at %s (switch.eapi_tls_verify = false):"
                    " anyone on the path can impersonate the switch and read the eAPI password",
                    self.where,
                )
        try:
            self._conn = _CONNECTIONS[kind](**kwargs)
        except (ValueError, TypeError, OSError) as e:
            raise PermanentSwitchError(f"cannot set up eAPI transport {kind}: {e}") from e

    def send(self, commands: Sequence[Command], fmt: str = "json") -> Reply:
        """Send one request; raise only when no JSON-RPC answer came back."""
        body = self._conn.request(list(commands), encoding=fmt)
        self.requests += 1
        log.debug("eAPI request %d to %s: %d commands", self.requests, self.where, len(commands))
        status, reason, text = self._post(body)
        if status != 200:
            raise classify_http_status(status, reason)
        try:
            answer = json.loads(text)
        except ValueError as e:
            raise TransientSwitchError(f"eAPI at {self.where} sent a reply that is not JSON") from e
        return parse_reply(answer, commands)

    def close(self) -> None:
        """Drop the connection (a later :meth:`send` opens a new one)."""
        self._conn.transport.close()

    def _check_pin(self, sock: object) -> None:
        """Refuse a peer whose certificate is not the pinned one (before anything is sent)."""
        seen = peer_thumbprint(sock)
        if seen != self._pin:
            raise PermanentSwitchError(
                f"TLS to eAPI at {self.where}: certificate SHA-256 thumbprint {seen},"
                f" not the pinned {self._pin} (switch.eapi_thumbprint)"
            )

    def _post(self, body: str) -> tuple[int, str, str]:
        conn: http.client.HTTPConnection = self._conn.transport
        headers = {"Content-Type": "application/json-rpc"}
        if self._auth:
            headers["Authorization"] = self._auth
        try:
            conn.connect()
            if self._pin:
                self._check_pin(conn.sock)
            if self._tcp:
                # http.client writes headers and body separately: without this, Nagle
                # and the server's delayed ACK add ~40 ms to every request.
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request("POST", "/command-api", body=body.encode(), headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            return response.status, response.reason or "", text
        except socket.timeout as e:
            raise TransientSwitchError(
                f"no answer from eAPI at {self.where} within {self._timeout:g}s"
            ) from e
        except ssl.SSLCertVerificationError as e:
            raise PermanentSwitchError(
                f"TLS to eAPI at {self.where}: certificate not trusted: {e.verify_message}"
            ) from e
        except PermissionError as e:
            raise PermanentSwitchError(f"eAPI at {self.where}: permission denied") from e
        except FileNotFoundError as e:
            raise TransientSwitchError(
                f"eAPI socket {self.where} does not exist "
                "(is 'protocol unix-socket' on under 'management api http-commands'?)"
            ) from e
        except (OSError, http.client.HTTPException) as e:
            what = type(e).__name__
            raise TransientSwitchError(f"eAPI at {self.where}: {what}: {e}".rstrip(": ")) from e
        finally:
            conn.close()


def parse_reply(answer: Any, commands: Sequence[Command]) -> Reply:
    """Turn a decoded JSON-RPC answer into a :class:`Reply` (pure; tests use it directly)."""
    if not isinstance(answer, Mapping):
        raise TransientSwitchError("eAPI sent a JSON-RPC reply that is not an object")
    error = answer.get("error")
    if error is None:
        results = answer.get("result")
        if not isinstance(results, list) or len(results) != len(commands):
            raise TransientSwitchError("eAPI sent a reply without one result per command")
        return Reply(results=list(results))
    if not isinstance(error, Mapping):
        raise TransientSwitchError("eAPI sent a malformed JSON-RPC error")
    code = error.get("code")
    code = code if isinstance(code, int) else -32603
    message = str(error.get("message", ""))
    data = error.get("data")
    data = data if isinstance(data, list) else []
    index = _failed_index(message, data, len(commands))
    command = _text(commands[index]) if index is not None else ""
    details: list[str] = []
    if index is not None and index < len(data) and isinstance(data[index], Mapping):
        details = [str(x) for x in data[index].get("errors") or []]
    reason_match = _REASON.search(message)
    reason = reason_match.group(1) if reason_match else message
    text = f"{reason}: {'; '.join(details)}" if details else reason
    results = list(data[: index if index is not None else 0])
    return Reply(results=results, error=classify_eapi_error(code, text, command), failed=index)


def _failed_index(message: str, data: list[Any], count: int) -> Optional[int]:
    match = _FAILED_AT.search(message)
    if match:
        index = int(match.group(1)) - 1
        if 0 <= index < count:
            return index
    for i, item in enumerate(data):  # the first entry carrying errors
        if isinstance(item, Mapping) and item.get("errors"):
            return i if i < count else None
    return None


def _text(command: Command) -> str:
    if isinstance(command, Mapping):
        return str(command.get("cmd", ""))
    return command


def _tls_context(cfg: SwitchConfig) -> ssl.SSLContext:
    try:
        return client_context(cfg.eapi_ca_file, cfg.eapi_thumbprint, cfg.eapi_tls_verify)
    except (ssl.SSLError, OSError) as e:
        what = getattr(e, "strerror", None) or getattr(e, "reason", None) or type(e).__name__
        raise PermanentSwitchError(
            f"cannot use switch.eapi_ca_file {cfg.eapi_ca_file}: {what}"
        ) from e


def _password(cfg: SwitchConfig) -> str:
    try:
        if cfg.eapi_password_file:
            return passwords.from_file(cfg.eapi_password_file)
        if cfg.eapi_password_env:
            if cfg.eapi_password_env not in os.environ:
                raise PermanentSwitchError(
                    f"environment variable {cfg.eapi_password_env}"
                    " (switch.eapi_password_env) is unset"
                )
            return passwords.from_env(cfg.eapi_password_env)
    except passwords.PasswordError as e:
        raise PermanentSwitchError(f"switch.eapi_password: {e}") from None
    return ""
