"""Progress of plan/check on stderr: on a terminal one line rewritten in place, piped nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass

from eos_vmtracer.progress import Progress, line


@dataclass(frozen=True)
class Counts:
    connected: bool
    synced: bool
    hosts: int
    vms: int
    hints: int


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_counts_sessions_hosts_vms_and_hints() -> None:
    text = line(
        ["vc1", "vc2"], [Counts(True, False, 1000, 20000, 12), Counts(False, False, 0, 0, 0)]
    )
    assert text == (
        "vCenter: 1/2 connected, 0/2 synchronised: 1,000 hosts, 20,000 VMs read,"
        " 12 hosts asked for neighbours"
    )


def test_on_a_terminal_the_line_is_rewritten_then_erased() -> None:
    out = Tty()
    p = Progress(out)
    assert p.enabled
    p.show("a")
    p.show("a")  # unchanged: not written again
    p.show("b")
    p.clear()
    assert out.getvalue() == "\r\x1b[Ka\r\x1b[Kb\r\x1b[K"


def test_piped_nothing_is_written() -> None:
    out = io.StringIO()
    p = Progress(out)
    assert not p.enabled
    p.show("a")
    p.clear()
    assert out.getvalue() == ""


def test_a_broken_stderr_never_fails_the_command() -> None:
    out = Tty()
    out.close()
    p = Progress(out)
    p.show("a")  # ValueError on a closed stream: swallowed, and progress stops
    assert not p.enabled
