"""SIGTERM under the EOS SDK: our handlers win over the SDK's own, and the agent stops cleanly.

The EOS SDK installs a SIGTERM/SIGINT handler of its own that leaves the event
loop at once (``eos::default_signal_handler`` in EosSdk's ``eos/sdk.h``), possibly
when ``main_loop`` starts. The stand-in SDK here does exactly that, so a handler
installed before the loop would be replaced: the loop would end with the agent
thread still running. The real agent runs under it, as in test_extension_eossdk.py.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Optional

import pytest

from eos_vmtracer.eos import sdk as eos_sdk

from .test_extension_eossdk import PASSWORD_ENV, FakeEosSdk, toml_file
from .test_extension_eossdk import _root_logger as _root_logger  # autouse here too
from .test_extension_world import World


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-a-real-password")


class SdkWithItsOwnHandler(FakeEosSdk):
    """Like the real SDK: ``main_loop`` installs a handler that leaves the loop at once."""

    def __init__(self, options: dict[str, str], steps: list[Any]) -> None:
        super().__init__(options, steps)
        self.sdk_handled: list[int] = []

    def _default_signal_handler(self, signum: int, _frame: Optional[FrameType]) -> None:
        self.sdk_handled.append(signum)
        self.exiting = True

    def loop(self) -> None:
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._default_signal_handler)
        super().loop()


def test_sigterm_stops_the_agent_cleanly_although_the_sdk_loop_installs_its_own_handler(
    tmp_path: Path,
) -> None:
    world = World()
    path = toml_file(tmp_path)

    def synced(sdk: FakeEosSdk) -> bool:
        if "connected, synced" not in sdk.status.get("session.vc1", ""):
            return False
        os.kill(os.getpid(), signal.SIGTERM)
        return True

    sdk = SdkWithItsOwnHandler({"config": str(path), "log.level": "warning"}, [synced])
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = eos_sdk.run(None, sdk_module=sdk, make_agent=world.make_agent, argv=["x"])
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)

    assert sdk.sdk_handled == []  # ours handled it, not the SDK's abrupt exit
    assert code == 0 and sdk.exiting and not sdk.steps
    states = [v for k, v in sdk.status_log if k == "state"]
    assert states[-2:] == ["stopping", "stopped"]
    assert "session.vc1" not in sdk.status
    assert not [t for t in threading.enumerate() if t.name == "vmtracer-agent"]


def test_handlers_are_installed_only_once_the_loop_runs(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def first(sdk: FakeEosSdk) -> bool:
        if sdk.status.get("state") != "running":
            return False
        seen["in_loop"] = signal.getsignal(signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # and stop the agent the graceful way
        return True

    sdk = FakeEosSdk({"config": str(toml_file(tmp_path))}, [first])
    before = signal.getsignal(signal.SIGTERM)
    outside: list[Any] = []
    real_loop = sdk.loop

    def loop() -> None:
        outside.append(signal.getsignal(signal.SIGTERM))  # main_loop started, not initialized
        real_loop()

    sdk.loop = loop  # type: ignore[method-assign]
    assert eos_sdk.run(None, sdk_module=sdk, make_agent=World().make_agent, argv=["x"]) == 0
    assert not [t for t in threading.enumerate() if t.name == "vmtracer-agent"]
    assert outside == [before]
    assert seen["in_loop"] != before
    assert signal.getsignal(signal.SIGTERM) == before  # put back after the loop
