"""Under EOS the SDK bridge hands the EOS SDK's vrf_mgr to the VRF dialer (socket_at)."""

from __future__ import annotations

import types
from typing import Any

from eos_vmtracer.eos import sdk as eos_sdk
from eos_vmtracer.vcenter import vrf


def _handler() -> type:
    class Handler:
        def __init__(self, *args: Any) -> None:
            pass

    return Handler


def _module() -> Any:
    return types.SimpleNamespace(
        AgentHandler=_handler(), FdHandler=_handler(), TimeoutHandler=_handler(), now=lambda: 0.0
    )


class _Sdk:
    def __init__(self, vrf_mgr: Any) -> None:
        self.vrf_mgr = vrf_mgr

    def get_agent_mgr(self) -> object:
        return object()

    def get_timeout_mgr(self) -> object:
        return object()

    def get_vrf_mgr(self) -> Any:
        return self.vrf_mgr


def test_the_bridge_gives_the_sdks_vrf_mgr_to_the_dialer() -> None:
    mgr = object()
    try:
        eos_sdk._bridge_class(_module())(_Sdk(mgr), 0)
        assert vrf._sdk_vrf_mgr is mgr
    finally:
        vrf.use_sdk(None)


def test_an_sdk_without_vrf_mgr_leaves_setns() -> None:
    class Old(_Sdk):
        get_vrf_mgr = None  # type: ignore[assignment]

    eos_sdk._bridge_class(_module())(Old(None), 0)
    assert vrf._sdk_vrf_mgr is None
