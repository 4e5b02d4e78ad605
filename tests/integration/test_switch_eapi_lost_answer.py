"""The switch adapter when the answer to a commit is lost (it ran; the client timed out),
against the eAPI emulator's ``latency`` fault with ``when = "after"``."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.planner import InterfaceChange, Plan
from eos_vmtracer.switch import EapiSwitch, TransientSwitchError
from eos_vmtracer.vlans import VlanSet
from lab.eapi import EapiEmulator
from tests.integration.test_switch_eapi import committed, initial_state

pytestmark = pytest.mark.integration

PLAN = Plan(
    changes=(InterfaceChange("Ethernet8", VlanSet([400]), VlanSet([2])),),
    create_vlans={400: "x"},
)


@pytest.fixture()
def emulator() -> Iterator[tuple[EapiEmulator, SwitchConfig]]:
    directory = tempfile.mkdtemp(prefix="eapi-")
    emu = EapiEmulator(initial_state())
    ends = emu.start(http_port=None, socket_path=os.path.join(directory, "eapi.sock"))
    try:
        yield emu, SwitchConfig(eapi_socket=ends.socket_path or "", eapi_timeout=0.4)
    finally:
        emu.stop()
        shutil.rmtree(directory, ignore_errors=True)


def settle(emu: EapiEmulator) -> None:
    deadline = time.monotonic() + 10
    while any(r["result"] == "?" for r in emu.requests):  # late answers still pending
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_late_answer_only_delays_requests_that_commit(
    emulator: tuple[EapiEmulator, SwitchConfig],
) -> None:
    emu, cfg = emulator
    emu.add_fault("latency", when="after", command="commit", seconds=1.0, count=1)
    with EapiSwitch(cfg, backoff=0.01) as sw:
        sw.facts()  # no commit: not delayed, not counted
        after = sw.apply(PLAN)
    settle(emu)
    applies = [r for r in emu.requests if "commit" in r["cmds"]]
    assert [committed(r) for r in applies] == [True, True]  # ran, then re-sent after the timeout
    assert applies[0].get("late") == 1.0 and "late" not in applies[1]
    assert after.interfaces["Ethernet8"].allowed == VlanSet([1, 3, 4, 5, 6, 7, 8, 9, 400])
    assert all(s["state"] == "completed" for s in emu.sessions().values())


def test_answers_lost_every_time_raise_transient_after_committing_each_time(
    emulator: tuple[EapiEmulator, SwitchConfig],
) -> None:
    emu, cfg = emulator
    emu.add_fault("latency", when="after", command="commit", seconds=0.8, count=None)
    with EapiSwitch(cfg, retries=2, backoff=0.01) as sw, pytest.raises(TransientSwitchError):
        sw.apply(PLAN)
    settle(emu)
    emu.clear_faults()
    applies = [r for r in emu.requests if "commit" in r["cmds"]]
    assert len(applies) == 3 and all(committed(r) for r in applies)
    facts = EapiSwitch(cfg).facts()  # what the caller reads next: applied as once
    assert facts.interfaces["Ethernet8"].allowed == VlanSet([1, 3, 4, 5, 6, 7, 8, 9, 400])
    assert facts.vlans[400] == "x"
    assert not [n for n, s in emu.sessions().items() if s["state"] == "pending"]
