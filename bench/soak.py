"""Soak: several lab vCenters and thousands of VMs churning for minutes against a real agent.

What this module is for: ``make soak`` (and a short variant in the end-to-end
suite). It starts ``sessions`` lab vCenters (default 8, the most the agent takes)
holding ``vms`` VMs between them (default 10,000), a 48+-port leaf (the eAPI
emulator, in this process, logging every request), and the agent as the product
runs it (``vmtracer run``, one ``[[session]]`` per vCenter, CDP off: the lab's
vCenters report the cabling). Once the agent is synchronised, one thread per
vCenter churns its VMs for ``duration`` seconds at ``rate`` operations per second
in all: power on/off, vNIC edits (another portgroup, standard or distributed, or
(dis)connected) and migrations (some of which fail), each step also applied to a
model of the estate this module keeps itself. Then it lets the agent settle and
asserts:

- **oracle**: every managed port's allowed VLANs, every unmanaged port and the
  VLAN database are exactly what :func:`expected` computes from the scenario and
  the churn alone (without the project's planner or parsers): the operator's
  VLANs, plus what the powered-on VMs' connected vNICs need on their host's port,
  clipped to the session's allowed VLANs; a trunk allowing ALL stays ALL;
- **nothing missed**: no VLAN the oracle wants is missing once settled, and every
  change in the agent's history has a reason (and no change ended in an error);
- **operators' VLANs untouched**: no request ever removed an operator's VLAN from
  a port, deleted a VLAN the switch had at the start, or named a port the agent
  does not manage; sampled every few seconds, every operator's VLAN is still on
  its port;
- **memory**: the agent's RSS (``/proc/PID/status`` VmRSS, sampled) at the end is
  within 10% of its RSS once warmed up (asserted for runs of 2 minutes or more).

One JSON document on stdout (progress on stderr), like the other benchmarks; exit
status 1 when an assertion fails::

    python -m bench.soak [--duration 600] [--vms 10000] [--sessions 8] [--rate 20]

It must never be part of ``make test`` or ``make bench`` (it runs for minutes),
never use the project's code to compute what it checks, and must leave nothing
running, whatever fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Optional

from bench.harness import (
    SHM,
    AgentProcess,
    TimedSwitch,
    _toml,
    cpu_seconds,
    machine,
    memory_kb,
    synced,
)
from lab.vcsim import LabControl, LabControlError, VcsimLab, ensure_built

SWITCH = "leaf1"
ALL = None  # an operator's trunk allowing every VLAN
RSS_LIMIT = 0.10  # growth after warm-up
RSS_MIN_DURATION = 120.0  # shorter runs report RSS but do not judge it


@dataclass(frozen=True)
class Params:
    """The size and pace of one soak run."""

    sessions: int = 8  # lab vCenters (the agent takes up to 8)
    vms: int = 10_000  # in total, spread over the vCenters
    hosts: int = 8  # per vCenter; each has two vmnics, each cabled to its own port
    on_fraction: float = 0.03  # VMs powered on (kept so: every power-on pairs a power-off)
    duration: float = 600.0  # seconds of churn
    rate: float = 20.0  # operations per second, over all vCenters
    remove_delay: float = 20.0
    check_interval: float = 30.0
    warmup: float = -1.0  # seconds of churn before the RSS baseline (-1: a fifth, <= 60 s)
    seed: int = 1
    trace_memory: str = ""  # a file: the agent runs under tracemalloc (bench/memtrace.py)

    def warmup_s(self) -> float:
        return self.warmup if self.warmup >= 0 else min(60.0, self.duration / 5)


# -- the estate --------------------------------------------------------------------------------


def base(vc: int) -> int:
    """The first VLAN of vCenter ``vc``'s block of 100."""
    return 1000 + 100 * vc


def allowed_range(vc: int) -> range:
    """The session's allowed VLANs: the first 90 of its block."""
    return range(base(vc), base(vc) + 90)


def std_portgroups(vc: int) -> dict[str, frozenset[int]]:
    """Standard portgroups -> the VLANs they put on an uplink (one outside the allowed)."""
    b = base(vc)
    pgs = {f"PG-{b + k}": frozenset([b + k]) for k in range(30)}
    pgs[f"PG-{b + 95}"] = frozenset([b + 95])  # outside allowed_vlans: never added
    pgs["PG-untagged"] = frozenset()
    return pgs


