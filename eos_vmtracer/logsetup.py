"""Logging for the agent: stderr (EOS keeps a daemon's output) and the local syslog.

What this module is for: one place that decides where messages go and how they
look. Changes are logged by the agent at NOTICE-like level (``INFO``) with an
EOS-style tag (``%VMTRACER-5-VLAN_ADD: ...``) so that syslog filters and
``show logging`` on the switch find them.

It must never log a secret (nothing here formats configuration values), and a
missing syslog socket must never stop the agent: it falls back to stderr alone.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from typing import Optional

from eos_vmtracer.config import LogConfig

SYSLOG_SOCKET = "/dev/log"


def setup(cfg: LogConfig, *, syslog_socket: Optional[str] = None) -> None:
    """Configure the root logger for the agent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(getattr(logging, cfg.level.upper()))
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(err)
    socket_path = syslog_socket or SYSLOG_SOCKET
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
        syslog.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(syslog)
    # pyvmomi and urllib3 are chatty at INFO.
    for noisy in ("urllib3", "pyVmomi", "scapy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
