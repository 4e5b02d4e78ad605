"""Lab vCenter scenarios for the benchmarks: hosts cabled to the ports of one leaf switch.

What this module is for: the estates the benchmarks measure, as plain scenario
dicts for :class:`lab.vcsim.VcsimLab`, plus what the switch must carry once
the agent has caught up (:func:`expected_vlans`), computed from the scenario alone
(an oracle independent of the planner).

Every host has ``vmnic0`` (standard vSwitch0, portgroups ``PG-<vlan>``) cabled by
CDP to ``Ethernet<p>`` of :data:`SWITCH` and ``vmnic1`` (distributed switch
``DSwitch``, portgroups ``DV-<vlan>``) cabled by LLDP to another port of it. Hosts
sit in clusters of ``cluster_size``: govmomi's simulator checks every host of a
VM's cluster against the distributed switch's members when it creates a VM with a
distributed vNIC, so one 1,000-host cluster makes building the lab quadratic (and
real clusters hold at most a few dozen hosts anyway).

It must never return a shared object: every call builds a fresh dict.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Optional, Sequence

SWITCH = "leaf1"
USERNAME = "svc-vmtracer@vsphere.local"
PASSWORD = "bench-Secret-1"


def port_of(host: int, ports: int, nic: int = 0) -> str:
    """The leaf port a host's vmnic is cabled to (host numbers start at 0)."""
    offset = 0 if nic == 0 else ports // 2
    return f"Ethernet{(host + offset) % ports + 1}"


def _cdp(port: str) -> dict[str, Any]:
    return {
        "device_id": f"{SWITCH}.lab",
        "port_id": port,
        "address": "192.0.2.10",
        "platform": "Arista Networks DCS-7050TX-64",
        "version": "EOS 4.31.1F",
    }


def _lldp(port: str) -> dict[str, Any]:
    return {"chassis_id": "00:1c:73:00:00:01", "port_id": port, "system_name": SWITCH}


def fabric(
    *,
    hosts: int,
    vms: Sequence[dict[str, Any]] = (),
    ports: int = 48,
    std_vlans: Iterable[int] = range(100, 120),
    dv_vlans: Iterable[int] = range(200, 220),
    cluster_size: int = 32,
) -> dict[str, Any]:
    """``hosts`` hosts cabled to ``ports`` ports of the leaf, and ``vms`` (built by
    :func:`vm`)."""
    std = sorted(set(std_vlans))
    dv = sorted(set(dv_vlans))
    scenario: dict[str, Any] = {
        "username": USERNAME,
        "password": PASSWORD,
        "dvswitches": [
            {"name": "DSwitch", "portgroups": [{"name": f"DV-{v}", "vlan": v} for v in dv]}
        ],
        "hosts": [],
        "vms": [dict(v) for v in vms],
    }
    portgroups = [{"name": "Management Network", "vlan": 0}]
    portgroups += [{"name": f"PG-{v}", "vlan": v} for v in std]
    for h in range(hosts):
        scenario["hosts"].append(
            {
                "name": host_name(h),
                "cluster": f"Cluster{h // cluster_size + 1}",
                "nics": [{"device": "vmnic0"}, {"device": "vmnic1"}],
                "vswitches": [
                    {"name": "vSwitch0", "uplinks": ["vmnic0"], "portgroups": list(portgroups)}
                ],
                "dvs": [{"dvs": "DSwitch", "uplinks": ["vmnic1"]}],
                "vmknics": [{"device": "vmk0", "portgroup": "Management Network"}],
                "neighbors": {
                    "vmnic0": {"cdp": _cdp(port_of(h, ports, 0))},
                    "vmnic1": {"lldp": _lldp(port_of(h, ports, 1))},
                },
            }
        )
    return scenario


def host_name(h: int) -> str:
    return f"esx{h + 1}.lab"


def vm(
    name: str, host: int, vlan: int, *, distributed: bool = False, on: bool = True
) -> dict[str, Any]:
    """A VM with one vNIC on ``PG-<vlan>`` (or ``DV-<vlan>``) on host number ``host``."""
    nic = {"dvportgroup": f"DV-{vlan}"} if distributed else {"portgroup": f"PG-{vlan}"}
    return {"name": name, "host": host_name(host), "power": "on" if on else "off", "nics": [nic]}


def spread_vms(
    count: int,
    hosts: int,
    std_vlans: Sequence[int],
    dv_vlans: Sequence[int] = (),
    *,
    on: bool = True,
    seed: int = 1,
    prefix: str = "vm",
) -> list[dict[str, Any]]:
    """``count`` VMs round-robin over the hosts, each on a random portgroup (seeded)."""
    rng = random.Random(seed)
    out = []
    for j in range(count):
        distributed = bool(dv_vlans) and j % 2 == 1
        vlan = rng.choice(list(dv_vlans) if distributed else list(std_vlans))
        out.append(vm(f"{prefix}{j}", j % hosts, vlan, distributed=distributed, on=on))
    return out


def expected_vlans(
    scenario: dict[str, Any], ports: int = 48, powered: Optional[set[str]] = None
) -> dict[str, set[int]]:
    """Port -> VLANs the powered-on VMs need (``powered`` overrides the scenario's power)."""
    index = {host_name(h): h for h in range(len(scenario["hosts"]))}
    need: dict[str, set[int]] = {}
    for v in scenario["vms"]:
        on = v["name"] in powered if powered is not None else v.get("power", "on") == "on"
        if not on:
            continue
        h = index[v["host"]]
        for nic in v["nics"]:
            if "portgroup" in nic:
                vlan, port = int(nic["portgroup"].split("-")[1]), port_of(h, ports, 0)
            else:
                vlan, port = int(nic["dvportgroup"].split("-")[1]), port_of(h, ports, 1)
            if vlan:
                need.setdefault(port, set()).add(vlan)
    return need
