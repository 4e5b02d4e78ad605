"""The switch adapter: EOS through eAPI (pyeapi), and nothing else.

What this package is for: everything the agent knows about talking to the local
Arista switch. :class:`EapiSwitch` reads the switch facts and applies plans in
one atomic configuration session; :func:`plan_commands` gives the exact EOS lines
for a plan (``vmtracer plan`` prints them); the errors say whether trying again
can help.

It must never be imported for its side effects, and nothing outside it may import
pyeapi: only :mod:`eos_vmtracer.switch.transport` does.
"""

from __future__ import annotations

from eos_vmtracer.switch.commands import plan_commands
from eos_vmtracer.switch.eapi import EapiSwitch
from eos_vmtracer.switch.errors import (
    CommittedSwitchError,
    PermanentSwitchError,
    SwitchError,
    TransientSwitchError,
)

__all__ = [
    "CommittedSwitchError",
    "EapiSwitch",
    "PermanentSwitchError",
    "SwitchError",
    "TransientSwitchError",
    "plan_commands",
]
