"""eAPI faults over the whole lab: a command failing inside the configuration session,
and an answer lost after ``commit`` (the commit happened, the agent timed out).

Whatever the fault, the switch (the eAPI emulator's state and request log) never
holds half a change, the ledger on flash ends saying exactly what the agent added,
the status tells the truth, and the change is completed once the fault is gone.
Each test adds its own VM (``ft1`` on esx2 -> Ethernet2, VLAN 111: unused on
Ethernet2 by the other tests, see ``topology.STANDARD_VLANS``) and removes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lab.world import World
from tests.e2e.helpers import agent_changes, request_count, status_vlans, wait_vlan

pytestmark = pytest.mark.e2e

PORT, VLAN, PORTGROUP = "Ethernet2", 111, "VM-111"
ADD = f"switchport trunk allowed vlan add {VLAN}"
DELAY = 5.0  # topology.standard()'s remove_delay


def ledger(world: World) -> dict[str, Any]:
    """The agent's ledger as it is on flash (read as plain JSON, not with the agent's code)."""
    doc: dict[str, Any] = json.loads((world.state_dir / "ledger.json").read_text())
    return doc


def owned(world: World) -> set[tuple[str, int]]:
    return {(e["interface"], int(e["vlan"])) for e in ledger(world)["entries"]}


def created(world: World) -> set[int]:
    return {int(v) for v in ledger(world)["created_vlans"]}


def pending_sessions(world: World) -> list[str]:
    assert world.eapi is not None
    return [n for n, s in world.eapi.sessions().items() if s["state"] == "pending"]


def switch_status(world: World) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = world.status()["switch"]
    except Exception:  # between two status documents: not yet
        return {}
    return doc


@pytest.fixture
def ft1(world: World) -> Iterator[World]:
    """World with VLAN 111 absent (not carried by Ethernet2, not existing); cleans up."""
    assert world.eapi is not None
    world.eapi.clear_faults()
    world.wait_for(
        lambda: VLAN not in world.allowed(PORT) and VLAN not in world.vlans(),
        DELAY + 10,
        f"VLAN {VLAN} gone from an earlier test",
    )
    try:
        yield world
    finally:
        world.eapi.clear_faults()
        world.control("vc1").remove_vm("ft1")
        wait_vlan(world, PORT, VLAN, present=False, timeout=DELAY + 10)


def add_ft1(world: World) -> None:
    world.control("vc1").add_vm("ft1", "esx2", [{"portgroup": PORTGROUP}])


@pytest.mark.parametrize("kind", ["transient", "permanent"])
def test_a_command_failing_inside_the_session_leaves_nothing_half_applied(
    ft1: World, kind: str
) -> None:
    world = ft1
    assert world.eapi is not None
    before_allowed = world.allowed(PORT)
    before = request_count(world)
    if kind == "transient":  # every attempt fails (each reconcile retries 3 times) until cleared
        world.eapi.fault(
            "fail", command=ADD, message="Resource temporarily unavailable", count=None
        )
    else:  # EOS refuses the command: no retry, a long backoff, then the next reconcile
        world.eapi.fault("fail", command=ADD, code=1002, message="Invalid input", count=1)

    add_ft1(world)
    world.wait_for(
        lambda: any(r["result"] == "error" for r in world.requests() if r["n"] > before),
        10,
        "the apply failed",
    )
    world.wait_for(
        lambda: ADD in switch_status(world).get("error", ""), 20, "the status names the fault"
    )
    failed = [r for r in world.requests() if r["n"] > before and r["result"] == "error"]
    first = failed[0]
    # The failing command was k of n: the VLAN was created earlier in the same session...
    assert first["cmds"].index(f"vlan {VLAN}") < first["failed"] < first["cmds"].index("commit")
    # ...yet nothing of the change reached the switch, and no session is left pending.
    assert VLAN not in world.vlans()
    assert world.allowed(PORT) == before_allowed
    assert pending_sessions(world) == []
    status = switch_status(world)
    assert status["reachable"] is False
    if kind == "permanent":
        # Rejected and aborted: the agent forgot its intent (nothing of it is on the switch).
        assert (PORT, VLAN) not in owned(world) and VLAN not in created(world)
        assert "Invalid input" in status["error"]
        timeout = 60 * 1.2 + 10  # the backoff after a permanent error
    else:
        # The outcome of a transient failure is unknown to the agent: it keeps the
        # intent (what it may own if it is there) and re-reads the switch.
        assert "Resource temporarily unavailable" in status["error"]
        world.eapi.clear_faults()
        timeout = 40  # the transient backoff doubles while the fault lasts
    # The next reconcile completes the change.
    wait_vlan(world, PORT, VLAN, timeout=timeout)
    world.wait_for(lambda: switch_status(world).get("reachable") is True, 10, "eAPI ok again")
    assert world.vlans()[VLAN] == PORTGROUP
    assert world.allowed(PORT) == before_allowed | {VLAN}
    assert (PORT, VLAN) in owned(world) and VLAN in created(world)
    world.wait_for(lambda: VLAN in status_vlans(world, PORT, "dynamic"), 5, "status: dynamic")
    assert pending_sessions(world) == []
    commits = [c for c in agent_changes(world, before) if c.op == "add" and VLAN in c.vlans]
    assert len(commits) == 1, commits  # committed once, after the fault


def test_an_answer_lost_after_commit_is_not_applied_twice_wrongly(ft1: World) -> None:
    world = ft1
    assert world.eapi is not None
    before_allowed = world.allowed(PORT)
    before = request_count(world)
    began = time.time()
    # Every request that commits runs, then answers after the agent's eapi_timeout
    # (5 s in the lab): the agent never learns that its commit happened.
    world.eapi.fault("latency", when="after", command="commit", seconds=6.5, count=None)
    add_ft1(world)
    lost = world.agent_log().count("no answer from eAPI")
    wait_vlan(world, PORT, VLAN, timeout=10)  # the first commit took effect
    world.wait_for(
        lambda: (
            world.agent_log().count("APPLY_FAILED") > 0
            and world.agent_log().count("no answer from eAPI") >= lost + 4
        ),
        40,
        "the agent gave up on the lost answers (4 attempts)",
    )
    # It re-reads the switch (no commit, so no delay) and finds the change there.
    world.wait_for(lambda: switch_status(world).get("reachable") is True, 15, "eAPI ok again")
    world.wait_for(lambda: VLAN in status_vlans(world, PORT, "dynamic"), 5, "status: dynamic")
    applies = [r for r in world.requests() if r["n"] > before and "commit" in r["cmds"]]
    assert len(applies) == 4, [r["result"] for r in applies]  # tried, retried 3 times
    time.sleep(1.0)  # a reconcile or two after the re-read
    # Nothing more was sent to the switch: the re-read showed the change complete.
    again = [r for r in world.requests() if r["n"] > before and "commit" in r["cmds"]]
    assert len(again) == 4
    # Applied four times, exactly as once: the lines are idempotent.
    assert world.allowed(PORT) == before_allowed | {VLAN}
    assert world.vlans()[VLAN] == PORTGROUP
    assert pending_sessions(world) == []
    # The ledger says the agent added it (it may remove it later), and created the VLAN.
    assert (PORT, VLAN) in owned(world) and VLAN in created(world)
    assert switch_status(world)["error"] == ""
    # The history says so too (its errors, then the add the re-read showed), once.
    events = [e for e in world.show_json("history") if e["at"] >= began]
    adds = [e for e in events if e["action"] == "add" and e["interface"] == PORT]
    assert [e["vlans"] for e in adds if str(VLAN) in e["vlans"]] == [str(VLAN)], events
    assert [e["action"] for e in events].count("create-vlan") >= 1
    world.eapi.clear_faults()
    # Owned for real: when the VM goes, the agent takes VLAN 111 off again.
    world.control("vc1").power("ft1", on=False)
    wait_vlan(world, PORT, VLAN, present=False, timeout=DELAY + 8)
    assert world.allowed(PORT) == before_allowed
