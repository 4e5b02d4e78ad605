"""The whole lab on one machine: vCenters, the switch, ESXi hosts, cables, and the agent.

What this module is for: :class:`World` builds a :class:`~lab.world.topology.Topology`
out of the real peers the project has, and runs the agent against them as a user
would (``vmtracer run --config F`` in its own process)::

    with World(topology.standard()) as world:     # needs root
        world.start_agent()                        # returns once the agent is ready
        world.control("vc1").power("pwr1", on=True)
        world.wait_for(lambda: 101 in world.allowed("Ethernet1"), 5, "VLAN 101 on Ethernet1")
        print(world.show("interfaces"))

What runs:

- one lab vCenter per topology vCenter (``build/vcsim-lab``, https, certificate
  pinned by thumbprint in the agent's configuration); its scenario presets no
  neighbour for a cabled vmnic;
- the eAPI emulator as its own process (``python -m lab.eapi``) on a Unix
  socket, with the topology's switch state (hostname, Ethernets, a Port-Channel,
  the operator's VLANs);
- a "switch" network namespace whose veth ends carry EOS's kernel names (``et1``,
  ``et7`` ...) plus ``ma1``, a management veth to this machine's namespace where
  the lab vCenters listen (on a per-run 198.18.0.0/15 benchmarking address);
- one namespace per ESXi host, its vmnics cabled to the switch ends, ``lldpd -c -r``
  listening for CDP inside;
- the CDP bridge (:class:`~lab.world.bridge.NeighborBridge`): what each host's
  lldpd heard becomes what its vCenter answers to ``QueryNetworkHint``;
- the agent, in the switch namespace, with the default kernel naming (no
  ``kernel_interfaces`` override): its CDP frames are the only source of cabling;
  its stderr goes to a file (:meth:`World.agent_log`) and, with
  ``capture_syslog=True``, its syslog records to a socket of the world's
  (:meth:`World.syslog`).

It must never touch what it did not create (namespaces, links and addresses carry a
per-run tag; processes are stopped by the handles it holds, never by name), and
``stop()`` (or leaving the ``with`` block, also on an exception) removes everything:
processes, namespaces, links, temporary files.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from lab.eapi import LabClient
from lab.eapi.state import parse_vlan_list
from lab.netns import (
    HostNamespace,
    Namespace,
    check_tools,
    is_root,
    run,
    unique_name,
)
from lab.vcsim import LabControl, VcsimLab, ensure_built
from lab.world.bridge import NeighborBridge
from lab.world.topology import Topology, kernel_name

REPO = Path(__file__).resolve().parents[2]
MGMT_NET = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 benchmarking addresses
MGMT_IFNAME = "ma1"  # EOS's kernel name for Management1


class WorldError(RuntimeError):
    """The world could not be built, or a part of it failed."""


def vlan_set(text: Optional[str]) -> set[int]:
    """An emulator ``allowed`` value (``None`` = ALL, ``""`` = none) as VLAN ids."""
    if text is None:
        return set(range(1, 4095))
    return set(parse_vlan_list(text)) if text else set()


class World:
    """Everything of one lab run; see the module docstring."""

    def __init__(
        self,
        topology: Topology,
        *,
        workdir: Optional[str] = None,
        python: str = sys.executable,
        capture_syslog: bool = False,
    ) -> None:
        topology.validate()
        self.topology = topology
        self.python = python
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="vmt-world-"))
        os.chmod(self.workdir, 0o755)
        self.state_dir = self.workdir / "state"
        self.run_dir = self.workdir / "run"
        self.config_path = self.workdir / "vmtracer.toml"
        self.eapi_socket = str(self.workdir / "eapi.sock")
        self.switch_ns: Optional[Namespace] = None
        self.vrf_ns: Optional[Namespace] = None
        """The management VRF's namespace (``topology.mgmt_vrf``), holding ma1."""
        self.netns_dir = self.workdir / "netns"
        """Where the agent finds ``ns-<VRF>`` (its ``VMTRACER_NETNS_DIR``): links to the
        lab's namespaces, whose real names carry a per-run tag."""
        self.session_options: dict[str, dict[str, Any]] = {}
        """vCenter name -> extra ``[[session]]`` keys (see :meth:`configure_session`)."""
        self.hosts: dict[str, HostNamespace] = {}
        self.vcenters: dict[str, VcsimLab] = {}
        self.eapi: Optional[LabClient] = None
        self.bridge: Optional[NeighborBridge] = None
        self.mgmt_ifname = ""
        self.mgmt_addresses = ("", "")  # (this machine's side: vCenters, the switch's side)
        self.cabling = {(c.host, c.vmnic): c.port for c in topology.cables}
        """(host, vmnic) -> the switch port it is plugged into now (see :meth:`recable`)."""
        self._emulator: Optional[subprocess.Popen[bytes]] = None
        self._agent: Optional[subprocess.Popen[Any]] = None
        self._agent_runs = 0
        self._started = False
        self.capture_syslog = capture_syslog
        self.syslog_socket = str(self.workdir / "syslog.sock")
        self._syslog: Optional[socket.socket] = None
        self._syslog_records: list[bytes] = []
        self._syslog_thread: Optional[threading.Thread] = None

    # == life cycle ===========================================================================
    def start(self, timeout: float = 60.0) -> World:
        """Build everything but the agent (see :meth:`start_agent`)."""
        if not is_root():
            raise WorldError("the lab world needs root (network namespaces, raw sockets)")
        check_tools(("ip", "lldpd", "lldpcli"))
        ensure_built()
        self._started = True
        try:
            self._start_switch_namespace()
            self._start_vcenters(timeout)
            self._start_emulator(timeout)
            self._start_hosts()
            if self.capture_syslog:
                self._start_syslog()
            self._write_config()
            self.bridge = NeighborBridge(
                self.hosts,
                {
                    h: tuple(c.vmnic for c in self.topology.cables if c.host == h)
                    for h in self.hosts
                },
                {h: self.topology.vcenter_of(h) for h in self.hosts},
                self.control,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop and remove everything this world started (idempotent, never raises)."""
        problems: list[str] = []

        def attempt(what: str, fn: Callable[[], Any]) -> None:
            try:
                fn()
            except Exception as e:
                problems.append(f"{what}: {e}")

        attempt("agent", lambda: self.stop_agent(timeout=10))
        if self.bridge is not None:
            attempt("bridge", self.bridge.stop)
            self.bridge = None
        for name, host in list(self.hosts.items()):
            attempt(f"host {name}", host.close)
        self.hosts.clear()
        if self.switch_ns is not None:
            attempt("switch namespace", self.switch_ns.close)
            self.switch_ns = None
        if self.vrf_ns is not None:
            attempt("VRF namespace", self.vrf_ns.close)
            self.vrf_ns = None
        if self.mgmt_ifname:
            attempt("mgmt link", lambda: run(["ip", "link", "del", self.mgmt_ifname], check=False))
            self.mgmt_ifname = ""
        attempt("eAPI emulator", self._stop_emulator)
        attempt("syslog", self._stop_syslog)
        for name, lab in list(self.vcenters.items()):
            attempt(f"vCenter {name}", lab.stop)
        self.vcenters.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self._started = False
        if problems:
            print("lab world: cleanup problems: " + "; ".join(problems), file=sys.stderr)

    def __enter__(self) -> World:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the parts ------------------------------------------------------------------------------
    def _start_switch_namespace(self) -> None:
        self.switch_ns = Namespace("sw").create()
        sw = self.switch_ns
        vrf = self.topology.mgmt_vrf
        if vrf:  # as on EOS: Management1 lives in the VRF's namespace, ns-<VRF>
            self.vrf_ns = Namespace("vrf").create()
            sw = self.vrf_ns
            self.netns_dir.mkdir(exist_ok=True)
            (self.netns_dir / f"ns-{vrf}").symlink_to(f"/run/netns/{self.vrf_ns.name}")
        self.mgmt_ifname = unique_name("vmtmg")
        ours, theirs = self._pick_mgmt_addresses()
        run(
            [
                "ip",
                "link",
                "add",
                self.mgmt_ifname,
                "type",
                "veth",
                "peer",
                "name",
                MGMT_IFNAME,
                "netns",
                sw.name,
            ]
        )
        run(["sysctl", "-qw", f"net.ipv6.conf.{self.mgmt_ifname}.disable_ipv6=1"], check=False)
        run(["ip", "addr", "add", f"{ours}/32", "peer", f"{theirs}/32", "dev", self.mgmt_ifname])
        run(["ip", "link", "set", self.mgmt_ifname, "up"])
        sw.run(["ip", "addr", "add", f"{theirs}/32", "peer", f"{ours}/32", "dev", MGMT_IFNAME])
        sw.run(["ip", "link", "set", MGMT_IFNAME, "up"])
        self.mgmt_addresses = (ours, theirs)

    @staticmethod
    def _pick_mgmt_addresses() -> tuple[str, str]:
        """Two free addresses in 198.18.0.0/15 (none of this machine's is reused)."""
        used: set[str] = set()
        out = run(["ip", "-j", "addr", "show"]).stdout
        for link in json.loads(out or "[]"):
            for a in link.get("addr_info", []):
                used.add(str(a.get("local", "")))
                used.add(str(a.get("address", "")))
        rng = random.SystemRandom()
        for _ in range(100):
            base = MGMT_NET.network_address + 2 * rng.randrange(1, MGMT_NET.num_addresses // 2 - 1)
            ours, theirs = str(base), str(base + 1)
            if ours not in used and theirs not in used:
                return ours, theirs
        raise WorldError("no free management addresses in 198.18.0.0/15")

    def _start_vcenters(self, timeout: float) -> None:
        for vc in self.topology.vcenters:
            lab = VcsimLab(
                vc.scenario,
                workdir=self.workdir / f"vcenter-{vc.name}",
                host=self.mgmt_addresses[0],
            )
            self.vcenters[vc.name] = lab
            lab.start(timeout=timeout)

    def _start_emulator(self, timeout: float) -> None:
        state_file = self.workdir / "switch.json"
        state = self.topology.switch_state()
        if self.topology.mgmt_vrf:  # Management1 as the kernel has it: address and VRF
            mgmt = state["interfaces"]["Management1"]
            mgmt.update(ipv4=f"{self.mgmt_addresses[1]}/32", vrf=self.topology.mgmt_vrf)
        state_file.write_text(json.dumps(state, indent=1))
        log = open(self.workdir / "eapi.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            self._emulator = subprocess.Popen(
                [
                    self.python,
                    "-m",
                    "lab.eapi",
                    "--socket",
                    self.eapi_socket,
                    "--state-file",
                    str(state_file),
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        line = _read_line(self._emulator, timeout)
        if not line:
            raise WorldError(f"the eAPI emulator did not start: {_tail(self.workdir / 'eapi.log')}")
        self.eapi = LabClient(socket_path=self.eapi_socket)

    def _stop_emulator(self) -> None:
        proc, self._emulator = self._emulator, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def _start_hosts(self) -> None:
        assert self.switch_ns is not None
        for name in self.topology.hosts():
            # The namespace's label is made of the host's name, which may be anything
            # a vCenter allows (the escaping tests use control characters).
            label = re.sub(r"[^A-Za-z0-9_-]", "", name)[:12] or "host"
            host = HostNamespace(label, switch=self.switch_ns)
            self.hosts[name] = host
            host.create()
            for cable in self.topology.cables:
                if cable.host == name:
                    host.add_link(kernel_name(cable.port), cable.vmnic)
        cabled = set(self.cabling.values())
        for n in range(1, self.topology.ethernets + 1):
            if f"Ethernet{n}" not in cabled:
                self._unplugged(f"Ethernet{n}")

    def _unplugged(self, port: str) -> None:
        """Make ``port``'s kernel interface with no cable in it (a veth whose peer is down)."""
        assert self.switch_ns is not None
        ifname = kernel_name(port)
        self.switch_ns.run(
            ["ip", "link", "add", ifname, "type", "veth", "peer", "name", "x" + ifname]
        )
        self.switch_ns.set_link(ifname, True)

    def _start_syslog(self) -> None:
        """A datagram socket standing in for ``/dev/log``; a thread keeps every record."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.syslog_socket)
        os.chmod(self.syslog_socket, 0o666)
        sock.settimeout(0.2)
        self._syslog = sock

        def receive() -> None:
            while self._syslog is sock:
                try:
                    self._syslog_records.append(sock.recv(65536))
                except socket.timeout:
                    continue
                except OSError:
                    return

        self._syslog_thread = threading.Thread(target=receive, name="lab-syslog", daemon=True)
        self._syslog_thread.start()

    def _stop_syslog(self) -> None:
        sock, self._syslog = self._syslog, None
        if self._syslog_thread is not None:
            self._syslog_thread.join(5)
            self._syslog_thread = None
        if sock is not None:
            sock.close()

    def syslog(self) -> list[bytes]:
        """Every syslog record the agent sent (``capture_syslog=True``), as it sent it."""
        return list(self._syslog_records)

    def recable(self, host: str, vmnic: str, port: str, unplugged_for: float = 1.0) -> None:
        """Unplug ``host``'s ``vmnic`` and, ``unplugged_for`` seconds later (moving a cable
        takes a moment: the link is seen down), plug it into ``port`` (an unplugged
        Ethernet).

        The old port stays, unplugged. Nothing is told to anyone: the host's lldpd hears
        the agent's CDP on the new port, and vCenter learns it (and the link going down
        and up) through the bridge.
        """
        self.unplug(host, vmnic)
        time.sleep(unplugged_for)
        self.plug(host, vmnic, port)

    def unplug(self, host: str, vmnic: str) -> str:
        """Pull ``host``'s ``vmnic`` cable out (its port stays, unplugged); the port."""
        old = self.cabling.pop((host, vmnic))
        self.hosts[host].remove_link(vmnic)
        self._unplugged(old)
        return old

    def plug(self, host: str, vmnic: str, port: str) -> None:
        """Plug ``host``'s unplugged ``vmnic`` into ``port`` (an unplugged Ethernet)."""
        assert self.switch_ns is not None
        if (host, vmnic) in self.cabling:
            raise WorldError(f"{host} {vmnic} is plugged into {self.cabling[(host, vmnic)]}")
        if port in self.cabling.values():
            raise WorldError(f"{port} is already cabled")
        self.switch_ns.delete_link(kernel_name(port))
        self.hosts[host].add_link(kernel_name(port), vmnic)
        self.cabling[(host, vmnic)] = port

    def _write_config(self) -> None:
        t = self.topology.timings
        q = json.dumps  # a JSON string is a valid TOML basic string
        lines = [
            "# eos-vmtracer lab world (lab/world)",
            "[switch]",
            f"interfaces = {q(list(self.topology.interfaces))}",
            'eapi_transport = "socket"',
            f"eapi_socket = {q(self.eapi_socket)}",
            f"state_dir = {q(str(self.state_dir))}",
            f"run_dir = {q(str(self.run_dir))}",
            f"remove_delay = {t.remove_delay}",
            f"check_interval = {t.check_interval}",
            f"eapi_timeout = {t.eapi_timeout}",
        ]
        if self.topology.static_hosts:
            lines.append("[switch.static_hosts]")
            lines += [f"{q(k)} = {q(list(v))}" for k, v in self.topology.static_hosts.items()]
        lines += [
            "",
            "[cdp]",
            f"interval = {t.cdp_interval}",
            f"holdtime = {t.cdp_holdtime}",
            "",
            "[log]",
            f"syslog = {'true' if self.capture_syslog else 'false'}",
            f"syslog_socket = {q(self.syslog_socket)}",
        ]
        for vc in self.topology.vcenters:
            lab = self.vcenters[vc.name]
            lines += [
                "",
                "[[session]]",
                f"name = {q(vc.name)}",
                f"url = {q(lab.url)}",
                f"username = {q(lab.username)}",
                f"password_file = {q(str(lab.password_file()))}",
                f"allowed_vlans = {q(vc.allowed_vlans)}",
                f"thumbprint = {q(lab.thumbprint)}",
                f"hint_interval = {t.hint_interval}",
                f"discovery_interval = {t.discovery_interval}",
            ]
            options: dict[str, Any] = {}
            if vc.vrf:
                options["vrf"] = vc.vrf
            if vc.source_interface:
                options["source_interface"] = vc.source_interface
            options.update(self.session_options.get(vc.name, {}))
            lines += [f"{key} = {q(value)}" for key, value in options.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def configure_session(self, vcenter: str, **options: Any) -> None:
        """Set (or with None, unset) keys of a vCenter's ``[[session]]`` and rewrite the
        configuration file; the agent reads it when it (re)starts."""
        current = self.session_options.setdefault(vcenter, {})
        for key, value in options.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self._write_config()

    def env_prefix(self) -> list[str]:
        """``env VMTRACER_NETNS_DIR=...`` when the lab has a management VRF (else nothing)."""
        if not self.topology.mgmt_vrf:
            return []
        return ["env", f"VMTRACER_NETNS_DIR={self.netns_dir}"]

    # == the agent ============================================================================
    @property
    def agent_pid(self) -> Optional[int]:
        return self._agent.pid if self._agent is not None else None

    def agent_running(self) -> bool:
        return self._agent is not None and self._agent.poll() is None

    def agent_exit_status(self) -> Optional[int]:
        """The exit status of an agent that ended by itself (not by :meth:`stop_agent` or
        :meth:`kill_agent`); None while it runs or when none was started."""
        return self._agent.poll() if self._agent is not None else None

    def start_agent(self, *, wait: bool = True, timeout: float = 60.0) -> float:
        """Start ``vmtracer run`` in the switch namespace; with ``wait``, return once
        :meth:`ready` (the seconds that took)."""
        if self.agent_running():
            raise WorldError("the agent is already running")
        assert self.switch_ns is not None
        self._agent_runs += 1
        began = time.monotonic()
        command = [*self.env_prefix(), *self.vmtracer_command()]
        self._agent = self.switch_ns.spawn(
            [*command, "run", "--config", str(self.config_path)],
            log_name=f"agent-{self._agent_runs}.log",
        )
        if wait:
            self.wait_ready(timeout)
        return time.monotonic() - began

    def stop_agent(self, timeout: float = 15.0) -> Optional[int]:
        """Stop the agent with SIGTERM (a clean shutdown); its exit status."""
        proc = self._agent
        if proc is None or self.switch_ns is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        code = proc.poll()
        self.switch_ns.stop(proc, signal.SIGKILL)  # reaps it (and anything it left behind)
        self._agent = None
        return code

    def kill_agent(self) -> None:
        """SIGKILL the agent, as a crash (or ProcMgr's kill) would."""
        proc = self._agent
        if proc is None or self.switch_ns is None:
            raise WorldError("the agent is not running")
        self.switch_ns.stop(proc, signal.SIGKILL)
        self._agent = None

    def agent_log(self, runs: Optional[int] = None) -> str:
        """What the agent wrote (stderr: its log), every run (or the last ``runs``)."""
        if self.switch_ns is None:
            return ""
        first = 1 if runs is None else max(1, self._agent_runs - runs + 1)
        return "".join(
            self.switch_ns.read_log(f"agent-{n}.log") for n in range(first, self._agent_runs + 1)
        )

    def ready(self) -> Optional[str]:
        """None once the running agent is fully up: it publishes its status, every session
        is synchronised, and every cable's vmnic maps to the right port (CDP went out, lldpd
        heard it, vCenter reports it). Otherwise what is still missing."""
        from eos_vmtracer.status import StatusUnavailable, read_status

        if not self.agent_running():
            return "the agent is not running"
        try:
            doc = read_status(str(self.run_dir))
        except StatusUnavailable as e:
            return str(e)
        if doc["agent"]["pid"] != self.agent_pid:
            return "the status is an earlier agent's"
        if not doc["switch"].get("reachable"):
            return f"eAPI not reachable: {doc['switch'].get('error')}"
        for s in doc["sessions"]:
            if not s["synced"]:
                return f"session {s['name']} is {s['state']}, not synchronised {s['error']}"
        links = {
            (h["name"], lk["vmnic"]): lk["interface"] for h in doc["hosts"] for lk in h["links"]
        }
        for (host, vmnic), port in sorted(self.cabling.items()):
            want = self.topology.channel_of(port) or port
            got = links.get((host, vmnic))
            if got != want:
                return f"{host} {vmnic} maps to {got or 'nothing'}, not {want}"
        return None

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait for :meth:`ready`; the seconds it took."""
        problem: list[Optional[str]] = ["?"]

        def check() -> bool:
            problem[0] = self.ready()
            if problem[0] is not None and not self.agent_running():
                raise WorldError(f"the agent exited:\n{self.agent_log(1)[-3000:]}")
            return problem[0] is None

        return self.wait_for(check, timeout, "the agent to be ready", lambda: problem[0] or "")

    # == vCenters ==============================================================================
    def control(self, vcenter: str = "vc1") -> LabControl:
        """The control client of a lab vCenter (power, relocate, set_portgroup_vlan ...)."""
        return self.vcenters[vcenter].control

    def kill_vcenter(self, vcenter: str = "vc1") -> None:
        """SIGKILL a lab vCenter (it stays down until :meth:`restart_vcenter`)."""
        self.vcenters[vcenter].kill()

    def restart_vcenter(self, vcenter: str = "vc1", timeout: float = 30.0) -> None:
        """Start a lab vCenter again: same address and certificate, the scenario's
        initial state, and (at once) the neighbours its hosts hear now."""
        self.vcenters[vcenter].restart(timeout)
        if self.bridge is not None:
            self.bridge.forget(vcenter)
            self.bridge.sync_now()

    # == the switch =============================================================================
    def switch_state(self) -> dict[str, Any]:
        """The emulator's state (``/lab/state``): interfaces, VLANs ..."""
        assert self.eapi is not None
        return self.eapi.state()

    def allowed(self, interface: str) -> set[int]:
        """The VLANs ``interface`` allows now, as the switch has it."""
        return vlan_set(self.switch_state()["interfaces"][interface]["allowed"])

    def vlans(self) -> dict[int, str]:
        """VLAN id -> name, as the switch has them now."""
        return {int(k): v for k, v in self.switch_state()["vlans"].items()}

    def requests(self) -> list[dict[str, Any]]:
        """Every eAPI request the emulator received, in order."""
        assert self.eapi is not None
        return self.eapi.requests()

    def operator(self, *lines: str) -> dict[str, Any]:
        """An operator's change over eAPI (``configure`` + ``lines``)."""
        assert self.eapi is not None
        return self.eapi.configure(*lines)

    # == the vmtracer command ===================================================================
    def vmtracer_command(self) -> list[str]:
        """The real ``vmtracer`` console script of this interpreter's environment."""
        script = Path(self.python).parent / "vmtracer"
        if script.exists():
            return [str(script)]
        return [self.python, "-m", "eos_vmtracer"]

    def vmtracer(
        self, *args: str, check: bool = True, timeout: float = 60.0, on_switch: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``vmtracer ARGS --config F`` (as a user would) and return what it printed;
        ``on_switch``: in the switch's namespace, as the agent runs."""
        command = [
            *self.env_prefix(),
            *self.vmtracer_command(),
            *args,
            "--config",
            str(self.config_path),
        ]
        if on_switch:
            assert self.switch_ns is not None
            command = self.switch_ns.exec_args(command)
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise WorldError(
                f"vmtracer {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
            )
        return proc

    def show(self, what: str) -> str:
        """``vmtracer show WHAT``."""
        return self.vmtracer("show", what).stdout

    def show_json(self, what: str) -> Any:
        """``vmtracer show WHAT --json``, parsed."""
        return json.loads(self.vmtracer("show", what, "--json").stdout)

    def explain(self, interface: str, vlan: Optional[int] = None) -> str:
        """``vmtracer explain INTERFACE [--vlan N]``."""
        extra = ["--vlan", str(vlan)] if vlan is not None else []
        return self.vmtracer("explain", interface, *extra).stdout

    def status(self) -> dict[str, Any]:
        """The running agent's status document (read in-process; raises if unavailable)."""
        from eos_vmtracer.status import read_status

        return dict(read_status(str(self.run_dir)))

    def interface_status(self, interface: str) -> dict[str, Any]:
        """One interface's entry of the status document."""
        for entry in self.status()["interfaces"]:
            if entry["name"] == interface:
                return dict(entry)
        raise KeyError(interface)

    # == waiting ===================================================================================
    @staticmethod
    def wait_for(
        predicate: Callable[[], Any],
        timeout: float,
        what: str,
        detail: Optional[Callable[[], str]] = None,
        interval: float = 0.02,
    ) -> float:
        """Poll ``predicate`` until true; the seconds it took. AssertionError after ``timeout``."""
        began = time.monotonic()
        while True:
            if predicate():
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                more = f" ({detail()})" if detail is not None else ""
                raise AssertionError(f"not within {timeout:g} s: {what}{more}")
            time.sleep(interval)

    def describe(self) -> str:
        """A summary for failure messages: sessions, links, bridge errors, agent log tail."""
        parts = []
        try:
            doc = self.status()
            sessions = [f"{s['name']} {s['state']} synced={s['synced']}" for s in doc["sessions"]]
            links = [
                f"{h['name']} {lk['vmnic']}->{lk['interface'] or lk['note']}"
                for h in doc["hosts"]
                for lk in h["links"]
            ]
            parts.append("sessions: " + ", ".join(sessions))
            parts.append("links: " + ", ".join(links))
        except Exception as e:
            parts.append(f"status: {e}")
        if self.bridge is not None and self.bridge.errors:
            parts.append("bridge errors: " + "; ".join(self.bridge.errors[-3:]))
        parts.append("agent log (tail):\n" + self.agent_log()[-4000:])
        return "\n".join(parts)


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The first line ``proc`` prints on stdout, or b"" if it exits or is too slow."""
    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or (proc.poll() is not None and not line):
            return b""
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                return b""
            line += chunk
    return line


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-2000:]
    return ""


__all__ = ["World", "WorldError", "vlan_set"]
