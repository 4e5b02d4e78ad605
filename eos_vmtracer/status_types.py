"""The status document's shape as types: what ``status.build`` writes and every reader reads.

What this module is for: one description of the JSON contract that ``vmtracer show``,
``explain``, the EOS CLI extension, the EOS daemon status and every tool read. Each
object is a ``TypedDict`` (kopf's ``ProgressRecord`` is the model), so mypy checks the
writer and the readers against the same fields, and :mod:`eos_vmtracer.schema`
derives the JSON Schema (and the CLI extension's ``outputSchema``s) from these types:
nothing is described twice.

Fields that hold one of a fixed set of words are ``Annotated[str, Words(...)]``; the
words come from the code's own enums where it has one (:class:`SessionState`).

Two rules hold everywhere:

- a VLAN list is an EOS range string, ``"10,20-30"``, and the empty list is ``""``
  (never ``"NONE"``): :data:`VlanList`;
- a time is Unix seconds; ``null`` (``None``) where it is not known.

It must never hold behaviour (no I/O, no computation beyond the markers), and never
import an adapter: readers on the switch's CLI import it.
"""

from __future__ import annotations

import enum
from typing import Annotated, Dict, List, Optional, Tuple, Type, TypedDict

from eos_vmtracer.model import SessionState


class Words:
    """Marks a ``str`` field that holds one of ``words``."""

    def __init__(self, *words: str) -> None:
        self.words: Tuple[str, ...] = words

    @classmethod
    def of(cls, kind: Type[enum.Enum]) -> Words:
        """The values of a ``str`` enum."""
        return cls(*(str(m.value) for m in kind))


class Bounds:
    """Marks an ``int`` field that lies within ``minimum`` .. ``maximum``."""

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum = minimum
        self.maximum = maximum


class Pattern:
    """Marks a ``str`` field that matches a regular expression (ECMA 262 subset)."""

    def __init__(self, regex: str) -> None:
        self.regex = regex


class Const:
    """Marks a field that always holds ``value``."""

    def __init__(self, value: int) -> None:
        self.value = value


SCHEMA_VERSION = 1

#: A VLAN id.
Vlan = Annotated[int, Bounds(1, 4094)]
#: A list of VLANs as EOS writes it (``"10,20-30"``); ``""`` when there is none.
VlanList = Annotated[str, Pattern(r"^([0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*)?$")]
#: Unix seconds, or ``None`` when not known.
Timestamp = Optional[float]

SessionStateName = Annotated[str, Words.of(SessionState)]
Role = Annotated[str, Words("edge", "uplink")]
ReasonKind = Annotated[str, Words("vm", "vmk", "migration", "uplink")]
ReconcileResult = Annotated[str, Words("none", "ok", "error")]
HistoryAction = Annotated[
    str,
    Words(
        "add", "remove", "create-vlan", "delete-vlan", "repair", "error", "start", "stop", "resync"
    ),
]


# -- the status document --------------------------------------------------------------


class LastReconcile(TypedDict):
    """The last reconcile: when, how long, how it ended."""

    at: float
    duration_ms: float
    result: ReconcileResult
    error: str


class LedgerState(TypedDict):
    """The ownership ledger on flash: ``trusted`` is false while a corrupt one was set
    aside and no fresh one written; ``error`` says why it is untrusted or cannot be
    written (``""`` when all is well); ``since`` is when that error began."""

    trusted: bool
    error: str
    since: Timestamp


class AgentSection(TypedDict):
    """The agent itself."""

    version: str
    pid: int
    started: float
    updated: float
    config: str
    state_dir: str
    dry_run: bool
    hostname: str
    last_reconcile: LastReconcile
    counters: Dict[str, int]
    ledger: LedgerState


class _SwitchRequired(TypedDict):
    reachable: bool
    error: str
    since: Timestamp


class SwitchSection(_SwitchRequired, total=False):
    """Whether the agent reaches eAPI (and, once it has, what the switch is)."""

    hostname: str
    model: str
    version: str


class CdpPort(TypedDict):
    """CDP frames sent out of one port."""

    frames: int
    last_sent: Timestamp
    error: str


class CdpSection(TypedDict):
    """The agent's CDP sender."""

    enabled: bool
    ports: Dict[str, CdpPort]


class Session(TypedDict):
    """One vCenter session."""

    name: str
    url: str
    state: SessionStateName
    synced: bool
    since: Timestamp
    error: str
    hosts: int
    vms: int
    allowed_vlans: VlanList
    autovlan: bool
    scoped: bool  # reads VMs only of the hosts in its scope (what the agent runs)
    hosts_heard: int  # hosts in scope: heard on this switch or named by switch.static_hosts
    hints_last_minute: int  # QueryNetworkHint calls in the last 60 s


class PendingVlan(TypedDict):
    """A VLAN waiting to go: when (``due``), or why not yet (``held``, ``due`` null)."""

    vlan: Vlan
    since: Timestamp
    due: Timestamp
    held: str


class Reason(TypedDict):
    """Why a VLAN is needed: one VM NIC, VMkernel adapter or edge port."""

    kind: ReasonKind
    session: str
    host: str
    subject: str
    nic: str
    portgroup: str
    vmnic: str
    text: str


