"""Differential tests of the ``wsframe`` twins against wsproto's ``FrameProtocol``.

* Inbound: streams from wsproto's client (or built by hand) are decoded by our
  parser and by ``FrameProtocol(client=False)``; the (opcode, payload) sequences
  after reassembly must be equal.  Raw bytes are never compared: wsproto masks
  with ``os.urandom``.
* Outbound: server frames are unmasked and deterministic, so ours must equal
  wsproto's byte for byte, and wsproto's client must parse them back.
* Rejections: whatever wsproto rejects with ``ParseFailed`` we reject with a
  ``WebSocketError`` of the same ``code``, and the other way round.
* Property tests (``hypothesis`` mark): random valid messages and random
  (often invalid) frames, cut into random chunks.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed, XorMaskerSimple

Events = list[tuple[int, object]]
Outcome = tuple[Events, "int | None"]

MASK = b"\x8b\x01\x5c\xe3"


# ---------------------------------------------------------------- helpers


def wsproto_mask(mask: bytes, data: bytes) -> bytes:
    """Return ``data`` masked by wsproto's own masker (independent of ours)."""
    return bytes(XorMaskerSimple(mask).process(bytearray(data)))


def cf(
    b0: int,
    payload: bytes = b"",
    *,
    masked: bool = True,
    mask: bytes = MASK,
    form: int | None = None,
    length: int | None = None,
) -> bytes:
    """Return a client frame with first byte ``b0`` (FIN, RSV, opcode) built by hand.

    ``form`` forces the length encoding (7, 16 or 64 bits), ``length`` the
    declared length.
    """
    n = len(payload) if length is None else length
    if form is None:
        form = 7 if n < 126 else 16 if n < 0x10000 else 64
    mbit = 0x80 if masked else 0
    if form == 7:
        head = bytes((b0, mbit | n))
    elif form == 16:
        head = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    return head + (mask + wsproto_mask(mask, payload) if masked else payload)


def run_wsproto(chunks: list[bytes]) -> Outcome:
    """Return wsproto's server-side reading of ``chunks``: (messages, error code or None).

    Data frames are reassembled into messages; the error code is that of the
    first ``ParseFailed``.
    """
    proto = FrameProtocol(client=False, extensions=[])
    events: Events = []
    parts: list[Any] = []
    try:
        for chunk in chunks:
            proto.receive_bytes(chunk)
            for frame in proto.received_frames():
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                    parts.append(frame.payload)
                    if frame.message_finished:
                        joined = "".join(parts) if frame.opcode is Opcode.TEXT else b"".join(parts)
                        events.append((int(frame.opcode), joined))
                        parts = []
                elif frame.opcode is Opcode.CLOSE:
                    code, reason = cast("tuple[int, str]", frame.payload)
                    events.append((8, (int(code), reason)))
                else:
                    events.append((int(frame.opcode), bytes(frame.payload)))  # type: ignore[arg-type]
    except ParseFailed as exc:
        return events, int(exc.code)
    return events, None


