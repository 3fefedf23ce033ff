"""Compressed messages in the ``wsframe`` parser twins (permessage-deflate, RFC 7692).

* Table tests on both twins (the ``wsframe`` fixture): compressed text and binary
  of every length form, fragmented, with control frames between the fragments,
  fed whole and one byte at a time; context takeover kept and reset; mixed with
  uncompressed messages; a stream ending in a BFINAL block; the rejections (RSV1
  where it is not allowed, data that does not inflate, text that is not UTF-8,
  messages that inflate past ``max_size``, zip bombs, with bounded memory).
* Twin equivalence (``hypothesis``): random compressed streams, cut at random.
* Differential against wsproto's ``PerMessageDeflate``: streams written by
  wsproto's client side with the extension are read by our parser and by
  wsproto's server side alike (messages, or the same close code).
"""

from __future__ import annotations

import os
import tracemalloc
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed, XorMaskerSimple

Twins = Callable[[str], tuple[ModuleType, ModuleType]]
Events = list[tuple[int, object]]

TRAILER = b"\x00\x00\xff\xff"


# ---------------------------------------------------------------- a client that compresses


def xor(mask: bytes, data: bytes) -> bytes:
    """Return ``data`` masked with ``mask`` (wsproto's masker: independent of ours)."""
    return bytes(XorMaskerSimple(mask).process(bytearray(data)))


def cf(b0: int, payload: bytes) -> bytes:
    """Return a masked client frame with first byte ``b0``, minimal length form."""
    n = len(payload)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 0x10000:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + xor(mask, payload)


