"""What every benchmark needs: statistics, a timed eAPI emulator, the agent as a process,
the lab vCenter, and a bare pyvmomi client to measure the simulator's own floor.

What this module is for:

- :func:`summary` / :func:`percentile`: the numbers each benchmark prints;
- :class:`TimedSwitch`: the lab's eAPI emulator (in this process, on a Unix socket)
  that timestamps every request when it has run, so "the VLAN is on the trunk" has
  a time: the end of the request whose ``commit`` put it there;
- :class:`AgentProcess`: ``vmtracer run --config F`` as a subprocess, exactly as the
  product runs (CDP off, no syslog), with its status document, RSS and CPU time;
- :func:`start_vcsim`: the lab vCenter on tmpfs (the simulator writes a file per VM);
- :class:`BareWatcher`: a bare pyvmomi ``WaitForUpdatesEx`` client with the agent's
  filter and nothing else: how fast the simulator itself delivers updates;
- :func:`commit_once`: one eAPI configuration-session commit through the adapter's
  transport: the switch half of the floor.

It must never leave a process, a socket or a temporary directory behind, and never
kill a process it did not start.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from lab.eapi import EapiEmulator, SwitchState
from lab.vcsim import VcsimLab, ensure_built

REPO = Path(__file__).resolve().parents[1]
SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

# -- statistics ------------------------------------------------------------------------


def percentile(xs: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between samples."""
    if not xs:
        return math.nan
    s = sorted(xs)
    k = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(xs: Sequence[float], scale: float = 1000.0, digits: int = 1) -> dict[str, Any]:
    """n, min, p50, p90, p99, max, mean and spread (IQR) of ``xs`` (seconds -> ms)."""
    if not xs:
        return {"n": 0}

    def r(v: float) -> float:
        return round(v * scale, digits)

    return {
        "n": len(xs),
        "min": r(min(xs)),
        "p50": r(percentile(xs, 50)),
        "p90": r(percentile(xs, 90)),
        "p99": r(percentile(xs, 99)),
        "max": r(max(xs)),
        "mean": r(statistics.fmean(xs)),
        "iqr": r(percentile(xs, 75) - percentile(xs, 25)),
    }


