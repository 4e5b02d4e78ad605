"""What the lab world is made of: the switch, the vCenters, the ESXi hosts and the cabling.

What this module is for: one plain description (:class:`Topology`) that the
world (:mod:`lab.world.world`) builds from, and two ready-made ones: the
end-to-end suite's (:func:`standard`) and the demo's (:func:`demo`). A topology
says which host vmnic is cabled to which switch port; the vCenter scenarios it
produces never preset a neighbour for a cabled vmnic — what vCenter reports
about cabling must come from the agent's own CDP frames, as heard by lldpd in
the host's namespace (see :mod:`lab.world.bridge`).

It must never import the project under test (``eos_vmtracer``): the expected
cabling and port names are computed here independently, so they can serve as an
oracle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from lab.eapi.state import SwitchState


class TopologyError(ValueError):
    """A topology that cannot be built (or that would preset cabling in vCenter)."""


@dataclass(frozen=True)
class Cable:
    """A veth "cable": ``host``'s ``vmnic`` is plugged into switch port ``port``."""

    host: str
    vmnic: str
    port: str  # an Ethernet: "Ethernet7"


@dataclass(frozen=True)
class Vcenter:
    """One lab vCenter: the agent's session name, its allowed VLANs, the scenario."""

    name: str
    allowed_vlans: str
    scenario: Mapping[str, Any]
    vrf: str = ""  # the session's ``vrf`` ("": not set, the default VRF)
    source_interface: str = ""  # the session's ``source_interface`` ("": not set)

    def host_names(self) -> list[str]:
        return [str(h["name"]) for h in self.scenario.get("hosts", [])]


@dataclass(frozen=True)
class Timings:
    """Short timings, so tests and the demo see removals and repairs in seconds."""

    remove_delay: float = 5.0
    check_interval: float = 3.0
    cdp_interval: float = 1.0
    cdp_holdtime: int = 10
    hint_interval: float = 1.0
    discovery_interval: float = 60.0
    eapi_timeout: float = 5.0  # a lost eAPI answer is noticed in seconds, not 30


@dataclass(frozen=True)
class Topology:
    """The whole lab: one switch, its vCenters, their hosts and the cables between them."""

    vcenters: tuple[Vcenter, ...]
    cables: tuple[Cable, ...]
    hostname: str = "leaf1"
    ethernets: int = 8
    port_channels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    trunk_allowed: str = "1"
    static: Mapping[str, str] = field(default_factory=dict)  # port -> operator's allowed list
    vlans: Mapping[int, str] = field(default_factory=dict)  # VLANs that exist at the start
    interfaces: tuple[str, ...] = ("Ethernet1-6",)  # [switch] interfaces of the agent
    timings: Timings = field(default_factory=Timings)
    #: The VRF of the management port (ma1), as on EOS: its own network namespace,
    #: ``ns-<VRF>``, the only way to the vCenters. "": ma1 is in the switch's namespace.
    mgmt_vrf: str = ""
    static_hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # [switch]

    # -- views ------------------------------------------------------------------------------
    def vcenter(self, name: str) -> Vcenter:
        for vc in self.vcenters:
            if vc.name == name:
                return vc
        raise KeyError(name)

    def vcenter_of(self, host: str) -> str:
        """The vCenter (session name) managing ``host``."""
        for vc in self.vcenters:
            if host in vc.host_names():
                return vc.name
        raise KeyError(host)

    def hosts(self) -> list[str]:
        """Every ESXi host that has at least one cable (each gets a namespace)."""
        return list(dict.fromkeys(c.host for c in self.cables))

    def channel_of(self, port: str) -> Optional[str]:
        for channel, members in self.port_channels.items():
            if port in members:
                return channel
        return None

    def switch_state(self) -> dict[str, Any]:
        """The eAPI emulator's initial state (``/lab/state`` JSON)."""
        state = SwitchState.build(
            hostname=self.hostname,
            ethernet=self.ethernets,
            trunk_allowed=self.trunk_allowed,
            port_channels={k: list(v) for k, v in self.port_channels.items()},
            vlans=dict(self.vlans),
        )
        data = state.to_dict()
        for port, allowed in self.static.items():
            data["interfaces"][port]["allowed"] = allowed
        return data

    # -- checks ---------------------------------------------------------------------------------
    def validate(self) -> None:
        """Refuse a topology the world cannot build faithfully."""
        hosts: dict[str, Mapping[str, Any]] = {}
        for vc in self.vcenters:
            for h in vc.scenario.get("hosts", []):
                if h["name"] in hosts:
                    raise TopologyError(f"host {h['name']} is in two vCenters")
                hosts[h["name"]] = h
        ports = {f"Ethernet{n}" for n in range(1, self.ethernets + 1)}
        seen_ports: set[str] = set()
        for c in self.cables:
            h = hosts.get(c.host)
            if h is None:
                raise TopologyError(f"cable {c}: no vCenter has host {c.host}")
            if c.vmnic not in {n["device"] for n in h.get("nics", [])}:
                raise TopologyError(f"cable {c}: {c.host} has no {c.vmnic}")
            if c.port not in ports:
                raise TopologyError(f"cable {c}: the switch has no {c.port}")
            if c.port in seen_ports:
                raise TopologyError(f"cable {c}: {c.port} is cabled twice")
            seen_ports.add(c.port)
            if c.vmnic in (h.get("neighbors") or {}):
                raise TopologyError(
                    f"{c.host} {c.vmnic} is cabled, so vCenter must learn its neighbour from"
                    " CDP: the scenario must not preset it"
                )
        for port in self.static:
            if port not in ports and port not in self.port_channels:
                raise TopologyError(f"static VLANs for {port}, which the switch does not have")
        for members in self.port_channels.values():
            for m in members:
                if m not in ports:
                    raise TopologyError(f"Port-Channel member {m} does not exist")


