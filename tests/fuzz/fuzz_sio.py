"""Fuzz the Socket.IO packet decoder and binary reconstruction (both twins, compared).

Input layout: byte 0 picks how the rest becomes text (Latin-1, or UTF-8 with
replacement) and how many attachments to offer; the text is decoded.  A run
fails when ``decode`` or ``reconstruct`` raise anything but ``SocketIOError``,
when the twins disagree, or when a decoded non-binary packet does not survive
``encode`` and ``decode`` again (data JSON cannot carry, such as NaN, may be
refused by ``encode``).

Run by hand: ``python tests/fuzz/fuzz_sio.py CORPUS_DIR -max_total_time=600``.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from fuzzlib import main, outcome, same, twins

py: ModuleType
c: ModuleType | None


def setup() -> None:
    """Import the twins."""
    global py, c
    py, c = twins("sio")


def canon(value: Any) -> Any:
    """Return ``value`` with every type spelled out; NaN equals NaN; Packets as fields."""
    if type(value).__name__ == "Packet":
        return ("Packet", canon([value.type, value.nsp, value.data, value.id, value.attachments]))
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [canon(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(canon(k), canon(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def check(mod: ModuleType, text: str, buffers: list[bytes]) -> Any:
    """Decode ``text`` with ``mod``; reconstruct or round-trip what decodes."""
    allowed = (mod.SocketIOError,)
    result = outcome(mod.decode, text, allowed=allowed)
    seen: list[Any] = [canon(result)]
    if result[0] != "ok":
        return seen
    packet = result[1]
    if packet.attachments:
        seen.append(canon(outcome(mod.reconstruct, packet.data, buffers[: packet.attachments], allowed=allowed)))
    elif packet.type < 5:
        try:
            encoded = mod.encode(packet.type, packet.nsp, packet.data, packet.id)
        except ValueError:
            return seen  # NaN / Infinity / a huge int: JSON that encode refuses
        if len(encoded) != 1 or canon(mod.decode(encoded[0])) != canon(packet):
            raise AssertionError(f"round trip: {text!r} -> {encoded!r}")
    return seen


def test_one_input(data: bytes) -> None:
    """Decode one fuzzed packet with both twins."""
    if not data:
        return
    head, rest = data[0], data[1:]
    text = rest.decode("latin-1") if head & 1 else rest.decode("utf-8", "replace")
    buffers = [bytes((i,)) * i for i in range(head >> 5)]
    expected = check(py, text, buffers)
    if c is not None:
        same(expected, check(c, text, buffers), "a Socket.IO packet")


SEEDS = [
    b'\x002["chat message","hello"]',
    b'\x000/admin,{"token":"x"}',
    b'\x0031/chat,12["ok",1.5,null,true,{"a":[]}]',
    b'\x2051-["up",{"_placeholder":true,"num":0}]',
    b'\x4062-/x,7[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]',
    b'\x004{"message":"not allowed"}',
    b"\x001/admin,",
    b'\x002 [ "\\u00e9\\ud83d\\ude00" , -0.0e-1 ] ',
]

if __name__ == "__main__":
    main(setup, test_one_input, SEEDS)