class Client:
    """A client compressor (zlib, like browsers and ws): RFC 7692 7.2.1 by hand."""

    def __init__(self, bits: int = 15, no_context_takeover: bool = False) -> None:
        self.bits = max(bits, 9)
        self.reset = no_context_takeover
        self.zlib: Any = None

    def payload(self, data: bytes) -> bytes:
        """Return the compressed payload of one message (trailer dropped)."""
        if self.zlib is None or self.reset:
            self.zlib = zlib.compressobj(6, zlib.DEFLATED, -self.bits)
        out = self.zlib.compress(data) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TRAILER)
        return out[:-4]

    def message(self, opcode: int, data: bytes | str, pieces: int = 1) -> bytes:
        """Return one compressed message as ``pieces`` frames (RSV1 on the first only)."""
        raw = data.encode() if isinstance(data, str) else data
        payload = self.payload(raw)
        if pieces == 1:
            return cf(0xC0 | opcode, payload)
        step = max(1, -(-len(payload) // pieces))
        parts = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        while len(parts) < pieces:
            parts.append(b"")
        out = []
        for i, part in enumerate(parts):
            b0 = (0x80 if i == len(parts) - 1 else 0) | ((0x40 | opcode) if i == 0 else 0)
            out.append(cf(b0, part))
        return b"".join(out)


def read(wsframe: ModuleType, chunks: list[bytes], max_size: int = 0, bits: int = 15, reset: bool = False) -> tuple[Events, int | None]:
    """Return what a parser with the extension reads: (events, close code or None)."""
    parser = wsframe.FrameParser(max_size, bits, reset)
    events: Events = []
    try:
        for chunk in chunks:
            events.extend(parser.feed(chunk))
    except wsframe.WebSocketError as exc:
        events.extend(exc.events)
        return events, exc.code
    return events, None


def bytewise(data: bytes) -> list[bytes]:
    """Return ``data`` as one-byte chunks."""
    return [data[i : i + 1] for i in range(len(data))]


# ---------------------------------------------------------------- accepted


SIZES = [0, 1, 125, 126, 65535, 65536, 300_000]


@pytest.mark.parametrize("size", SIZES)
def test_compressed_messages_of_every_size(wsframe: ModuleType, size: int) -> None:
    """Verify compressed text and binary messages (compressible or not) of every length form."""
    client = Client()
    text = ("hé€llo " * (size // 8 + 1))[: size // 2]
    noise = os.urandom(size)
    stream = client.message(1, text) + client.message(2, noise) + client.message(2, b"\x00" * size)
    assert read(wsframe, [stream]) == ([(1, text), (2, noise), (2, b"\x00" * size)], None)
    cut = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    assert read(wsframe, cut, max_size=size) == ([(1, text), (2, noise), (2, b"\x00" * size)], None)


@pytest.mark.parametrize("pieces", [2, 3, 7])
def test_fragmented_compressed_message_with_control_frames(wsframe: ModuleType, pieces: int) -> None:
    """Verify a compressed message in several frames, pings between them, whole and byte by byte."""
    client = Client()
    msg = client.message(1, "fragmented é " * 300, pieces)
    # a ping after the first frame of the message (a short one: 7-bit length)
    assert msg[1] & 0x7F < 126
    first_len = 2 + 4 + (msg[1] & 0x7F)
    stream = msg[:first_len] + cf(0x89, b"ping") + msg[first_len:] + client.message(2, b"after" * 100, 2)
    expected = [(9, b"ping"), (1, "fragmented é " * 300), (2, b"after" * 100)]
    assert read(wsframe, [stream]) == (expected, None)
    assert read(wsframe, bytewise(stream)) == (expected, None)


def test_context_takeover(wsframe: ModuleType) -> None:
    """Verify later messages that refer back to earlier ones inflate (the inflater is kept)."""
    client = Client()
    data = bytes(range(256)) * 16
    first, second = client.message(2, data), client.message(2, data)
    assert len(second) < len(first) // 4  # the second one is mostly a back-reference
    assert read(wsframe, [first + second]) == ([(2, data), (2, data)], None)
    # a parser told to reset per message cannot read the back-reference
    events, code = read(wsframe, [first + second], reset=True)
    assert events == [(2, data)] and code == 1007


def test_no_context_takeover(wsframe: ModuleType) -> None:
    """Verify a client that resets per message is read by a parser that resets too, and by one that does not."""
    client = Client(no_context_takeover=True)
    msgs = [client.message(1, "same text " * 100) for _ in range(3)]
    assert msgs[1][6:] != b"" and len(msgs[0]) == len(msgs[1])
    expected = [(1, "same text " * 100)] * 3
    assert read(wsframe, [b"".join(msgs)], reset=True) == (expected, None)
    assert read(wsframe, [b"".join(msgs)], reset=False) == (expected, None)


def test_compressed_and_plain_messages_mixed(wsframe: ModuleType) -> None:
    """Verify uncompressed messages (RSV1 clear) between compressed ones, fragmented too, leave the context alone."""
    client = Client()
    stream = b"".join(
        (
            client.message(1, "one " * 50),
            cf(0x81, b"plain"),
            cf(0x02, b"pl"),
            cf(0x80, b"ain"),
            client.message(1, "one " * 50),
            cf(0x82, b""),
            client.message(2, b"", 1),
        )
    )
    expected = [(1, "one " * 50), (1, "plain"), (2, b"plain"), (1, "one " * 50), (2, b""), (2, b"")]
    assert read(wsframe, [stream]) == (expected, None)


@pytest.mark.parametrize("bits", [8, 9, 10, 15])
def test_window_bits(wsframe: ModuleType, bits: int) -> None:
    """Verify streams made with a small window inflate (8: compressed with 9, as zlib and Node do)."""
    client = Client(bits)
    data = os.urandom(300) * 20
    assert read(wsframe, [client.message(2, data) + client.message(2, data)], bits=bits) == (
        [(2, data), (2, data)],
        None,
    )


def test_final_block_starts_a_new_stream(wsframe: ModuleType) -> None:
    """Verify a message ending in a BFINAL block (RFC 7692 7.2.3.3) is read, and the next message too."""
    whole = zlib.compressobj(6, zlib.DEFLATED, -15)
    final = whole.compress(b"Hello") + whole.flush(zlib.Z_FINISH)
    stream = cf(0xC1, final) + Client().message(1, "world")
    assert read(wsframe, [stream]) == ([(1, "Hello"), (1, "world")], None)


def test_rfc_7692_examples(wsframe: ModuleType) -> None:
    """Verify the examples of RFC 7692 7.2.3: one message, two frames, stored block, shared window."""
    assert read(wsframe, [cf(0xC1, bytes.fromhex("f248cdc9c90700"))]) == ([(1, "Hello")], None)
    stream = cf(0x41, bytes.fromhex("f248cd")) + cf(0x80, bytes.fromhex("c9c90700"))
    assert read(wsframe, [stream]) == ([(1, "Hello")], None)
    assert read(wsframe, [cf(0xC1, bytes.fromhex("0005 00fa ff48 656c 6c6f 00"))]) == ([(1, "Hello")], None)
    two = cf(0xC1, bytes.fromhex("f248cdc9c90700")) + cf(0xC1, bytes.fromhex("f200110000"))
    assert read(wsframe, [two]) == ([(1, "Hello"), (1, "Hello")], None)


def test_max_size_is_the_inflated_size(wsframe: ModuleType) -> None:
    """Verify a message of exactly ``max_size`` inflated bytes passes, one more byte is 1009."""
    data = b"a" * 5000
    assert read(wsframe, [Client().message(2, data)], max_size=5000) == ([(2, data)], None)
    assert read(wsframe, [Client().message(2, data)], max_size=4999) == ([], 1009)
    assert read(wsframe, [Client().message(2, data, 5)], max_size=4999) == ([], 1009)
    assert read(wsframe, [Client().message(1, "é" * 2500, 3)], max_size=5000) == ([(1, "é" * 2500)], None)


@pytest.mark.parametrize("max_size", [2**62 - 1, 2**62, 2**63 - 1])
def test_huge_max_size(twins: Twins, max_size: int) -> None:
    """Verify limits too large for zlib's ssize_t inflate alike, as no limit."""
    stream = Client().message(2, b"z" * 70_000, 3)
    for mod in twins("wsframe"):
        assert read(mod, [stream], max_size=max_size) == ([(2, b"z" * 70_000)], None)


def test_oversized_wire_frame_is_refused_before_buffering(wsframe: ModuleType) -> None:
    """Verify a compressed frame whose wire length is over ``max_size`` fails on its header (1009)."""
    parser = wsframe.FrameParser(1000, 15)
    head = bytes((0xC2, 0x80 | 126)) + (2000).to_bytes(2, "big") + b"mask"
    with pytest.raises(wsframe.WebSocketError) as info:
        parser.feed(head)
    assert info.value.code == 1009


@pytest.mark.parametrize("pieces", [1, 4])
def test_zip_bomb_with_bounded_memory(wsframe: ModuleType, pieces: int) -> None:
    """Verify 100 MB of zeros in a ~100 KB message fails with 1009 after at most max_size + 1 bytes inflated."""
    bomb = Client().message(2, b"\x00" * 100_000_000, pieces)
    assert len(bomb) < 200_000
    max_size = 1_000_000
    tracemalloc.start()
    try:
        events, code = read(wsframe, [bomb, cf(0x81, b"never")], max_size=max_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (events, code) == ([], 1009)
    # the frame, the zlib state and at most max_size + 1 inflated bytes (twice, while joined)
    assert peak < 4 * max_size, peak


def test_events_before_an_error_are_kept(wsframe: ModuleType) -> None:
    """Verify messages completed before a bad compressed one travel on the error."""
    client = Client()
    stream = client.message(1, "good") + cf(0xC1, b"\x07garbage")
    assert read(wsframe, [stream]) == ([(1, "good")], 1007)


REJECTED: list[tuple[str, bytes, int]] = [
    ("RSV1 on a continuation", cf(0x41, b"\xf2H\xcd") + cf(0xC0, b"\xc9\xc9\x07\x00"), 1002),
    ("RSV1 on a plain fragment's continuation", cf(0x01, b"a") + cf(0xC0, b"b"), 1002),
    ("RSV1 on a ping", cf(0xC9, b""), 1002),
    ("RSV1 on a close", cf(0xC8, b"\x03\xe8"), 1002),
    ("RSV1 on opcode 3", cf(0xC3, b""), 1002),
    ("RSV2", cf(0xA1, b"a"), 1002),
    ("RSV3", cf(0x91, b"a"), 1002),
    ("RSV1 and RSV2", cf(0xE1, b"a"), 1002),
    ("invalid block type", cf(0xC1, b"\x07"), 1007),
    # a back-reference into a preset dictionary the inflater does not have
    ("invalid distance", cf(0xC2, bytes.fromhex("42620200")), 1007),
    ("invalid stored length", cf(0xC2, bytes.fromhex("000500fbff48656c6c6f")), 1007),
    ("invalid UTF-8 inflated", cf(0xC1, Client().payload(b"ok \xff")), 1007),
    ("invalid UTF-8 inflated, fragmented", Client().message(1, b"ok \xed\xa0\x80 " * 100, 3), 1007),
    ("truncated UTF-8 inflated", cf(0xC1, Client().payload("é".encode()[:1])), 1007),
]


@pytest.mark.parametrize(("stream", "code"), [pytest.param(s, c, id=i) for i, s, c in REJECTED])
def test_rejected(wsframe: ModuleType, stream: bytes, code: int) -> None:
    """Verify RSV bits where the extension does not allow them (1002) and bad compressed data or text (1007)."""
    assert read(wsframe, [stream])[1] == code
    assert read(wsframe, bytewise(stream))[1] == code


def test_rsv1_without_the_extension(wsframe: ModuleType) -> None:
    """Verify RSV1 is still a protocol error when the extension was not negotiated."""
    parser = wsframe.FrameParser(1000)
    with pytest.raises(wsframe.WebSocketError) as info:
        parser.feed(Client().message(1, "hello"))
    assert info.value.code == 1002


def test_dead_after_an_inflate_error(wsframe: ModuleType) -> None:
    """Verify the parser stays dead after a bad compressed message, with the same error."""
    parser = wsframe.FrameParser(0, 15)
    with pytest.raises(wsframe.WebSocketError) as first:
        parser.feed(cf(0xC1, b"\x07"))
    with pytest.raises(wsframe.WebSocketError) as again:
        parser.feed(Client().message(1, "ok"))
    assert (first.value.code, first.value.reason) == (again.value.code, again.value.reason) == (
        1007,
        "invalid compressed data",
    )


@pytest.mark.parametrize("bits", [-1, 1, 7, 16, 100])
def test_bad_window_bits(wsframe: ModuleType, bits: int) -> None:
    """Verify the parser refuses window bits outside 8..15 (0 is: no extension)."""
    with pytest.raises(ValueError):
        wsframe.FrameParser(1000, bits)


def test_selected_twin_takes_the_arguments() -> None:
    """Verify the public FrameParser (the selected twin) takes the inflate arguments by keyword."""
    from fastsio.protocol.websocket import FrameParser

    parser = FrameParser(1000, inflate_window_bits=15, inflate_no_context_takeover=True)
    assert parser.feed(Client().message(1, "hi")) == [(1, "hi")]


# ---------------------------------------------------------------- twin equivalence


@st.composite
def compressed_streams(draw: st.DrawFn) -> tuple[bytes, int, bool]:
    """Return (stream, window bits, reset): compressed and plain messages, pings, now and then garbage."""
    bits = draw(st.sampled_from([8, 9, 12, 15]))
    reset = draw(st.booleans())
    client = Client(bits, draw(st.booleans()))
    units = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind < 5:
            data = draw(st.binary(max_size=300) | st.text(max_size=100).map(str.encode) | st.just(b"x" * 3000))
            units.append(client.message(draw(st.sampled_from([1, 2])), data, draw(st.integers(1, 4))))
        elif kind < 7:
            units.append(cf(0x82, draw(st.binary(max_size=50))))
        elif kind == 7:
            units.append(cf(0x89, draw(st.binary(max_size=20))))
        elif kind == 8:
            units.append(cf(draw(st.sampled_from([0xC1, 0xC2, 0x41])), draw(st.binary(max_size=30))))
        else:
            units.append(cf(draw(st.sampled_from([0xC0, 0xC9, 0xE1, 0x80])), draw(st.binary(max_size=10))))
    return b"".join(units), bits, reset


def observe(mod: ModuleType, chunks: list[bytes], max_size: int, bits: int, reset: bool) -> list[Any]:
    """Return every event, error (name, code, reason, events) and the dead state, chunk by chunk."""
    parser = mod.FrameParser(max_size, bits, reset)
    seen: list[Any] = []
    for chunk in chunks:
        try:
            seen.append(parser.feed(chunk))
        except Exception as exc:
            seen.append((type(exc).__name__, getattr(exc, "code", None), getattr(exc, "reason", None), getattr(exc, "events", None)))
            try:
                parser.feed(b"\x81")
            except Exception as again:
                seen.append(("dead", getattr(again, "code", None)))
            break
    return seen


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=compressed_streams(),
    points=st.lists(st.integers(0, 2**14), max_size=10),
    max_size=st.sampled_from([0, 1, 100, 2000, 5000]),
)
def test_twins_alike_on_compressed_streams(
    twins: Twins, data: tuple[bytes, int, bool], points: list[int], max_size: int
) -> None:
    """Verify both twins read random compressed streams, cut at random, alike."""
    py, c = twins("wsframe")
    stream, bits, reset = data
    marks = sorted({p % len(stream) for p in points} - {0}) if stream else []
    chunks = [stream[a:b] for a, b in zip([0, *marks], [*marks, len(stream)], strict=True)] or [b""]
    assert observe(c, chunks, max_size, bits, reset) == observe(py, chunks, max_size, bits, reset)


# ---------------------------------------------------------------- against wsproto


def wsproto_pair(response: str) -> tuple[FrameProtocol, FrameProtocol]:
    """Return wsproto (client, server) frame protocols that agreed on ``response``."""
    ext_client, ext_server = PerMessageDeflate(), PerMessageDeflate()
    ext_client.finalize(response)
    ext_server.finalize(response)
    return FrameProtocol(client=True, extensions=[ext_client]), FrameProtocol(client=False, extensions=[ext_server])


def run_wsproto(server: FrameProtocol, chunks: list[bytes]) -> tuple[Events, int | None]:
    """Return wsproto's server-side reading of ``chunks``: (messages, error code or None)."""
    events: Events = []
    parts: list[Any] = []
    try:
        for chunk in chunks:
            server.receive_bytes(chunk)
            for f in server.received_frames():
                if f.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION):
                    if f.opcode is not Opcode.CONTINUATION:
                        kind = int(f.opcode)
                    parts.append(f.payload)
                    if f.message_finished:
                        joined = "".join(parts) if kind == 1 else b"".join(bytes(p) for p in parts)
                        events.append((kind, joined))
                        parts = []
                else:
                    events.append((int(f.opcode), bytes(f.payload) if f.opcode is not Opcode.CLOSE else f.payload))  # type: ignore[arg-type]
    except ParseFailed as exc:
        return events, int(exc.code)
    return events, None


RESPONSES = [
    ("permessage-deflate", 15, False),
    ("permessage-deflate; client_no_context_takeover", 15, True),
    ("permessage-deflate; client_max_window_bits=9", 9, False),
    ("permessage-deflate; client_no_context_takeover; client_max_window_bits=12", 12, True),
]

DATA: list[tuple[bytes | str, bool]] = [
    ("hello", True),
    ("é€😀 " * 400, True),
    (b"", True),
    (os.urandom(70_000), True),
    (b"abc" * 30_000, True),
    ("fragmented " * 50, False),
    (b"\x00\x01" * 500, False),
    ("hello", True),
]


@pytest.mark.parametrize(("response", "bits", "reset"), RESPONSES)
def test_inbound_against_wsproto(wsframe: ModuleType, response: str, bits: int, reset: bool) -> None:
    """Verify what wsproto's client sends compressed reads the same through wsproto and through us.

    No control frame goes between the fragments of a compressed message here:
    wsproto 1.2's extension forgets that the message is compressed after one
    (``frame_inbound_complete`` resets ``_inbound_compressed``) and fails with
    1007; ours reads it, as RFC 6455 5.4 asks (see
    ``test_fragmented_compressed_message_with_control_frames``).
    """
    client, server = wsproto_pair(response)
    out = []
    for data, whole in DATA:
        if whole:
            out.append(bytes(client.send_data(data)))
        else:
            half = len(data) // 2
            out.append(bytes(client.send_data(data[:half], fin=False)))
            out.append(bytes(client.send_data(data[half:], fin=False)))
            out.append(bytes(client.send_data(data[:0], fin=True)))
        out.append(bytes(client.ping(b"after")))
    stream = b"".join(out)
    expected = run_wsproto(server, [stream])
    assert expected[1] is None and len(expected[0]) == 2 * len(DATA)
    assert read(wsframe, [stream], bits=bits, reset=reset) == expected
    _, server = wsproto_pair(response)
    chunks = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    assert read(wsframe, chunks, bits=bits, reset=reset) == run_wsproto(server, chunks)


@pytest.mark.parametrize(("stream", "code"), [pytest.param(s, c, id=i) for i, s, c in REJECTED])
def test_rejections_against_wsproto(wsframe: ModuleType, stream: bytes, code: int) -> None:
    """Verify wsproto's server with the extension rejects the same streams with the same codes."""
    _, server = wsproto_pair("permessage-deflate")
    assert run_wsproto(server, [stream]) == read(wsframe, [stream]) == ([], code)


@pytest.mark.hypothesis
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(
        st.tuples(st.binary(max_size=2000) | st.text(max_size=300), st.integers(1, 3)), max_size=6
    ),
    response=st.sampled_from(RESPONSES),
    points=st.lists(st.integers(0, 2**15), max_size=8),
)
def test_random_messages_against_wsproto(
    wsframe: ModuleType, messages: list[tuple[bytes | str, int]], response: tuple[str, int, bool], points: list[int]
) -> None:
    """Verify random messages, compressed by wsproto's client in 1-3 frames, read alike."""
    header, bits, reset = response
    client, server = wsproto_pair(header)
    out = []
    for data, pieces in messages:
        step = max(1, -(-len(data) // pieces))
        cuts = [data[i : i + step] for i in range(0, len(data), step)] or [data]
        for i, piece in enumerate(cuts):
            out.append(bytes(client.send_data(piece, fin=i == len(cuts) - 1)))
    stream = b"".join(out)
    marks = sorted({p % len(stream) for p in points} - {0}) if stream else []
    chunks = [stream[a:b] for a, b in zip([0, *marks], [*marks, len(stream)], strict=True)] or [b""]
    assert read(wsframe, chunks, bits=bits, reset=reset) == run_wsproto(server, chunks)