def run_ours(wsframe: ModuleType, chunks: list[bytes], max_size: int = 0) -> Outcome:
    """Return our parser's reading of ``chunks``: (messages, error code or None)."""
    parser = wsframe.FrameParser(max_size)
    events: Events = []
    try:
        for chunk in chunks:
            events.extend(parser.feed(chunk))
    except wsframe.WebSocketError as exc:
        events.extend(exc.events)
        return events, exc.code
    return events, None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Return ``data`` cut at the given offsets (taken modulo its length, sorted)."""
    if not data:
        return [data]
    points = sorted({c % len(data) for c in cuts} - {0})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def assert_same(wsframe: ModuleType, chunks: list[bytes]) -> Outcome:
    """Assert both parsers read ``chunks`` alike; return the outcome."""
    expected = run_wsproto(chunks)
    assert run_ours(wsframe, chunks) == expected
    return expected


def client() -> FrameProtocol:
    """Return a wsproto client-side frame protocol (it masks what it sends)."""
    return FrameProtocol(client=True, extensions=[])


# ---------------------------------------------------------------- inbound

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 300_000]


@pytest.mark.parametrize("size", SIZES)
def test_inbound_sizes(wsframe: ModuleType, size: int) -> None:
    """Verify text and binary messages of every length form, whole, in 3 chunks and 4 KiB chunks."""
    c = client()
    stream = bytes(c.send_data(os.urandom(size))) + bytes(c.send_data("\u00e9" * (size // 2)))
    events, error = assert_same(wsframe, [stream])
    assert error is None and len(events) == 2
    assert_same(wsframe, split(stream, [size // 3, size, size + 7]))
    assert_same(wsframe, [stream[i : i + 4096] for i in range(0, len(stream), 4096)])


def test_inbound_fragmented_with_control_frames(wsframe: ModuleType) -> None:
    """Verify fragmented messages with pings and pongs between the fragments."""
    c = client()
    stream = b"".join(
        bytes(x)
        for x in (
            c.send_data("frag", fin=False),
            c.ping(b"p1"),
            c.send_data("ment\u00e9", fin=False),
            c.pong(b""),
            c.send_data("ed"),
            c.send_data(b"\x00" * 200, fin=False),
            c.ping(b"x" * 125),
            c.send_data(b"\x01" * 70000),
            c.send_data(b""),
            c.send_data(""),
            c.close(1000, "done"),
        )
    )
    events, error = assert_same(wsframe, [stream])
    assert error is None
    assert [op for op, _ in events] == [9, 10, 1, 9, 2, 2, 1, 8]
    assert_same(wsframe, [stream[i : i + 1] for i in range(2000)] + [stream[2000:]])
    assert_same(wsframe, [stream[i : i + 777] for i in range(0, len(stream), 777)])


@pytest.mark.parametrize(
    ("code", "reason"),
    [(None, None), (1000, None), (1001, "bye"), (1011, "\u00e9" * 61), (3000, ""), (4999, "x")],
)
def test_inbound_close(wsframe: ModuleType, code: int | None, reason: str | None) -> None:
    """Verify Close frames from wsproto's client, and that later input is ignored by both."""
    c = client()
    stream = bytes(c.close(code, reason)) + bytes(c.send_data("after"))
    events, error = assert_same(wsframe, [stream])
    assert error is None and events[-1][0] == 8


# ---------------------------------------------------------------- outbound

OUTBOUND_DATA: list[tuple[str | bytes, bool]] = [
    ("", True),
    ("hello", True),
    ("\u00e9\u2603\U0001f600", True),
    (b"", True),
    (b"\x00\xff" * 3, True),
    (b"x" * 125, True),
    (b"x" * 126, True),
    ("y" * 65535, True),
    (b"z" * 65536, True),
    (b"w" * 300_000, True),
]


@pytest.mark.parametrize(("payload", "fin"), OUTBOUND_DATA)
def test_outbound_data(wsframe: ModuleType, payload: str | bytes, fin: bool) -> None:
    """Verify data frames equal wsproto's server output byte for byte and parse back."""
    opcode = 1 if isinstance(payload, str) else 2
    ours = wsframe.build_frame(opcode, payload)
    assert ours == bytes(FrameProtocol(client=False, extensions=[]).send_data(payload))
    shortcut = wsframe.build_frame_text(payload) if opcode == 1 else wsframe.build_frame_binary(payload)
    assert shortcut == ours
    reader = client()
    reader.receive_bytes(ours)
    frames = list(reader.received_frames())
    assert len(frames) == 1
    assert frames[0].payload == payload and frames[0].message_finished


def test_outbound_fragmented(wsframe: ModuleType) -> None:
    """Verify a fragmented message equals wsproto's send_data(fin=False) sequence."""
    server = FrameProtocol(client=False, extensions=[])
    theirs = b"".join(
        bytes(server.send_data(p, fin=f)) for p, f in (("a", False), ("b" * 200, False), ("c", True))
    )
    ours = (
        wsframe.build_frame(1, "a", fin=False)
        + wsframe.build_frame(0, "b" * 200, fin=False)
        + wsframe.build_frame(0, "c")
    )
    assert ours == theirs
    reader = client()
    reader.receive_bytes(ours)
    assert "".join(f.payload for f in reader.received_frames()) == "a" + "b" * 200 + "c"  # type: ignore[misc]