def verdict(measured: float, limit: float) -> str:
    return "pass" if measured <= limit else "FAIL"


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was."""
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "loadavg_1m": round(load[0], 2),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in kB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


# -- the switch --------------------------------------------------------------------------


@dataclass
class Request:
    """One eAPI request as the emulator ran it."""

    began: float  # time.monotonic() when it arrived
    ended: float  # ... when it had run (the answer is about to leave)
    cmds: list[str]

    @property
    def commits(self) -> bool:
        return "commit" in self.cmds


class _Timed(EapiEmulator):
    """The emulator, timestamping each request; waiters are woken after each one."""

    def __init__(self, state: SwitchState) -> None:
        super().__init__(state)
        self.log: list[Request] = []
        self.cond = threading.Condition()
        self.inflight = 0

    def handle_rpc(self, body: bytes, transport: str) -> tuple[int, str, bytes]:
        began = time.monotonic()
        with self.cond:
            self.inflight += 1
        try:
            return super().handle_rpc(body, transport)
        finally:
            ended = time.monotonic()
            try:
                cmds = [
                    c["cmd"] if isinstance(c, dict) else str(c)
                    for c in json.loads(body)["params"]["cmds"]
                ]
            except (ValueError, KeyError, TypeError):
                cmds = []
            with self.cond:
                self.inflight -= 1
                self.log.append(Request(began, ended, cmds))
                self.cond.notify_all()


class TimedSwitch:
    """A 48-port leaf (eAPI emulator) on a Unix socket in this process."""

    def __init__(
        self,
        workdir: str,
        *,
        ethernet: int = 48,
        vlans: Iterable[int] = (),
        trunk_allowed: str = "1",
        hostname: str = "leaf1",
    ) -> None:
        state = SwitchState.build(
            hostname=hostname,
            ethernet=ethernet,
            trunk_allowed=trunk_allowed,
            vlans={v: f"VLAN{v:04d}" for v in vlans},
        )
        self.emulator = _Timed(state)
        self.socket = os.path.join(workdir, "eapi.sock")

    def __enter__(self) -> TimedSwitch:
        self.emulator.start(http_port=None, socket_path=self.socket)
        return self

    def __exit__(self, *exc: object) -> None:
        self.emulator.stop()

    @property
    def log(self) -> list[Request]:
        with self.emulator.cond:
            return list(self.emulator.log)

    def allowed(self) -> dict[str, frozenset[int]]:
        """Interface -> allowed VLANs now (ALL shows as every VLAN)."""
        with self.emulator.engine.lock:
            ports = self.emulator.engine.running.interfaces
            return {
                name: (p.allowed if p.allowed is not None else frozenset(range(1, 4095)))
                for name, p in ports.items()
            }

    def carries(self, need: dict[str, set[int]]) -> bool:
        allowed = self.allowed()
        return all(vlans <= allowed.get(port, frozenset()) for port, vlans in need.items())

    def wait(self, pred: Callable[[], bool], timeout: float) -> float:
        """Wait until ``pred()`` holds with no request running; the end time of the last
        request before that (when the state it checks was made). Raises TimeoutError."""
        em = self.emulator
        deadline = time.monotonic() + timeout
        with em.cond:
            while True:
                if em.inflight == 0 and pred():
                    return em.log[-1].ended if em.log else time.monotonic()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the switch did not get there in time")
                em.cond.wait(min(left, 0.5))


def commit_once(socket_path: str, lines: Sequence[str]) -> float:
    """Seconds for one configuration-session commit of ``lines`` through the adapter's
    transport (one eAPI request), with a fresh session name."""
    from eos_vmtracer.config import SwitchConfig
    from eos_vmtracer.switch.commands import session_commands
    from eos_vmtracer.switch.transport import EapiTransport

    transport = EapiTransport(SwitchConfig(eapi_transport="socket", eapi_socket=socket_path))
    name = f"bench-{time.monotonic_ns()}"
    began = time.perf_counter()
    reply = transport.send(session_commands(name, lines))
    took = time.perf_counter() - began
    transport.close()
    if reply.error is not None:
        raise RuntimeError(f"floor commit failed: {reply.error}")
    return took


# -- the lab vCenter -------------------------------------------------------------------------


@contextlib.contextmanager
def start_vcsim(scenario: dict[str, Any], timeout: float = 300.0) -> Iterator[VcsimLab]:
    """The lab vCenter for ``scenario``, its files on tmpfs when there is one."""
    ensure_built()
    workdir = tempfile.mkdtemp(prefix="bench-vcsim-", dir=SHM)
    lab = VcsimLab(scenario, workdir=workdir)
    try:
        lab.start(timeout=timeout)
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- the agent as the product runs it ----------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))


def write_config(
    workdir: str,
    lab: VcsimLab,
    socket_path: str,
    *,
    interfaces: str = "Ethernet1-48",
    switch: Optional[dict[str, Any]] = None,
    session: Optional[dict[str, Any]] = None,
) -> str:
    """A vmtracer.toml for ``lab`` and the switch on ``socket_path``; its path."""
    password = os.path.join(workdir, "vc.password")
    fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(lab.password)
    sw: dict[str, Any] = {
        "interfaces": [interfaces],
        "eapi_transport": "socket",
        "eapi_socket": socket_path,
        "state_dir": os.path.join(workdir, "state"),
        "run_dir": os.path.join(workdir, "run"),
        "check_interval": 3600.0,
    }
    sw.update(switch or {})
    sess: dict[str, Any] = {
        "name": "vc1",
        "url": lab.url,
        "username": lab.username,
        "password_file": password,
        "allowed_vlans": "2-4094",
        "thumbprint": lab.thumbprint,
    }
    sess.update(session or {})
    lines = ["[switch]"]
    lines += [f"{k} = {_toml(v)}" for k, v in sw.items()]
    lines += ["", "[cdp]", "enabled = false", "", "[log]", "syslog = false", 'level = "info"']
    lines += ["", "[[session]]"]
    lines += [f"{k} = {_toml(v)}" for k, v in sess.items()]
    path = os.path.join(workdir, "vmtracer.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def vmtracer_command() -> list[str]:
    """``vmtracer`` of this interpreter's environment (``python -m eos_vmtracer`` else)."""
    script = os.path.join(os.path.dirname(sys.executable), "vmtracer")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "eos_vmtracer"]


