"""Fuzz the Engine.IO packet and payload decoders (both twins, compared).

Input layout: byte 0 picks the decoder (a WebSocket text or binary message,
or a polling payload) and how the rest becomes text (Latin-1 or UTF-8 with
replacement).  A run fails when a decoder raises anything but
``EngineIOError``, when the twins disagree, or when a decoded payload does not
survive ``encode_payload`` and ``decode_payload`` again.

Run by hand: ``python tests/fuzz/fuzz_eio.py CORPUS_DIR -max_total_time=600``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from fuzzlib import main, outcome, same, twins

py: ModuleType
c: ModuleType | None


def setup() -> None:
    """Import the twins."""
    global py, c
    py, c = twins("eio")


def typed(value: Any) -> Any:
    """Return ``value`` with the type of each part spelled out."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def check(mod: ModuleType, mode: int, body: Any) -> Any:
    """Decode ``body`` with ``mod`` and check the round trip of a payload."""
    allowed = (mod.EngineIOError,)
    if mode == 0:
        return typed(outcome(mod.decode_packet, body, allowed=allowed))
    result = outcome(mod.decode_payload, body, allowed=allowed)
    if result[0] == "ok":
        packets = [mod.encode_packet(t, d) for t, d in result[1]]
        again = mod.decode_payload(mod.encode_payload(packets))
        if typed(again) != typed(result[1]):
            raise AssertionError(f"payload round trip: {result[1]!r} -> {again!r}")
    return typed(result)


def test_one_input(data: bytes) -> None:
    """Decode one fuzzed message or payload with both twins."""
    if not data:
        return
    head, rest = data[0], data[1:]
    text = rest.decode("latin-1") if head & 1 else rest.decode("utf-8", "replace")
    if head & 6 == 0:
        body: Any = bytes(rest)  # a binary WebSocket message
        mode = 0
    elif head & 6 == 2:
        body, mode = text, 0
    else:
        body, mode = text, 1
    expected = check(py, mode, body)
    if c is not None:
        same(expected, check(c, mode, body), "an Engine.IO message")


SEEDS = [
    b"\x024hello",
    b"\x022",
    b"\x033probe",
    b"\x04" + '4a\x1e2\x1ebAQ==\x1e42["x",{"y":1}]'.encode(),
    b"\x05bAQID",
    b"\x00\x01\x02\x03",
    b"\x02b!!",
]

if __name__ == "__main__":
    main(setup, test_one_input, SEEDS)
