"""Fuzz the WebSocket frame parser (both twins, compared).

Input layout: byte 0 picks the message size limit, byte 1 how the rest is
cut into ``feed`` calls (whole, one byte at a time, or at pseudo-random points
seeded by bytes 0-3; its low 2 bits) and whether permessage-deflate is
negotiated (bits 2-3: off, 15-bit window, 9-bit window with no context
takeover, 8-bit window), and the rest is the client's byte stream.  A run fails
when a parser raises anything but ``WebSocketError``, when an event has the
wrong shape, or when the twins disagree on any ``feed`` call.

Run by hand: ``python tests/fuzz/fuzz_wsframe.py CORPUS_DIR -max_total_time=600``.
"""

from __future__ import annotations

import random
import sys
import zlib
from types import ModuleType
from typing import Any

from fuzzlib import main, same, twins

MAX_SIZES = (0, 1, 125, 126, 1000, 65536, 1_000_000)
# (inflate_window_bits, inflate_no_context_takeover): permessage-deflate off, then on
DEFLATE = ((0, False), (15, False), (9, True), (8, False))

py: ModuleType
c: ModuleType | None


def setup() -> None:
    """Import the twins."""
    global py, c
    py, c = twins("wsframe")


def chunks_of(data: bytes) -> tuple[int, tuple[int, bool], list[bytes]]:
    """Return the size limit, the deflate setting and the chunks that ``data`` describes."""
    if len(data) < 2:
        return 0, DEFLATE[0], [data]
    max_size = MAX_SIZES[data[0] % len(MAX_SIZES)]
    mode = data[1] % 4
    deflate = DEFLATE[(data[1] >> 2) % len(DEFLATE)]
    stream = data[2:]
    if mode == 0:
        return max_size, deflate, [stream]
    if mode == 1:
        return max_size, deflate, [stream[i : i + 1] for i in range(len(stream))]
    rng = random.Random(data[:4])
    out, pos = [], 0
    while pos < len(stream):
        step = rng.randint(1, 64 if mode == 2 else 4096)
        out.append(stream[pos : pos + step])
        pos += step
    return max_size, deflate, out


def read(mod: ModuleType, max_size: int, deflate: tuple[int, bool], chunks: list[bytes]) -> list[Any]:
    """Return everything observable while ``mod``'s parser reads ``chunks``."""
    parser = mod.FrameParser(max_size, *deflate)
    seen: list[Any] = []
    for i, chunk in enumerate(chunks):
        try:
            events = parser.feed(chunk if i % 3 else bytearray(chunk))
        except mod.WebSocketError as exc:
            if exc.code not in (1002, 1007, 1009):
                raise AssertionError(f"unexpected close code {exc.code}") from exc
            seen.append(("error", exc.code, exc.reason, exc.events))
            break
        for opcode, value in events:
            kind = {1: str, 2: bytes, 9: bytes, 10: bytes, 8: tuple}[opcode]
            if type(value) is not kind:
                raise AssertionError(f"opcode {opcode} with a {type(value).__name__}")
        seen.append(("events", events))
    seen.append(("closed", parser.closed))
    return seen


def test_one_input(data: bytes) -> None:
    """Parse one fuzzed stream with both twins."""
    max_size, deflate, chunks = chunks_of(data)
    expected = read(py, max_size, deflate, chunks)
    if c is not None:
        same(expected, read(c, max_size, deflate, chunks), "a frame stream")


def _frame(b0: int, payload: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    n = len(payload)
    head = bytes((b0, 0x80 | n)) if n < 126 else bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _deflated(data: bytes, wbits: int = 15) -> bytes:
    """Return ``data`` compressed as one permessage-deflate message (trailer dropped)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    return (packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]


_HELLO = _deflated(b'42["chat","hello hello hello"]')

SEEDS = [
    b"\x00\x00" + _frame(0x81, b"42[\"chat\",\"hello\"]"),
    # permessage-deflate: a compressed message, twice (context takeover), then plain
    b"\x06\x04" + _frame(0xC1, _HELLO) + _frame(0xC1, _deflated(b"x" * 300)) + _frame(0x81, b"plain"),
    # a compressed message in two frames with a ping between, one byte at a time, 9 bits
    b"\x04\x09" + _frame(0x41, _HELLO[:5]) + _frame(0x89, b"p") + _frame(0x80, _HELLO[5:]),
    # a small bomb over a 125-byte limit; bad deflate data; RSV1 on a continuation
    b"\x02\x06" + _frame(0xC2, _deflated(b"\x00" * 100_000)),
    b"\x06\x0c" + _frame(0xC1, b"\x07junk"),
    b"\x05\x04" + _frame(0x01, b"a") + _frame(0xC0, b"b"),
    b"\x01\x01" + _frame(0x82, bytes(range(200))),
    b"\x02\x02" + _frame(0x01, b"he") + _frame(0x89, b"ping") + _frame(0x80, "llo €".encode()),
    b"\x03\x03" + _frame(0x88, b"\x03\xe8bye") + _frame(0x81, b"after close"),
    b"\x04\x00" + _frame(0x81, b"\xff\xfe") + _frame(0x8A, b""),
]

if __name__ == "__main__":
    main(setup, test_one_input, SEEDS)
