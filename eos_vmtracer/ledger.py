"""The ownership ledger: which VLANs on which ports the agent added itself.

What this module is for: the agent may only ever remove what it added. This
module holds that record as plain data (:class:`Ledger`) and keeps it on flash
(:class:`LedgerStore`): written atomically (temp file, fsync, rename, fsync of
the directory), so a crash or a reboot leaves either the old or the new file,
never half of one.

It must never lose ownership silently: a ledger that cannot be read is moved
aside (``ledger.json.corrupt-<time>``), logged, and replaced by an empty,
*untrusted* ledger under which the planner removes nothing until a fresh one has
been written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

from eos_vmtracer.vlans import VlanSet

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILE_NAME = "ledger.json"


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
    def to_json(self) -> dict[str, Any]:
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
        """Parse a ledger document; raises :class:`ValueError` on anything unexpected."""
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
            raise ValueError("not a version-1 ledger")
        entries: dict[tuple[str, int], Ownership] = {}
        for raw in doc.get("entries", []):
            vlan = raw["vlan"]
            if not isinstance(vlan, int) or not 1 <= vlan <= 4094:
                raise ValueError(f"bad VLAN {vlan!r}")
            iface = raw["interface"]
            if not isinstance(iface, str) or not iface:
                raise ValueError(f"bad interface {iface!r}")
            since = raw.get("unneeded_since")
            entry = Ownership(
                interface=iface,
                vlan=vlan,
                added=float(raw["added"]),
                sessions=frozenset(str(s) for s in raw.get("sessions", [])),
                hosts=frozenset(str(h) for h in raw.get("hosts", [])),
                unneeded_since=None if since is None else float(since),
            )
            entries[entry.key()] = entry
        created: dict[int, float] = {}
        for vlan_text, when in doc.get("created_vlans", {}).items():
            vlan = int(vlan_text)
            if not 1 <= vlan <= 4094:
                raise ValueError(f"bad created VLAN {vlan}")
            created[vlan] = float(when)
        unneeded: dict[int, float] = {}
        for vlan_text, since in doc.get("created_vlans_unneeded_since", {}).items():
            vlan = int(vlan_text)
            if vlan in created:  # (older agents do not write this member)
                unneeded[vlan] = float(since)
        return cls(
            entries=entries, created_vlans=created, vlans_unneeded_since=unneeded, trusted=True
        )


class LedgerStore:
    """The ledger's file in ``state_dir``."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, FILE_NAME)

    def load(self) -> Ledger:
        """Read the ledger; a missing one is empty, a corrupt one is set aside (untrusted)."""
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return Ledger()
        except OSError as e:
            log.error(
                "cannot read the ledger %s (%s): removing nothing until it is rewritten",
                self.path,
                e.strerror,
            )
            return Ledger(trusted=False)
        try:
            return Ledger.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as e:
            aside = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
            try:
                os.replace(self.path, aside)
                where = f"moved to {aside}"
            except OSError as move_error:
                where = f"could not be moved aside: {move_error.strerror}"
            log.error(
                "the ledger %s is corrupt (%s); it %s. Removing nothing until a fresh"
                " ledger has been written.",
                self.path,
                e,
                where,
            )
            return Ledger(trusted=False)

    def save(self, ledger: Ledger) -> Ledger:
        """Write ``ledger`` atomically; returns it marked trusted (it is now on flash)."""
        os.makedirs(self.state_dir, exist_ok=True)
        write_json_atomic(self.path, ledger.to_json())
        return replace(ledger, trusted=True)


def write_json_atomic(path: str, doc: Any, mode: int = 0o644) -> None:
    """Write ``doc`` as JSON to ``path``: temp file, fsync, rename, fsync the directory.

    The file gets ``mode`` (world-readable by default: nothing written this way holds
    a secret, and EOS CLI handlers may read it as the logged-in user).
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
