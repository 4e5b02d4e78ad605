"""The ``vmtracer`` command: one click group, one funnel from errors to exit codes.

What this module is for: parse the command line, load the configuration, call
into the agent, status and explain modules, and turn every known error into one
line on stderr and an exit status (see :class:`ExitStatus`).

It must never print a traceback for a user error, never print a secret, and
never change the switch except in ``run``.
"""

from __future__ import annotations

import enum
import sys
from typing import Any, Callable, NoReturn, Optional, TypeVar

import click

from eos_vmtracer import __version__
from eos_vmtracer.config import Config, ConfigError, default_path, load


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
    click.echo(f"vmtracer: {message}", err=True)
    sys.exit(int(status))


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
def check(config_path: Optional[str], offline: bool) -> None:
    """Validate the configuration, then reach eAPI and every vCenter."""
    config = load_config(config_path)
    s = config.switch
    click.echo(f"{config.source}: configuration is valid")
    click.echo(f"  interfaces : {len(s.interfaces)} ({_first_last(s.interfaces)})")
    if s.uplinks:
        click.echo(f"  uplinks    : {', '.join(s.uplinks)}")
    click.echo(f"  eAPI       : {s.eapi_transport}")
    click.echo(
        f"  removal    : after {s.remove_delay:g}s"
        + ("  (DRY RUN: nothing will be changed)" if s.dry_run else "")
    )
    for sess in config.sessions:
        mode = "" if sess.autovlan else "  (autovlan off: report only)"
        click.echo(f"  session {sess.name}: {sess.url} vlans {sess.allowed_vlans}{mode}")


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
