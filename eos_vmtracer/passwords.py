"""Passwords from files and environment variables, checked before anyone uses them.

What this module is for: the vCenter and eAPI passwords come from a file
(``password_file``, ``switch.eapi_password_file``) or an environment variable.
This module reads them the one way they are read everywhere: a file as bytes,
capped at :data:`MAX_BYTES`, decoded as strict UTF-8, stripped of surrounding
white space; a variable checked to be sendable (valid UTF-8, no control
characters). Anything else is a :class:`PasswordError` whose text names the
source and the problem.

It must never put any part of a password in an error, a log line or the status:
no byte, no character, no position, no length.
"""

from __future__ import annotations

import os

from eos_vmtracer.fileio import TooLarge, read_capped

#: The largest password file read (a password is far shorter; a larger file is a mistake).
MAX_BYTES = 4096


class PasswordError(Exception):
    """A password that cannot be used; the text never holds any of it."""


def _checked(text: str, where: str) -> str:
    try:
        text.encode("utf-8")  # an environment variable may hold undecodable bytes
    except UnicodeError:
        raise PasswordError(f"{where} is not UTF-8") from None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise PasswordError(f"{where} holds control characters")
    return text


def from_file(path: str) -> str:
    """The password in file ``path``; :class:`PasswordError` when unreadable or unusable."""
    where = f"the password file {path}"
    try:
        data = read_capped(path, MAX_BYTES)
    except TooLarge:
        raise PasswordError(f"{where} is too large (over {MAX_BYTES} bytes)") from None
    except OSError as e:
        raise PasswordError(f"cannot read {where}: {e.strerror or type(e).__name__}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PasswordError(f"{where} is not UTF-8") from None
    return _checked(text.strip(), where)


def from_env(name: str) -> str:
    """The password in environment variable ``name`` ("" when it is unset)."""
    return _checked(os.environ.get(name, ""), f"the environment variable {name}")


__all__ = ["MAX_BYTES", "PasswordError", "from_env", "from_file"]
