"""Table-driven tests of the Engine.IO v4 codec (packets and polling payloads), on each twin."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from fastsio.protocol import engineio


# ------------------------------------------------------------------ packets

# (type, data, encoded): encode_packet(type, data) == encoded and decode_packet(encoded) == (type, data or "")
PACKETS: list[tuple[int, Any, str | bytes]] = [
    (0, '{"sid":"abc","upgrades":[],"pingInterval":25000}', '0{"sid":"abc","upgrades":[],"pingInterval":25000}'),
    (1, None, "1"),
    (2, None, "2"),
    (2, "probe", "2probe"),
    (3, None, "3"),
    (3, "probe", "3probe"),
    (4, "hello", "4hello"),
    (4, "", "4"),
    (4, "é€😀", "4é€😀"),
    (4, "4\x1e", "44\x1e"),
    (4, b"\x01\x02\x03", b"\x01\x02\x03"),
    (4, b"", b""),
    (5, None, "5"),
    (6, None, "6"),
]


@pytest.mark.parametrize(("ptype", "data", "encoded"), PACKETS)
def test_encode_packet(eio: ModuleType, ptype: int, data: Any, encoded: str | bytes) -> None:
    """Verify each packet type encodes to its wire form."""
    out = eio.encode_packet(ptype, data)
    assert out == encoded and type(out) is type(encoded)


@pytest.mark.parametrize(("ptype", "data", "encoded"), PACKETS)
def test_decode_packet(eio: ModuleType, ptype: int, data: Any, encoded: str | bytes) -> None:
    """Verify each wire form decodes to (type, data); a binary message is a MESSAGE."""
    out = eio.decode_packet(encoded)
    assert out == (ptype, "" if data is None else data)
    assert type(out[1]) is (bytes if isinstance(encoded, bytes) else str)


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_binary_buffers(eio: ModuleType, kind: type) -> None:
    """Verify bytearray and memoryview are accepted and come back as bytes."""
    assert eio.encode_packet(4, kind(b"\x00\xff")) == b"\x00\xff"
    out = eio.decode_packet(kind(b"\x00\xff"))
    assert out == (4, b"\x00\xff") and type(out[1]) is bytes


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("bAQID", (4, b"\x01\x02\x03")),
        ("b", (4, b"")),
        ("b/w==", (4, b"\xff")),
        ("bAA==", (4, b"\x00")),
    ],
)
def test_decode_base64_packet(eio: ModuleType, encoded: str, expected: tuple[int, bytes]) -> None:
    """Verify a "b" + base64 text packet (forceBase64 clients) is a binary MESSAGE."""
    assert eio.decode_packet(encoded) == expected


@pytest.mark.parametrize("ptype", [0, 1, 2, 3, 5, 6])
def test_encode_binary_non_message_rejected(eio: ModuleType, ptype: int) -> None:
    """Verify only MESSAGE packets may carry binary data."""
    with pytest.raises(eio.EngineIOError):
        eio.encode_packet(ptype, b"x")


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param("", id="empty"),
        pytest.param("7", id="type-7"),
        pytest.param("9hello", id="type-9"),
        pytest.param("/", id="below-0"),
        pytest.param("x", id="letter"),
        pytest.param(" 4", id="space"),
        pytest.param("\x1e", id="separator"),
        pytest.param("٤hello", id="arabic-digit"),
        pytest.param("b!!!", id="b64-bad-chars"),
        pytest.param("bAQI", id="b64-no-padding"),
        pytest.param("b AQI=", id="b64-space"),
        pytest.param("bAQI=\n", id="b64-newline"),
        pytest.param("bé", id="b64-non-ascii"),
    ],
)
def test_decode_packet_rejects(eio: ModuleType, encoded: str) -> None:
    """Verify every malformed text packet raises EngineIOError (a ValueError)."""
    with pytest.raises(eio.EngineIOError):
        eio.decode_packet(encoded)
    assert issubclass(eio.EngineIOError, ValueError)


# ------------------------------------------------------------------ payloads

# (packets as queued, payload)
PAYLOADS: list[tuple[list[str | bytes], str]] = [
    (["4hello"], "4hello"),
    (["2"], "2"),
    (["4hello", "4world"], "4hello\x1e4world"),
    (["4a", b"\x01\x02\x03", "4b"], "4a\x1ebAQID\x1e4b"),
    ([b"\x01\x02\x03"], "bAQID"),
    ([b""], "b"),
    ([b"\xff", b"\x00"], "b/w==\x1ebAA=="),
    (["4é€", "6", "1"], "4é€\x1e6\x1e1"),
    (["4"], "4"),
]


@pytest.mark.parametrize(("packets", "payload"), PAYLOADS)
def test_encode_payload(eio: ModuleType, packets: list[str | bytes], payload: str) -> None:
    """Verify encoded packets join with the record separator, binary as "b" + base64."""
    assert eio.encode_payload(packets) == payload


@pytest.mark.parametrize(("packets", "payload"), PAYLOADS)
def test_decode_payload(eio: ModuleType, packets: list[str | bytes], payload: str) -> None:
    """Verify a payload splits back into (type, data) packets."""
    expected = [eio.decode_packet(p) for p in packets]
    assert eio.decode_payload(payload) == expected


def test_separator(eio: ModuleType) -> None:
    """Verify the record separator is U+001E."""
    assert eio.SEPARATOR == "\x1e"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("", id="empty"),
        pytest.param("\x1e", id="only-separator"),
        pytest.param("4a\x1e", id="trailing-separator"),
        pytest.param("\x1e4a", id="leading-separator"),
        pytest.param("4a\x1e\x1e4b", id="empty-middle"),
        pytest.param("4a\x1e7", id="unknown-type"),
        pytest.param("x", id="letter"),
        pytest.param("4a\x1eb!!!", id="bad-base64"),
        pytest.param("bAQI", id="base64-no-padding"),
        pytest.param("bé", id="base64-non-ascii"),
    ],
)
def test_decode_payload_rejects(eio: ModuleType, payload: str) -> None:
    """Verify every malformed polling payload raises EngineIOError."""
    with pytest.raises(eio.EngineIOError):
        eio.decode_payload(payload)


# ------------------------------------------------------------------ protocol helpers


@pytest.mark.parametrize(
    ("code", "message", "body"),
    [
        (0, None, {"code": 0, "message": "Transport unknown"}),
        (1, None, {"code": 1, "message": "Session ID unknown"}),
        (2, None, {"code": 2, "message": "Bad handshake method"}),
        (3, None, {"code": 3, "message": "Bad request"}),
        (4, None, {"code": 4, "message": "Forbidden"}),
        (5, None, {"code": 5, "message": "Unsupported protocol version"}),
        (4, "Not an accepted origin", {"code": 4, "message": "Not an accepted origin"}),
    ],
)
def test_error_body(code: int, message: str | None, body: dict[str, Any]) -> None:
    """Verify the reference server's error bodies, compact JSON."""
    out = engineio.error_body(code, message)
    assert json.loads(out) == body
    assert out == json.dumps(body, separators=(",", ":")).encode()


def test_open_packet() -> None:
    """Verify the OPEN packet's fields, in milliseconds."""
    out = engineio.open_packet("sid1", ["websocket"], 25000, 20000, 1_000_000)
    assert out[0] == "0"
    assert json.loads(out[1:]) == {
        "sid": "sid1",
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1_000_000,
    }


def test_packet_type_numbers() -> None:
    """Verify the packet type constants."""
    assert (
        engineio.OPEN,
        engineio.CLOSE,
        engineio.PING,
        engineio.PONG,
        engineio.MESSAGE,
        engineio.UPGRADE,
        engineio.NOOP,
    ) == (0, 1, 2, 3, 4, 5, 6)
