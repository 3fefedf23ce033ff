"""Twin equivalence and table tests of ``eio`` (the Engine.IO packet and payload codec).

Table tests run on each twin through the ``eio`` fixture (ids ``py``/``c``);
hypothesis feeds both twins the same random packets and payloads and requires
equal results or the same exception class.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

Twins = Callable[[str], tuple[ModuleType, ModuleType]]


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    """Return ``fn``'s result with its types, or its exception class name."""
    try:
        result = fn(*args)
    except Exception as exc:
        return ("raises", type(exc).__name__)
    return ("ok", typed(result))


def typed(value: Any) -> Any:
    """Return ``value`` with the type of every part spelled out (``b"4"`` must not equal ``"4"``)."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("ptype", "data", "expected"),
    [
        (4, "hello", "4hello"),
        (2, None, "2"),
        (3, "probe", "3probe"),
        (4, b"\x00\x01", b"\x00\x01"),
        (4, bytearray(b"ab"), b"ab"),
        (4, memoryview(b"ab"), b"ab"),
        (6, "", "6"),
    ],
)
def test_encode_packet(eio: ModuleType, ptype: int, data: Any, expected: Any) -> None:
    """Verify text packets get their type digit and binary messages stay raw bytes."""
    result = eio.encode_packet(ptype, data)
    assert result == expected
    assert type(result) is type(expected)


def test_encode_packet_binary_needs_message(eio: ModuleType) -> None:
    """Verify only MESSAGE packets may carry binary data."""
    with pytest.raises(eio.EngineIOError):
        eio.encode_packet(2, b"x")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("4hello", (4, "hello")),
        ("2", (2, "")),
        ("3probe", (3, "probe")),
        ("6", (6, "")),
        ("bAQID", (4, b"\x01\x02\x03")),
        (b"\x01\x02", (4, b"\x01\x02")),
        (bytearray(b"\x01"), (4, b"\x01")),
    ],
)
def test_decode_packet(eio: ModuleType, data: Any, expected: tuple[int, Any]) -> None:
    """Verify decoding a WebSocket message gives (type, data) with bytes for binary."""
    result = eio.decode_packet(data)
    assert result == expected
    assert type(result[1]) is type(expected[1])


@pytest.mark.parametrize("data", ["", "7", "/", "x", "b!!"])
def test_decode_packet_rejects(eio: ModuleType, data: str) -> None:
    """Verify empty, unknown-type and bad base64 packets raise EngineIOError."""
    with pytest.raises(eio.EngineIOError):
        eio.decode_packet(data)


@pytest.mark.parametrize(
    ("packets", "expected"),
    [
        (["4hello"], "4hello"),
        ([b"\x01\x02\x03"], "bAQID"),
        (["4a", "2", b"\x01"], "4a\x1e2\x1ebAQ=="),
        (["40", "42[\"x\"]"], '40\x1e42["x"]'),
    ],
)
def test_encode_payload(eio: ModuleType, packets: list[Any], expected: str) -> None:
    """Verify payloads join packets with the record separator, binary as b + base64."""
    assert eio.encode_payload(packets) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("4hello", [(4, "hello")]),
        ("4a\x1e2\x1ebAQ==", [(4, "a"), (2, ""), (4, b"\x01")]),
        ("bAQID", [(4, b"\x01\x02\x03")]),
    ],
)
def test_decode_payload(eio: ModuleType, body: str, expected: list[Any]) -> None:
    """Verify a polling payload splits into (type, data) packets."""
    assert eio.decode_payload(body) == expected


@pytest.mark.parametrize("body", ["", "4a\x1e", "\x1e4a", "9", "b!!", "b\u00e9"])
def test_decode_payload_rejects(eio: ModuleType, body: str) -> None:
    """Verify empty packets, unknown types and bad base64 raise EngineIOError."""
    with pytest.raises(eio.EngineIOError):
        eio.decode_payload(body)


def test_error_is_a_value_error(eio: ModuleType) -> None:
    """Verify EngineIOError is a ValueError in both twins."""
    assert issubclass(eio.EngineIOError, ValueError)
    assert eio.SEPARATOR == "\x1e"


# ---------------------------------------------------------------- twins

ptypes = st.integers(0, 6) | st.integers(-3, 12)
text_data = st.text(max_size=30)
binary_data = st.binary(max_size=40)
encoded = st.one_of(
    st.tuples(st.integers(0, 6), text_data).map(lambda t: f"{t[0]}{t[1]}"),
    binary_data,
)
b64 = binary_data.map(lambda b: "b" + base64.b64encode(b).decode())
garbage = st.text(alphabet="0123456789b/=+AQIDx\x1e\u00e9 ", max_size=12)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(ptype=ptypes, data=st.none() | text_data | binary_data, kind=st.integers(0, 2))
def test_encode_packet_twins(twins: Twins, ptype: int, data: Any, kind: int) -> None:
    """Verify both twins encode any packet alike."""
    py, c = twins("eio")
    if isinstance(data, bytes):
        data = (bytes, bytearray, memoryview)[kind](data)
    assert outcome(c.encode_packet, ptype, data) == outcome(py.encode_packet, ptype, data)


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(data=encoded | b64 | garbage | st.text(max_size=20) | binary_data)
def test_decode_packet_twins(twins: Twins, data: Any) -> None:
    """Verify both twins decode any WebSocket message alike."""
    py, c = twins("eio")
    assert outcome(c.decode_packet, data) == outcome(py.decode_packet, data)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(packets=st.lists(encoded, min_size=1, max_size=6))
def test_encode_payload_twins(twins: Twins, packets: list[Any]) -> None:
    """Verify both twins join any packets alike, and that the payload decodes back."""
    py, c = twins("eio")
    result = outcome(c.encode_payload, packets)
    assert result == outcome(py.encode_payload, packets)
    body = c.encode_payload(packets)
    assert outcome(c.decode_payload, body) == outcome(py.decode_payload, body)


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(parts=st.lists(encoded.map(lambda p: p if isinstance(p, str) else "b" + base64.b64encode(p).decode()) | garbage, max_size=6))
def test_decode_payload_twins(twins: Twins, parts: list[str]) -> None:
    """Verify both twins split any payload (valid or not) alike."""
    py, c = twins("eio")
    body = "\x1e".join(parts)
    assert outcome(c.decode_payload, body) == outcome(py.decode_payload, body)
