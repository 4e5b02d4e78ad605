"""state_dir faults over the whole lab: full, read-only, and claimed by a second agent.

The ledger's intent is written before every change; when it cannot be written
(ENOSPC, EROFS) the agent applies nothing, says so loudly in its status and
``show sessions``, and applies the change once the ledger can be written again.
A second agent on the same state_dir refuses to start, in one line, and the lock
dies with its holder (SIGKILL included).

The faults are made for real: a tiny tmpfs mounted on state_dir (as root), filled
up or remounted read-only (the superblock, so the agent's own mount namespace sees
it too). The agent is started on it and the state is copied back afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.world import World
from tests.e2e.helpers import agent_changes, request_count, wait_vlan

pytestmark = pytest.mark.e2e

VM, PORT, VLAN = "app1", "Ethernet1", 111  # topology.STANDARD_VLANS: app1 is no one else's


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def state_dir_on_tmpfs(world: World, size: str = "1m") -> Iterator[Path]:
    """The agent restarted on a tmpfs at state_dir holding a copy of its files; on
    leaving, the agent stopped, its files copied back, the tmpfs gone (the world
    fixture starts the next agent)."""
    state = Path(world.state_dir)
    world.stop_agent()
    saved = Path(tempfile.mkdtemp(prefix="vmtracer-state-"))
    shutil.copytree(state, saved, dirs_exist_ok=True, symlinks=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(state))
    try:
        shutil.copytree(saved, state, dirs_exist_ok=True, symlinks=True)
        yield state
    finally:
        world.stop_agent()
        with contextlib.suppress(subprocess.CalledProcessError):
            _mount("-o", "remount,rw", str(state))
        with contextlib.suppress(FileNotFoundError):
            (state / "filler").unlink()
        shutil.copytree(state, saved, dirs_exist_ok=True, symlinks=True)
        subprocess.run(["umount", str(state)], check=True, timeout=10)
        shutil.copytree(saved, state, dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(saved)


def fill(path: Path) -> None:
    """Fill the file system holding ``path`` to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)


def ledger_vlans(state: Path) -> set[tuple[str, int]]:
    doc = json.loads((state / "ledger.json").read_text())
    return {(e["interface"], e["vlan"]) for e in doc["entries"]}


def _loud(world: World, problem: str) -> None:
    """The status and ``show sessions`` say that the ledger cannot be written."""
    ledger = world.status()["agent"]["ledger"]
    assert problem in ledger["error"] and "applying no change" in ledger["error"], ledger
    assert ledger["since"]
    shown = world.show("sessions")
    assert "LEDGER" in shown and problem in shown, shown


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_no_change_without_its_ledger_intent(world: World, fault: str) -> None:
    ctl = world.control("vc1")
    wait_vlan(world, PORT, VLAN, present=False, timeout=30)  # gone since an earlier run
    with state_dir_on_tmpfs(world) as state:
        world.start_agent(timeout=90)
        problem = "No space left on device" if fault == "full" else "Read-only file system"
        if fault == "full":
            fill(state / "filler")
        else:
            _mount("-o", "remount,ro", str(state))
        before = request_count(world)
        try:
            ctl.power(VM, on=True)
            world.wait_for(
                lambda: problem in world.status()["agent"]["ledger"]["error"],
                15,
                "the status says the ledger cannot be written",
            )
            _loud(world, problem)
            world.wait_for(
                lambda: world.status()["agent"]["last_reconcile"]["error"].startswith("state:"),
                15,
                "a reconcile failed on the ledger",
            )
            assert VLAN not in world.allowed(PORT)
            assert VLAN not in world.vlans()
            assert agent_changes(world, before) == []  # not one committed change
            assert (PORT, VLAN) not in ledger_vlans(state)

            # Room again: the change goes through, its intent on flash first.
            if fault == "full":
                (state / "filler").unlink()
            else:
                _mount("-o", "remount,rw", str(state))
            wait_vlan(world, PORT, VLAN, timeout=30)  # within the 10 s state backoff
            assert (PORT, VLAN) in ledger_vlans(state)
            world.wait_for(
                lambda: world.status()["agent"]["ledger"]["error"] == "",
                10,
                "the ledger error is cleared",
            )
            assert world.status()["agent"]["ledger"]["trusted"] is True
            assert "LEDGER" not in world.show("sessions")
        finally:
            ctl.power(VM, on=False)
    assert world.agent_exit_status() is None or world.agent_exit_status() == 0


def test_a_second_agent_on_the_same_state_dir_refuses_in_one_line(world: World) -> None:
    first = world.agent_pid
    assert first is not None
    before = world.status()["agent"]["updated"]
    history = Path(world.state_dir) / "history.jsonl"
    starts = history.read_text().count('"action": "start"')
    second = world.vmtracer("run", check=False, timeout=30)
    assert second.returncode == 1, (second.stdout, second.stderr)
    lines = second.stderr.strip().splitlines()
    assert lines == [
        f"vmtracer: another vmtracer agent (pid {first}) is running with state_dir"
        f" {world.state_dir}; refusing to start a second one"
    ], second.stderr
    # The first one did not notice: still running, still publishing as itself.
    assert world.agent_running() and world.status()["agent"]["pid"] == first
    world.wait_for(lambda: world.status()["agent"]["updated"] > before, 15, "a new heartbeat")
    assert history.read_text().count('"action": "start"') == starts  # it wrote nothing


def test_the_lock_dies_with_a_killed_agent(world: World) -> None:
    world.kill_agent()  # SIGKILL: no shutdown, no unlock
    world.start_agent(timeout=90)  # not refused
    assert world.status()["agent"]["pid"] == world.agent_pid
    lock = Path(world.state_dir) / "lock"
    assert lock.read_text().strip() == str(world.agent_pid)
    assert not lock.is_symlink() and os.stat(lock).st_nlink == 1
