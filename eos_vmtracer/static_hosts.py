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
from typing import Mapping

from eos_vmtracer.vlans import interface_sort_key


def static_ports(
    host_name: str, table: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, str], ...]:
    """(interface, pattern) for each interface of ``table`` with a pattern matching
    ``host_name``, in interface order (the first matching pattern of each)."""
    if not table:
        return ()
    name = host_name.strip().lower()
    if not name:
        return ()
    out: list[tuple[str, str]] = []
    for interface in sorted(table, key=interface_sort_key):
        for pattern in table[interface]:
            if fnmatch.fnmatchcase(name, pattern.lower()):
                out.append((interface, pattern))
                break
    return tuple(out)


def is_static(neighbor: str) -> bool:
    """True for a link's neighbour text made from ``static_hosts`` (see :func:`describe`)."""
    return neighbor.startswith("static (")


def describe(pattern: str) -> str:
    """The link's neighbour text for a static mapping: ``static (blade-*)``."""
    return f"static ({pattern})"


__all__ = ["describe", "is_static", "static_ports"]
