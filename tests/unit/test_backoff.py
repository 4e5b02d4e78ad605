"""The one retry policy: capped exponential backoff, jittered into [ceiling/2, ceiling]."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eos_vmtracer.backoff import Backoff


def test_doubles_from_initial_up_to_the_cap() -> None:
    b = Backoff(initial=1.0, maximum=60.0)
    assert [b.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert b.ceiling(10_000) == 60.0  # no overflow however long it fails
    assert b.ceiling(-3) == 1.0


@given(
    initial=st.floats(0, 100),
    extra=st.floats(0, 1000),
    failures=st.integers(-5, 10_000),
    seed=st.integers(0, 2**32),
)
def test_delay_is_within_half_and_all_of_the_ceiling(
    initial: float, extra: float, failures: int, seed: int
) -> None:
    b = Backoff(initial=initial, maximum=initial + extra)
    top = b.ceiling(failures)
    delay = b.delay(failures, random.Random(seed))
    assert 0 <= top / 2 <= delay <= top <= b.maximum


def test_jitter_spreads_the_delays() -> None:
    rng = random.Random(1)
    delays = {round(Backoff(10.0, 10.0).delay(0, rng), 6) for _ in range(50)}
    assert len(delays) > 40 and min(delays) >= 5.0 and max(delays) <= 10.0


def test_zero_is_no_wait() -> None:
    assert Backoff(0.0, 0.0).delay(5) == 0.0


@pytest.mark.parametrize(("initial", "maximum"), [(-1.0, 5.0), (10.0, 5.0)])
def test_nonsense_is_refused(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="backoff wants"):
        Backoff(initial, maximum)
