"""Hostile configuration files: control characters in paths, huge interface lists, and
fuzzed documents. Every one ends in a Config or one ConfigError line, fast."""

from __future__ import annotations

import contextlib
import string
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eos_vmtracer.cli import cli
from eos_vmtracer.config import (
    CdpConfig,
    ConfigError,
    LogConfig,
    SessionConfig,
    SwitchConfig,
    from_mapping,
    load,
    read_toml,
)
from tests.examples import examples
from tests.unit.test_config import GOOD, write


@pytest.fixture()
def pw(tmp_path: Path) -> Path:
    path = tmp_path / "vc1.password"
    path.write_text("s3cret-Pa55\n")
    path.chmod(0o600)
    return path


# -- control characters in paths --------------------------------------------------------------

PATH_KEYS = [
    ("switch", "state_dir"),
    ("switch", "run_dir"),
    ("switch", "eapi_socket"),
    ("session", "password_file"),
    ("session", "ca_file"),
]


def _toml_string(text: str) -> str:
    return (
        '"' + "".join(c if c.isalnum() or c in "/._-" else f"\\u{ord(c):04x}" for c in text) + '"'
    )


@pytest.mark.parametrize(("section", "key"), PATH_KEYS)
@pytest.mark.parametrize("bad", ["\x00", "\n", "\x1b[2J", "\x7f", "\x9b"])
def test_a_path_with_a_control_character_is_refused(
    tmp_path: Path,
    pw: Path,
    section: str,
    key: str,
    bad: str,
) -> None:
    value = _toml_string(f"/tmp/vmtracer{bad}x")
    text = GOOD.replace(
        "[switch]\n", f"[switch]\n{key} = {value}\n" if section == "switch" else "[switch]\n"
    )
    if section == "session":
        text = text.replace('password_file = "{pw}"', "") if key == "password_file" else text
        text += f"{key} = {value}\n"
    config = write(tmp_path, text, pw)
    with pytest.raises(ConfigError) as info:
        load(str(config))
    where = f"switch.{key}" if section == "switch" else f"session[1].{key}"
    assert str(info.value).startswith(f"{config}: {where}: the path holds a control character")
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["check", "--offline", "--config", str(config)]
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "\x00" not in result.stderr and "\x1b" not in result.stderr


def test_a_nul_in_state_dir_no_longer_reaches_run(tmp_path: Path, pw: Path) -> None:
    text = GOOD.replace("[switch]\n", '[switch]\nstate_dir = "/tmp/vmt\\u0000x"\n')
    config = write(tmp_path, text, pw)
    result = CliRunner(mix_stderr=False).invoke(cli, ["run", "--config", str(config)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "switch.state_dir: the path holds a control character (U+0000)" in result.stderr


# -- scale: linear duplicate checks -----------------------------------------------------------


def _ranges(first_slot: int, slots: int) -> list[str]:
    return [f"Ethernet{s}/1-4096" for s in range(first_slot, first_slot + slots)]


def test_65536_interfaces_load_in_linear_time(tmp_path: Path, pw: Path) -> None:
    """16 x 4,096 names (quadratic checks took 18 s): a gross bound, not a benchmark."""
    interfaces = _ranges(1, 16)
    uplinks = _ranges(17, 16)
    text = GOOD.replace(
        'interfaces = ["Ethernet1-48", "Port-Channel10"]\nuplinks = ["Port-Channel1000"]',
        f"interfaces = {interfaces!r}\nuplinks = {uplinks!r}".replace("'", '"'),
    )
    started = time.monotonic()
    cfg = load(str(write(tmp_path, text, pw)))
    took = time.monotonic() - started
    assert len(cfg.switch.interfaces) == 65536 and len(cfg.switch.uplinks) == 65536
    assert took < 10.0, f"{took:.1f} s"


def test_duplicates_are_still_found_among_65536(tmp_path: Path, pw: Path) -> None:
    interfaces = [*_ranges(1, 16), "Ethernet16/4096"]
    text = GOOD.replace(
        'interfaces = ["Ethernet1-48", "Port-Channel10"]',
        f"interfaces = {interfaces!r}".replace("'", '"'),
    )
    with pytest.raises(ConfigError, match="Ethernet16/4096 is listed twice"):
        load(str(write(tmp_path, text, pw)))
    text = GOOD.replace('uplinks = ["Port-Channel1000"]', 'uplinks = ["Ethernet16/4096"]')
    text = text.replace(
        'interfaces = ["Ethernet1-48", "Port-Channel10"]',
        f"interfaces = {_ranges(1, 16)!r}".replace("'", '"'),
    )
    with pytest.raises(ConfigError, match=r"Ethernet16/4096 is also in switch\.interfaces"):
        load(str(write(tmp_path, text, pw)))


# -- fuzz: anything TOML can hold -------------------------------------------------------------

toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "Ethernet1-4",
            "Ethernet1/1-2,2/1",
            "Port-Channel10",
            "100-199",
            "1-4094",
            "https://vc1/sdk",
            "/tmp",
            "/etc/passwd",
            "\x00",
            "SHA256:" + "AB:" * 31 + "AB",
        ]
    )
)
toml_values = st.recursive(
    toml_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _keys(cls: type) -> list[str]:
    return [f.name for f in cls.__dataclass_fields__.values()]


def _table(cls: type) -> Any:
    known = st.sampled_from(_keys(cls))
    return st.dictionaries(known | st.text(max_size=12), toml_values, max_size=6)


documents = st.fixed_dictionaries(
    {},
    optional={
        "switch": _table(SwitchConfig) | toml_values,
        "cdp": _table(CdpConfig) | toml_values,
        "log": _table(LogConfig) | toml_values,
        "session": st.lists(_table(SessionConfig) | toml_values, max_size=3) | toml_values,
    },
) | st.dictionaries(st.text(max_size=10), toml_values, max_size=4)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
@example({"switch": {"remove_delay": 10**400}})  # once an OverflowError: formatted as a float
def test_any_document_is_a_config_or_a_config_error(doc: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):  # anything else fails the test
        from_mapping(doc, "fuzz.toml")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=200)
    | st.text(alphabet=string.printable + "[]=\"'{}.\u00e9\x00", max_size=200).map(str.encode)
)
def test_any_bytes_are_a_document_or_a_config_error(data: bytes) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".toml") as f:
        f.write(data)
        f.flush()
        with contextlib.suppress(ConfigError):
            from_mapping(read_toml(f.name), f.name)
