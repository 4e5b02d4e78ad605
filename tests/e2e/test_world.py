"""The lab world itself: cabling known only through the agent's CDP, and a clean teardown.

The other e2e tests rely on two properties of the world checked here: vCenter
learns where each host is cabled only from what lldpd heard of the agent's CDP
frames (recabling a host moves its VLANs), and everything the world starts is
gone once it stops, even when the code using it fails.
"""

from __future__ import annotations

import time

import pytest

from lab.netns import LldpNeighbor, is_root, run
from lab.world import Cable, TopologyError, World, cdp_spec, topology
from tests.e2e.helpers import config_changes, parse_table, pending, wait_status, wait_vlan

pytestmark = pytest.mark.e2e


def test_vcenter_reports_the_cabling_the_agents_cdp_frames_told_the_hosts(world: World) -> None:
    # The scenarios preset no neighbour on a cabled vmnic (the topology refuses it) ...
    for vc in world.topology.vcenters:
        for host in vc.scenario["hosts"]:
            cabled = {vmnic for (h, vmnic) in world.cabling if h == host["name"]}
            assert not cabled & set(host.get("neighbors", {})), host["name"]
    # ... lldpd in each host heard the agent's frames on the right vmnic ...
    for (host, vmnic), port in world.cabling.items():
        heard = {n.interface: n for n in world.bridge.heard(host)}  # type: ignore[union-attr]
        neighbor = heard[vmnic]
        assert (neighbor.via, neighbor.name, neighbor.port_id) == ("CDPv2", "leaf1", port)
        assert neighbor.mgmt_ips == ("192.0.2.10",)
        assert "DCS-7050TX-64" in neighbor.descr
    # ... and that is what the agent shows, from vCenter's QueryNetworkHint answers.
    rows = parse_table(world.show("hosts"))
    links = {(r["Vmnic"], r["Neighbor heard"], r["Interface"]) for r in rows}
    assert ("vmnic0", "leaf1 Ethernet1 (cdp)", "Ethernet1") in links
    assert ("vmnic0", "leaf1 Ethernet3 (cdp)", "Ethernet3") in links
    assert ("vmnic1", "leaf1 Ethernet8 (cdp)", "Port-Channel10") in links
    # esx1 vmnic1 is cabled to another switch (preset in the scenario): heard, not mapped.
    esx1 = next(h for h in world.show_json("hosts") if h["name"] == "esx1")
    assert [(lk["vmnic"], lk["interface"]) for lk in esx1["links"]] == [("vmnic0", "Ethernet1")]


def test_recabling_a_host_moves_its_vlans_to_the_new_port(world: World) -> None:
    ctl = world.control("vc1")
    ctl.power("rk1", on=True)
    wait_vlan(world, "Ethernet2", 106, timeout=5)
    wait_vlan(world, "Ethernet4", 106, present=False, timeout=10)
    world.recable("esx2", "vmnic0", "Ethernet4")
    try:
        # Nobody tells vCenter: lldpd hears CDP on the new port, vCenter reports it.
        took = wait_vlan(world, "Ethernet4", 106, timeout=15)
        assert took < 8
        wait_status(world, "Ethernet4", 106)
        esx2 = next(h for h in world.show_json("hosts") if h["name"] == "esx2")
        assert [(lk["neighbor"], lk["interface"]) for lk in esx2["links"]] == [
            ("leaf1 Ethernet4 (cdp)", "Ethernet4")
        ]
        assert 106 in world.allowed("Ethernet2")  # kept for remove_delay
        world.wait_for(lambda: pending(world, "Ethernet2", 106) is not None, 5, "106 pending")
    finally:
        world.recable("esx2", "vmnic0", "Ethernet2")
    world.wait_ready(30)
    assert 106 in world.allowed("Ethernet2")


def test_check_reaches_eapi_and_both_vcenters(world: World) -> None:
    out = world.vmtracer("check").stdout
    assert "eAPI: ok: leaf1 (DCS-7050TX-64, EOS 4.31.1F)" in out
    assert "vCenter vc1: ok: 3 hosts" in out
    assert "vCenter vc2: ok: 1 host, 3 VMs" in out


def _namespaces() -> set[str]:
    return {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line}


