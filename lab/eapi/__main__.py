"""Run the eAPI emulator as its own process (for the demo and end-to-end tests).

What this module is for::

    python -m lab.eapi --socket /tmp/lab/eapi.sock --http-port 0 \\
        --state-file switch.json [--user admin:secret] [--ready-file ready.json] \\
        [--tls-cert cert.pem --tls-key key.pem]

``--state-file`` holds either ``SwitchState.build`` arguments (``{"hostname":
"leaf1", "ethernet": 48, "port_channels": {"Port-Channel10": ["Ethernet47",
"Ethernet48"]}, "vlans": {"10": "web"}}``) or a full state as ``GET /lab/state``
returns it. Once listening it prints one JSON line ``{"http_port": N, "url": ...,
"socket": ...}`` on stdout (and writes it to ``--ready-file``), then serves until
SIGTERM or SIGINT.

It must never listen on anything but loopback unless ``--host`` says so.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Optional

from lab.eapi.server import EapiEmulator
from lab.eapi.state import SwitchState


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.eapi", description=__doc__)
    parser.add_argument("--socket", help="Unix socket path to serve eAPI on")
    parser.add_argument("--http-port", type=int, help="TCP port for HTTP eAPI (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--state-file", help="initial state (JSON)")
    parser.add_argument("--user", action="append", default=[], help="USER:PASSWORD for HTTP")
    parser.add_argument("--ready-file", help="write the endpoints JSON here once listening")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="... and this key (PEM)")
    args = parser.parse_args(argv)
    if args.socket is None and args.http_port is None:
        parser.error("give --socket and/or --http-port")

    state = SwitchState.build()
    if args.state_file:
        with open(args.state_file, encoding="utf-8") as f:
            state = SwitchState.from_spec(json.load(f))
    users = dict(u.split(":", 1) for u in args.user)
    emulator = EapiEmulator(state, users=users)
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    ends = emulator.start(
        http_port=args.http_port, socket_path=args.socket, host=args.host, tls=tls
    )
    ready = json.dumps({"http_port": ends.http_port, "url": ends.url, "socket": ends.socket_path})
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(ready + "\n")
        os.replace(tmp, args.ready_file)
    print(ready, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