@pytest.mark.parametrize("payload", [b"", b"ping", b"x" * 125])
def test_outbound_ping_pong(wsframe: ModuleType, payload: bytes) -> None:
    """Verify Ping and Pong frames equal wsproto's byte for byte."""
    server = FrameProtocol(client=False, extensions=[])
    assert wsframe.build_frame(9, payload) == bytes(server.ping(payload))
    assert wsframe.build_frame(10, payload) == bytes(server.pong(payload))


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1000, ""),
        (1000, None),
        (1001, "going away"),
        (1002, "protocol error"),
        (1009, "\u00e9"),
        (1011, "r" * 123),
        (1011, "r" * 124),
        (1011, "r" * 122 + "\u00e9"),
        (1011, "\U0001f600" * 40),
        (1012, ""),
        (1013, ""),
        (3000, "app"),
        (4999, "max"),
    ],
)
def test_outbound_close(wsframe: ModuleType, code: int, reason: str | None) -> None:
    """Verify Close frames equal wsproto's byte for byte (UTF-8-safe truncation included)."""
    ours = wsframe.build_close(code, reason or "")
    assert ours == bytes(FrameProtocol(client=False, extensions=[]).close(code, reason))
    reader = client()
    reader.receive_bytes(ours)
    [frame] = list(reader.received_frames())
    assert frame.opcode is Opcode.CLOSE
    assert frame.payload == (code, (reason or "").encode()[:123].decode("utf-8", "ignore"))


def test_outbound_close_without_code(wsframe: ModuleType) -> None:
    """Verify build_close(None) equals wsproto's close() (empty payload: read as 1005)."""
    assert wsframe.build_close(None) == bytes(FrameProtocol(client=False, extensions=[]).close())
    reader = client()
    reader.receive_bytes(wsframe.build_close(1006, "local only"))
    [frame] = list(reader.received_frames())
    # Deliberate difference: wsproto rewrites 1006/1015 to 1000, we send no status.
    assert frame.payload == (1005, "")


# ---------------------------------------------------------------- rejections

REJECTIONS: list[tuple[str, bytes, int]] = [
    ("rsv1", cf(0xC1, b"a"), 1002),
    ("rsv2", cf(0xA1, b"a"), 1002),
    ("rsv3", cf(0x91, b"a"), 1002),
    ("rsv on ping", cf(0xC9), 1002),
    *[(f"opcode {op:#x}", cf(0x80 | op, b"x"), 1002) for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)],
    ("unmasked", cf(0x81, b"a", masked=False), 1002),
    ("unmasked empty", cf(0x82, masked=False), 1002),
    ("unmasked 64-bit", cf(0x82, b"x" * 70000, masked=False), 1002),
    ("ping > 125", cf(0x89, b"x" * 126), 1002),
    ("close > 125", cf(0x88, b"\x03\xe8" + b"x" * 124), 1002),
    ("fragmented ping", cf(0x09), 1002),
    ("fragmented pong", cf(0x0A, b"x"), 1002),
    ("fragmented close", cf(0x08, b"\x03\xe8"), 1002),
    ("continuation first", cf(0x80, b"x"), 1002),
    ("continuation after message", cf(0x81, b"a") + cf(0x80, b"b"), 1002),
    ("text inside text", cf(0x01, b"a") + cf(0x81, b"b"), 1002),
    ("binary inside text", cf(0x01, b"a") + cf(0x02, b"b"), 1002),
    ("text inside binary", cf(0x02, b"a") + cf(0x81, b"b"), 1002),
    ("non-minimal 16-bit", cf(0x82, b"x" * 100, form=16), 1002),
    ("non-minimal 64-bit", cf(0x82, b"x" * 1000, form=64), 1002),
    ("64-bit MSB", cf(0x82, form=64, length=1 << 63), 1002),
    ("close 1 byte", cf(0x88, b"\x03"), 1002),
    *[
        (f"close code {code}", cf(0x88, code.to_bytes(2, "big") + b"why"), 1002)
        for code in (0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 2000, 2999, 5000, 65535)
    ],
    ("bad utf-8 text", cf(0x81, b"\xff\xfe"), 1007),
    ("surrogate text", cf(0x81, b"\xed\xb0\x80"), 1007),
    ("truncated utf-8", cf(0x81, b"\xf0\x9f\x98"), 1007),
    ("bad utf-8 first fragment", cf(0x01, b"\xc3\x28"), 1007),
    ("bad utf-8 across fragments", cf(0x01, b"\xe2") + cf(0x80, b"\x28\xa1"), 1007),
    ("truncated utf-8 last fragment", cf(0x01, b"a") + cf(0x80, b"\xe2\x82"), 1007),
    ("bad utf-8 close reason", cf(0x88, b"\x03\xe8\xff"), 1007),
    ("bad utf-8 after valid frames", cf(0x81, b"ok") + cf(0x89, b"p") + cf(0x81, b"\x80"), 1007),
    ("error after valid frames", cf(0x82, b"ok") + cf(0x8A) + cf(0xC2, b"x"), 1002),
]


