"""Build the EOS extension: a noarch RPM and the SWIX that carries it, into dist/.

What this script is for: ``make swix`` (and the SWIX tests) run it. It

1. fetches the pinned runtime dependencies (extension/requirements-eos.txt, checked
   against their sha256) with pip, builds the two that PyPI ships as source only
   into pure wheels, and refuses any wheel that is not ``*-none-any``;
2. stages the files as they will be on the switch: ``/usr/bin/vmtracer``,
   ``/usr/lib/eos-vmtracer/site`` (eos_vmtracer and the dependencies), the CLI
   extension YAML and handler module (and the links EOS before 4.30.2F needs);
3. packs them with rpmbuild (extension/eos-vmtracer.spec, xz level 2 payload);
4. zips (``zip -0``: stored, no compression) ``manifest.txt`` (``format: 1``,
   ``primaryRpm:``, one ``NAME.rpm-sha1: HEX`` line per RPM, as Arista's
   swi-tools write it), the RPM and ``manifest.yaml`` into ``eos-vmtracer-V.swix``.

The version is ``eos_vmtracer.__version__``. Every time stamp is
``SOURCE_DATE_EPOCH`` (default: the last commit's time), so the same sources build
the same bytes. Downloads and built wheels are cached under build/swix.

It must never install anything on the build machine outside build/ and dist/,
never put a compiled extension in the RPM, and never need the network once the
wheel cache is filled.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
PACKAGE = ROOT / "eos_vmtracer"
REQUIREMENTS = EXTENSION / "requirements-eos.txt"
SPEC = EXTENSION / "eos-vmtracer.spec"
MANIFEST_YAML = EXTENSION / "manifest.yaml"
LAUNCHER = EXTENSION / "bin" / "vmtracer.py"
CLI_YAML = EXTENSION / "cli" / "EosVmTracer.yaml"
CLI_MODULE = EXTENSION / "cli" / "EosVmTracerCli.py"

NAME = "eos-vmtracer"
RELEASE = "1"
LIBDIR = "usr/lib/eos-vmtracer/site"  # relative to the root the RPM installs into
BINDIR = "usr/bin"
CLI_DIR = "usr/share/CliExtension"
CLI_PLUGIN_DIR = "usr/share/CliExtension/CliPlugin"  # EOS 4.30.2F and later
# Before 4.30.2F, EOS's CLI loads plugins from its Python's site-packages/CliPlugin: Python
# 2.7 up to 4.30.1F (wolcomm/eos-prefix-list-agent links there), Python 3 where the CLI
# runs on it (aristanetworks/openfdk links into every python*/site-packages). Both
# Pythons EOS 4.28+ has get a link; the handler module runs under either.
OLD_CLI_PLUGIN_DIRS = (
    "usr/lib/python2.7/site-packages/CliPlugin",
    "usr/lib/python3.9/site-packages/CliPlugin",
)
ZIP_EPOCH_MIN = 315532800  # 1980-01-01: the earliest time a zip entry can hold
COMPILED = (".so", ".pyd", ".dll", ".dylib", ".a", ".o", ".exe")
PURE_TARGET = [
    "--only-binary=:all:",
    "--platform",
    "any",
    "--python-version",
    "3.9",
    "--implementation",
    "py",
    "--abi",
    "none",
]


class BuildError(Exception):
    """A step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"build_swix: {message}", file=sys.stderr, flush=True)


def version() -> str:
    """``eos_vmtracer.__version__``, read without importing the package."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, str) and value:
                return value
    raise BuildError("eos_vmtracer/__init__.py has no __version__")


def rpm_version(text: str) -> str:
    """A PEP 440 version as an RPM Version (no '-')."""
    return text.replace("-", "_")


def source_date_epoch() -> int:
    """``$SOURCE_DATE_EPOCH``, else the last commit's time, else the zip epoch."""
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isdigit():
        return max(int(env), ZIP_EPOCH_MIN)
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return max(int(out), ZIP_EPOCH_MIN)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return ZIP_EPOCH_MIN


def sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(cmd: List[str], env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> None:
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=None if cwd is None else str(cwd)
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{' '.join(cmd[:4])} ... failed ({result.returncode}):\n{tail}")


# -- 1. wheels ---------------------------------------------------------------------------


def _builder(python: str) -> str:
    """Python and setuptools versions ("" for setuptools when it is missing): wheels built
    from source carry the setuptools version, so the cache is kept per builder."""
    probe = subprocess.run(
        [
            python,
            "-c",
            "import sys\ntry:\n import setuptools as s; v = s.__version__\n"
            "except ImportError:\n v = ''\nprint(sys.version.split()[0], v)",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise BuildError(f"{python} does not run: {probe.stderr.strip()}")
    return probe.stdout.strip()


def wheelhouse(python: str, cache: Path) -> List[Path]:
    """The pure wheels of every pinned dependency (cached by the requirements' hash).

    Made in a private directory and renamed into place, so concurrent builds never
    see half a wheelhouse.
    """
    builder = _builder(python)
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + builder.encode()).hexdigest()[:16]
    house = cache / f"wheels-{key}"
    if (house / ".complete").exists():
        return sorted(house.glob("*.whl"))
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="wheels-", dir=str(cache)))
    try:
        downloads, wheels_dir = scratch / "downloads", scratch / "wheels"
        downloads.mkdir()
        wheels_dir.mkdir()
        log(f"fetching the pinned dependencies with {python} -m pip")
        # The hashes pin one file per package: the pure wheel, or the source release.
        run(
            [
                *(python, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes"),
                *("-r", str(REQUIREMENTS), "-d", str(downloads)),
            ]
        )
        sources = sorted(downloads.glob("*.tar.gz")) + sorted(downloads.glob("*.zip"))
        if sources:
            log("building pure wheels from " + ", ".join(p.name for p in sources))
            has_setuptools = len(builder.split()) > 1
            isolation = ["--no-build-isolation"] if has_setuptools else []
            run(
                [python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-cache-dir", *isolation]
                + ["-w", str(wheels_dir)]
                + [str(p) for p in sources]
            )
        for wheel in downloads.glob("*.whl"):
            shutil.copy2(wheel, wheels_dir / wheel.name)
        wheels = sorted(wheels_dir.glob("*.whl"))
        for wheel in wheels:
            check_pure_wheel(wheel)
        (wheels_dir / ".complete").write_text("\n".join(w.name for w in wheels) + "\n")
        try:
            os.rename(wheels_dir, house)
        except OSError:  # another build got there first: use its wheelhouse
            if not (house / ".complete").exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(house.glob("*.whl"))


def check_pure_wheel(wheel: Path) -> None:
    """Refuse a wheel that is not pure Python (tag, WHEEL metadata, file names)."""
    tag = wheel.name[: -len(".whl")].split("-")[-2:]
    if tag != ["none", "any"]:
        raise BuildError(f"{wheel.name} is not a pure-Python wheel (tag {'-'.join(tag)})")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = [n for n in names if n.endswith(".dist-info/WHEEL")]
        if not meta or b"Root-Is-Purelib: true" not in z.read(meta[0]):
            raise BuildError(f"{wheel.name} is not marked Root-Is-Purelib")
        compiled = [n for n in names if n.endswith(COMPILED)]
        if compiled:
            raise BuildError(f"{wheel.name} holds compiled code: {compiled[0]}")


# -- 2. the staged tree --------------------------------------------------------------------


def stage(python: str, wheels: List[Path], root: Path, epoch: int) -> None:
    """The files exactly as the RPM installs them, under ``root``."""
    shutil.rmtree(root, ignore_errors=True)
    site = root / LIBDIR
    site.mkdir(parents=True)
    log(f"installing {len(wheels)} wheels into {LIBDIR}")
    run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile"]
        + PURE_TARGET
        + ["--target", str(site)]
        + [str(w) for w in wheels]
    )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts of dependencies
    for junk in list(site.glob("*.dist-info/direct_url.json")) + list(
        site.glob("*.dist-info/REQUESTED")
    ):
        junk.unlink()
    prune_records(site)
    shutil.copytree(
        PACKAGE,
        site / "eos_vmtracer",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*"),
    )
    (root / BINDIR).mkdir(parents=True)
    shutil.copyfile(LAUNCHER, root / BINDIR / "vmtracer")
    (root / CLI_PLUGIN_DIR).mkdir(parents=True)
    shutil.copyfile(CLI_YAML, root / CLI_DIR / CLI_YAML.name)
    shutil.copyfile(CLI_MODULE, root / CLI_PLUGIN_DIR / CLI_MODULE.name)
    for old_dir in OLD_CLI_PLUGIN_DIRS:
        old = root / old_dir
        old.mkdir(parents=True)
        target = os.path.relpath(root / CLI_PLUGIN_DIR / CLI_MODULE.name, old)
        os.symlink(target, old / CLI_MODULE.name)
    check_pure_tree(root)
    normalize(root, epoch, executables={root / BINDIR / "vmtracer"})


def prune_records(site: Path) -> None:
    """Drop RECORD lines of files removed after pip (scripts, direct_url.json: their
    hashes depend on the build directory)."""
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines()
        kept = [
            ln
            for ln in lines
            if (site / ln.split(",", 1)[0]).exists()
            or ln.startswith(record.parent.name + "/RECORD,")
        ]
        record.write_text("\n".join(kept) + "\n", encoding="utf-8")


def check_pure_tree(root: Path) -> None:
    compiled = [p for p in root.rglob("*") if p.name.endswith(COMPILED)]
    if compiled:
        raise BuildError(f"compiled code in the staged tree: {compiled[0].relative_to(root)}")
    caches = [p for p in root.rglob("__pycache__")]
    if caches:
        raise BuildError(f"byte-code caches in the staged tree: {caches[0].relative_to(root)}")


def normalize(root: Path, epoch: int, executables: set[Path]) -> None:
    """Modes 0755 (directories, executables) and 0644; every time stamp ``epoch``."""
    paths = sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    for path in paths:
        if path.is_symlink():
            os.utime(path, (epoch, epoch), follow_symlinks=False)
            continue
        mode = 0o755 if path.is_dir() or path in executables else 0o644
        os.chmod(path, mode)
        os.utime(path, (epoch, epoch))
    os.chmod(root, 0o755)
    os.utime(root, (epoch, epoch))


# -- 3. the RPM ------------------------------------------------------------------------------


def build_rpm(root: Path, build: Path, out: Path, ver: str, epoch: int) -> Path:
    topdir = build / "rpmbuild"
    shutil.rmtree(topdir, ignore_errors=True)
    rpmdir = topdir / "RPMS"
    rpmdir.mkdir(parents=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), TZ="UTC", LC_ALL="C")
    log("packing the RPM")
    run(
        [
            *("rpmbuild", "-bb", "--quiet", "--nodeps"),
            *("--define", f"_topdir {topdir}", "--define", f"_rpmdir {rpmdir}"),
            *("--define", f"_tmppath {topdir / 'tmp'}"),
            *("--define", f"vmt_version {rpm_version(ver)}", "--define", f"vmt_release {RELEASE}"),
            *("--define", f"vmt_stage {root}"),
            str(SPEC),
        ],
        env=env,
    )
    built = sorted(rpmdir.rglob("*.rpm"))
    if len(built) != 1:
        raise BuildError(f"rpmbuild made {len(built)} RPMs, expected 1")
    target = out / built[0].name
    shutil.copyfile(built[0], target)
    os.utime(target, (epoch, epoch))
    return target


