"""TLS towards vCenter: the SSL context, certificate pinning and the first request.

What this module is for: build the SSL context a session uses (system CAs, a CA
file, or a SHA-256 pin with verification by the pin alone), and make the first
contact (``probe``): connect, check the certificate, and only then read
``/sdk/vimServiceVersions.xml`` to learn which API versions vCenter speaks.

It must never send a request before the certificate has been checked, never turn
verification off unless the configuration says so, and never import pyvmomi.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from eos_vmtracer.config import SessionConfig
from eos_vmtracer.tls import client_context, peer_thumbprint, thumbprint_of
from eos_vmtracer.vcenter.errors import ConnectionLost, TlsError

MAX_VERSIONS_DOCUMENT = 1 << 20

#: Makes a connected TCP socket, as :func:`socket.create_connection` does (see
#: :class:`eos_vmtracer.vcenter.vrf.Dialer`: through a VRF, from a source address).
Dial = Callable[..., socket.socket]


def https_connection(host: str, dial: Optional[Dial], **kwargs: Any) -> http.client.HTTPSConnection:
    """An HTTPS connection whose TCP socket ``dial`` makes (None: the kernel's defaults)."""
    conn = http.client.HTTPSConnection(host, **kwargs)
    if dial is not None:
        # http.client opens its socket through this attribute (every Python since 3.4).
        conn._create_connection = dial  # type: ignore[attr-defined]
    return conn


def ssl_context(cfg: SessionConfig) -> ssl.SSLContext:
    """The SSL context for ``cfg``: CA verification, or none when pinned or disabled.

    With a thumbprint the pin is the verification (checked by :func:`probe` and on
    every connection by pyvmomi); with ``tls_verify = false`` nothing is checked.
    """
    return client_context(cfg.ca_file, cfg.thumbprint, cfg.tls_verify)


def host_port(url: str) -> tuple[str, int, str]:
    """Host, port and path of an ``https://host[:port]/sdk`` URL."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 443, (parts.path or "/sdk").rstrip("/") or "/sdk"


def probe(
    url: str, ctx: ssl.SSLContext, pin: str, timeout: float, dial: Optional[Dial] = None
) -> Optional[str]:
    """Connect to vCenter, check its certificate, then fetch vimServiceVersions.xml.

    Returns the document (None when vCenter has none). Raises :class:`TlsError` when
    the certificate is refused or does not match ``pin`` (nothing has been sent
    then), :class:`ConnectionLost` when vCenter cannot be reached.
    """
    host, port, path = host_port(url)
    conn = https_connection(host, dial, port=port, timeout=timeout, context=ctx)
    try:
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as e:
            raise TlsError(f"certificate of {host}:{port} not trusted: {e.verify_message}") from e
        except ConnectionLost:
            raise
        except (OSError, http.client.HTTPException) as e:
            raise ConnectionLost(f"cannot reach {host}:{port}: {e}") from e
        if pin:
            seen = peer_thumbprint(conn.sock)
            if seen != pin:
                raise TlsError(
                    f"certificate of {host}:{port} has SHA-256 thumbprint {seen},"
                    f" not the pinned {pin}"
                )
        try:
            conn.request("GET", path + "/vimServiceVersions.xml")
            resp = conn.getresponse()
            body = resp.read(MAX_VERSIONS_DOCUMENT)
        except (OSError, http.client.HTTPException) as e:
            raise ConnectionLost(f"{host}:{port}: {e}") from e
        if resp.status != 200:
            return None
        return body.decode("utf-8", "replace")
    finally:
        conn.close()


def shutdown_socket(sock: object) -> None:
    """Cut a (TLS) socket under a thread blocked on it, without touching its SSL state."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


__all__ = [
    "Dial",
    "host_port",
    "https_connection",
    "probe",
    "shutdown_socket",
    "ssl_context",
    "thumbprint_of",
]
