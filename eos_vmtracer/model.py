"""Plain, frozen data shared by the adapters, the planner and the agent.

What this module is for: the project's own picture of the world, with no foreign
objects in it. The vCenter adapter turns pyvmomi objects into an
:class:`Inventory`; the switch adapter turns eAPI JSON into :class:`SwitchFacts`;
the planner reads both.

It must never import pyvmomi, pyeapi or scapy, and never hold anything mutable:
every class here is a frozen dataclass built from tuples, strings, numbers,
:class:`~eos_vmtracer.vlans.VlanSet` and :class:`types.MappingProxyType`-free
plain ``dict``s that nobody mutates after construction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Optional

from eos_vmtracer.vlans import VlanSet

# -- vCenter inventory -----------------------------------------------------------------


class SessionState(str, enum.Enum):
    """Where a vCenter session stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth-failed"
    TLS_ERROR = "tls-error"


class VlanKind(str, enum.Enum):
    """How a portgroup tags its traffic."""

    NONE = "none"  # VLAN 0: untagged on the uplink, adds nothing
    VLAN = "vlan"  # one VLAN id
    TRUNK = "trunk"  # ranges (distributed trunk, or 4095 on a standard portgroup)
    PVLAN = "pvlan"  # private VLAN: primary and secondary both cross the uplink
    INVALID = "invalid"  # something vCenter sent that is not a usable VLAN spec


@dataclass(frozen=True)
class VlanSpec:
    """A portgroup's VLAN configuration, reduced to the VLANs it puts on an uplink."""

    kind: VlanKind
    vlans: VlanSet = field(default_factory=VlanSet.none)
    detail: str = ""  # e.g. "pvlan 101 (primary 100)", or why it is invalid

    @classmethod
    def untagged(cls) -> VlanSpec:
        """VLAN 0 / no tagging."""
        return cls(VlanKind.NONE, VlanSet.none(), "untagged")

    @classmethod
    def single(cls, vlan_id: int) -> VlanSpec:
        """One VLAN id; 0 means untagged."""
        if vlan_id == 0:
            return cls.untagged()
        return cls(VlanKind.VLAN, VlanSet([vlan_id]), f"vlan {vlan_id}")

    @classmethod
    def trunk(cls, vlans: VlanSet) -> VlanSpec:
        """A trunk portgroup carrying ``vlans``."""
        return cls(VlanKind.TRUNK, vlans, f"trunk {vlans}")

    @classmethod
    def private(cls, primary: int, secondary: int) -> VlanSpec:
        """A private-VLAN portgroup: secondary and primary both cross the uplink."""
        return cls(
            VlanKind.PVLAN,
            VlanSet({primary, secondary}),
            f"pvlan {secondary} (primary {primary})",
        )

    @classmethod
    def invalid(cls, why: str) -> VlanSpec:
        """A spec the adapter could not use; it adds nothing."""
        return cls(VlanKind.INVALID, VlanSet.none(), why)


@dataclass(frozen=True)
class Neighbor:
    """What a vmnic hears from the switch it is cabled to (QueryNetworkHint)."""

    protocol: str  # "cdp" or "lldp"
    device_id: str  # CDP devId / LLDP system name or chassis id
    port_id: str  # CDP portId / LLDP port id
    address: str = ""  # management address, when the neighbour sent one


@dataclass(frozen=True)
class PhysicalNic:
    """A host's physical NIC (vmnic) and the switch port(s) it sees."""

    device: str  # "vmnic0"
    mac: str = ""
    neighbors: tuple[Neighbor, ...] = ()


@dataclass(frozen=True)
class HostSwitch:
    """A standard vSwitch, or a host's proxy of a distributed switch, with its uplinks."""

    key: str  # standard: vSwitch name; distributed: the switch's UUID
    name: str
    distributed: bool
    uplinks: tuple[str, ...]  # vmnic device names


@dataclass(frozen=True)
class HostPortgroup:
    """A standard portgroup on one host (its VLAN can differ from host to host)."""

    name: str
    switch: str  # the vSwitch name
    vlan: VlanSpec
    #: vmnics named by the portgroup's teaming override (active + standby);
    #: ``None`` means "the vSwitch's uplinks".
    uplinks: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class NetworkRef:
    """Where a vNIC or VMkernel adapter is plugged: a standard or a distributed portgroup."""

    distributed: bool
    key: str  # standard: portgroup name; distributed: portgroup key ("dvportgroup-12")
    switch: str = ""  # distributed: the switch UUID

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class VmkNic:
    """A VMkernel adapter: it needs its portgroup's VLAN like a powered-on VM."""

    device: str  # "vmk0"
    network: NetworkRef


