"""Table-driven tests of the Socket.IO v5 packet codec, on each twin.

Wire format: ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]``.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from fastsio.protocol import socketio


def ph(num: int) -> dict[str, Any]:
    """Return the placeholder of attachment ``num``."""
    return {"_placeholder": True, "num": num}


PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'


def fields(pkt: Any) -> tuple[Any, ...]:
    """Return a packet's fields as a tuple."""
    return (pkt.type, pkt.nsp, pkt.data, pkt.id, pkt.attachments)


# ------------------------------------------------------------------ encoding

# (type, nsp, data, id) -> the encoded parts (text first, then attachments)
ENCODE: list[tuple[tuple[Any, ...], list[str | bytes]]] = [
    ((0, "/", None, None), ["0"]),
    ((0, "/", {"sid": "abc"}, None), ['0{"sid":"abc"}']),
    ((0, "/admin", None, None), ["0/admin,"]),
    ((0, "/admin", {"sid": "abc"}, None), ['0/admin,{"sid":"abc"}']),
    ((1, "/", None, None), ["1"]),
    ((1, "/admin", None, None), ["1/admin,"]),
    ((2, "/", ["hello", 1], None), ['2["hello",1]']),
    ((2, "/", ["hello"], 12), ['212["hello"]']),
    ((2, "/chat", ["hello", {"a": [1, None, True]}], 0), ['2/chat,0["hello",{"a":[1,null,true]}]']),
    ((2, "/", ("tuple", 1), None), ['2["tuple",1]']),
    ((3, "/", [], 1), ["31[]"]),
    ((3, "/chat", ["ok", 2], 7), ['3/chat,7["ok",2]']),
    ((4, "/", {"message": "Invalid namespace"}, None), ['4{"message":"Invalid namespace"}']),
    ((4, "/x", {"message": "no", "data": {"k": 1}}, None), ['4/x,{"message":"no","data":{"k":1}}']),
    ((2, "/", ["é€😀", "\u2028"], None), ['2["é€😀","\u2028"]']),
    # lone surrogates have no UTF-8 form: escaped as JSON.stringify does
    ((2, "/", ["a\ud800b", {"\udfff": "é\ud83d"}], None), ['2["a\\ud800b",{"\\udfff":"é\\ud83d"}]']),
    ((3, "/", ["\n\udc00\""], 1), ['31["\\n\\udc00\\""]']),
    # binary: EVENT/ACK with bytes anywhere become BINARY_EVENT/BINARY_ACK
    ((2, "/", ["up", b"\x01"], None), ['51-["up",' + PH0 + "]", b"\x01"]),
    ((2, "/", ["up", bytearray(b"\x02")], None), ['51-["up",' + PH0 + "]", b"\x02"]),
    ((2, "/", ["up", memoryview(b"\x03")], None), ['51-["up",' + PH0 + "]", b"\x03"]),
    (
        (2, "/c", ["up", {"a": [b"1", {"b": b"2"}]}], 3),
        ['52-/c,3["up",{"a":[' + PH0 + ',{"b":' + PH1 + "}]}]", b"1", b"2"],
    ),
    ((2, "/", ["up", [[[[b""]]]]], None), ['51-["up",[[[[' + PH0 + "]]]]]", b""]),
    ((3, "/", [b"\x00"], 5), ["61-5[" + PH0 + "]", b"\x00"]),
    ((3, "/chat", [{"x": b"a"}, b"b"], 9), ['62-/chat,9[{"x":' + PH0 + "}," + PH1 + "]", b"a", b"b"]),
]


@pytest.mark.parametrize(("args", "parts"), ENCODE)
def test_encode(sio: ModuleType, args: tuple[Any, ...], parts: list[str | bytes]) -> None:
    """Verify each packet encodes to its text part and attachments."""
    out = sio.encode(*args)
    assert out == parts
    assert [type(p) for p in out] == [type(p) for p in parts]


@pytest.mark.parametrize(("args", "parts"), ENCODE)
def test_encoded_text_is_utf8(sio: ModuleType, args: tuple[Any, ...], parts: list[str | bytes]) -> None:
    """Verify the text part can always be sent (UTF-8 encodable)."""
    sio.encode(*args)[0].encode("utf-8")


