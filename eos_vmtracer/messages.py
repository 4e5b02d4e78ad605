"""The syslog messages: one table of ``%VMTRACER-N-TAG`` ids, and the one way to log them.

What this module is for: operators filter the switch's syslog on these ids
(``show logging | include VMTRACER-5``), so they are a contract, listed in the
README in the same order as :class:`Message` (a test compares both ways). Each
member holds the EOS severity (0 emergency ... 7 debug) and the text, with
``{field}`` placeholders; :func:`emit` logs it at the Python level that follows
the severity, formatting lazily (a disabled level costs nothing). What reaches
stderr and syslog is escaped by the log formatter (:mod:`eos_vmtracer.logsetup`),
so a field may hold any text from outside.

It must never be bypassed (no ``%VMTRACER-`` literal anywhere else in the code),
never change an id or a text without the README, and never log a secret: the
fields are names, VLAN lists and error texts that are already free of secrets.
"""

from __future__ import annotations

import enum
import logging
import string
from typing import Any

_LEVELS = {
    0: logging.CRITICAL,  # emergency
    1: logging.CRITICAL,  # alert
    2: logging.CRITICAL,  # critical
    3: logging.ERROR,
    4: logging.WARNING,
    5: logging.INFO,  # notice: Python has no level between INFO and WARNING
    6: logging.INFO,
    7: logging.DEBUG,
}


@enum.unique
class Message(enum.Enum):
    """Every ``%VMTRACER-N-TAG`` message: (severity, text). The tag is the member's name."""

    START = (6, "watching {sessions} session(s), {interfaces} interface(s){dry_run}")
    STOP = (6, "stopping")
    RESTART = (6, "configuration changed; restarting the agent")
    EAPI_OK = (6, "eAPI answers")
    VLAN_ADD = (5, "{interface}: added VLAN {vlans} ({why})")
    VLAN_REMOVE = (5, "{interface}: removed VLAN {vlans} ({why})")
    VLAN_CREATE = (5, "created VLAN {vlans} (name {name})")
    VLAN_DELETE = (5, "deleted VLAN {vlan} (created by vmtracer, no longer used)")
    WITHHELD = (5, "{interface}: would {what} ({why})")
    DRIFT = (
        4,
        "{interface}: VLAN {vlans} was removed by someone else and is still needed; put it back",
    )
    DAEMON_NO_OPTION = (
        4,
        "daemon {name} sees no option: a daemon configured under another name gets no"
        " options and shows no status (is it configured as 'daemon {name}'?)",
    )
    DAEMON_NAME = (
        4,
        "registered as daemon {name}, not {expected}: 'show vm-tracer' finds the status"
        " only through the configuration file's run_dir",
    )
    EAPI_ERROR = (3, "{error}")
    APPLY_FAILED = (3, "switch unchanged or re-read next: {error}")
    VERIFY = (3, "{interface} after commit: {problem}")
    STATE_ERROR = (3, "{path}: {error}")
    LEDGER_CORRUPT = (3, "{path}: {problem}; removing nothing until a fresh ledger is written")
    INTERNAL_ERROR = (3, "{error}; the switch is left as it is, retrying with backoff")
    CONFIG = (3, "{error}")
    START_FAILED = (3, "cannot start the agent: {error}")
    CRASH = (2, "the agent stopped on an unexpected error")
    RESYNC = (5, "reading {what} again (requested); nothing is removed until it is synchronised")
    RESYNC_REFUSED = (4, "resync request refused: {error}")
    RESYNC_BAD = (4, "ignoring a resync request: {error}")

    def __new__(cls, severity: int, text: str) -> Message:
        # Numbered in order: two messages with the same severity and text (CONFIG and
        # EAPI_ERROR) stay two members instead of one becoming the other's alias.
        member = object.__new__(cls)
        member._value_ = len(cls.__members__) + 1
        return member

    def __init__(self, severity: int, text: str) -> None:
        self.severity = severity
        self.text = text
        self.level = _LEVELS[severity]
        self.fields = frozenset(f for _, f, _, _ in string.Formatter().parse(text) if f)
        head = f"%VMTRACER-{severity}-{self.name}: "
        if self.fields:
            # logging's %-style with one mapping argument: "{x}" -> "%(x)s", "%" -> "%%".
            body = text.replace("%", "%%")
            for f in self.fields:
                body = body.replace("{" + f + "}", f"%({f})s")
            self.log_format = head.replace("%", "%%") + body
        else:
            self.log_format = head + text  # no arguments: logging leaves the text as it is

    @property
    def id(self) -> str:
        """``%VMTRACER-5-VLAN_ADD``."""
        return f"%VMTRACER-{self.severity}-{self.name}"


def emit(
    logger: logging.Logger, message: Message, *, exc_info: bool = False, **fields: Any
) -> None:
    """Log ``message`` with its ``fields`` at the level its severity says."""
    if fields:
        logger.log(message.level, message.log_format, fields, exc_info=exc_info)
    else:
        logger.log(message.level, message.log_format, exc_info=exc_info)


__all__ = ["Message", "emit"]
