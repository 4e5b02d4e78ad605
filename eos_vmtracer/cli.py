"""The ``vmtracer`` command: one click group, one funnel from errors to exit codes.

What this module is for: parse the command line, load the configuration, call
into the agent, status and explain modules, and turn every known error into one
line on stderr and an exit status (see :class:`ExitStatus`).

Text from outside (names from vCenter, eAPI's answers, error texts, paths) is
printed through :func:`say` (escaped once by :func:`eos_vmtracer.shown.shown`);
the renderers' tables and ``--json`` documents are printed as they are.

It must never print a traceback for a user error, never print a secret, never
print a line from outside unescaped, and never change the switch except in ``run``.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
from typing import IO, Any, Iterator, NoReturn, Optional

import click
from click.utils import PacifyFlushWrapper

from eos_vmtracer import __version__
from eos_vmtracer.config import Config, ConfigError, default_path, load
from eos_vmtracer.shown import shown
from eos_vmtracer.status_types import StatusDocument


class ExitStatus(enum.IntEnum):
    """What ``vmtracer`` exits with."""

    OK = 0
    FAILURE = 1  # something could not be reached, or the agent is not running
    CONFIG = 2  # the configuration (or the command line) is wrong


class CliError(click.ClickException):
    """An error shown as one ``vmtracer: message`` line on stderr, exiting with ``exit_code``.

    Raised anywhere under a command; click (under :func:`main`, or a test's
    ``CliRunner``) calls :meth:`show` and exits with :attr:`exit_code`, as for its
    own usage errors.
    """

    def __init__(self, message: str, status: ExitStatus = ExitStatus.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = int(status)

    def show(self, file: Optional[IO[Any]] = None) -> None:
        """``vmtracer: message`` on stderr, escaped (it may hold text from outside)."""
        say(f"vmtracer: {self.format_message()}", err=True)


def fail(message: str, status: ExitStatus = ExitStatus.FAILURE) -> NoReturn:
    """Raise :class:`CliError`: ``vmtracer: message`` on stderr, exit ``status``."""
    raise CliError(message, status)


def say(line: str, err: bool = False) -> None:
    """Print one line for a person, escaped (it may hold text from outside)."""
    click.echo(shown(line), err=err)


def load_config(path: Optional[str]) -> Config:
    """Load the configuration or exit 2 with the one-line error."""
    try:
        return load(path or default_path())
    except ConfigError as e:
        fail(str(e), ExitStatus.CONFIG)


config_option = click.option(
    "--config",
    "config_path",
    metavar="FILE",
    default=None,
    help="Configuration file (default: $VMTRACER_CONFIG, else /mnt/flash/vmtracer.toml).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vmtracer")
def cli() -> None:
    """Automatic VLAN provisioning on the EOS ports facing VMware ESXi hosts."""


@cli.command()
@config_option
@click.option("--offline", is_flag=True, help="Only validate the file; reach nothing.")
@click.option(
    "--timeout", default=60.0, show_default=True, help="Seconds to wait for each vCenter."
)
def check(config_path: Optional[str], offline: bool, timeout: float) -> None:
    """Validate the configuration, then reach eAPI and every vCenter."""
    config = load_config(config_path)
    s = config.switch
    say(f"{config.source}: configuration is valid")
    say(f"  interfaces : {len(s.interfaces)} ({_first_last(s.interfaces)})")
    if s.uplinks:
        say(f"  uplinks    : {', '.join(s.uplinks)}")
    say(f"  eAPI       : {s.eapi_transport}")
    say(
        f"  removal    : after {s.remove_delay:g}s"
        + ("  (DRY RUN: nothing will be changed)" if s.dry_run else "")
    )
    for sess in config.sessions:
        mode = "" if sess.autovlan else "  (autovlan off: report only)"
        say(f"  session {sess.name}: {sess.url} vlans {sess.allowed_vlans}{mode}")
        if sess.vrf != "default" or sess.source_interface:
            source = f", source {sess.source_interface}" if sess.source_interface else ""
            say(f"    through VRF {sess.vrf}{source}")
    if s.static_hosts:
        for iface, patterns in s.static_hosts.items():
            say(f"  static hosts on {iface}: {', '.join(patterns)}")
    for line in _daemon_lines(config):
        say(line)
    if offline:
        return
    from eos_vmtracer.oneshot import collect
    from eos_vmtracer.progress import Progress

    found = collect(config, timeout, progress=Progress())
    ok = True
    if found.facts is not None:
        f = found.facts
        present = [n for n in s.interfaces + s.uplinks if n in f.interfaces]
        trunks = [n for n in present if f.interfaces[n].mode == "trunk"]
        say(
            f"eAPI: ok: {f.hostname} ({f.model}, EOS {f.version}); {len(present)} of"
            f" {len(s.interfaces) + len(s.uplinks)} configured interfaces exist,"
            f" {len(trunks)} are trunks"
        )
    else:
        ok = False
        say(f"eAPI: FAILED: {found.switch_error}")
    for snap in found.inventory.sessions:
        if snap.name in found.session_errors:
            ok = False
            say(f"vCenter {snap.name}: FAILED: {found.session_errors[snap.name]}")
        else:
            route = found.routes.get(snap.name, "")
            say(
                f"vCenter {snap.name}: ok: {_count(len(snap.hosts), 'host')},"
                f" {_count(len(snap.vms), 'VM')}" + (f"; reached through {route}" if route else "")
            )
    if not ok:
        click.get_current_context().exit(int(ExitStatus.FAILURE))


@cli.command()
@config_option
def run(config_path: Optional[str]) -> None:
    """Run the agent in the foreground (EOS's daemon runs this)."""
    import signal

    from eos_vmtracer import heap, logsetup
    from eos_vmtracer.agent import Agent
    from eos_vmtracer.eos import sdk
    from eos_vmtracer.fileio import StateDirError
    from eos_vmtracer.switch import SwitchError

    heap.limit_arenas()  # before any thread: a long-running process keeps a compact heap
    if sdk.available():  # on EOS: daemon options in, status_set out
        click.get_current_context().exit(sdk.run(config_path))
    config = load_config(config_path)
    logsetup.setup(config.log)
    try:
        os.makedirs(config.switch.state_dir, exist_ok=True)
        os.makedirs(config.switch.run_dir, exist_ok=True)
    except OSError as e:
        fail(f"cannot create {e.filename}: {e.strerror}")
    try:
        agent = Agent(config)
    except SwitchError as e:
        fail(f"eAPI: {e}", ExitStatus.CONFIG)

    def on_signal(signum: int, _frame: object) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        agent.run()
    except StateDirError as e:  # another agent has this state_dir
        fail(str(e))


@cli.command()
@config_option
@click.option(
    "--timeout", default=60.0, show_default=True, help="Seconds to wait for each vCenter."
)
def plan(config_path: Optional[str], timeout: float) -> None:
    """One full sync; print the eAPI commands it would run. Changes nothing."""
    import time

    from eos_vmtracer.oneshot import collect, peek_ledger
    from eos_vmtracer.planner import live_plan
    from eos_vmtracer.progress import Progress
    from eos_vmtracer.switch import plan_commands

    config = load_config(config_path)
    found = collect(config, timeout, progress=Progress())
    if found.facts is None:
        fail(f"eAPI: {found.switch_error}")
    for name, why in sorted(found.session_errors.items()):
        say(f"! vCenter {name}: {why} (nothing it caused would be removed)", err=True)
    p = live_plan(
        found.inventory, found.facts, config, peek_ledger(config.switch.state_dir), time.time()
    )
    for c in p.changes:
        for v in c.add:
            why = "; ".join(r.text() for r in p.add_reasons.get((c.interface, v), ())[:2])
            say(f"! {c.interface}: add {v}: {why}")
        if c.remove:
            say(f"! {c.interface}: remove {c.remove}: unneeded for remove_delay")
    for w in p.withheld:
        say(
            f"! withheld {w.interface or 'vlans'}: add {w.add or '-'}"
            f" remove {w.remove or '-'}: {w.why}"
        )
    for pend in p.pending:
        when = f"due in {pend.due - time.time():.0f}s" if pend.due else f"held: {pend.held}"
        say(f"! {pend.interface}: VLAN {pend.vlan} pending removal ({when})")
    if p.empty():
        say("! nothing to change")
        return
    for line in plan_commands(p):
        click.echo(line)  # an EOS command, built from validated values only
    if config.switch.dry_run:
        say("! dry_run = true: the agent would not apply this", err=True)


SHOW_WHAT = ("sessions", "interfaces", "vms", "hosts", "history", "interface", "vm", "host")
_NAMED = ("interface", "vm", "host")  # these take a NAME


@cli.command()
@click.argument("what", type=click.Choice(SHOW_WHAT))
@click.argument("name", required=False)
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON (schema in README.md).")
@click.option(
    "--count",
    "--limit",
    "count",
    type=click.IntRange(1, 100000),
    default=50,
    show_default=True,
    help="history: how many of the newest events.",
)
def show(
    what: str, name: Optional[str], config_path: Optional[str], as_json: bool, count: int
) -> None:
    """State of the running agent: a table, or one interface, VM or host NAME in detail."""
    import json
    import time

    from eos_vmtracer import render, views

    if (what in _NAMED) != (name is not None):
        fail(
            f"show {what} takes a NAME" if what in _NAMED else f"show {what} takes no NAME",
            ExitStatus.CONFIG,
        )
    config = load_config(config_path)
    if what == "history":
        from eos_vmtracer.history import History

        history = History(config.switch.state_dir)
        events = views.history(config.switch.state_dir, count, source=history)["events"]
        if history.skipped:
            click.echo(
                f"vmtracer: skipped {_count(history.skipped, 'unreadable line')} in {history.path}",
                err=True,
            )
        click.echo(json.dumps(events, indent=2) if as_json else render.history_table(events))
        return
    doc = read_status_or_fail(config)
    if name is not None:
        now = time.time()
        try:
            if what == "interface":
                one = views.interface(doc, name)
                text = _json(one) if as_json else render.interface_detail(one, now)
            elif what == "vm":
                vm = views.vm(doc, name)
                text = _json(vm) if as_json else render.vm_detail(vm, now)
            else:
                host = views.host(doc, name)
                text = _json(host) if as_json else render.host_detail(host, now)
        except LookupError as e:
            fail(str(e.args[0]))
        click.echo(text)
        return
    if as_json:
        click.echo(json.dumps(doc[what], indent=2, sort_keys=True))  # type: ignore[literal-required]
        return
    renderer = {
        "sessions": render.sessions_table,
        "interfaces": render.interfaces_table,
        "vms": render.vms_table,
        "hosts": render.hosts_table,
    }[what]
    with malformed_status(config):
        text = renderer(doc, time.time())
    click.echo(text)


@cli.command()
@click.argument("interface")
@config_option
@click.option("--vlan", type=click.IntRange(1, 4094), default=None, help="Only this VLAN.")
@click.option("--json", "as_json", is_flag=True, help="JSON (schema in README.md).")
def explain(interface: str, config_path: Optional[str], vlan: Optional[int], as_json: bool) -> None:
    """Why each VLAN is (or is not) on INTERFACE: VMs, portgroups, hosts, timers."""
    import json
    import time

    from eos_vmtracer import render, views
    from eos_vmtracer.vlans import canonical_interface

    try:
        name = canonical_interface(interface)
    except ValueError as e:
        fail(str(e), ExitStatus.CONFIG)
    config = load_config(config_path)
    doc = read_status_or_fail(config)
    try:
        with malformed_status(config):
            answer = views.interface(doc, name, vlan)
            text = "" if as_json else render.interface_detail(answer, time.time())
    except LookupError as e:
        fail(str(e.args[0]))
    if as_json:
        click.echo(json.dumps(answer, indent=2, sort_keys=True))
    else:
        click.echo(text)


@cli.command()
@config_option
@click.option("--session", "session", metavar="NAME", default="", help="Only this session.")
@click.option(
    "--timeout", default=10.0, show_default=True, help="Seconds to wait for the agent to answer."
)
def resync(config_path: Optional[str], session: str, timeout: float) -> None:
    """Make the running agent read vCenter (and the switch) again from scratch.

    Nothing is removed meanwhile: a session resynchronising counts as not synchronised.
    """
    from eos_vmtracer import resync as resync_mod

    config = load_config(config_path)
    if session and config.session(session) is None:
        names = ", ".join(s.name for s in config.sessions)
        fail(f"no session {session!r} in {config.source} (sessions: {names})", ExitStatus.CONFIG)
    doc = read_status_or_fail(config)  # exits when no agent runs
    run_dir = config.switch.run_dir
    try:
        req = resync_mod.submit(run_dir, session)
    except resync_mod.ResyncError as e:
        fail(str(e))
    found = resync_mod.wait_for_answer(run_dir, req, timeout)
    if found is None:
        resync_mod.withdraw(run_dir, req)
        fail(f"the agent (pid {doc['agent']['pid']}) did not take the request within {timeout:g} s")
    if found.get("error"):
        fail(f"the agent refused: {found['error']}")
    what = ", ".join(str(n) for n in found.get("sessions") or []) or "nothing"
    scope = f"session {what}" if session else f"every session ({what}) and the switch"
    say(
        f"resync: the agent (pid {doc['agent']['pid']}) is reading {scope} again;"
        " nothing is removed until it is synchronised (vmtracer show sessions)"
    )


def read_status_or_fail(config: Config) -> StatusDocument:
    """The running agent's status, or exit 1 saying why there is none."""
    from eos_vmtracer.status import StatusUnavailable, read_status

    try:
        return read_status(config.switch.run_dir)
    except StatusUnavailable as e:
        fail(str(e))


@contextlib.contextmanager
def malformed_status(config: Config) -> Iterator[None]:
    """Report a status document too malformed to print as such (one line, exit 1).

    :func:`~eos_vmtracer.status.read_status` checks the members its schema names; a
    bad value deeper down surfaces here, while the document is rendered.
    """
    from eos_vmtracer.status import status_path

    try:
        yield
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError, KeyError) as e:
        where = status_path(config.switch.run_dir)
        fail(f"{where} is malformed: cannot show it ({type(e).__name__})")