class AgentProcess:
    """``vmtracer run --config F`` in a subprocess (stderr to a log file)."""

    def __init__(
        self,
        workdir: str,
        config_path: str,
        env: Optional[dict[str, str]] = None,
        command: Optional[list[str]] = None,
    ) -> None:
        self.workdir = workdir
        self.config_path = config_path
        self.env = dict(env or {})
        self.command = command or vmtracer_command()
        self.run_dir = os.path.join(workdir, "run")
        self.log_path = os.path.join(workdir, "agent.log")
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.started = 0.0

    def __enter__(self) -> AgentProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), **self.env)
        with open(self.log_path, "ab") as log:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                [*self.command, "run", "--config", self.config_path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def status(self) -> Optional[dict[str, Any]]:
        """The status document as last published (None before the first)."""
        try:
            with open(os.path.join(self.run_dir, "status.json")) as f:
                doc: dict[str, Any] = json.load(f)
                return doc
        except (OSError, ValueError):
            return None

    def wait_status(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float, poll: float = 0.02
    ) -> float:
        """Poll the status document until ``pred`` holds; the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"the agent exited: {self.log_tail()}")
            doc = self.status()
            if doc is not None and pred(doc):
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent status not reached in {timeout:g}s: {self.log_tail()}")
            time.sleep(poll)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def synced(doc: dict[str, Any]) -> bool:
    """Every session of the status document is synchronised."""
    sessions = doc.get("sessions") or []
    return bool(sessions) and all(s.get("synced") for s in sessions)


# -- the floor: a bare pyvmomi client -------------------------------------------------------


@dataclass
class Seen:
    at: float
    moid: str
    path: str
    value: Any


@dataclass
class BareWatcher:
    """One property filter (the agent's paths, over one container view) and a thread
    long-polling ``WaitForUpdatesEx`` that timestamps every property change."""

    lab: VcsimLab
    max_object_updates: int = 1000
    seen: list[Seen] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.si: Any = None
        self.version = ""

    def connect(self) -> None:
        from pyVim.connect import SmartConnect

        host, port = self.lab.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.si = SmartConnect(
            host=host,
            port=int(port),
            user=self.lab.username,
            pwd=self.lab.password,
            sslContext=ctx,
        )

    def create_filter(self) -> None:
        from pyVmomi import vim, vmodl

        from eos_vmtracer.vcenter.inventory import PATHS

        content = self.si.RetrieveContent()
        types = {
            "host": vim.HostSystem,
            "vm": vim.VirtualMachine,
            "dvpg": vim.dvs.DistributedVirtualPortgroup,
            "dvs": vim.DistributedVirtualSwitch,
        }
        view = content.viewManager.CreateContainerView(
            content.rootFolder, list(types.values()), True
        )
        pc: Any = vmodl.query.PropertyCollector  # pyVmomi's data objects are untyped
        spec = pc.FilterSpec(
            objectSet=[
                pc.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[
                        pc.TraversalSpec(
                            name="v", type=vim.view.ContainerView, path="view", skip=False
                        )
                    ],
                )
            ],
            propSet=[pc.PropertySpec(type=t, pathSet=list(PATHS[k])) for k, t in types.items()],
        )
        # A collector of its own: the simulator's default collector is one object for
        # every session, and two clients waiting on it take each other's updates.
        self.pc = content.propertyCollector.CreatePropertyCollector()
        self.pc.CreateFilter(spec, False)
        self.options = pc.WaitOptions(maxWaitSeconds=5, maxObjectUpdates=self.max_object_updates)

    def initial_sync(self) -> tuple[float, int]:
        """Read everything (``WaitForUpdatesEx`` from version "" until not truncated):
        (seconds, objects)."""
        began = time.perf_counter()
        objects = 0
        while True:
            update = self.pc.WaitForUpdatesEx(self.version, self.options)
            if update is None:
                break
            self.version = update.version
            objects += sum(len(f.objectSet or []) for f in update.filterSet or [])
            if not update.truncated:
                break
        return time.perf_counter() - began, objects

    def start(self) -> BareWatcher:
        """Connect, sync, then watch on a thread."""
        self.connect()
        self.create_filter()
        self.initial_sync()
        self._thread = threading.Thread(target=self._run, name="bare-watcher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                update = self.pc.WaitForUpdatesEx(self.version, self.options)
            except Exception:
                if self._stop.is_set():
                    return
                raise
            at = time.monotonic()
            if update is None:
                continue
            self.version = update.version
            batch = [
                Seen(at, o.obj._moId, c.name, c.val)
                for f in update.filterSet or []
                for o in f.objectSet or []
                for c in o.changeSet or []
            ]
            with self.cond:
                self.seen.extend(batch)
                self.cond.notify_all()

    def wait(self, pred: Callable[[Seen], bool], since: float, timeout: float) -> float:
        """The time the first change matching ``pred`` at or after ``since`` was seen."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for s in self.seen:
                    if s.at >= since and pred(s):
                        return s.at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the bare client did not see the change")
                self.cond.wait(min(left, 0.5))

    def wait_count(
        self, pred: Callable[[Seen], bool], count: int, since: float, timeout: float
    ) -> float:
        """The time the ``count``-th distinct object matching ``pred`` was seen."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got: dict[str, float] = {}
                for s in self.seen:
                    if s.at >= since and pred(s) and s.moid not in got:
                        got[s.moid] = s.at
                if len(got) >= count:
                    return max(got.values())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the bare client saw {len(got)} of {count} changes")
                self.cond.wait(min(left, 0.5))

    def stop(self) -> None:
        self._stop.set()
        if self.si is not None:
            with contextlib.suppress(Exception):
                self.pc.CancelWaitForUpdates()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.si is not None:
            with contextlib.suppress(Exception):
                self.si.content.sessionManager.Logout()
