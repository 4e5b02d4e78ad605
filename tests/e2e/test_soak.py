"""A short soak (``make soak`` in small): two lab vCenters, 200 VMs churning for 20 s.

The agent (``vmtracer run``) follows power changes, vNIC edits and migrations on
two vCenters at once; afterwards the switch must be exactly what the soak's own
oracle computes from the scenario and the churn, nothing may be missing, every
change in the history must have a reason, and no operator's VLAN may have been
touched. The full run (8 vCenters, 10,000 VMs, 10 minutes, and the RSS check) is
``make soak``; see bench/soak.py.
"""

from __future__ import annotations

import json

import pytest

from bench import soak

pytestmark = pytest.mark.e2e


def test_a_short_soak_ends_exactly_as_the_oracle_says() -> None:
    p = soak.Params(
        sessions=2,
        vms=200,
        hosts=3,
        on_fraction=0.1,
        duration=20.0,
        rate=10.0,
        remove_delay=5.0,
        check_interval=10.0,
    )
    result = soak.run(p, progress=lambda _msg: None)
    failed = [t for t in result["targets"] if t["result"] != "pass"]
    assert not failed, json.dumps({"failed": failed, **result}, indent=1, default=str)[:6000]
    assert result["churn"]["operations"] >= 100  # it did churn
    kinds = result["churn"]["by_kind"]
    assert {"power on", "power off", "vnic move", "migration"} <= set(kinds), kinds
    assert result["history"]["events"].get("remove", 0) > 0  # removals were exercised
    assert result["oracle"]["differences"] == {}
