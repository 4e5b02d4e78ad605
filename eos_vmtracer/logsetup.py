"""Logging for the agent: stderr (EOS keeps a daemon's output) and the local syslog.

What this module is for: one place that decides where messages go and how they
look. Changes are logged by the agent at NOTICE-like level (``INFO``) with an
EOS-style tag (``%VMTRACER-5-VLAN_ADD: ...``, one table of them in
:mod:`eos_vmtracer.messages`) so that syslog filters and ``show logging`` on the
switch find them.

Every record is escaped here, once, for both destinations (:class:`ShownFormatter`):
the whole message, its template and its arguments, goes through
:func:`eos_vmtracer.shown.shown`, so a VM named ``"web01\\n%VMTRACER-5-..."`` can
neither forge a record nor reach a terminal's control sequences. A traceback keeps
its lines, but the exception's own text is escaped: nothing from outside starts a line.

It must never log a secret (nothing here formats configuration values), never
write a record that bypasses the escaping formatter, and a missing syslog socket
must never stop the agent: it falls back to stderr alone.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import traceback
from types import TracebackType
from typing import Optional, Tuple, Type, Union

from eos_vmtracer.config import LogConfig
from eos_vmtracer.shown import shown

_ExcInfo = Union[
    Tuple[Type[BaseException], BaseException, Optional[TracebackType]], Tuple[None, None, None]
]
STDERR_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(cfg: LogConfig, *, syslog_socket: Optional[str] = None) -> None:
    """Configure the root logger for the agent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(getattr(logging, cfg.level.upper()))
    root.addHandler(stderr_handler())
    socket_path = syslog_socket or cfg.syslog_socket
    if cfg.syslog and os.path.exists(socket_path):
        try:
            syslog = logging.handlers.SysLogHandler(
                address=socket_path, facility=logging.handlers.SysLogHandler.LOG_LOCAL4
            )
        except OSError as e:
            logging.getLogger(__name__).warning(
                "syslog unavailable (%s); logging to stderr only", e
            )
            return
        syslog.ident = "vmtracer: "
        syslog.setFormatter(ShownFormatter("%(message)s"))
        root.addHandler(syslog)
    # pyvmomi and urllib3 are chatty at INFO.
    for noisy in ("urllib3", "pyVmomi", "scapy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stderr_handler() -> logging.Handler:
    """A handler writing escaped records to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ShownFormatter(STDERR_FORMAT))
    return handler


class ShownFormatter(logging.Formatter):
    """A formatter that shows text from outside escaped (see :mod:`eos_vmtracer.shown`).

    The message is escaped after its arguments are put in, so no caller can forget
    it. A traceback keeps one line per frame; the exception texts in it (which may
    carry a name from vCenter) are escaped, each on its own line.
    """

    def format(self, record: logging.LogRecord) -> str:
        record.message = shown(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        # Not record.exc_text: another handler's formatter may have cached it unescaped.
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + "\n".join(shown(line) for line in record.exc_text.splitlines())
        if record.stack_info:
            text += "\n" + "\n".join(shown(line) for line in record.stack_info.splitlines())
        return text

    def formatException(self, ei: _ExcInfo) -> str:
        if ei[0] is None:
            return "NoneType: None"
        return "\n".join(_traceback_lines(traceback.TracebackException(ei[0], ei[1], ei[2])))


def _traceback_lines(te: traceback.TracebackException) -> list[str]:
    """The lines of ``te`` (and of its causes), each exception's text escaped."""
    lines: list[str] = []
    if te.__cause__ is not None:
        lines += _traceback_lines(te.__cause__)
        lines += ["", "The above exception was the direct cause of the following exception:", ""]
    elif te.__context__ is not None and not te.__suppress_context__:
        lines += _traceback_lines(te.__context__)
        lines += ["", "During handling of the above exception, another exception occurred:", ""]
    if te.stack:
        lines.append("Traceback (most recent call last):")
        for frame in te.stack.format():  # our own code: file, line, function, source
            lines += frame.rstrip("\n").split("\n")
    # "ValueError: <text from outside>": one line, whatever the text holds.
    lines += [shown(chunk.rstrip("\n")) for chunk in te.format_exception_only()]
    return lines
