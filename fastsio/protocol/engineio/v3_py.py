"""Engine.IO v3 packet and polling-payload codec, pure-Python twin (the specification).

Engine.IO v3 (https://github.com/socketio/engine.io-protocol/tree/v3) is what
socket.io-client 1.x and 2.x speak.  It differs from v4 in framing only; packets are
the same type digit followed by data.  Encoded packets are what the rest of fastsio
passes around: a ``str`` for a text packet (``"4hello"``), ``bytes`` for a binary
MESSAGE.

* **WebSocket**: a text packet is one text frame; a binary MESSAGE is one binary frame
  whose first byte is the packet type (``0x04``).  ``"b4"`` + base64 text is a binary
  MESSAGE too (clients with ``forceBase64`` send it).
* **Text payload** (polling, and the only one a ``b64=1`` or JSONP client reads):
  ``<length>:<packet>`` repeated, the length counted in UTF-16 code units (JavaScript
  string length); binary as ``b4`` + base64.
* **Binary payload** (polling, for clients that support binary): for each packet a
  kind byte (0 text, 1 binary), the decimal digits of its length as bytes 0-9, 0xFF,
  then the packet: text as UTF-8 (length in bytes), binary as the type byte 0x04 and
  the data.
* **JSONP** (the ``j`` query parameter): the text payload as a JavaScript string
  literal in ``___eio[j]("...");``; the client posts a form, ``d=<payload>``.

Two generations of the JavaScript parser read text payloads differently:

* engine.io-parser 1.x (socket.io-client 1.x) UTF-8-encodes each packet into a
  "byte string" (one char per byte) before framing it, so lengths count bytes, and
  decodes each packet of a payload the same way; in a browser it also reads polling
  responses as binary payloads whenever it supports binary (engine.io-client 1.4/1.5
  even drops anything else).
* engine.io-parser 2.x (socket.io-client 2.x, and the reference server since
  engine.io 2) frames the text as it is.

:class:`Eio3Codec` holds the choice for one session (see its docstring): binary
payloads for the clients that read them whenever a payload is not plain ASCII, and
text payloads that both generations read alike.

Module-level ints and plain classes so that Cython can compile this module as it
compiles the v4 twin.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any
from urllib.parse import parse_qs

from fastsio.protocol.engineio.packets import EngineIOError, a2b_base64_strict

__all__ = (
    "TEXT_PLAIN",
    "TEXT_UNKNOWN",
    "TEXT_UTF8",
    "Eio3Codec",
    "decode_jsonp_body",
    "decode_packet",
    "decode_payload_binary",
    "decode_payload_text",
    "encode_jsonp",
    "encode_packet",
    "encode_payload_binary",
    "encode_payload_text",
    "json_ascii",
    "jsonp_index",
    "utf16_len",
    "utf8_decoded",
)

OPEN = 0
CLOSE = 1
PING = 2
PONG = 3
MESSAGE = 4
UPGRADE = 5
NOOP = 6

#: how a text payload's packets are written (engine.io-parser generation)
TEXT_UNKNOWN = 0  # not known yet: plain, and learned from what the client sends
TEXT_PLAIN = 1  # engine.io-parser 2.x: the text as it is
TEXT_UTF8 = 2  # engine.io-parser 1.x: each packet UTF-8-encoded into a byte string

# lengths in a payload: at most this many digits (the body is bounded anyway)
_MAX_DIGITS = 15

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
# the engine.io-client JSONP form's newline escaping (see decode_jsonp_body)
_JSONP_NEWLINE = re.compile(r"(\\)?\\n")
_JSONP_INDEX = re.compile(r"[^0-9]")


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (JavaScript's ``string.length``)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def _split_astral(match: Any) -> str:
    c = ord(match.group()) - 0x10000
    return chr(0xD800 + (c >> 10)) + chr(0xDC00 + (c & 0x3FF))


def _escape_char(match: Any) -> str:
    c = ord(match.group())
    if c < 0x10000:
        return "\\u%04x" % c
    c -= 0x10000
    return "\\u%04x\\u%04x" % (0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF))


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


# ---------------------------------------------------------------------- packets
def _decode_text_packet(text: str) -> tuple[int, Any]:
    """One packet of text: a type digit and data, or ``b`` + type digit + base64."""
    if not text:
        raise EngineIOError("empty packet")
    if text[0] == "b":
        if len(text) < 2 or text[1] != "4":
            raise EngineIOError("invalid base64 packet")
        try:
            return MESSAGE, a2b_base64_strict(text[2:].encode("ascii"))
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise EngineIOError("invalid base64 packet") from exc
    c = ord(text[0]) - 48
    if c < 0 or c > 6:
        raise EngineIOError("unknown packet type")
    return c, text[1:]


def encode_packet(encoded: str | bytes) -> str | bytes:
    """One encoded packet as a WebSocket message: binary gets its type byte (0x04)."""
    if isinstance(encoded, str):
        return encoded
    return b"\x04" + encoded


def decode_packet(data: str | bytes) -> tuple[int, Any]:
    """Decode one WebSocket message into ``(type, data)``.

    Text: a type digit 0-6 and its data, or ``b4`` + base64 (a binary MESSAGE).
    Binary: the type byte, then the data.
    """
    if isinstance(data, str):
        return _decode_text_packet(data)
    if not data:
        raise EngineIOError("empty packet")
    c = data[0]
    if c > 6:
        raise EngineIOError("unknown packet type")
    return c, bytes(data[1:])


# ---------------------------------------------------------------------- payloads
def encode_payload_text(packets: list[str | bytes], text_mode: int = TEXT_PLAIN) -> str:
    """Frame packets as a text payload (``<length>:<packet>``...).

    ``text_mode`` TEXT_UTF8 writes each non-ASCII packet as engine.io-parser 1.x does
    (UTF-8 bytes as chars); otherwise the text is written as it is.
    """
    if not packets:
        return "0:"
    parts = []
    for p in packets:
        if isinstance(p, str):
            text = p
            if text.isascii():
                parts.append(str(len(text)))
            elif text_mode == TEXT_UTF8:
                text = text.encode("utf-8", "surrogatepass").decode("latin-1")
                parts.append(str(len(text)))
            else:
                parts.append(str(utf16_len(text)))
            parts.append(":")
            parts.append(text)
        else:
            text = "b4" + _b64(p)
            parts.append(str(len(text)))
            parts.append(":")
            parts.append(text)
    return "".join(parts)


def _length_digits(n: int) -> bytes:
    return bytes([ord(c) - 48 for c in str(n)])


def encode_payload_binary(packets: list[str | bytes]) -> bytes:
    """Frame packets as a binary payload (kind byte, length digits, 0xFF, packet)."""
    out = bytearray()
    for p in packets:
        if isinstance(p, str):
            data = p.encode("utf-8", "surrogatepass")
            out.append(0)
            out += _length_digits(len(data))
            out.append(255)
            out += data
        else:
            out.append(1)
            out += _length_digits(len(p) + 1)
            out.append(255)
            out.append(MESSAGE)
            out += p
    return bytes(out)


def decode_payload_text(body: str) -> list[tuple[int, Any]]:
    """Split a text payload into ``(type, data)`` packets (lengths in UTF-16 units)."""
    if not body:
        raise EngineIOError("empty payload")
    astral = not body.isascii() and _ASTRAL.search(body) is not None
    units = _ASTRAL.sub(_split_astral, body) if astral else body
    out: list[tuple[int, Any]] = []
    i = 0
    n = len(units)
    while i < n:
        j = units.find(":", i)
        if j < 0:
            raise EngineIOError("missing length")
        digits = units[i:j]
        if not digits or len(digits) > _MAX_DIGITS or not digits.isascii() or not digits.isdigit():
            raise EngineIOError("invalid length")
        length = int(digits)
        start = j + 1
        end = start + length
        if end > n:
            raise EngineIOError("length beyond the payload")
        if length:
            msg = units[start:end]
            if astral and _SURROGATE.search(msg) is not None:
                try:
                    msg = msg.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
                except UnicodeDecodeError as exc:
                    raise EngineIOError("length splits a character") from exc
            out.append(_decode_text_packet(msg))
        i = end
    return out


def decode_payload_binary(body: bytes) -> list[tuple[int, Any]]:
    """Split a binary payload into ``(type, data)`` packets."""
    if not body:
        raise EngineIOError("empty payload")
    out: list[tuple[int, Any]] = []
    i = 0
    n = len(body)
    while i < n:
        kind = body[i]
        if kind > 1:
            raise EngineIOError("invalid binary payload")
        j = body.find(b"\xff", i + 1)
        if j < 0 or j == i + 1 or j - i - 1 > _MAX_DIGITS:
            raise EngineIOError("invalid binary payload length")
        length = 0
        for k in range(i + 1, j):
            d = body[k]
            if d > 9:
                raise EngineIOError("invalid binary payload length")
            length = length * 10 + d
        start = j + 1
        end = start + length
        if end > n:
            raise EngineIOError("length beyond the payload")
        if kind == 0:
            try:
                text = body[start:end].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise EngineIOError("text packet is not UTF-8") from exc
            out.append(_decode_text_packet(text))
        else:
            if length == 0:
                raise EngineIOError("empty packet")
            c = body[start]
            if c > 6:
                raise EngineIOError("unknown packet type")
            out.append((c, body[start + 1 : end]))
        i = end
    return out


def utf8_decoded(packets: list[tuple[int, Any]]) -> list[tuple[int, Any]] | None:
    """The packets of a text payload read as engine.io-parser 1.x wrote them (each text
    packet UTF-8 bytes as chars); None if they cannot be (a char above U+00FF, or bytes
    that are not UTF-8)."""
    out: list[tuple[int, Any]] = []
    for ptype, data in packets:
        if isinstance(data, str) and not data.isascii():
            try:
                data = data.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return None
        out.append((ptype, data))
    return out


def json_ascii(packet: str) -> str | None:
    """A Socket.IO packet in a MESSAGE (``"42[...]"``) with every non-ASCII character of
    its JSON escaped as ``\\uXXXX``: the same packet, in ASCII, which both parser
    generations read alike.  None when a non-ASCII character is outside the JSON
    (in the namespace).

    Outside strings JSON is ASCII, so escaping every non-ASCII character is lossless.
    """
    n = len(packet)
    i = 2  # "4" and the Socket.IO type digit
    j = i
    while j < n and "0" <= packet[j] <= "9":
        j += 1
    if j < n and packet[j] == "-":  # binary attachments count
        i = j + 1
    if i < n and packet[i] == "/":
        k = packet.find(",", i)
        if k < 0:
            return None if not packet.isascii() else packet
        i = k + 1
    while i < n and "0" <= packet[i] <= "9":  # ack id
        i += 1
    if not packet[:i].isascii():
        return None
    return packet[:i] + _NON_ASCII.sub(_escape_char, packet[i:])


# ---------------------------------------------------------------------- JSONP
def jsonp_index(j: str) -> str:
    """The ``j`` query parameter as the reference server uses it (digits only)."""
    return _JSONP_INDEX.sub("", j)


def encode_jsonp(payload: str, index: str) -> str:
    """A text payload as a JSONP response: ``___eio[<index>]("<payload>");`` (ASCII)."""
    return "___eio[" + index + "](" + json.dumps(payload) + ");"


def decode_jsonp_body(body: bytes) -> str:
    """The text payload of a JSONP POST (a form, ``d=<payload>``).

    engine.io-client escapes the payload's newlines as ``\\n`` and its ``\\n`` as
    ``\\\\n`` (user agents may turn a bare newline into CRLF); undone as the
    reference server does.
    """
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise EngineIOError("invalid JSONP form") from exc
    values = form.get("d")
    if not values or len(values) != 1:
        raise EngineIOError("JSONP form without d")
    data = _JSONP_NEWLINE.sub(lambda m: m.group(0) if m.group(1) else "\n", values[0])
    return data.replace("\\\\n", "\\n")


# ---------------------------------------------------------------------- a session's framing
class Eio3Codec:
    """How one EIO3 session frames its polling payloads.

    Chosen at the handshake: ``binary`` (the client supports binary payloads: no
    ``b64`` parameter, not JSONP), ``jsonp`` (the ``j`` index, or None), ``text_mode``
    and ``always_binary`` (engine.io-client 1.4/1.5, recognised by its ``t`` parameter,
    reads polling responses only as binary payloads).

    Responses:

    * JSONP: the text payload in the JSONP wrapper.
    * A client that supports binary gets a binary payload when the packets hold
      binary or non-ASCII text (or always, ``always_binary``), else a text payload.
      Every generation reads a binary payload's text as UTF-8; plain ASCII text
      payloads mean the same to every generation too.
    * Otherwise a text payload.  With ``json_messages`` (Socket.IO sessions: every
      MESSAGE is a Socket.IO packet with a JSON payload) non-ASCII is escaped inside
      the JSON, so the payload is ASCII; failing that it is written for the parser
      generation in ``text_mode`` (plain while unknown, as the reference server).

    Requests: a binary payload as such; a text payload is read with UTF-16 lengths
    and, when its text is UTF-8 bytes as chars, as engine.io-parser 1.x wrote it.
    The first non-ASCII text payload settles ``text_mode`` for the session.
    """

    __slots__ = ("binary", "jsonp", "text_mode", "always_binary", "json_messages")

    def __init__(
        self,
        binary: bool = True,
        jsonp: str | None = None,
        text_mode: int = TEXT_UNKNOWN,
        always_binary: bool = False,
    ) -> None:
        self.binary = binary and jsonp is None
        self.jsonp = jsonp
        self.text_mode = text_mode
        self.always_binary = always_binary and self.binary
        self.json_messages = False

    def encode_payload(self, packets: list[str | bytes]) -> str | bytes:
        """A polling response: ``str`` (text or JSONP) or ``bytes`` (binary payload)."""
        if self.binary:
            if self.always_binary:
                return encode_payload_binary(packets)
            for p in packets:
                if not isinstance(p, str) or not p.isascii():
                    return encode_payload_binary(packets)
            return encode_payload_text(packets)
        mode = self.text_mode
        if self.json_messages:
            escaped = []
            for p in packets:
                if isinstance(p, str) and not p.isascii() and p[0] == "4":
                    q = json_ascii(p)
                    if q is not None:
                        p = q
                escaped.append(p)
            packets = escaped
        payload = encode_payload_text(packets, mode)
        if self.jsonp is not None:
            return encode_jsonp(payload, self.jsonp)
        return payload

    def decode_payload(self, body: str | bytes) -> list[tuple[int, Any]]:
        """A polling request body: ``bytes`` a binary payload, ``str`` a text payload."""
        if not isinstance(body, str):
            return decode_payload_binary(body)
        packets = decode_payload_text(body)
        if body.isascii() or self.text_mode == TEXT_PLAIN:
            return packets
        decoded = utf8_decoded(packets)
        if decoded is None:
            if self.text_mode == TEXT_UTF8:
                raise EngineIOError("text packet is not UTF-8")
            self.text_mode = TEXT_PLAIN
            return packets
        self.text_mode = TEXT_UTF8
        return decoded
