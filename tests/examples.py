"""How many examples each hypothesis property tries: ``examples(n)``.

``make test`` checks every property with its full count under Python 3.9 (the
runtime of EOS), and with a fifth of it in the extra pass under the default Python
(``make unit``), which is there to catch what a newer interpreter changes, not to
search as deep again. ``VMTRACER_PROPERTY_SCALE`` is that percentage (default 100).
"""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("VMTRACER_PROPERTY_SCALE", "100") or "100"))


def examples(n: int) -> int:
    """``n`` examples at full scale; never fewer than 10."""
    return max(10, n * SCALE // 100)
