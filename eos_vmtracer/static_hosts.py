"""Hosts that cannot be heard: ``switch.static_hosts`` matched against host names.

What this module is for: blade chassis, fabric interconnects and hosts with
discovery turned off never report the switch's CDP, so nothing says where they
are cabled. The operator names them instead: a table from an interface to
shell-style patterns of host names. :func:`static_ports` says which interfaces a
host name matches, and with which pattern; the planner uses that for every vmnic
of the host that hears no neighbour at all (a neighbour heard wins).

It must never do I/O or match anything but the host's name (case-insensitive,
the whole name), and never decide on its own that a heard neighbour is wrong.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Mapping

from eos_vmtracer.vlans import interface_sort_key


class StaticHosts:
    """``switch.static_hosts`` compiled once (one expression per pattern, in interface order)."""

    def __init__(self, table: Mapping[str, tuple[str, ...]]) -> None:
        self._rules = [
            (interface, [(p, re.compile(fnmatch.translate(p.lower()))) for p in table[interface]])
            for interface in sorted(table, key=interface_sort_key)
        ]

    def ports(self, host_name: str) -> tuple[tuple[str, str], ...]:
        """(interface, pattern) for each interface with a pattern matching ``host_name``
        (the first matching pattern of each), in interface order."""
        if not self._rules:
            return ()
        name = host_name.strip().lower()
        if not name:
            return ()
        out: list[tuple[str, str]] = []
        for interface, patterns in self._rules:
            for pattern, compiled in patterns:
                if compiled.match(name):
                    out.append((interface, pattern))
                    break
        return tuple(out)


def static_ports(
    host_name: str, table: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, str], ...]:
    """:meth:`StaticHosts.ports` for a table used once."""
    return StaticHosts(table).ports(host_name)


def is_static(neighbor: str) -> bool:
    """True for a link's neighbour text made from ``static_hosts`` (see :func:`describe`)."""
    return neighbor.startswith("static (")


def describe(pattern: str) -> str:
    """The link's neighbour text for a static mapping: ``static (blade-*)``."""
    return f"static ({pattern})"


__all__ = ["StaticHosts", "describe", "is_static", "static_ports"]
