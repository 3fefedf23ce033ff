"""The msgpack parser (``Server(parser="msgpack")``), wire-compatible with the npm
`socket.io-msgpack-parser <https://github.com/socketio/socket.io-msgpack-parser>`_ 3.x.

Each Socket.IO packet is one binary Engine.IO message: the msgpack encoding of the
map ``{"type": t, "data": d, "nsp": n, "id": i}`` (``data`` absent when there is none,
``id`` absent unless an ack is asked for).  Binary values are msgpack ``bin`` inside
the data, so there are no BINARY_EVENT/BINARY_ACK packets and no attachments.
Decoding checks what the npm decoder checks (an integer type from CONNECT to
CONNECT_ERROR, a string namespace, data of the right shape for the type, an integer
id), and, like the JSON parser, refuses an EVENT without an event name or named
after a reserved event, and an id that is negative or over ``MAX_ACK_ID`` (2**53 - 1).

From JavaScript, ``undefined`` (which notepack.io, the npm parser's msgpack, writes
as ext type 0 with one zero byte) decodes to None, as JSON's ``null`` would, and
ext type 0 otherwise (a browser's ArrayBuffer or typed array) to ``bytes``, like the
``bin`` of a Node Buffer; so a one-byte ArrayBuffer holding 0 arrives as None.
A JavaScript Date (notepack writes it as fixext 8 of type 0) arrives as its 8 bytes.

Needs the ``msgpack`` package (``pip install fastsio-server[msgpack]``), imported when this
parser is first built.
"""

from __future__ import annotations

from typing import Any

from . import packets as sio

__all__ = ("MsgpackParser", "decode", "encode", "encode_event")

_RESERVED = frozenset(
    ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
)

_packb: Any = None
_unpackb: Any = None


def _load() -> None:
    global _packb, _unpackb
    if _packb is not None:
        return
    try:
        import msgpack
    except ImportError as exc:  # pragma: no cover - the msgpack extra is missing
        raise ImportError(
            'parser="msgpack" needs the msgpack package: pip install "fastsio-server[msgpack]"'
        ) from exc
    packer = msgpack.Packer(use_bin_type=True, autoreset=True, datetime=False)
    _packb = packer.pack
    ExtType = msgpack.ExtType

    def ext_hook(code: int, data: bytes) -> Any:
        # notepack.io (the npm parser's msgpack): ext type 0 is JavaScript's undefined
        # (fixext 1, one zero byte) or an ArrayBuffer / typed array (the browser's binary)
        if code == 0:
            return None if data == b"\x00" else data
        return ExtType(code, data)

    def unpackb(message: Any) -> Any:
        return msgpack.unpackb(message, raw=False, ext_hook=ext_hook)

    _unpackb = unpackb


def encode(type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> list[str | bytes]:
    """One packet as one binary message (a one-item list, like the JSON parser's parts)."""
    packet: dict[str, Any] = {"type": type}
    if data is not None:
        packet["data"] = data
    packet["nsp"] = nsp
    if id is not None:
        packet["id"] = id
    return [_packb(packet)]


def encode_event(nsp: str, event: str, args: tuple[Any, ...], id: int | None = None) -> list[str | bytes]:
    """An EVENT with ``[event, *args]`` as its data, as one binary message."""
    data = [event]
    data.extend(args)
    return encode(sio.EVENT, nsp, data, id)


def _integer(value: Any) -> bool:
    if type(value) is int:
        return True
    return type(value) is float and value.is_integer()


def decode(message: Any) -> Any:
    """Decode one binary message into a :class:`~fastsio.protocol.socketio.Packet`."""
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise sio.SocketIOError("text message with the msgpack parser")
    try:
        packet = _unpackb(message)
    except Exception as exc:  # ExtraData, FormatError, StackError, ValueError...
        raise sio.SocketIOError("invalid msgpack") from exc
    if not isinstance(packet, dict):
        raise sio.SocketIOError("invalid packet")
    ptype: Any = packet.get("type")
    if not _integer(ptype) or not sio.CONNECT <= ptype <= sio.CONNECT_ERROR:
        raise sio.SocketIOError("invalid packet type")
    ptype = int(ptype)
    nsp = packet.get("nsp")
    if not isinstance(nsp, str):
        raise sio.SocketIOError("invalid namespace")
    data = packet.get("data")
    if ptype == sio.CONNECT:
        ok = data is None or isinstance(data, dict)
    elif ptype == sio.DISCONNECT:
        ok = data is None
    elif ptype == sio.CONNECT_ERROR:
        ok = isinstance(data, (str, dict))
    else:
        ok = isinstance(data, list)
        if ok and ptype == sio.EVENT:
            head = data[0] if data else None
            if isinstance(head, str):
                ok = head not in _RESERVED
            else:
                ok = isinstance(head, (int, float)) and not isinstance(head, bool)
    if not ok:
        raise sio.SocketIOError("invalid payload")
    pid = packet.get("id")
    if pid is not None:
        if not _integer(pid) or not 0 <= pid <= sio.MAX_ACK_ID:
            raise sio.SocketIOError("invalid packet id")
        pid = int(pid)
    return sio.Packet(ptype, nsp, data, pid, 0)


def reconstruct(data: Any, buffers: list[bytes]) -> Any:  # pragma: no cover - no attachments
    """No attachments in this format: ``data`` as it is."""
    return data


class MsgpackParser:
    """``Server(parser="msgpack")``: see the module docstring."""

    binary = True
    name = "msgpack"

    def __init__(self) -> None:
        _load()
        self.encode = encode
        self.encode_event = encode_event
        self.decode = decode
        self.reconstruct = reconstruct

    def __repr__(self) -> str:
        return "<MsgpackParser>"