@pytest.mark.parametrize(("stream", "code"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_rejections(wsframe: ModuleType, stream: bytes, code: int) -> None:
    """Verify we reject what wsproto rejects, with the same close code, whole and byte by byte."""
    _, error = assert_same(wsframe, [stream])
    assert error == code
    assert_same(wsframe, [stream[i : i + 1] for i in range(len(stream))])


def test_close_code_sweep(wsframe: ModuleType) -> None:
    """Verify every close code 0..5100 (and the top ones) is accepted or rejected like wsproto."""
    for code in [*range(5101), 9999, 65535]:
        stream = cf(0x88, code.to_bytes(2, "big"))
        assert run_ours(wsframe, [stream]) == run_wsproto([stream]), code


# ---------------------------------------------------------------- property tests

texts = st.text(st.characters(codec="utf-8"), max_size=200)
masks = st.binary(min_size=4, max_size=4)
control_payloads = st.one_of(st.binary(max_size=125), st.sampled_from([b"", b"x" * 125]))
cut_lists = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=20)
SENDABLE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 4000, 4999]
BAD_CODES = [0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 2999, 5000, 65535]


@st.composite
def messages(draw: st.DrawFn, corrupt: bool = False) -> bytes:
    """Return the frames of one valid message or control frame.

    Data messages are fragmented at arbitrary byte offsets (so a UTF-8
    character may straddle two fragments) with control frames between the
    fragments.  With ``corrupt``, text may have invalid UTF-8 (a random byte
    inserted, or the end cut inside a character).
    """
    kind = draw(st.sampled_from(["text", "binary", "ping", "pong", "big", "close"]))
    if kind in ("ping", "pong"):
        return cf(0x89 if kind == "ping" else 0x8A, draw(control_payloads), mask=draw(masks))
    if kind == "big":
        size = draw(st.sampled_from([126, 513, 65535, 65536]))
        return cf(0x82, (bytes(range(251)) * 262)[:size], mask=draw(masks))
    if kind == "close":
        reason = draw(texts).encode()[:123].decode("utf-8", "ignore").encode()
        return cf(0x88, draw(st.sampled_from(SENDABLE_CODES)).to_bytes(2, "big") + reason, mask=draw(masks))
    if kind == "text":
        raw = draw(texts).encode()
        if corrupt and raw and draw(st.booleans()):
            at = draw(st.integers(0, len(raw)))
            raw = (
                raw[:at] + bytes((draw(st.integers(0x80, 0xFF)),)) + raw[at:]
                if draw(st.booleans())
                else raw[:at]
            )
    else:
        raw = draw(st.binary(max_size=300))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(raw)), max_size=4))))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    out = []
    for i, piece in enumerate(pieces):
        opcode = (1 if kind == "text" else 2) if i == 0 else 0
        fin = 0x80 if i == len(pieces) - 1 else 0
        out.append(cf(fin | opcode, piece, mask=draw(masks)))
        if not fin and draw(st.booleans()):
            out.append(cf(draw(st.sampled_from([0x89, 0x8A])), draw(control_payloads), mask=draw(masks)))
    return b"".join(out)


