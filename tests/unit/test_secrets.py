"""Secrets never leak: URL credentials, password files and variables, every error path.

A URL's user-info is refused without being repeated (in the file's error, and in the
EOS daemon status the same text reaches); password files are read as capped bytes
and refused as "not UTF-8" or "too large" without quoting them; the eAPI password
gives a clean error at load time and at use time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eos_vmtracer import passwords
from eos_vmtracer.cli import cli
from eos_vmtracer.config import ConfigError, SessionConfig, SwitchConfig, load
from eos_vmtracer.eos import controller as bridge
from eos_vmtracer.switch import PermanentSwitchError
from eos_vmtracer.switch.transport import EapiTransport
from tests.unit.test_extension_eossdk import FakePort

SECRET = "Hunter2-s3cret"

SESSION = """
[switch]
interfaces = ["Ethernet1-4"]
{switch}
[[session]]
name = "vc1"
url = "{url}"
username = "svc"
password_file = "{pw}"
allowed_vlans = "100-199"
"""


@pytest.fixture()
def pw(tmp_path: Path) -> Path:
    path = tmp_path / "vc1.password"
    path.write_text("good-password\n")
    path.chmod(0o600)
    return path


def _write(tmp_path: Path, pw: Path, url: str = "https://vc1/sdk", switch: str = "") -> Path:
    path = tmp_path / "vmtracer.toml"
    text = SESSION.replace("{url}", url).replace("{pw}", str(pw)).replace("{switch}", switch)
    path.write_text(text)
    return path


URLS_WITH_CREDENTIALS = [
    f"https://admin:{SECRET}@vc1/sdk",
    f"https://admin:{SECRET}@vc1:notaport/sdk",  # also not a URL: still not repeated
    f"http://admin:{SECRET}@vc1/sdk",  # also the wrong scheme
    f"https://admin:{SECRET}@vc1/sdk?x=1",  # also a query
    f"https://admin:{SECRET}@[::1/sdk",  # also a broken IPv6 address
    f"admin:{SECRET}@vc1/sdk",  # no scheme at all
    f"https://{SECRET}@vc1/sdk",  # a user name only (that may be the secret)
]


@pytest.mark.parametrize("url", URLS_WITH_CREDENTIALS)
def test_url_credentials_are_refused_and_never_repeated(tmp_path: Path, pw: Path, url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(str(_write(tmp_path, pw, url=url)))
    text = str(info.value)
    assert "session[1].url" in text and "must not carry a user name or password" in text
    assert SECRET not in text and "admin" not in text
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["check", "--offline", "--config", str(tmp_path / "vmtracer.toml")]
    )
    assert result.exit_code == 2 and SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize("url", URLS_WITH_CREDENTIALS[:3])
def test_url_credentials_in_daemon_options_stay_out_of_the_daemon_status(
    tmp_path: Path, url: str
) -> None:
    port = FakePort(
        {
            "switch.interfaces": "Ethernet1",
            "session.vc1.url": url,
            "session.vc1.username": "svc",
            "session.vc1.password_env": "HOME",
            "session.vc1.allowed_vlans": "100",
        }
    )
    mailbox = bridge.Mailbox()
    controller = bridge.Controller(port, "EosVmTracer", str(tmp_path / "absent"), mailbox)
    try:
        controller.initialized()
    finally:
        mailbox.close()
    assert "must not carry a user name or password" in port.status["config_error"]
    assert not any(SECRET in v for v in port.status.values())


# -- password files ---------------------------------------------------------------------------


def _secret_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(data)
    path.chmod(0o600)
    return path


BAD_FILES = [
    (b"pa\xffss\xfe\n", "is not UTF-8"),
    (b"\xc3", "is not UTF-8"),  # a truncated two-byte character
    (("x" * (passwords.MAX_BYTES + 1)).encode(), "is too large"),
    (b"Zq9\x1b]0;owned\x07Kw7", "holds control characters"),
]


@pytest.mark.parametrize(("data", "problem"), BAD_FILES)
def test_a_bad_vcenter_password_file_is_a_config_error_without_its_content(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    path = _secret_file(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load(str(_write(tmp_path, path)))
    text = str(info.value)
    assert f"session[1].password_file: the password file {path} {problem}" in text
    _nothing_of(data, text)


@pytest.mark.parametrize(("data", "problem"), BAD_FILES)
def test_a_bad_eapi_password_file_is_a_config_error_without_its_content(
    tmp_path: Path, pw: Path, data: bytes, problem: str
) -> None:
    path = _secret_file(tmp_path, data)
    switch = f'eapi_transport = "https"\neapi_username = "admin"\neapi_password_file = "{path}"'
    config = _write(tmp_path, pw, switch=switch)
    with pytest.raises(ConfigError) as info:
        load(str(config))
    assert f"switch.eapi_password_file: the password file {path} {problem}" in str(info.value)
    _nothing_of(data, str(info.value))
    result = CliRunner(mix_stderr=False).invoke(cli, ["run", "--config", str(config)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1 and problem in result.stderr


@pytest.mark.parametrize(("data", "problem"), BAD_FILES)
def test_an_eapi_password_file_spoilt_after_loading_is_a_clean_switch_error(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    path = _secret_file(tmp_path, b"fine\n")
    cfg = SwitchConfig(eapi_transport="https", eapi_username="admin", eapi_password_file=str(path))
    EapiTransport(cfg)
    path.write_bytes(data)
    with pytest.raises(PermanentSwitchError) as info:
        EapiTransport(cfg)
    assert problem in str(info.value)
    _nothing_of(data, str(info.value))


def test_a_non_utf8_eapi_password_variable_is_a_clean_switch_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(os.environb, b"VMT_EAPI_PW", b"pa\xffss")  # type: ignore[attr-defined]
    cfg = SwitchConfig(
        eapi_transport="https", eapi_username="admin", eapi_password_env="VMT_EAPI_PW"
    )
    with pytest.raises(PermanentSwitchError) as info:
        EapiTransport(cfg)
    assert "VMT_EAPI_PW is not UTF-8" in str(info.value)
    _nothing_of(b"pa\xffss", str(info.value))


def test_the_vcenter_password_is_read_when_used_through_the_same_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _secret_file(tmp_path, b"  ok-\xc3\xa9t\xc3\xa9 \n")  # UTF-8, padded
    assert SessionConfig(password_file=str(path)).password() == "ok-\u00e9t\u00e9"
    path.write_bytes(b"x" * 10_000_000)
    with pytest.raises(passwords.PasswordError, match="too large"):
        SessionConfig(password_file=str(path)).password()
    monkeypatch.setitem(os.environb, b"VMT_VC_PW", b"\xff")  # type: ignore[attr-defined]
    with pytest.raises(passwords.PasswordError, match="VMT_VC_PW is not UTF-8"):
        SessionConfig(password_env="VMT_VC_PW").password()


def test_a_huge_password_file_is_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, f: Any) -> None:
            self.f = f

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def read(self, n: int = -1) -> bytes:
            reads.append(n)
            data: bytes = self.f.read(n)
            return data

    path = _secret_file(tmp_path, b"x" * 1_000_000)
    monkeypatch.setattr("builtins.open", lambda p, m="r", *a, **k: Spy(real_open(p, m, *a, **k)))
    with pytest.raises(passwords.PasswordError, match="too large"):
        passwords.from_file(str(path))
    assert reads == [passwords.MAX_BYTES + 1]


def _nothing_of(data: bytes, text: str) -> None:
    """No byte of ``data`` shows in ``text``: no character, escape or position of it."""
    assert "position" not in text and "\\x" not in text and "0x" not in text
    assert "\udcff" not in text and "\ufffd" not in text
    visible = data.decode("utf-8", "replace").strip()
    for piece in (visible[:4], visible[-4:]):
        if len(piece) >= 3 and piece.isprintable():
            assert piece not in text, piece
