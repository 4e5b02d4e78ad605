"""Benchmark: what it costs to send one round of CDP frames to 48 ports.

Run as root: ``python bench/cdp_send.py [--ports 48]``; prints one JSON object.

Measures, over 48 veth pairs in lab namespaces (the switch side named et1..et48):

* ``build_frame_us``: building one frame with scapy (done once per port, and
  again only when the identity, the native VLAN or the port's MAC changes);
* ``round_ms``: one steady round through the real transmit path (read the
  port's MAC from the kernel, compare, send the cached frame) on every port,
  median and 99th percentile over many rounds;
* ``first_round_ms``: from ``CdpSender.start()`` until every port has sent
  its first frame (includes building all frames);
* ``sender_cpu_per_frame_us``: the CPU the running sender thread uses per
  frame, measured over a few seconds at a short interval, and what that means
  at the default 30 s interval.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eos_vmtracer.cdp import CdpIdentity, CdpSender, RawLink, build_frame
from lab.netns import HostNamespace, Namespace, check_tools

IDENTITY = CdpIdentity(
    device_id="leaf1.dc1.example.com",
    addresses=("192.0.2.10", "2001:db8::10"),
    version="Arista Networks EOS version 4.31.1F",
    platform="DCS-7050SX3-48YC8",
)


def _bench_build(samples: int = 300) -> float:
    start = time.perf_counter()
    for i in range(samples):
        build_frame(IDENTITY, f"Ethernet{i % 48 + 1}", "02:1c:73:00:00:01", holdtime=180)
    return (time.perf_counter() - start) / samples * 1e6


def _bench_rounds(switch: Namespace, ports: dict[str, str], rounds: int) -> list[float]:
    with switch.entered():
        links = {port: RawLink(ifname) for port, ifname in ports.items()}
        try:
            frames = {
                port: (link.mac(), build_frame(IDENTITY, port, link.mac(), holdtime=180))
                for port, link in links.items()
            }
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                for port, link in links.items():
                    mac, frame = frames[port]
                    if link.mac() != mac:  # what the sender checks before each send
                        raise RuntimeError("MAC changed")
                    link.send(frame)
                times.append(time.perf_counter() - start)
        finally:
            for link in links.values():
                link.close()
    return times


def _bench_sender(switch: Namespace, ports: dict[str, str], seconds: float) -> dict[str, float]:
    sender = CdpSender(interval=0.1, holdtime=180, jitter=0.1)
    sender.update(IDENTITY, ports)
    cpu0 = time.process_time()
    start = time.perf_counter()
    with switch.entered():
        sender.start()
    try:
        while min(s.frames_sent for s in sender.stats().values()) < 1:
            time.sleep(0.0005)
        first_round = time.perf_counter() - start
        sent0 = sum(s.frames_sent for s in sender.stats().values())
        cpu1, t1 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu2, t2 = time.process_time(), time.perf_counter()
        sent1 = sum(s.frames_sent for s in sender.stats().values())
        errors = sum(s.errors for s in sender.stats().values())
    finally:
        sender.stop()
    frames = sent1 - sent0
    cpu_per_frame = (cpu2 - cpu1) / frames if frames else float("nan")
    return {
        "first_round_ms": round(first_round * 1e3, 2),
        "first_round_cpu_ms": round((cpu1 - cpu0) * 1e3, 2),
        "sender_frames": frames,
        "sender_frames_per_s": round(frames / (t2 - t1), 1),
        "sender_errors": errors,
        "sender_cpu_per_frame_us": round(cpu_per_frame * 1e6, 2),
        "sender_cpu_percent_48_ports_at_30s": round(cpu_per_frame * len(ports) / 30.0 * 100, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/cdp_send.py needs root (network namespaces, raw sockets)")
    check_tools(("ip",))
    result: dict[str, object] = {
        "benchmark": "cdp_send",
        "python": platform.python_version(),
        "ports": args.ports,
        "frame_bytes": len(build_frame(IDENTITY, "Ethernet48", "02:1c:73:00:00:01", holdtime=180)),
        "build_frame_us": round(_bench_build(), 1),
    }
    with (
        Namespace("benchsw") as switch,
        HostNamespace("benchhost", switch=switch, lldpd=False) as host,
    ):
        ports = {}
        for n in range(1, args.ports + 1):
            host.add_link(f"et{n}")
            ports[f"Ethernet{n}"] = f"et{n}"
        times = sorted(_bench_rounds(switch, ports, args.rounds))
        result.update(
            {
                "round_ms_median": round(statistics.median(times) * 1e3, 3),
                "round_ms_p99": round(times[int(len(times) * 0.99) - 1] * 1e3, 3),
                "per_port_us_median": round(statistics.median(times) / args.ports * 1e6, 2),
            }
        )
        result.update(_bench_sender(switch, ports, args.seconds))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