def dv_portgroups(vc: int) -> dict[str, frozenset[int]]:
    """Distributed portgroups -> their VLANs (one trunk of three ranges, partly outside
    the allowed VLANs)."""
    b = base(vc)
    pgs = {f"DV-{b + 30 + k}": frozenset([b + 30 + k]) for k in range(30)}
    pgs["DV-trunk"] = frozenset([*range(b + 60, b + 65), b + 70, *range(b + 85, b + 95)])
    return pgs


def _fmt(vlans: Optional[frozenset[int]]) -> str:
    """VLANs as ranges, for messages: ``1,10-20``; ``ALL`` for None."""
    if vlans is None:
        return "ALL"
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in _trunk_ranges(vlans)) or "NONE"


def _trunk_ranges(vlans: frozenset[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for v in sorted(vlans):
        if runs and runs[-1][1] == v - 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return runs


def host_name(vc: int, h: int) -> str:
    return f"esx{vc + 1}-{h + 1}.lab"


def port_of(p: Params, vc: int, h: int, nic: int) -> str:
    """The leaf port vmnic ``nic`` (0: standard vSwitch, 1: distributed) is cabled to."""
    return f"Ethernet{2 * (vc * p.hosts + h) + nic + 1}"


def managed_ports(p: Params) -> int:
    return 2 * p.sessions * p.hosts


def operator_ports(p: Params) -> dict[str, Optional[frozenset[int]]]:
    """What an operator configured by hand on each port (None: ALL), managed or not."""
    out: dict[str, Optional[frozenset[int]]] = {}
    for vc in range(p.sessions):
        b = base(vc)
        for h in range(p.hosts):
            for nic in (0, 1):
                out[port_of(p, vc, h, nic)] = frozenset([1])
        out[port_of(p, vc, 0, 0)] = ALL
        if p.hosts > 1:
            # VLANs the VMs will need too, and one far outside: never the agent's.
            out[port_of(p, vc, 1, 0)] = frozenset([1, b, b + 3, b + 4, 3999])
            out[port_of(p, vc, 1, 1)] = frozenset([1, b + 32, b + 61])
        if p.hosts > 2:
            out[port_of(p, vc, 2, 1)] = frozenset()  # NONE
    m = managed_ports(p)
    out[f"Ethernet{m + 1}"] = ALL  # ports the agent does not manage
    out[f"Ethernet{m + 2}"] = frozenset([*range(1, 10), *range(1000, 1010), 3999])
    out[f"Ethernet{m + 3}"] = frozenset()
    out[f"Ethernet{m + 4}"] = frozenset([1, 1100, 1110])
    return out


def initial_vlans(p: Params) -> set[int]:
    """The switch's VLAN database at the start: the operators', and the standard
    portgroups' VLANs (the distributed ones the agent has to create)."""
    vlans = {1, 3999}
    for allowed in operator_ports(p).values():
        vlans |= set(allowed or ())
    for vc in range(p.sessions):
        for pg_vlans in std_portgroups(vc).values():
            vlans |= pg_vlans
    return vlans


@dataclass
class Nic:
    distributed: bool
    portgroup: str
    connected: bool = True


@dataclass
class VmModel:
    name: str
    host: int
    on: bool
    nics: list[Nic]
    busy_until: float = 0.0  # a migration in flight: leave it alone


def _cdp(port: str) -> dict[str, Any]:
    return {
        "device_id": f"{SWITCH}.lab",
        "port_id": port,
        "address": "192.0.2.10",
        "platform": "Arista Networks DCS-7050TX-64",
        "version": "EOS 4.31.1F",
    }


def build_estate(p: Params) -> list[tuple[dict[str, Any], list[VmModel]]]:
    """Per vCenter: its scenario and the model of its VMs."""
    rng = random.Random(p.seed)
    out = []
    per_vc = [p.vms // p.sessions + (1 if i < p.vms % p.sessions else 0) for i in range(p.sessions)]
    for vc in range(p.sessions):
        std, dv = std_portgroups(vc), dv_portgroups(vc)
        hosts = []
        for h in range(p.hosts):
            hosts.append(
                {
                    "name": host_name(vc, h),
                    "cluster": "Cluster1",
                    "nics": [{"device": "vmnic0"}, {"device": "vmnic1"}],
                    "vswitches": [
                        {
                            "name": "vSwitch0",
                            "uplinks": ["vmnic0"],
                            "portgroups": [
                                {"name": "Management Network", "vlan": 0},
                                *(
                                    {"name": n, "vlan": (min(v) if v else 0)}
                                    for n, v in std.items()
                                ),
                            ],
                        }
                    ],
                    "dvs": [{"dvs": "DSwitch", "uplinks": ["vmnic1"]}],
                    "vmknics": [{"device": "vmk0", "portgroup": "Management Network"}],
                    "neighbors": {
                        "vmnic0": {"cdp": _cdp(port_of(p, vc, h, 0))},
                        "vmnic1": {
                            "lldp": {
                                "chassis_id": "00:1c:73:00:00:01",
                                "port_id": port_of(p, vc, h, 1),
                                "system_name": SWITCH,
                            }
                        },
                    },
                }
            )
        dv_specs: list[dict[str, Any]] = []
        for n, v in dv.items():
            if n == "DV-trunk":
                dv_specs.append({"name": n, "trunk": _trunk_ranges(v)})
            else:
                dv_specs.append({"name": n, "vlan": min(v)})
        models = []
        for j in range(per_vc[vc]):
            nics = [
                Nic(False, rng.choice(list(std))),
                Nic(True, rng.choice(list(dv)), connected=rng.random() < 0.9),
            ]
            on = rng.random() < p.on_fraction
            models.append(VmModel(f"vm{vc + 1}-{j}", j % p.hosts, on, nics))
        scenario = {
            "username": "svc-vmtracer@vsphere.local",
            "password": f"soak-Secret-{vc + 1}",
            "dvswitches": [{"name": "DSwitch", "portgroups": dv_specs}],
            "hosts": hosts,
            "vms": [
                {
                    "name": m.name,
                    "host": host_name(vc, m.host),
                    "power": "on" if m.on else "off",
                    "nics": [
                        {
                            ("dvportgroup" if n.distributed else "portgroup"): n.portgroup,
                            "connected": n.connected,
                        }
                        for n in m.nics
                    ],
                }
                for m in models
            ],
        }
        out.append((scenario, models))
    return out


# -- the oracle -----------------------------------------------------------------------------------


def needed(p: Params, models: list[list[VmModel]]) -> dict[str, set[int]]:
    """Managed port -> the VLANs its hosts' powered-on VMs need (clipped to the
    session's allowed VLANs)."""
    need: dict[str, set[int]] = {}
    for vc, vms in enumerate(models):
        std, dv = std_portgroups(vc), dv_portgroups(vc)
        allowed = set(allowed_range(vc))
        for m in vms:
            if not m.on:
                continue
            for nic in m.nics:
                if not nic.connected:
                    continue
                vlans = (dv if nic.distributed else std)[nic.portgroup] & allowed
                if vlans:
                    port = port_of(p, vc, m.host, 1 if nic.distributed else 0)
                    need.setdefault(port, set()).update(vlans)
    return need


def expected(
    p: Params, models: list[list[VmModel]]
) -> tuple[dict[str, Optional[frozenset[int]]], frozenset[int]]:
    """Port -> allowed VLANs (None: ALL), and the VLAN database, once settled."""
    need = needed(p, models)
    ports: dict[str, Optional[frozenset[int]]] = {}
    for port, operator in operator_ports(p).items():
        ports[port] = None if operator is None else operator | need.get(port, set())
    for port, vlans in need.items():
        if port not in ports:
            ports[port] = frozenset(vlans)
    database = set(initial_vlans(p))
    for vlans in need.values():
        database |= vlans
    return ports, frozenset(database)


# -- the switch -----------------------------------------------------------------------------------


def _expand(spec: str) -> list[str]:
    """``Ethernet1-3,7`` -> its ports (the emulator's syntax, parsed here)."""
    out: list[str] = []
    prefix = ""
    for part in spec.replace(" ", "").split(","):
        match = re.fullmatch(r"([A-Za-z-]*)(\d+)(?:-(\d+))?", part)
        if match is None:
            out.append(part)
            continue
        prefix = match.group(1) or prefix
        first = int(match.group(2))
        last = int(match.group(3) or first)
        out += [f"{prefix}{n}" for n in range(first, last + 1)]
    return out


def _vlan_list(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def touched_operator_vlans(
    requests: list[list[str]], p: Params, start_vlans: set[int]
) -> list[str]:
    """Every command in ``requests`` that removed an operator's VLAN, deleted a VLAN
    the switch had at the start, or named a port the agent does not manage."""
    operators = operator_ports(p)
    managed = {
        port_of(p, vc, h, n) for vc in range(p.sessions) for h in range(p.hosts) for n in (0, 1)
    }
    bad: list[str] = []
    for cmds in requests:
        ports: list[str] = []
        for cmd in cmds:
            c = cmd.strip()
            if c.startswith("interface "):
                ports = _expand(c.split(None, 1)[1])
                foreign = [x for x in ports if x not in managed]
                if foreign:
                    bad.append(f"{c!r}: names unmanaged {foreign}")
            elif c.startswith("switchport trunk allowed vlan remove "):
                vlans = _vlan_list(c.rsplit(None, 1)[1])
                for port in ports:
                    ops = operators.get(port)
                    hit = frozenset(vlans if ops is None else ops & vlans)
                    if hit:
                        bad.append(f"{port}: {c!r} removes the operator's {_fmt(hit)}")
            elif c.startswith("switchport trunk allowed vlan ") and " add " not in c:
                bad.append(f"{ports}: {c!r} sets a whole list")
            elif c.startswith("no vlan "):
                hit = frozenset(_vlan_list(c.split(None, 2)[2]) & start_vlans)
                if hit:
                    bad.append(f"{c!r} deletes VLANs that were there at the start: {_fmt(hit)}")
            elif c in ("exit", "end"):
                ports = []
    return bad


def switch_ports(sw: TimedSwitch) -> dict[str, Optional[frozenset[int]]]:
    with sw.emulator.engine.lock:
        return {
            name: (None if port.allowed is None else frozenset(port.allowed))
            for name, port in sw.emulator.engine.running.interfaces.items()
            if name.startswith("Ethernet")
        }


def switch_vlans(sw: TimedSwitch) -> frozenset[int]:
    with sw.emulator.engine.lock:
        return frozenset(sw.emulator.engine.running.vlans)


def differences(
    sw: TimedSwitch, want_ports: dict[str, Optional[frozenset[int]]], want_vlans: frozenset[int]
) -> dict[str, Any]:
    """What the switch has that the oracle does not (extra) and the reverse (missing)."""
    have = switch_ports(sw)
    missing: dict[str, str] = {}
    extra: dict[str, str] = {}
    for port, want in want_ports.items():
        got = have.get(port, frozenset())
        if want is None or got is None:
            if want != got:
                extra[port] = f"allowed {_fmt(got)}, want {_fmt(want)}"
            continue
        if want - got:
            missing[port] = _fmt(want - got)
        if got - want:
            extra[port] = _fmt(got - want)
    for port, got in have.items():
        if port not in want_ports and got != frozenset([1]):
            extra[port] = f"allowed {_fmt(got)}, though no VM needs anything there"
    vlans = switch_vlans(sw)
    out: dict[str, Any] = {}
    if missing:
        out["missing"] = missing
    if extra:
        out["extra"] = extra
    if want_vlans - vlans:
        out["vlans_missing"] = _fmt(want_vlans - vlans)
    if vlans - want_vlans:
        out["vlans_extra"] = _fmt(vlans - want_vlans)
    return out


# -- the churn ------------------------------------------------------------------------------------


@dataclass
class ChurnStats:
    ops: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    behind_s: float = 0.0  # how far the thread fell behind its schedule at worst
    last_migration_end: float = 0.0

    def count(self, op: str) -> None:
        self.ops[op] = self.ops.get(op, 0) + 1


def churn(
    p: Params,
    vc: int,
    ctl: LabControl,
    vms: list[VmModel],
    until: float,
    stop: threading.Event,
    stats: ChurnStats,
) -> None:
    """Change vCenter ``vc``'s VMs at ``rate / sessions`` per second until ``until``,
    keeping ``vms`` (the model) in step."""
    rng = random.Random(p.seed * 1000 + vc)
    std, dv = list(std_portgroups(vc)), list(dv_portgroups(vc))
    interval = p.sessions / p.rate
    next_at = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now >= until:
            return
        if next_at > now:
            stop.wait(next_at - now)
            continue
        stats.behind_s = max(stats.behind_s, now - next_at)
        next_at += interval
        roll = rng.random()
        on = [m for m in vms if m.on] if roll < 0.4 or rng.random() < 0.8 else []
        if roll < 0.4:  # power: half the time one that is on goes off, else one comes on
            pool = on if on and rng.random() < 0.5 else vms
            vm = rng.choice(pool)
            if pool is vms and vm.on:
                vm = rng.choice(vms)  # (one more try at an off VM; good enough)
        else:  # vNIC edits and migrations: mostly of VMs that are on (they matter)
            vm = rng.choice(on or vms)
        if vm.busy_until > now:
            stats.count("skipped: migrating")
            continue
        try:
            if roll < 0.4:
                if not ctl.power(vm.name, on=not vm.on):
                    stats.errors.append(f"{vm.name}: already {'off' if vm.on else 'on'}")
                vm.on = not vm.on
                stats.count("power on" if vm.on else "power off")
            elif roll < 0.75:
                index = rng.randrange(len(vm.nics))
                nic = vm.nics[index]
                if rng.random() < 0.3:
                    ctl.move_nic(vm.name, index, connected=not nic.connected)
                    nic.connected = not nic.connected
                    stats.count("vnic connect" if nic.connected else "vnic disconnect")
                else:
                    distributed = nic.distributed if rng.random() < 0.85 else not nic.distributed
                    portgroup = rng.choice(dv if distributed else std)
                    if distributed:
                        ctl.move_nic(vm.name, index, dvportgroup=portgroup)
                    else:
                        ctl.move_nic(vm.name, index, portgroup=portgroup)
                    nic.distributed, nic.portgroup = distributed, portgroup
                    stats.count("vnic move")
            else:
                dest = rng.choice([h for h in range(p.hosts) if h != vm.host])
                duration = rng.uniform(0.0, 3.0)
                fail = rng.random() < 0.1
                ctl.relocate(vm.name, host_name(vc, dest), duration=duration, fail=fail)
                vm.busy_until = time.monotonic() + duration + 1.0
                stats.last_migration_end = max(stats.last_migration_end, vm.busy_until)
                if not fail:
                    vm.host = dest
                stats.count("migration failed" if fail else "migration")
        except LabControlError as e:
            stats.errors.append(f"{vm.name}: {e}")
            if len(stats.errors) > 20:
                return


# -- the run ------------------------------------------------------------------------------------


def write_config(workdir: str, p: Params, labs: list[VcsimLab], socket_path: str) -> str:
    """vmtracer.toml: one session per lab vCenter, the managed ports, short timers."""
    interfaces = f"Ethernet1-{managed_ports(p)}"
    lines = [
        "[switch]",
        f"interfaces = {_toml([interfaces])}",
        'eapi_transport = "socket"',
        f"eapi_socket = {_toml(socket_path)}",
        f"state_dir = {_toml(os.path.join(workdir, 'state'))}",
        f"run_dir = {_toml(os.path.join(workdir, 'run'))}",
        f"remove_delay = {_toml(p.remove_delay)}",
        f"check_interval = {_toml(p.check_interval)}",
        "",
        "[cdp]",
        "enabled = false",
        "",
        "[log]",
        "syslog = false",
        'level = "info"',
    ]
    for vc, lab in enumerate(labs):
        password = os.path.join(workdir, f"vc{vc + 1}.password")
        fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(lab.password)
        r = allowed_range(vc)
        lines += [
            "",
            "[[session]]",
            f'name = "vc{vc + 1}"',
            f"url = {_toml(lab.url)}",
            f"username = {_toml(lab.username)}",
            f"password_file = {_toml(password)}",
            f'allowed_vlans = "{r.start}-{r.stop - 1}"',
            f"thumbprint = {_toml(lab.thumbprint)}",
        ]
    path = os.path.join(workdir, "vmtracer.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def vcenters(scenarios: list[dict[str, Any]], timeout: float = 600.0) -> Iterator[list[VcsimLab]]:
    """The lab vCenters, started side by side, their files on tmpfs when there is one."""
    ensure_built()
    workdirs = [tempfile.mkdtemp(prefix="soak-vcsim-", dir=SHM) for _ in scenarios]
    labs = [VcsimLab(s, workdir=w) for s, w in zip(scenarios, workdirs)]
    errors: list[BaseException] = []

    def start(lab: VcsimLab) -> None:
        try:
            lab.start(timeout=timeout)
        except BaseException as e:  # reported below, after every start has ended
            errors.append(e)

    threads = [threading.Thread(target=start, args=(lab,)) for lab in labs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        yield labs
    finally:
        for lab in labs:
            with contextlib.suppress(Exception):
                lab.stop()
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)


class Monitor:
    """Samples the agent's RSS and checks the operators' VLANs every ``every`` seconds."""

    def __init__(self, agent: AgentProcess, sw: TimedSwitch, p: Params, every: float) -> None:
        self.agent, self.sw, self.every = agent, sw, every
        self.operators = operator_ports(p)
        self.rss: list[tuple[float, int]] = []  # (monotonic, kB)
        self.violations: list[str] = []
        self.died = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-monitor", daemon=True)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        if not self.agent.alive():
            self.died = True
            return
        with contextlib.suppress(OSError):
            self.rss.append((time.monotonic(), memory_kb(self.agent.pid)["VmRSS"]))
        ports = switch_ports(self.sw)
        for port, operator in self.operators.items():
            got = ports.get(port, frozenset())
            if operator is None and got is not None:
                self.violations.append(f"{port}: ALL became {_fmt(got)}")
            elif operator is not None and got is not None and not operator <= got:
                self.violations.append(f"{port}: lost the operator's {_fmt(operator - got)}")
        del self.violations[50:]


def _history(state_dir: str) -> dict[str, Any]:
    counts: dict[str, int] = {}
    no_reason: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for name in ("history.jsonl.1", "history.jsonl"):
        try:
            with open(os.path.join(state_dir, name), encoding="utf-8") as f:
                lines = f.readlines()
        except FileNotFoundError:
            continue
        for line in lines:
            event = json.loads(line)
            action = event.get("action", "?")
            counts[action] = counts.get(action, 0) + 1
            if action == "error":
                errors.append(event)
            elif (
                action in ("add", "remove", "create-vlan", "delete-vlan", "repair")
                and not str(event.get("reason", "")).strip()
            ):
                no_reason.append(event)
    return {"events": counts, "without_reason": no_reason[:10], "errors": errors[:10]}


def _compare_with_labs(p: Params, labs: list[VcsimLab], models: list[list[VmModel]]) -> list[str]:
    """Where the lab vCenters disagree with the model (host, power, vNIC connected): the
    oracle is computed from the model, so this checks its premise, not the agent."""
    out: list[str] = []
    for vc, (lab, vms) in enumerate(zip(labs, models)):
        try:
            state = lab.control.state()["vms"]
        except LabControlError as e:
            out.append(f"vc{vc + 1}: {e}")
            continue
        for m in vms:
            got = state.get(m.name) or {}
            want = {
                "host": host_name(vc, m.host),
                "on": m.on,
                "connected": [n.connected for n in m.nics],
            }
            have = {
                "host": got.get("host"),
                "on": got.get("powered_on"),
                "connected": [n.get("connected") for n in got.get("nics") or []],
            }
            if want != have:
                out.append(f"{m.name}: model {want}, lab {have}")
    return out


def _warnings(log_path: str) -> dict[str, Any]:
    """The agent's warnings and errors: how many, and the commonest (numbers masked)."""
    kinds: dict[str, int] = {}
    total = 0
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if " WARNING " not in line and " ERROR " not in line:
                    continue
                total += 1
                text = re.sub(r"\d+", "N", line.split(" ", 3)[-1].strip())[:160]
                kinds[text] = kinds.get(text, 0) + 1
    except OSError:
        pass
    common = sorted(kinds.items(), key=lambda kv: -kv[1])[:8]
    return {"count": total, "commonest": [{"n": n, "text": t} for t, n in common]}


def _median_between(samples: list[tuple[float, int]], start: float, end: float) -> Optional[float]:
    window = [kb for t, kb in samples if start <= t <= end]
    return statistics.median(window) if window else None


def _log(msg: str) -> None:
    print(f"soak: {msg}", file=sys.stderr, flush=True)


def run(p: Params, progress: Callable[[str], None] = _log) -> dict[str, Any]:
    """One soak run; its results (``targets`` with pass/FAIL)."""
    result: dict[str, Any] = {
        "what": (
            f"{p.sessions} vCenters, {p.vms} VMs on {p.sessions * p.hosts} hosts"
            f" ({managed_ports(p)} managed ports) churning {p.duration:g} s at {p.rate:g} ops/s"
        ),
        "params": asdict(p),
        "machine_before": machine(),
    }
    began = time.monotonic()
    estate = build_estate(p)
    models = [vms for _, vms in estate]
    start_vlans = initial_vlans(p)
    workdir = tempfile.mkdtemp(prefix="soak-")
    try:
        progress(f"starting {p.sessions} lab vCenters with {p.vms} VMs")
        with vcenters([s for s, _ in estate]) as labs:
            result["vcenters_start_s"] = round(time.monotonic() - began, 1)
            switch = TimedSwitch(
                workdir,
                ethernet=managed_ports(p) + 4,
                vlans=sorted(start_vlans - {1}),
                trunk_allowed="1",
            )
            with switch as sw:
                with sw.emulator.engine.lock:
                    for port, operator in operator_ports(p).items():
                        allowed = None if operator is None else frozenset(operator)
                        sw.emulator.engine.running.interfaces[port].allowed = allowed
                config = write_config(workdir, p, labs, sw.socket)
                agent = _agent_process(p, workdir, config)
                with agent:
                    result.update(_soak(p, labs, sw, agent, models, start_vlans, progress))
                    result["agent_log_tail"] = agent.log_tail(600) if not result["ok"] else ""
                    result["agent_warnings"] = _warnings(agent.log_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["machine_after"] = machine()
    result["duration_s"] = round(time.monotonic() - began, 1)
    return result


def _agent_process(p: Params, workdir: str, config: str) -> AgentProcess:
    """The agent as the product runs it, or under tracemalloc with ``trace_memory``."""
    if not p.trace_memory:
        return AgentProcess(workdir, config)
    from bench import memtrace

    return AgentProcess(
        workdir,
        config,
        env={memtrace.OUT_ENV: os.path.abspath(p.trace_memory)},
        command=[sys.executable, "-m", "bench.memtrace"],
    )


def _soak(
    p: Params,
    labs: list[VcsimLab],
    sw: TimedSwitch,
    agent: AgentProcess,
    models: list[list[VmModel]],
    start_vlans: set[int],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    agent.wait_status(lambda d: synced(d) and len(d.get("sessions") or []) == p.sessions, 600, 0.5)
    out["agent_synced_s"] = round(time.monotonic() - t0, 1)
    want_ports, want_vlans = expected(p, models)
    need0 = needed(p, models)
    sw.wait(lambda: sw.carries(need0), 600)
    out["initial_vlans_on_switch_s"] = round(time.monotonic() - t0, 1)
    progress(f"agent synchronised in {out['agent_synced_s']} s; churning for {p.duration:g} s")

    requests_before = len(sw.log)
    cpu_before = cpu_seconds(agent.pid)
    stop = threading.Event()
    stats = [ChurnStats() for _ in labs]
    with Monitor(agent, sw, p, every=2.0) as monitor:
        churn_start = time.monotonic()
        until = churn_start + p.duration
        threads = [
            threading.Thread(
                target=churn,
                args=(p, vc, lab.control, models[vc], until, stop, stats[vc]),
                name=f"churn-vc{vc + 1}",
            )
            for vc, lab in enumerate(labs)
        ]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                if not agent.alive():
                    stop.set()
                    break
                time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        churn_end = time.monotonic()
        migrations_end = max([churn_end, *(s.last_migration_end for s in stats)])
        time.sleep(max(0.0, migrations_end - time.monotonic()))
        progress("churn over; waiting for the agent to settle")
        lab_mismatches = _compare_with_labs(p, labs, models)

        want_ports, want_vlans = expected(p, models)
        settle_deadline = time.monotonic() + 2 * p.remove_delay + p.check_interval + 120
        diff: dict[str, Any] = {"not": "checked"}
        settled_at: Optional[float] = None
        while time.monotonic() < settle_deadline and agent.alive():
            diff = differences(sw, want_ports, want_vlans)
            if not diff:
                settled_at = time.monotonic()
                break
            time.sleep(1.0)
        if settled_at is not None:
            time.sleep(5.0)  # and it stays so
            diff = differences(sw, want_ports, want_vlans)
        monitor.sample()
        end = time.monotonic()
    out["agent_cpu_s"] = round(cpu_seconds(agent.pid) - cpu_before, 1) if agent.alive() else None
    doc = agent.status() or {}

    ops: dict[str, int] = {}
    for s in stats:
        for k, v in s.ops.items():
            ops[k] = ops.get(k, 0) + v
    done = sum(v for k, v in ops.items() if not k.startswith("skipped"))
    out["churn"] = {
        "operations": done,
        "by_kind": dict(sorted(ops.items())),
        "achieved_ops_per_s": round(done / max(churn_end - churn_start, 1e-9), 1),
        "worst_lag_behind_schedule_s": round(max(s.behind_s for s in stats), 2),
        "control_errors": [e for s in stats for e in s.errors][:10],
    }
    log = sw.log[requests_before:]
    out["eapi"] = {
        "requests": len(log),
        "commits": sum(1 for r in log if r.commits),
        "config_lines": sum(len(r.cmds) for r in log if r.commits),
    }
    need_end = needed(p, models)
    views = {i.get("name"): i for i in doc.get("interfaces") or [] if isinstance(i, dict)}
    agent_view = {
        port: {
            k: views.get(port, {}).get(k)
            for k in ("allowed", "static", "dynamic", "required", "pending")
        }
        | {
            "reasons": {
                v: [r.get("text") for r in rs][:3]
                for v, rs in (views.get(port, {}).get("reasons") or {}).items()
            }
        }
        for part in ("missing", "extra")
        for port in diff.get(part) or {}
    }
    out["oracle"] = {
        "ports": len(want_ports),
        "vlans_needed": sum(len(v) for v in need_end.values()),
        "vlan_database": len(want_vlans),
        "settled_after_churn_s": None if settled_at is None else round(settled_at - churn_end, 1),
        "differences": diff,
        "agent_view_of_differing_ports": agent_view,
    }
    touched = touched_operator_vlans([r.cmds for r in sw.log if r.commits], p, start_vlans)
    out["operator"] = {"commands": touched[:20], "sampled": monitor.violations[:20]}
    history = _history(os.path.join(os.path.dirname(agent.config_path), "state"))
    out["history"] = history

    warm = churn_start + p.warmup_s()
    window = max(10.0, p.duration / 10)
    baseline = _median_between(monitor.rss, warm, warm + window)
    final = _median_between(monitor.rss, end - window, end)
    rss_all = [kb for _, kb in monitor.rss]
    growth = None if not baseline or final is None else final / baseline - 1
    out["rss"] = {
        "samples": len(rss_all),
        "after_warmup_kb": baseline,
        "end_kb": final,
        "peak_kb": max(rss_all) if rss_all else None,
        "growth_pct": None if growth is None else round(100 * growth, 1),
        "warmup_s": p.warmup_s(),
        "series_kb": [  # about 20 points: (seconds since the churn began, kB)
            (round(t - churn_start), kb) for t, kb in monitor.rss[:: max(1, len(monitor.rss) // 20)]
        ],
    }
    sessions = doc.get("sessions") or []
    out["status"] = {
        "sessions_synced": sum(1 for s in sessions if s.get("synced")),
        "reconciles": ((doc.get("agent") or {}).get("counters") or {}).get("reconciles"),
    }

    def target(name: str, ok: bool, measured: Any) -> dict[str, Any]:
        return {"target": name, "measured": measured, "result": "pass" if ok else "FAIL"}

    out["lab_mismatches"] = lab_mismatches[:10]
    targets = [
        target(
            "the lab did what the churn asked (the oracle's premise)",
            not lab_mismatches,
            len(lab_mismatches),
        ),
        target("the agent ran throughout", not monitor.died and agent.alive(), agent.alive()),
        target(
            "the churn ran as scripted (no control error)",
            not out["churn"]["control_errors"],
            len(out["churn"]["control_errors"]),
        ),
        target("the switch ends exactly as the oracle says", not diff, diff or "equal"),
        target(
            "no change missed: every VLAN the oracle wants is there",
            not (diff.get("missing") or diff.get("vlans_missing")),
            {k: v for k, v in diff.items() if k in ("missing", "vlans_missing")} or 0,
        ),
        target(
            "every change in the history has a reason, none failed",
            not history["without_reason"] and not history["errors"],
            {"without_reason": len(history["without_reason"]), "errors": len(history["errors"])},
        ),
        target(
            "no operator VLAN touched",
            not touched and not monitor.violations,
            len(touched) + len(monitor.violations),
        ),
    ]
    if p.duration >= RSS_MIN_DURATION:
        targets.append(
            target(
                "RSS growth after warm-up < 10%",
                growth is not None and growth < RSS_LIMIT,
                out["rss"]["growth_pct"],
            )
        )
    out["targets"] = targets
    out["ok"] = all(t["result"] == "pass" for t in targets)
    return out


def params_from(argv: Optional[list[str]] = None) -> Params:
    """Params from the command line, then ``SOAK_*`` environment variables, then defaults."""
    d = Params()
    env = os.environ

    def default(name: str, value: Any) -> Any:
        return type(value)(env.get(f"SOAK_{name.upper()}", value))

    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    for name in asdict(d):
        value = getattr(d, name)
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=type(value), default=default(name, value)
        )
    args = parser.parse_args(argv)
    p = Params(**{k: getattr(args, k) for k in asdict(d)})
    if not 1 <= p.sessions <= 8:
        parser.error("--sessions must be 1-8 (the agent takes up to 8)")
    if p.hosts < 2 or p.vms < p.sessions or p.rate <= 0 or p.duration <= 0:
        parser.error("need --hosts >= 2, --vms >= --sessions, --rate > 0, --duration > 0")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    p = params_from(argv)
    result = run(p)
    result["note"] = (
        "measured on a 2-core machine shared with other work (see machine_before/after"
        " loadavg); the rate and timings are the lab's, not a real vCenter's"
    )
    print(json.dumps(result, indent=2, default=str))
    for t in result["targets"]:
        _log(f"{t['result']}: {t['target']} ({t['measured']})")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
