"""Socket.IO v5 packet codec, pure-Python twin (the specification).

Wire format (https://socket.io/docs/v4/socket-io-protocol/)::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

* ``type`` is one digit: CONNECT 0, DISCONNECT 1, EVENT 2, ACK 3, CONNECT_ERROR 4,
  BINARY_EVENT 5, BINARY_ACK 6.
* BINARY_* packets carry ``N-`` and are followed by N binary messages; in the JSON,
  each binary value is replaced by ``{"_placeholder":true,"num":i}``.
* The namespace is omitted for ``/``; it runs up to the first ``,`` (or the end).
* The ack id is a run of digits, at most :data:`MAX_ACK_ID` (``2**53 - 1``, the
  largest integer a JavaScript client can send exactly); a larger one (or a longer
  run of digits: Python's ``int()`` refuses over 4300) is refused like any other
  malformed packet, and so is an attachment count of more than 16 digits.

Decoding validates like the reference parser (socket.io-parser): an unknown type,
bad attachment count, JSON that does not parse (``NaN``, ``Infinity`` and numbers
too large for a float, such as ``1e999``, included: they would be non-finite floats,
which the encoder cannot write), or a payload of the wrong shape for the type
raises :class:`SocketIOError`, and the caller closes the connection.

Binary values are ``bytes`` (``bytearray`` and ``memoryview`` are accepted when encoding).

The compiled twin is this file built as ``sio_c`` and typed by ``sio_c.pxd``,
which also binds ``_dumps`` to the C JSON writer of ``_jsonenc.pyx`` in place
of the stdlib encoder that ``jsonenc_py.json_dumps`` is here.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from fastsio.protocol.socketio.jsonenc_py import json_dumps as _dumps

__all__ = (
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "MAX_ACK_ID",
    "RESERVED_EVENTS",
    "Packet",
    "SocketIOError",
    "decode",
    "deconstruct",
    "encode",
    "encode_event",
    "has_binary",
    "reconstruct",
)

CONNECT = 0
DISCONNECT = 1
EVENT = 2
ACK = 3
CONNECT_ERROR = 4
BINARY_EVENT = 5
BINARY_ACK = 6

#: The largest ack id accepted (JavaScript's ``Number.MAX_SAFE_INTEGER``): a client
#: cannot make the server parse, keep and echo integers of thousands of digits.
MAX_ACK_ID = 2**53 - 1
# the most digits of an ack id or an attachment count (``MAX_ACK_ID`` has 16)
_MAX_DIGITS = 16

RESERVED_EVENTS = frozenset(
    ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
)

def _reject_constant(name: str) -> Any:
    # NaN, Infinity and -Infinity are not JSON: JSON.parse (socket.io-parser) refuses
    # them, and our encoder (allow_nan=False) could not echo them back.
    raise ValueError(f"invalid JSON constant {name}")


def _finite_float(literal: str) -> float:
    # A number too large for a float (1e999) would become inf: refused as the constants
    # are (JSON.parse gives Infinity, which JSON.stringify writes as null; our encoder
    # cannot write it at all, so an app echoing a client's data would fail to encode).
    value = float(literal)
    if value - value != 0.0:
        raise ValueError(f"number out of range {literal:.20}")
    return value


# The default JSON scanner (the C one on CPython), as json.loads uses it, but strict.
_scan_once = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_constant=_reject_constant, parse_float=_finite_float
).scan_once


class SocketIOError(ValueError):
    """A packet that does not parse or whose payload has the wrong shape."""


class Packet:
    """A decoded packet.  ``attachments`` is the number of binary messages still expected."""

    __slots__ = ("type", "nsp", "data", "id", "attachments")

    def __init__(
        self, type: int, nsp: str = "/", data: Any = None, id: int | None = None, attachments: int = 0
    ) -> None:
        self.type = type
        self.nsp = nsp
        self.data = data
        self.id = id
        self.attachments = attachments

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return (self.type, self.nsp, self.data, self.id, self.attachments) == (
            other.type,
            other.nsp,
            other.data,
            other.id,
            other.attachments,
        )

    def __repr__(self) -> str:
        return (
            f"Packet(type={self.type}, nsp={self.nsp!r}, data={self.data!r}, "
            f"id={self.id!r}, attachments={self.attachments})"
        )


def has_binary(data: Any) -> bool:
    """True if ``data`` holds bytes, bytearray or memoryview at any depth."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return True
    if isinstance(data, (list, tuple)):
        for item in data:
            if has_binary(item):
                return True
        return False
    if isinstance(data, dict):
        for item in data.values():
            if has_binary(item):
                return True
    return False


def _deconstruct(data: Any, buffers: list[bytes]) -> Any:
    if isinstance(data, (bytes, bytearray, memoryview)):
        buffers.append(bytes(data))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(data, (list, tuple)):
        return [_deconstruct(item, buffers) for item in data]
    if isinstance(data, dict):
        return {key: _deconstruct(value, buffers) for key, value in data.items()}
    return data


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """Replace every binary value by a placeholder; return (data, attachments)."""
    buffers: list[bytes] = []
    return _deconstruct(data, buffers), buffers


