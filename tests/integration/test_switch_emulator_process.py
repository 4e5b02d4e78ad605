"""The emulator as its own process (as the demo and end-to-end tests run it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.planner import InterfaceChange, Plan
from eos_vmtracer.switch import EapiSwitch, TransientSwitchError
from eos_vmtracer.vlans import VlanSet
from lab.eapi import LabClient

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def emulator_process() -> Iterator[tuple[dict[str, str], str]]:
    directory = tempfile.mkdtemp(prefix="eapi-")
    spec = {
        "hostname": "leaf9",
        "ethernet": 4,
        "trunk_allowed": "10",
        "port_channels": {"Port-Channel20": ["Ethernet5", "Ethernet6"]},
        "vlans": {"10": "web"},
    }
    state_file = os.path.join(directory, "switch.json")
    with open(state_file, "w") as f:
        json.dump(spec, f)
    socket_path = os.path.join(directory, "eapi.sock")
    command = [sys.executable, "-m", "lab.eapi", "--socket", socket_path]
    command += ["--http-port", "0", "--state-file", state_file]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        yield ready, socket_path
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            assert not os.path.exists(socket_path), "the emulator left its socket behind"
            shutil.rmtree(directory, ignore_errors=True)


def test_a_separate_emulator_process_is_driven_through_its_control_api(
    emulator_process: tuple[dict[str, str], str],
) -> None:
    ready, socket_path = emulator_process
    assert ready["socket"] == socket_path
    control = LabClient(url=ready["url"])
    cfg = SwitchConfig(eapi_transport="socket", eapi_socket=socket_path, eapi_timeout=5)
    with EapiSwitch(cfg, backoff=0.01, retries=1) as sw:
        facts = sw.facts()
        assert facts.hostname == "leaf9"
        assert facts.interfaces["Ethernet5"].channel == "Port-Channel20"

        control.fault("drop", when="before", count=None)
        with pytest.raises(TransientSwitchError):
            sw.facts()
        control.clear_faults()

        control.configure("interface Ethernet1", "switchport trunk allowed vlan add 11")
        plan = Plan(changes=(InterfaceChange("Ethernet1", VlanSet([12]), VlanSet.none()),))
        after = sw.apply(plan)
    assert after.interfaces["Ethernet1"].allowed == VlanSet([10, 11, 12])
    assert "switchport trunk allowed vlan 10-12\n" in control.running_config()
    assert control.request_count() == 5  # facts, 2 dropped, the operator, apply (+ facts)
    assert control.state()["interfaces"]["Ethernet1"]["allowed"] == "10-12"
