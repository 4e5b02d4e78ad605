"""Which neighbour reports name this switch.

What this module is for: :class:`SwitchIdentity` holds the names (configured
hostname, EOS hostname and FQDN, each also without its domain) and the system MAC
by which an ESXi host's CDP/LLDP neighbour (as QueryNetworkHint reports it) can
mean this switch. The planner maps vmnics to ports with it; the vCenter session
uses it to know which hosts are heard here (and so in its scope).

It must never do I/O and never match an empty device id.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from eos_vmtracer.model import SwitchFacts

_MAC_RE = re.compile(r"[^0-9a-f]")


def _norm_mac(text: str) -> str:
    digits = _MAC_RE.sub("", text.lower())
    return digits if len(digits) == 12 else ""


@dataclass(frozen=True)
class SwitchIdentity:
    """The names and MAC a neighbour report may use for this switch."""

    names: frozenset[str]
    mac: str

    @classmethod
    def of(cls, facts: SwitchFacts, hostname: str = "") -> SwitchIdentity:
        """From the switch's facts and the configured ``switch.hostname``."""
        names = set()
        for name in (hostname, facts.hostname, facts.fqdn):
            if name:
                names.add(name.lower())
                names.add(name.lower().split(".")[0])
        return cls(frozenset(names), _norm_mac(facts.system_mac))

    def matches(self, device_id: str) -> bool:
        """True when a neighbour's device id (CDP devId, LLDP name or chassis) is us."""
        return _matches(self.names, self.mac, device_id)


@functools.lru_cache(maxsize=4096)
def _matches(names: frozenset[str], mac: str, device_id: str) -> bool:
    """:meth:`SwitchIdentity.matches`, remembered: the planner asks it of every
    neighbour of every host at each reconcile (1,000 hosts hearing other leaves cost a
    fifth of a plan), and the answers seldom change."""
    dev = device_id.strip().lower()
    if not dev:
        return False
    if dev in names or dev.split(".")[0] in names:
        return True
    return bool(mac) and _norm_mac(dev) == mac


__all__ = ["SwitchIdentity"]
