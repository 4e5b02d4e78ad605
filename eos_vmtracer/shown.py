"""How text from outside is shown to a person: one escaping rule for every human channel.

What this module is for: :func:`shown` turns any string (a VM, portgroup, host or
vmnic name from vCenter, a neighbour's CDP/LLDP ids, an error text from eAPI or a
file) into text that is safe on a terminal, in a log line or syslog, in a table or
in a ``!`` comment of ``vmtracer plan``: it can neither start a new line, nor move
the cursor, nor retitle a window, nor reorder what follows it. Every character
Python does not consider printable (``str.isprintable``: the Unicode categories
Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs, except the plain space) is written as a visible
escape, as Python writes it in a string literal (``\\n``, ``\\t``, ``\\x1b``,
``\\x9b``, ``\\u2028``, ``\\u202e``, ``\\U000e0001``); a backslash is doubled, so
the result can be read back unambiguously.

The channels (each applies it in one place): log records to stderr and syslog
(:mod:`eos_vmtracer.logsetup`'s formatter), the tables and ``explain``
(:mod:`eos_vmtracer.render`), ``vmtracer plan`` and ``check``
(:mod:`eos_vmtracer.cli`), the EOS daemon status, and the EOS CLI extension's
text (it prints the same renderers). JSON output (``--json``, ``status.json``,
eAPI's answers to the CLI extension) keeps raw values: JSON escapes on its own.

It must never drop, shorten or reorder a character (two different inputs never
look the same), never raise on any ``str`` (lone surrogates included), and never
be applied to text that becomes an EOS configuration line (those are built from
validated values only).
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def shown(text: str) -> str:
    """``text`` with every non-printable character (and the backslash) escaped."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case: nothing to do
    return "".join(_escape(c) for c in text)


def _escape(c: str) -> str:
    named = _NAMED.get(c)
    if named is not None:
        return named
    if c.isprintable():
        return c
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


__all__ = ["shown"]
