"""The vCenter adapter's own error types.

What this module is for: every failure the adapter meets (TLS, login, a lost
session, the network, an answer it cannot use) becomes one of these, so the session
manager can choose what to do (retry slowly, re-login, back off) and the rest of the
agent never sees a pyvmomi, ssl or socket exception.

It must never carry a password or anything read from a password file in a message.
"""

from __future__ import annotations


class VcenterError(Exception):
    """Talking to vCenter failed."""


class TlsError(VcenterError):
    """vCenter's certificate is not trusted (CA) or not the pinned one (thumbprint)."""


class AuthError(VcenterError):
    """vCenter refused the credentials, or the password could not be read."""


class SessionLost(VcenterError):
    """vCenter no longer knows the session (NotAuthenticated): log in again."""


class ConnectionLost(VcenterError):
    """The network, a timeout, the watchdog or HTTP failed: reconnect with backoff."""


class ProtocolError(VcenterError):
    """vCenter answered something the adapter cannot use (a fault, a bad document)."""


__all__ = [
    "AuthError",
    "ConnectionLost",
    "ProtocolError",
    "SessionLost",
    "TlsError",
    "VcenterError",
]
