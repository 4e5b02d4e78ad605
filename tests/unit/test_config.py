"""The configuration file: good files load with the README's defaults, bad ones give one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from eos_vmtracer.cli import cli
from eos_vmtracer.config import ConfigError, load
from eos_vmtracer.vlans import VlanSet

GOOD = """
[switch]
interfaces = ["Ethernet1-48", "Port-Channel10"]
uplinks = ["Port-Channel1000"]

[[session]]
name = "vc1"
url = "https://vc1.example.com/sdk"
username = "svc-vmtracer@vsphere.local"
password_file = "{pw}"
allowed_vlans = "100-199,300"
"""


@pytest.fixture()
def pw(tmp_path: Path) -> Path:
    path = tmp_path / "vc1.password"
    path.write_text("s3cret-Pa55\n")
    path.chmod(0o600)
    return path


def write(tmp_path: Path, text: str, pw: Path) -> Path:
    path = tmp_path / "vmtracer.toml"
    path.write_text(text.replace("{pw}", str(pw)))
    return path


def test_good_file_has_spec_defaults(tmp_path: Path, pw: Path) -> None:
    cfg = load(str(write(tmp_path, GOOD, pw)))
    s = cfg.switch
    assert len(s.interfaces) == 49 and s.interfaces[0] == "Ethernet1"
    assert s.interfaces[-1] == "Port-Channel10"
    assert s.uplinks == ("Port-Channel1000",)
    assert s.eapi_transport == "socket"
    assert s.hostname == ""
    assert s.create_vlans is True
    assert s.remove_delay == 300
    assert s.state_dir == "/mnt/flash/vmtracer"
    assert s.dry_run is False
    assert cfg.cdp.enabled is True and cfg.cdp.interval == 30 and cfg.cdp.holdtime == 180
    assert dict(cfg.cdp.kernel_interfaces) == {}
    (sess,) = cfg.sessions
    assert sess.allowed_vlans == VlanSet.parse("100-199,300")
    assert sess.autovlan is True and sess.tls_verify is True
    assert sess.password() == "s3cret-Pa55"


def test_thumbprint_is_normalised(tmp_path: Path, pw: Path) -> None:
    thumb = ":".join(["ab"] * 32)
    cfg = load(str(write(tmp_path, GOOD + f'thumbprint = "SHA256:{thumb}"\n', pw)))
    assert cfg.sessions[0].thumbprint == "AB" * 32


def test_password_env(tmp_path: Path, pw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VC1_PASSWORD", "from-env")
    text = GOOD.replace('password_file = "{pw}"', 'password_env = "VC1_PASSWORD"')
    cfg = load(str(write(tmp_path, text, pw)))
    assert cfg.sessions[0].password() == "from-env"


SESSION2 = """
[[session]]
name = "vc2"
url = "https://vc2.example.com/sdk"
username = "svc"
password_file = "{pw}"
allowed_vlans = "200"
"""

# (what to do to the good file, the key the message must name, a word of the problem)
BAD = [
    (lambda t: t + "\n[frobnicate]\nx = 1\n", "frobnicate", "unknown section"),
    (
        lambda t: t.replace("[switch]", "[switch]\nremove_dealy = 5"),
        "switch.remove_dealy",
        "did you mean remove_delay",
    ),
    (
        lambda t: t.replace("[switch]", '[switch]\nremove_delay = "5"'),
        "switch.remove_delay",
        "must be a number",
    ),
    (
        lambda t: t.replace("[switch]", "[switch]\nremove_delay = -1"),
        "switch.remove_delay",
        "between",
    ),
    (
        lambda t: t.replace("[switch]", '[switch]\ndry_run = "yes"'),
        "switch.dry_run",
        "true or false",
    ),
    (
        lambda t: t.replace("[switch]", "[switch]\ncreate_vlans = 1"),
        "switch.create_vlans",
        "true or false",
    ),
    (lambda t: t.replace('"Ethernet1-48"', '"Ethernet48-1"'), "switch.interfaces", "reversed"),
    (lambda t: t.replace('"Ethernet1-48"', '"Vlan10"'), "switch.interfaces", "not an Ethernet"),
    (
        lambda t: t.replace('"Ethernet1-48", ', '"Ethernet1", "Et1", '),
        "switch.interfaces",
        "listed twice",
    ),
    (
        lambda t: t.replace('interfaces = ["Ethernet1-48", "Port-Channel10"]', "interfaces = []"),
        "switch.interfaces",
        "at least one",
    ),
    (
        lambda t: t.replace('interfaces = ["Ethernet1-48", "Port-Channel10"]', "interfaces = 5"),
        "switch.interfaces",
        "must be a list",
    ),
    (
        lambda t: t.replace('"Port-Channel1000"', '"Ethernet3"'),
        "switch.uplinks",
        "also in switch.interfaces",
    ),
    (
        lambda t: t.replace("[switch]", '[switch]\neapi_transport = "telnet"'),
        "switch.eapi_transport",
        "must be one of",
    ),
    (
        lambda t: t.replace("[switch]", '[switch]\neapi_transport = "https"\neapi_username = "a"'),
        "switch.eapi_password_file",
        "exactly one",
    ),
    (
        lambda t: t.replace("[switch]", '[switch]\nstate_dir = "relative/dir"'),
        "switch.state_dir",
        "absolute",
    ),
    (lambda t: t + "\n[cdp]\ninterval = 0\n", "cdp.interval", "between"),
    (lambda t: t + "\n[cdp]\ninterval = 60\nholdtime = 30\n", "cdp.holdtime", "longer than"),
    (
        lambda t: t + '\n[cdp]\nkernel_interfaces = {"Ethernet1" = "bad name!"}\n',
        "cdp.kernel_interfaces",
        "not a Linux interface",
    ),
    (
        lambda t: t + '\n[cdp]\nkernel_interfaces = {"Loopback0" = "lo"}\n',
        "cdp.kernel_interfaces",
        "not an Ethernet",
    ),
    (lambda t: t + '\n[log]\nlevel = "loud"\n', "log.level", "must be one of"),
    (
        lambda t: t.replace('allowed_vlans = "100-199,300"', 'allowed_vlans = "100-5000"'),
        "session[1].allowed_vlans",
        "out of range",
    ),
    (
        lambda t: t.replace('allowed_vlans = "100-199,300"', 'allowed_vlans = "199-100"'),
        "session[1].allowed_vlans",
        "reversed",
    ),
    (
        lambda t: t.replace('allowed_vlans = "100-199,300"', 'allowed_vlans = "NONE"'),
        "session[1].allowed_vlans",
        "names no VLAN",
    ),
    (
        lambda t: t.replace('allowed_vlans = "100-199,300"', "allowed_vlans = 100"),
        "session[1].allowed_vlans",
        "must be a string",
    ),
    (
        lambda t: t.replace('allowed_vlans = "100-199,300"\n', ""),
        "session[1].allowed_vlans",
        "is required",
    ),
    (
        lambda t: t.replace(
            'url = "https://vc1.example.com/sdk"', 'url = "http://vc1.example.com/sdk"'
        ),
        "session[1].url",
        "https://",
    ),
    (
        lambda t: t.replace('url = "https://vc1.example.com/sdk"', 'url = "https://vc1:99999/sdk"'),
        "session[1].url",
        "not a URL",
    ),
    (
        lambda t: t.replace('url = "https://vc1.example.com/sdk"', 'url = "https:///sdk"'),
        "session[1].url",
        "no host",
    ),
    (
        lambda t: t.replace('url = "https://vc1.example.com/sdk"', 'url = "https://u:p@vc1/sdk"'),
        "session[1].url",
        "password",
    ),
    (lambda t: t + SESSION2.replace('"vc2"', '"vc1"'), "session[2].name", "used twice"),
    (lambda t: t.replace('name = "vc1"', 'name = "vc 1"'), "session[1].name", "letters"),
    (
        lambda t: t.replace('password_file = "{pw}"', 'password = "hunter2"'),
        "session[1].password",
        "never go in the config",
    ),
    (
        lambda t: t.replace('password_file = "{pw}"\n', ""),
        "session[1].password_file",
        "no password source",
    ),
    (
        lambda t: t.replace('password_file = "{pw}"', 'password_file = "/nonexistent/pw"'),
        "session[1].password_file",
        "No such file",
    ),
    (
        lambda t: t.replace('password_file = "{pw}"', 'password_env = "VMTRACER_SURELY_UNSET_VAR"'),
        "session[1].password_env",
        "is not set",
    ),
    (
        lambda t: t.replace('username = "svc-vmtracer@vsphere.local"', 'username = ""'),
        "session[1].username",
        "must not be empty",
    ),
    (lambda t: t + 'thumbprint = "SHA1:AB:CD"\n', "session[1].thumbprint", "SHA-256"),
    (
        lambda t: t + 'tls_verify = false\nthumbprint = "' + "AB" * 32 + '"\n',
        "session[1].tls_verify",
        "pick one",
    ),
    (lambda t: t + 'ca_file = "/nonexistent/ca.pem"\n', "session[1].ca_file", "cannot read"),
    (lambda t: t + 'ca_file = "/etc"\n', "session[1].ca_file", "/etc is not a file"),
    (lambda t: t + 'autovlan = "no"\n', "session[1].autovlan", "true or false"),
    (lambda t: t + "hint_interval = 0\n", "session[1].hint_interval", "between"),
    (
        lambda t: t + "".join(SESSION2.replace("vc2", f"vc{i}") for i in range(2, 10)),
        "session",
        "at most 8",
    ),
    (lambda t: t.replace("[[session]]", "[session]"), "session", "array of tables"),
    (lambda t: t.replace("[[session]]", "[[sesion]]"), "sesion", "did you mean session"),
    (lambda t: t[: t.index("[[session]]")], "session", "at least one"),
]


@pytest.mark.parametrize(("mutate", "key", "problem"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_file_one_line_naming_the_key(
    tmp_path: Path, pw: Path, mutate: object, key: str, problem: str
) -> None:
    path = write(tmp_path, mutate(GOOD), pw)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert info.value.key == key
    assert problem in info.value.problem
    # The same through the command: exit 2, one line on stderr, no traceback.
    result = CliRunner(mix_stderr=False).invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"vmtracer: {path}: {key}: ")
    assert problem in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr


def test_at_least_twenty_distinct_bad_files() -> None:
    assert len({(k, p) for _, k, p in BAD}) >= 20


def test_password_file_readable_by_others_is_refused(tmp_path: Path, pw: Path) -> None:
    pw.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        load(str(write(tmp_path, GOOD, pw)))
    assert info.value.key == "session[1].password_file"
    assert "mode 0644" in info.value.problem and "chmod 600" in info.value.problem
    pw.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by group or others"):
        load(str(write(tmp_path, GOOD, pw)))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[switch\n", "not valid TOML"),
        (b"\xff\xfe[switch]", "not valid TOML"),
    ],
)
def test_unparsable_files(tmp_path: Path, content: object, problem: str) -> None:
    path = tmp_path / "x.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(str(content))
    with pytest.raises(ConfigError, match=problem):
        load(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(str(tmp_path / "absent.toml"))


def test_check_command_real_process(tmp_path: Path, pw: Path) -> None:
    """The installed console script and ``python -m`` give the same one line and exit 2."""
    bad = write(tmp_path, GOOD.replace('"100-199,300"', '"100-199,4095"'), pw)
    for argv in (
        [os.path.join(os.path.dirname(sys.executable), "vmtracer")],
        [sys.executable, "-m", "eos_vmtracer"],
    ):
        proc = subprocess.run(
            [*argv, "check", "--config", str(bad)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1
        assert "session[1].allowed_vlans" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_check_good_file_summary(tmp_path: Path, pw: Path) -> None:
    good = write(tmp_path, GOOD, pw)
    result = CliRunner(mix_stderr=False).invoke(cli, ["check", "--offline", "--config", str(good)])
    assert result.exit_code == 0, result.stderr
    assert "configuration is valid" in result.stdout
    assert "vc1" in result.stdout and "100-199,300" in result.stdout
    assert "s3cret" not in result.stdout


def test_config_from_environment(tmp_path: Path, pw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = write(tmp_path, GOOD, pw)
    monkeypatch.setenv("VMTRACER_CONFIG", str(good))
    result = CliRunner(mix_stderr=False).invoke(cli, ["check", "--offline"])
    assert result.exit_code == 0, result.stderr


def _fake_mounts(tmp_path: Path, fs: str) -> Path:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/root / ext4 rw 0 0\n/dev/sda1 {tmp_path} {fs} rw,fmask=0007 0 0\n")
    return mounts


def test_filesystem_type_longest_mount_wins(tmp_path: Path) -> None:
    from eos_vmtracer.config import filesystem_type

    mounts = _fake_mounts(tmp_path, "vfat")
    assert filesystem_type(str(tmp_path / "x" / "pw"), str(mounts)) == "vfat"
    assert filesystem_type("/etc/passwd", str(mounts)) == "ext4"
    assert filesystem_type("/etc/passwd", str(tmp_path / "absent")) == ""


def test_password_file_on_fat_flash(
    tmp_path: Path, pw: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EOS's flash is FAT: files read 0770 (root, eosadmin) whatever chmod says. Accepted
    there unless the mount lets everybody read; 0640 on a real file system is refused."""
    import eos_vmtracer.config as config_module

    pw.chmod(0o770)
    monkeypatch.setattr(config_module, "MOUNTS", str(_fake_mounts(tmp_path, "vfat")))
    assert load(str(write(tmp_path, GOOD, pw))).sessions[0].password_file == str(pw)
    pw.chmod(0o775)
    with pytest.raises(ConfigError, match="FAT file system mounted readable by everybody"):
        load(str(write(tmp_path, GOOD, pw)))
    pw.chmod(0o770)
    monkeypatch.setattr(config_module, "MOUNTS", str(_fake_mounts(tmp_path, "ext4")))
    with pytest.raises(ConfigError, match="chmod 600"):
        load(str(write(tmp_path, GOOD, pw)))
