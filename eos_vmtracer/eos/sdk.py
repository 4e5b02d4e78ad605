"""The glue to EOS's ``eossdk`` module: ``vmtracer run`` as an EOS SDK daemon.

What this module is for: on a switch, ``eossdk`` can be imported and ``vmtracer
run`` (started by ProcMgr through ``daemon EosVmTracer`` / ``exec
/usr/bin/vmtracer run``) hands over to :func:`run`: the SDK's loop on the main
thread, the SDK's callbacks passed to a :class:`~eos_vmtracer.eos.controller.Controller`,
the controller's calls passed to the SDK. Where ``eossdk`` cannot be imported (a
build machine, a test run) :func:`available` is false, nothing here runs and
``vmtracer run`` behaves exactly as before.

It must never let an exception escape into the SDK's C++ loop, never call the SDK
from another thread, and never leave its signal handlers or wakeup fd installed
after the loop returns.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any, Callable, Optional

from eos_vmtracer.config import Config
from eos_vmtracer.eos.controller import AgentLike, Controller, Mailbox, default_agent
from eos_vmtracer.eos.options import daemon_name

log = logging.getLogger("eos_vmtracer.eossdk")

DISABLE_ENV = "VMTRACER_NO_EOSSDK"
"""Set (to anything) to run ``vmtracer run`` without the SDK even where it exists."""


def available() -> bool:
    """True when ``eossdk`` can be imported and :data:`DISABLE_ENV` is not set."""
    if os.environ.get(DISABLE_ENV):
        return False
    try:
        return importlib.util.find_spec("eossdk") is not None
    except (ImportError, ValueError):
        return False


class Signals:
    """Our SIGTERM/SIGINT handlers and wakeup fd: installed once the SDK's loop runs.

    The EOS SDK installs its own handler for SIGTERM and SIGINT (one that leaves the
    event loop at once), possibly only when ``main_loop`` starts. Installed before
    that, ours would be replaced: a SIGTERM would end the loop with the agent
    thread still running, skipping the graceful stop. So :meth:`install` is called
    from ``on_initialized`` (the loop runs by then) and replaces the SDK's; after
    the loop :meth:`restore` puts back what was there.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, controller: Controller, mailbox: Mailbox) -> None:
        self.controller = controller
        self.mailbox = mailbox
        self._previous: dict[int, Any] = {}
        self._old_wakeup: Optional[int] = None

    def _on_signal(self, signum: int, _frame: Optional[FrameType]) -> None:
        self.controller.terminate_requested = True
        self.mailbox.poke()

    def install(self) -> None:
        """Ours in place of whatever is there (once; main thread only)."""
        if self._old_wakeup is not None:
            return
        for s in self.SIGNALS:
            self._previous[s] = signal.signal(s, self._on_signal)
        self._old_wakeup = signal.set_wakeup_fd(self.mailbox.write_fd())

    def restore(self) -> None:
        """What was there before :meth:`install` (a no-op if it never ran)."""
        if self._old_wakeup is None:
            return
        signal.set_wakeup_fd(self._old_wakeup)
        self._old_wakeup = None
        for s, handler in self._previous.items():
            if handler is not None:  # None: a handler not set from Python; leave ours
                signal.signal(s, handler)
        self._previous.clear()


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
            # vCenter through a VRF: the SDK's socket_at where this EOS has it (see vrf.py).
            get_vrf_mgr = getattr(sdk, "get_vrf_mgr", None)
            if get_vrf_mgr is not None:
                from eos_vmtracer.vcenter import vrf

                vrf.use_sdk(get_vrf_mgr())
            sdk_module.AgentHandler.__init__(self, self.agent_mgr)
            sdk_module.FdHandler.__init__(self)
            sdk_module.TimeoutHandler.__init__(self, self.timeout_mgr)
            self.fd = fd
            self.controller: Optional[Controller] = None
            self.signals: Optional[Signals] = None

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
            if self.signals is not None:  # the loop runs: whatever the SDK set is in place
                self._call("install signal handlers", self.signals.install)
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
    make_agent: Callable[[Config], AgentLike] = default_agent,
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
    signals = bridge.signals = Signals(controller, mailbox)
    log.info("EOS SDK daemon %s: starting", name)
    try:
        sdk.main_loop(list(sys.argv if argv is None else argv))
    finally:
        signals.restore()
        mailbox.close()
    return controller.exit_code