def _daemon_lines(config: Config) -> list[str]:
    """What ``check`` says about the running agent as an EOS daemon (name, options)."""
    from eos_vmtracer.eos import presence, sdk
    from eos_vmtracer.status import StatusUnavailable, read_status

    run_dir = config.switch.run_dir
    try:
        doc = read_status(run_dir)
    except StatusUnavailable as e:
        return [f"daemon: no running agent to ask ({e})"]
    pid = int(doc.get("agent", {}).get("pid", 0))
    return presence.check_lines(presence.read(run_dir), pid, sdk.available())


def _json(answer: object) -> str:
    import json

    return json.dumps(answer, indent=2, sort_keys=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _first_last(names: tuple[str, ...]) -> str:
    if not names:
        return "none"
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]} ... {names[-1]}"


def main(argv: Optional[list[str]] = None) -> NoReturn:
    """Console-script entry point: the one place ``vmtracer`` exits from.

    Commands raise :class:`CliError` (or click's usage errors) or end with
    ``ctx.exit(status)``; here every outcome becomes one exit status.
    """
    try:
        status = cli.main(args=argv, prog_name="vmtracer", standalone_mode=False)
    except click.ClickException as e:  # CliError: one line; click's usage errors as click has them
        e.show()
        status = e.exit_code
    except click.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo("vmtracer: interrupted", err=True)
        status = ExitStatus.FAILURE
    except BrokenPipeError:  # vmtracer show ... | head: quietly, as click does
        sys.stdout = PacifyFlushWrapper(sys.stdout)
        sys.stderr = PacifyFlushWrapper(sys.stderr)
        status = ExitStatus.FAILURE
    sys.exit(int(status) if isinstance(status, int) else ExitStatus.OK)
