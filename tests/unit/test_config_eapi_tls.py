"""The eAPI TLS keys: switch.eapi_tls_verify, switch.eapi_ca_file, switch.eapi_thumbprint.

Same syntax and rules as a vCenter session's tls_verify / ca_file / thumbprint, and
only meaningful with eapi_transport = "https"; a problem is one line naming the
file and the key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eos_vmtracer.config import ConfigError, SwitchConfig, load

PIN = ":".join(["AB"] * 32)

BASE = """
[switch]
interfaces = ["Ethernet1-4"]
{switch}

[[session]]
name = "vc1"
url = "https://vc1.example.com/sdk"
username = "svc"
password_file = "{pw}"
allowed_vlans = "100-199"
"""

HTTPS = """eapi_transport = "https"
eapi_host = "192.0.2.1"
eapi_username = "vmtracer"
eapi_password_file = "{pw}"
"""


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    pw.chmod(0o600)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    return {"pw": pw, "ca": ca, "dir": tmp_path}


def load_switch(files: dict[str, Path], switch: str) -> SwitchConfig:
    text = BASE.replace("{switch}", switch).replace("{pw}", str(files["pw"]))
    text = text.replace("{ca}", str(files["ca"]))
    path = files["dir"] / "vmtracer.toml"
    path.write_text(text)
    return load(str(path)).switch


def test_defaults_verify_with_the_system_cas(files: dict[str, Path]) -> None:
    s = load_switch(files, HTTPS)
    assert (s.eapi_tls_verify, s.eapi_ca_file, s.eapi_thumbprint) == (True, "", "")


def test_a_ca_file_and_a_pin_are_read(files: dict[str, Path]) -> None:
    s = load_switch(files, HTTPS + 'eapi_ca_file = "{ca}"')
    assert s.eapi_ca_file == str(files["ca"])
    s = load_switch(files, HTTPS + f'eapi_thumbprint = "SHA256:{PIN.lower()}"')
    assert s.eapi_thumbprint == "AB" * 32
    s = load_switch(files, HTTPS + "eapi_tls_verify = false")
    assert s.eapi_tls_verify is False


@pytest.mark.parametrize(
    "extra, key, problem",
    [
        ('eapi_ca_file = "/nonexistent/ca.pem"', "switch.eapi_ca_file", "cannot read"),
        ('eapi_ca_file = "/etc"', "switch.eapi_ca_file", "/etc is not a file"),
        ("eapi_ca_file = 5", "switch.eapi_ca_file", "must be a string"),
        ('eapi_thumbprint = "AB:CD"', "switch.eapi_thumbprint", "must be a SHA-256 fingerprint"),
        ('eapi_thumbprint = "' + "G" * 64 + '"', "switch.eapi_thumbprint", "SHA-256"),
        ('eapi_tls_verify = "no"', "switch.eapi_tls_verify", "must be true or false"),
        (
            'eapi_tls_verify = false\neapi_ca_file = "{ca}"',
            "switch.eapi_tls_verify",
            "pick one",
        ),
        (
            f'eapi_tls_verify = false\neapi_thumbprint = "{PIN}"',
            "switch.eapi_tls_verify",
            "pick one",
        ),
        (
            f'eapi_ca_file = "{{ca}}"\neapi_thumbprint = "{PIN}"',
            "switch.eapi_thumbprint",
            "not both",
        ),
    ],
)
def test_bad_tls_keys_name_the_key(
    files: dict[str, Path], extra: str, key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_switch(files, HTTPS + extra)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(info.value).startswith(str(files["dir"] / "vmtracer.toml") + ": " + key)


@pytest.mark.parametrize("transport", ["socket", "http_local", "http"])
@pytest.mark.parametrize(
    "extra, key",
    [
        ('eapi_ca_file = "{ca}"', "switch.eapi_ca_file"),
        (f'eapi_thumbprint = "{PIN}"', "switch.eapi_thumbprint"),
        ("eapi_tls_verify = false", "switch.eapi_tls_verify"),
    ],
)
def test_tls_keys_need_the_https_transport(
    files: dict[str, Path], transport: str, extra: str, key: str
) -> None:
    switch = f'eapi_transport = "{transport}"\n' + extra
    if transport == "http":
        switch += '\neapi_username = "u"\neapi_password_file = "{pw}"'
    with pytest.raises(ConfigError) as info:
        load_switch(files, switch)
    assert info.value.key == key
    assert f"only applies to eapi_transport = https, not {transport}" in info.value.problem
