"""Table-driven tests of the RFC 6455 frame codec, ``fastsio.protocol.websocket.frames`` (no network).

They run against both twins of ``wsframe`` through the ``wsframe`` fixture of
tests/conftest.py (ids ``py``/``c``).  Client frames are built here by hand with a
naive masking loop, so the reference does not share code with the parser.  The
opening handshake: test_websocket_handshake.py.
"""

from __future__ import annotations

import base64
import random
from types import ModuleType
from typing import Any

import pytest

import fastsio.protocol.websocket as websocket
from fastsio.protocol.websocket import frames as selected

MASK = b"\x37\xfa\x21\x3d"


# ---------------------------------------------------------------- helpers


def xor(mask: bytes, data: bytes) -> bytes:
    """Return ``data`` masked with ``mask``, one byte at a time (the obvious reference)."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def cf(
    opcode: int,
    payload: bytes | str = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    mask: bytes = MASK,
    form: int | None = None,
    length: int | None = None,
) -> bytes:
    """Return a client frame built by hand.

    ``form`` forces the length encoding (7, 16 or 64 bits) and ``length`` the
    declared length, so that invalid headers can be written too.
    """
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    if form is None:
        form = 7 if n < 126 else 16 if n < 0x10000 else 64
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if masked else 0
    if form == 7:
        head = bytes((b0, mbit | n))
    elif form == 16:
        head = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    return head + mask + xor(mask, payload)


def feed_all(parser: Any, chunks: list[bytes]) -> list[tuple[int, object]]:
    """Return the events of feeding ``chunks`` one after the other."""
    events: list[tuple[int, object]] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def bytewise(data: bytes) -> list[bytes]:
    """Return ``data`` as 1-byte chunks."""
    return [data[i : i + 1] for i in range(len(data))]


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """Return a Close payload."""
    return code.to_bytes(2, "big") + reason


# ---------------------------------------------------------------- constants


def test_constants(wsframe: ModuleType) -> None:
    """Verify the opcode and close-code values."""
    assert (wsframe.OP_CONT, wsframe.OP_TEXT, wsframe.OP_BINARY) == (0, 1, 2)
    assert (wsframe.OP_CLOSE, wsframe.OP_PING, wsframe.OP_PONG) == (8, 9, 10)
    codes = [
        wsframe.CLOSE_NORMAL,
        wsframe.CLOSE_GOING_AWAY,
        wsframe.CLOSE_PROTOCOL_ERROR,
        wsframe.CLOSE_UNSUPPORTED,
        wsframe.CLOSE_NO_STATUS,
        wsframe.CLOSE_ABNORMAL,
        wsframe.CLOSE_INVALID_DATA,
        wsframe.CLOSE_POLICY,
        wsframe.CLOSE_TOO_BIG,
        wsframe.CLOSE_MANDATORY_EXT,
        wsframe.CLOSE_INTERNAL_ERROR,
    ]
    assert codes == [1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011]


def test_public_module_reexports_selected_twin() -> None:
    """Verify fastsio.protocol.websocket re-exports the selector's names."""
    for name in selected.__all__:
        assert getattr(websocket, name) is getattr(selected, name), name
    assert set(selected.__all__) <= set(websocket.__all__)
    for name in websocket.__all__:
        assert hasattr(websocket, name), name


# ---------------------------------------------------------------- lengths

SIZES = [0, 1, 3, 4, 5, 125, 126, 127, 511, 512, 513, 1000, 65535, 65536, 1 << 20]


@pytest.mark.parametrize("size", SIZES)
def test_length_forms_binary(wsframe: ModuleType, size: int) -> None:
    """Verify every payload length form parses, in one feed and in two halves."""
    payload = (
        bytes(random.Random(size).getrandbits(8) for _ in range(size)) if size < 70000 else b"\xa5" * size
    )
    frame = cf(2, payload)
    assert wsframe.FrameParser(0).feed(frame) == [(2, payload)]
    half = len(frame) // 2
    assert feed_all(wsframe.FrameParser(0), [frame[:half], frame[half:]]) == [(2, payload)]


