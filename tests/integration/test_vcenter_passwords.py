"""A vCenter password that cannot be used, against the lab vCenter: auth-failed, slowly
retried, and not one byte of it in the session's error, the status or ``show sessions``."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Iterator

import pytest

from eos_vmtracer import render
from eos_vmtracer import status as status_mod
from eos_vmtracer.config import Config, SwitchConfig
from eos_vmtracer.model import Inventory, SessionState
from eos_vmtracer.vcenter import SessionTiming, VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, session_config, wait_for

pytestmark = pytest.mark.integration

Factory = Callable[..., VcenterSession]
BAD = b"Zq9\xff\xfeKw7"  # not UTF-8


@pytest.fixture(scope="module")
def lab() -> Iterator[VcsimLab]:
    ensure_built()
    with VcsimLab(scenarios.basic()) as lab:
        yield lab


@pytest.fixture
def session(lab: VcsimLab) -> Iterator[Factory]:
    made: list[VcenterSession] = []

    def make(timing: SessionTiming = FAST, **overrides: Any) -> VcenterSession:
        s = VcenterSession(session_config(lab, **overrides), lambda: None, timing=timing)
        made.append(s)
        s.start()
        return s

    yield make
    for s in made:
        s.stop()


def _shows_nothing_of_it(text: str) -> None:
    assert "Zq9" not in text and "Kw7" not in text
    assert "position" not in text and "\\x" not in text and "0xff" not in text
    assert "\udcff" not in text and "\ufffd" not in text and "\xff" not in text


def _published(lab: VcsimLab, s: VcenterSession) -> tuple[str, str]:
    """The session as ``status.json`` and ``show sessions`` would carry it."""
    snap = s.snapshot()
    config = Config(switch=SwitchConfig(interfaces=("Ethernet1",)), sessions=(session_config(lab),))
    agent = status_mod.AgentFacts(
        pid=os.getpid(),
        started=0.0,
        config="test",
        last_reconcile={},
        counters={},
        switch={"reachable": True, "error": ""},
        cdp={"enabled": False, "ports": {}},
    )
    doc = status_mod.build(config, Inventory((snap,)), None, None, agent, time.time())
    return json.dumps(doc), render.sessions_table(doc, time.time())


@pytest.mark.parametrize("source", ["password_env", "password_file"])
def test_a_non_utf8_password_is_auth_failed_retried_slowly_and_never_shown(
    lab: VcsimLab,
    session: Factory,
    source: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    if source == "password_env":
        monkeypatch.setitem(os.environb, b"VMT_VC_PW", BAD)  # type: ignore[attr-defined]
        s = session(password_file="", password_env="VMT_VC_PW")
    else:
        path = tmp_path / "pw"
        path.write_bytes(BAD)
        path.chmod(0o600)
        s = session(password_file=str(path))
    before = lab.control.counters().get("Login", 0)
    wait_for(lambda: s.snapshot().state == SessionState.AUTH_FAILED, 5, "auth-failed")
    time.sleep(2.0)  # FAST's retry_slow is longer: no second attempt, no busy loop
    snap = s.snapshot()
    assert snap.state == SessionState.AUTH_FAILED and not snap.synced
    assert "cannot use the password" in snap.error and "not UTF-8" in snap.error
    assert lab.control.counters().get("Login", 0) == before  # it never left the switch
    assert caplog.text.count("cannot use the password") == 1
    for text in (snap.error, caplog.text, *_published(lab, s)):
        _shows_nothing_of_it(text)


def test_a_utf8_password_that_is_not_ascii_is_sent_and_refused_as_a_login(
    lab: VcsimLab, session: Factory
) -> None:
    """Valid UTF-8 beyond ASCII is a password like any other: vCenter says no, not us."""
    s = session(password_file=str(lab.password_file("p\u00e4ssw\u00f6rd-\u20ac")))
    wait_for(lambda: s.snapshot().state == SessionState.AUTH_FAILED, 5, "auth-failed")
    assert "refused the login" in s.snapshot().error
