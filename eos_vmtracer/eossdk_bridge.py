"""Run the agent as an EOS SDK daemon: ``option`` lines in, ``status_set`` out.

What this module is for: on a switch, EOS's ``eossdk`` module can be imported and
``vmtracer run`` (started by ProcMgr through ``daemon EosVmTracer`` / ``exec
/usr/bin/vmtracer run``) hands over to :func:`run`. The daemon's ``option``
lines become configuration (on top of the TOML file, see
:func:`config_from_options`); the agent's published status becomes key/value
status that ``show daemon EosVmTracer`` (and eAPI) shows (:func:`status_items`).
Where ``eossdk`` cannot be imported (a build machine, a test run) nothing here
runs and ``vmtracer run`` behaves exactly as before.

How the SDK's main loop and the agent's loop coexist:

- The SDK owns the main thread: ``sdk.main_loop()`` runs there until the agent
  asks it to exit, and every SDK call (options, ``status_set``, shutdown) is made
  from that thread only, inside an SDK callback. The SDK is not thread-safe.
- :class:`~eos_vmtracer.agent.Agent` runs its reconcile loop on one worker thread
  (``vmtracer-agent``); its vCenter and CDP threads are its own, as without EOS.
  The SWIG wrapper releases the GIL while ``main_loop`` waits, so both progress.
- Agent to SDK: every status document the agent publishes goes into a one-slot
  :class:`Mailbox` (newer replaces older: status is a level, not a log) and one
  byte is written to a self-pipe. The SDK watches the pipe's read end
  (``FdHandler``); its callback takes the latest document and calls
  ``status_set`` for the keys that changed.
- SDK to agent: option changes are debounced (``TimeoutHandler``,
  :data:`OPTION_SETTLE` s after the last one), validated, and, when the
  configuration really changed, the running agent is asked to stop
  (``Agent.stop()`` is thread-safe; a reconcile in progress finishes) and a new
  one starts with the new configuration when the old thread has ended. The ledger
  on flash makes that restart safe. A configuration error keeps the running agent
  on its last good configuration and says so in the status.
- ``shutdown`` (``on_agent_enabled(False)``) stops the agent the same way and
  only then reports ``agent_shutdown_complete_is(True)``. SIGTERM/SIGINT set a
  flag; ``signal.set_wakeup_fd`` on the same pipe wakes the SDK loop so the flag
  is handled in a callback (never re-entrantly), the agent stops, then the loop
  exits.

It must never call the SDK from any thread but the main loop's, never block the
SDK loop waiting for the agent, never lose a configuration error silently, and
never put a secret in a status value (the status document holds none).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import fields
from types import FrameType
from typing import Any, Callable, Mapping, Optional, Protocol

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
from eos_vmtracer.messages import Message, emit
from eos_vmtracer.shown import shown

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised under Python 3.9
    import tomli as tomllib

log = logging.getLogger("eos_vmtracer.eossdk")

DEFAULT_DAEMON = "EosVmTracer"
"""The daemon name README configures (``daemon EosVmTracer``)."""
DISABLE_ENV = "VMTRACER_NO_EOSSDK"
"""Set (to anything) to run ``vmtracer run`` without the SDK even where it exists."""
OPTION_SETTLE = 1.0
"""Seconds without another option change before the options are applied."""
RETRY_INVALID = 30.0
"""Seconds between attempts while there is no valid configuration (a password file
that appears later, a file edited in place)."""
MAX_VALUE = 1000
"""Longest status value published (EOS allows 10 KB; shorter reads better)."""
CONFIG_OPTION = "config"

_SECTIONS: Mapping[str, type] = {"switch": SwitchConfig, "cdp": CdpConfig, "log": LogConfig}


def available() -> bool:
    """True when ``eossdk`` can be imported and :data:`DISABLE_ENV` is not set."""
    if os.environ.get(DISABLE_ENV):
        return False
    try:
        return importlib.util.find_spec("eossdk") is not None
    except (ImportError, ValueError):
        return False


def daemon_name(environ: Optional[Mapping[str, str]] = None) -> str:
    """The agent name to register with: ``AGENT_PROCESS_NAME`` as the SDK reads it, or
    :data:`DEFAULT_DAEMON`."""
    env = os.environ if environ is None else environ
    name = env.get("AGENT_PROCESS_NAME", "").strip()
    if "-" in name and not name.endswith("-"):
        name = name.rsplit("-", 1)[1]
    return name or DEFAULT_DAEMON


# -- options -> configuration --------------------------------------------------------------


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


# -- status document -> daemon status ------------------------------------------------------


def _clock(t: Any) -> str:
    if not t:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(t)))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def status_items(doc: Mapping[str, Any]) -> dict[str, str]:
    """The daemon status keys and values for one status document (short, no secrets)."""
    agent = doc.get("agent", {})
    sw = doc.get("switch", {})
    items: dict[str, str] = {
        "version": str(agent.get("version", "")),
        "pid": str(agent.get("pid", "")),
        "updated": _clock(agent.get("updated")),
        "dry_run": "yes" if agent.get("dry_run") else "no",
    }
    if sw.get("reachable"):
        items["eapi"] = (
            f"ok: {sw.get('hostname', '')} ({sw.get('model', '')}, EOS {sw.get('version', '')})"
        )
    else:
        items["eapi"] = f"unreachable since {_clock(sw.get('since'))}: {sw.get('error', '')}"
    for s in doc.get("sessions", []):
        text = (
            f"{s['state']}, {'synced' if s['synced'] else 'not synced'}, {s['hosts']} hosts,"
            f" {s['vms']} VMs, VLANs {s['allowed_vlans']},"
            f" autovlan {'on' if s['autovlan'] else 'off'}"
        )
        if s.get("error"):
            text += f", error: {s['error']}"
        items[f"session.{s['name']}"] = text
    interfaces = doc.get("interfaces", [])
    edge = sum(1 for i in interfaces if i["role"] == "edge")
    dynamic = sum(1 for i in interfaces if i["dynamic"])
    pending = sum(len(i["pending"]) for i in interfaces)
    items["interfaces"] = (
        f"{len(interfaces)} managed ({edge} edge, {len(interfaces) - edge} uplink),"
        f" {dynamic} with dynamic VLANs, {pending} removals pending"
    )
    items["vms"] = str(len(doc.get("vms", [])))
    last = agent.get("last_reconcile", {})
    items["last_reconcile"] = (
        f"{last.get('result', 'none')} at {_clock(last.get('at'))}"
        f" ({last.get('duration_ms', 0)} ms)" + (f": {last['error']}" if last.get("error") else "")
    )
    counters = agent.get("counters", {})
    items["counters"] = ", ".join(f"{k}={v}" for k, v in sorted(counters.items()))
    withheld = doc.get("withheld", [])
    if withheld:
        items["withheld"] = f"{len(withheld)} change(s) withheld; see vmtracer explain"
    # Shown by "show daemon": escaped like every human channel (names come from vCenter).
    return {shown(k): _clip(shown(v)) for k, v in items.items()}


# -- the controller (SDK thread only) ------------------------------------------------------


class SdkPort(Protocol):
    """What the controller needs of the SDK (all called on the SDK's thread)."""

    def options(self) -> dict[str, str]: ...
    def status_set(self, key: str, value: str) -> None: ...
    def status_del(self, key: str) -> None: ...
    def shutdown_complete(self) -> None: ...
    def exit(self) -> None: ...
    def schedule(self, seconds: float) -> None: ...


class AgentLike(Protocol):
    """What the controller needs of :class:`~eos_vmtracer.agent.Agent`."""

    config: Config
    observers: list[Callable[[dict[str, Any]], None]]

    def run(self) -> None: ...
    def stop(self) -> None: ...


class Mailbox:
    """One status document handed from the agent's thread to the SDK's, plus a self-pipe.

    :meth:`post` and :meth:`poke` may be called from any thread; the SDK watches
    :meth:`fileno` and calls :meth:`drain` and :meth:`take` on its own thread.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._lock = threading.Lock()
        self._doc: Optional[dict[str, Any]] = None

    def fileno(self) -> int:
        """The read end, for the SDK's fd watch."""
        return self._read

    def write_fd(self) -> int:
        """The write end (also ``signal.set_wakeup_fd``'s target)."""
        return self._write

    def post(self, doc: dict[str, Any]) -> None:
        """Keep ``doc`` as the latest document and wake the reader."""
        with self._lock:
            self._doc = doc
        self.poke()

    def poke(self) -> None:
        """Wake the reader (a full pipe is already readable: nothing lost)."""
        with contextlib.suppress(OSError):  # BlockingIOError: full, so already readable
            os.write(self._write, b"\0")

    def drain(self) -> None:
        """Empty the pipe."""
        while True:
            try:
                if not os.read(self._read, 4096):
                    return
            except (BlockingIOError, OSError):
                return

    def take(self) -> Optional[dict[str, Any]]:
        """The latest document, once."""
        with self._lock:
            doc, self._doc = self._doc, None
        return doc

    def close(self) -> None:
        """Close both ends."""
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _default_agent(config: Config) -> AgentLike:
    from eos_vmtracer.agent import Agent

    return Agent(config)


class Controller:
    """Starts, restarts and stops the agent for the SDK; every method runs on the SDK thread."""

    def __init__(
        self,
        port: SdkPort,
        name: str,
        config_path: Optional[str],
        mailbox: Mailbox,
        make_agent: Callable[[Config], AgentLike] = _default_agent,
    ) -> None:
        self.port = port
        self.name = name
        self.config_path = config_path
        self.mailbox = mailbox
        self.make_agent = make_agent
        self.exit_code = 0
        self.terminate_requested = False  # set by the signal handler; handled in readable()
        self._agent: Optional[AgentLike] = None
        self._thread: Optional[threading.Thread] = None
        self._done = threading.Event()  # set by the worker thread as its last act
        self._pending: Optional[Config] = None
        self._crashed = False
        self._shutting_down = False
        self._exiting = False
        self._own: dict[str, str] = {}  # status keys the controller sets
        self._doc_keys: dict[str, str] = {}  # status keys from the agent's document

    # -- SDK events ------------------------------------------------------------------------
    def initialized(self) -> None:
        """The SDK is ready: read the options and start."""
        self._set("state", "starting")
        self._reload()

    def option_changed(self) -> None:
        """An option changed: apply once they settle."""
        self.port.schedule(OPTION_SETTLE)

    def timeout(self) -> None:
        """The option settle time (or the retry time of a bad configuration) has passed."""
        if not self._shutting_down and not self._exiting:
            self._reload()

    def enabled(self, on: bool) -> None:
        """``no shutdown`` / ``shutdown`` of the daemon."""
        if on:
            if self._shutting_down:
                self._shutting_down = False
                if self._agent is not None:
                    self._pending = self._agent.config
                else:
                    self._reload()
            return
        self._shutting_down = True
        self._pending = None
        if self._agent is not None:
            self._set("state", "shutting down")
            self._agent.stop()
        else:
            self._set("state", "stopped")
            self.port.shutdown_complete()

    def readable(self) -> None:
        """The self-pipe woke us: publish the latest status, handle signals and exits."""
        self.mailbox.drain()
        doc = self.mailbox.take()
        if doc is not None and self._agent is not None:
            self._publish(doc)
        if self.terminate_requested and not self._exiting:
            self.terminate()
        thread = self._thread
        # Not thread.is_alive(): the worker pokes just before it ends, and the poke
        # can be read while the thread is still returning. The event is set first.
        if thread is not None and self._done.is_set():
            thread.join()
            self._ended()

    def terminate(self) -> None:
        """SIGTERM/SIGINT: stop the agent, then leave the SDK loop."""
        self._exiting = True
        self._pending = None
        if self._agent is not None:
            self._set("state", "stopping")
            self._agent.stop()
        else:
            self.port.exit()

    @property
    def agent(self) -> Optional[AgentLike]:
        """The running agent (for tests)."""
        return self._agent

    # -- internals ---------------------------------------------------------------------------
    def _reload(self) -> None:
        try:
            config = config_from_options(self.port.options(), self.config_path, self.name)
        except ConfigError as e:
            emit(log, Message.CONFIG, error=e)
            self._set("config_error", shown(str(e)))
            if self._agent is None:
                self._set("state", "waiting for a valid configuration")
                self.port.schedule(RETRY_INVALID)
            else:
                log.error("still running with the previous configuration")
            return
        self._del("config_error")
        if self._agent is not None:
            if config == self._agent.config and self._pending is None:
                return
            emit(log, Message.RESTART)
            self._pending = config
            self._set("state", "restarting")
            self._agent.stop()
            return
        self._start(config)

    def _start(self, config: Config) -> None:
        from eos_vmtracer import logsetup

        self._pending = None
        logsetup.setup(config.log)
        try:
            os.makedirs(config.switch.state_dir, exist_ok=True)
            os.makedirs(config.switch.run_dir, exist_ok=True)
            agent = self.make_agent(config)
        except Exception as e:  # bad eAPI settings, unwritable flash: say so, try again
            emit(log, Message.START_FAILED, error=e)
            self._set("state", shown(f"cannot start: {e}"))
            self.port.schedule(RETRY_INVALID)
            return
        agent.observers.append(self.mailbox.post)
        self._crashed = False
        self._done = threading.Event()
        thread = threading.Thread(
            target=self._run_agent,
            args=(agent, self._done),
            name="vmtracer-agent",
            daemon=True,
        )
        self._agent, self._thread = agent, thread
        self._set("config", config.source)
        self._set("run_dir", config.switch.run_dir)
        self._set("state", "running")
        thread.start()

    def _run_agent(self, agent: AgentLike, done: threading.Event) -> None:
        """The worker thread: the agent's own loop."""
        try:
            agent.run()
        except BaseException:
            emit(log, Message.CRASH, exc_info=True)
            self._crashed = True
        finally:
            done.set()
            self.mailbox.poke()

    def _ended(self) -> None:
        crashed = self._crashed
        self._agent = self._thread = None
        self._clear_doc()
        if self._exiting or self._shutting_down:
            self._set("state", "stopped")
            if self._shutting_down:
                self.port.shutdown_complete()
            if self._exiting:
                self.port.exit()
            return
        if self._pending is not None and not crashed:
            self._start(self._pending)
            return
        # The agent ended on its own: exit non-zero so that ProcMgr starts us again.
        self.exit_code = 1
        self._set("state", "crashed; exiting so that ProcMgr restarts the daemon")
        self.port.exit()

    def _publish(self, doc: Mapping[str, Any]) -> None:
        items = status_items(doc)
        for key in [k for k in self._doc_keys if k not in items]:
            del self._doc_keys[key]
            self.port.status_del(key)
        for key, value in items.items():
            if self._doc_keys.get(key) != value:
                self._doc_keys[key] = value
                self.port.status_set(key, value)

    def _clear_doc(self) -> None:
        for key in list(self._doc_keys):
            self.port.status_del(key)
        self._doc_keys.clear()

    def _set(self, key: str, value: str) -> None:
        value = _clip(value)
        if self._own.get(key) != value:
            self._own[key] = value
            self.port.status_set(key, value)

    def _del(self, key: str) -> None:
        if self._own.pop(key, None) is not None:
            self.port.status_del(key)


# -- the SDK glue ----------------------------------------------------------------------------


def _bridge_class(sdk_module: Any) -> type:
    """The SDK handler class (built at run time: its bases come from ``eossdk``)."""

    class Bridge(
        sdk_module.AgentHandler,  # type: ignore[misc]
        sdk_module.FdHandler,  # type: ignore[misc]
        sdk_module.TimeoutHandler,  # type: ignore[misc]
    ):
        """SDK callbacks -> :class:`Controller`; :class:`SdkPort` -> SDK calls."""

        def __init__(self, sdk: Any, fd: int) -> None:
            self.agent_mgr = sdk.get_agent_mgr()
            self.timeout_mgr = sdk.get_timeout_mgr()
            sdk_module.AgentHandler.__init__(self, self.agent_mgr)
            sdk_module.FdHandler.__init__(self)
            sdk_module.TimeoutHandler.__init__(self, self.timeout_mgr)
            self.fd = fd
            self.controller: Optional[Controller] = None

        # SdkPort
        def options(self) -> dict[str, str]:
            return {
                str(k): str(self.agent_mgr.agent_option(k))
                for k in self.agent_mgr.agent_option_iter()
            }

        def status_set(self, key: str, value: str) -> None:
            self.agent_mgr.status_set(key, value)

        def status_del(self, key: str) -> None:
            self.agent_mgr.status_del(key)

        def shutdown_complete(self) -> None:
            self.agent_mgr.agent_shutdown_complete_is(True)

        def exit(self) -> None:
            self.agent_mgr.exit()

        def schedule(self, seconds: float) -> None:
            self.timeout_time_is(sdk_module.now() + seconds)

        # callbacks: an exception must never escape into the SDK's C++ loop
        def _call(self, what: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except Exception:
                log.exception("EOS SDK callback %s failed", what)

        def on_initialized(self) -> None:
            self.watch_readable(self.fd, True)
            c = self.controller
            assert c is not None
            self._call("on_initialized", c.initialized)

        def on_agent_option(self, name: str, value: str) -> None:
            c = self.controller
            assert c is not None
            self._call("on_agent_option", c.option_changed)

        def on_agent_enabled(self, enabled: bool) -> None:
            c = self.controller
            assert c is not None
            self._call("on_agent_enabled", lambda: c.enabled(bool(enabled)))

        def on_readable(self, fd: int) -> None:
            c = self.controller
            assert c is not None
            self._call("on_readable", c.readable)

        def on_timeout(self) -> None:
            c = self.controller
            assert c is not None
            self._call("on_timeout", c.timeout)

    return Bridge


def run(
    config_path: Optional[str],
    *,
    sdk_module: Any = None,
    make_agent: Callable[[Config], AgentLike] = _default_agent,
    argv: Optional[list[str]] = None,
) -> int:
    """``vmtracer run`` under EOS: the SDK's loop on this (main) thread, the agent on
    a worker thread. Returns the exit status."""
    if sdk_module is None:
        sdk_module = importlib.import_module("eossdk")

    from eos_vmtracer import logsetup

    logging.basicConfig(level=logging.INFO, handlers=[logsetup.stderr_handler()])
    name = daemon_name()
    sdk = sdk_module.Sdk(name)
    mailbox = Mailbox()
    bridge = _bridge_class(sdk_module)(sdk, mailbox.fileno())
    controller = Controller(bridge, name, config_path, mailbox, make_agent)
    bridge.controller = controller

    def on_signal(signum: int, _frame: Optional[FrameType]) -> None:
        controller.terminate_requested = True
        mailbox.poke()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    old_wakeup = signal.set_wakeup_fd(mailbox.write_fd())
    log.info("EOS SDK daemon %s: starting", name)
    try:
        sdk.main_loop(list(sys.argv if argv is None else argv))
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for s, handler in previous.items():
            signal.signal(s, handler)
        mailbox.close()
    return controller.exit_code
