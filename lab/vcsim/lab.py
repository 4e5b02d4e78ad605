"""Run the lab vCenter (build/vcsim-lab) from Python: start, kill, restart, stop.

What this module is for: tests, the end-to-end suite and ``make demo`` get a real
vCenter endpoint (govmomi's simulator over https, shaped by a scenario) with one
call, and a client for its control interface::

    with VcsimLab(scenarios.basic()) as lab:
        lab.url, lab.thumbprint, lab.username, lab.password
        lab.control.power("web1", on=False)
        lab.restart()            # same port, same certificate, state from the scenario

It must never leave a process or a temporary directory behind once ``stop()`` (or
the ``with`` block) has run, and never talk to anything but the loopback interface
(``host`` may put the vCenter endpoint on another local address, e.g. a lab veth, so
that an agent in a network namespace reaches it; the control port stays on loopback).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from lab.vcsim.control import LabControl

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BINARY = REPO / "build" / "vcsim-lab"


class LabError(RuntimeError):
    """The lab could not be built or started."""


def ensure_built(binary: Path = BINARY) -> Path:
    """Build ``build/vcsim-lab`` with build.sh when it is missing or older than its sources.

    Safe to call from several processes at once (a lock file serialises the builds).
    """
    sources = [*HERE.glob("*.go"), HERE / "build.sh"]
    newest = max(p.stat().st_mtime for p in sources)

    def fresh() -> bool:
        return binary.exists() and binary.stat().st_mtime >= newest

    if fresh():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.parent / ".vcsim-lab.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not fresh():
            proc = subprocess.run(
                [str(HERE / "build.sh"), str(binary)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise LabError(f"building {binary} failed:\n{proc.stdout}")
    return binary


class VcsimLab:
    """One lab vCenter process, shaped by a scenario (a mapping or a JSON file)."""

    def __init__(
        self,
        scenario: Union[Mapping[str, Any], str, Path],
        *,
        workdir: Optional[Union[str, Path]] = None,
        binary: Optional[Path] = None,
        verbose: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="vcsim-lab-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(scenario, (str, Path)):
            self.scenario_file = Path(scenario)
            self.scenario: dict[str, Any] = json.loads(self.scenario_file.read_text())
        else:
            self.scenario = json.loads(json.dumps(scenario))
            self.scenario_file = self.workdir / "scenario.json"
            self.scenario_file.write_text(json.dumps(self.scenario, indent=1))
        self.binary = binary or BINARY
        self.verbose = verbose
        self.cert_file = self.workdir / "vcsim.crt"
        self.key_file = self.workdir / "vcsim.key"
        self.log_file = self.workdir / "vcsim.log"
        self.url = ""
        self.thumbprint = ""
        self.control_url = ""
        self.start_seconds = 0.0  # how long the last start took, until ready
        self._listen = f"{host}:0"  # the vCenter endpoint (the control port stays on loopback)
        self._control_listen = "127.0.0.1:0"
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._control: Optional[LabControl] = None

    # -- identity ------------------------------------------------------------------------
    @property
    def username(self) -> str:
        return str(self.scenario.get("username") or "user")

    @property
    def password(self) -> str:
        return str(self.scenario.get("password") or "pass")

    @property
    def control(self) -> LabControl:
        if self._control is None:
            raise LabError("the lab is not started")
        return self._control

    @property
    def port(self) -> int:
        return int(self._listen.rsplit(":", 1)[1])

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- life cycle ----------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> VcsimLab:
        """Start the simulator and wait until it prints its URL (then it serves)."""
        if self.running():
            raise LabError("the lab is already running")
        ensure_built(self.binary)
        tmp = self.workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        data = self.workdir / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        cmd = [
            str(self.binary),
            "-scenario", str(self.scenario_file),
            "-listen", self._listen,
            "-control", self._control_listen,
            "-cert", str(self.cert_file),
            "-key", str(self.key_file),
            "-data", str(data),
        ]  # fmt: skip
        if self.verbose:
            cmd.append("-verbose")
        env = dict(os.environ, TMPDIR=str(tmp))
        began = time.monotonic()
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True
            )
        assert self._proc.stdout is not None
        line = b""
        deadline = began + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self._proc.poll() is not None:
                break
            ready, _, _ = select.select([self._proc.stdout], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        if not line.endswith(b"\n"):
            self.kill()
            raise LabError(f"vcsim-lab did not start: {self._tail_log()}")
        self.start_seconds = time.monotonic() - began
        info = json.loads(line)
        self.url = info["url"]
        self.thumbprint = info["thumbprint"]
        self.control_url = info["control"]
        self._listen = self.url.split("//", 1)[1].split("/", 1)[0]
        self._control_listen = self.control_url.split("//", 1)[1]
        self._control = LabControl(self.control_url)
        return self

    def kill(self) -> None:
        """Kill the simulator at once (SIGKILL), as a crash would."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()

    def restart(self, timeout: float = 30.0) -> VcsimLab:
        """Kill the simulator and start it again: same port, same certificate, the
        scenario's initial state (what a rebooted vCenter that lost its changes shows)."""
        self.kill()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.start(timeout=max(1.0, deadline - time.monotonic()))
            except LabError:
                if time.monotonic() > deadline or "address already in use" not in self._tail_log():
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the simulator (SIGTERM, then SIGKILL) and remove what the lab created."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if proc.stdout:
                proc.stdout.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> VcsimLab:
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for clients ----------------------------------------------------------------
    def password_file(self, password: Optional[str] = None) -> Path:
        """A file (mode 0600) holding ``password`` (default: the scenario's)."""
        path = self.workdir / ("password" if password is None else "password.other")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password if password is None else password)
        os.chmod(path, 0o600)
        return path

    def _tail_log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:].strip()
        except OSError:
            return ""