# -- 4. the SWIX -----------------------------------------------------------------------------


def manifest_txt(rpms: List[Path]) -> str:
    """``manifest.txt``: format, primary RPM, one ``NAME.rpm-sha1: HEX`` per RPM."""
    lines = ["format: 1", f"primaryRpm: {rpms[0].name}"]
    lines += [f"{rpm.name}-sha1: {sha1(rpm)}" for rpm in rpms]
    return "\n".join(lines) + "\n"


def check_manifest_yaml(text: str) -> None:
    """The keys swi-tools accept, with the right shapes (a small YAML subset)."""
    keys: Dict[str, List[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            key, _, value = line.partition(":")
            current = key.strip()
            keys[current] = [value.strip()] if value.strip() else []
        elif line.strip().startswith("- ") and current:
            keys[current].append(line.strip()[2:].strip())
        else:
            raise BuildError(f"manifest.yaml: cannot read line {raw!r}")
    unknown = set(keys) - {"metadataVersion", "installOnBlessedImage", "version", "agentsToRestart"}
    if unknown:
        raise BuildError(f"manifest.yaml: unknown keys {sorted(unknown)}")
    if keys.get("metadataVersion") != ["1.0"]:
        raise BuildError("manifest.yaml: metadataVersion must be 1.0")
    if not keys.get("agentsToRestart"):
        raise BuildError("manifest.yaml: agentsToRestart names no agent")


def build_swix(rpms: List[Path], build: Path, out: Path, ver: str, epoch: int) -> Path:
    work = build / "swix"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    manifest = work / "manifest.txt"
    manifest.write_text(manifest_txt(rpms), encoding="utf-8")
    yaml_text = MANIFEST_YAML.read_text(encoding="utf-8")
    check_manifest_yaml(yaml_text)
    info = work / "manifest.yaml"
    info.write_text(yaml_text, encoding="utf-8")
    members = [manifest, *rpms, info]
    for member in members:
        os.chmod(member, 0o644)
        os.utime(member, (epoch, epoch))
    swix = out / f"{NAME}-{ver}.swix"
    if swix.exists():
        swix.unlink()
    log(f"zipping {swix.name}")
    env = dict(os.environ, TZ="UTC")
    # -0: stored (a SWIX is not compressed); -j: base names; -X: no extra attributes.
    run(["zip", "-q", "-0", "-j", "-X", str(swix), *[str(m) for m in members]], env=env)
    return swix


# -- driver ----------------------------------------------------------------------------------


def inputs() -> List[Path]:
    """Every file the SWIX is built from (for freshness checks)."""
    files = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    files += [p for p in EXTENSION.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return [*files, ROOT / "pyproject.toml"]


def fresh_swix(out: Path) -> Optional[Path]:
    """``out``'s SWIX for the current version if it is newer than every input."""
    swix = out / f"{NAME}-{version()}.swix"
    if not swix.exists():
        return None
    newest = max(p.stat().st_mtime for p in inputs())
    return swix if swix.stat().st_mtime > newest else None


def build(out: Path, work: Path, python: str, cache: Optional[Path] = None) -> Path:
    """Build everything into ``out`` (staging in ``work``, wheels cached in ``cache``,
    default ``work``); returns the SWIX."""
    for tool in ("rpmbuild", "zip"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} is not installed (Debian: apt-get install rpm zip)")
    ver = version()
    epoch = source_date_epoch()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    wheels = wheelhouse(python, work if cache is None else cache)
    root = work / "root"
    stage(python, wheels, root, epoch)
    rpm = build_rpm(root, work, out, ver, epoch)
    return build_swix([rpm], work, out, ver, epoch)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output directory")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build" / "swix", help="work and cache directory"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the Python whose pip fetches the dependencies (EOS's 3.9 where there is one)",
    )
    args = parser.parse_args(argv)
    try:
        swix = build(args.out.resolve(), args.work.resolve(), args.python)
    except BuildError as e:
        print(f"build_swix: {e}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(swix) as z:
        for item in z.infolist():
            print(f"  {item.filename:<44} {item.file_size:>10} bytes")
    print(f"{swix} ({swix.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
