"""Lab helper: network namespaces, veth cabling, lldpd as a CDP listener, captures.

What this module is for: the stand-ins for what sits on the other end of a
switch port. A :class:`HostNamespace` is an "ESXi host": a network namespace
whose NICs (``vmnic0``, ``vmnic1``, ...) are veth ends cabled to switch-side
interfaces, with Debian's ``lldpd -c`` listening for CDP on them. A
:class:`Namespace` can also play the switch, so its veth ends can carry EOS's
kernel names (``et1``, ``et2``) without touching the machine's own interfaces.
:class:`Capture` records what crosses a link (``dumpcap``) and dissects it
with ``tshark``.

Typical use (as root)::

    with Namespace("sw") as switch, HostNamespace("esx1", switch=switch) as host:
        host.add_link("et1")                  # et1 in "sw" <-> vmnic0 in "esx1"
        with switch.entered():                # threads started here live in "sw"
            sender.start()
        host.wait_for_neighbors(lambda ns: any(n.port_id == "Ethernet1" for n in ns))

Names are unique per run (:data:`RUN_TAG`), and everything made here (namespaces,
links, processes, temporary files) is removed by ``close()``/``__exit__``, even
when a test fails. This module must never touch an interface, namespace or
process it did not create itself, and never kill anything by name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

#: Unique per process: every namespace and generated link name carries it.
RUN_TAG = secrets.token_hex(3)
_counter = 0
_counter_lock = threading.Lock()
_Self = TypeVar("_Self", bound="Namespace")

_CLONE_NEWNET = 0x40000000
CDP_CAPTURE_FILTER = "ether dst 01:00:0c:cc:cc:cc"
REQUIRED_TOOLS = ("ip", "lldpd", "lldpcli", "tshark", "dumpcap")


class LabError(RuntimeError):
    """The lab could not be set up or queried (a missing tool, a failed command)."""


def is_root() -> bool:
    """True when this process can make namespaces and raw sockets."""
    return os.geteuid() == 0


def check_tools(tools: Sequence[str] = REQUIRED_TOOLS) -> None:
    """Raise LabError naming every tool that is not installed."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise LabError(
            f"missing lab tools: {', '.join(missing)} (make apt installs lldpd, tshark, iproute2)"
        )


def unique_name(prefix: str, max_len: int = 15) -> str:
    """A name no other run uses: ``prefix`` + run tag + a counter, at most ``max_len``."""
    global _counter
    with _counter_lock:
        _counter += 1
        number = _counter
    suffix = f"{RUN_TAG}{number:x}"
    return f"{prefix[: max(1, max_len - len(suffix))]}{suffix}"


