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
from eos_vmtracer.vcenter.connection import Connection
from eos_vmtracer.vcenter.inventory import InventoryStore
from eos_vmtracer.vcenter.pyvmomi import SoapAdapter, SoapStubAdapter, vmodl
from eos_vmtracer.vcenter.soap import prune_devices
from eos_vmtracer.vcenter.translate import moid
from eos_vmtracer.vcenter.watch import Watch, kind_of
from lab.vcsim.testing import session_config

_UPDATE_SET = vmodl.query.PropertyCollector.UpdateSet


def _collect(lab: Any, leaf_hosts: int) -> list[bytes]:
    """The bytes of every long-poll answer of a first start for leaf 1."""
    bodies: list[bytes] = []
    real = updates.read

    def keep(body: bytes, stub: Any, version: Any = None) -> Any:
        bodies.append(body)
        return real(body, stub, version)

    updates.read = keep
    conn = Connection(session_config(lab), socket_timeout=30, call_timeout=120)
    conn.open(lab.password)
    watch = Watch(
        conn, wait_seconds=1, wait_timeout=120, max_object_updates=200, event_page_size=100,
        scoped=True,
    )  # fmt: skip
    try:
        watch.create()
        version = _drain(watch, "")
        hosts = lab.control.state()["hosts"]
        leaf1 = [hosts[fabric.host_name(h)]["moid"] for h in range(leaf_hosts)]
        watch.modify_scope([("host", m) for m in leaf1], [])
        _drain(watch, version)
    finally:
        updates.read = real
        watch.destroy()
        conn.logout()
    return bodies


def _drain(watch: Watch, version: str) -> str:
    while True:
        update = watch.wait(version, at_once=True)
        if update is None:
            return version
        version = str(update.version)


def _models(update_sets: list[Any]) -> tuple[Any, ...]:
    store = InventoryStore(lambda _: None)
    for update in update_sets:
        for f in update.filterSet or []:
            for o in f.objectSet or []:
                kind, obj_moid = kind_of(o.obj), moid(o.obj)
                if kind is None or obj_moid is None:
                    continue
                changes = [(str(c.name), str(c.op), c.val) for c in o.changeSet or []]
                store.apply(kind, obj_moid, str(o.kind), changes)
    store.refresh()
    return dict(store.hosts()), dict(store.vms())


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
        "same_inventory": _models(et_sets) == _models(py_sets),
    }


__all__ = ["measure"]
