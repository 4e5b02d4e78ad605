"""The session's watchdog cuts a connection whose call outlived its deadline once: a
call busy parsing (or on a socket the cut does not reach) does not return at once, and
the cut must not be repeated, and logged, on every tick until it does."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from eos_vmtracer.config import SessionConfig
from eos_vmtracer.vcenter import VcenterSession


class SlowToDie:
    """A connection whose WaitForUpdatesEx is overdue and stays so after the cut."""

    def __init__(self) -> None:
        self.aborted = ""
        self.cuts: list[str] = []

    def overdue(self) -> str:
        return "WaitForUpdatesEx"

    def abort(self, reason: str, kind: Any = None) -> None:
        self.cuts.append(reason)
        self.aborted = self.aborted or reason


def test_an_overdue_call_is_cut_once(caplog: pytest.LogCaptureFixture) -> None:
    s = VcenterSession(SessionConfig(name="vc1", url="https://vc/sdk"), lambda: None)
    conn = SlowToDie()
    s._conn = conn  # type: ignore[assignment]  # the helper's one input here
    with caplog.at_level(logging.WARNING):
        for _ in range(8):  # two seconds of ticks
            s._helper_round()
    assert len(conn.cuts) == 1
    assert sum("cutting the connection" in r.getMessage() for r in caplog.records) == 1
