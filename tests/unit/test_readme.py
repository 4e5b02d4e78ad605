"""README.md documents every configuration key and the two commands a newcomer needs."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from eos_vmtracer.config import CdpConfig, LogConfig, SessionConfig, SwitchConfig

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize(
    ("section", "cls"),
    [("switch", SwitchConfig), ("cdp", CdpConfig), ("log", LogConfig), ("session", SessionConfig)],
)
def test_every_key_is_documented(section: str, cls: type) -> None:
    for f in fields(cls):
        assert f"`{section}.{f.name}`" in README, f"{section}.{f.name} missing from README"


def test_two_commands() -> None:
    assert "make demo" in README and "make test" in README
