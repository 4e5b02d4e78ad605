"""eAPI over HTTPS verifies its peer before it sends anything (the password least of all).

Against the eAPI emulator serving TLS with a lab certificate: the right CA file is
accepted, another CA is refused, the system CAs (the default) refuse a self-signed
certificate, a right pin is accepted and a wrong one refused, and an explicit
``eapi_tls_verify = false`` works with a loud warning. The emulator records every
HTTP request it receives and whether it carried credentials: a refused peer never
received one.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.switch import EapiSwitch, PermanentSwitchError
from eos_vmtracer.tls import thumbprint_of
from lab.eapi import EapiEmulator
from lab.eapi.tls import self_signed
from tests.integration.test_switch_eapi import PASSWORD, USER, initial_state

pytestmark = pytest.mark.integration


@dataclass
class TlsLab:
    emulator: EapiEmulator
    cfg: SwitchConfig  # https to the emulator, no verification key set (the default)
    cert: str  # the emulator's certificate (its own CA: self-signed)
    other: str  # another self-signed certificate: the wrong CA
    pin: str  # the emulator certificate's SHA-256 thumbprint

    def switch(self, **changes: object) -> EapiSwitch:
        return EapiSwitch(replace(self.cfg, **changes), retries=0)  # type: ignore[arg-type]


@pytest.fixture()
def tls_lab() -> Iterator[TlsLab]:
    directory = tempfile.mkdtemp(prefix="eapi-tls-")
    emulator = EapiEmulator(initial_state(), users={USER: PASSWORD})
    try:
        try:
            cert, key = self_signed(os.path.join(directory))
            os.mkdir(os.path.join(directory, "other"))
            other, _ = self_signed(os.path.join(directory, "other"))
        except FileNotFoundError as e:
            pytest.skip(str(e))
        ends = emulator.start(http_port=0, tls=(cert, key))
        secret = os.path.join(directory, "eapi.password")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORD + "\n")
        cfg = SwitchConfig(
            eapi_transport="https",
            eapi_host="127.0.0.1",
            eapi_port=ends.http_port or 0,
            eapi_username=USER,
            eapi_password_file=secret,
            eapi_timeout=5,
        )
        with open(cert) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        yield TlsLab(emulator, cfg, cert, other, thumbprint_of(der))
    finally:
        emulator.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_the_right_ca_is_accepted_and_the_password_sent(tls_lab: TlsLab) -> None:
    with tls_lab.switch(eapi_ca_file=tls_lab.cert) as sw:
        assert sw.facts().hostname == "leaf7"
    seen = tls_lab.emulator.http_requests
    assert seen and all(r["authorization"] for r in seen)


@pytest.mark.parametrize("which", ["wrong CA file", "system CAs (the default)"])
def test_an_unverified_certificate_is_refused_and_no_password_is_sent(
    tls_lab: TlsLab, which: str
) -> None:
    ca = tls_lab.other if which == "wrong CA file" else ""
    with tls_lab.switch(eapi_ca_file=ca) as sw, pytest.raises(PermanentSwitchError) as info:
        sw.facts()
    assert "TLS to eAPI at https://127.0.0.1" in str(info.value)
    assert "certificate not trusted: self-signed certificate" in str(info.value)
    assert tls_lab.emulator.http_requests == []  # no request, no credentials
    assert tls_lab.emulator.request_count == 0


def test_the_right_pin_is_accepted(tls_lab: TlsLab) -> None:
    with tls_lab.switch(eapi_thumbprint=tls_lab.pin) as sw:
        assert sw.facts().hostname == "leaf7"
    assert all(r["authorization"] for r in tls_lab.emulator.http_requests)


def test_a_wrong_pin_is_refused_and_no_password_is_sent(tls_lab: TlsLab) -> None:
    wrong = "0" * 64
    with tls_lab.switch(eapi_thumbprint=wrong) as sw, pytest.raises(PermanentSwitchError) as info:
        sw.facts()
    assert f"thumbprint {tls_lab.pin}, not the pinned {wrong}" in str(info.value)
    assert tls_lab.emulator.http_requests == []


def test_verification_off_works_and_says_so_loudly(
    tls_lab: TlsLab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with tls_lab.switch(eapi_tls_verify=False) as sw:
        assert sw.facts().hostname == "leaf7"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "TLS verification is OFF for eAPI" in r.getMessage()
        and "eapi_tls_verify = false" in r.getMessage()
        for r in warnings
    )


def test_verified_connections_give_no_such_warning(
    tls_lab: TlsLab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with tls_lab.switch(eapi_ca_file=tls_lab.cert) as sw:
        sw.facts()
    assert not [r for r in caplog.records if "TLS" in r.getMessage()]


def test_an_unusable_ca_file_is_a_clean_error(tls_lab: TlsLab) -> None:
    with pytest.raises(PermanentSwitchError, match=r"cannot use switch\.eapi_ca_file"):
        tls_lab.switch(eapi_ca_file=os.path.dirname(tls_lab.cfg.eapi_password_file) + "/none")
    assert tls_lab.emulator.http_requests == []