@dataclass(frozen=True)
class Host:
    """An ESXi host as the planner needs it."""

    moid: str
    name: str
    connected: bool = True  # False: disconnected or not responding -> keeps its VLANs
    nics: tuple[PhysicalNic, ...] = ()
    switches: tuple[HostSwitch, ...] = ()
    portgroups: tuple[HostPortgroup, ...] = ()
    vmknics: tuple[VmkNic, ...] = ()

    def nic(self, device: str) -> Optional[PhysicalNic]:
        """The physical NIC named ``device``, if the host has it."""
        for nic in self.nics:
            if nic.device == device:
                return nic
        return None

    def switch(self, key: str) -> Optional[HostSwitch]:
        """The vSwitch or proxy switch with this key (name or DVS UUID)."""
        for sw in self.switches:
            if sw.key == key:
                return sw
        return None

    def portgroup(self, name: str) -> Optional[HostPortgroup]:
        """The standard portgroup named ``name`` on this host."""
        for pg in self.portgroups:
            if pg.name == name:
                return pg
        return None


@dataclass(frozen=True)
class DvPortgroup:
    """A distributed portgroup."""

    key: str  # "dvportgroup-12"
    name: str
    switch: str  # the distributed switch's UUID
    vlan: VlanSpec
    uplink_portgroup: bool = False  # the DVS's own uplink portgroup: never a VM's network


@dataclass(frozen=True)
class VNic:
    """A VM's virtual NIC."""

    key: int  # device key, stable for the VM's life
    label: str  # "Network adapter 1"
    network: Optional[NetworkRef]  # None: a backing we cannot map (opaque network, ...)
    connected: bool = True
    mac: str = ""


@dataclass(frozen=True)
class Vm:
    """A virtual machine, keyed by its managed-object id (never by name)."""

    moid: str
    name: str
    powered_on: bool
    host: Optional[str]  # the host's moid
    nics: tuple[VNic, ...] = ()


@dataclass(frozen=True)
class Migration:
    """A migration in progress: the VM will arrive on ``dest_host`` (make-before-break)."""

    vm: str  # the VM's moid
    dest_host: str  # the destination host's moid
    started: float  # wall-clock seconds


@dataclass(frozen=True)
class SessionInventory:
    """Everything one vCenter session knows, as of its last update."""

    name: str
    state: SessionState = SessionState.CONNECTING
    synced: bool = False  # a full, consistent sync since the last (re)connect
    hosts: Mapping[str, Host] = field(default_factory=dict)
    vms: Mapping[str, Vm] = field(default_factory=dict)
    dv_portgroups: Mapping[str, DvPortgroup] = field(default_factory=dict)
    migrations: Mapping[str, Migration] = field(default_factory=dict)  # by VM moid
    error: str = ""  # the last error, for status
    since: float = 0.0  # when ``state`` was entered
    #: Hosts (moids) whose neighbours are not known yet: never asked (QueryNetworkHint),
    #: or asked before they could hear this switch's first CDP frames. What they hear
    #: is unknown, so ``switch.static_hosts`` does not apply to them yet.
    unsettled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Inventory:
    """Every session's inventory, the planner's view of vCenter."""

    sessions: tuple[SessionInventory, ...] = ()

    def session(self, name: str) -> Optional[SessionInventory]:
        """The inventory of the session called ``name``."""
        for s in self.sessions:
            if s.name == name:
                return s
        return None


# -- switch facts ----------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchInterface:
    """One switch interface as the planner needs it."""

    name: str  # canonical EOS name
    mode: str = "trunk"  # "trunk", "access", "routed", ... (as EOS reports it)
    allowed: VlanSet = field(default_factory=VlanSet.all)  # trunk allowed VLANs
    native_vlan: int = 1
    access_vlan: int = 1
    channel: Optional[str] = None  # the Port-Channel this interface is a member of
    mac: str = ""  # burned-in / configured address, for CDP frames


@dataclass(frozen=True)
class SwitchFacts:
    """What the switch is and how it is configured, read over eAPI in one request."""

    hostname: str
    fqdn: str = ""
    model: str = ""
    version: str = ""
    system_mac: str = ""
    mgmt_addresses: tuple[str, ...] = ()
    interfaces: Mapping[str, SwitchInterface] = field(default_factory=dict)
    vlans: Mapping[int, str] = field(default_factory=dict)  # existing VLANs -> name

    def existing_vlans(self) -> VlanSet:
        """The VLANs that exist on the switch."""
        return VlanSet(self.vlans)