@pytest.mark.parametrize(("args", "parts"), ENCODE)
def test_encode_decode_round_trip(sio: ModuleType, args: tuple[Any, ...], parts: list[str | bytes]) -> None:
    """Verify decoding what was encoded (and reconstructing) gives the packet back."""
    ptype, nsp, data, ack = args
    pkt = sio.decode(parts[0])
    assert pkt.attachments == len(parts) - 1
    assert pkt.nsp == nsp and pkt.id == ack
    if pkt.attachments:
        assert pkt.type == {2: 5, 3: 6}[ptype]
        back = sio.reconstruct(pkt.data, [bytes(p) for p in parts[1:]])
        assert _normalize(back) == _normalize(args[2])
    else:
        assert pkt.type == ptype
        assert pkt.data == (list(data) if isinstance(data, tuple) else data)


def _normalize(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(value))
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    return value


def test_encode_custom_dumps(sio: ModuleType) -> None:
    """Verify a custom ``dumps`` writes the payload."""
    assert sio.encode(2, "/", ["x"], None, lambda d: "<%d>" % len(d)) == ["2<1>"]


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (("/", "hello", ()), ['2["hello"]']),
        (("/", "hello", (1, "a"), 4), ['24["hello",1,"a"]']),
        (("/chat", "hello", ({"a": b"z"},)), ['51-/chat,["hello",{"a":' + PH0 + "}]", b"z"]),
    ],
)
def test_encode_event(sio: ModuleType, args: tuple[Any, ...], parts: list[str | bytes]) -> None:
    """Verify encode_event puts the event name first."""
    assert sio.encode_event(*args) == parts


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, False),
        ("x", False),
        ([1, "a", {"b": None}], False),
        (b"", True),
        (bytearray(b"x"), True),
        (memoryview(b"x"), True),
        ([1, [2, [3, b"x"]]], True),
        ({"a": {"b": (1, b"x")}}, True),
        ({"bytes-key": 1}, False),
    ],
)
def test_has_binary(sio: ModuleType, data: Any, expected: bool) -> None:
    """Verify binary is found at any depth."""
    assert sio.has_binary(data) is expected


def test_deconstruct_reconstruct(sio: ModuleType) -> None:
    """Verify placeholders are numbered depth first and put back."""
    data = ["ev", {"a": b"1", "b": [b"2", {"c": b"3"}]}, b"4"]
    out, buffers = sio.deconstruct(data)
    assert out == ["ev", {"a": ph(0), "b": [ph(1), {"c": ph(2)}]}, ph(3)]
    assert buffers == [b"1", b"2", b"3", b"4"]
    assert sio.reconstruct(out, buffers) == data


@pytest.mark.parametrize(
    "value",
    [
        {"_placeholder": True, "num": 0, "extra": 1},
        {"_placeholder": 1, "num": 0},
        {"_placeholder": "true", "num": 0},
        {"_placeholder": True},
        {"num": 0},
    ],
)
def test_reconstruct_leaves_non_placeholders(sio: ModuleType, value: dict[str, Any]) -> None:
    """Verify only an exact placeholder object is replaced."""
    assert sio.reconstruct([value], [b"x"]) == [value]


@pytest.mark.parametrize(
    ("data", "buffers"),
    [
        pytest.param([ph(1)], [b"x"], id="num-too-big"),
        pytest.param([ph(0)], [], id="no-attachments"),
        pytest.param([{"_placeholder": True, "num": -1}], [b"x"], id="num-negative"),
        pytest.param([{"_placeholder": True, "num": "0"}], [b"x"], id="num-string"),
        pytest.param([{"_placeholder": True, "num": 0.0}], [b"x"], id="num-float"),
        pytest.param([{"_placeholder": True, "num": True}], [b"x"], id="num-bool"),
        pytest.param([{"_placeholder": True, "num": None}], [b"x"], id="num-null"),
        pytest.param(["e", {"a": [[ph(2)]]}], [b"x", b"y"], id="deep"),
    ],
)
def test_reconstruct_rejects(sio: ModuleType, data: Any, buffers: list[bytes]) -> None:
    """Verify a placeholder naming no attachment raises SocketIOError."""
    with pytest.raises(sio.SocketIOError):
        sio.reconstruct(data, buffers)


# ------------------------------------------------------------------ decoding