def kernel_name(port: str) -> str:
    """EOS's kernel interface name of a front-panel port: ``Ethernet7`` -> ``et7``."""
    match = re.fullmatch(r"Ethernet(\d+(?:/\d+)*)", port)
    if match is None:
        raise TopologyError(f"{port} is not a front-panel Ethernet")
    return "et" + match.group(1).replace("/", "_")


# -- scenario builders -------------------------------------------------------------------------


def portgroups(vlans: Mapping[str, int]) -> list[dict[str, Any]]:
    """Standard portgroups (name -> VLAN id) plus the management network (VLAN 0)."""
    out: list[dict[str, Any]] = [{"name": "Management Network", "vlan": 0}]
    out += [{"name": name, "vlan": vlan} for name, vlan in vlans.items()]
    return out


def esx_host(
    name: str,
    vmnics: int,
    pgs: Mapping[str, int],
    *,
    neighbors: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """An ESXi host: ``vmnics`` NICs, all uplinks of vSwitch0 carrying ``pgs``."""
    nics = [f"vmnic{i}" for i in range(vmnics)]
    host: dict[str, Any] = {
        "name": name,
        "cluster": "Cluster1",
        "nics": [{"device": n} for n in nics],
        "vswitches": [{"name": "vSwitch0", "uplinks": nics, "portgroups": portgroups(pgs)}],
        "vmknics": [{"device": "vmk0", "portgroup": "Management Network"}],
    }
    if neighbors:
        host["neighbors"] = dict(neighbors)
    return host


def vm(name: str, host: str, portgroup: str, *, on: bool = True) -> dict[str, Any]:
    """A VM with one vNIC on a standard portgroup."""
    power = "on" if on else "off"
    return {"name": name, "host": host, "power": power, "nics": [{"portgroup": portgroup}]}


def _vm_pgs(vlans: Iterable[int]) -> dict[str, int]:
    return {f"VM-{v}": v for v in vlans}


# -- the ready-made topologies ----------------------------------------------------------------

#: VLAN -> the VM (in vCenter vc1 unless said otherwise) that the e2e tests use it for.
STANDARD_VLANS = {
    100: "steady1 (always on, esx1)",
    101: "pwr1 (power on/off, esx1)",
    102: "mig1 (vMotion esx1 -> esx2)",
    105: "fs1 (vCenter killed, esx2)",
    106: "rk1 (agent killed: stays, esx2)",
    107: "rk2 (agent killed: pending removal, esx2)",
    108: "dr1 (drift, esx2)",
    109: "two1 (two sessions, esx2)",
    110: "pc1 (Port-Channel, esx3)",
    111: "app1 (demo)",
    120: "edit1 on PG-edit (portgroup edit -> 121, esx2)",
    150: "ops1 (operator's static VLAN on Ethernet1, esx1)",
    500: "big1 (outside allowed VLANs, esx1)",
    201: "vc2web (vc2, esx4)",
    209: "two2 (vc2, two sessions, esx4)",
}


def standard(timings: Optional[Timings] = None) -> Topology:
    """The end-to-end suite's lab.

    Switch ``leaf1``: Ethernet1-8, Port-Channel10 = Ethernet7 + Ethernet8; the agent
    manages Ethernet1-6 and Port-Channel10. Trunks allow VLAN 1; Ethernet1 also has
    the operator's VLANs 150 and 900. VLANs 150 and 900 exist; the agent creates the rest.

    vCenter ``vc1`` (allowed 100-199): esx1 (vmnic0 -> Ethernet1; vmnic1 hears another
    switch, leaf2, preset in the scenario since it is not cabled here), esx2 (vmnic0 ->
    Ethernet2), esx3 dual-homed (vmnic0 -> Ethernet7, vmnic1 -> Ethernet8).
    vCenter ``vc2`` (allowed 200-299): esx4 (vmnic0 -> Ethernet3).
    """
    vc1_pgs = _vm_pgs([100, 101, 102, 105, 106, 107, 108, 109, 110, 111, 150, 500])
    vc1_pgs["PG-edit"] = 120
    other_switch = {
        "vmnic1": {
            "cdp": {
                "device_id": "leaf2",
                "port_id": "Ethernet1",
                "address": "192.0.2.11",
                "platform": "DCS-7050TX-64",
                "version": "Arista Networks EOS version 4.31.1F",
            }
        }
    }
    vc1 = {
        "username": "svc-vmtracer@vsphere.local",
        "password": "lab-Secret-1",
        "hosts": [
            esx_host("esx1", 2, vc1_pgs, neighbors=other_switch),
            esx_host("esx2", 1, vc1_pgs),
            esx_host("esx3", 2, vc1_pgs),
        ],
        "vms": [
            vm("steady1", "esx1", "VM-100"),
            vm("pwr1", "esx1", "VM-101", on=False),
            vm("mig1", "esx1", "VM-102"),
            vm("ops1", "esx1", "VM-150", on=False),
            vm("big1", "esx1", "VM-500", on=False),
            vm("app1", "esx1", "VM-111", on=False),
            vm("edit1", "esx2", "PG-edit"),
            vm("fs1", "esx2", "VM-105", on=False),
            vm("rk1", "esx2", "VM-106"),
            vm("rk2", "esx2", "VM-107"),
            vm("dr1", "esx2", "VM-108"),
            vm("two1", "esx2", "VM-109", on=False),
            vm("pc1", "esx3", "VM-110", on=False),
        ],
    }
    vc2 = {
        "username": "svc-vmtracer@vsphere.local",
        "password": "lab-Secret-2",
        "hosts": [esx_host("esx4", 1, _vm_pgs([150, 201, 209]))],
        "vms": [
            vm("vc2web", "esx4", "VM-201"),
            vm("two2", "esx4", "VM-209", on=False),
            vm("x150", "esx4", "VM-150", on=False),
        ],
    }
    return Topology(
        vcenters=(Vcenter("vc1", "100-199", vc1), Vcenter("vc2", "200-299", vc2)),
        cables=(
            Cable("esx1", "vmnic0", "Ethernet1"),
            Cable("esx2", "vmnic0", "Ethernet2"),
            Cable("esx4", "vmnic0", "Ethernet3"),
            Cable("esx3", "vmnic0", "Ethernet7"),
            Cable("esx3", "vmnic1", "Ethernet8"),
        ),
        port_channels={"Port-Channel10": ("Ethernet7", "Ethernet8")},
        static={"Ethernet1": "1,150,900"},
        vlans={150: "ops", 900: "backup"},
        interfaces=("Ethernet1-6", "Port-Channel10"),
        timings=timings or Timings(),
    )


#: VLAN -> what the management-VRF lab (:func:`mgmt_vrf_lab`) uses it for (all in vc1).
MGMT_VRF_VLANS = {
    100: "web1 (always on, esx1: heard on Ethernet1, also matches a static pattern)",
    101: "mv1 (vMotion esx1 -> esx2, through the VRF)",
    110: "bl1 (on blade1: never heard, static on Ethernet4)",
    111: "bl2 (on blade2: never heard, static on Port-Channel10)",
    120: "ch* (churn during resync, esx2)",
    121: "ch*",
    122: "ch*",
    123: "ch*",
    130: "kp1 (kept while the VRF is missing, esx2)",
}


def mgmt_vrf_lab(timings: Optional[Timings] = None) -> Topology:
    """A fabric built the usual way: vCenter only on the management VRF, hosts never heard.

    Switch ``leaf1``: Ethernet1-8, Port-Channel10 = Ethernet7 + Ethernet8 (nothing
    cabled to it). ``ma1`` (Management1) is in VRF ``MGMT``: the agent's namespace has no
    route to the vCenter, only ``ns-MGMT`` has. The session has ``vrf = "MGMT"`` and
    ``source_interface = "Management1"``. ``static_hosts``: Ethernet4 <- ``blade1*``,
    Port-Channel10 <- ``blade2.lab``, Ethernet3 <- ``esx1*`` (esx1 is heard on Ethernet1,
    which wins).

    vCenter ``vc1`` (allowed 100-199): esx1 (vmnic0 -> Ethernet1), esx2 (vmnic0 ->
    Ethernet2), blade1.lab and blade2.lab (two vmnics each, cabled nowhere in the lab:
    nothing is ever heard from them).
    """
    pgs = _vm_pgs(MGMT_VRF_VLANS)
    vc1 = {
        "username": "svc-vmtracer@vsphere.local",
        "password": "lab-Secret-1",
        "hosts": [
            esx_host("esx1", 1, pgs),
            esx_host("esx2", 1, pgs),
            esx_host("blade1.lab", 2, pgs),
            esx_host("blade2.lab", 2, pgs),
        ],
        "vms": [
            vm("web1", "esx1", "VM-100"),
            vm("mv1", "esx1", "VM-101"),
            vm("bl1", "blade1.lab", "VM-110"),
            vm("bl2", "blade2.lab", "VM-111", on=False),
            *(vm(f"ch{v}", "esx2", f"VM-{v}", on=False) for v in (120, 121, 122, 123)),
            vm("kp1", "esx2", "VM-130"),
        ],
    }
    return Topology(
        vcenters=(
            Vcenter("vc1", "100-199", vc1, vrf="MGMT", source_interface="Management1"),
        ),
        cables=(Cable("esx1", "vmnic0", "Ethernet1"), Cable("esx2", "vmnic0", "Ethernet2")),
        port_channels={"Port-Channel10": ("Ethernet7", "Ethernet8")},
        interfaces=("Ethernet1-6", "Port-Channel10"),
        timings=timings or Timings(),
        mgmt_vrf="MGMT",
        static_hosts={
            "Ethernet4": ("blade1*",),
            "Port-Channel10": ("blade2.lab",),
            "Ethernet3": ("esx1*",),
        },
    )


def demo(timings: Optional[Timings] = None) -> Topology:
    """The demo's lab: one vCenter, esx1 on Ethernet1, esx2 on Ethernet2, one VM to move."""
    pgs = _vm_pgs([100, 111])
    vc1 = {
        "username": "svc-vmtracer@vsphere.local",
        "password": "lab-Secret-1",
        "hosts": [esx_host("esx1", 1, pgs), esx_host("esx2", 1, pgs)],
        "vms": [vm("web1", "esx1", "VM-100"), vm("app1", "esx1", "VM-111", on=False)],
    }
    return Topology(
        vcenters=(Vcenter("vc1", "100-199", vc1),),
        cables=(Cable("esx1", "vmnic0", "Ethernet1"), Cable("esx2", "vmnic0", "Ethernet2")),
        ethernets=4,
        static={"Ethernet1": "1,900"},
        vlans={900: "backup"},
        interfaces=("Ethernet1-2",),
        timings=timings or Timings(remove_delay=6.0),
    )


__all__ = [
    "MGMT_VRF_VLANS",
    "STANDARD_VLANS",
    "Cable",
    "Timings",
    "Topology",
    "TopologyError",
    "Vcenter",
    "demo",
    "esx_host",
    "kernel_name",
    "mgmt_vrf_lab",
    "portgroups",
    "standard",
    "vm",
]
