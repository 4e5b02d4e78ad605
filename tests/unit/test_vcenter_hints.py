"""QueryNetworkHint on the wire: the request written by hand, the answer read without pyvmomi.

The answers below are what the lab's vCenter sends (captured), and variations of them a
broken or hostile vCenter could send. What the translator makes of the records must be
what it makes of pyvmomi's objects for the same answer.
"""

from __future__ import annotations

import contextlib
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eos_vmtracer.model import Neighbor
from eos_vmtracer.vcenter.errors import ProtocolError
from eos_vmtracer.vcenter.hints import (
    MAX_ANSWER,
    HintFault,
    HintInfo,
    Typed,
    parse_answer,
    request_body,
)
from eos_vmtracer.vcenter.pyvmomi import SoapAdapter, vim
from eos_vmtracer.vcenter.translate import neighbors_from_hints

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"'
    ' xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
)
TAIL = "</soapenv:Body></soapenv:Envelope>"


def answer(returnvals: str) -> bytes:
    response = (
        f'<QueryNetworkHintResponse xmlns="urn:vim25">{returnvals}</QueryNetworkHintResponse>'
    )
    return (HEAD + response + TAIL).encode()


CDP = (
    "<returnval><device>vmnic0</device><connectedSwitchPort><cdpVersion>2</cdpVersion>"
    "<ttl>180</ttl><samples>1</samples><devId>leaf1.lab</devId><address>192.0.2.10</address>"
    "<portId>Ethernet1</portId><deviceCapability><router>true</router>"
    "<networkSwitch>true</networkSwitch></deviceCapability><fullDuplex>true</fullDuplex>"
    "<mtu>9214</mtu><mgmtAddr>192.0.2.10</mgmtAddr></connectedSwitchPort></returnval>"
)
LLDP = (
    "<returnval><device>vmnic1</device><lldpInfo><chassisId>00:1c:73:00:01:01</chassisId>"
    "<portId>Ethernet51</portId><timeToLive>120</timeToLive><parameter><key>System Name</key>"
    '<value xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"'
    ' XMLSchema-instance:type="xsd:string">leaf1</value></parameter></lldpInfo></returnval>'
)
LAB_ANSWER = answer(CDP + LLDP)


def fault(detail: str, message: str = "") -> bytes:
    return (
        HEAD + "<soapenv:Fault><faultcode>ServerFaultCode</faultcode>"
        f"<faultstring>{message}</faultstring><detail>{detail}</detail></soapenv:Fault>" + TAIL
    ).encode()


def pyvmomi_reads(body: bytes) -> Any:
    """What pyvmomi makes of the same answer (its own deserializer)."""
    return SoapAdapter.SoapResponseDeserializer(None).Deserialize(
        body, vim.host.PhysicalNic.NetworkHint.Array
    )


def test_the_lab_answer_reads_as_pyvmomi_reads_it() -> None:
    hints = parse_answer(LAB_ANSWER)
    assert isinstance(hints, tuple)
    ours = neighbors_from_hints(hints, pytest.fail)
    theirs = neighbors_from_hints(pyvmomi_reads(LAB_ANSWER), pytest.fail)
    assert (
        ours
        == theirs
        == {
            "vmnic0": (Neighbor("cdp", "leaf1.lab", "Ethernet1", "192.0.2.10"),),
            "vmnic1": (Neighbor("lldp", "leaf1", "Ethernet51", ""),),
        }
    )


def test_an_empty_answer_is_no_hints() -> None:
    assert parse_answer(answer("")) == ()
    assert parse_answer(answer("<returnval><device>vmnic3</device></returnval>")) == (
        HintInfo(device="vmnic3"),
    )


def test_a_missing_field_is_none_never_a_default() -> None:
    (hint,) = parse_answer(answer("<returnval><connectedSwitchPort/></returnval>"))  # type: ignore[misc]
    assert hint.device is None
    assert hint.connectedSwitchPort is not None
    assert hint.connectedSwitchPort.devId is None and hint.connectedSwitchPort.portId is None
    assert neighbors_from_hints((hint,), pytest.fail) == {}


def test_an_lldp_value_not_typed_as_a_string_is_not_taken_for_one() -> None:
    body = answer(
        "<returnval><device>vmnic1</device><lldpInfo><chassisId>c</chassisId><portId>p</portId>"
        '<parameter><key>System Name</key><value xsi:type="xsd:int">7</value></parameter>'
        "</lldpInfo></returnval>"
    )
    (hint,) = parse_answer(body)  # type: ignore[misc]
    assert hint.lldpInfo is not None
    assert hint.lldpInfo.parameter[0].value == Typed("xsd:int", "7")
    # the chassis id names the neighbour, as with pyvmomi (which reads an int there)
    expected = {"vmnic1": (Neighbor("lldp", "c", "p", ""),)}
    assert neighbors_from_hints((hint,), pytest.fail) == expected
    assert neighbors_from_hints(pyvmomi_reads(body), pytest.fail) == expected


