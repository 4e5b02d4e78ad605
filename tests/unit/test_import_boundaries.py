"""The rooms' rules, read from the code's imports (every import, at any depth of a module).

- The pure core (the planner, the model, VLAN sets, and everything they import)
  imports no adapter and none of pyVmomi, pyeapi or scapy: it can be reasoned
  about, and property-tested, without a network.
- The adapters (``vcenter/``, ``switch/``, ``cdp/``) never import one another: each
  owns one foreign library and translates its errors at its own edge; only the
  agent brings them together.
- Nothing below the command line imports the EOS SDK room (``eos/``) or ``cli``.

docs/ARCHITECTURE.md states the same rules.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import eos_vmtracer

PACKAGE = Path(eos_vmtracer.__file__).resolve().parent
PURE = ("eos_vmtracer.planner", "eos_vmtracer.model", "eos_vmtracer.vlans")
ADAPTERS = ("eos_vmtracer.vcenter", "eos_vmtracer.switch", "eos_vmtracer.cdp")
FOREIGN = ("pyVmomi", "pyVim", "pyeapi", "scapy", "eossdk")
TOP = ("eos_vmtracer.cli", "eos_vmtracer.eos", "eos_vmtracer.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


@cache
def imports(name: str) -> frozenset[str]:
    """Every module ``name`` imports, anywhere in its source (absolute names)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    here = name if _is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return frozenset(found)


def closure(name: str) -> set[str]:
    """``name`` and every module of the package it reaches through imports."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in MODULES:
            continue
        seen.add(current)
        for imported in imports(current):
            parts = imported.split(".")
            # "a.b.c" also runs a/__init__ and a/b/__init__
            todo.extend(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return seen


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def test_the_package_is_read() -> None:
    assert {"eos_vmtracer.planner", "eos_vmtracer.vcenter.session", "eos_vmtracer.eos.sdk"} <= set(
        MODULES
    )
    assert "eos_vmtracer.vlans" in imports("eos_vmtracer.planner")


@pytest.mark.parametrize("core", PURE)
def test_the_pure_core_imports_no_adapter_and_no_foreign_library(core: str) -> None:
    reached = closure(core)
    assert sorted(m for m in reached if _under(m, ADAPTERS + TOP)) == []
    assert "eos_vmtracer.agent" not in reached
    foreign = sorted(i for m in reached for i in imports(m) if _under(i, FOREIGN))
    assert foreign == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_do_not_import_each_other(adapter: str) -> None:
    others = tuple(a for a in ADAPTERS if a != adapter)
    offenders = sorted(
        f"{m} -> {i}"
        for m in MODULES
        if _under(m, (adapter,))
        for i in imports(m)
        if _under(i, others)
    )
    assert offenders == []


def test_only_the_command_line_reaches_the_eos_room() -> None:
    offenders = sorted(
        f"{m} -> {i}"
        for m in MODULES
        if not _under(m, TOP)
        for i in imports(m)
        if _under(i, ("eos_vmtracer.eos", "eos_vmtracer.cli"))
    )
    assert offenders == []


def _imported_roots(path: Path) -> set[str]:
    """The top-level packages ``path`` imports (absolute imports, at any depth)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("room", ["bench", "lab"])
def test_bench_and_the_lab_import_nothing_from_tests(room: str) -> None:
    """``tests/`` holds only tests: what bench and tests share (the peers, the world
    builders) lives in ``lab/``."""
    files = sorted((PACKAGE.parent / room).rglob("*.py"))
    assert files, f"{room}/ is not read"
    offenders = [str(p.relative_to(PACKAGE.parent)) for p in files if "tests" in _imported_roots(p)]
    assert offenders == [], offenders
