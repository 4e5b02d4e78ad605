"""The switch as the agent sees it: read the facts, apply a plan atomically, run checks.

What this module is for: :class:`EapiSwitch`, the one object the agent and the
CLI use to talk to EOS.

- :meth:`EapiSwitch.facts` reads everything the planner needs in ONE request.
- :meth:`EapiSwitch.apply` sends a whole plan in ONE request: ``enable``,
  ``configure session vmtracer-<unique>``, the plan's lines, ``commit``, then the
  facts' show commands, so the caller can confirm what the switch has after the
  commit without a second request. EOS edits the session's copy of the
  configuration and changes the running configuration only at ``commit``; if any
  command up to ``commit`` fails, the session is left pending and is aborted by a
  second request, so nothing half-applied remains (and nothing after the failing
  command runs: the shows only run after a commit).
- Transient failures (connection refused or reset, timeout, HTTP 5xx, a session
  or configuration lock) are retried ``retries`` times with exponential backoff
  and jitter, then raised; permanent ones (invalid command, permission) are
  raised at once.

Re-sending an apply after a timeout is safe: the first attempt may or may not
have committed, but every line of a plan is idempotent — ``vlan N`` / ``name X``
set absolute values, ``switchport trunk allowed vlan add|remove LIST`` adds or
removes exactly those VLANs whatever is there, ``no vlan N`` of an absent VLAN
changes nothing — so applying it twice leaves the same configuration as once.
Each attempt uses a fresh session name and the previous attempt's session is
aborted first (a no-op if it committed).

It must never leave a configuration session pending on purpose, never retry a
permanent error, and never import pyeapi (``transport`` owns it).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Callable, Optional, Protocol, Sequence

from eos_vmtracer.backoff import Backoff
from eos_vmtracer.config import SwitchConfig
from eos_vmtracer.model import SwitchFacts
from eos_vmtracer.planner import Plan
from eos_vmtracer.switch.commands import abort_commands, plan_commands, session_commands
from eos_vmtracer.switch.errors import CommittedSwitchError, SwitchError, TransientSwitchError
from eos_vmtracer.switch.facts import (
    OPTIONAL_COMMANDS,
    REQUIRED_COMMANDS,
    SHOW_SESSIONS,
    parse_facts,
    stale_sessions,
)
from eos_vmtracer.switch.transport import Command, EapiTransport, Reply

log = logging.getLogger(__name__)

SESSION_PREFIX = "vmtracer-"
#: What :meth:`EapiSwitch.facts` sends, and what :meth:`EapiSwitch.apply` sends after ``commit``.
FACTS_COMMANDS: tuple[str, ...] = (*REQUIRED_COMMANDS, *OPTIONAL_COMMANDS)


class Transport(Protocol):
    """What :class:`EapiSwitch` needs from a transport (unit tests pass a fake)."""

    requests: int

    def send(self, commands: Sequence[Command], fmt: str = "json") -> Reply:
        """Send one request."""

    def close(self) -> None:
        """Release the connection."""


class EapiSwitch:
    """The local switch through eAPI; one caller at a time (not thread-safe).

    Construction raises :class:`~eos_vmtracer.switch.errors.PermanentSwitchError`
    when the transport cannot be set up (unknown transport, unreadable password
    file, unset password variable); it sends nothing.
    """

    def __init__(
        self,
        cfg: SwitchConfig,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: Optional[Transport] = None,
    ) -> None:
        self._retries = max(0, retries)
        first = max(0.0, backoff)  # doubling with every retry, never capped before the last
        self._policy = Backoff(initial=first, maximum=first * 2**self._retries)
        self._sleep = sleep
        self._transport: Transport = transport if transport is not None else EapiTransport(cfg)
        self._stale: set[str] = set()  # our pending sessions to abort before the next apply
        self._last: Optional[SwitchFacts] = None

    # -- public ---------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """eAPI requests sent so far (tests and benchmarks read it)."""
        return self._transport.requests

    def facts(self) -> SwitchFacts:
        """Read the switch facts in one request (retried when transient)."""
        reply = self._request(FACTS_COMMANDS, optional_from=len(REQUIRED_COMMANDS))
        return self._parse_facts(reply.results, reply.error)

    def apply(self, plan: Plan) -> SwitchFacts:
        """Apply ``plan`` in one configuration session; the facts read right after the
        commit, in the same request.

        An empty plan sends nothing and returns the last facts read (reading them
        if there are none yet).
        """
        lines = plan_commands(plan)
        if not lines:
            return self._last if self._last is not None else self.facts()
        self._abort_stale()
        attempt = 0
        while True:
            session = f"{SESSION_PREFIX}{int(time.time())}-{secrets.token_hex(3)}"
            commands = session_commands(session, lines)
            try:
                reply = self._transport.send([*commands, *FACTS_COMMANDS])
                if reply.error is not None and (reply.failed or 0) < len(commands):
                    raise reply.error
            except TransientSwitchError as e:
                # Maybe pending (dropped mid-request, locked), maybe committed: abort.
                self._abort(session)
                if attempt >= self._retries:
                    raise
                self._back_off(attempt, e)
                attempt += 1
                continue
            except SwitchError:
                self._abort(session)
                raise
            log.info("committed %d configuration lines in session %s", len(lines), session)
            return self._facts_after_commit(reply.results[len(commands) :], reply.error)

    def run(self, commands: Sequence[str], fmt: str = "json") -> list[Any]:
        """Run ``commands`` (show commands, for checks) after ``enable``; their outputs,
        unchecked (as EOS sent them)."""
        reply = self._request(["enable", *commands], fmt=fmt)
        return reply.results[1:]

    def close(self) -> None:
        """Release the connection."""
        self._transport.close()

    def __enter__(self) -> EapiSwitch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers --------------------------------------------------------------------------

    def _parse_facts(self, results: Sequence[Any], error: Optional[SwitchError]) -> SwitchFacts:
        """Facts from the outputs of :data:`FACTS_COMMANDS` (the optional ones may lack)."""
        if error is not None:
            log.debug("optional facts not read: %s", error)
        outputs = dict(zip(FACTS_COMMANDS, results))
        facts = parse_facts(outputs)
        self._stale.update(stale_sessions(outputs.get(SHOW_SESSIONS), SESSION_PREFIX))
        self._last = facts
        return facts

    def _facts_after_commit(
        self, shows: Sequence[Any], error: Optional[SwitchError]
    ) -> SwitchFacts:
        """The facts read after a commit; any failure to read them says it committed."""
        try:
            if len(shows) < len(REQUIRED_COMMANDS):
                # Committed, but a show after the commit failed: read them on their own.
                log.debug("facts after the commit not read: %s", error)
                return self.facts()
            return self._parse_facts(shows, error)
        except SwitchError as e:
            raise CommittedSwitchError(
                f"committed, but the switch's answer after the commit is unusable: {e}",
                e.command,
                e.code,
            ) from e

    def _request(
        self, commands: Sequence[Command], fmt: str = "json", optional_from: Optional[int] = None
    ) -> Reply:
        """One request, retried while transient; a command error is raised unless optional."""
        attempt = 0
        while True:
            try:
                reply = self._transport.send(commands, fmt)
                if reply.error is None:
                    return reply
                if optional_from is not None and (reply.failed or 0) >= optional_from:
                    return reply
                raise reply.error
            except TransientSwitchError as e:
                if attempt >= self._retries:
                    raise
                self._back_off(attempt, e)
                attempt += 1

    def _back_off(self, attempt: int, error: SwitchError) -> None:
        delay = self._policy.delay(attempt)
        log.warning(
            "switch busy or unreachable (%s); retry %d/%d in %.2fs",
            error,
            attempt + 1,
            self._retries,
            delay,
        )
        self._sleep(delay)

    def _abort(self, session: str) -> None:
        """Abort ``session`` if it is pending; remember it if the switch cannot be reached."""
        try:
            reply = self._transport.send(abort_commands(session))
        except TransientSwitchError as e:
            log.warning("could not abort configuration session %s yet: %s", session, e)
            self._stale.add(session)
            return
        except SwitchError as e:
            log.warning("could not abort configuration session %s: %s", session, e)
            return
        if reply.error is not None:
            # Typically: the session does not exist (it was never opened, or it committed).
            log.debug("abort of session %s: %s", session, reply.error)
        self._stale.discard(session)

    def _abort_stale(self) -> None:
        for session in sorted(self._stale):
            log.info("aborting configuration session %s left pending earlier", session)
            self._abort(session)
