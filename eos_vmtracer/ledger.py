"""The ownership ledger: which VLANs on which ports the agent added itself.

What this module is for: the agent may only ever remove what it added. This
module holds that record as plain data (:class:`Ledger`) and keeps it on flash
(:class:`LedgerStore`): written atomically (temp file, fsync, rename, fsync of
the directory), so a crash or a reboot leaves either the old or the new file,
never half of one. The file's JSON is typed (:class:`LedgerDoc`) and checked in
one place (:func:`validate`).

It must never lose ownership silently, and never fail on what it reads: a ledger
that cannot be read or is not a ledger (any bytes, any JSON, any nesting, any
wrong type or range) is moved aside (``ledger.json.corrupt-<time>``), logged, and
replaced by an empty, *untrusted* ledger under which the planner removes nothing
until a fresh one has been written.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, TypedDict

from eos_vmtracer.fileio import TooLarge, parse_json, read_capped, write_json_atomic
from eos_vmtracer.messages import Message, emit
from eos_vmtracer.vlans import VlanSet

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILE_NAME = "ledger.json"
#: A larger file is corrupt: some 440,000 owned (port, VLAN) pairs at ~150 bytes each,
#: more than 4,094 VLANs on 100 ports. Read whole, a planted file of gigabytes would
#: take the switch's memory.
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Ownership:
    """One VLAN the agent added to one interface, and why it is (or was) there."""

    interface: str
    vlan: int
    added: float  # when the agent added it (wall clock)
    sessions: frozenset[str] = frozenset()  # sessions whose needs put or keep it there
    hosts: frozenset[str] = frozenset()  # "session/host-moid" of the hosts that needed it
    unneeded_since: Optional[float] = None  # start of the current stretch of non-need

    def key(self) -> tuple[str, int]:
        """``(interface, vlan)``."""
        return (self.interface, self.vlan)


@dataclass(frozen=True)
class Ledger:
    """Everything the agent owns on the switch."""

    entries: Mapping[tuple[str, int], Ownership] = field(default_factory=dict)
    created_vlans: Mapping[int, float] = field(default_factory=dict)  # VLAN -> created at
    #: Created VLANs that nothing needs or uses: VLAN -> start of that stretch (the
    #: VLAN is deleted once it has lasted ``remove_delay``).
    vlans_unneeded_since: Mapping[int, float] = field(default_factory=dict)
    #: False right after a corrupt ledger was set aside: remove nothing until a
    #: fresh ledger has been written.
    trusted: bool = True

    def owned(self, interface: str) -> VlanSet:
        """The VLANs the agent owns on ``interface``."""
        return VlanSet(v for (i, v) in self.entries if i == interface)

    def by_interface(self) -> dict[str, dict[int, Ownership]]:
        """Entries grouped by interface."""
        out: dict[str, dict[int, Ownership]] = {}
        for (iface, vlan), entry in self.entries.items():
            out.setdefault(iface, {})[vlan] = entry
        return out

    # -- serialisation ------------------------------------------------------------------
    def to_json(self) -> LedgerDoc:
        """The JSON document written to flash."""
        return {
            "version": FORMAT_VERSION,
            "entries": [
                {
                    "interface": e.interface,
                    "vlan": e.vlan,
                    "added": e.added,
                    "sessions": sorted(e.sessions),
                    "hosts": sorted(e.hosts),
                    "unneeded_since": e.unneeded_since,
                }
                for e in sorted(self.entries.values(), key=lambda e: (e.interface, e.vlan))
            ],
            "created_vlans": {str(v): t for v, t in sorted(self.created_vlans.items())},
            "created_vlans_unneeded_since": {
                str(v): t for v, t in sorted(self.vlans_unneeded_since.items())
            },
        }

    @classmethod
    def from_json(cls, doc: Any) -> Ledger:
        """Parse a ledger document; raises :class:`CorruptLedger` on anything unexpected."""
        valid = validate(doc)
        entries: dict[tuple[str, int], Ownership] = {}
        for raw in valid["entries"]:
            entry = Ownership(
                interface=raw["interface"],
                vlan=raw["vlan"],
                added=raw["added"],
                sessions=frozenset(raw["sessions"]),
                hosts=frozenset(raw["hosts"]),
                unneeded_since=raw["unneeded_since"],
            )
            entries[entry.key()] = entry
        created = {int(v): t for v, t in valid["created_vlans"].items()}
        unneeded = {
            int(v): t for v, t in valid["created_vlans_unneeded_since"].items() if int(v) in created
        }
        return cls(
            entries=entries, created_vlans=created, vlans_unneeded_since=unneeded, trusted=True
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Ledger:
        """Parse the ledger file's bytes; raises :class:`CorruptLedger` on anything else.

        Whatever ``data`` holds (not UTF-8, not JSON, nested beyond the parser, any
        shape or type), the outcome is a :class:`Ledger` or :class:`CorruptLedger`.
        """
        try:
            doc = parse_json(data)
        except ValueError as e:
            raise CorruptLedger(str(e)) from None
        return cls.from_json(doc)


# -- the document on flash, typed, and its one validator --------------------------------


class OwnershipDoc(TypedDict):
    """One element of ``entries``: one VLAN the agent added to one interface."""

    interface: str
    vlan: int  # 1..4094
    added: float  # wall clock
    sessions: list[str]
    hosts: list[str]
    unneeded_since: Optional[float]


class LedgerDoc(TypedDict):
    """``ledger.json`` (version 1). ``created_vlans_unneeded_since`` may be missing in a
    file written by an older agent; it reads as empty."""

    version: int
    entries: list[OwnershipDoc]
    created_vlans: dict[str, float]  # "VLAN" -> when the agent created it
    created_vlans_unneeded_since: dict[str, float]  # "VLAN" -> start of non-need


class CorruptLedger(ValueError):
    """The ledger file is not a ledger; the text says why (never the file's content)."""


_VLAN_KEY = re.compile(r"[0-9]{1,4}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptLedger(f"{where} is not a number")
    if not math.isfinite(value):
        raise CorruptLedger(f"{where} is not finite")
    return float(value)


def _vlan(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4094:
        raise CorruptLedger(f"{where} is not a VLAN (1-4094)")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise CorruptLedger(f"{where} is not a list of strings")
    return list(value)


def _vlan_times(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise CorruptLedger(f"{where} is not an object")
    out: dict[str, float] = {}
    for key, when in value.items():
        if not _VLAN_KEY.fullmatch(key) or not 1 <= int(key) <= 4094:
            raise CorruptLedger(f"{where} has a key that is not a VLAN (1-4094)")
        out[str(int(key))] = _number(when, f"{where}[{int(key)}]")
    return out


def _entry(raw: Any, where: str) -> OwnershipDoc:
    if not isinstance(raw, dict):
        raise CorruptLedger(f"{where} is not an object")
    for key in ("interface", "vlan", "added", "sessions", "hosts", "unneeded_since"):
        if key not in raw:
            raise CorruptLedger(f"{where}.{key} is missing")
    iface = raw["interface"]
    if not isinstance(iface, str) or not iface:
        raise CorruptLedger(f"{where}.interface is not a non-empty string")
    since = raw["unneeded_since"]
    return {
        "interface": iface,
        "vlan": _vlan(raw["vlan"], f"{where}.vlan"),
        "added": _number(raw["added"], f"{where}.added"),
        "sessions": _strings(raw["sessions"], f"{where}.sessions"),
        "hosts": _strings(raw["hosts"], f"{where}.hosts"),
        "unneeded_since": None if since is None else _number(since, f"{where}.unneeded_since"),
    }


def validate(doc: Any) -> LedgerDoc:
    """``doc`` checked member by member into a :class:`LedgerDoc`; the one place that
    decides what a ledger is. Raises :class:`CorruptLedger` naming the first bad member."""
    if not isinstance(doc, dict):
        raise CorruptLedger("not a JSON object")
    version = doc.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise CorruptLedger(f"not a version-{FORMAT_VERSION} ledger")
    for key in ("entries", "created_vlans"):
        if key not in doc:
            raise CorruptLedger(f"{key} is missing")
    entries = doc["entries"]
    if not isinstance(entries, list):
        raise CorruptLedger("entries is not a list")
    return {
        "version": FORMAT_VERSION,
        "entries": [_entry(raw, f"entries[{i}]") for i, raw in enumerate(entries)],
        "created_vlans": _vlan_times(doc["created_vlans"], "created_vlans"),
        "created_vlans_unneeded_since": _vlan_times(
            doc.get("created_vlans_unneeded_since", {}), "created_vlans_unneeded_since"
        ),
    }


class LedgerStore:
    """The ledger's file in ``state_dir``, and what went wrong with it last.

    :attr:`error` says, for the status, why the ledger on flash cannot be trusted
    (it was corrupt and was set aside) or cannot be written (a full or read-only
    ``state_dir``); "" once a save has succeeded. :attr:`error_since` is when that
    began (wall clock).
    """

    def __init__(self, state_dir: str, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, FILE_NAME)
        self.error = ""
        self.error_since: Optional[float] = None
        self._clock = clock

    def _trouble(self, error: str) -> None:
        if not self.error:
            self.error_since = self._clock()
        self.error = error

    def load(self) -> Ledger:
        """Read the ledger; a missing one is empty, a corrupt one is set aside (untrusted).

        Never raises: whatever the file holds, the outcome is a ledger.
        """
        corrupt = ""
        try:
            data = read_capped(self.path, MAX_BYTES)
        except FileNotFoundError:
            return Ledger()
        except TooLarge as e:
            corrupt = str(e)
        except OSError as e:
            problem = f"cannot read it ({e.strerror})"
        else:
            try:
                return Ledger.from_bytes(data)
            except CorruptLedger as e:
                corrupt = str(e)
        if corrupt:
            aside = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
            try:
                os.replace(self.path, aside)
                where = f"moved to {aside}"
            except OSError as move_error:
                where = f"could not be moved aside: {move_error.strerror}"
            problem = f"corrupt ({corrupt}); it {where}"
        emit(log, Message.LEDGER_CORRUPT, path=self.path, problem=problem)
        self._trouble(f"the ledger {problem}; removing nothing until a fresh one is written")
        return Ledger(trusted=False)

    def save(self, ledger: Ledger) -> Ledger:
        """Write ``ledger`` atomically; returns it marked trusted (it is now on flash).

        Raises :class:`OSError` (naming the ledger's path) when it cannot be written;
        :attr:`error` then says so until a save succeeds.
        """
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            write_json_atomic(self.path, ledger.to_json())
        except OSError as e:
            self._trouble(
                f"cannot write {self.path}: {e.strerror or type(e).__name__}; applying no"
                " change until it can be written"
            )
            raise OSError(e.errno, e.strerror, self.path) from e
        self.error, self.error_since = "", None
        return replace(ledger, trusted=True)
