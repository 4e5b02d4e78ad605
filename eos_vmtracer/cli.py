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

import enum
import os
import sys
from dataclasses import replace
from typing import Any, Callable, NoReturn, Optional, TypeVar

import click

from eos_vmtracer import __version__
from eos_vmtracer.config import Config, ConfigError, default_path, load
from eos_vmtracer.shown import shown


class ExitStatus(enum.IntEnum):
    """What ``vmtracer`` exits with."""

    OK = 0
    FAILURE = 1  # something could not be reached, or the agent is not running
    CONFIG = 2  # the configuration (or the command line) is wrong


class UserError(Exception):
    """An error to report in one line, with its exit status."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.FAILURE) -> None:
        super().__init__(message)
        self.status = status


F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, status: ExitStatus = ExitStatus.FAILURE) -> NoReturn:
    """Print ``message`` as ``vmtracer: message`` on stderr and exit."""
    say(f"vmtracer: {message}", err=True)
    sys.exit(int(status))


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
    if offline:
        return
    from eos_vmtracer.oneshot import collect

    found = collect(config, timeout)
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
            say(
                f"vCenter {snap.name}: ok: {_count(len(snap.hosts), 'host')},"
                f" {_count(len(snap.vms), 'VM')}"
            )
    if not ok:
        sys.exit(int(ExitStatus.FAILURE))


@cli.command()
@config_option
def run(config_path: Optional[str]) -> None:
    """Run the agent in the foreground (EOS's daemon runs this)."""
    import signal

    from eos_vmtracer import eossdk_bridge, logsetup
    from eos_vmtracer.agent import Agent
    from eos_vmtracer.switch import SwitchError

    if eossdk_bridge.available():  # on EOS: daemon options in, status_set out
        sys.exit(eossdk_bridge.run(config_path))
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
    agent.run()


@cli.command()
@config_option
@click.option(
    "--timeout", default=60.0, show_default=True, help="Seconds to wait for each vCenter."
)
def plan(config_path: Optional[str], timeout: float) -> None:
    """One full sync; print the eAPI commands it would run. Changes nothing."""
    import time

    from eos_vmtracer.oneshot import collect, peek_ledger
    from eos_vmtracer.planner import plan as make_plan
    from eos_vmtracer.switch import plan_commands

    config = load_config(config_path)
    found = collect(config, timeout)
    if found.facts is None:
        fail(f"eAPI: {found.switch_error}")
    for name, why in sorted(found.session_errors.items()):
        say(f"! vCenter {name}: {why} (nothing it caused would be removed)", err=True)
    live = replace(config, switch=replace(config.switch, dry_run=False))
    p = make_plan(
        found.inventory, found.facts, live, peek_ledger(config.switch.state_dir), time.time()
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


SHOW_WHAT = ("sessions", "interfaces", "vms", "hosts", "history")


@cli.command()
@click.argument("what", type=click.Choice(SHOW_WHAT))
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON (schema in README.md).")
@click.option("--limit", default=50, show_default=True, help="history: how many events.")
def show(what: str, config_path: Optional[str], as_json: bool, limit: int) -> None:
    """State of the running agent."""
    import json
    import time

    from eos_vmtracer import render

    config = load_config(config_path)
    if what == "history":
        from dataclasses import asdict

        from eos_vmtracer.history import History

        events = [asdict(e) for e in History(config.switch.state_dir).read(limit)]
        click.echo(json.dumps(events, indent=2) if as_json else render.history_table(events))
        return
    doc = read_status_or_fail(config)
    if as_json:
        click.echo(json.dumps(doc[what], indent=2, sort_keys=True))
        return
    renderer = {
        "sessions": render.sessions_table,
        "interfaces": render.interfaces_table,
        "vms": render.vms_table,
        "hosts": render.hosts_table,
    }[what]
    click.echo(renderer(doc, time.time()))


@cli.command()
@click.argument("interface")
@config_option
@click.option("--vlan", type=click.IntRange(1, 4094), default=None, help="Only this VLAN.")
def explain(interface: str, config_path: Optional[str], vlan: Optional[int]) -> None:
    """Why each VLAN is (or is not) on INTERFACE: VMs, portgroups, hosts, timers."""
    import time

    from eos_vmtracer import render
    from eos_vmtracer.vlans import canonical_interface

    try:
        name = canonical_interface(interface)
    except ValueError as e:
        fail(str(e), ExitStatus.CONFIG)
    config = load_config(config_path)
    doc = read_status_or_fail(config)
    try:
        click.echo(render.explain(doc, name, vlan, time.time()))
    except LookupError as e:
        fail(str(e.args[0]))


def read_status_or_fail(config: Config) -> dict[str, Any]:
    """The running agent's status, or exit 1 saying why there is none."""
    from eos_vmtracer.status import StatusUnavailable, read_status

    try:
        return read_status(config.switch.run_dir)
    except StatusUnavailable as e:
        fail(str(e))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _first_last(names: tuple[str, ...]) -> str:
    if not names:
        return "none"
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]} ... {names[-1]}"


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="vmtracer", standalone_mode=True)
    except UserError as e:
        fail(str(e), e.status)
    except KeyboardInterrupt:
        fail("interrupted", ExitStatus.FAILURE)