@st.composite
def bad_frames(draw: st.DrawFn) -> bytes:
    """Return frames that break one rule (or, for ``random``, anything at all)."""
    how = draw(
        st.sampled_from(
            [
                "rsv",
                "opcode",
                "unmasked",
                "control_long",
                "control_frag",
                "continuation",
                "nested",
                "nonminimal",
                "msb",
                "close",
                "random",
            ]
        )
    )
    mask = draw(masks)
    data_b0 = draw(st.sampled_from([0x81, 0x82, 0x01, 0x02]))
    any_b0 = draw(st.sampled_from([0x81, 0x82, 0x01, 0x02, 0x88, 0x89, 0x8A]))
    if how == "rsv":
        return cf(any_b0 | draw(st.integers(1, 7)) << 4, b"x", mask=mask)
    if how == "opcode":
        return cf(
            0x80 * draw(st.integers(0, 1)) | draw(st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15])),
            mask=mask,
        )
    if how == "unmasked":
        return cf(any_b0, draw(st.binary(max_size=130)), masked=False)
    if how == "control_long":
        return cf(
            draw(st.sampled_from([0x88, 0x89, 0x8A])),
            b"\x03\xe8" + b"r" * draw(st.integers(124, 130)),
            mask=mask,
        )
    if how == "control_frag":
        return cf(draw(st.sampled_from([0x08, 0x09, 0x0A])), mask=mask)
    if how == "continuation":
        return cf(draw(st.sampled_from([0x00, 0x80])), b"c", mask=mask)
    if how == "nested":
        return cf(data_b0 & 0x0F, b"a", mask=mask) + cf(data_b0, b"b", mask=mask)
    if how == "nonminimal":
        size = draw(st.sampled_from([0, 1, 125, 126, 65535]))
        form = 16 if size < 126 else 64
        return cf(data_b0 | 0x80, b"y" * size, mask=mask, form=form)
    if how == "msb":
        return cf(data_b0 | 0x80, mask=mask, form=64, length=draw(st.integers(1 << 63, (1 << 64) - 1)))
    if how == "close":
        payload = draw(
            st.one_of(
                st.binary(max_size=1),
                st.builds(
                    lambda c, r: c.to_bytes(2, "big") + r, st.sampled_from(BAD_CODES), st.binary(max_size=4)
                ),
                st.builds(
                    lambda c, r: c.to_bytes(2, "big") + r, st.integers(0, 65535), st.binary(max_size=4)
                ),
                st.builds(lambda r: b"\x03\xe8" + r, st.binary(min_size=1, max_size=6)),
            )
        )
        return cf(0x88, payload, mask=mask)
    b0 = draw(st.integers(0, 255))
    payload = draw(st.binary(max_size=140))
    return cf(
        b0,
        payload,
        masked=draw(st.booleans()),
        mask=mask,
        form=draw(st.sampled_from([None, 7, 16, 64])) if len(payload) < 126 else None,
    )


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(messages(), max_size=8), cuts=cut_lists)
def test_property_valid_streams(wsframe: ModuleType, items: list[bytes], cuts: list[int]) -> None:
    """Verify random valid streams cut into random chunks read alike (and without error)."""
    stream = b"".join(items)
    events, error = assert_same(wsframe, split(stream, cuts))
    assert error is None
    assert run_ours(wsframe, [stream]) == (events, None)


@pytest.mark.hypothesis
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(st.one_of(messages(corrupt=True), bad_frames()), max_size=8), cuts=cut_lists)
def test_property_fuzzed_streams(wsframe: ModuleType, items: list[bytes], cuts: list[int]) -> None:
    """Verify streams of valid messages and rule-breaking frames give the same messages and close code."""
    stream = b"".join(items)
    assert_same(wsframe, split(stream, cuts))
    assert_same(wsframe, [stream])


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(payload=st.one_of(texts, st.binary(max_size=70000)), fin=st.booleans(), first=st.booleans())
def test_property_outbound_data(wsframe: ModuleType, payload: str | bytes, fin: bool, first: bool) -> None:
    """Verify random data frames (first or continuation, final or not) equal wsproto's byte for byte."""
    server = FrameProtocol(client=False, extensions=[])
    if not first:
        server.send_data(payload[:0], fin=False)
    theirs = bytes(server.send_data(payload, fin=fin))
    opcode = 0 if not first else 1 if isinstance(payload, str) else 2
    assert wsframe.build_frame(opcode, payload, fin=fin) == theirs


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(code=st.sampled_from(SENDABLE_CODES) | st.integers(3000, 4999), reason=st.text(max_size=130))
def test_property_outbound_close(wsframe: ModuleType, code: int, reason: str) -> None:
    """Verify random Close frames equal wsproto's byte for byte, and both parsers read them alike."""
    ours = wsframe.build_close(code, reason)
    assert ours == bytes(FrameProtocol(client=False, extensions=[]).close(code, reason))
    masked = bytes((ours[0], ours[1] | 0x80)) + MASK + wsproto_mask(MASK, ours[2:])
    assert assert_same(wsframe, [masked])[1] is None