# encoded text -> (type, nsp, data, id, attachments)
DECODE: list[tuple[str, tuple[Any, ...]]] = [
    ("0", (0, "/", None, None, 0)),
    ("0{}", (0, "/", {}, None, 0)),
    ('0{"token":"abc"}', (0, "/", {"token": "abc"}, None, 0)),
    ("0/admin,", (0, "/admin", None, None, 0)),
    ("0/admin", (0, "/admin", None, None, 0)),  # no trailing comma: the namespace runs to the end
    ('0/admin,{"token":"abc"}', (0, "/admin", {"token": "abc"}, None, 0)),
    ("0/a/b?x=1,", (0, "/a/b?x=1", None, None, 0)),
    ("0/ä,", (0, "/ä", None, None, 0)),
    ("1", (1, "/", None, None, 0)),
    ("1/admin,", (1, "/admin", None, None, 0)),
    ("1/admin", (1, "/admin", None, None, 0)),
    ('2["hello"]', (2, "/", ["hello"], None, 0)),
    ('2["hello",1,{"a":[null,true,1.5]}]', (2, "/", ["hello", 1, {"a": [None, True, 1.5]}], None, 0)),
    ("2[1]", (2, "/", [1], None, 0)),  # a numeric event name is allowed
    ("2[1.5]", (2, "/", [1.5], None, 0)),
    ('212["hello"]', (2, "/", ["hello"], 12, 0)),
    ('20["hello"]', (2, "/", ["hello"], 0, 0)),
    ('2/chat,["hello"]', (2, "/chat", ["hello"], None, 0)),
    ('2/chat,7["hello"]', (2, "/chat", ["hello"], 7, 0)),
    ('2 ["hello"] ', (2, "/", ["hello"], None, 0)),  # JSON whitespace around the payload
    ('2["\\u00e9\\n"]', (2, "/", ["é\n"], None, 0)),
    ("31[]", (3, "/", [], 1, 0)),
    ('312["ok",2]', (3, "/", ["ok", 2], 12, 0)),
    ("3/chat,7[]", (3, "/chat", [], 7, 0)),
    ("31", (3, "/", None, 1, 0)),  # an ACK with no payload (socket.io-parser accepts it)
    ('4{"message":"no"}', (4, "/", {"message": "no"}, None, 0)),
    ('4/x,{"message":"no"}', (4, "/x", {"message": "no"}, None, 0)),
    ('4"no"', (4, "/", "no", None, 0)),  # v4 servers sent a string
    ('51-["up",' + PH0 + "]", (5, "/", ["up", ph(0)], None, 1)),
    ('52-/c,3["up",{"a":[' + PH0 + "," + PH1 + "]}]", (5, "/c", ["up", {"a": [ph(0), ph(1)]}], 3, 2)),
    ('50-["up"]', (5, "/", ["up"], None, 0)),
    ("61-5[" + PH0 + "]", (6, "/", [ph(0)], 5, 1)),
    ("61-/chat,5[" + PH0 + "]", (6, "/chat", [ph(0)], 5, 1)),
    ('510-["up"]', (5, "/", ["up"], None, 10)),
]


@pytest.mark.parametrize(("encoded", "expected"), DECODE)
def test_decode(sio: ModuleType, encoded: str, expected: tuple[Any, ...]) -> None:
    """Verify each wire form decodes to the packet's fields."""
    assert fields(sio.decode(encoded)) == expected


@pytest.mark.parametrize(("encoded", "expected"), DECODE)
def test_decode_custom_loads(sio: ModuleType, encoded: str, expected: tuple[Any, ...]) -> None:
    """Verify a custom ``loads`` parses the payload (same results as the default)."""
    assert fields(sio.decode(encoded, json.loads)) == expected


def test_packet_equality(sio: ModuleType) -> None:
    """Verify Packet compares by value and has a readable repr."""
    a = sio.Packet(2, "/", ["x"], 1)
    assert a == sio.Packet(2, "/", ["x"], 1, 0)
    assert a != sio.Packet(2, "/", ["x"], 2)
    assert a != "x"
    assert "type=2" in repr(a) and "nsp='/'" in repr(a)


RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]

