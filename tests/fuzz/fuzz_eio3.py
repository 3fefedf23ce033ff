"""Fuzz the Engine.IO v3 codec: packets, text and binary polling payloads, JSONP
forms and the text-payload helpers (both twins, compared).

Input layout: byte 0 picks the decoder (low 3 bits: a WebSocket text or binary
message, a text payload, a binary payload, a JSONP form body, ``json_ascii`` of a
packet) and, for text, how the rest becomes text (bit 3: Latin-1, or UTF-8 with
replacement).  A run fails when a decoder raises anything but ``EngineIOError``,
when the twins disagree, or when a decoded payload does not survive being encoded
and decoded again (text: ``encode_payload_text``, also the engine.io-parser 1.x
framing read back with ``utf8_decoded``; binary: ``encode_payload_binary``).

Run by hand: ``python tests/fuzz/fuzz_eio3.py CORPUS_DIR -max_total_time=600``.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from fuzzlib import main, outcome, same, twins

py: ModuleType
c: ModuleType | None

_SURROGATE = re.compile("[\ud800-\udfff]")  # (the 1.x framing cannot carry a lone one)


def setup() -> None:
    """Import the twins."""
    global py, c
    py, c = twins("eio3")


def typed(value: Any) -> Any:
    """Return ``value`` with the type of each part spelled out."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def encoded(packets: list[tuple[int, Any]]) -> list[str | bytes] | None:
    """The packets as the codec's encoders take them; None when they cannot say it
    (a binary packet of another type than MESSAGE)."""
    out: list[str | bytes] = []
    for ptype, data in packets:
        if isinstance(data, bytes):
            if ptype != 4:
                return None
            out.append(data)
        else:
            out.append(str(ptype) + data)
    return out


def check(mod: ModuleType, mode: int, body: Any) -> Any:
    """Decode ``body`` with ``mod``'s decoder for ``mode``; check the round trips."""
    allowed = (mod.EngineIOError,)
    if mode in (0, 1):
        return typed(outcome(mod.decode_packet, body, allowed=allowed))
    if mode == 2:
        result = outcome(mod.decode_payload_text, body, allowed=allowed)
        if result[0] == "ok" and (packets := encoded(result[1])) is not None:
            again = mod.decode_payload_text(mod.encode_payload_text(packets))
            if typed(again) != typed(result[1]):
                raise AssertionError(f"text payload round trip: {result[1]!r} -> {again!r}")
            if not any(isinstance(p, str) and _SURROGATE.search(p) for p in packets):
                old = mod.decode_payload_text(mod.encode_payload_text(packets, mod.TEXT_UTF8))
                if typed(mod.utf8_decoded(old)) != typed(result[1]):
                    raise AssertionError(f"1.x framing round trip: {result[1]!r} -> {old!r}")
        return typed(result)
    if mode == 3:
        result = outcome(mod.decode_payload_binary, body, allowed=allowed)
        if result[0] == "ok" and (packets := encoded(result[1])) is not None:
            again = mod.decode_payload_binary(mod.encode_payload_binary(packets))
            if typed(again) != typed(result[1]):
                raise AssertionError(f"binary payload round trip: {result[1]!r} -> {again!r}")
        return typed(result)
    if mode == 4:
        return typed(outcome(mod.decode_jsonp_body, body, allowed=allowed))
    return typed(outcome(mod.json_ascii, body, allowed=allowed))


def test_one_input(data: bytes) -> None:
    """Decode one fuzzed message, payload or form with both twins."""
    if not data:
        return
    head, rest = data[0], data[1:]
    text = rest.decode("latin-1") if head & 8 else rest.decode("utf-8", "replace")
    mode = (head & 7) % 6
    body: Any = bytes(rest) if mode in (1, 3, 4) else text
    if mode == 5 and not text.startswith("4"):
        text = "4" + text  # json_ascii takes a MESSAGE
        body = text
    expected = check(py, mode, body)
    if c is not None:
        same(expected, check(c, mode, body), "an Engine.IO v3 input")


SEEDS = [
    b"\x004hello",
    b"\x01\x04\x01\x02",
    b"\x02" + '2:4a1:25:b4AQ==16:42["x",{"y":1}]'.encode(),
    b"\x02" + '9:42["\U0001f600"]3:4\u00e9'.encode(),
    b"\x03\x00\x02\xff4a\x01\x03\xff\x04\x01\x02",
    b"\x04d=3%3A4ab",
    b"\x04d=6:4a\\\\nb",
    b"\x05" + '42/nsp,7["\u00e9",{"\u20ac":1}]'.encode(),
    b"\x02" + b"0:",
    b"\x0a" + "3:4\xe9\xe9".encode("latin-1"),
]

if __name__ == "__main__":
    main(setup, test_one_input, SEEDS)
