"""Start, restart and stop the agent for the EOS SDK; carry its status to the SDK's thread.

What this module is for: the SDK's callbacks (see :mod:`eos_vmtracer.eos.sdk`)
land in a :class:`Controller`, which owns the agent's life on a daemon:

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
  ``status_set`` for the keys that changed (rendered by
  :func:`eos_vmtracer.render.daemon_status`).
- SDK to agent: option changes are debounced (``TimeoutHandler``,
  :data:`OPTION_SETTLE` s after the last one), validated, and, when the
  configuration really changed, the running agent is asked to stop
  (``Agent.stop()`` is thread-safe; a reconcile in progress finishes) and a new
  one starts with the new configuration when the old thread has ended. The ledger
  on flash makes that restart safe. A configuration error keeps the running agent
  on its last good configuration and says so in the status.
- ``shutdown`` (``on_agent_enabled(False)``) stops the agent the same way and
  only then reports ``agent_shutdown_complete_is(True)``. SIGTERM/SIGINT set
  :attr:`Controller.terminate_requested` and poke the pipe, so the request is
  handled in a callback (never re-entrantly): the agent stops, then the loop exits.

It must never call the SDK from any thread but the main loop's, never block the
SDK loop waiting for the agent, never lose a configuration error silently, and
never put a secret in a status value (the status document holds none).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any, Callable, Mapping, Optional, Protocol

from eos_vmtracer.config import Config, ConfigError
from eos_vmtracer.eos import presence
from eos_vmtracer.eos.options import DEFAULT_DAEMON, config_from_options
from eos_vmtracer.messages import Message, emit
from eos_vmtracer.render import clip_daemon_value, daemon_status
from eos_vmtracer.shown import shown
from eos_vmtracer.status_types import StatusDocument

log = logging.getLogger("eos_vmtracer.eossdk")

OPTION_SETTLE = 1.0
"""Seconds without another option change before the options are applied."""
RETRY_INVALID = 30.0
"""Seconds between attempts while there is no valid configuration (a password file
that appears later, a file edited in place)."""


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
    observers: list[Callable[[StatusDocument], None]]

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
        self._doc: Optional[StatusDocument] = None

    def fileno(self) -> int:
        """The read end, for the SDK's fd watch."""
        return self._read

    def write_fd(self) -> int:
        """The write end (also ``signal.set_wakeup_fd``'s target)."""
        return self._write

    def post(self, doc: StatusDocument) -> None:
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

    def take(self) -> Optional[StatusDocument]:
        """The latest document, once."""
        with self._lock:
            doc, self._doc = self._doc, None
        return doc

    def close(self) -> None:
        """Close both ends."""
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def default_agent(config: Config) -> AgentLike:
    """The real agent (imported here: the agent pulls in every adapter)."""
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
        make_agent: Callable[[Config], AgentLike] = default_agent,
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
        self._option_names: tuple[str, ...] = ()  # as last read (names only, no values)
        self._doc_keys: dict[str, str] = {}  # status keys from the agent's document

    # -- SDK events ------------------------------------------------------------------------
    def initialized(self) -> None:
        """The SDK is ready: say under which name and with which options, then start."""
        self._set("state", "starting")
        options = sorted(self.port.options())
        if options:
            log.info("EOS SDK daemon %s: options %s", self.name, ", ".join(options))
        else:
            emit(log, Message.DAEMON_NO_OPTION, name=self.name)
        if self.name != DEFAULT_DAEMON:
            emit(log, Message.DAEMON_NAME, name=self.name, expected=DEFAULT_DAEMON)
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
        options = self.port.options()
        self._option_names = tuple(sorted(k for k, v in options.items() if v.strip()))
        try:
            config = config_from_options(options, self.config_path, self.name)
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
        try:  # for vmtracer check: which daemon this is, which options it saw
            me = presence.Presence(self.name, os.getpid(), self._option_names)
            presence.write(config.switch.run_dir, me)
        except OSError as e:
            log.warning("cannot write %s: %s", presence.path(config.switch.run_dir), e)
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
        if self._agent is not None:
            presence.clear(self._agent.config.switch.run_dir)
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
        items = daemon_status(doc)
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
        value = clip_daemon_value(value)
        if self._own.get(key) != value:
            self._own[key] = value
            self.port.status_set(key, value)

    def _del(self, key: str) -> None:
        if self._own.pop(key, None) is not None:
            self.port.status_del(key)
