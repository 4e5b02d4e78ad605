#!/usr/bin/env python3
"""The ``vmtracer`` command as the eos-vmtracer RPM installs it (``/usr/bin/vmtracer``).

What this file is for: put the extension's private library directory
(``<prefix>/lib/eos-vmtracer/site``: eos_vmtracer and its pinned pure-Python
dependencies) in front of ``sys.path``, then run the command line. The directory is
found next to this file, so the same file works under ``rpm --root``.

It must never install into, or change, EOS's own site-packages, and never depend
on the directory it is started from.
"""

import os
import sys

_PREFIX = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(_PREFIX, "lib", "eos-vmtracer", "site"))

from eos_vmtracer.cli import main  # noqa: E402 - after the path is set

if __name__ == "__main__":
    main()
