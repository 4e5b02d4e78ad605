"""The EOS configuration lines for a plan: what the agent sends and ``vmtracer plan`` prints.

What this module is for: turning a :class:`~eos_vmtracer.planner.Plan` into the
exact, ordered list of EOS CLI lines that carry it out, and wrapping those in a
named configuration session. Order: create VLANs (``vlan N`` + ``name X``), then
the trunk changes (``interface ...`` + ``switchport trunk allowed vlan add|remove
LIST``), then ``no vlan LIST`` for deletions — so a VLAN exists before a trunk
carries it and is deleted only once no trunk lists it.

Interfaces that get exactly the same change share one ``interface`` range line
(``interface Ethernet1-4,7``), VLAN lists are compressed to ranges and split into
several commands when long (:meth:`VlanSet.chunks`).

Why ``add``/``remove`` and never a full list: they are relative, so re-sending
them is harmless (idempotent) and they leave every VLAN the plan does not name
alone — an operator's change to another VLAN on the same port, made at any time,
survives.

It must never do I/O or import pyeapi; it is pure, so the same plan always gives
the same lines.
"""

from __future__ import annotations

import re
from typing import Iterable

from eos_vmtracer.planner import Plan
from eos_vmtracer.vlans import VlanSet, interface_sort_key, pack, run_pieces, vlan_name

#: Longest VLAN list or interface range put on one command line.
MAX_LIST_LEN = 200

_SPLIT_NUMBER = re.compile(r"(.*?)(\d+)")


def plan_commands(plan: Plan) -> list[str]:
    """The EOS configuration lines that apply ``plan``, in order (no session wrapper)."""
    vlan_lines: list[str] = []
    for vlan in sorted(plan.create_vlans):
        vlan_lines.append(f"vlan {vlan}")
        name = vlan_name(plan.create_vlans[vlan])
        if name:
            vlan_lines.append(f"name {name}")
    trunk_lines: list[str] = []
    for interfaces, add, remove in _grouped_changes(plan):
        for spec in interface_ranges(interfaces):
            trunk_lines.append(f"interface {spec}")
            trunk_lines.extend(
                f"switchport trunk allowed vlan add {c}" for c in add.chunks(MAX_LIST_LEN)
            )
            trunk_lines.extend(
                f"switchport trunk allowed vlan remove {c}" for c in remove.chunks(MAX_LIST_LEN)
            )
    delete_lines = [f"no vlan {c}" for c in plan.delete_vlans.chunks(MAX_LIST_LEN)]
    lines: list[str] = []
    for block in (vlan_lines, trunk_lines, delete_lines):
        if block and lines:
            lines.append("exit")  # back to global configuration mode between blocks
        lines.extend(block)
    return lines


def session_commands(session: str, lines: Iterable[str]) -> list[str]:
    """``lines`` inside configuration session ``session``, committed at the end."""
    return ["enable", f"configure session {session}", *lines, "commit"]


def abort_commands(session: str) -> list[str]:
    """Commands that discard configuration session ``session`` (from exec mode)."""
    return ["enable", f"configure session {session} abort"]


def interface_ranges(names: Iterable[str]) -> list[str]:
    """EOS range specs covering ``names``: ``[Ethernet1-4,7, Ethernet1/1-2, Port-Channel10]``.

    One spec per interface type and slot prefix (EOS ranges do not mix types); a
    spec longer than :data:`MAX_LIST_LEN` is split.
    """
    by_prefix: dict[str, list[int]] = {}
    odd: list[str] = []
    for name in sorted(set(names), key=interface_sort_key):
        match = _SPLIT_NUMBER.fullmatch(name)
        if match is None:
            odd.append(name)
            continue
        by_prefix.setdefault(match.group(1), []).append(int(match.group(2)))
    specs: list[str] = []
    for prefix, numbers in by_prefix.items():
        pieces = pack(run_pieces(numbers), MAX_LIST_LEN - len(prefix))
        specs.extend(prefix + piece for piece in pieces)
    return specs + odd


def _grouped_changes(plan: Plan) -> list[tuple[list[str], VlanSet, VlanSet]]:
    """Interfaces with identical (add, remove), in the order they first appear."""
    groups: dict[tuple[VlanSet, VlanSet], list[str]] = {}
    for change in plan.changes:
        if change.add or change.remove:
            groups.setdefault((change.add, change.remove), []).append(change.interface)
    return [(names, add, remove) for (add, remove), names in groups.items()]
