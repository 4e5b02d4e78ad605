"""One time format for people: local ``YYYY-MM-DD HH:MM:SS``, ``-`` for none."""

from __future__ import annotations

import time

import pytest

from eos_vmtracer import render
from eos_vmtracer.timefmt import wall_clock


def test_local_time_in_one_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert wall_clock(1_800_000_000.7) == "2027-01-15 08:00:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("missing", [None, 0, 0.0])
def test_no_time_is_a_dash(missing: object) -> None:
    assert wall_clock(missing) == "-"  # type: ignore[arg-type]


def test_the_tables_use_it() -> None:
    assert render.clock is wall_clock
