"""``vmtracer check`` and ``vmtracer plan`` against the lab vCenter and the eAPI emulator.

Both run as real processes (the installed command) over https to the simulator and
over eAPI's Unix socket to the emulator; neither may change the switch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.eapi.server import EapiEmulator
from lab.eapi.state import SwitchState
from lab.vcsim import scenarios
from lab.vcsim.lab import VcsimLab

pytestmark = pytest.mark.integration

VMTRACER = os.path.join(os.path.dirname(sys.executable), "vmtracer")


@pytest.fixture(scope="module")
def vcenter() -> Iterator[VcsimLab]:
    lab = VcsimLab(scenarios.basic())
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture()
def switch(tmp_path: Path) -> Iterator[tuple[EapiEmulator, str]]:
    emu = EapiEmulator(SwitchState.build(hostname="leaf1", ethernet=16, trunk_allowed="1-99"))
    sock = str(tmp_path / "eapi.sock")
    emu.start(socket_path=sock)
    yield emu, sock
    emu.stop()


def write_config(
    tmp_path: Path, lab: VcsimLab, sock: str, thumbprint: str = "", **extra: str
) -> Path:
    pw = tmp_path / "vc.password"
    pw.write_text(lab.password)
    pw.chmod(0o600)
    path = tmp_path / "vmtracer.toml"
    session_extra = "".join(f"{k} = {v}\n" for k, v in extra.items())
    path.write_text(
        f"""
[switch]
interfaces = ["Ethernet1-16"]
eapi_socket = "{sock}"
state_dir = "{tmp_path}/state"
run_dir = "{tmp_path}/run"
[cdp]
enabled = false
[[session]]
name = "vc1"
url = "{lab.url}"
username = "{lab.username}"
password_file = "{pw}"
allowed_vlans = "100-349"
thumbprint = "{thumbprint or lab.thumbprint}"
{session_extra}"""
    )
    return path


def vmtracer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VMTRACER, *args], capture_output=True, text=True, timeout=120)


def test_check_reaches_everything(
    tmp_path: Path, vcenter: VcsimLab, switch: tuple[EapiEmulator, str]
) -> None:
    emu, sock = switch
    config = write_config(tmp_path, vcenter, sock)
    before = emu.running_config()
    proc = vmtracer("check", "--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "eAPI: ok: leaf1" in proc.stdout and "16 of 16 configured interfaces exist" in proc.stdout
    )
    assert "vCenter vc1: ok: 3 hosts, 5 VMs" in proc.stdout
    assert emu.running_config() == before
    assert vcenter.password not in proc.stdout + proc.stderr


def test_check_reports_each_failure(
    tmp_path: Path, vcenter: VcsimLab, switch: tuple[EapiEmulator, str]
) -> None:
    config = write_config(tmp_path, vcenter, str(tmp_path / "absent.sock"), thumbprint="AB" * 32)
    proc = vmtracer("check", "--config", str(config), "--timeout", "20")
    assert proc.returncode == 1
    assert "eAPI: FAILED" in proc.stdout
    assert "vCenter vc1: FAILED: tls-error" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_plan_prints_commands_and_changes_nothing(
    tmp_path: Path, vcenter: VcsimLab, switch: tuple[EapiEmulator, str]
) -> None:
    emu, sock = switch
    config = write_config(tmp_path, vcenter, sock)
    before = emu.running_config()
    proc = vmtracer("plan", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    commands = [line for line in lines if not line.startswith("!")]
    # web1 on esx1 (leaf1.lab Ethernet1) needs VM-100; esx2's web2 VM-110 (VLAN 111) on Ethernet2;
    # VMkernel vMotion (350) is outside allowed_vlans and must not appear.
    assert "interface Ethernet1" in commands
    assert "switchport trunk allowed vlan add 100" in commands
    assert "switchport trunk allowed vlan add 111" in commands
    assert not any("350" in c for c in commands)
    assert any(line.startswith("! Ethernet1: add 100: VM web1") for line in lines)
    assert emu.running_config() == before
    assert not (tmp_path / "state" / "ledger.json").exists()