REJECT: list[Any] = [
    pytest.param("", id="empty"),
    # unknown type
    pytest.param("7", id="type-7"),
    pytest.param('9["x"]', id="type-9"),
    pytest.param('/["x"]', id="type-below-0"),
    pytest.param('a["x"]', id="type-letter"),
    pytest.param(' 2["x"]', id="leading-space"),
    pytest.param('٢["x"]', id="type-arabic-digit"),
    # bad attachments
    pytest.param('5["x"]', id="binary-no-count"),
    pytest.param('5-["x"]', id="binary-empty-count"),
    pytest.param('5x-["x"]', id="binary-count-letter"),
    pytest.param('5-1-["x"]', id="binary-negative-count"),
    pytest.param('5١-["x"]', id="binary-count-arabic-digit"),
    pytest.param('61["x"]', id="binary-ack-no-dash"),
    # bad JSON
    pytest.param('2["x"', id="json-unterminated"),
    pytest.param('2["x"]x', id="json-extra-data"),
    pytest.param('2["x"]["y"]', id="json-two-values"),
    pytest.param("2[x]", id="json-bare-word"),
    pytest.param("2['x']", id="json-single-quotes"),
    pytest.param('2["x",]', id="json-trailing-comma"),
    pytest.param('2["x",NaN]', id="json-nan"),
    pytest.param('2["x",Infinity]', id="json-infinity"),
    pytest.param('2["x",-Infinity]', id="json-minus-infinity"),
    pytest.param("2" + "[" * 100_000 + "]" * 100_000, id="json-too-deep"),
    pytest.param("0{", id="connect-json-unterminated"),
    # wrong payload shape per type
    pytest.param("2", id="event-no-payload"),
    pytest.param("2/chat,", id="event-nsp-no-payload"),
    pytest.param("212", id="event-id-no-payload"),
    pytest.param("2[]", id="event-empty-array"),
    pytest.param('2{"a":1}', id="event-object"),
    pytest.param('2"x"', id="event-string"),
    pytest.param("2[true]", id="event-name-bool"),
    pytest.param("2[null]", id="event-name-null"),
    pytest.param("2[[1]]", id="event-name-array"),
    pytest.param('2[{"a":1}]', id="event-name-object"),
    pytest.param("51-", id="binary-event-no-payload"),
    pytest.param('51-{"a":1}', id="binary-event-object"),
    *[pytest.param(f'2["{name}"]', id=f"event-reserved-{name}") for name in RESERVED],
    *[pytest.param(f'2/chat,1["{name}",1]', id=f"event-nsp-reserved-{name}") for name in RESERVED],
    *[pytest.param(f'51-["{name}",{PH0}]', id=f"binary-reserved-{name}") for name in RESERVED],
    pytest.param('31{"a":1}', id="ack-object"),
    pytest.param('31"x"', id="ack-string"),
    pytest.param("31null", id="ack-null"),
    pytest.param("61-1{}", id="binary-ack-object"),
    pytest.param("0[1]", id="connect-array"),
    pytest.param('0"x"', id="connect-string"),
    pytest.param("0null", id="connect-null"),
    pytest.param("01", id="connect-number"),
    pytest.param('1{"a":1}', id="disconnect-payload"),
    pytest.param("1/chat,[]", id="disconnect-nsp-payload"),
    pytest.param("4[1]", id="connect-error-array"),
    pytest.param("4null", id="connect-error-null"),
    pytest.param("41", id="connect-error-number"),
    # ack ids where none belongs, and missing where one must be
    pytest.param("01{}", id="connect-ack-id"),
    pytest.param("0/admin,1{}", id="connect-nsp-ack-id"),
    pytest.param("11", id="disconnect-ack-id"),
    pytest.param('41{"message":"x"}', id="connect-error-ack-id"),
    pytest.param('3["ok"]', id="ack-missing-id"),
    pytest.param("3", id="ack-missing-id-no-payload"),
    pytest.param("3/chat,[]", id="ack-nsp-missing-id"),
    pytest.param("61-[" + PH0 + "]", id="binary-ack-missing-id"),
    pytest.param("61-/chat,[" + PH0 + "]", id="binary-ack-nsp-missing-id"),
]


@pytest.mark.parametrize("encoded", REJECT)
def test_decode_rejects(sio: ModuleType, encoded: str) -> None:
    """Verify every malformed packet raises SocketIOError (a ValueError)."""
    with pytest.raises(sio.SocketIOError):
        sio.decode(encoded)
    assert issubclass(sio.SocketIOError, ValueError)


@pytest.mark.parametrize("encoded", REJECT)
def test_decode_rejects_custom_loads(sio: ModuleType, encoded: str) -> None:
    """Verify the same packets are refused with a strict custom ``loads``."""

    def loads(s: str) -> Any:
        def constant(name: str) -> Any:
            raise ValueError(name)

        return json.loads(s, parse_constant=constant)

    with pytest.raises(sio.SocketIOError):
        sio.decode(encoded, loads)


def test_public_module_constants() -> None:
    """Verify the packet type constants of the public protocol module."""
    assert (
        socketio.CONNECT,
        socketio.DISCONNECT,
        socketio.EVENT,
        socketio.ACK,
        socketio.CONNECT_ERROR,
        socketio.BINARY_EVENT,
        socketio.BINARY_ACK,
    ) == (0, 1, 2, 3, 4, 5, 6)