@pytest.mark.parametrize("size", SIZES)
def test_length_forms_text(wsframe: ModuleType, size: int) -> None:
    """Verify text frames of every length form decode to str."""
    text = ("é" * (size // 2)) + ("a" * (size % 2))
    frame = cf(1, text)
    assert wsframe.FrameParser(0).feed(frame) == [(1, text)]


@pytest.mark.parametrize(
    ("size", "header_len"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (1 << 20, 10)]
)
def test_build_frame_length_forms(wsframe: ModuleType, size: int, header_len: int) -> None:
    """Verify build_frame picks the minimal length form."""
    payload = b"z" * size
    frame = wsframe.build_frame(2, payload)
    assert type(frame) is bytes
    assert frame[header_len:] == payload
    head = frame[:header_len]
    assert head[0] == 0x82
    if header_len == 2:
        assert head[1] == size
    elif header_len == 4:
        assert head[1] == 126 and int.from_bytes(head[2:], "big") == size
    else:
        assert head[1] == 127 and int.from_bytes(head[2:], "big") == size


# ---------------------------------------------------------------- streams

STREAM_FRAMES = [
    cf(1, "hello"),
    cf(2, b"\x00\x01\x02"),
    cf(9, b"ping!"),
    cf(1, "caf\u00e9 \u2603 \U0001f600", fin=False),
    cf(10, b""),
    cf(0, b"", fin=False),
    cf(0, " more"),
    cf(2, b"x" * 300),
    cf(2, b"ab", fin=False),
    cf(9, b""),
    cf(0, b"cd"),
    cf(1, ""),
    cf(2, b""),
    cf(10, b"p" * 125),
    cf(1, "y" * 70000),
]
STREAM = b"".join(STREAM_FRAMES)
STREAM_EVENTS: list[tuple[int, object]] = [
    (1, "hello"),
    (2, b"\x00\x01\x02"),
    (9, b"ping!"),
    (10, b""),
    (1, "caf\u00e9 \u2603 \U0001f600 more"),
    (2, b"x" * 300),
    (9, b""),
    (2, b"abcd"),
    (1, ""),
    (2, b""),
    (10, b"p" * 125),
    (1, "y" * 70000),
]


def test_stream_one_feed(wsframe: ModuleType) -> None:
    """Verify a mixed stream in one chunk gives every event in order."""
    assert wsframe.FrameParser().feed(STREAM) == STREAM_EVENTS


def test_stream_frame_per_feed(wsframe: ModuleType) -> None:
    """Verify a mixed stream fed frame by frame."""
    assert feed_all(wsframe.FrameParser(), STREAM_FRAMES) == STREAM_EVENTS


def test_stream_one_byte_feeds(wsframe: ModuleType) -> None:
    """Verify a stream fed one byte at a time (the big frame excluded, for speed)."""
    data = b"".join(STREAM_FRAMES[:-1])
    assert feed_all(wsframe.FrameParser(), bytewise(data)) == STREAM_EVENTS[:-1]


@pytest.mark.parametrize("seed", range(20))
def test_stream_random_splits(wsframe: ModuleType, seed: int) -> None:
    """Verify a stream split at random points."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 60)))
    chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
    assert feed_all(wsframe.FrameParser(), chunks) == STREAM_EVENTS


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_feed_accepts_buffers(wsframe: ModuleType, kind: type) -> None:
    """Verify feed accepts bytes, bytearray and memoryview, and returns bytes payloads."""
    parser = wsframe.FrameParser()
    frame = cf(2, b"payload") + cf(1, "text")
    events = parser.feed(kind(frame[:5])) + parser.feed(kind(frame[5:]))
    assert events == [(2, b"payload"), (1, "text")]
    assert type(events[0][1]) is bytes


def test_feed_does_not_keep_caller_buffer(wsframe: ModuleType) -> None:
    """Verify the parser copies what it keeps: the caller may reuse its buffer."""
    parser = wsframe.FrameParser()
    frame = cf(2, b"abcdef")
    chunk = bytearray(frame[:7])
    assert parser.feed(chunk) == []
    chunk[:] = b"\xff" * 7
    assert parser.feed(frame[7:]) == [(2, b"abcdef")]


def test_feed_empty(wsframe: ModuleType) -> None:
    """Verify feeding nothing yields nothing."""
    parser = wsframe.FrameParser()
    assert parser.feed(b"") == []
    assert parser.feed(cf(1, "a")[:3]) == []
    assert parser.feed(b"") == []


def test_fragmented_utf8_split_inside_character(wsframe: ModuleType) -> None:
    """Verify a character split across fragments is reassembled."""
    raw = "\u20ac\U0001f600".encode()  # 3 + 4 bytes
    frames = [cf(1, raw[:1], fin=False), cf(0, raw[1:5], fin=False), cf(9, b"x"), cf(0, raw[5:])]
    assert wsframe.FrameParser().feed(b"".join(frames)) == [(9, b"x"), (1, "\u20ac\U0001f600")]


def test_many_fragments(wsframe: ModuleType) -> None:
    """Verify a message of many fragments, each fed separately."""
    parts = [bytes((i,)) * i for i in range(50)]
    frames = [cf(2, parts[0], fin=False)] + [cf(0, p, fin=False) for p in parts[1:]] + [cf(0, b"end")]
    parser = wsframe.FrameParser()
    assert feed_all(parser, frames[:-1]) == []
    assert parser.feed(frames[-1]) == [(2, b"".join(parts) + b"end")]


def test_zero_mask(wsframe: ModuleType) -> None:
    """Verify an all-zero masking key (allowed, if unwise)."""
    assert wsframe.FrameParser().feed(cf(1, "plain", mask=b"\0\0\0\0")) == [(1, "plain")]


# ---------------------------------------------------------------- idle


def test_idle_between_messages(wsframe: ModuleType) -> None:
    """Verify ``idle``: true between whole messages, false with part of a frame buffered,
    with a fragmented message open, after a Close frame and after an error."""
    parser = wsframe.FrameParser()
    assert parser.idle
    assert parser.feed(cf(1, "a") + cf(9, b"p")) == [(1, "a"), (9, b"p")]
    assert parser.idle
    frame = cf(2, b"abcdef")
    assert parser.feed(frame[:1]) == []
    assert not parser.idle  # one byte of a header
    assert parser.feed(frame[1:4]) == []
    assert not parser.idle  # a header, part of the payload
    assert parser.feed(frame[4:]) == [(2, b"abcdef")]
    assert parser.idle
    assert parser.feed(cf(1, "x", fin=False)) == []
    assert not parser.idle  # a fragmented message is open
    assert parser.feed(cf(10, b"")) == [(10, b"")]
    assert not parser.idle  # a control frame between fragments
    assert parser.feed(cf(0, "y")) == [(1, "xy")]
    assert parser.idle
    assert parser.feed(cf(8, b"\x03\xe8")) == [(8, (1000, ""))]
    assert not parser.idle  # closed
    broken = wsframe.FrameParser()
    with pytest.raises(wsframe.WebSocketError):
        broken.feed(cf(3, b""))
    assert not broken.idle  # failed


@pytest.mark.parametrize("seed", range(20))
def test_idle_parser_is_interchangeable(wsframe: ModuleType, seed: int) -> None:
    """Verify what ``idle`` promises: a stream read with the parser swapped for a new one
    every time it is idle gives the events one parser gives (the WebSocket connections
    of a server share their idle parser on this)."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 60)))
    chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
    parser = wsframe.FrameParser()
    events: list[tuple[int, object]] = []
    swaps = 0
    for chunk in chunks:
        events += parser.feed(chunk)
        if parser.idle:
            parser = wsframe.FrameParser()
            swaps += 1
    assert events == STREAM_EVENTS
    assert swaps >= 1


# ---------------------------------------------------------------- close frames

CLOSE_CASES: list[tuple[bytes, tuple[int, str]]] = [
    (b"", (1005, "")),
    (close_payload(1000), (1000, "")),
    (close_payload(1001, b"bye"), (1001, "bye")),
    (close_payload(1003, "d\u00e9j\u00e0".encode()), (1003, "d\u00e9j\u00e0")),
    (close_payload(1012), (1012, "")),
    (close_payload(1013), (1013, "")),
    (close_payload(3000, b"app"), (3000, "app")),
    (close_payload(4999, b"r" * 123), (4999, "r" * 123)),
]


@pytest.mark.parametrize(("payload", "expected"), CLOSE_CASES)
def test_close_parsing(wsframe: ModuleType, payload: bytes, expected: tuple[int, str]) -> None:
    """Verify Close payloads parse to (code, reason)."""
    assert wsframe.FrameParser().feed(cf(8, payload)) == [(8, expected)]


def test_input_after_close_is_ignored(wsframe: ModuleType) -> None:
    """Verify the parser discards everything after a Close frame, even garbage."""
    parser = wsframe.FrameParser()
    assert not parser.closed
    events = parser.feed(cf(1, "a") + cf(8, close_payload(1000)) + cf(1, "b") + b"\xff\xff")
    assert events == [(1, "a"), (8, (1000, ""))]
    assert parser.closed
    assert parser.feed(cf(1, "c")) == []
    assert parser.feed(b"\x0f\x00") == []


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999]
)
def test_valid_close_codes(wsframe: ModuleType, code: int) -> None:
    """Verify the close codes a peer may send."""
    assert wsframe.is_valid_close_code(code)
    assert wsframe.FrameParser().feed(cf(8, close_payload(code))) == [(8, (code, ""))]


