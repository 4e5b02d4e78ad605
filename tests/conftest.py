"""Test-wide settings: hypothesis's default example count follows ``tests.examples``."""

from __future__ import annotations

from hypothesis import settings

from tests.examples import examples

settings.register_profile("vmtracer", max_examples=examples(100))
settings.load_profile("vmtracer")
