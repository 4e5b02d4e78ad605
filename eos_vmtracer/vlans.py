"""VLAN sets and interface names in EOS syntax.

What this module is for: the one place that knows how EOS writes VLAN lists
(``"1-4094"``, ``"ALL"``, ``"NONE"``, ``"10,20-30"``) and interface ranges
(``Ethernet1-48``, ``Ethernet1/1-4``, ``Port-Channel10-12``), and how EOS
interface names map to the Linux kernel's (``Ethernet1/1`` <-> ``et1_1``).

It must never do I/O, and never accept a value it cannot represent exactly:
every parse error raises :class:`ValueError` with a message fit for a user.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Optional

VLAN_MIN = 1
VLAN_MAX = 4094


class VlanSet:
    """An immutable set of VLAN ids (1-4094), formatted the way EOS writes it.

    ``str()`` always gives the compressed form (``"10,20-30"``), ``"NONE"`` for
    the empty set; :meth:`parse` reads every form EOS prints or accepts.
    """

    __slots__ = ("_ids", "_text")

    def __init__(self, ids: Iterable[int] = ()) -> None:
        frozen = frozenset(ids)
        for vid in frozen:
            if not isinstance(vid, int) or isinstance(vid, bool):
                raise TypeError(f"VLAN id must be an int, not {vid!r}")
            if not VLAN_MIN <= vid <= VLAN_MAX:
                raise ValueError(f"VLAN {vid} is out of range {VLAN_MIN}-{VLAN_MAX}")
        self._ids: frozenset[int] = frozen
        self._text: Optional[str] = None

    # -- construction -----------------------------------------------------------------
    @classmethod
    def all(cls) -> VlanSet:
        """Every VLAN, 1-4094."""
        return _ALL

    @classmethod
    def none(cls) -> VlanSet:
        """No VLAN."""
        return _NONE

    @classmethod
    def range(cls, first: int, last: int) -> VlanSet:
        """VLANs ``first`` to ``last`` inclusive."""
        if first > last:
            raise ValueError(f"VLAN range {first}-{last} is reversed")
        return cls(range(first, last + 1))

    @classmethod
    def clipped(cls, ids: Iterable[int]) -> VlanSet:
        """The ids that are valid VLANs (1-4094); anything else is dropped."""
        return cls(v for v in ids if isinstance(v, int) and VLAN_MIN <= v <= VLAN_MAX)

    @classmethod
    def parse(cls, text: str) -> VlanSet:
        """Parse an EOS VLAN list: ``ALL``, ``NONE``, ``""`` or ``10,20-30``.

        Raises :class:`ValueError` naming the bad part.
        """
        if not isinstance(text, str):
            raise ValueError(f"VLAN list must be a string, not {type(text).__name__}")
        stripped = text.strip()
        upper = stripped.upper()
        if upper == "ALL":
            return _ALL
        if upper in ("NONE", ""):
            return _NONE
        ids: set[int] = set()
        for raw in stripped.split(","):
            part = raw.strip()
            if not part:
                raise ValueError(f"empty element in VLAN list {text!r}")
            match = _RANGE_RE.fullmatch(part)
            if not match:
                raise ValueError(f"{part!r} is not a VLAN or VLAN range")
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else first
            for vid in (first, last):
                if not VLAN_MIN <= vid <= VLAN_MAX:
                    raise ValueError(f"VLAN {vid} is out of range {VLAN_MIN}-{VLAN_MAX}")
            if first > last:
                raise ValueError(f"VLAN range {part!r} is reversed")
            ids.update(range(first, last + 1))
        return cls(ids)

    # -- formatting -------------------------------------------------------------------
    def ranges(self) -> list[tuple[int, int]]:
        """The set as sorted, maximal ``(first, last)`` runs."""
        return runs(self._ids)

    def format(self) -> str:
        """Compressed EOS form: ``"10,20-30"``; ``"NONE"`` when empty (computed once)."""
        if self._text is None:
            self._text = ",".join(run_pieces(self._ids)) or "NONE"
        return self._text

    def chunks(self, max_len: int = 200) -> list[str]:
        """The compressed form split into pieces no longer than ``max_len``.

        EOS limits the length of a command line; long lists go in several
        ``add``/``remove`` commands.
        """
        return pack(run_pieces(self._ids), max_len)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"VlanSet({self.format()!r})"

    # -- set protocol -----------------------------------------------------------------
    def __contains__(self, vid: object) -> bool:
        return vid in self._ids

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._ids))

    def __len__(self) -> int:
        return len(self._ids)

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VlanSet):
            return self._ids == other._ids
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._ids)

    def __or__(self, other: VlanSet) -> VlanSet:
        return VlanSet._from_frozen(self._ids | other._ids)

    def __and__(self, other: VlanSet) -> VlanSet:
        return VlanSet._from_frozen(self._ids & other._ids)

    def __sub__(self, other: VlanSet) -> VlanSet:
        return VlanSet._from_frozen(self._ids - other._ids)

    def __le__(self, other: VlanSet) -> bool:
        return self._ids <= other._ids

    def __ge__(self, other: VlanSet) -> bool:
        return self._ids >= other._ids

    def isdisjoint(self, other: VlanSet) -> bool:
        """True when no VLAN is in both sets."""
        return self._ids.isdisjoint(other._ids)

    def ids(self) -> frozenset[int]:
        """The VLAN ids as a plain frozenset."""
        return self._ids

    @classmethod
    def union_of(cls, sets: Iterable[VlanSet]) -> VlanSet:
        """The union of many sets."""
        acc: set[int] = set()
        for s in sets:
            acc |= s._ids
        return cls._from_frozen(frozenset(acc))

    @classmethod
    def _from_frozen(cls, ids: frozenset[int]) -> VlanSet:
        obj = cls.__new__(cls)
        obj._ids = ids
        obj._text = None
        return obj


_RANGE_RE = re.compile(r"(\d{1,4})(?:\s*-\s*(\d{1,4}))?")


def runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """The distinct ``numbers`` as sorted, maximal ``(first, last)`` runs."""
    ids = sorted(numbers if isinstance(numbers, (set, frozenset)) else set(numbers))
    if not ids:
        return []
    if ids[-1] - ids[0] + 1 == len(ids):  # one run (ALL, a plain range): the common case
        return [(ids[0], ids[-1])]
    pairs = list(zip(ids, ids[1:]))
    starts = [ids[0], *(b for a, b in pairs if b != a + 1)]
    ends = [*(a for a, b in pairs if b != a + 1), ids[-1]]
    return list(zip(starts, ends))


def run_pieces(numbers: Iterable[int]) -> list[str]:
    """The runs of ``numbers`` as EOS writes them: ``["10", "20-30"]`` (VLANs, ports)."""
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in runs(numbers)]


def pack(pieces: Iterable[str], max_len: int) -> list[str]:
    """``pieces`` joined with commas into as few strings as fit ``max_len`` each (a piece
    longer than ``max_len`` stands alone)."""
    out: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current},{piece}" if current else piece
        if current and len(candidate) > max_len:
            out.append(current)
            current = piece
        else:
            current = candidate
    if current:
        out.append(current)
    return out


_VLAN_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
VLAN_NAME_MAX = 32
"""EOS limits VLAN names to 32 characters."""


def vlan_name(text: str) -> str:
    """``text`` made a safe VLAN name: letters, digits, ``_``, ``.`` and ``-`` only (any
    other run becomes one ``_``), no leading or trailing ``_``, at most 32 characters;
    ``""`` when nothing is left."""
    return _VLAN_NAME_UNSAFE.sub("_", text).strip("_")[:VLAN_NAME_MAX]


_ALL = VlanSet._from_frozen(frozenset(range(VLAN_MIN, VLAN_MAX + 1)))
_NONE = VlanSet._from_frozen(frozenset())


# -- interface names -------------------------------------------------------------------

#: Long EOS interface type names and the abbreviations EOS accepts for them.
_TYPES = {
    "ethernet": "Ethernet",
    "et": "Ethernet",
    "eth": "Ethernet",
    "port-channel": "Port-Channel",
    "po": "Port-Channel",
    "portchannel": "Port-Channel",
}
_KERNEL_PREFIX = {"Ethernet": "et", "Port-Channel": "po"}
_NAME_RE = re.compile(r"([A-Za-z][A-Za-z-]*?)\s*(\d+(?:/\d+)*)")
_RANGE_NAME_RE = re.compile(r"([A-Za-z][A-Za-z-]*?)\s*((?:\d+/)*)(\d+)\s*-\s*(\d+)")


@functools.lru_cache(maxsize=4096)  # the planner asks it of every neighbour's port, each plan
def canonical_interface(name: str) -> str:
    """The full EOS name of an interface: ``et1/1`` -> ``Ethernet1/1``.

    Only Ethernet and Port-Channel interfaces are accepted (those are the ones a
    host can be cabled to); anything else raises :class:`ValueError`.
    """
    match = _NAME_RE.fullmatch(name.strip())
    if not match:
        raise ValueError(f"{name!r} is not an Ethernet or Port-Channel interface name")
    kind = _TYPES.get(match.group(1).lower())
    if kind is None:
        raise ValueError(f"{name!r} is not an Ethernet or Port-Channel interface name")
    numbers = match.group(2)
    if int(numbers.split("/")[0]) == 0:
        raise ValueError(f"{name!r}: interface numbers start at 1")
    return f"{kind}{'/'.join(str(int(n)) for n in numbers.split('/'))}"


def expand_interfaces(spec: str) -> list[str]:
    """Expand an EOS interface range: ``Ethernet1-3,5`` -> ``[Ethernet1, Ethernet2, ...]``.

    A comma-separated element without a type name continues the previous type:
    ``Ethernet1-4,7`` and ``Ethernet1/1-2,2/1`` work as on EOS. Raises
    :class:`ValueError` on anything malformed.
    """
    out: list[str] = []
    prefix: str | None = None
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            raise ValueError(f"empty element in interface range {spec!r}")
        if part[0].isdigit():
            if prefix is None:
                raise ValueError(f"{part!r} in {spec!r} has no interface type")
            part = prefix + part
        range_match = _RANGE_NAME_RE.fullmatch(part)
        if range_match:
            kind_text, slots, first_text, last_text = range_match.groups()
            first, last = int(first_text), int(last_text)
            if first > last:
                raise ValueError(f"interface range {part!r} is reversed")
            if last - first >= 4096:
                raise ValueError(f"interface range {part!r} is too large")
            for number in range(first, last + 1):
                out.append(canonical_interface(f"{kind_text}{slots}{number}"))
            prefix = kind_text
        else:
            name = canonical_interface(part)
            out.append(name)
            name_match = _NAME_RE.fullmatch(part)
            prefix = name_match.group(1) if name_match else None
    return out


def interface_sort_key(name: str) -> tuple[object, ...]:
    """Natural order for interface names: Ethernet2 before Ethernet10."""
    # Odd pieces are the ASCII digit runs: any name gives a key (never a ValueError),
    # and keys compare (str with str, int with int) whatever the names.
    parts = re.split(r"([0-9]+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def is_port_channel(name: str) -> bool:
    """True for a Port-Channel interface name (canonical form)."""
    return name.startswith("Port-Channel")


def kernel_name(eos_name: str) -> str:
    """The Linux kernel interface EOS creates for an interface: ``Ethernet1/1`` -> ``et1_1``."""
    canonical = canonical_interface(eos_name)
    match = _NAME_RE.fullmatch(canonical)
    assert match is not None
    return _KERNEL_PREFIX[match.group(1)] + match.group(2).replace("/", "_")


def eos_name(kernel: str) -> str:
    """The EOS interface name for a kernel interface: ``et1_1`` -> ``Ethernet1/1``."""
    match = re.fullmatch(r"(et|po)(\d+(?:_\d+)*)", kernel)
    if not match:
        raise ValueError(f"{kernel!r} is not an EOS front-panel kernel interface name")
    kind = "Ethernet" if match.group(1) == "et" else "Port-Channel"
    return f"{kind}{match.group(2).replace('_', '/')}"