@pytest.mark.parametrize(
    "code", [0, 1, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
def test_invalid_close_codes(wsframe: ModuleType, code: int) -> None:
    """Verify reserved, local-only and out-of-range close codes are a protocol error."""
    assert not wsframe.is_valid_close_code(code)
    with pytest.raises(wsframe.WebSocketError) as info:
        wsframe.FrameParser().feed(cf(8, close_payload(code, b"why")))
    assert info.value.code == 1002


# ---------------------------------------------------------------- errors

# (id, stream, close code).  Each stream is valid up to its last frame.
ERROR_CASES: list[tuple[str, bytes, int]] = [
    ("rsv1", cf(1, "a", rsv=4), 1002),
    ("rsv2", cf(1, "a", rsv=2), 1002),
    ("rsv3", cf(1, "a", rsv=1), 1002),
    ("rsv1 on control", cf(9, b"", rsv=4), 1002),
    *[(f"opcode {op:#x}", cf(op, b"x"), 1002) for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)],
    ("unmasked text", cf(1, "a", masked=False), 1002),
    ("unmasked close", cf(8, close_payload(1000), masked=False), 1002),
    ("unmasked 16-bit", cf(2, b"x" * 200, masked=False), 1002),
    ("ping 126 bytes", cf(9, b"x" * 126), 1002),
    ("close 126 bytes", cf(8, close_payload(1000, b"r" * 124)), 1002),
    ("pong 64-bit form", cf(10, b"x" * 70000), 1002),
    ("fragmented ping", cf(9, b"x", fin=False), 1002),
    ("fragmented close", cf(8, b"", fin=False), 1002),
    ("continuation first", cf(0, b"x"), 1002),
    ("continuation after complete", cf(1, "a") + cf(0, b"x"), 1002),
    ("text inside text", cf(1, "a", fin=False) + cf(1, "b"), 1002),
    ("binary inside text", cf(1, "a", fin=False) + cf(2, b"b"), 1002),
    ("text inside binary", cf(2, b"a", fin=False) + cf(1, "b", fin=False), 1002),
    ("non-minimal 16-bit", cf(2, b"x" * 125, form=16), 1002),
    ("non-minimal 16-bit zero", cf(2, b"", form=16), 1002),
    ("non-minimal 64-bit", cf(2, b"x" * 65535, form=64), 1002),
    ("non-minimal 64-bit small", cf(2, b"x", form=64), 1002),
    ("64-bit MSB set", cf(2, b"", form=64, length=1 << 63), 1002),
    ("64-bit all ones", cf(2, b"", form=64, length=(1 << 64) - 1), 1002),
    ("close 1 byte", cf(8, b"\x03"), 1002),
    ("close code 1005", cf(8, close_payload(1005)), 1002),
    ("bad utf-8 text", cf(1, b"\xff"), 1007),
    ("surrogate in text", cf(1, b"\xed\xa0\x80"), 1007),
    ("overlong utf-8", cf(1, b"\xc0\xaf"), 1007),
    ("truncated utf-8 at end", cf(1, b"ok\xe2\x82"), 1007),
    ("truncated utf-8 at end of fragments", cf(1, b"ok", fin=False) + cf(0, b"\xe2\x82"), 1007),
    ("bad utf-8 in fragment", cf(1, b"ok", fin=False) + cf(0, b"\xff", fin=False) + cf(0, b""), 1007),
    ("bad utf-8 close reason", cf(8, close_payload(1000, b"\xff")), 1007),
    ("bad utf-8 after good messages", cf(1, "a") + cf(9, b"p") + cf(1, b"\x80"), 1007),
]


@pytest.mark.parametrize(("stream", "code"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors(wsframe: ModuleType, stream: bytes, code: int) -> None:
    """Verify each violation raises WebSocketError with its close code, whole or byte by byte."""
    with pytest.raises(wsframe.WebSocketError) as info:
        wsframe.FrameParser(0).feed(stream)
    assert info.value.code == code
    assert isinstance(info.value.reason, str) and info.value.reason
    parser = wsframe.FrameParser(0)
    with pytest.raises(wsframe.WebSocketError) as info:
        feed_all(parser, bytewise(stream))
    assert info.value.code == code


def test_error_is_sticky(wsframe: ModuleType) -> None:
    """Verify a dead parser raises the same code and reason again, with no events."""
    parser = wsframe.FrameParser()
    with pytest.raises(wsframe.WebSocketError) as first:
        parser.feed(cf(1, "a") + cf(3, b""))
    assert first.value.events == [(1, "a")]
    for data in (cf(1, "fine"), b"", b"\x81"):
        with pytest.raises(wsframe.WebSocketError) as again:
            parser.feed(data)
        assert (again.value.code, again.value.reason) == (first.value.code, first.value.reason)
        assert again.value.events == []


def test_error_carries_earlier_events(wsframe: ModuleType) -> None:
    """Verify messages completed before the error in the same feed travel on it."""
    parser = wsframe.FrameParser()
    assert parser.feed(cf(1, "first")) == [(1, "first")]
    with pytest.raises(wsframe.WebSocketError) as info:
        parser.feed(cf(2, b"second") + cf(9, b"ping") + cf(1, "x", masked=False) + cf(1, "never"))
    assert info.value.events == [(2, b"second"), (9, b"ping")]
    assert info.value.code == 1002
    assert str(info.value) == f"1002: {info.value.reason}"


def test_websocket_error_constructor(wsframe: ModuleType) -> None:
    """Verify WebSocketError(code, reason) is an Exception with code, reason and events."""
    assert issubclass(wsframe.WebSocketError, Exception)
    exc = wsframe.WebSocketError(1009, "too big")
    assert (exc.code, exc.reason, exc.events) == (1009, "too big", [])


def test_bad_utf8_fails_on_first_fragment(wsframe: ModuleType) -> None:
    """Verify a text message fails as soon as a fragment's prefix is invalid, before it ends."""
    parser = wsframe.FrameParser()
    assert parser.feed(cf(1, "ok ", fin=False)) == []
    with pytest.raises(wsframe.WebSocketError) as info:
        parser.feed(cf(0, b"\xe2\x28", fin=False))  # 0xe2 then a non-continuation byte
    assert info.value.code == 1007


def test_incomplete_utf8_waits_for_next_fragment(wsframe: ModuleType) -> None:
    """Verify a fragment ending inside a character is not an error yet."""
    parser = wsframe.FrameParser()
    assert parser.feed(cf(1, b"\xe2\x82", fin=False)) == []
    assert parser.feed(cf(0, b"\xac")) == [(1, "\u20ac")]


# ---------------------------------------------------------------- max_size


def test_max_size_single_frame(wsframe: ModuleType) -> None:
    """Verify a frame over max_size fails with 1009, one at max_size passes."""
    assert wsframe.FrameParser(100).feed(cf(2, b"x" * 100)) == [(2, b"x" * 100)]
    with pytest.raises(wsframe.WebSocketError) as info:
        wsframe.FrameParser(100).feed(cf(2, b"x" * 101))
    assert info.value.code == 1009


def test_max_size_checked_on_header(wsframe: ModuleType) -> None:
    """Verify the declared length is checked before the payload is buffered."""
    parser = wsframe.FrameParser(1000)
    head = cf(2, b"", form=64, length=1 << 40)[:10]  # no payload, no mask key yet
    with pytest.raises(wsframe.WebSocketError) as info:
        parser.feed(head)
    assert info.value.code == 1009
    parser = wsframe.FrameParser(1000)
    assert parser.feed(b"\x82") == []
    with pytest.raises(wsframe.WebSocketError):
        parser.feed(b"\xfe\x03\xe9")  # 16-bit length 1001


def test_max_size_fragmented(wsframe: ModuleType) -> None:
    """Verify max_size bounds the reassembled message, not each frame."""
    ok = cf(1, "a" * 60, fin=False) + cf(0, "b" * 40)
    assert wsframe.FrameParser(100).feed(ok) == [(1, "a" * 60 + "b" * 40)]
    parser = wsframe.FrameParser(100)
    assert parser.feed(cf(1, "a" * 60, fin=False) + cf(0, "b" * 30, fin=False)) == []
    with pytest.raises(wsframe.WebSocketError) as info:
        parser.feed(cf(0, "c" * 11))
    assert info.value.code == 1009


def test_max_size_resets_between_messages(wsframe: ModuleType) -> None:
    """Verify the size count restarts with each message."""
    parser = wsframe.FrameParser(10)
    stream = (cf(2, b"x" * 5, fin=False) + cf(0, b"y" * 5)) * 3 + cf(1, "z" * 10)
    assert parser.feed(stream) == [(2, b"xxxxxyyyyy")] * 3 + [(1, "z" * 10)]


def test_max_size_ignores_control_frames(wsframe: ModuleType) -> None:
    """Verify control frames are bounded by 125 bytes, not by max_size."""
    assert wsframe.FrameParser(10).feed(cf(9, b"p" * 125)) == [(9, b"p" * 125)]


def test_max_size_unlimited(wsframe: ModuleType) -> None:
    """Verify max_size=0 means unlimited and the default is 1 MB."""
    big = b"x" * 1_000_001
    assert wsframe.FrameParser(0).feed(cf(2, big)) == [(2, big)]
    with pytest.raises(wsframe.WebSocketError):
        wsframe.FrameParser().feed(cf(2, big))
    with pytest.raises(ValueError):
        wsframe.FrameParser(-1)


# ---------------------------------------------------------------- building frames

BUILD_CASES: list[tuple[tuple[Any, ...], dict[str, Any], bytes]] = [
    ((1, "hi"), {}, b"\x81\x02hi"),
    ((1, "\u00e9"), {}, b"\x81\x02\xc3\xa9"),
    ((2, b"\x00\xff"), {}, b"\x82\x02\x00\xff"),
    ((2, bytearray(b"ab")), {}, b"\x82\x02ab"),
    ((2, memoryview(b"ab")), {}, b"\x82\x02ab"),
    ((1, ""), {}, b"\x81\x00"),
    ((1, "a"), {"fin": False}, b"\x01\x01a"),
    ((0, "b"), {"fin": False}, b"\x00\x01b"),
    ((0, b"c"), {}, b"\x80\x01c"),
    ((1, "a"), {"rsv1": True}, b"\xc1\x01a"),
    ((2, b""), {"fin": False, "rsv1": True}, b"\x42\x00"),
    ((9, b""), {}, b"\x89\x00"),
    ((9, b"p" * 125), {}, b"\x89\x7d" + b"p" * 125),
    ((10, b"pong"), {}, b"\x8a\x04pong"),
    ((8, b"\x03\xe8"), {}, b"\x88\x02\x03\xe8"),
    ((2, b"x" * 126), {}, b"\x82\x7e\x00\x7e" + b"x" * 126),
    ((2, b"x" * 65535), {}, b"\x82\x7e\xff\xff" + b"x" * 65535),
    ((2, b"x" * 65536), {}, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00" + b"x" * 65536),
]


@pytest.mark.parametrize(("args", "kwargs", "expected"), BUILD_CASES)
def test_build_frame(
    wsframe: ModuleType, args: tuple[Any, ...], kwargs: dict[str, Any], expected: bytes
) -> None:
    """Verify build_frame output byte for byte."""
    frame = wsframe.build_frame(*args, **kwargs)
    assert type(frame) is bytes
    assert frame == expected


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((9, b"x" * 126), {}),
        ((8, b"x" * 200), {}),
        ((10, b""), {"fin": False}),
        ((3, b""), {}),
        ((7, b""), {}),
        ((11, b""), {}),
        ((16, b""), {}),
        ((-1, b""), {}),
    ],
)
def test_build_frame_rejects(wsframe: ModuleType, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Verify build_frame refuses frames a peer would reject."""
    with pytest.raises(ValueError):
        wsframe.build_frame(*args, **kwargs)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_build_frame_shortcuts(wsframe: ModuleType, size: int) -> None:
    """Verify build_frame_text / build_frame_binary equal build_frame."""
    text = "\u00e9" * (size // 2) + "a" * (size % 2)
    assert wsframe.build_frame_text(text) == wsframe.build_frame(1, text)
    data = b"b" * size
    assert wsframe.build_frame_binary(data) == wsframe.build_frame(2, data)
    assert wsframe.build_frame_binary(bytearray(data)) == wsframe.build_frame(2, data)
    assert type(wsframe.build_frame_binary(bytearray(data))) is bytes


CLOSE_BUILD_CASES: list[tuple[tuple[Any, ...], bytes]] = [
    ((), b"\x88\x02\x03\xe8"),
    ((1000,), b"\x88\x02\x03\xe8"),
    ((1001, "bye"), b"\x88\x05\x03\xe9bye"),
    ((1009, "\u00e9"), b"\x88\x04\x03\xf1\xc3\xa9"),
    ((4999, ""), b"\x88\x02\x13\x87"),
    ((None,), b"\x88\x00"),
    ((None, "ignored"), b"\x88\x00"),
    ((1005,), b"\x88\x00"),
    ((1006, "gone"), b"\x88\x00"),
    ((1015,), b"\x88\x00"),
    ((1000, "r" * 123), b"\x88\x7d\x03\xe8" + b"r" * 123),
    ((1000, "r" * 200), b"\x88\x7d\x03\xe8" + b"r" * 123),
    # 122 ASCII bytes then a 2-byte character: cut before it, never inside it.
    ((1000, "r" * 122 + "\u00e9"), b"\x88\x7c\x03\xe8" + b"r" * 122),
    (
        (1000, "\U0001f600" * 40),
        b"\x88\x7e"[:1] + bytes((2 + 120,)) + b"\x03\xe8" + "\U0001f600".encode() * 30,
    ),
]


@pytest.mark.parametrize(("args", "expected"), CLOSE_BUILD_CASES)
def test_build_close(wsframe: ModuleType, args: tuple[Any, ...], expected: bytes) -> None:
    """Verify build_close output byte for byte, and that our parser reads it back."""
    frame = wsframe.build_close(*args)
    assert frame == expected
    # Mask it as a client would and parse it back.
    masked = bytes((frame[0], frame[1] | 0x80)) + MASK + xor(MASK, frame[2:])
    [(opcode, (code, reason))] = wsframe.FrameParser().feed(masked)
    assert opcode == 8
    assert code == (int.from_bytes(frame[2:4], "big") if len(frame) > 2 else 1005)
    assert reason.encode() == frame[4:]


@pytest.mark.parametrize("code", [0, 999, 1004, 1014, 1016, 2999, 5000, 70000])
def test_build_close_rejects_invalid_codes(wsframe: ModuleType, code: int) -> None:
    """Verify build_close refuses codes a peer must reject."""
    with pytest.raises(ValueError):
        wsframe.build_close(code)


# ---------------------------------------------------------------- masking and keys


def test_accept_key_rfc_sample(wsframe: ModuleType) -> None:
    """Verify the RFC 6455 1.3 sample key."""
    assert wsframe.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 100, 511, 512, 513, 514, 515, 1000, 4096, 65537])
def test_mask_payload(wsframe: ModuleType, size: int) -> None:
    """Verify mask_payload against the byte loop, on both sides of the method switch."""
    data = bytes(random.Random(size).getrandbits(8) for _ in range(size))
    masked = wsframe.mask_payload(MASK, data)
    assert type(masked) is bytes
    assert masked == xor(MASK, data)
    assert wsframe.mask_payload(MASK, masked) == data
    assert wsframe.mask_payload(MASK, bytearray(data)) == masked
    assert wsframe.mask_payload(MASK, memoryview(data)) == masked


@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde"])
def test_mask_payload_rejects_bad_mask(wsframe: ModuleType, mask: bytes) -> None:
    """Verify mask_payload wants a 4-byte key."""
    with pytest.raises(ValueError):
        wsframe.mask_payload(mask, b"data")