def reconstruct(data: Any, buffers: list[bytes]) -> Any:
    """Replace placeholders by the attachments they name."""
    if isinstance(data, list):
        return [reconstruct(item, buffers) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") is True and len(data) == 2 and "num" in data:
            num = data["num"]
            if type(num) is not int or num < 0 or num >= len(buffers):
                raise SocketIOError("illegal attachments")
            return buffers[num]
        return {key: reconstruct(value, buffers) for key, value in data.items()}
    return data


def encode(
    type: int,
    nsp: str = "/",
    data: Any = None,
    id: int | None = None,
    dumps: Callable[[Any], str] | None = None,
) -> list[str | bytes]:
    """Encode a packet: the text part first, then its binary attachments.

    An EVENT or ACK whose data holds binary becomes BINARY_EVENT / BINARY_ACK.
    """
    attachments: list[bytes] | None = None
    if data is not None and (type == EVENT or type == ACK) and has_binary(data):
        data, attachments = deconstruct(data)
        type = BINARY_EVENT if type == EVENT else BINARY_ACK
    s = str(type)
    if attachments is not None:
        s += str(len(attachments)) + "-"
    if nsp != "/":
        s += nsp + ","
    if id is not None:
        s += str(id)
    if data is not None:
        if dumps:
            s += dumps(data)
        else:
            s += _dumps(data)
    if attachments:
        return [s, *attachments]
    return [s]


def encode_event(nsp: str, event: str, args: tuple[Any, ...], id: int | None = None) -> list[str | bytes]:
    """Encode an EVENT (or BINARY_EVENT) with ``[event, *args]`` as its payload."""
    data = [event]
    data.extend(args)
    return encode(EVENT, nsp, data, id)


def _payload_valid(type: int, payload: Any) -> bool:
    if type == EVENT or type == BINARY_EVENT:
        if not isinstance(payload, list) or not payload:
            return False
        head = payload[0]
        if isinstance(head, str):
            return head not in RESERVED_EVENTS
        return isinstance(head, (int, float)) and not isinstance(head, bool)
    if type == ACK or type == BINARY_ACK:
        return isinstance(payload, list)
    if type == CONNECT:
        return isinstance(payload, dict)
    if type == CONNECT_ERROR:
        return isinstance(payload, (str, dict))
    return False  # DISCONNECT carries no payload


def _json_loads(s: str, i: int) -> Any:
    """Return ``json.loads(s[i:])`` without copying ``s``.

    The steps of :meth:`json.JSONDecoder.decode`: skip JSON whitespace, scan
    one value, skip whitespace, require the end of the string.

    Raises:
        ValueError: where :func:`json.loads` raises (it raises a subclass).
    """
    n = len(s)
    while i < n and s[i] in " \t\n\r":
        i += 1
    try:
        value, end = _scan_once(s, i)
    except StopIteration:
        raise ValueError("Expecting value") from None
    while end < n and s[end] in " \t\n\r":
        end += 1
    if end != n:
        raise ValueError("Extra data")
    return value


def decode(s: str, loads: Callable[[str], Any] | None = None) -> Packet:
    """Decode the text part of a packet.

    A BINARY_* packet comes back with ``attachments`` > 0 and placeholders still in
    ``data``; collect that many binary messages, then call :func:`reconstruct`.
    """
    n = len(s)
    if n == 0:
        raise SocketIOError("empty packet")
    type = ord(s[0]) - 48
    if type < 0 or type > 6:
        raise SocketIOError("unknown packet type")
    i = 1
    attachments = 0
    if type == BINARY_EVENT or type == BINARY_ACK:
        j = s.find("-", 1)
        if j < 0 or j > _MAX_DIGITS + 1 or not s[1:j].isdigit() or not s[1:j].isascii():
            raise SocketIOError("illegal attachments")
        attachments = int(s[1:j])
        i = j + 1
    nsp = "/"
    if i < n and s[i] == "/":
        j = s.find(",", i)
        if j < 0:
            nsp = s[i:]
            i = n
        else:
            nsp = s[i:j]
            i = j + 1
    id = None
    j = i
    while j < n and "0" <= s[j] <= "9":
        j += 1
    if j > i:
        if j - i > _MAX_DIGITS:
            raise SocketIOError("invalid ack id")
        id = int(s[i:j])
        if id > MAX_ACK_ID:
            raise SocketIOError("invalid ack id")
        i = j
    data = None
    if i < n:
        try:
            if loads:
                data = loads(s[i:] if i else s)
            else:
                data = _json_loads(s, i)
        except (ValueError, RecursionError) as exc:
            # RecursionError: JSON nested deeper than the interpreter allows.
            raise SocketIOError("invalid payload") from exc
        if not _payload_valid(type, data):
            raise SocketIOError("invalid payload")
    elif type == EVENT or type == BINARY_EVENT:
        raise SocketIOError("invalid payload")
    if id is not None and type != EVENT and type != BINARY_EVENT and type != ACK and type != BINARY_ACK:
        raise SocketIOError("unexpected ack id")
    if (type == ACK or type == BINARY_ACK) and id is None:
        raise SocketIOError("missing ack id")
    return Packet(type, nsp, data, id, attachments)
