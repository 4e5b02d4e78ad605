"""The configuration file: TOML in, typed and validated settings out.

What this module is for: read ``vmtracer.toml`` (or the same settings from EOS
``daemon`` options), check every key, and give the rest of the agent frozen
dataclasses whose fields are documented and already in their final types
(interface ranges expanded, VLAN lists parsed).

It must never accept a key it does not know, never guess at a wrong value, and
never put a secret in an error message or a log line. Every problem is one
:class:`ConfigError` whose text names the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from eos_vmtracer import passwords
from eos_vmtracer.vlans import VlanSet, canonical_interface, expand_interfaces

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised under Python 3.9
    import tomli as tomllib

DEFAULT_PATH = "/mnt/flash/vmtracer.toml"
MAX_SESSIONS = 8
EAPI_TRANSPORTS = ("socket", "http_local", "http", "https")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A bad configuration: one line naming the file, the key and the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)


class _Invalid(Exception):
    """Raised by a field parser; the caller adds the file and the key."""


# -- field parsers -------------------------------------------------------------------
# Each takes the raw TOML value and returns the typed one, or raises _Invalid.


def _type_name(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, not {_type_name(value)}")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_type_name(value)}")
    return value


def _number(low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"must be a number, not {_type_name(value)}")
        if not low <= value <= high:
            shown = f"{value:g}" if isinstance(value, float) or abs(value) < 10**15 else "that"
            raise _Invalid(f"must be between {low:g} and {high:g}, not {shown}")
        return float(value)

    return parse


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be an integer, not {_type_name(value)}")
        if not low <= value <= high:
            raise _Invalid(f"must be between {low} and {high}, not {value}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _string(value)
        if text not in choices:
            raise _Invalid(f"must be one of {', '.join(choices)}, not {text!r}")
        return text

    return parse


def _vlans(value: Any) -> VlanSet:
    text = _string(value)
    try:
        vlans = VlanSet.parse(text)
    except ValueError as e:
        raise _Invalid(str(e)) from None
    if not vlans:
        raise _Invalid("names no VLAN")
    return vlans


def _interface_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _Invalid(f"must be a list of interface ranges, not {_type_name(value)}")
    out: dict[str, None] = {}  # ordered, and a linear duplicate check
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"must be a list of strings, found {_type_name(item)}")
        try:
            names = expand_interfaces(item)
        except ValueError as e:
            raise _Invalid(str(e)) from None
        for name in names:
            if name in out:
                raise _Invalid(f"{name} is listed twice")
            out[name] = None
    return tuple(out)


_KERNEL_RE = re.compile(r"[A-Za-z0-9_.:-]{1,15}")


def _kernel_map(value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a table of interface = kernel name, not {_type_name(value)}")
    out: dict[str, str] = {}
    for eos, kernel in value.items():
        try:
            name = canonical_interface(eos)
        except ValueError as e:
            raise _Invalid(str(e)) from None
        if not isinstance(kernel, str) or not _KERNEL_RE.fullmatch(kernel):
            raise _Invalid(f"{eos}: {kernel!r} is not a Linux interface name")
        out[name] = kernel
    return out


_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def _session_name(value: Any) -> str:
    text = _string(value)
    if not _NAME_RE.fullmatch(text):
        raise _Invalid(f"{text!r} must be 1-32 letters, digits, '.', '_' or '-'")
    return text


def _url(value: Any) -> str:
    text = _string(value)
    if "@" in text:
        # Never repeat it: what precedes the "@" is a user name and maybe a password.
        raise _Invalid(
            "must not carry a user name or password (use username and password_file);"
            " the URL is not repeated here"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise _Invalid(f"{text!r} is not a URL: {e}") from None
    if parts.scheme != "https":
        raise _Invalid(f"{text!r} must start with https://")
    if not parts.hostname:
        raise _Invalid(f"{text!r} has no host")
    if parts.username or parts.password:
        raise _Invalid("must not carry a user name or password (use username and password_file)")
    if parts.query or parts.fragment:
        raise _Invalid(f"{text!r} must not have a query or fragment")
    del port
    return text


_THUMB_RE = re.compile(r"(?:SHA256:)?((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64})")


def _thumbprint(value: Any) -> str:
    text = _string(value).strip()
    if not text:
        return ""
    match = _THUMB_RE.fullmatch(text)
    if not match:
        raise _Invalid("must be a SHA-256 fingerprint: 'SHA256:' and 32 hex bytes separated by ':'")
    return match.group(1).replace(":", "").upper()


#: File systems without per-file permissions (EOS's /mnt/flash is FAT: every file there
#: reads as 0770, owner root, group eosadmin, fixed by the mount).
_NO_FILE_MODES = ("vfat", "msdos", "fat", "exfat")
MOUNTS = "/proc/mounts"


def filesystem_type(path: str, mounts: Optional[str] = None) -> str:
    """The type of the file system holding ``path`` ("" when unknown)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open(mounts or MOUNTS, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                point = parts[1].replace("\\040", " ")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, kind = point, parts[2]
    except OSError:
        return ""
    return kind


def _path(value: Any) -> str:
    """A file system path: a string without control characters (NUL, newline, ESC, ...)."""
    path = _string(value)
    for c in path:
        if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F:
            raise _Invalid(f"the path holds a control character (U+{ord(c):04X})")
    return path


def _secret_file(value: Any) -> str:
    path = _path(value)
    if not path:
        return ""
    try:
        st = os.stat(path)
    except OSError as e:
        raise _Invalid(f"cannot read {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _Invalid(f"{path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if filesystem_type(path) in _NO_FILE_MODES:
        # No per-file modes here: the mount decides. Refuse only a mount that lets
        # everybody read (EOS mounts flash 0770 for root and the eosadmin group).
        if mode & 0o007:
            raise _Invalid(
                f"{path} is on a FAT file system mounted readable by everybody (mode {mode:04o})"
            )
    elif mode & 0o077:
        raise _Invalid(f"{path} is readable by group or others (mode {mode:04o}); chmod 600 it")
    if not os.access(path, os.R_OK):
        raise _Invalid(f"cannot read {path}: permission denied")
    try:
        passwords.from_file(path)  # readable, not too large, UTF-8 (never quoted)
    except passwords.PasswordError as e:
        raise _Invalid(str(e)) from None
    return path


def _env_name(value: Any) -> str:
    name = _string(value)
    if not name:
        return ""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise _Invalid(f"{name!r} is not an environment variable name")
    if name not in os.environ:
        raise _Invalid(f"environment variable {name} is not set")
    return name


def _readable_file(value: Any) -> str:
    path = _path(value)
    if path and not os.access(path, os.R_OK):
        raise _Invalid(f"cannot read {path}")
    if path and not os.path.isfile(path):
        raise _Invalid(f"{path} is not a file")
    return path


def _directory(value: Any) -> str:
    path = _path(value)
    if not path:
        raise _Invalid("must not be empty")
    if not os.path.isabs(path):
        raise _Invalid(f"{path!r} must be an absolute path")
    return path


_VRF_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def _vrf(value: Any) -> str:
    text = _string(value)
    if not _VRF_RE.fullmatch(text):
        raise _Invalid(f"{text!r} is not a VRF name (letters, digits, '_', '.' or '-')")
    return text


_SOURCE_RE = re.compile(
    r"(ethernet|et|management|ma|loopback|lo|vlan|vl|port-channel|po)(\d+(?:/\d+)*)",
    re.IGNORECASE,
)
_SOURCE_TYPES = {
    "et": "Ethernet",
    "ma": "Management",
    "lo": "Loopback",
    "vl": "Vlan",
    "po": "Port-Channel",
}


def _source_interface(value: Any) -> str:
    text = _string(value)
    if not text:
        return ""
    match = _SOURCE_RE.fullmatch(text)
    if not match:
        raise _Invalid(
            f"{text!r} is not an interface with an address"
            " (Management, Loopback, Vlan, Ethernet or Port-Channel)"
        )
    kind = _SOURCE_TYPES[match.group(1)[:2].lower()]
    return kind + match.group(2)


_MAX_PATTERNS = 256


def _static_hosts(value: Any) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise _Invalid(
            f"must be a table of interface = [host-name patterns], not {_type_name(value)}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for iface, patterns in value.items():
        try:
            name = canonical_interface(iface)
        except ValueError as e:
            raise _Invalid(str(e)) from None
        if name in out:
            raise _Invalid(f"{name} is listed twice")
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not patterns:
            raise _Invalid(f"{name}: must be a non-empty list of host-name patterns")
        if len(patterns) > _MAX_PATTERNS:
            raise _Invalid(f"{name}: at most {_MAX_PATTERNS} patterns")
        seen: list[str] = []
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise _Invalid(f"{name}: patterns must be strings, found {_type_name(pattern)}")
            text = pattern.strip()
            if not text or len(text) > 255 or any(ord(c) < 32 or c == "\x7f" for c in text):
                raise _Invalid(f"{name}: {pattern!r} is not a host-name pattern")
            if text.lower() in seen:
                raise _Invalid(f"{name}: pattern {text!r} is listed twice")
            seen.append(text.lower())
        out[name] = tuple(seen)
    return out


def _parse_with(parser: Callable[[Any], Any]) -> dict[str, Any]:
    return {"parse": parser}


# -- the settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchConfig:
    """``[switch]``: which ports the agent manages and how it reaches eAPI."""

    interfaces: tuple[str, ...] = field(default=(), metadata=_parse_with(_interface_list))
    """VM Tracer-enabled ports, expanded from EOS range syntax (``Ethernet1-48``)."""
    uplinks: tuple[str, ...] = field(default=(), metadata=_parse_with(_interface_list))
    """Inter-switch trunks that carry every VLAN the agent provisions on the edge ports."""
    eapi_transport: str = field(default="socket", metadata=_parse_with(_choice(*EAPI_TRANSPORTS)))
    """How to reach eAPI: ``socket`` (local Unix socket), ``http_local``, ``http``, ``https``."""
    eapi_socket: str = field(default="/var/run/command-api.sock", metadata=_parse_with(_path))
    """Path of eAPI's Unix socket (transport ``socket``)."""
    eapi_host: str = field(default="localhost", metadata=_parse_with(_string))
    """Host for the ``http``/``https`` transports."""
    eapi_port: int = field(default=0, metadata=_parse_with(_integer(0, 65535)))
    """TCP port; 0 means the transport's default (80, 443, 8080 for ``http_local``)."""
    eapi_username: str = field(default="", metadata=_parse_with(_string))
    """User for the ``http``/``https`` transports."""
    eapi_password_file: str = field(default="", metadata=_parse_with(_secret_file))
    """File holding the eAPI password (mode 0600 or stricter; see README for flash)."""
    eapi_password_env: str = field(default="", metadata=_parse_with(_env_name))
    """Environment variable holding the eAPI password."""
    eapi_timeout: float = field(default=30.0, metadata=_parse_with(_number(1, 600)))
    """Seconds to wait for one eAPI request."""
    eapi_tls_verify: bool = field(default=True, metadata=_parse_with(_boolean))
    """Verify eAPI's certificate (``https``); false is logged as a warning at start."""
    eapi_ca_file: str = field(default="", metadata=_parse_with(_readable_file))
    """CA bundle to verify eAPI's certificate with (``https``; default: the system's)."""
    eapi_thumbprint: str = field(default="", metadata=_parse_with(_thumbprint))
    """SHA-256 pin of eAPI's certificate (``https``; stored as 64 upper-case hex digits)."""
    hostname: str = field(default="", metadata=_parse_with(_string))
    """The name ESXi hosts see in CDP; empty: ask the switch (``show hostname``)."""
    create_vlans: bool = field(default=True, metadata=_parse_with(_boolean))
    """Create a needed VLAN that does not exist, and delete it once nothing needs it."""
    remove_delay: float = field(default=300.0, metadata=_parse_with(_number(0, 86400 * 7)))
    """Seconds a VLAN must be continuously unneeded on a port before it is removed."""
    state_dir: str = field(default="/mnt/flash/vmtracer", metadata=_parse_with(_directory))
    """Where the ownership ledger and the history live (on flash: they survive reboots)."""
    run_dir: str = field(default="/var/run/vmtracer", metadata=_parse_with(_directory))
    """Where the running agent publishes its status (volatile: not on flash)."""
    dry_run: bool = field(default=False, metadata=_parse_with(_boolean))
    """Compute and report everything, change nothing."""
    check_interval: float = field(default=60.0, metadata=_parse_with(_number(1, 86400)))
    """Seconds between full re-reads of the switch (drift repair)."""
    static_hosts: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, metadata=_parse_with(_static_hosts)
    )
    """Hosts that cannot be heard, ``{"Port-Channel20" = ["blade-a-*.example.com"]}``:
    a host whose name matches is cabled to that interface on every vmnic that hears
    no neighbour (a neighbour heard wins)."""


@dataclass(frozen=True)
class CdpConfig:
    """``[cdp]``: the CDP frames the agent sends so ESXi knows where it is cabled."""

    enabled: bool = field(default=True, metadata=_parse_with(_boolean))
    """Send CDP on every enabled port (and every member of an enabled Port-Channel)."""
    interval: float = field(default=30.0, metadata=_parse_with(_number(1, 900)))
    """Seconds between frames on one port."""
    holdtime: int = field(default=180, metadata=_parse_with(_integer(10, 255)))
    """How long a receiver keeps our information (CDP TTL, seconds)."""
    kernel_interfaces: Mapping[str, str] = field(
        default_factory=dict, metadata=_parse_with(_kernel_map)
    )
    """Kernel interface overrides, ``{"Ethernet1" = "et1"}``; others use EOS's naming."""


@dataclass(frozen=True)
class LogConfig:
    """``[log]``: where the agent's messages go."""

    level: str = field(default="info", metadata=_parse_with(_choice(*LOG_LEVELS)))
    """Least severe level logged: debug, info, warning or error."""
    syslog: bool = field(default=True, metadata=_parse_with(_boolean))
    """Also send messages (every change, with its reason) to the local syslog."""
    syslog_socket: str = field(default="/dev/log", metadata=_parse_with(_directory))
    """The local syslog's Unix socket (an absolute path)."""


@dataclass(frozen=True)
class SessionConfig:
    """``[[session]]``: one vCenter to watch."""

    name: str = field(default="", metadata=_parse_with(_session_name))
    """Short name used in logs, status and the ledger."""
    url: str = field(default="", metadata=_parse_with(_url))
    """``https://vcenter/sdk``."""
    username: str = field(default="", metadata=_parse_with(_string))
    """A user with a read-only role."""
    password_file: str = field(default="", metadata=_parse_with(_secret_file))
    """File holding the password (mode 0600 or stricter; see README for flash)."""
    password_env: str = field(default="", metadata=_parse_with(_env_name))
    """Environment variable holding the password."""
    allowed_vlans: VlanSet = field(default_factory=VlanSet.none, metadata=_parse_with(_vlans))
    """The only VLANs this session may add or remove."""
    autovlan: bool = field(default=True, metadata=_parse_with(_boolean))
    """False: compute and report this session's needs, change nothing for it."""
    tls_verify: bool = field(default=True, metadata=_parse_with(_boolean))
    """Verify vCenter's certificate; false is logged as a warning."""
    ca_file: str = field(default="", metadata=_parse_with(_readable_file))
    """CA bundle to verify vCenter's certificate with (default: the system's)."""
    thumbprint: str = field(default="", metadata=_parse_with(_thumbprint))
    """SHA-256 pin of vCenter's certificate (stored as 64 upper-case hex digits)."""
    hint_interval: float = field(default=60.0, metadata=_parse_with(_number(1, 3600)))
    """Seconds between QueryNetworkHint refreshes of a host heard on this switch."""
    discovery_interval: float = field(default=1800.0, metadata=_parse_with(_number(60, 86400)))
    """Seconds between QueryNetworkHint refreshes of a host not heard on this switch
    (spread evenly; a link change, reconnect or new host is asked at once)."""
    max_hints_per_minute: int = field(default=1000, metadata=_parse_with(_integer(10, 100000)))
    """Ceiling of QueryNetworkHint calls in any minute (new and changed hosts first)."""
    migration_timeout: float = field(default=3600.0, metadata=_parse_with(_number(10, 86400)))
    """Forget a migration whose end vCenter never reported after this many seconds."""
    vrf: str = field(default="default", metadata=_parse_with(_vrf))
    """The VRF vCenter is reached through (``MGMT``: EOS's network namespace ``ns-MGMT``)."""
    source_interface: str = field(default="", metadata=_parse_with(_source_interface))
    """Connect from this interface's address (read from eAPI); empty: the kernel picks."""

    def password(self) -> str:
        """Read the password now, from its file or environment variable; raises
        :class:`~eos_vmtracer.passwords.PasswordError` when it cannot be used."""
        if self.password_file:
            return passwords.from_file(self.password_file)
        return passwords.from_env(self.password_env)


_REQUIRED_SESSION_KEYS = ("name", "url", "username", "allowed_vlans")


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    switch: SwitchConfig = field(default_factory=SwitchConfig)
    cdp: CdpConfig = field(default_factory=CdpConfig)
    log: LogConfig = field(default_factory=LogConfig)
    sessions: tuple[SessionConfig, ...] = ()
    source: str = "<defaults>"
    """Where the settings came from (a file path, or "daemon options")."""

    def session(self, name: str) -> Optional[SessionConfig]:
        """The session called ``name``."""
        for s in self.sessions:
            if s.name == name:
                return s
        return None

    def managed_vlans(self) -> VlanSet:
        """Every VLAN some session may add (the union of allowed VLANs)."""
        return VlanSet.union_of(s.allowed_vlans for s in self.sessions)


# -- loading ---------------------------------------------------------------------------


def _build(cls: type, table: Any, source: str, prefix: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown keys."""
    if not isinstance(table, dict):
        raise ConfigError(source, prefix, f"must be a table, not {_type_name(table)}")
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key in ("password", "eapi_password"):
            raise ConfigError(
                source,
                f"{prefix}.{key}",
                f"passwords never go in the config file; use {key}_file or {key}_env",
            )
        if key not in known:
            hint = _closest(key, known)
            raise ConfigError(source, f"{prefix}.{key}", "unknown key" + hint)
    values: dict[str, Any] = {}
    for name, value in table.items():
        parser = known[name].metadata["parse"]
        try:
            values[name] = parser(value)
        except _Invalid as e:
            raise ConfigError(source, f"{prefix}.{name}", str(e)) from None
    return cls(**values)


def _closest(key: str, known: Mapping[str, Any]) -> str:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {match[0]}?)" if match else ""


def from_mapping(data: Mapping[str, Any], source: str) -> Config:
    """Validate already-parsed settings (a TOML document, or daemon options)."""
    sections = {"switch", "cdp", "log", "session"}
    for key in data:
        if key not in sections:
            raise ConfigError(
                source, key, "unknown section" + _closest(key, dict.fromkeys(sections))
            )
    switch = _build(SwitchConfig, data.get("switch", {}), source, "switch")
    cdp = _build(CdpConfig, data.get("cdp", {}), source, "cdp")
    log = _build(LogConfig, data.get("log", {}), source, "log")
    raw_sessions = data.get("session", [])
    if not isinstance(raw_sessions, list):
        raise ConfigError(source, "session", "must be an array of tables ([[session]])")
    if len(raw_sessions) > MAX_SESSIONS:
        raise ConfigError(
            source, "session", f"at most {MAX_SESSIONS} sessions, found {len(raw_sessions)}"
        )
    sessions: list[SessionConfig] = []
    for index, raw in enumerate(raw_sessions, start=1):
        key = f"session[{index}]"
        session = _build(SessionConfig, raw, source, key)
        _check_session(session, raw, source, key, sessions)
        sessions.append(session)
    _check_switch(switch, source)
    _check_static_hosts(switch, source)
    _check_cdp(cdp, source)
    if not sessions:
        raise ConfigError(source, "session", "configure at least one [[session]]")
    return Config(switch=switch, cdp=cdp, log=log, sessions=tuple(sessions), source=source)


def _check_session(
    s: SessionConfig, raw: Mapping[str, Any], source: str, key: str, before: list[SessionConfig]
) -> None:
    for required in _REQUIRED_SESSION_KEYS:
        if required not in raw:
            raise ConfigError(source, f"{key}.{required}", "is required")
    if not s.username:
        raise ConfigError(source, f"{key}.username", "must not be empty")
    if any(other.name == s.name for other in before):
        raise ConfigError(source, f"{key}.name", f"session name {s.name!r} is used twice")
    if bool(s.password_file) == bool(s.password_env):
        problem = (
            "set password_file or password_env, not both"
            if s.password_file
            else "no password source: set password_file (mode 0600) or password_env"
        )
        raise ConfigError(source, f"{key}.password_file", problem)
    if not s.tls_verify and (s.ca_file or s.thumbprint):
        raise ConfigError(
            source, f"{key}.tls_verify", "is false but ca_file or thumbprint is set; pick one"
        )
    if s.ca_file and s.thumbprint:
        raise ConfigError(source, f"{key}.thumbprint", "set ca_file or thumbprint, not both")


def _check_switch(s: SwitchConfig, source: str) -> None:
    if not s.interfaces:
        raise ConfigError(source, "switch.interfaces", "list at least one interface (Ethernet1-48)")
    _check_eapi_tls(s, source)
    edge = frozenset(s.interfaces)
    for name in s.uplinks:
        if name in edge:
            raise ConfigError(source, "switch.uplinks", f"{name} is also in switch.interfaces")
    if s.eapi_transport in ("http", "https"):
        if not s.eapi_username:
            raise ConfigError(
                source,
                "switch.eapi_username",
                f"is required with eapi_transport = {s.eapi_transport}",
            )
        if bool(s.eapi_password_file) == bool(s.eapi_password_env):
            raise ConfigError(
                source,
                "switch.eapi_password_file",
                "set eapi_password_file or eapi_password_env (exactly one)",
            )


def _check_eapi_tls(s: SwitchConfig, source: str) -> None:
    """The eAPI TLS keys: only with ``https``, and the same rules as a session's."""
    if s.eapi_transport != "https":
        for key, set_ in (
            ("eapi_ca_file", bool(s.eapi_ca_file)),
            ("eapi_thumbprint", bool(s.eapi_thumbprint)),
            ("eapi_tls_verify", not s.eapi_tls_verify),
        ):
            if set_:
                raise ConfigError(
                    source,
                    f"switch.{key}",
                    f"only applies to eapi_transport = https, not {s.eapi_transport}",
                )
        return
    if not s.eapi_tls_verify and (s.eapi_ca_file or s.eapi_thumbprint):
        raise ConfigError(
            source,
            "switch.eapi_tls_verify",
            "is false but eapi_ca_file or eapi_thumbprint is set; pick one",
        )
    if s.eapi_ca_file and s.eapi_thumbprint:
        raise ConfigError(
            source, "switch.eapi_thumbprint", "set eapi_ca_file or eapi_thumbprint, not both"
        )


def _check_static_hosts(s: SwitchConfig, source: str) -> None:
    for name in s.static_hosts:
        if name in s.uplinks:
            raise ConfigError(source, "switch.static_hosts", f"{name} is an uplink")
        if name.startswith("Port-Channel") and name not in s.interfaces:
            raise ConfigError(source, "switch.static_hosts", f"{name} is not in switch.interfaces")


def _check_cdp(c: CdpConfig, source: str) -> None:
    if c.holdtime <= c.interval:
        raise ConfigError(
            source,
            "cdp.holdtime",
            f"{c.holdtime} must be longer than cdp.interval ({c.interval:g})",
        )
    for name in c.kernel_interfaces:
        if not name.startswith("Ethernet"):
            raise ConfigError(
                source, "cdp.kernel_interfaces", f"{name} is not an Ethernet interface"
            )


def read_toml(path: str) -> dict[str, Any]:
    """The TOML document at ``path``, unvalidated; :class:`ConfigError` when unreadable."""
    try:
        with open(path, "rb") as f:
            return dict(tomllib.load(f))
    except FileNotFoundError:
        raise ConfigError(path, "", "no such file") from None
    except OSError as e:
        raise ConfigError(path, "", f"cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "", f"not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not valid TOML: the file is not UTF-8") from None


def load(path: str) -> Config:
    """Read and validate the TOML file at ``path``."""
    return from_mapping(read_toml(path), path)


def default_path() -> str:
    """``$VMTRACER_CONFIG``, else ``/mnt/flash/vmtracer.toml``."""
    return os.environ.get("VMTRACER_CONFIG") or DEFAULT_PATH


__all__ = [
    "DEFAULT_PATH",
    "CdpConfig",
    "Config",
    "ConfigError",
    "LogConfig",
    "SessionConfig",
    "SwitchConfig",
    "default_path",
    "from_mapping",
    "load",
    "read_toml",
]
