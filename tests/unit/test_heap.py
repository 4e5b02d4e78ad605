"""The agent's heap settings: glibc takes them, anything else is left alone, and
``vmtracer run`` sets them before the agent starts a thread."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eos_vmtracer import cli, heap


def test_glibc_takes_the_arena_limit() -> None:
    assert heap.limit_arenas() is True


def test_an_arena_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        heap.limit_arenas(0)


def test_another_c_library_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    class Musl:  # a C library without glibc's calls
        def __getattr__(self, name: str) -> Any:
            raise AttributeError(name)

    monkeypatch.setattr(ctypes, "CDLL", lambda _name: Musl())
    assert heap.limit_arenas() is False


def test_no_c_library_at_all_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libc(_name: Any) -> Any:
        raise OSError("no C library")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert heap.limit_arenas() is False


def test_run_sets_the_limit_before_the_agent_starts_a_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[str] = []

    def limit(arenas: int = heap.ARENAS) -> bool:
        seen.append("limit")
        return True

    class Stop(Exception):
        pass

    def load(_path: Any) -> Any:
        seen.append("config")  # the agent is made after its configuration
        raise Stop

    monkeypatch.setattr(heap, "limit_arenas", limit)
    monkeypatch.setattr(cli, "load_config", load)
    result = CliRunner().invoke(cli.cli, ["run", "--config", str(tmp_path / "x.toml")])
    assert isinstance(result.exception, Stop)
    assert seen == ["limit", "config"]
