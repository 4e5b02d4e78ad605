"""The end-to-end suite's lab: one world shared by the tests, made whole before each.

The world (lab/world) is built once for this package (and stopped when its
last test is done, so it does not run beside other suites) from
``topology.standard()``: two lab vCenters, the eAPI emulator, ESXi hosts as
network namespaces running lldpd, cabled by veths to a switch namespace where
``vmtracer run`` sends CDP. Each test uses its own VMs and VLANs (see
``topology.STANDARD_VLANS``), so sharing the world does not couple the tests;
before each test the world is made whole again (agent running and ready,
vCenters up, no stalls), and a failing test prints the world's state and the
agent's log.

Needs root (skipped otherwise). A missing tool (lldpd, ip) is a failure.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

from lab.netns import is_root
from lab.world import World, topology


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="package")
def lab_world() -> Iterator[World]:
    if not is_root():
        pytest.skip("the lab world needs root (network namespaces, raw sockets)")
    with World(topology.standard()) as world:
        world.start_agent(timeout=90)
        yield world


@pytest.fixture
def world(lab_world: World, request: pytest.FixtureRequest) -> Iterator[World]:
    """The shared world, whole: every vCenter up (no stalls), the agent running and ready."""
    w = lab_world
    _agent_alive(w, "before this test")
    for name, lab in w.vcenters.items():
        if not lab.running():
            w.restart_vcenter(name)
    if not w.agent_running():
        w.start_agent(timeout=90)
    w.wait_ready(60)
    yield w
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print("\n==== lab world at failure ====\n" + w.describe())
    _agent_alive(w, "during this test")


def _agent_alive(world: World, when: str) -> None:
    """Fail when the agent ended by itself (a crash must not be hidden by a restart)."""
    code = world.agent_exit_status()
    if code is not None:
        log = world.agent_log(1)[-4000:]
        world.stop_agent()  # forget it: the next test starts a fresh one
        pytest.fail(f"the agent exited by itself ({when}), status {code}:\n{log}")
