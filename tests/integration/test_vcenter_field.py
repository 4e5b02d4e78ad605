"""A VcenterSession against the lab vCenter: resync (unsynchronised until everything is
read again, the old session logged out), sync progress, and vCenter reachable only
through a VRF's network namespace while the session's own threads have no route to it."""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eos_vmtracer.config import Config, SwitchConfig
from eos_vmtracer.model import SessionState
from eos_vmtracer.oneshot import collect
from eos_vmtracer.progress import Progress
from eos_vmtracer.vcenter import VcenterSession
from eos_vmtracer.vcenter import vrf as vrf_mod
from lab.netns import Namespace, is_root, run, unique_name
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, expected_inventory, session_config, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vcsim_binary() -> Any:
    return ensure_built()


@pytest.fixture
def lab(vcsim_binary: Any) -> Iterator[VcsimLab]:
    with VcsimLab(scenarios.basic()) as lab:
        yield lab


def test_resync_is_unsynchronised_until_all_is_read_again(lab: VcsimLab) -> None:
    s = VcenterSession(session_config(lab), lambda: None, timing=FAST)
    s.start()
    try:
        expected = expected_inventory(lab.scenario, lab.control.state())
        wait_for(lambda: s.snapshot().hosts == expected.hosts and s.snapshot().synced, 10, "sync")
        progress = s.progress()
        assert progress.connected and progress.synced
        assert (progress.hosts, progress.vms) == (len(expected.hosts), len(expected.vms))
        assert progress.hints == len(expected.hosts)
        lab.control.reset_counters()

        s.resync()
        snap = s.snapshot()
        assert not snap.synced  # at once: nothing it caused may be removed from now on
        assert snap.hosts == expected.hosts  # the last view stays visible meanwhile
        wait_for(lambda: s.snapshot().synced, 10, "synchronised again")
        counters = lab.control.counters()
        assert counters.get("Login", 0) == 1, counters  # a new session ...
        assert counters.get("Logout", 0) == 1, counters  # ... and the old one logged out
        assert counters.get("QueryNetworkHint", 0) >= len(expected.hosts), counters
        assert s.snapshot().state == SessionState.CONNECTED and s.snapshot().error == ""
    finally:
        s.stop()


@pytest.fixture
def vrf_lab(vcsim_binary: Any, tmp_path: Path) -> Iterator[tuple[VcsimLab, Namespace, str]]:
    """vCenter on an address that only a "VRF" namespace routes to; an empty namespace for
    the session's threads; ``ns-LAB`` in a netns directory of the test's own."""
    if not is_root():
        pytest.skip("network namespaces need root")
    vrf_ns = Namespace("vrf").create()
    isolated = Namespace("agent").create()
    link = unique_name("vmtvr")
    octet = random.randrange(2, 250)
    ours, theirs = f"198.18.{octet}.1", f"198.18.{octet}.2"
    try:
        run(
            ["ip", "link", "add", link, "type", "veth", "peer", "name", "ma1", "netns", vrf_ns.name]
        )
        run(["ip", "addr", "add", f"{ours}/32", "peer", f"{theirs}/32", "dev", link])
        run(["ip", "link", "set", link, "up"])
        vrf_ns.run(["ip", "addr", "add", f"{theirs}/32", "peer", f"{ours}/32", "dev", "ma1"])
        vrf_ns.run(["ip", "link", "set", "ma1", "up"])
        (tmp_path / "ns-LAB").symlink_to(f"/run/netns/{vrf_ns.name}")
        with VcsimLab(scenarios.basic(), host=ours) as lab:
            yield lab, isolated, str(tmp_path)
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            run(["ip", "link", "del", link], check=False)
        isolated.close()
        vrf_ns.close()


def test_vcenter_is_reached_through_the_vrf_namespace_only(
    vrf_lab: tuple[VcsimLab, Namespace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, isolated, netns_dir = vrf_lab
    monkeypatch.setenv(vrf_mod.NETNS_DIR_ENV, netns_dir)
    expected = expected_inventory(lab.scenario, lab.control.state())

    # Threads started inside the isolated namespace stay there: no route to vCenter.
    blind = VcenterSession(session_config(lab, name="blind"), lambda: None, timing=FAST)
    with isolated.entered():
        blind.start()
    try:
        wait_for(lambda: "unreachable" in blind.snapshot().error, 10, "unreachable")
        assert not blind.snapshot().synced
    finally:
        blind.stop()

    # The same, with vrf = "LAB": only its sockets are made in ns-LAB; it synchronises.
    s = VcenterSession(session_config(lab, vrf="LAB"), lambda: None, timing=FAST)
    with isolated.entered():
        s.start()
    try:
        wait_for(lambda: s.snapshot().synced, 15, f"synced through the VRF ({s.snapshot().error})")
        assert s.snapshot().hosts == expected.hosts
        assert s.route == "VRF LAB, source chosen by the kernel"
        # The session's threads never left the isolated namespace (only the short-lived
        # dialing thread entered ns-LAB).
        inode = os.stat(f"/run/netns/{isolated.name}").st_ino
        for t in s._threads:
            assert os.stat(f"/proc/self/task/{t.native_id}/ns/net").st_ino == inode, t.name
    finally:
        s.stop()

    # A VRF that does not exist: one clear error, and the session keeps trying.
    missing = VcenterSession(session_config(lab, vrf="NOPE"), lambda: None, timing=FAST)
    missing.start()
    try:
        want = f"VRF NOPE does not exist (no network namespace {netns_dir}/ns-NOPE)"
        wait_for(lambda: missing.snapshot().error == want, 10, "the VRF error")
        assert missing.snapshot().state == SessionState.DISCONNECTED
    finally:
        missing.stop()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plan_and_check_show_their_progress_on_a_terminal(lab: VcsimLab) -> None:
    """``collect`` (what plan and check run) rewrites one progress line while it reads,
    and erases it when done; the counts are the lab's."""
    config = Config(switch=SwitchConfig(interfaces=("Ethernet1",)), sessions=(session_config(lab),))
    out = _Tty()
    found = collect(config, 20, want_switch=False, progress=Progress(out))
    assert not found.session_errors
    assert found.routes == {"vc1": "VRF default, source chosen by the kernel"}
    text = out.getvalue()
    lines = [part for part in text.split("\r\x1b[K") if part]
    expected = expected_inventory(lab.scenario, lab.control.state())
    assert lines[0].startswith("vCenter: 0/1 connected")
    assert any(
        f"1/1 synchronised: {len(expected.hosts)} hosts, {len(expected.vms)} VMs read" in line
        for line in lines
    ), lines
    assert text.endswith("\r\x1b[K")  # erased before the command prints its result
