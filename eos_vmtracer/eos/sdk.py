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
    make_agent: Callable[[Config], AgentLike] = default_agent,
    argv: Optional[list[str]] = None,
) -> int:
    """``vmtracer run`` under EOS: the SDK's loop on this (main) thread, the agent on
    a worker thread. Returns the exit status."""
    if sdk_module is None:
        sdk_module = importlib.import_module("eossdk")

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
