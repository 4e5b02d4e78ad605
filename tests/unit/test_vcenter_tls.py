"""TLS settings and API-version choice of the vCenter adapter."""

from __future__ import annotations

import hashlib
import ssl

from eos_vmtracer.config import SessionConfig
from eos_vmtracer.vcenter.connection import FALLBACK_VERSION, choose_version
from eos_vmtracer.vcenter.tls import host_port, ssl_context, thumbprint_of
from eos_vmtracer.vlans import VlanSet

VERSIONS = """<?xml version="1.0" encoding="UTF-8" ?>
<namespaces version="1.0">
 <namespace><name>urn:vim25</name><version>{v}</version>
  <priorVersions><version>6.0</version><version>5.5</version></priorVersions>
 </namespace>
 <namespace><name>urn:sms</name><version>8.0.3.0</version></namespace>
</namespaces>"""


def test_the_newest_common_api_version_is_chosen() -> None:
    assert choose_version(VERSIONS.format(v="6.5")) == "vim.version.version11"
    assert choose_version(VERSIONS.format(v="8.0.3.0")) == "vim.version.v8_0_3_0"
    assert choose_version(VERSIONS.format(v="99.0")) == "vim.version.version10"  # 6.0 prior


def test_no_or_bad_versions_document_falls_back() -> None:
    assert choose_version(None) == FALLBACK_VERSION
    assert choose_version("<not xml") == FALLBACK_VERSION
    assert choose_version("<namespaces/>") == FALLBACK_VERSION


def test_thumbprint_is_sha256_in_upper_case_hex() -> None:
    der = b"certificate bytes"
    assert thumbprint_of(der) == hashlib.sha256(der).hexdigest().upper()
    assert len(thumbprint_of(der)) == 64


def cfg(**kw: object) -> SessionConfig:
    base: dict[str, object] = {
        "name": "vc1",
        "url": "https://vc:8443/sdk",
        "username": "u",
        "allowed_vlans": VlanSet([1]),
    }
    base.update(kw)
    return SessionConfig(**base)  # type: ignore[arg-type]


def test_ssl_context_modes() -> None:
    verified = ssl_context(cfg())
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    pinned = ssl_context(cfg(thumbprint="AB" * 32))
    assert pinned.verify_mode == ssl.CERT_NONE  # the pin is the check
    off = ssl_context(cfg(tls_verify=False))
    assert off.verify_mode == ssl.CERT_NONE
    for ctx in (verified, pinned, off):
        assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_host_port_path() -> None:
    assert host_port("https://vc:8443/sdk") == ("vc", 8443, "/sdk")
    assert host_port("https://vc.example.com/sdk/") == ("vc.example.com", 443, "/sdk")
    assert host_port("https://[::1]:9443/sdk") == ("::1", 9443, "/sdk")
