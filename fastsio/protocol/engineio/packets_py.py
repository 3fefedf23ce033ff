"""Engine.IO packet and polling-payload codec, pure-Python twin (the specification).

Engine.IO v4 (https://socket.io/docs/v4/engine-io-protocol/):

* A packet is a type digit followed by its data: ``"4hello"`` is a MESSAGE.
  Over WebSocket a binary MESSAGE is sent as a raw binary frame.
* A polling payload joins packets with the record separator ``"\\x1e"``;
  binary messages inside it are ``"b"`` + base64.

Encoded packets are the unit the rest of fastsio passes around: a ``str`` for a
text packet (``"4hello"``) and ``bytes`` for a binary message.  Polling queues
hold encoded packets; :func:`encode_payload` joins them.

Base64 is decoded strictly, by the same rules on every supported Python
(:func:`a2b_base64_strict`; ``binascii``'s ``strict_mode`` is 3.11+ and changed in 3.13).

Module-level ints instead of an enum so that Cython can compile this module: the
compiled twin is this file built as ``eio_c``, typed by ``eio_c.pxd``.
"""

from __future__ import annotations

import binascii
import re

__all__ = (
    "CLOSE",
    "MESSAGE",
    "NOOP",
    "OPEN",
    "PING",
    "PONG",
    "SEPARATOR",
    "UPGRADE",
    "EngineIOError",
    "a2b_base64_strict",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
)

OPEN = 0
CLOSE = 1
PING = 2
PONG = 3
MESSAGE = 4
UPGRADE = 5
NOOP = 6

SEPARATOR = "\x1e"

_DIGITS = ("0", "1", "2", "3", "4", "5", "6")


class EngineIOError(ValueError):
    """A packet or payload that does not parse."""


# Strict base64: alphabet characters, at most two "=" at the end, whole groups of four.
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def a2b_base64_strict(data: bytes) -> bytes:
    """Decode base64, refusing anything but well-formed, padded base64.

    The rules of ``binascii.a2b_base64(data, strict_mode=True)`` as Python 3.13
    has them (no whitespace or other characters, no leading, excess or
    discontinuous padding, whole groups of four), checked here so that every
    supported Python decides alike: ``strict_mode`` does not exist on 3.10, and
    3.11/3.12 accept excess padding after a whole group (``"AAAA="``).

    Raises:
        binascii.Error: ``data`` is not strictly valid base64.
    """
    if len(data) % 4 or _BASE64.fullmatch(data) is None:
        raise binascii.Error("invalid base64 (strict)")
    return binascii.a2b_base64(data)


def encode_packet(ptype: int, data: str | bytes | None = None) -> str | bytes:
    """Encode one packet for the WebSocket transport (or a polling queue)."""
    if data is None or isinstance(data, str):
        # The type digit: prebuilt for the seven types (no str() per packet).
        digit = _DIGITS[ptype] if type(ptype) is int and 0 <= ptype <= 6 else str(ptype)
        return digit if data is None else digit + data
    if ptype != MESSAGE:
        raise EngineIOError("only MESSAGE packets may carry binary data")
    return bytes(data)


def decode_packet(data: str | bytes) -> tuple[int, str | bytes]:
    """Decode one WebSocket message into ``(type, data)``.

    A text message must start with a type digit 0-6 (or be "b" + base64: a binary
    MESSAGE); a binary message is a MESSAGE.
    """
    if isinstance(data, str):
        text = data  # typed ``str`` in the compiled twin
        if not text:
            raise EngineIOError("empty packet")
        if text[0] == "b":
            # a binary MESSAGE as base64 text, as clients with forceBase64 send it
            # (the reference parser accepts it on every transport)
            try:
                return MESSAGE, a2b_base64_strict(text[1:].encode("ascii"))
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise EngineIOError("invalid base64 packet") from exc
        c = ord(text[0]) - 48
        if c < 0 or c > 6:
            raise EngineIOError("unknown packet type")
        return c, text[1:]
    return MESSAGE, bytes(data)


def encode_payload(packets: list[str | bytes]) -> str:
    """Join encoded packets into one polling payload (binary as ``b`` + base64)."""
    if len(packets) == 1:
        p = packets[0]
        if isinstance(p, str):
            return p
        return "b" + binascii.b2a_base64(p, newline=False).decode("ascii")
    for p in packets:
        if not isinstance(p, str):
            break
    else:
        # All text (the common case): join them as they are.
        return SEPARATOR.join(packets)  # type: ignore[arg-type]  # all str: checked just above
    parts = []
    for p in packets:
        if isinstance(p, str):
            parts.append(p)
        else:
            parts.append("b" + binascii.b2a_base64(p, newline=False).decode("ascii"))
    return SEPARATOR.join(parts)


def decode_payload(body: str) -> list[tuple[int, str | bytes]]:
    """Split a polling payload into ``(type, data)`` packets."""
    out: list[tuple[int, str | bytes]] = []
    for part in body.split(SEPARATOR):
        if not part:
            raise EngineIOError("empty packet in payload")
        if part[0] == "b":
            try:
                out.append((MESSAGE, a2b_base64_strict(part[1:].encode("ascii"))))
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise EngineIOError("invalid base64 payload") from exc
            continue
        c = ord(part[0]) - 48
        if c < 0 or c > 6:
            raise EngineIOError("unknown packet type")
        out.append((c, part[1:]))
    return out
