"""TLS towards a peer the agent logs in to (vCenter, eAPI over HTTPS): how it is verified.

What this module is for: the one set of rules both adapters use to decide whether
a peer's certificate is the right one — the system CAs, a CA file, or a SHA-256
pin of the certificate (the pin is then the whole verification) — and to check a
pin on a connected socket before anything, a password least of all, is sent.

It must never turn verification off unless the caller's configuration says so
(``verify = False``), never send or read application data, and never import an
adapter (vCenter and the switch both import it, not each other).
"""

from __future__ import annotations

import hashlib
import ssl


def thumbprint_of(der: bytes) -> str:
    """SHA-256 of a DER certificate as 64 upper-case hex digits (the config's form)."""
    return hashlib.sha256(der).hexdigest().upper()


def client_context(ca_file: str, thumbprint: str, verify: bool) -> ssl.SSLContext:
    """The SSL context for a peer: CA verification (``ca_file`` or the system's), or
    none of it when pinned (check the pin with :func:`peer_thumbprint` right after
    connecting) or when ``verify`` is false.

    Raises :class:`OSError` / :class:`ssl.SSLError` when ``ca_file`` cannot be used.
    """
    if thumbprint or not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def peer_thumbprint(sock: object) -> str:
    """The pin form of the certificate a connected TLS socket received ("none" if none)."""
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    return thumbprint_of(der) if der else "none"


__all__ = ["client_context", "peer_thumbprint", "thumbprint_of"]
