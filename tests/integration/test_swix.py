"""The SWIX and its RPM, with the real tools: zip, rpm, and EOS's Python 3.9.

The SWIX is built once per session (extension/build_swix.py, as ``make swix``
does) unless dist/ holds one newer than every source. Its RPM is installed with
``rpm --root`` into temporary roots, and what it installed runs under Python 3.9
with nothing but those files on the path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
import yaml

from eos_vmtracer import __version__
from eos_vmtracer.eos import options as eos_options

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SITE = "usr/lib/eos-vmtracer/site"
HANDLER = "usr/share/CliExtension/CliPlugin/EosVmTracerCli.py"
OLD_HANDLER = "usr/lib/python3.9/site-packages/CliPlugin/EosVmTracerCli.py"
PY27_HANDLER = "usr/lib/python2.7/site-packages/CliPlugin/EosVmTracerCli.py"  # before 4.30.2F
CLI_YAML = "usr/share/CliExtension/EosVmTracer.yaml"
DEPENDENCIES = ("pyVmomi", "pyVim", "pyeapi", "scapy", "click", "tomli", "six", "netaddr")
RPMLIB_FEATURES_OF_OLD_EOS = {
    "rpmlib(CompressedFileNames)",
    "rpmlib(FileDigests)",
    "rpmlib(PayloadFilesHavePrefix)",
    "rpmlib(PayloadIsXz)",
}

# What Arista's swi-tools accept in manifest.yaml (metadata version 1.0).
MANIFEST_YAML_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metadataVersion"],
    "properties": {
        "metadataVersion": {"const": 1.0},
        "installOnBlessedImage": {"type": "boolean"},
        "version": {"type": "array", "items": {"type": "object"}},
        "agentsToRestart": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
}


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_swix", ROOT / "extension" / "build_swix.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python39() -> Optional[str]:
    if sys.version_info[:2] == (3, 9):
        return sys.executable
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", "3.9.18"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        prefix = ""
    candidate = os.path.join(prefix, "bin", "python3.9") if prefix else ""
    return candidate if candidate and os.access(candidate, os.X_OK) else shutil.which("python3.9")


def _build_python() -> str:
    """The Python whose pip fetches the wheels, chosen as ``make swix`` chooses it (the
    wheels built from source carry its setuptools version, so it must be the same)."""
    for venv in (".venv39", ".venv"):
        python = ROOT / venv / "bin" / "python"
        if python.exists():
            return str(python)
    return sys.executable


@pytest.fixture(scope="session")
def builder() -> Any:
    return _builder()


@pytest.fixture(scope="session")
def swix(builder: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fresh = builder.fresh_swix(ROOT / "dist")
    if fresh is not None:
        return Path(fresh)
    out = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")
    return Path(builder.build(out, work, _build_python(), cache=ROOT / "build" / "swix"))


@pytest.fixture(scope="session")
def members(swix: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("swix")
    with zipfile.ZipFile(swix) as z:
        z.extractall(out)
        return {name: out / name for name in z.namelist()}


@pytest.fixture(scope="session")
def rpm_file(members: dict[str, Path]) -> Path:
    [rpm] = [p for n, p in members.items() if n.endswith(".rpm")]
    return rpm


def rpm_install(rpm: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nodeps", str(rpm)],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def installed(rpm_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eos-root")
    result = rpm_install(rpm_file, root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="session")
def py39() -> str:
    python = _python39()
    if python is None:
        pytest.skip("no Python 3.9 here: EOS's runtime cannot be checked")
    return python


def run39(
    py39: str, args: list[str], cwd: Path, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """Python 3.9, isolated: no site-packages, no user site, only ``env``."""
    return subprocess.run(
        [py39, *args], capture_output=True, text=True, cwd=cwd, env=env or {}, timeout=120
    )


def test_swix_is_named_for_the_version(swix: Path) -> None:
    assert swix.name == f"eos-vmtracer-{__version__}.swix"


# -- the SWIX -------------------------------------------------------------------------------


def test_swix_is_a_stored_zip_of_manifest_rpm_and_metadata(swix: Path) -> None:
    with zipfile.ZipFile(swix) as z:
        infos = z.infolist()
        assert z.testzip() is None
    names = [i.filename for i in infos]
    assert names[0] == "manifest.txt" and names[-1] == "manifest.yaml"
    assert [n for n in names if n.endswith(".rpm")] == [f"eos-vmtracer-{__version__}-1.noarch.rpm"]
    assert len(names) == 3
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)


def test_manifest_txt_names_the_primary_rpm_and_every_sha1_matches(
    members: dict[str, Path],
) -> None:
    lines = members["manifest.txt"].read_text().splitlines()
    assert lines[0] == "format: 1"
    key, _, primary = lines[1].partition(": ")
    assert key == "primaryRpm" and primary in members
    rpms = sorted(n for n in members if n.endswith(".rpm"))
    sha1s = dict(line.split(": ", 1) for line in lines[2:])
    assert sorted(sha1s) == [f"{n}-sha1" for n in rpms]
    for name in rpms:
        assert sha1s[f"{name}-sha1"] == hashlib.sha1(members[name].read_bytes()).hexdigest()


def test_manifest_yaml_is_valid_swix_metadata(members: dict[str, Path]) -> None:
    meta = yaml.safe_load(members["manifest.yaml"].read_text())
    jsonschema.validate(meta, MANIFEST_YAML_SCHEMA)
    assert meta["agentsToRestart"] == ["ConfigAgent", eos_options.DEFAULT_DAEMON]


def test_the_build_is_reproducible(
    builder: Any, swix: Path, rpm_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch = subprocess.run(
        ["rpm", "-qp", "--qf", "%{BUILDTIME}", str(rpm_file)], capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    again = builder.build(
        tmp_path / "dist", tmp_path / "work", _build_python(), cache=ROOT / "build" / "swix"
    )
    assert Path(again).read_bytes() == swix.read_bytes()


# -- the RPM --------------------------------------------------------------------------------


def rpm_query(rpm: Path, *args: str) -> str:
    result = subprocess.run(["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rpm_is_noarch_xz2_with_nothing_old_eos_cannot_read(rpm_file: Path) -> None:
    header = rpm_query(
        rpm_file, "--qf", "%{NAME} %{VERSION} %{ARCH} %{PAYLOADCOMPRESSOR} %{PAYLOADFLAGS}"
    )
    assert header.split() == ["eos-vmtracer", __version__, "noarch", "xz", "2"]
    requires = {line.split(" <=")[0] for line in rpm_query(rpm_file, "--requires").splitlines()}
    assert requires <= RPMLIB_FEATURES_OF_OLD_EOS  # no python, no /usr/bin/env: EOS has them
    assert rpm_query(rpm_file, "--scripts").strip() == ""


def test_rpm_carries_the_command_the_cli_extension_and_every_dependency(rpm_file: Path) -> None:
    files = set(rpm_query(rpm_file, "-l").splitlines())
    for path in (
        *("usr/bin/vmtracer", HANDLER, OLD_HANDLER, PY27_HANDLER, CLI_YAML),
        f"{SITE}/eos_vmtracer/cli.py",
    ):
        assert f"/{path}" in files
    for package in DEPENDENCIES:
        assert {f"/{SITE}/{package}/__init__.py", f"/{SITE}/{package}.py"} & files, package
    compiled = [f for f in files if f.endswith((".so", ".pyd", ".pyc"))]
    assert compiled == []
    # Nothing in EOS's own site-packages but the CLI plugin links.
    ours = sorted(f for f in files if "/site-packages/" in f)
    assert ours == sorted([f"/{OLD_HANDLER}", f"/{PY27_HANDLER}"])


# -- installed into a root, run under Python 3.9 ------------------------------------------------


def test_rpm_installs_with_rpm_root(installed: Path) -> None:
    query = subprocess.run(
        ["rpm", "--root", str(installed), "--dbpath", "/var/lib/rpm", "-q", "eos-vmtracer"],
        capture_output=True,
        text=True,
    )
    assert query.stdout.strip() == f"eos-vmtracer-{__version__}-1.noarch"
    assert os.access(installed / "usr/bin/vmtracer", os.X_OK)
    assert (installed / OLD_HANDLER).resolve() == (installed / HANDLER).resolve()
    assert (installed / PY27_HANDLER).resolve() == (installed / HANDLER).resolve()


def test_vmtracer_version_runs_from_the_rpm_alone(
    installed: Path, py39: str, tmp_path: Path
) -> None:
    result = run39(py39, ["-I", "-S", str(installed / "usr/bin/vmtracer"), "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"vmtracer, version {__version__}"
    # The same through PYTHONPATH, as `python3 -m eos_vmtracer` would run on EOS.
    env = {"PYTHONPATH": str(installed / SITE)}
    result = run39(py39, ["-S", "-m", "eos_vmtracer", "--version"], tmp_path, env)
    assert result.stdout.strip() == f"vmtracer, version {__version__}", result.stderr


def test_vmtracer_check_offline_runs_from_the_rpm_alone(
    installed: Path, py39: str, tmp_path: Path
) -> None:
    config = tmp_path / "vmtracer.toml"
    config.write_text(
        textwrap.dedent(
            """
            [switch]
            interfaces = ["Ethernet1-48", "Port-Channel10"]
            uplinks = ["Port-Channel1000"]
            [[session]]
            name = "vc1"
            url = "https://vc1.example.com/sdk"
            username = "svc-vmtracer@vsphere.local"
            password_env = "VC1_PASSWORD"
            allowed_vlans = "100-199,300"
            """
        )
    )
    vmtracer = str(installed / "usr/bin/vmtracer")
    args = ["-I", "-S", vmtracer, "check", "--offline", "--config", str(config)]
    result = run39(py39, args, tmp_path, {"VC1_PASSWORD": "x"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{config}: configuration is valid"
    assert "session vc1: https://vc1.example.com/sdk vlans 100-199,300" in result.stdout
    config.write_text('[switch]\ninterfaces = ["Ethernet1"]\n')
    result = run39(py39, args, tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"vmtracer: {config}: session: configure at least one [[session]]\n")


def test_every_module_imports_from_the_rpm_alone(
    installed: Path, py39: str, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import importlib, json, pkgutil, sys
        sys.path.insert(0, {str(installed / SITE)!r})
        import eos_vmtracer
        names = [m.name for m in pkgutil.walk_packages(eos_vmtracer.__path__, "eos_vmtracer.")]
        for name in names:
            importlib.import_module(name)
        import scapy.all
        outside = sorted(
            n for n, m in sys.modules.items()
            if (getattr(m, "__file__", None) or "").endswith(".py")
            and "/site-packages/" in m.__file__
        )
        print(json.dumps({{"modules": names, "outside": outside,
                          "pyVmomi": sys.modules["pyVmomi"].__file__}}))
        """
    )
    result = run39(py39, ["-I", "-S", "-c", script], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "eos_vmtracer.eos.sdk" in report["modules"]
    assert "eos_vmtracer.vcenter.pyvmomi" in report["modules"]
    assert report["outside"] == []  # nothing came from any site-packages
    assert report["pyVmomi"].startswith(str(installed / SITE))


@pytest.fixture(scope="module")
def live_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.unit.test_extension_world import RunningAgent

    agent = RunningAgent(tmp_path_factory.mktemp("world"))
    agent.settle()
    yield agent
    agent.stop()


def _python27() -> Optional[str]:
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", "2.7.18"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        prefix = ""
    candidate = os.path.join(prefix, "bin", "python2.7") if prefix else ""
    return candidate if candidate and os.access(candidate, os.X_OK) else shutil.which("python2.7")


#: The arguments EOS passes (ctx.args) to the commands that take some.
CLI_ARGS = {
    "showVmTracerInterface": {"<interface>": "Et1"},
    "showVmTracerVm": {"<vm>": "app01"},
    "showVmTracerHost": {"<host>": "esx-host-1"},
    "showVmTracerHistory": {"<count>": 5},
}


@pytest.mark.parametrize(
    ("where", "python"),
    [(HANDLER, "3.9"), (OLD_HANDLER, "3.9"), (PY27_HANDLER, "2.7"), (HANDLER, "2.7")],
)
def test_installed_cli_handler_answers_per_its_output_schema(
    installed: Path, py39: str, tmp_path: Path, live_agent: Any, where: str, python: str
) -> None:
    """Each command's answer, from the installed files only, under the CLI's Python: 3.9
    (EOS 4.30.2F and later) in-process, 2.7 (before) through the installed python3."""
    interpreter = py39 if python == "3.9" else _python27()
    if interpreter is None:
        pytest.skip("no Python 2.7 here")
    script = textwrap.dedent(
        """
        import json, sys, types
        ext = types.ModuleType("CliExtension")
        ext.ShowCommandClass = type("ShowCommandClass", (object,), {{}})
        ext.registered = []
        ext.registerCommand = lambda name, cls, namespace=None: ext.registered.append(name)
        sys.modules["CliExtension"] = ext

        class Ctx(object):
            def __init__(self, args):
                self.args = args
                self.errors = []
            def getDaemon(self, name):
                class Status(object):
                    def status(self, key):
                        return {run_dir!r}
                class Daemon(object):
                    pass
                daemon = Daemon()
                daemon.status = Status()
                return daemon if name == "EosVmTracer" else None
            def addError(self, message):
                self.errors.append(message)

        if sys.version_info[0] == 2:
            import imp
            module = imp.load_source("EosVmTracerCli", {path!r})
        else:
            import importlib.util
            spec = importlib.util.spec_from_file_location("EosVmTracerCli", {path!r})
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        module.PYTHON3 = {py39!r}
        module.Plugin(None)
        out, errors = {{}}, []
        for name, cls in module.COMMANDS.items():
            ctx = Ctx({args!r}.get(name, {{}}))
            out[name] = cls().handler(ctx)
            errors += ctx.errors
        print(json.dumps({{"out": out, "errors": errors, "registered": ext.registered,
                          "library": module.library_dir(), "in_process": module.IN_PROCESS}}))
        """
    ).format(run_dir=live_agent.run_dir, path=str(installed / where), py39=py39, args=CLI_ARGS)
    result = subprocess.run(
        [interpreter, "-S", "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == []
    assert report["in_process"] is (python == "3.9")
    assert report["library"] == str(installed / SITE)
    commands = yaml.safe_load((installed / CLI_YAML).read_text())["commands"]
    assert sorted(report["registered"]) == sorted(commands)
    for name, data in report["out"].items():
        validator = jsonschema.Draft7Validator(
            commands[name]["outputSchema"], format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )
        validator.validate(data)
    dynamic = {
        i["name"]: i["dynamic"] for i in report["out"]["showVmTracerInterfaces"]["interfaces"]
    }
    assert dynamic["Ethernet1"] == "100"
    assert report["out"]["showVmTracerInterface"]["interface"]["name"] == "Ethernet1"
    assert [v["name"] for v in report["out"]["showVmTracerVm"]["vms"]] == ["app01"]
    assert report["out"]["showVmTracerHost"]["hosts"][0]["interfaces"] == ["Ethernet1"]
    assert 1 <= len(report["out"]["showVmTracerHistory"]["events"]) <= 5


def test_rpm_erase_removes_every_file(rpm_file: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert rpm_install(rpm_file, root).returncode == 0
    erase = subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-e", "eos-vmtracer"],
        capture_output=True,
        text=True,
    )
    assert erase.returncode == 0, erase.stderr
    left = [
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() or p.is_symlink()
        if "var/lib/rpm" not in str(p)
    ]
    assert left == []
