"""A VcenterSession when things go wrong with the lab vCenter: killed and restarted,
wrong password, wrong certificate, a lost session, a hung long poll, a stop while
vCenter is gone."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator

import pytest

from eos_vmtracer.model import SessionState
from eos_vmtracer.vcenter import SessionTiming, VcenterSession
from lab.vcsim import VcsimLab, ensure_built, scenarios
from lab.vcsim.testing import FAST, expected_inventory, session_config, wait_for

pytestmark = pytest.mark.integration

Factory = Callable[..., VcenterSession]


@pytest.fixture(scope="session")
def vcsim_binary() -> Any:
    return ensure_built()


@pytest.fixture
def lab(vcsim_binary: Any) -> Iterator[VcsimLab]:
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


def synced(s: VcenterSession) -> bool:
    return s.snapshot().synced


def test_killed_and_restarted_vcenter_reconnect_and_full_resync(
    lab: VcsimLab, session: Factory
) -> None:
    s = session()
    wait_for(lambda: synced(s), 5, "first sync")
    web1 = lab.control.state()["vms"]["web1"]["moid"]
    lab.control.power("web1", on=False)
    wait_for(lambda: not s.snapshot().vms[web1].powered_on, 1, "web1 off")

    lab.kill()
    wait_for(lambda: s.snapshot().state == SessionState.DISCONNECTED, 5, "disconnected")
    down = s.snapshot()
    assert not down.synced and down.error
    assert web1 in down.vms and len(down.hosts) == 3  # fail-static: the last picture stays
    time.sleep(1.0)  # a few failed attempts while vCenter is away

    lab.restart()  # vCenter back, as the scenario describes it: web1 powered on
    expected = expected_inventory(lab.scenario, lab.control.state())
    wait_for(lambda: synced(s), 5, "resynchronised")
    snap = s.snapshot()
    assert snap.state == SessionState.CONNECTED and snap.error == ""
    assert snap.since >= down.since
    assert snap.vms[web1].powered_on  # a full resync, not the stale picture
    assert dict(snap.vms) == dict(expected.vms)
    assert dict(snap.dv_portgroups) == dict(expected.dv_portgroups)
    wait_for(lambda: s.snapshot().hosts == expected.hosts, 2, "hosts and neighbours again")


def test_wrong_password_is_auth_failed_without_a_busy_loop(
    lab: VcsimLab, session: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Password-42"
    s = session(password_file=str(lab.password_file(wrong)))
    wait_for(lambda: s.snapshot().state == SessionState.AUTH_FAILED, 5, "auth-failed")
    time.sleep(2.0)
    snap = s.snapshot()
    assert snap.state == SessionState.AUTH_FAILED and not snap.synced
    assert "refused the login" in snap.error
    assert snap.hosts == {} and snap.vms == {}
    assert lab.control.counters().get("Login") == 1  # retry_slow: no second attempt yet
    assert wrong not in caplog.text and wrong not in snap.error
    assert lab.password not in caplog.text


def test_auth_failed_retries_slowly_and_recovers_when_the_password_is_fixed(
    lab: VcsimLab, session: Factory
) -> None:
    timing = SessionTiming(wait_seconds=2, grace=2, backoff_initial=0.1, retry_slow=0.5, tick=0.05)
    path = lab.password_file("wrong")
    s = session(timing=timing, password_file=str(path))
    wait_for(lambda: s.snapshot().state == SessionState.AUTH_FAILED, 5, "auth-failed")
    time.sleep(2.0)
    logins = lab.control.counters().get("Login", 0)
    assert 3 <= logins <= 7, logins  # about one try per retry_slow, never a busy loop
    path.write_text(lab.password)
    wait_for(lambda: synced(s), 2, "connected once the password file is right")


def test_wrong_thumbprint_is_tls_error_and_nothing_is_read(lab: VcsimLab, session: Factory) -> None:
    s = session(thumbprint="AB" * 32)
    wait_for(lambda: s.snapshot().state == SessionState.TLS_ERROR, 5, "tls-error")
    time.sleep(0.5)
    snap = s.snapshot()
    assert "thumbprint" in snap.error and lab.thumbprint in snap.error
    assert snap.hosts == {} and snap.vms == {} and not snap.synced
    assert lab.control.counters() == {}  # not one HTTP request reached vCenter


def test_ca_file_verifies_and_an_untrusted_certificate_is_tls_error(
    lab: VcsimLab, session: Factory
) -> None:
    trusted = session(thumbprint="", ca_file=str(lab.cert_file))
    wait_for(lambda: synced(trusted), 5, "connected with the CA file")
    lab.control.reset_counters()
    untrusted = session(name="vc2", thumbprint="")  # the system CAs do not know the lab
    wait_for(lambda: untrusted.snapshot().state == SessionState.TLS_ERROR, 5, "tls-error")
    assert "not trusted" in untrusted.snapshot().error
    assert "Login" not in lab.control.counters()


def test_tls_verify_off_connects_and_warns(
    lab: VcsimLab, session: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="eos_vmtracer")
    s = session(thumbprint="", tls_verify=False)
    wait_for(lambda: synced(s), 5, "connected without verification")
    assert any("TLS verification is OFF" in r.getMessage() for r in caplog.records)


def test_lost_session_logs_in_again_at_once(lab: VcsimLab, session: Factory) -> None:
    s = session()
    wait_for(lambda: synced(s), 5, "first sync")
    lab.control.reset_counters()
    assert lab.control.terminate_sessions() == 1
    # The next long poll (at most wait_seconds away) meets NotAuthenticated.
    wait_for(lambda: lab.control.counters().get("Login") == 1, 4, "a new login")
    wait_for(lambda: synced(s), 2, "resynchronised")
    assert lab.control.counters().get("Login") == 1
    lab.control.power("web1", on=False)
    web1 = lab.control.state()["vms"]["web1"]["moid"]
    wait_for(lambda: not s.snapshot().vms[web1].powered_on, 1, "changes flow again")


def test_watchdog_cuts_a_hung_long_poll_and_the_session_recovers(
    lab: VcsimLab, session: Factory
) -> None:
    timing = SessionTiming(
        wait_seconds=1, grace=1.0, backoff_initial=0.1, backoff_max=0.3, tick=0.05
    )
    s = session(timing=timing)
    wait_for(lambda: synced(s), 5, "first sync")
    lab.control.stall("WaitForUpdatesEx")
    wait_for(lambda: s.snapshot().state == SessionState.DISCONNECTED, 5, "the hang noticed")
    assert "watchdog" in s.snapshot().error
    assert s.snapshot().vms  # the last picture stays
    lab.control.stall("WaitForUpdatesEx", on=False)
    wait_for(lambda: synced(s), 5, "recovered")


def test_stop_returns_in_time_when_vcenter_is_gone(lab: VcsimLab, session: Factory) -> None:
    s = session()
    wait_for(lambda: synced(s), 5, "first sync")
    lab.kill()
    began = time.monotonic()
    s.stop(timeout=2.0)
    assert time.monotonic() - began < 3.0
    assert s.snapshot().state == SessionState.DISCONNECTED


def test_stop_returns_in_time_when_vcenter_hangs(lab: VcsimLab, session: Factory) -> None:
    s = session()
    wait_for(lambda: synced(s), 5, "first sync")
    for method in ("WaitForUpdatesEx", "DestroyPropertyFilter", "Logout"):
        lab.control.stall(method)
    began = time.monotonic()
    s.stop(timeout=2.0)
    assert time.monotonic() - began < 3.0
    for method in ("WaitForUpdatesEx", "DestroyPropertyFilter", "Logout"):
        lab.control.stall(method, on=False)
