"""The lab vCenter: govmomi's simulator extended in Go, driven from Python.

What this package is for: ``VcsimLab(scenario).start()`` gives tests, the
end-to-end suite and ``make demo`` a real vCenter endpoint over https (URL,
certificate thumbprint, credentials) and a control client (:class:`LabControl`).

It must never be imported by runtime code (eos_vmtracer/).
"""

from __future__ import annotations

from lab.vcsim import scenarios
from lab.vcsim.control import LabControl, LabControlError
from lab.vcsim.lab import BINARY, LabError, VcsimLab, ensure_built

__all__ = [
    "BINARY",
    "LabControl",
    "LabControlError",
    "LabError",
    "VcsimLab",
    "ensure_built",
    "scenarios",
]
