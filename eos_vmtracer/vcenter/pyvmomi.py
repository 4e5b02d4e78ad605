"""pyvmomi, imported in one place and typed as Any for the rest of the adapter.

What this module is for: pyvmomi ships partial type hints that make strict mypy
reject ordinary calls; the adapter treats pyvmomi objects as untyped data and checks
them at run time instead.

It must never be imported from outside :mod:`eos_vmtracer.vcenter`.
"""

from __future__ import annotations

from typing import Any

from pyVmomi import Security as _security
from pyVmomi import SoapAdapter as _soap
from pyVmomi import VmomiSupport as _support
from pyVmomi import vim as _vim  # type: ignore[attr-defined]
from pyVmomi import vmodl as _vmodl  # type: ignore[attr-defined]

vim: Any = _vim
vmodl: Any = _vmodl
SoapStubAdapter: Any = _soap.SoapStubAdapter
SoapAdapter: Any = _soap  # the module: :mod:`eos_vmtracer.vcenter.soap` hooks its parser
VmomiSupport: Any = _support
ThumbprintMismatchException: type[Exception] = _security.ThumbprintMismatchException

__all__ = [
    "SoapAdapter",
    "SoapStubAdapter",
    "ThumbprintMismatchException",
    "VmomiSupport",
    "vim",
    "vmodl",
]
