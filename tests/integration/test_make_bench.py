"""``make bench > result.json`` gives one valid JSON document: make's chatter goes to stderr.

Run with no benchmark selected (``--only cdp_send --no-cdp``), so that the plumbing is
tested in seconds: ``make deps`` (up to date here: ``make test`` ran it), make's own
recipe lines and the suite's progress on stderr, the document alone on stdout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def test_make_bench_stdout_is_one_json_document() -> None:
    proc = subprocess.run(
        ["make", "bench", "BENCH_ARGS=--only cdp_send --no-cdp"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)  # the whole of stdout, nothing before or after
    assert doc["suite"] == "eos-vmtracer benchmarks" and doc["benchmarks"] == {}
    assert "python -m bench" not in proc.stdout