@pytest.mark.parametrize(
    ("detail", "message", "kind"),
    [
        (
            '<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated">'
            '<object type="HostNetworkSystem">hns-1</object></NotAuthenticatedFault>',
            "",
            "NotAuthenticated",
        ),
        (
            '<ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound">'
            '<obj type="HostNetworkSystem">nosuch</obj></ManagedObjectNotFoundFault>',
            "managed object not found: HostNetworkSystem:nosuch",
            "ManagedObjectNotFound",
        ),
        ('<HostNotConnectedFault xmlns="urn:vim25"/>', "not connected", "HostNotConnected"),
        ("", "no detail at all", "unknown fault"),
    ],
)
def test_faults_are_read_with_their_kind_and_message(detail: str, message: str, kind: str) -> None:
    assert parse_answer(fault(detail, message)) == HintFault(kind, message)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not XML"),
        (b"<html>502 Bad Gateway</html>", "not a SOAP envelope"),
        (b"{'json': true}", "not XML"),
        ((HEAD + "<Other/>" + TAIL).encode(), "no QueryNetworkHintResponse"),
        (answer("<returnval><device><b>x</b></device></returnval>"), "holds elements"),
        (answer("<returnval><device>a</device><device>b</device></returnval>"), "given twice"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
            + LAB_ANSWER.split(b"?>", 1)[1],
            "document type",
        ),
        (LAB_ANSWER[:-40], "not XML"),
        (answer(CDP * (MAX_ANSWER // len(CDP) + 1)), "bytes"),
    ],
)
def test_what_is_not_an_answer_is_a_protocol_error(body: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        parse_answer(body)


def test_the_request_escapes_what_it_is_given() -> None:
    body = request_body('hns-1</_this><evil a="', ["vmnic0", "<x>&"])
    root = ElementTree.fromstring(body)
    call = root.find(".//{urn:vim25}QueryNetworkHint")
    assert call is not None
    this = call.find("{urn:vim25}_this")
    assert this is not None and this.text == 'hns-1</_this><evil a="'
    assert this.get("type") == "HostNetworkSystem"
    assert [d.text for d in call.findall("{urn:vim25}device")] == ["vmnic0", "<x>&"]


def test_the_bulk_request_names_no_device() -> None:
    call = ElementTree.fromstring(request_body("hns-7")).find(".//{urn:vim25}QueryNetworkHint")
    assert call is not None and [e.tag for e in call] == ["{urn:vim25}_this"]


_names = st.sampled_from(
    ["returnval", "device", "connectedSwitchPort", "lldpInfo", "devId", "portId", "address",
     "mgmtAddr", "chassisId", "parameter", "key", "value", "ttl", "x"]
)  # fmt: skip


@st.composite
def _elements(draw: Any, depth: int = 0) -> str:
    name = draw(_names)
    if depth >= 4 or draw(st.booleans()):
        text = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8))
        from xml.sax.saxutils import escape

        return f"<{name}>{escape(text)}</{name}>"
    children = draw(st.lists(_elements(depth + 1), max_size=3))
    return f"<{name}>{''.join(children)}</{name}>"


@settings(max_examples=300, deadline=None)
@given(st.lists(_elements(), max_size=4))
def test_any_shape_of_answer_is_read_or_refused_never_a_crash(parts: list[str]) -> None:
    try:
        hints = parse_answer(answer("".join(parts)))
    except ProtocolError:
        return
    assert isinstance(hints, tuple)
    warnings: list[str] = []
    neighbors_from_hints(hints, lambda fmt, *a: warnings.append(fmt % a))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused_never_a_crash(body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_answer(body)


class _Response:
    """What http.client's response offers the reader: a length (None when chunked), read."""

    def __init__(self, body: bytes, length: Any) -> None:
        self.body = body
        self.length = length
        self.asked: list[Any] = []

    def read(self, amt: Any = None) -> bytes:
        self.asked.append(amt)
        n = len(self.body) if amt is None else amt
        out, self.body = self.body[:n], self.body[n:]
        return out


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_is_read_whole_without_a_buffer_of_the_limit(chunked: bool) -> None:
    from eos_vmtracer.vcenter.connection import _read_capped

    resp = _Response(LAB_ANSWER, None if chunked else len(LAB_ANSWER))
    assert _read_capped(resp, MAX_ANSWER) == LAB_ANSWER  # type: ignore[arg-type]
    # http.client allocates (and zeroes) a buffer of whatever size read() is asked for
    assert all(a is None or a <= 65536 for a in resp.asked), resp.asked


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_over_the_limit_is_read_no_further_than_one_byte_past_it(chunked: bool) -> None:
    from eos_vmtracer.vcenter.connection import _read_capped

    body = b"x" * 300_000
    resp = _Response(body, None if chunked else len(body))
    got = _read_capped(resp, 100_000)  # type: ignore[arg-type]
    assert len(got) == 100_001 and resp.body  # the rest is left unread
