"""What reading the long poll's answers of a first start costs: ElementTree against pyvmomi.

What this module is for: part of benchmark ``fabric``. Against the fabric lab, one
scoped watch reads what a leaf's first start reads (every host's name, state and
NICs, then the 50 hosts of leaf 1 with their VMs and network configuration), keeping
the bytes of each ``WaitForUpdatesEx`` answer. Then, on the same bytes, it times the
agent's reader (:mod:`eos_vmtracer.vcenter.updates`, ElementTree) against the one
it replaced, pyvmomi's deserializer with the agent's pruning
(:mod:`eos_vmtracer.vcenter.soap`), in CPU seconds (best of 3), and checks that both
make the same inventory. Answers the ElementTree reader leaves to pyvmomi (switches,
portgroups, events) are counted, not timed.

It must never change what the agent reads (the reader is only wrapped while the
answers are collected), and must leave nothing behind in vCenter.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from bench import fabric
from eos_vmtracer.vcenter import updates
from eos_vmtracer.vcenter.pyvmomi import SoapAdapter, SoapStubAdapter, vmodl
from eos_vmtracer.vcenter.soap import prune_devices
from lab.vcsim.testing import drain, inventory_of, scoped_watch

_UPDATE_SET = vmodl.query.PropertyCollector.UpdateSet


def _collect(lab: Any, leaf_hosts: int) -> list[bytes]:
    """The bytes of every long-poll answer of a first start for leaf 1."""
    bodies: list[bytes] = []
    real = updates.read

    def keep(body: bytes, stub: Any, version: Any = None) -> Any:
        bodies.append(body)
        return real(body, stub, version)

    updates.read = keep
    try:
        with scoped_watch(lab, 120, max_object_updates=200, event_page_size=100) as watch:
            version = drain(watch, "", rounds=10_000)
            hosts = lab.control.state()["hosts"]
            leaf1 = [hosts[fabric.host_name(h)]["moid"] for h in range(leaf_hosts)]
            watch.modify_scope([("host", m) for m in leaf1], [])
            drain(watch, version, rounds=10_000)
    finally:
        updates.read = real
    return bodies


def _best_cpu(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        began = time.process_time()
        out = fn()
        best = min(best, time.process_time() - began)
    return best, out


def measure(lab: Any, leaf_hosts: int) -> dict[str, Any]:
    """CPU to read a first start's answers, ElementTree and pyvmomi, on the same bytes."""
    bodies = _collect(lab, leaf_hosts)
    stub = SoapStubAdapter(host="localhost", version="vim.version.version11")
    prune_devices(stub)
    ours: list[bytes] = []
    for body in bodies:
        try:
            updates.read(body, stub)
            ours.append(body)
        except updates.Defer:
            pass

    def elementtree() -> list[Any]:
        return [updates.read(b, stub) for b in ours]

    def pyvmomi() -> list[Any]:
        deserializer = SoapAdapter.SoapResponseDeserializer
        return [deserializer(stub).Deserialize(b, _UPDATE_SET) for b in ours]

    et_s, et_sets = _best_cpu(elementtree)
    py_s, py_sets = _best_cpu(pyvmomi)
    return {
        "answers": len(bodies),
        "answers_left_to_pyvmomi": len(bodies) - len(ours),
        "bytes_read_here": sum(len(b) for b in ours),
        "cpu_s_elementtree": round(et_s, 3),
        "cpu_s_pyvmomi_baseline": round(py_s, 3),
        "ratio": round(py_s / et_s, 1) if et_s else None,
        "same_inventory": inventory_of(et_sets)[:2] == inventory_of(py_sets)[:2],
    }


__all__ = ["measure"]
