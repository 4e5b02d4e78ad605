"""Helpers for the end-to-end tests: reading what the switch received and what users see.

What this module is for: turn the eAPI emulator's request log into the changes it
carried (:func:`config_changes`), parse the EOS-style tables ``vmtracer show``
prints (:func:`parse_table`), and wait for VLANs to come and go on the switch.

It must never use the project's own parsers (VLAN lists, interface ranges, status
rendering) to check the project: what it parses, it parses itself.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from lab.eapi.state import parse_vlan_list
from lab.world import World


@dataclass(frozen=True)
class Change:
    """One change line that reached the switch."""

    n: int  # the request's number in the emulator's log
    by_agent: bool  # inside a ``configure session`` (the agent), or plain ``configure``
    result: str  # "ok", "error", ...
    op: str  # "add", "remove", "set" (trunk allowed list), "create", "delete" (VLANs)
    interfaces: tuple[str, ...]
    vlans: frozenset[int]


def expand_interfaces(spec: str) -> tuple[str, ...]:
    """``Ethernet1-3,7`` -> Ethernet1, Ethernet2, Ethernet3, Ethernet7."""
    match = re.fullmatch(r"([A-Za-z-]+)([\d,\-/]+)", spec.replace(" ", ""))
    if match is None:
        return (spec,)
    prefix, ranges = match.groups()
    out: list[str] = []
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        if last and "/" not in part:
            out += [f"{prefix}{n}" for n in range(int(first), int(last) + 1)]
        else:
            out.append(f"{prefix}{part}")
    return tuple(out)


def config_changes(requests: Iterable[dict[str, Any]]) -> list[Change]:
    """Every VLAN change in the emulator's request log (agent's and operator's)."""
    out: list[Change] = []
    for req in requests:
        cmds = [c.strip() for c in req["cmds"]]
        if not any(c == "configure" or c.startswith("configure session") for c in cmds):
            continue
        by_agent = any(c.startswith("configure session") for c in cmds)
        interfaces: tuple[str, ...] = ()
        for c in cmds:
            found = _parse_line(c, interfaces)
            if found is None:
                if c.startswith("interface "):
                    interfaces = expand_interfaces(c.split(None, 1)[1])
            else:
                op, vlans, ifaces = found
                out.append(Change(int(req["n"]), by_agent, _outcome(req, cmds), op, ifaces, vlans))
                if op == "create":
                    interfaces = ()
            if c in ("exit", "end"):
                interfaces = ()
    return out


def _outcome(req: dict[str, Any], cmds: list[str]) -> str:
    """ "ok" when the request's configuration took effect: it all ran, or it failed only
    after its ``commit`` (the agent reads the facts after the commit in the same
    request, and an optional show there may fail)."""
    result = str(req.get("result", "?"))
    if result == "error" and "commit" in cmds and int(req.get("failed", -1)) > cmds.index("commit"):
        return "ok"
    return result


def _parse_line(
    line: str, interfaces: tuple[str, ...]
) -> Optional[tuple[str, frozenset[int], tuple[str, ...]]]:
    """(op, VLANs, interfaces) of one configuration line that changes VLANs, else None."""
    m = re.fullmatch(r"switchport trunk allowed vlan (add|remove) (\S+)", line)
    if m:
        return m.group(1), parse_vlan_list(m.group(2)), interfaces
    m = re.fullmatch(r"switchport trunk allowed vlan (\d\S*)", line)
    if m:
        return "set", parse_vlan_list(m.group(1)), interfaces
    m = re.fullmatch(r"no vlan (\S+)", line)
    if m:
        return "delete", parse_vlan_list(m.group(1)), ()
    m = re.fullmatch(r"vlan (\S+)", line)
    if m:
        return "create", parse_vlan_list(m.group(1)), ()
    return None


def agent_changes(world: World, since: int = 0) -> list[Change]:
    """The agent's committed changes in requests numbered above ``since``."""
    return [
        c
        for c in config_changes(world.requests())
        if c.n > since and c.by_agent and c.result == "ok"
    ]


def request_count(world: World) -> int:
    """The number of the last request the emulator logged."""
    reqs = world.requests()
    return int(reqs[-1]["n"]) if reqs else 0


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of an EOS-style table (header, dashes, rows), by column header."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and line.strip() and set(line.replace(" ", "")) == {"-"}:
            header, dashes = lines[i - 1], line
            break
    else:
        raise AssertionError(f"no table in:\n{text}")
    starts = [m.start() for m in re.finditer(r"-+", dashes)]
    bounds = list(zip(starts, [*starts[1:], None]))
    names = [header[a:b].strip() for a, b in bounds]
    rows = []
    for line in lines[i + 1 :]:
        if not line.strip():
            break
        rows.append({name: line[a:b].strip() for name, (a, b) in zip(names, bounds)})
    return rows


def row(rows: list[dict[str, str]], first_column: str) -> dict[str, str]:
    """The row whose first column is ``first_column``."""
    for r in rows:
        if next(iter(r.values())) == first_column:
            return r
    raise AssertionError(f"no row {first_column!r} in {rows}")


def vlans_in(cell: str) -> set[int]:
    """A table cell's VLAN list (``-`` is none)."""
    return set(parse_vlan_list(cell)) if cell and cell != "-" else set()


def wait_vlan(
    world: World, interface: str, vlan: int, present: bool = True, timeout: float = 5.0
) -> float:
    """Wait until ``vlan`` is (or is no longer) allowed on ``interface``; seconds it took."""
    what = f"VLAN {vlan} {'on' if present else 'off'} {interface}"
    return world.wait_for(
        lambda: (vlan in world.allowed(interface)) == present, timeout, what, world.describe
    )


def pending(world: World, interface: str, vlan: int) -> Optional[dict[str, Any]]:
    """The status's pending-removal entry for ``vlan`` on ``interface``, if any."""
    for p in world.interface_status(interface)["pending"]:
        if p["vlan"] == vlan:
            return dict(p)
    return None


def wall_when(world: World, interface: str, vlan: int, present: bool, timeout: float) -> float:
    """Wait as :func:`wait_vlan`; the wall-clock time (``time.time()``) it happened."""
    wait_vlan(world, interface, vlan, present, timeout)
    return time.time()


def status_vlans(world: World, interface: str, column: str) -> set[int]:
    """``static``, ``dynamic`` or ``required`` VLANs of ``interface`` in the agent's status."""
    return vlans_in(str(world.interface_status(interface)[column]))


def wait_status(
    world: World, interface: str, vlan: int, column: str = "dynamic", timeout: float = 5.0
) -> None:
    """Wait until the published status shows ``vlan`` in ``column`` of ``interface``
    (the status is written just after the switch was changed)."""
    world.wait_for(
        lambda: vlan in status_vlans(world, interface, column),
        timeout,
        f"status: VLAN {vlan} in {column} of {interface}",
    )
