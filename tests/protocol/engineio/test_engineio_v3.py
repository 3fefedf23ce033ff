"""Table and round-trip tests of the Engine.IO v3 codec (twin ``eio3``,
``fastsio.protocol.engineio.v3``), on each twin through the ``eio3`` fixture (ids
``py``/``c``; its equivalence on random input: tests/speedups/test_twins_eio3.py).

The tables come from the v3 protocol, the official v3 test suite and engine.io-parser
1.x/2.x (the JavaScript parsers of socket.io-client 1.x and 2.x).
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastsio.protocol.engineio import EngineIOError


TEXT = "héllo 世界 🎉"


# ---------------------------------------------------------------- WebSocket packets


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("4hello", (4, "hello")),
        ("2", (2, "")),
        ("2probe", (2, "probe")),
        ("b4AQID", (4, b"\x01\x02\x03")),
        ("b4", (4, b"")),
        (b"\x04\x01\x02", (4, b"\x01\x02")),
        (b"\x04", (4, b"")),
        ("4" + TEXT, (4, TEXT)),
    ],
)
def test_decode_packet(eio3: ModuleType, message: Any, expected: Any) -> None:
    """Verify WebSocket messages: text packets, ``b4`` + base64, type-byte binary frames."""
    assert eio3.decode_packet(message) == expected


@pytest.mark.parametrize("bad", ["", "7", "abc", "bAQID", "b4!!", "b4é", "b", b"", b"\x07abc"])
def test_decode_packet_rejects(eio3: ModuleType, bad: Any) -> None:
    """Verify bad WebSocket messages raise EngineIOError."""
    with pytest.raises(EngineIOError):
        eio3.decode_packet(bad)


def test_encode_packet(eio3: ModuleType) -> None:
    """Verify binary gets the MESSAGE type byte, text stays as it is."""
    assert eio3.encode_packet("4hi") == "4hi"
    assert eio3.encode_packet(b"\x01") == b"\x04\x01"


# ---------------------------------------------------------------- text payloads


@pytest.mark.parametrize(
    ("packets", "payload"),
    [
        (["4hello"], "6:4hello"),
        (["4test1", "4test2", "4test3"], "6:4test16:4test26:4test3"),
        (["4hello", b"\x01\x02\x03\x04"], "6:4hello10:b4AQIDBA=="),
        (["6"], "1:6"),
        (["3probe"], "6:3probe"),
        ([], "0:"),
        # lengths in UTF-16 code units: é is 1, 🎉 is 2
        (["4é🎉"], "4:4é🎉"),
    ],
)
def test_text_payload(eio3: ModuleType, packets: list[Any], payload: str) -> None:
    """Verify ``<length>:<packet>`` framing, both ways."""
    assert eio3.encode_payload_text(packets) == payload
    if packets:
        decoded = eio3.decode_payload_text(payload)
        assert decoded == [eio3.decode_packet(p) if isinstance(p, str) else (4, p) for p in packets]


def test_text_payload_utf8_mode(eio3: ModuleType) -> None:
    """Verify engine.io-parser 1.x framing: UTF-8 bytes as chars, lengths in bytes."""
    payload = eio3.encode_payload_text(["4é"], eio3.TEXT_UTF8)
    assert payload == "3:4Ã©"
    assert eio3.utf8_decoded(eio3.decode_payload_text(payload)) == [(4, "é")]


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "6:4hell", "6:4hello2", "x:4", ":4", "1:7", "2:b!", "9999999999999999:4", "2:4é3:4"],
)
def test_text_payload_rejects(eio3: ModuleType, bad: str) -> None:
    """Verify bad length prefixes and bad packets raise EngineIOError."""
    with pytest.raises(EngineIOError):
        eio3.decode_payload_text(bad)


def test_text_payload_skips_empty_packets(eio3: ModuleType) -> None:
    """Verify ``0:`` (an empty packet) is skipped, as the reference parser does."""
    assert eio3.decode_payload_text("0:1:6") == [(6, "")]
    assert eio3.decode_payload_text("0:") == []


def test_text_payload_split_surrogate_pair(eio3: ModuleType) -> None:
    """Verify a length that ends inside a surrogate pair is refused."""
    with pytest.raises(EngineIOError):
        eio3.decode_payload_text("2:4🎉")


# ---------------------------------------------------------------- binary payloads


def test_binary_payload_of_the_v3_test_suite(eio3: ModuleType) -> None:
    """Verify the bytes the official v3 test suite expects."""
    payload = eio3.encode_payload_binary(["4hello", b"\x01\x02\x03\x04"])
    assert payload == bytes([0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4])
    assert eio3.decode_payload_binary(payload) == [(4, "hello"), (4, b"\x01\x02\x03\x04")]


def test_binary_payload_text_is_utf8_with_byte_lengths(eio3: ModuleType) -> None:
    """Verify text inside a binary payload is UTF-8, its length counted in bytes."""
    payload = eio3.encode_payload_binary(["4" + TEXT])
    data = ("4" + TEXT).encode()
    assert payload == bytes([0, *map(int, str(len(data))), 255]) + data
    assert eio3.decode_payload_binary(payload) == [(4, TEXT)]


def test_binary_payload_long_lengths(eio3: ModuleType) -> None:
    """Verify multi-digit lengths."""
    blob = bytes(range(256)) * 50
    payload = eio3.encode_payload_binary([blob, "4" + "x" * 1000])
    assert payload[:7] == bytes([1, 1, 2, 8, 0, 1, 255])
    assert eio3.decode_payload_binary(payload) == [(4, blob), (4, "x" * 1000)]


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x02\x01\xff4",  # kind byte not 0/1
        b"\x00\x01",  # no 0xFF
        b"\x00\xff4",  # no length digits
        b"\x00\x0a\xff4",  # a "digit" above 9
        b"\x00\x05\xff4",  # length beyond the payload
        b"\x00\x02\xff4\xff",  # text that is not UTF-8
        b"\x01\x00\xff",  # empty binary packet
        b"\x01\x02\xff\x09\x01",  # unknown packet type
        b"\x00\x01\xff9",  # unknown packet type in text
        bytes([0] + [1] * 20 + [255]),  # absurd length
    ],
)
def test_binary_payload_rejects(eio3: ModuleType, bad: bytes) -> None:
    """Verify bad binary framing raises EngineIOError."""
    with pytest.raises(EngineIOError):
        eio3.decode_payload_binary(bad)


# ---------------------------------------------------------------- helpers


def test_utf16_len(eio3: ModuleType) -> None:
    """Verify JavaScript string lengths."""
    assert eio3.utf16_len("abc") == 3
    assert eio3.utf16_len("é世") == 2
    assert eio3.utf16_len("🎉") == 2


def test_utf8_decoded(eio3: ModuleType) -> None:
    """Verify the parser-1.x reading: only byte strings that are UTF-8."""
    assert eio3.utf8_decoded([(4, "Ã©"), (4, b"\x01")]) == [(4, "é"), (4, b"\x01")]
    assert eio3.utf8_decoded([(4, "é")]) is None  # a lone Latin-1 char is not UTF-8
    assert eio3.utf8_decoded([(4, "世")]) is None  # above U+00FF


@pytest.mark.parametrize(
    ("packet", "expected", "head"),
    [
        ('42["msg","é"]', '42["msg","\\u00e9"]', 2),
        ('42/chat,7["m","🎉"]', '42/chat,7["m","\\ud83c\\udf89"]', 9),
        ('451-["b",{"_placeholder":true,"num":0},"世"]', '451-["b",{"_placeholder":true,"num":0},"\\u4e16"]', 4),
        ('43/x,12["é"]', '43/x,12["\\u00e9"]', 7),
        ('44/chat,"refusé"', '44/chat,"refus\\u00e9"', 8),
        ('42["ascii"]', '42["ascii"]', 2),
        ('42/é,["x"]', None, 0),  # non-ASCII in the namespace: cannot be escaped
    ],
)
def test_json_ascii(eio3: ModuleType, packet: str, expected: str | None, head: int) -> None:
    """Verify non-ASCII JSON is escaped and means the same."""
    result = eio3.json_ascii(packet)
    assert result == expected
    if result is not None:
        assert result.isascii()
        assert json.loads(result[head:]) == json.loads(packet[head:])


def test_jsonp(eio3: ModuleType) -> None:
    """Verify the JSONP wrapper and the form the client posts (newline escaping undone)."""
    assert eio3.jsonp_index("0") == "0"
    assert eio3.jsonp_index("1x);alert(1)//") == "11"
    assert eio3.encode_jsonp('6:4h"é\n', "3") == '___eio[3]("6:4h\\"\\u00e9\\n");'
    # the client sends a newline as \n and "\n" (backslash, n) as \\n
    assert eio3.decode_jsonp_body(b"d=7%3A4a%5Cnb%5C%5Cnc") == "7:4a\nb\\nc"
    assert eio3.decode_jsonp_body(b"d=6%3A4h%C3%A9+x") == "6:4hé x"
    for bad in (b"x=1", b"", b"d=1&d=2", b"d=%ff", "d=é".encode()):
        with pytest.raises(EngineIOError):
            eio3.decode_jsonp_body(bad)


# ---------------------------------------------------------------- the session's framing


def test_codec_binary_client(eio3: ModuleType) -> None:
    """Verify a binary-capable client gets text for ASCII, binary for binary or non-ASCII."""
    codec = eio3.Eio3Codec(binary=True)
    assert codec.encode_payload(["4hello", "6"]) == "6:4hello1:6"
    assert codec.encode_payload(["4é"]) == bytes([0, 3, 255]) + "4é".encode()
    assert isinstance(codec.encode_payload(["4a", b"\x01"]), bytes)
    old = eio3.Eio3Codec(binary=True, always_binary=True)
    assert old.encode_payload(["6"]) == bytes([0, 1, 255, 54])


def test_codec_text_client(eio3: ModuleType) -> None:
    """Verify a b64 client: text payloads; Socket.IO packets in ASCII whatever the generation."""
    codec = eio3.Eio3Codec(binary=False)
    assert codec.encode_payload(["4hé", b"\x01"]) == "3:4hé6:b4AQ=="
    codec.json_messages = True
    assert codec.encode_payload(['42["é"]']) == '12:42["\\u00e9"]'
    # the namespace cannot be escaped: written for the parser generation
    assert codec.encode_payload(["40/é,"]) == "5:40/é,"
    codec.text_mode = eio3.TEXT_UTF8
    assert codec.encode_payload(["40/é,"]) == "6:40/Ã©,"


def test_codec_learns_the_parser_generation(eio3: ModuleType) -> None:
    """Verify the first non-ASCII text payload settles how the client writes text."""
    old = eio3.Eio3Codec(binary=False)
    assert old.decode_payload("6:4hello") == [(4, "hello")]
    assert old.text_mode == eio3.TEXT_UNKNOWN
    assert old.decode_payload("3:4Ã©") == [(4, "é")]
    assert old.text_mode == eio3.TEXT_UTF8
    with pytest.raises(EngineIOError):
        old.decode_payload("2:4é")
    new = eio3.Eio3Codec(binary=False)
    assert new.decode_payload("3:4世é") == [(4, "世é")]
    assert new.text_mode == eio3.TEXT_PLAIN
    assert new.decode_payload("3:4Ã©") == [(4, "Ã©")]  # plain from now on
    # binary payloads mean the same to every generation
    assert new.decode_payload(bytes([0, 3, 255]) + "4é".encode()) == [(4, "é")]


def test_codec_jsonp(eio3: ModuleType) -> None:
    """Verify a JSONP client gets text payloads in the wrapper, never binary."""
    codec = eio3.Eio3Codec(binary=True, jsonp="2")
    assert not codec.binary
    assert codec.encode_payload(["4hi", b"\x01"]) == '___eio[2]("3:4hi6:b4AQ==");'


# ---------------------------------------------------------------- round trips

packets_st = st.lists(
    st.one_of(
        st.text(max_size=30).map(lambda s: "4" + s),
        st.binary(max_size=30),
        st.sampled_from(["2", "3", "2probe", "6", "1"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(packets_st)
def test_round_trips(eio3: ModuleType, packets: list[Any]) -> None:
    """Verify every framing gives back the packets it was given."""
    packets = [p for p in packets if not isinstance(p, str) or not any(0xD800 <= ord(c) <= 0xDFFF for c in p)]
    if not packets:
        return
    want = [(int(p[0]), p[1:]) if isinstance(p, str) else (4, p) for p in packets]
    assert eio3.decode_payload_text(eio3.encode_payload_text(packets)) == want
    assert eio3.decode_payload_binary(eio3.encode_payload_binary(packets)) == want
    utf8 = eio3.decode_payload_text(eio3.encode_payload_text(packets, eio3.TEXT_UTF8))
    assert eio3.utf8_decoded(utf8) == want
    for p, w in zip(packets, want):
        assert eio3.decode_packet(eio3.encode_packet(p)) == w