def _alive(pid: int) -> bool:
    """Running (a zombie left for init to reap has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        name, state, ppid = (fields[k].strip() for k in ("Name", "State", "PPid"))
        return f"{pid} {name} {state} ppid {ppid}"
    except OSError:
        return str(pid)


@pytest.mark.skipif(not is_root(), reason="the lab world needs root")
def test_the_world_removes_everything_it_started_even_when_its_user_fails() -> None:
    started = time.monotonic()
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="the test failed"), World(topology.demo()) as w:
        w.start_agent(timeout=60)
        names = [w.switch_ns.name, *(h.name for h in w.hosts.values())]  # type: ignore[union-attr]
        for name in names:
            pids += [int(p) for p in run(["ip", "netns", "pids", name]).stdout.split()]
        pids += [lab.pid for lab in w.vcenters.values() if lab.pid]
        pids.append(w._emulator.pid)  # type: ignore[union-attr]
        mgmt, workdir = w.mgmt_ifname, w.workdir
        assert w.agent_pid in pids and len(pids) >= 6  # agent, 2 lldpd (+ children), ...
        raise RuntimeError("the test failed")
    assert not set(names) & _namespaces()
    assert run(["ip", "link", "show", mgmt], check=False).returncode != 0
    assert not workdir.exists()
    assert [_describe(p) for p in pids if _alive(p)] == []
    assert time.monotonic() - started < 60


# -- the world's own logic (no root needed) ------------------------------------------------------


def test_a_topology_refuses_to_preset_the_neighbour_of_a_cabled_vmnic() -> None:
    lab = topology.standard()
    lab.validate()
    esx1 = lab.vcenters[0].scenario["hosts"][0]
    cheating = {**esx1, "neighbors": {"vmnic0": {"cdp": {"device_id": "leaf1"}}}}
    vc1 = topology.Vcenter("vc1", "100-199", {**lab.vcenters[0].scenario, "hosts": [cheating]})
    with pytest.raises(TopologyError, match="must learn its neighbour from CDP"):
        topology.Topology(
            vcenters=(vc1,), cables=(Cable("esx1", "vmnic0", "Ethernet1"),)
        ).validate()
    with pytest.raises(TopologyError, match="cabled twice"):
        topology.Topology(
            vcenters=lab.vcenters,
            cables=(Cable("esx1", "vmnic0", "Ethernet1"), Cable("esx2", "vmnic0", "Ethernet1")),
        ).validate()


def test_the_bridge_reports_what_lldpd_parsed_as_esxi_would() -> None:
    heard = LldpNeighbor(
        interface="vmnic0",
        via="CDPv2",
        chassis_id="leaf1",
        name="leaf1",
        descr="DCS-7050TX-64 running on\nArista Networks EOS version 4.31.1F",
        mgmt_ips=("192.0.2.10",),
        port_id="Ethernet7",
        port_descr="",
        ttl=10,
        native_vlan=1,
        capabilities=("Bridge", "Router"),
    )
    assert cdp_spec(heard) == {
        "device_id": "leaf1",
        "port_id": "Ethernet7",
        "address": "192.0.2.10",
        "platform": "DCS-7050TX-64",
        "version": "Arista Networks EOS version 4.31.1F",
        "ttl": 10,
    }


def test_the_request_log_reader_finds_every_vlan_change() -> None:
    log = [
        {"n": 1, "result": "ok", "cmds": ["show version", "show vlan"]},
        {
            "n": 2,
            "result": "ok",
            "cmds": [
                "enable",
                "configure session vmtracer-1",
                "vlan 101",
                "name VM-101",
                "exit",
                "interface Ethernet1-2,7",
                "switchport trunk allowed vlan add 101,103-104",
                "interface Port-Channel10",
                "switchport trunk allowed vlan remove 110",
                "exit",
                "no vlan 110",
                "commit",
            ],
        },
        {
            "n": 3,
            "result": "ok",
            "cmds": [
                "enable",
                "configure",
                "interface Ethernet2",
                "switchport trunk allowed vlan 1,5",
                "end",
            ],
        },
    ]
    got = [(c.n, c.by_agent, c.op, c.interfaces, sorted(c.vlans)) for c in config_changes(log)]
    assert got == [
        (2, True, "create", (), [101]),
        (2, True, "add", ("Ethernet1", "Ethernet2", "Ethernet7"), [101, 103, 104]),
        (2, True, "remove", ("Port-Channel10",), [110]),
        (2, True, "delete", (), [110]),
        (3, False, "set", ("Ethernet2",), [1, 5]),
    ]
