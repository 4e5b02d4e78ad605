"""The lab of a fabric built the usual way: vCenter only on the management VRF, blades
never heard (``topology.mgmt_vrf_lab()``), shared by the tests of this package.

The world's management port (ma1, Management1) is in its own network namespace,
named ``ns-MGMT`` for the agent (``VMTRACER_NETNS_DIR``), the only one with a route to
the lab vCenter; the agent runs in the switch's namespace, which has none. Before
each test the session's configuration is what the topology says, the agent runs and
is ready. Needs root (skipped otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.netns import is_root
from lab.world import World, topology


@pytest.fixture(scope="package")
def vrf_lab() -> Iterator[World]:
    if not is_root():
        pytest.skip("the lab world needs root (network namespaces, raw sockets)")
    with World(topology.mgmt_vrf_lab()) as world:
        world.start_agent(timeout=90)
        yield world


@pytest.fixture
def world(vrf_lab: World, request: pytest.FixtureRequest) -> Iterator[World]:
    """The shared world, whole: configuration as the topology says, agent running and ready."""
    w = vrf_lab
    code = w.agent_exit_status()
    if code is not None:
        log = w.agent_log(1)[-4000:]
        w.stop_agent()
        pytest.fail(f"the agent exited by itself (before this test), status {code}:\n{log}")
    if w.session_options.get("vc1"):
        w.stop_agent()
        w.configure_session("vc1", vrf=None, source_interface=None)
    if not w.agent_running():
        w.start_agent(timeout=90)
    w.wait_ready(60)
    yield w
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print("\n==== lab world at failure ====\n" + w.describe())
