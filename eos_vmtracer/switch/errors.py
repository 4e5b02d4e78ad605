"""The switch adapter's error types and the one rule that sorts EOS's answers into them.

What this module is for: callers (the agent, ``vmtracer check``) must be able to
tell "try again later" from "this will never work" without knowing eAPI. Every
failure of the switch adapter is a :class:`SwitchError` carrying the command that
failed (or ``""``) and EOS's own message; :func:`classify_eapi_error` and
:func:`classify_http_status` decide whether it is transient or permanent.

It must never import pyeapi (the transport translates pyeapi's and the socket
layer's exceptions into these), never hold a secret in a message, and never guess
"permanent" for something a retry can fix: a lock, a busy session or a timeout is
always transient.
"""

from __future__ import annotations

from typing import Optional

# eAPI error codes (JSON-RPC ``error.code``) as EOS sends them.
INVALID_COMMAND = 1002  # "invalid command": the CLI did not parse it
COULD_NOT_RUN = 1000  # "could not run command": it parsed, EOS refused to do it
INCOMPATIBLE_VERSION = 1001
COMMAND_UNCONVERTED = 1003  # text-only command asked for in JSON
COMMAND_INCOMPATIBLE = 1004
UNAUTHORIZED = 1005  # "Command unauthorized: user has insufficient permissions"
JSONRPC_INTERNAL = -32603  # JSON-RPC "internal error" (the server side hiccupped)

#: Words in an EOS error that mean "someone else holds it right now": retry later.
_TRANSIENT_WORDS = (
    "locked",
    "lock is held",
    "in use",
    "busy",
    "timed out",
    "timeout",
    "try again",
    "temporarily",
    "maximum number of pending sessions",
    "not ready",
)


class SwitchError(Exception):
    """Something went wrong talking to the switch.

    ``command`` is the eAPI command that failed (``""`` when the request as a whole
    failed, e.g. the connection), ``message`` is what EOS or the transport said,
    ``code`` the eAPI error code or HTTP status when there is one.
    """

    def __init__(self, message: str, command: str = "", code: Optional[int] = None) -> None:
        self.message = message
        self.command = command
        self.code = code
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"'{self.command}': " if self.command else ""
        what = f" [eAPI error {self.code}]" if self.code is not None else ""
        return f"{where}{self.message}{what}"


class TransientSwitchError(SwitchError):
    """The switch could not be reached or was busy: the same request may work later.

    Connection refused or reset, timeout, HTTP 5xx, a configuration session or
    lock held by someone else.
    """


class CommittedSwitchError(TransientSwitchError):
    """The plan WAS committed, but the switch's answer after the commit could not be
    read (a malformed or missing ``show`` after ``commit``).

    The change is on the switch: a caller must keep what it recorded before the
    commit (ownership) and read the facts again; it must not take it for a
    rejected change.
    """


class PermanentSwitchError(SwitchError):
    """EOS refused the request itself: retrying the same request cannot help.

    Invalid command (1002), unauthorized (1005, HTTP 401/403), bad input.
    """


def is_transient_message(message: str) -> bool:
    """True when an EOS error text describes a lock, a busy resource or a timeout."""
    low = message.lower()
    return any(word in low for word in _TRANSIENT_WORDS)


def classify_eapi_error(code: int, message: str, command: str = "") -> SwitchError:
    """The error for a JSON-RPC ``error`` from eAPI (``code`` and EOS's message)."""
    if code == JSONRPC_INTERNAL or is_transient_message(message):
        return TransientSwitchError(message, command, code)
    return PermanentSwitchError(message, command, code)


def classify_http_status(status: int, reason: str) -> SwitchError:
    """The error for an HTTP answer that is not a JSON-RPC response."""
    text = f"HTTP {status} {reason}".strip()
    if status in (401, 403):
        return PermanentSwitchError(f"{text}: eAPI refused the credentials", code=status)
    if status >= 500 or status in (408, 429):
        return TransientSwitchError(f"{text} from eAPI", code=status)
    return PermanentSwitchError(f"{text} from eAPI", code=status)
