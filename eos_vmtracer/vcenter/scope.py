"""What the session's scoped property filter must cover, and whether it has delivered it.

What this module is for: :class:`Scope` decides the contents of the session's
ListView: the hosts heard on this switch and the hosts ``switch.static_hosts`` names
(:func:`static_in_scope`; the filter traverses from each to its VMs) plus each VM
migrating to one of them from a host that is not (a migration start names the
destination, and the VM's vNICs must be known before it arrives). It
tracks each change of the list through three generations: *applied* (ModifyListView
returned), and *delivered* (a long poll that began after the change has returned
complete), so the session counts as synchronised only once everything that came into
scope has arrived.

It must never do I/O, and never report the scope as delivered while a change is
wanted but not applied, or applied but not delivered.
"""

from __future__ import annotations

from typing import Mapping, Optional

from eos_vmtracer.model import Host
from eos_vmtracer.static_hosts import StaticHosts


def static_in_scope(hosts: Mapping[str, Host], static: StaticHosts) -> frozenset[str]:
    """The hosts (moids) whose name ``switch.static_hosts`` matches. They never report
    this switch, yet the planner maps their silent vmnics to the interfaces named, so
    their VMs and network configuration must be read: they are in scope whatever they
    hear (a vmnic hearing another switch still leaves the others to the table)."""
    return frozenset(m for m, host in hosts.items() if static.ports(host.name))


class Scope:
    """The ListView's wanted and applied contents, and the delivery of the last change."""

    def __init__(self) -> None:
        self.hosts: frozenset[str] = frozenset()  # wanted: heard here
        self.vms: frozenset[str] = frozenset()  # wanted: migrating here from elsewhere
        self._applied: frozenset[str] = frozenset()
        self._applied_gen = 0
        self._delivered_gen = -1  # nothing delivered before the first sync
        self._kinds: dict[str, str] = {}  # moid -> "host" or "vm", for every listed object

    def want(
        self,
        heard: frozenset[str],
        migrations: Mapping[str, str],
        vm_hosts: Mapping[str, Optional[str]],
    ) -> None:
        """The hosts heard here; migrations (VM -> destination host); VM -> its host."""
        self.hosts = heard
        self.vms = frozenset(
            vm for vm, dest in migrations.items() if dest in heard and vm_hosts.get(vm) not in heard
        )
        self._kinds.update((m, "host") for m in self.hosts)
        self._kinds.update((m, "vm") for m in self.vms)

    def wanted(self) -> frozenset[str]:
        return self.hosts | self.vms

    def diff(self) -> tuple[list[str], list[str]]:
        """(add, remove) to bring the ListView to what is wanted, sorted."""
        wanted = self.wanted()
        return sorted(wanted - self._applied), sorted(self._applied - wanted)

    def kind(self, obj_moid: str) -> str:
        """ "host" or "vm": what a moid of :meth:`diff` is."""
        return self._kinds.get(obj_moid, "vm")

    def applied(self, add: list[str], remove: list[str]) -> None:
        """ModifyListView(add, remove) returned."""
        self._applied = (self._applied | frozenset(add)) - frozenset(remove)
        self._applied_gen += 1
        wanted = self.wanted() | self._applied
        self._kinds = {m: k for m, k in self._kinds.items() if m in wanted}

    def reset(self, listed: frozenset[str]) -> None:
        """A new ListView (after a reconnect) listing ``listed``."""
        self._applied = listed
        self._applied_gen += 1

    def poll_started(self) -> int:
        """A long poll begins: the token to hand to :meth:`poll_complete`."""
        return self._applied_gen

    def poll_complete(self, token: int) -> None:
        """The long poll begun with ``token`` returned, not truncated."""
        self._delivered_gen = max(self._delivered_gen, token)

    def behind(self, token: int) -> bool:
        """True when a change was applied after the poll with ``token`` began."""
        return token < self._applied_gen

    def delivered(self) -> bool:
        """Everything wanted is listed, and a complete poll began after the last change."""
        return self.wanted() == self._applied and self._delivered_gen >= self._applied_gen

    def listed(self) -> frozenset[str]:
        return self._applied


__all__ = ["Scope", "static_in_scope"]
