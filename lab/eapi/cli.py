"""The emulated EOS CLI: modes, configuration sessions and the commands the project uses.

What this module is for: :class:`Engine` holds the running configuration and the
configuration sessions; :meth:`Engine.execute` runs one eAPI request's commands
in a fresh CLI (exec mode, unprivileged, as eAPI does), one after the other,
stopping at the first error the way EOS does. Config sessions behave as on EOS:
``configure session NAME`` snapshots the running configuration, edits go to the
snapshot, ``commit`` replaces the running configuration with it, ``abort``
discards it, and a request that stops half-way leaves the session pending.

Supported: ``enable``/``disable``; ``configure [terminal]``; ``configure session
[NAME] [abort|commit]``; ``commit``; ``abort``; ``exit``; ``end``; ``hostname``;
``interface`` (single, ``Ethernet1-4,7``, abbreviations ``Et``/``Po``);
``[no] switchport``, ``switchport mode trunk|access``, ``switchport trunk allowed
vlan add|remove|except|none|all|LIST``, ``switchport trunk native vlan``,
``switchport access vlan``, ``[no] description``, ``[no] shutdown``, ``[no]
channel-group N mode active|passive|on``, ``[no] ip address``; ``[no] vlan LIST``,
``[no] name``; and the show commands of :mod:`lab.eapi.shows` plus ``show
running-config`` and ``show configuration sessions [detail]``.

It must never accept a command it does not know: anything else is "Invalid input"
(error 1002), as on EOS.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from lab.eapi import shows
from lab.eapi.state import (
    ALL_VLANS,
    Port,
    SwitchState,
    VlanListError,
    parse_vlan_list,
)

INVALID, COULD_NOT_RUN = 1002, 1000
MAX_PENDING_SESSIONS = 5

Command = Union[str, dict[str, Any]]


class CliError(Exception):
    """A command EOS would refuse: the eAPI error code, its short reason, the CLI errors."""

    def __init__(self, code: int, errors: list[str], data: Optional[dict[str, Any]] = None):
        super().__init__("; ".join(errors))
        self.code = code
        self.errors = errors
        self.data = data or {}

    @property
    def reason(self) -> str:
        return {INVALID: "invalid command", COULD_NOT_RUN: "could not run command"}.get(
            self.code, "command failed"
        )


def invalid(tokens: list[str], index: int) -> CliError:
    if index >= len(tokens):
        return CliError(INVALID, ["Incomplete command"])
    return CliError(INVALID, [f"Invalid input (at token {index}: '{tokens[index]}')"])


def could_not(message: str) -> CliError:
    return CliError(COULD_NOT_RUN, [message])


PRIVILEGED = "Invalid input (privileged mode required)"

_TYPES = {
    "ethernet": "Ethernet",
    "eth": "Ethernet",
    "et": "Ethernet",
    "port-channel": "Port-Channel",
    "po": "Port-Channel",
    "management": "Management",
    "ma": "Management",
}


@dataclass
class ConfigSession:
    """One named configuration session."""

    name: str
    config: SwitchState
    state: str = "pending"  # pending | completed
    completed_time: Optional[float] = None


@dataclass
class Engine:
    """The switch: running configuration, sessions, and one lock around each request."""

    running: SwitchState
    sessions: dict[str, ConfigSession] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _auto: int = 0

    def execute(
        self,
        commands: list[Command],
        fmt: str = "json",
        hook: Optional[Callable[[int, str], None]] = None,
    ) -> tuple[list[dict[str, Any]], Optional[tuple[int, CliError]]]:
        """Run one request; (results of the commands that ran, (index, error) or None).

        ``hook(index, command)`` runs before each command and may raise
        :class:`CliError` (fault injection).
        """
        cli = Cli(self)
        results: list[dict[str, Any]] = []
        with self.lock:
            for index, item in enumerate(commands):
                text = item.get("cmd", "") if isinstance(item, dict) else item
                try:
                    if hook is not None:
                        hook(index, str(text))
                    results.append(cli.run(str(text), fmt))
                except CliError as e:
                    return results, (index, e)
        return results, None

    def session_view(self) -> dict[str, dict[str, Any]]:
        return {
            s.name: {"state": s.state, "completedTime": s.completed_time}
            for s in self.sessions.values()
        }

    def auto_session_name(self) -> str:
        self._auto += 1
        return f"session{int(time.time())}{self._auto}"


class Cli:
    """One eAPI request's CLI: its mode, privilege and configuration target."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.privileged = False
        self.mode = "exec"  # exec | config | if | vlan
        self.session: Optional[str] = None
        self.ports: list[str] = []
        self.vlan_ids: list[int] = []

    @property
    def target(self) -> SwitchState:
        if self.session is not None:
            return self.engine.sessions[self.session].config
        return self.engine.running

    # -- dispatch -------------------------------------------------------------------------

    def run(self, command: str, fmt: str) -> dict[str, Any]:
        tokens = command.split()
        if not tokens:
            return self._done(fmt)
        if tokens[0] == "show":
            return self._show(tokens, fmt)
        if self.mode == "exec":
            self._exec(tokens)
        else:
            self._configure(tokens)
        return self._done(fmt)

    @staticmethod
    def _done(fmt: str) -> dict[str, Any]:
        return {"output": ""} if fmt == "text" else {}

    def _exec(self, tokens: list[str]) -> None:
        word = tokens[0]
        if word == "enable" and len(tokens) == 1:
            self.privileged = True
        elif word == "disable" and len(tokens) == 1:
            self.privileged = False
        elif word in ("exit", "end") and len(tokens) == 1:
            pass
        elif word == "configure":
            if not self.privileged:
                raise CliError(INVALID, [PRIVILEGED])
            self._configure_command(tokens)
        else:
            raise invalid(tokens, 0)

    def _configure_command(self, tokens: list[str]) -> None:
        if len(tokens) == 1 or (len(tokens) == 2 and tokens[1] == "terminal"):
            self.mode, self.session = "config", None
            return
        if tokens[1] != "session":
            raise invalid(tokens, 1)
        if len(tokens) == 2:
            self._enter_session(self.engine.auto_session_name())
            return
        name = tokens[2]
        if len(tokens) == 3:
            self._enter_session(name)
        elif len(tokens) == 4 and tokens[3] == "abort":
            self._abort(name)
        elif len(tokens) == 4 and tokens[3] == "commit":
            self._commit(name)
        else:
            raise invalid(tokens, 3)

    def _configure(self, tokens: list[str]) -> None:
        if self.mode == "if" and self._interface_command(tokens):
            return
        if self.mode == "vlan" and self._vlan_command(tokens):
            return
        self._global_command(tokens)

    # -- sessions -------------------------------------------------------------------------

    def _enter_session(self, name: str) -> None:
        sessions = self.engine.sessions
        existing = sessions.get(name)
        if existing is not None and existing.state != "pending":
            raise could_not(f"Cannot enter session {name} (session already committed)")
        if existing is None:
            pending = sum(1 for s in sessions.values() if s.state == "pending")
            if pending >= MAX_PENDING_SESSIONS:
                raise could_not(
                    "Maximum number of pending sessions has been reached. "
                    "Please commit or abort previous sessions before creating a new one"
                )
            sessions[name] = ConfigSession(name, self.engine.running.copy())
        self.mode, self.session = "config", name

    def _commit(self, name: Optional[str] = None) -> None:
        name = name or self.session
        session = self.engine.sessions.get(name or "")
        if session is None or session.state != "pending":
            raise could_not(f"Session {name} does not exist or is not pending")
        # As EOS documents it: the session's configuration replaces running-config.
        self.engine.running = session.config.copy()
        session.state, session.completed_time = "completed", time.time()
        for other in list(self.engine.sessions.values()):  # EOS keeps 1 completed session
            if other.state == "completed" and other is not session:
                del self.engine.sessions[other.name]
        self.mode, self.session = "exec", None

    def _abort(self, name: Optional[str] = None) -> None:
        name = name or self.session
        session = self.engine.sessions.get(name or "")
        if session is None or session.state != "pending":
            raise could_not(f"Session {name} does not exist or is not pending")
        del self.engine.sessions[session.name]
        if self.session == session.name:
            self.mode, self.session = "exec", None

    # -- global configuration -------------------------------------------------------------

    def _global_command(self, tokens: list[str]) -> None:
        word = tokens[0]
        negated = word == "no"
        body = tokens[1:] if negated else tokens
        if not body:
            raise invalid(tokens, 1)
        head = body[0]
        offset = 1 if negated else 0
        if not negated and word in ("exit", "end") and len(tokens) == 1:
            if word == "exit" and self.mode in ("if", "vlan"):
                self.mode = "config"
            else:
                self.mode, self.session = "exec", None
            return
        if not negated and word in ("commit", "abort") and len(tokens) == 1:
            if self.session is None:
                raise invalid(tokens, 0)
            self._commit() if word == "commit" else self._abort()
            return
        if head == "hostname" and not negated:
            if len(body) != 2:
                raise invalid(tokens, offset + min(len(body), 2))
            self.target.hostname = body[1]
        elif head == "interface":
            names = self._interface_names(tokens, offset + 1, create=not negated)
            if negated:
                for name in names:
                    if not name.startswith("Port-Channel"):
                        raise invalid(tokens, offset + 1)
                    self.target.interfaces.pop(name, None)
                self.mode = "config"
            else:
                self.mode, self.ports = "if", names
        elif head == "vlan":
            if len(body) != 2:
                raise invalid(tokens, offset + min(len(body), 2))
            ids = self._vlans(tokens, offset + 1)
            if negated:
                for vid in ids:
                    self.target.vlans.pop(vid, None)
                self.mode = "config"
            else:
                for vid in ids:
                    self.target.vlans.setdefault(vid, "")
                self.mode, self.vlan_ids = "vlan", sorted(ids)
        else:
            raise invalid(tokens, offset)

    def _interface_names(self, tokens: list[str], start: int, create: bool) -> list[str]:
        spec = "".join(tokens[start:])
        if not spec:
            raise invalid(tokens, start)
        names: list[str] = []
        kind: Optional[str] = None
        for part in spec.split(","):
            match = re.fullmatch(r"([A-Za-z-]*)((?:\d+/)*)(\d+)(?:-(\d+))?", part)
            if not match:
                raise invalid(tokens, start)
            word, slots, first, last = match.groups()
            if word:
                kind = _TYPES.get(word.lower())
            if kind is None:
                raise invalid(tokens, start)
            for number in range(int(first), int(last or first) + 1):
                names.append(f"{kind}{slots}{number}")
        config = self.target
        for name in names:
            if name not in config.interfaces:
                if create and name.startswith("Port-Channel"):
                    config.interfaces[name] = Port(name)
                else:
                    raise invalid(tokens, start)
        return names

    @staticmethod
    def _vlans(tokens: list[str], index: int) -> frozenset[int]:
        try:
            return parse_vlan_list(tokens[index])
        except (VlanListError, IndexError):
            raise invalid(tokens, index) from None

    # -- interface mode -------------------------------------------------------------------

    def _interface_command(self, tokens: list[str]) -> bool:
        negated = tokens[0] == "no"
        body = tokens[1:] if negated else tokens
        offset = 1 if negated else 0
        if not body:
            return False
        ports = [self.target.interfaces[n] for n in self.ports]
        head = body[0]
        if head == "switchport":
            self._switchport(tokens, body, offset, negated, ports)
        elif head == "description":
            text = " ".join(body[1:]) if not negated else ""
            if not negated and not text:
                raise invalid(tokens, offset + 1)
            for p in ports:
                p.description = text
        elif head == "shutdown" and len(body) == 1:
            for p in ports:
                p.shutdown = not negated
        elif head == "channel-group":
            self._channel_group(tokens, body, offset, negated, ports)
        elif head == "ip" and len(body) >= 2 and body[1] == "address":
            if negated:
                for p in ports:
                    p.ipv4 = ""
            elif len(body) != 3 or not re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", body[2]):
                raise invalid(tokens, offset + 2)
            else:
                for p in ports:
                    p.ipv4 = body[2]
        else:
            return False
        return True

    def _switchport(
        self, tokens: list[str], body: list[str], offset: int, negated: bool, ports: list[Port]
    ) -> None:
        rest = body[1:]
        if not rest:
            for p in ports:
                if negated:
                    p.mode = "routed"
                elif p.mode == "routed":
                    p.mode = "access"
            return
        if rest[0] == "mode":
            if negated:
                for p in ports:
                    p.mode = "access" if p.mode != "routed" else p.mode
                return
            if len(rest) != 2 or rest[1] not in ("trunk", "access"):
                raise invalid(tokens, offset + 2)
            for p in ports:
                p.mode = rest[1]
        elif rest[0] == "access" and rest[1:2] == ["vlan"]:
            if negated:
                for p in ports:
                    p.access_vlan = 1
                return
            vid = self._single_vlan(tokens, offset + 3, rest[2:])
            self.target.vlans.setdefault(vid, "")  # EOS creates a missing access VLAN
            for p in ports:
                p.access_vlan = vid
        elif rest[:3] == ["trunk", "native", "vlan"]:
            if negated:
                for p in ports:
                    p.native_vlan = 1
                return
            vid = self._single_vlan(tokens, offset + 4, rest[3:])
            for p in ports:
                p.native_vlan = vid
        elif rest[:3] == ["trunk", "allowed", "vlan"]:
            self._allowed(tokens, rest[3:], offset + 4, negated, ports)
        else:
            raise invalid(tokens, offset + 1)

    def _single_vlan(self, tokens: list[str], index: int, args: list[str]) -> int:
        if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 4094:
            raise invalid(tokens, index if args else len(tokens))
        return int(args[0])

    def _allowed(
        self, tokens: list[str], args: list[str], index: int, negated: bool, ports: list[Port]
    ) -> None:
        if negated:
            if args:
                raise invalid(tokens, index)
            for p in ports:
                p.allowed = None
            return
        if not args:
            raise invalid(tokens, index)
        verb = args[0]
        if verb in ("all", "none"):
            if len(args) != 1:
                raise invalid(tokens, index + 1)
            for p in ports:
                p.allowed = None if verb == "all" else frozenset()
            return
        if verb in ("add", "remove", "except"):
            if len(args) != 2:
                raise invalid(tokens, index + min(len(args), 2))
            ids = self._vlans(tokens, index + 1)
        else:
            if len(args) != 1:
                raise invalid(tokens, index + 1)
            ids = self._vlans(tokens, index)
            verb = "set"
        for p in ports:
            current = ALL_VLANS if p.allowed is None else p.allowed
            if verb == "add":
                new = current | ids
            elif verb == "remove":
                new = current - ids
            elif verb == "except":
                new = ALL_VLANS - ids
            else:
                new = ids
            p.allowed = None if new == ALL_VLANS else frozenset(new)

    def _channel_group(
        self, tokens: list[str], body: list[str], offset: int, negated: bool, ports: list[Port]
    ) -> None:
        if any(p.kind != "Ethernet" for p in ports):
            raise invalid(tokens, offset)
        if negated:
            for p in ports:
                p.channel_group = None
            return
        if (
            len(body) != 4
            or not body[1].isdigit()
            or body[2] != "mode"
            or body[3] not in ("active", "passive", "on")
        ):
            raise invalid(tokens, offset + 1)
        number = int(body[1])
        po = f"Port-Channel{number}"
        self.target.interfaces.setdefault(po, Port(po))
        for p in ports:
            p.channel_group, p.channel_mode = number, body[3]

    # -- VLAN mode ------------------------------------------------------------------------

    def _vlan_command(self, tokens: list[str]) -> bool:
        if tokens[0] == "name":
            if len(tokens) != 2 or len(tokens[1]) > 32:
                raise invalid(tokens, min(len(tokens), 2))
            for vid in self.vlan_ids:
                self.target.vlans[vid] = tokens[1]
            return True
        if tokens[:2] == ["no", "name"] and len(tokens) == 2:
            for vid in self.vlan_ids:
                self.target.vlans[vid] = ""
            return True
        return False

    # -- show -----------------------------------------------------------------------------

    def _show(self, tokens: list[str], fmt: str) -> dict[str, Any]:
        command = " ".join(tokens)
        config = self.engine.running  # inside a session, show still reads running-config
        if command == "show running-config":
            if not self.privileged:
                raise CliError(INVALID, [PRIVILEGED])
            text = config.running_config()
            return {"output": text} if fmt == "text" else shows.running_config_json(text)
        if command in ("show configuration sessions", "show configuration sessions detail"):
            data = shows.show_configuration_sessions(self.engine.session_view())
            if fmt == "text":
                lines = [f"{n:<20} {s['state']}" for n, s in data["sessions"].items()]
                return {"output": "\n".join(["Name                 State", *lines, ""])}
            return data
        if tokens[:3] == ["show", "ip", "interface"] and len(tokens) == 4 and fmt == "json":
            try:
                return shows.show_ip_interface_one(config, tokens[3])
            except shows.NotConfigured as e:
                raise could_not(str(e)) from None
        builder = shows.JSON_SHOWS.get(command)
        if builder is None:
            raise self._unknown_show(tokens)
        try:
            if fmt == "text":
                text_builder = shows.TEXT_SHOWS.get(command)
                if text_builder is None:
                    raise could_not(f"'{command}': text output is not emulated (ask for json)")
                return {"output": text_builder(config)}
            return builder(config)
        except shows.NotConfigured as e:
            raise could_not(str(e)) from None

    @staticmethod
    def _unknown_show(tokens: list[str]) -> CliError:
        known = [
            *shows.JSON_SHOWS,
            "show running-config",
            "show configuration sessions detail",
        ]
        best = 0
        for candidate in known:
            words = candidate.split()
            n = 0
            while n < min(len(words), len(tokens)) and words[n] == tokens[n]:
                n += 1
            best = max(best, n)
        return invalid(tokens, best)
