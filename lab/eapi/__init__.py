"""An EOS eAPI emulator: a stateful stand-in for an Arista switch's command API.

What this package is for: the "real peer" the switch adapter's integration tests,
the end-to-end tests and the demo talk to. It answers JSON-RPC ``runCmds`` over
HTTP and over a Unix socket, keeps a running configuration and EOS configuration
sessions, answers the show commands the project needs in EOS's JSON shapes, fails
loudly (error 1002) on anything it does not know, and lets tests inject faults
and count requests.

In-process::

    emu = EapiEmulator(SwitchState.build(ethernet=48, port_channels={...}))
    ends = emu.start(http_port=0, socket_path="/tmp/x/eapi.sock")
    ...
    emu.stop()

As a process: ``python -m lab.eapi --socket PATH --http-port N --state-file F``
(see ``__main__``); :class:`LabClient` drives its control API from another process.

It must never import the project under test (``eos_vmtracer``).
"""

from __future__ import annotations

from lab.eapi.client import LabClient
from lab.eapi.server import EapiEmulator, Endpoints
from lab.eapi.state import Port, SwitchState

__all__ = ["EapiEmulator", "Endpoints", "LabClient", "Port", "SwitchState"]
