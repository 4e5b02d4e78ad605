"""One funnel from errors to exit codes: ``vmtracer: ...`` on stderr, one exit, one place.

Every command error is a :class:`~eos_vmtracer.cli.CliError` carrying its exit
status (click's ``ClickException.exit_code`` is the model); :func:`~eos_vmtracer.cli.main`
is the only place that exits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

from eos_vmtracer import cli as cli_mod
from eos_vmtracer.cli import CliError, ExitStatus, main

PACKAGE = Path(cli_mod.__file__).resolve().parent


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    code = e.value.code
    assert isinstance(code, int)
    return code, out, err


def test_a_cli_error_is_one_line_and_its_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "explain", "Vlan10")
    assert code == ExitStatus.CONFIG
    assert err.startswith("vmtracer: ") and err.count("\n") == 1
    assert out == ""


def test_a_bad_configuration_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[switch]\n")
    code, _, err = run_main(capsys, "check", "--offline", "--config", str(bad))
    assert code == 2
    assert err == (
        f"vmtracer: {bad}: switch.interfaces: list at least one interface (Ethernet1-48)\n"
    )


def test_usage_errors_and_version_keep_clicks_exits(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "show", "nothing")
    assert code == 2 and "Invalid value" in err
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and "vmtracer" in out


def test_ctrl_c_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(path: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_mod, "load_config", interrupted)
    code, _, err = run_main(capsys, "check", "--offline")
    assert code == 1 and err.endswith("vmtracer: interrupted\n")
    assert "Traceback" not in err


def test_cli_error_carries_its_status_like_click_exceptions() -> None:
    e = CliError("no", ExitStatus.CONFIG)
    assert isinstance(e, click.ClickException) and e.exit_code == 2
    with pytest.raises(CliError) as info:
        cli_mod.fail("gone")
    assert info.value.exit_code == 1 and info.value.format_message() == "gone"


def test_only_main_exits() -> None:
    """No module of the package calls sys.exit (or exit/quit) but cli.main."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)]
        scripts = {  # "if __name__ == '__main__':" blocks: a program of their own
            id(n) for top in tree.body if _is_main_guard(top) for n in ast.walk(top)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_exit(node.func) and id(node) not in scripts:
                inside = [f for f in functions if f.lineno <= node.lineno <= (f.end_lineno or 0)]
                name = max(inside, key=lambda f: f.lineno).name if inside else "<module>"
                found.append(f"{path.relative_to(PACKAGE)}:{name}")
    assert sorted(set(found)) == ["cli.py:main"]


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _is_exit(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "exit" and isinstance(func.value, ast.Name) and func.value.id == "sys"
    return isinstance(func, ast.Name) and func.id in ("exit", "quit")
