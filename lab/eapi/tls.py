"""A throw-away self-signed certificate for the emulator's HTTPS (the ``https`` transport).

What this module is for: tests that exercise eAPI over TLS need a certificate;
this makes one with the ``openssl`` command (Debian package ``openssl``, in the
Makefile's APT_PACKAGES) in a directory the caller owns and removes.

It must never write outside the directory it is given, and never be used for
anything but the lab (the key is unencrypted and lives one test run).
"""

from __future__ import annotations

import os
import shutil
import subprocess


def self_signed(directory: str, name: str = "localhost") -> tuple[str, str]:
    """(certificate, key) PEM files for ``name`` under ``directory``."""
    if shutil.which("openssl") is None:
        raise FileNotFoundError("the openssl command is not installed (Debian package openssl)")
    cert, key = os.path.join(directory, "eapi.crt"), os.path.join(directory, "eapi.key")
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", f"/CN={name}", "-keyout", key, "-out", cert]
    # The names a client checks the certificate against (with a CA file): the lab
    # serves on 127.0.0.1, and on-box clients say "localhost".
    command += ["-addext", f"subjectAltName=DNS:{name},DNS:localhost,IP:127.0.0.1"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key
