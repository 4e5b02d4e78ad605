"""The EOS daemon's name and its ``option`` lines, turned into a configuration.

What this module is for: ``daemon EosVmTracer`` / ``option KEY value`` lines in
the running-config become configuration on top of the TOML file
(:func:`config_from_options`), and :func:`daemon_name` says which daemon this
process is (the name the SDK registers, so the name whose options and status it
sees).

It must never call the SDK, never read a secret out of an option (the config
validator refuses passwords), and never turn a value it cannot parse into a
default: it passes the text on so that the validator names the key and the problem.
"""

from __future__ import annotations

import os
import sys
from dataclasses import fields
from typing import Any, Mapping, Optional

from eos_vmtracer.config import (
    CdpConfig,
    Config,
    ConfigError,
    LogConfig,
    SessionConfig,
    SwitchConfig,
    default_path,
    from_mapping,
    read_toml,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised under Python 3.9
    import tomli as tomllib

DEFAULT_DAEMON = "EosVmTracer"
"""The daemon name README configures (``daemon EosVmTracer``)."""
CONFIG_OPTION = "config"

_SECTIONS: Mapping[str, type] = {"switch": SwitchConfig, "cdp": CdpConfig, "log": LogConfig}


def daemon_name(environ: Optional[Mapping[str, str]] = None) -> str:
    """The agent name to register with: ``AGENT_PROCESS_NAME`` as the SDK reads it, or
    :data:`DEFAULT_DAEMON`."""
    env = os.environ if environ is None else environ
    name = env.get("AGENT_PROCESS_NAME", "").strip()
    if "-" in name and not name.endswith("-"):
        name = name.rsplit("-", 1)[1]
    return name or DEFAULT_DAEMON


def _field_types(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(cls)}


def option_value(cls: type, key: str, text: str) -> Any:
    """The typed value of option text for field ``key`` of settings class ``cls``.

    Booleans and numbers are read as TOML (``true``, ``300``, ``0.5``), tables as a
    TOML inline table (``{Ethernet1 = "et1"}``); everything else stays the text as
    typed (URLs, paths, VLAN and interface ranges need no quotes). A value that does
    not parse is passed on as text, so the validator names the key and the problem.
    """
    kind = _field_types(cls).get(key, "str")
    text = text.strip()
    if kind in ("bool", "int", "float") or kind.startswith("Mapping"):
        try:
            parsed = tomllib.loads(f"v = {text}")
        except tomllib.TOMLDecodeError:
            return text
        if set(parsed) == {"v"}:
            return parsed["v"]
    return text


def _table(data: dict[str, Any], key: str, source: str, where: str) -> dict[str, Any]:
    value = data.setdefault(key, {})
    if not isinstance(value, dict):
        raise ConfigError(source, where, "is not a table in the configuration file")
    return value


def _set_option(data: dict[str, Any], option: str, text: str, source: str) -> None:
    parts = option.split(".")
    if parts[0] in _SECTIONS and len(parts) >= 2 and all(parts):
        cls = _SECTIONS[parts[0]]
        table = _table(data, parts[0], source, parts[0])
        if len(parts) == 2:
            table[parts[1]] = option_value(cls, parts[1], text)
            return
        # A table-valued key set one entry at a time: cdp.kernel_interfaces.Ethernet1
        inner = _table(table, parts[1], source, f"{parts[0]}.{parts[1]}")
        inner[".".join(parts[2:])] = text.strip()
        return
    if parts[0] == "session" and len(parts) == 3 and parts[1] and parts[2]:
        sessions = data.setdefault("session", [])
        if not isinstance(sessions, list):
            raise ConfigError(source, "session", "is not an array of tables")
        entry = next(
            (s for s in sessions if isinstance(s, dict) and s.get("name") == parts[1]), None
        )
        if entry is None:
            entry = {"name": parts[1]}
            sessions.append(entry)
        entry[parts[2]] = option_value(SessionConfig, parts[2], text)
        return
    raise ConfigError(
        source,
        option,
        "unknown daemon option (use config, switch.KEY, cdp.KEY, log.KEY or session.NAME.KEY)",
    )


def config_from_options(
    options: Mapping[str, str], config_path: Optional[str], name: str = DEFAULT_DAEMON
) -> Config:
    """The configuration from a daemon's options on top of its TOML file.

    The file is option ``config`` if set, else ``config_path`` (``vmtracer run
    --config``, ``$VMTRACER_CONFIG``, ``/mnt/flash/vmtracer.toml``); without other
    options it must exist, with them a missing default file just means "options
    only". Every other option is ``SECTION.KEY`` (``switch.interfaces``) or
    ``session.NAME.KEY`` (``session.vc1.url``) and overrides the file. Raises
    :class:`~eos_vmtracer.config.ConfigError` naming the file or the option.
    """
    opts = {k: v for k, v in options.items() if v.strip()}
    where = f"daemon {name} options"
    explicit = opts.get(CONFIG_OPTION, "").strip()
    path = explicit or config_path or default_path()
    others = sorted(k for k in opts if k != CONFIG_OPTION)
    data: dict[str, Any] = {}
    source = where
    if explicit or not others or os.path.exists(path):
        data = read_toml(path)
        source = f"{path} + {where}" if others else path
    for key in others:
        _set_option(data, key, opts[key], where)
    return from_mapping(data, source)