def run(
    args: Sequence[str], *, check: bool = True, timeout: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; LabError (with stderr) if it fails."""
    try:
        proc = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as e:
        raise LabError(f"{args[0]}: not installed") from e
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{' '.join(args)}: no answer within {timeout:g}s") from e
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    """Stop a process this module started, and the process group it leads.

    It was started with ``start_new_session=True``, so its group id is its pid
    and whatever it forked (lldpd's privilege-separated child) is in that group.
    The leader is left unreaped (a zombie keeps its pid reserved) until the
    group is gone, so the group id can never name somebody else's processes.
    """
    if proc.returncode is not None:
        return  # already reaped: its pid may belong to another process by now
    with suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        time.sleep(0.02)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


_libc: Optional[ctypes.CDLL] = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns: {os.strerror(err)}")


class Namespace:
    """A network namespace made for this run; closing it removes it and its links.

    ``Namespace("sw")`` is named ``vmt-sw-<run tag>-<n>``; :attr:`name` has the
    real name. Use it as a context manager, or call :meth:`create`/:meth:`close`.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.name = unique_name(f"vmt-{label}-", max_len=40)
        self.tmpdir = ""
        self._created = False
        self._procs: list[subprocess.Popen[Any]] = []

    # -- life cycle ---------------------------------------------------------------------

    def create(self) -> Namespace:
        """Make the namespace (loopback up, IPv6 off so links stay quiet)."""
        check_tools(("ip",))
        run(["ip", "netns", "add", self.name])
        self._created = True
        self.tmpdir = tempfile.mkdtemp(prefix=f"{self.name}-")
        # lldpcli (run by lldpd, as lldpd's user) must reach the control socket in here.
        os.chmod(self.tmpdir, 0o755)
        self.run(["ip", "link", "set", "lo", "up"])
        for knob in ("all", "default"):
            self.run(["sysctl", "-qw", f"net.ipv6.conf.{knob}.disable_ipv6=1"], check=False)
        return self

    def close(self) -> None:
        """Stop this namespace's processes, delete it (and its links), remove its files."""
        for proc in reversed(self._procs):
            _stop_process(proc)
        self._procs.clear()
        if self._created:
            run(["ip", "netns", "del", self.name], check=False)
            self._created = False
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = ""

    def __enter__(self: _Self) -> _Self:
        try:
            self.create()
            return self
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands -----------------------------------------------------------------------

    def exec_args(self, args: Sequence[str]) -> list[str]:
        """``args`` prefixed to run inside this namespace (``ip netns exec``)."""
        return ["ip", "netns", "exec", self.name, *args]

    def run(
        self, args: Sequence[str], *, check: bool = True, timeout: float = 20.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace."""
        return run(self.exec_args(args), check=check, timeout=timeout)

    def spawn(self, args: Sequence[str], *, log_name: str) -> subprocess.Popen[Any]:
        """Start a long-running command inside the namespace; :meth:`close` stops it.

        Its stdout and stderr go to ``<tmpdir>/<log_name>`` (see :meth:`read_log`).
        """
        with open(os.path.join(self.tmpdir, log_name), "wb") as log:
            proc = subprocess.Popen(
                self.exec_args(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
        """Stop a process started with :meth:`spawn`."""
        _stop_process(proc, sig)
        if proc in self._procs:
            self._procs.remove(proc)

    def read_log(self, log_name: str) -> str:
        """What a spawned process wrote so far."""
        try:
            with open(os.path.join(self.tmpdir, log_name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the body with the calling thread inside this namespace.

        Sockets opened in the body, and threads started in it (they inherit the
        namespace and keep it), live here. The thread's own namespace is
        restored on exit.
        """
        with open("/proc/thread-self/ns/net") as home:
            with open(f"/run/netns/{self.name}") as target:
                _setns(target.fileno())
            try:
                yield
            finally:
                _setns(home.fileno())

    # -- links --------------------------------------------------------------------------

    def links(self) -> dict[str, dict[str, Any]]:
        """Interface name -> ``ip -j link`` record, for every interface here."""
        out = self.run(["ip", "-j", "link", "show"]).stdout
        return {rec["ifname"]: rec for rec in json.loads(out or "[]")}

    def has_link(self, ifname: str) -> bool:
        """True when ``ifname`` exists in this namespace."""
        return ifname in self.links()

    def mac(self, ifname: str) -> str:
        """The MAC address of ``ifname``."""
        rec = self.links().get(ifname)
        if rec is None:
            raise LabError(f"{ifname} does not exist in {self.name}")
        return str(rec["address"])

    def set_link(self, ifname: str, up: bool) -> None:
        """Bring ``ifname`` up or down."""
        self.run(["ip", "link", "set", ifname, "up" if up else "down"])

    def delete_link(self, ifname: str) -> None:
        """Delete ``ifname`` (a veth takes its peer with it)."""
        self.run(["ip", "link", "del", ifname])

    def capture(self, ifname: str, capture_filter: str = CDP_CAPTURE_FILTER) -> Capture:
        """A started :class:`Capture` of ``ifname``; use it as a context manager."""
        return Capture(self, ifname, capture_filter).start()


@dataclass(frozen=True)
class LldpNeighbor:
    """One neighbour as lldpd parsed it (``lldpcli show neighbors details``)."""

    interface: str  # the local NIC that heard it ("vmnic0")
    via: str  # "CDPv2", "CDPv1", "LLDP", ...
    chassis_id: str
    name: str  # the device ID for CDP
    descr: str  # lldpd: "<platform> running on\n<software version>"
    mgmt_ips: tuple[str, ...]
    port_id: str
    port_descr: str
    ttl: int
    native_vlan: Optional[int]
    capabilities: tuple[str, ...]  # enabled ones, lldpd's names ("Bridge", ...)


def _values(node: Any, key: str) -> list[dict[str, Any]]:
    items = node.get(key, []) if isinstance(node, dict) else []
    return [i for i in items if isinstance(i, dict)]


def _first(node: Any, key: str, field: str = "value") -> str:
    for item in _values(node, key):
        if field in item:
            return str(item[field])
    return ""


def parse_neighbors(document: dict[str, Any]) -> list[LldpNeighbor]:
    """Neighbours from ``lldpcli -f json0 show neighbors details`` output.

    ``json0`` is lldpcli's regular JSON layout (every value a list), which does
    not change shape with the number of neighbours the way ``-f json`` does.
    """
    out: list[LldpNeighbor] = []
    for lldp in _values(document, "lldp"):
        for iface in _values(lldp, "interface"):
            chassis = (_values(iface, "chassis") or [{}])[0]
            port = (_values(iface, "port") or [{}])[0]
            vlans = _values(iface, "vlan")
            pvid = next((v for v in vlans if v.get("pvid")), vlans[0] if vlans else None)
            ttl = _first(port, "ttl")
            out.append(
                LldpNeighbor(
                    interface=str(iface.get("name", "")),
                    via=str(iface.get("via", "")),
                    chassis_id=_first(chassis, "id"),
                    name=_first(chassis, "name"),
                    descr=_first(chassis, "descr"),
                    mgmt_ips=tuple(str(i["value"]) for i in _values(chassis, "mgmt-ip")),
                    port_id=_first(port, "id"),
                    port_descr=_first(port, "descr"),
                    ttl=int(ttl) if ttl.isdigit() else 0,
                    native_vlan=int(pvid["vlan-id"]) if pvid and "vlan-id" in pvid else None,
                    capabilities=tuple(
                        str(c.get("type"))
                        for c in _values(chassis, "capability")
                        if c.get("enabled")
                    ),
                )
            )
    return out


class HostNamespace(Namespace):
    """An "ESXi host": a namespace whose vmnics are cabled to switch-side veth ends.

    ``lldpd -c -r`` (CDP on, receive-only, its own control socket and an empty
    configuration) runs inside and records the neighbours it hears; see
    :meth:`neighbors`. ``switch`` is the namespace holding the switch-side
    ends; ``None`` puts them in this process's own namespace (then pick names
    with :func:`unique_name`).
    """

    def __init__(self, label: str, *, switch: Optional[Namespace] = None, lldpd: bool = True):
        super().__init__(label)
        self.switch = switch
        self.with_lldpd = lldpd
        self.nics: dict[str, str] = {}  # host NIC -> switch-side interface
        self._lldpd: Optional[subprocess.Popen[Any]] = None

    @property
    def lldpd_socket(self) -> str:
        """lldpd's control socket (for ``lldpcli -u``)."""
        return os.path.join(self.tmpdir, "lldpd.sock")

    def create(self) -> HostNamespace:
        super().create()
        if self.with_lldpd:
            self.start_lldpd()
        return self

    def start_lldpd(self) -> None:
        """Start lldpd (foreground, owned by this object) if it is not running."""
        if self._lldpd is not None and self._lldpd.poll() is None:
            return
        check_tools(("lldpd", "lldpcli"))
        conf = os.path.join(self.tmpdir, "lldpd.conf")
        with open(conf, "w", encoding="utf-8"):
            pass
        self._lldpd = self.spawn(
            ["lldpd", "-d", "-c", "-r", "-u", self.lldpd_socket, "-O", conf],
            log_name="lldpd.log",
        )

    def lldpd_log(self) -> str:
        """What lldpd logged (for failure messages)."""
        return self.read_log("lldpd.log")

    def add_link(self, switch_ifname: str, host_ifname: str = "") -> str:
        """Cable ``switch_ifname`` (made in the switch namespace) to a new NIC here.

        The host side is called ``host_ifname`` or the next free ``vmnicN``. Both
        ends are brought up. Returns the host-side name.
        """
        if not host_ifname:
            number = 0
            while f"vmnic{number}" in self.nics:
                number += 1
            host_ifname = f"vmnic{number}"
        where = ["-n", self.switch.name] if self.switch is not None else []
        run(
            [
                "ip",
                *where,
                "link",
                "add",
                switch_ifname,
                "type",
                "veth",
                "peer",
                "name",
                host_ifname,
                "netns",
                self.name,
            ]
        )
        self.nics[host_ifname] = switch_ifname
        if self.switch is None:
            # Keep the machine's own namespace quiet on this link.
            run(["sysctl", "-qw", f"net.ipv6.conf.{switch_ifname}.disable_ipv6=1"], check=False)
        run(["ip", *where, "link", "set", switch_ifname, "up"])
        self.set_link(host_ifname, True)
        return host_ifname

    def remove_link(self, host_ifname: str) -> None:
        """Delete a NIC and, with it, its switch-side end."""
        self.delete_link(host_ifname)
        self.nics.pop(host_ifname, None)

    def close(self) -> None:
        if self.switch is None:
            for switch_ifname in self.nics.values():
                run(["ip", "link", "del", switch_ifname], check=False)
        self.nics.clear()
        self._lldpd = None
        super().close()

    def neighbors(self) -> list[LldpNeighbor]:
        """What lldpd has heard, now; LabError if lldpd is not answering."""
        if self._lldpd is not None and self._lldpd.poll() is not None:
            raise LabError(f"lldpd exited ({self._lldpd.returncode}):\n{self.lldpd_log()}")
        out = self.run(
            ["lldpcli", "-u", self.lldpd_socket, "-f", "json0", "show", "neighbors", "details"],
            timeout=10,
        ).stdout
        try:
            document = json.loads(out) if out.strip() else {}
        except json.JSONDecodeError as e:
            raise LabError(f"lldpcli printed something that is not JSON: {out[:200]!r}") from e
        return parse_neighbors(document)

    def wait_for_neighbors(
        self,
        predicate: Callable[[list[LldpNeighbor]], bool],
        timeout: float = 15.0,
        poll: float = 0.2,
    ) -> list[LldpNeighbor]:
        """Poll :meth:`neighbors` until ``predicate`` holds; LabError after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: list[LldpNeighbor] = []
        problem = ""
        while True:
            try:
                last = self.neighbors()
                problem = ""
                if predicate(last):
                    return last
            except LabError as e:
                problem = str(e)
                if self._lldpd is not None and self._lldpd.poll() is not None:
                    raise
            if time.monotonic() >= deadline:
                raise LabError(
                    f"lldpd in {self.name} did not hear what was expected within {timeout:g}s;"
                    f" last seen: {last!r} {problem}\nlldpd log:\n{self.lldpd_log()}"
                )
            time.sleep(poll)


class Capture:
    """``dumpcap`` on one interface of a namespace, dissected afterwards by ``tshark``."""

    def __init__(self, namespace: Namespace, ifname: str, capture_filter: str) -> None:
        self.namespace = namespace
        self.ifname = ifname
        self.capture_filter = capture_filter
        self._log = unique_name(f"dumpcap-{ifname}-", max_len=60) + ".log"
        self.path = os.path.join(namespace.tmpdir, self._log[:-4] + ".pcapng")
        self._proc: Optional[subprocess.Popen[Any]] = None

    def start(self, timeout: float = 15.0) -> Capture:
        """Start capturing; returns once dumpcap says it is capturing."""
        check_tools(("dumpcap", "tshark"))
        args = ["dumpcap", "-q", "-i", self.ifname, "-w", self.path]
        if self.capture_filter:
            args += ["-f", self.capture_filter]
        self._proc = self.namespace.spawn(args, log_name=self._log)
        deadline = time.monotonic() + timeout
        while "Capturing on" not in self.namespace.read_log(self._log):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = self.namespace.read_log(self._log)
                self.stop()
                raise LabError(f"dumpcap on {self.ifname} did not start: {log}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop capturing (the file is complete afterwards)."""
        if self._proc is not None:
            self.namespace.stop(self._proc, signal.SIGINT)
            self._proc = None

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fields(self, *names: str, display_filter: str = "") -> list[dict[str, str]]:
        """One dict per captured frame: field name -> value (repeats joined by ",")."""
        return read_fields(self.path, names, display_filter=display_filter)


def read_fields(
    path: str, names: Sequence[str], *, display_filter: str = ""
) -> list[dict[str, str]]:
    """Dissect a capture file with tshark: one dict per frame, field -> value."""
    check_tools(("tshark",))
    args = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t"]
    args += ["-E", "occurrence=a", "-E", "aggregator=,"]
    for name in names:
        args += ["-e", name]
    if display_filter:
        args += ["-Y", display_filter]
    out = run(args, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        values = line.split("\t")
        values += [""] * (len(names) - len(values))
        rows.append(dict(zip(names, values)))
    return rows


__all__ = [
    "CDP_CAPTURE_FILTER",
    "RUN_TAG",
    "Capture",
    "HostNamespace",
    "LabError",
    "LldpNeighbor",
    "Namespace",
    "check_tools",
    "is_root",
    "parse_neighbors",
    "read_fields",
    "run",
    "unique_name",
]
