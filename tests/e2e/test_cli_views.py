"""Every ``show vm-tracer`` command over the whole lab, checked against its outputSchema.

The EOS CLI extension's handlers (extension/cli/EosVmTracerCli.py, with a stand-in
for EOS's ``CliExtension``) read the status the agent publishes while it follows
the lab's vCenters (vcsim), the eAPI emulator and the hosts' lldpd; each answer must
validate against the command's ``outputSchema`` in EosVmTracer.yaml with a strict
draft-07 validator, and the detail commands must say what ``vmtracer`` says in bash.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
import yaml

from lab.world import World

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


class _Status:
    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def status(self, key: str) -> Optional[str]:
        return self.run_dir if key == "run_dir" else None


class _Ctx:
    def __init__(self, run_dir: str, args: dict[str, Any]) -> None:
        self.args = args
        self.errors: list[str] = []
        self._daemon = types.SimpleNamespace(status=_Status(run_dir))

    def getDaemon(self, name: str) -> Any:
        return self._daemon if name == "EosVmTracer" else None

    def addError(self, message: str) -> None:
        self.errors.append(message)


@pytest.fixture()
def handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    ext = types.ModuleType("CliExtension")
    ext.ShowCommandClass = type("ShowCommandClass", (), {})  # type: ignore[attr-defined]
    ext.registerCommand = lambda *a, **k: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "CliExtension", ext)
    path = ROOT / "extension" / "cli" / "EosVmTracerCli.py"
    spec = importlib.util.spec_from_file_location("EosVmTracerCli", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_answers_per_its_schema_over_the_lab(world: World, handler: Any) -> None:
    doc = world.status()
    vm = next(v for v in doc["vms"] if any(n["interfaces"] for n in v["nics"]))
    host = next(h for h in doc["hosts"] if any(lk["interface"] for lk in h["links"]))
    port = next(lk["interface"] for lk in host["links"] if lk["interface"])
    args = {
        "showVmTracerInterface": {"<interface>": port},
        "showVmTracerVm": {"<vm>": vm["name"]},
        "showVmTracerHost": {"<host>": host["name"]},
        "showVmTracerHistory": {"<count>": 10},
    }
    commands = yaml.safe_load((ROOT / "extension/cli/EosVmTracer.yaml").read_text())["commands"]
    assert set(commands) == set(handler.COMMANDS)
    answers = {}
    for name, cls in handler.COMMANDS.items():
        ctx = _Ctx(str(world.run_dir), args.get(name, {}))
        data = cls().handler(ctx)
        assert ctx.errors == [], name
        jsonschema.Draft7Validator(
            commands[name]["outputSchema"],
            format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
        ).validate(data)
        answers[name] = data
    assert answers["showVmTracerInterface"]["interface"]["name"] == port
    assert host["name"] in {
        c["name"] for c in answers["showVmTracerInterface"]["interface"]["cabled"]
    }
    assert vm["moid"] in {v["moid"] for v in answers["showVmTracerVm"]["vms"]}
    assert port in answers["showVmTracerHost"]["hosts"][0]["interfaces"]
    assert 1 <= len(answers["showVmTracerHistory"]["events"]) <= 10
    # The same VM in bash, as JSON.
    shown = json.loads(world.vmtracer("show", "vm", vm["moid"], "--json").stdout)
    assert [v["moid"] for v in shown["vms"]] == [vm["moid"]]