class Interface(TypedDict):
    """One managed interface: its VLANs and why."""

    name: str
    role: Role
    mode: str
    allowed: VlanList
    static: VlanList
    dynamic: VlanList
    required: VlanList
    pending: List[PendingVlan]
    excluded: Dict[str, List[str]]
    reasons: Dict[str, List[Reason]]
    reasons_more: Dict[str, int]
    note: str


class HostLink(TypedDict):
    """One vmnic of a host and the switch port it hears."""

    vmnic: str
    neighbor: str
    interface: str
    note: str


class HostEntry(TypedDict):
    """One ESXi host."""

    session: str
    moid: str
    name: str
    connected: bool
    vms: int
    links: List[HostLink]


class VmNic(TypedDict):
    """One vNIC of a VM: its portgroup, VLANs and the switch ports that carry them."""

    label: str
    connected: bool
    portgroup: str
    vlans: VlanList
    interfaces: List[str]


class VmEntry(TypedDict):
    """One VM on a host cabled to this switch."""

    session: str
    moid: str
    name: str
    powered_on: bool
    host: str
    migrating_to: str
    nics: List[VmNic]


class Withheld(TypedDict):
    """A change the agent did not make, and why."""

    interface: str
    add: VlanList
    remove: VlanList
    why: str


class StatusDocument(TypedDict):
    """The running agent's status (``run_dir/status.json``)."""

    schema: Annotated[int, Const(SCHEMA_VERSION)]
    agent: AgentSection
    switch: SwitchSection
    cdp: CdpSection
    sessions: List[Session]
    interfaces: List[Interface]
    hosts: List[HostEntry]
    vms: List[VmEntry]
    notes: List[str]
    vlans_pending_delete: List[PendingVlan]
    withheld: List[Withheld]


# -- the change history -----------------------------------------------------------------


class HistoryEvent(TypedDict):
    """One change the agent made (or failed to make), with its reason."""

    at: float
    action: HistoryAction
    interface: str
    vlans: VlanList
    reason: str


# -- what each `show` command answers (vmtracer show --json, show vm-tracer ...) ---------


class AgentBrief(TypedDict):
    """The running agent (its status is never older than 20 s, else an error)."""

    running: bool
    version: str
    pid: int
    started: float
    updated: float
    dry_run: bool
    hostname: str


class SessionsAnswer(TypedDict):
    """``show vm-tracer sessions``: every vCenter session."""

    agent: AgentBrief
    switch: SwitchSection
    sessions: List[Session]


class InterfacesAnswer(TypedDict):
    """``show vm-tracer interfaces``: every managed interface (and VLANs pending deletion)."""

    agent: AgentBrief
    switch: SwitchSection
    interfaces: List[Interface]
    vlans_pending_delete: List[PendingVlan]


class VmsAnswer(TypedDict):
    """``show vm-tracer vms``: the VMs on hosts cabled to this switch."""

    agent: AgentBrief
    switch: SwitchSection
    vms: List[VmEntry]


class HostsAnswer(TypedDict):
    """``show vm-tracer hosts``: every ESXi host and the ports its vmnics hear."""

    agent: AgentBrief
    switch: SwitchSection
    hosts: List[HostEntry]


class CabledHost(TypedDict):
    """A host with a vmnic that hears this interface (or is mapped to it by static_hosts)."""

    session: str
    name: str
    connected: bool
    vmnics: List[str]
    static: List[str]


class InterfaceDetail(Interface):
    """One interface, with the hosts cabled to it and the changes withheld on it."""

    cabled: List[CabledHost]
    withheld: List[Withheld]


class InterfaceAnswer(TypedDict):
    """``show vm-tracer interface NAME [vlan N]``: why each VLAN is (or is not) on it."""

    agent: AgentBrief
    switch: SwitchSection
    vlan: Optional[Vlan]
    interface: InterfaceDetail


VmPortState = Annotated[str, Words("on", "adding", "withheld")]


class VmPort(TypedDict):
    """One VLAN a vNIC needs on one switch port, and whether the port carries it."""

    nic: str
    interface: str
    vlan: Vlan
    state: VmPortState
    why: str


class VmDetail(VmEntry):
    """One VM, with the state of each VLAN it needs on each port."""

    ports: List[VmPort]


class VmAnswer(TypedDict):
    """``show vm-tracer vm NAME``: every VM of that name (or moid) cabled to this switch."""

    agent: AgentBrief
    switch: SwitchSection
    name: str
    vms: List[VmDetail]


class HostVm(TypedDict):
    """A VM on a host, and the VLANs its vNICs need."""

    name: str
    moid: str
    powered_on: bool
    vlans: VlanList


class HostDetail(HostEntry):
    """One host, with the ports it is cabled to and its VMs."""

    interfaces: List[str]
    vm_list: List[HostVm]


class HostAnswer(TypedDict):
    """``show vm-tracer host NAME``: every host of that name (or moid, or short name)."""

    agent: AgentBrief
    switch: SwitchSection
    name: str
    hosts: List[HostDetail]


class HistoryAnswer(TypedDict):
    """``show vm-tracer history [count N]``: the newest N changes, oldest first."""

    count: int
    events: List[HistoryEvent]
