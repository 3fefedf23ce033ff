"""Fuzz the WebSocket frame parser (both twins, compared).

Input layout: byte 0 picks the message size limit, byte 1 how the rest is
cut into ``feed`` calls (whole, one byte at a time, or at pseudo-random points
seeded by bytes 0-3), and the rest is the client's byte stream.  A run fails
when a parser raises anything but ``WebSocketError``, when an event has the
wrong shape, or when the twins disagree on any ``feed`` call.

Run by hand: ``python tests/fuzz/fuzz_wsframe.py CORPUS_DIR -max_total_time=600``.
"""

from __future__ import annotations

import random
import sys
from types import ModuleType
from typing import Any

from fuzzlib import main, same, twins

MAX_SIZES = (0, 1, 125, 126, 1000, 65536, 1_000_000)

py: ModuleType
c: ModuleType | None


def setup() -> None:
    """Import the twins."""
    global py, c
    py, c = twins("wsframe")


def chunks_of(data: bytes) -> tuple[int, list[bytes]]:
    """Return the size limit and the chunks that ``data`` describes."""
    if len(data) < 2:
        return 0, [data]
    max_size = MAX_SIZES[data[0] % len(MAX_SIZES)]
    mode = data[1] % 4
    stream = data[2:]
    if mode == 0:
        return max_size, [stream]
    if mode == 1:
        return max_size, [stream[i : i + 1] for i in range(len(stream))]
    rng = random.Random(data[:4])
    out, pos = [], 0
    while pos < len(stream):
        step = rng.randint(1, 64 if mode == 2 else 4096)
        out.append(stream[pos : pos + step])
        pos += step
    return max_size, out


def read(mod: ModuleType, max_size: int, chunks: list[bytes]) -> list[Any]:
    """Return everything observable while ``mod``'s parser reads ``chunks``."""
    parser = mod.FrameParser(max_size)
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
    max_size, chunks = chunks_of(data)
    expected = read(py, max_size, chunks)
    if c is not None:
        same(expected, read(c, max_size, chunks), "a frame stream")


def _frame(b0: int, payload: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    n = len(payload)
    head = bytes((b0, 0x80 | n)) if n < 126 else bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


SEEDS = [
    b"\x00\x00" + _frame(0x81, b"42[\"chat\",\"hello\"]"),
    b"\x01\x01" + _frame(0x82, bytes(range(200))),
    b"\x02\x02" + _frame(0x01, b"he") + _frame(0x89, b"ping") + _frame(0x80, "llo €".encode()),
    b"\x03\x03" + _frame(0x88, b"\x03\xe8bye") + _frame(0x81, b"after close"),
    b"\x04\x00" + _frame(0x81, b"\xff\xfe") + _frame(0x8A, b""),
]

if __name__ == "__main__":
    main(setup, test_one_input, SEEDS)
