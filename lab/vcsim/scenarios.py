"""Scenarios for the lab vCenter: plain dicts that tests and the demo shape further.

What this module is for: one place that describes a small but complete vSphere
estate (hosts with several vmnics cabled to two leaf switches, standard vSwitches
with VLAN portgroups and a teaming override, a distributed switch with VLAN, trunk
and private-VLAN portgroups, VMs with one or more vNICs, VMkernel adapters).

It must never return a shared object: every call builds a fresh dict.
"""

from __future__ import annotations

from typing import Any

LEAF1 = "leaf1.lab"
LEAF2 = "leaf2.lab"


def _cdp(switch: str, port: str, address: str) -> dict[str, Any]:
    return {
        "device_id": switch,
        "port_id": port,
        "address": address,
        "platform": "Arista Networks DCS-7050TX-64",
        "version": "EOS 4.30.2F",
    }


def basic() -> dict[str, Any]:
    """Three hosts, one distributed switch, five VMs (one powered off, one on NSX)."""
    return {
        "username": "svc-vmtracer@vsphere.local",
        "password": "lab-Secret-1",
        "dvswitches": [
            {
                "name": "DSwitch",
                "pvlans": [
                    {"primary": 200, "secondary": 200, "type": "promiscuous"},
                    {"primary": 200, "secondary": 201, "type": "isolated"},
                    {"primary": 200, "secondary": 202, "type": "community"},
                ],
                "portgroups": [
                    {"name": "DV-300", "vlan": 300},
                    {"name": "DV-301", "vlan": 301},
                    {"name": "DV-trunk", "trunk": [[400, 410], [420, 420]]},
                    {"name": "DV-pvlan", "pvlan": 201},
                    {"name": "DV-untagged", "vlan": 0},
                    {"name": "DV-vmotion", "vlan": 350},
                ],
            }
        ],
        "hosts": [
            {
                "name": "esx1.lab",
                "cluster": "Cluster1",
                "nics": [{"device": f"vmnic{i}"} for i in range(4)],
                "vswitches": [
                    {
                        "name": "vSwitch0",
                        "uplinks": ["vmnic0", "vmnic1"],
                        "portgroups": [
                            {"name": "Management Network", "vlan": 0},
                            {"name": "VM-100", "vlan": 100},
                            {"name": "VM-110", "vlan": 110, "active": ["vmnic1"], "standby": []},
                            {"name": "VM-trunk", "vlan": 4095},
                        ],
                    }
                ],
                "dvs": [{"dvs": "DSwitch", "uplinks": ["vmnic2", "vmnic3"]}],
                "vmknics": [
                    {"device": "vmk0", "portgroup": "Management Network"},
                    {"device": "vmk1", "dvportgroup": "DV-vmotion"},
                ],
                "neighbors": {
                    "vmnic0": {"cdp": _cdp(LEAF1, "Ethernet1", "10.0.0.1")},
                    "vmnic1": {"cdp": _cdp(LEAF2, "Ethernet1", "10.0.0.2")},
                    "vmnic2": {
                        "lldp": {
                            "chassis_id": "00:1c:73:00:00:01",
                            "port_id": "Ethernet11",
                            "system_name": LEAF1,
                            "address": "10.0.0.1",
                        }
                    },
                    "vmnic3": {
                        "cdp": _cdp(LEAF2, "Ethernet11", "10.0.0.2"),
                        "lldp": {
                            "chassis_id": "00:1c:73:00:00:02",
                            "port_id": "Ethernet11",
                            "system_name": LEAF2,
                        },
                    },
                },
            },
            {
                "name": "esx2.lab",
                "cluster": "Cluster1",
                "nics": [{"device": f"vmnic{i}"} for i in range(4)],
                "vswitches": [
                    {
                        "name": "vSwitch0",
                        "uplinks": ["vmnic0", "vmnic1"],
                        "portgroups": [
                            {"name": "Management Network", "vlan": 0},
                            {"name": "VM-100", "vlan": 100},
                            {"name": "VM-110", "vlan": 111},
                        ],
                    }
                ],
                "dvs": [{"dvs": "DSwitch", "uplinks": ["vmnic2", "vmnic3"]}],
                "vmknics": [
                    {"device": "vmk0", "portgroup": "Management Network"},
                    {"device": "vmk1", "dvportgroup": "DV-vmotion"},
                ],
                "neighbors": {
                    "vmnic0": {"cdp": _cdp(LEAF1, "Ethernet2", "10.0.0.1")},
                    "vmnic1": {"cdp": _cdp(LEAF2, "Ethernet2", "10.0.0.2")},
                    "vmnic2": {"cdp": _cdp(LEAF1, "Ethernet12", "10.0.0.1")},
                    "vmnic3": {"cdp": _cdp(LEAF2, "Ethernet12", "10.0.0.2")},
                },
            },
            {
                "name": "esx3.lab",
                "cluster": "Cluster1",
                "nics": [{"device": "vmnic0"}, {"device": "vmnic1"}],
                "vswitches": [
                    {
                        "name": "vSwitch0",
                        "uplinks": ["vmnic0"],
                        "portgroups": [
                            {"name": "Management Network", "vlan": 0},
                            {"name": "VM-100", "vlan": 100},
                        ],
                    }
                ],
                "dvs": [{"dvs": "DSwitch", "uplinks": ["vmnic1"]}],
                "vmknics": [{"device": "vmk0", "portgroup": "Management Network"}],
                "neighbors": {
                    "vmnic0": {"cdp": _cdp(LEAF1, "Ethernet3", "10.0.0.1")},
                    "vmnic1": {"cdp": _cdp(LEAF1, "Ethernet13", "10.0.0.1")},
                },
            },
        ],
        "vms": [
            {
                "name": "web1",
                "host": "esx1.lab",
                "nics": [{"portgroup": "VM-100"}, {"dvportgroup": "DV-300"}],
            },
            {"name": "web2", "host": "esx2.lab", "nics": [{"portgroup": "VM-110"}]},
            {
                "name": "db1",
                "host": "esx2.lab",
                "nics": [
                    {"dvportgroup": "DV-trunk"},
                    {"dvportgroup": "DV-pvlan", "connected": False},
                ],
            },
            {
                "name": "idle1",
                "host": "esx3.lab",
                "power": "off",
                "nics": [{"dvportgroup": "DV-301"}],
            },
            {"name": "nsx1", "host": "esx1.lab", "nics": [{"opaque": "ls-0001"}]},
        ],
    }


def scaled(hosts: int, vms_per_host: int) -> dict[str, Any]:
    """A bigger estate for load measurements: ``hosts`` x ``vms_per_host`` VMs."""
    s = basic()
    template = s["hosts"][1]
    s["hosts"] = s["hosts"][:1]
    for i in range(2, hosts + 1):
        h = {**template, "name": f"esx{i}.lab"}
        s["hosts"].append(h)
    s["vms"] = [
        {
            "name": f"vm{h}-{n}",
            "host": f"esx{h}.lab",
            "nics": [{"portgroup": "VM-100"}, {"dvportgroup": "DV-300"}],
        }
        for h in range(2, hosts + 1)
        for n in range(vms_per_host)
    ]
    return s
