"""The wire format of Node's ``@socket.io/redis-adapter`` 8.3 (classic mode, and the
sharded mode of ``createShardedAdapter``) and ``@socket.io/redis-emitter`` 5: channel
names, message encodings, flags.

Pure functions and constants, no I/O; :mod:`fastsio.adapters.redis_adapter` (a cluster
member) and :mod:`fastsio.adapters.emitter` (a publisher without sockets) share them.

* Channels (``key`` is the prefix, ``socket.io`` by default; ``nsp`` the namespace
  name as it is, ``/`` or ``/chat``): broadcasts go to ``key#nsp#`` or, when exactly
  one room is targeted, ``key#nsp#room#``; requests to ``key-request#nsp#``; responses
  to ``key-response#nsp#`` (shared) or ``key-response#nsp#uid#`` (one node).
* Broadcasts are the msgpack array ``[uid, packet, opts]``, ``packet`` being
  ``{"type": 2, "data": [event, *args], "nsp": nsp}`` (binary inline as msgpack bin,
  no attachments, no ack id) and ``opts`` ``{"rooms": [...], "except": [...],
  "flags": {...}}``.  Requests and responses are JSON objects, except the
  broadcast-with-ack request (type 7) and its acks (type 9), which are msgpack; a
  receiver tells them apart by the first byte (``{`` is JSON).
* Flags: fastsio's ``timeout`` is in seconds, Node's in milliseconds; ``local`` is
  never published.
* Sharded mode (SPUBLISH/SSUBSCRIBE, Redis 7+): every message is the envelope
  ``{type, data, uid, nsp}`` with socket.io-adapter's ClusterAdapter types (3-12),
  JSON unless it may hold binary and does (then msgpack); the packet carries no
  ``nsp``; uids are 16 hex characters; answers go to the requester's own channel.
* Streams mode (``@socket.io/redis-streams-adapter`` 0.3): the same envelopes, the
  durable ones as stream entries (fields ``uid nsp type data``), the others msgpack on
  plain pub/sub; sessions kept for recovery as ``base64(msgpack({sid, pid, rooms,
  data}))`` under ``sio:session:<pid>``.
"""

from __future__ import annotations

import datetime
import json
import secrets
from typing import Any, Collection, Iterable

__all__ = (
    "ALL_ROOMS",
    "BROADCAST",
    "BROADCAST_ACK",
    "BROADCAST_CLIENT_COUNT",
    "EMITTER_UID",
    "REMOTE_DISCONNECT",
    "REMOTE_FETCH",
    "REMOTE_JOIN",
    "REMOTE_LEAVE",
    "SERVER_SIDE_EMIT",
    "SOCKETS",
    "STREAM_TYPES",
    "SUBSCRIPTION_MODES",
    "S_BINARY_TYPES",
    "S_BROADCAST",
    "S_BROADCAST_ACK",
    "S_BROADCAST_CLIENT_COUNT",
    "S_DISCONNECT_SOCKETS",
    "S_FETCH_SOCKETS",
    "S_FETCH_SOCKETS_RESPONSE",
    "S_SERVER_SIDE_EMIT",
    "S_SERVER_SIDE_EMIT_RESPONSE",
    "S_SOCKETS_JOIN",
    "S_SOCKETS_LEAVE",
    "Channels",
    "ShardedChannels",
    "decode_session",
    "decode_stream_data",
    "dumps_json",
    "encode_envelope",
    "encode_session",
    "encode_stream_data",
    "from_wire_flags",
    "glob_escape",
    "has_binary",
    "java_hash",
    "js_compatible",
    "load_msgpack",
    "loads",
    "new_cluster_uid",
    "new_uid",
    "pack",
    "parse_id",
    "room_name",
    "stream_key",
    "to_wire_flags",
    "wire_opts",
)

# request types of the classic adapter (socket.io-redis-adapter's RequestType)
SOCKETS = 0
ALL_ROOMS = 1
REMOTE_JOIN = 2
REMOTE_LEAVE = 3
REMOTE_DISCONNECT = 4
REMOTE_FETCH = 5
SERVER_SIDE_EMIT = 6
BROADCAST = 7
BROADCAST_CLIENT_COUNT = 8
BROADCAST_ACK = 9

#: the uid ``@socket.io/redis-emitter`` publishes with (never a node's)
EMITTER_UID = "emitter"


def new_uid() -> str:
    """A node's (or a request's) random id: 6 characters of ``[A-Za-z0-9_-]``, as Node's
    ``uid2(6)``."""
    return secrets.token_urlsafe(6)[:6]


def glob_escape(text: str) -> str:
    """``text`` with Redis glob characters (``* ? [ ] \\``) escaped, for a PSUBSCRIBE
    pattern that must match it literally."""
    out = []
    for ch in text:
        if ch in "*?[]\\":
            out.append("\\")
        out.append(ch)
    return "".join(out)


class Channels:
    """The channel names of one namespace under one key prefix (as bytes).

    Args:
        key: the prefix (``socket.io``).
        nsp: the namespace name.
        uid: the node's uid (its own response channel); ``None`` for a publisher that
            receives nothing (the emitter).
    """

    __slots__ = ("broadcast", "pattern", "request", "response", "own_response", "prefix")

    def __init__(self, key: str, nsp: str, uid: str | None = None) -> None:
        #: ``key#nsp#``: broadcasts to the whole namespace (or to several rooms)
        self.broadcast = f"{key}#{nsp}#".encode()
        #: what a room channel starts with (the broadcast channel)
        self.prefix = self.broadcast
        #: ``key#nsp#*`` (escaped): the pattern a node PSUBSCRIBEs
        self.pattern = f"{glob_escape(key)}#{glob_escape(nsp)}#*".encode()
        #: ``key-request#nsp#``
        self.request = f"{key}-request#{nsp}#".encode()
        #: ``key-response#nsp#``: the shared response channel
        self.response = f"{key}-response#{nsp}#".encode()
        #: ``key-response#nsp#uid#``: responses addressed to this node
        self.own_response = f"{key}-response#{nsp}#{uid}#".encode() if uid is not None else b""

    def room(self, room: str) -> bytes:
        """``key#nsp#room#``: a broadcast to exactly one room."""
        return self.broadcast + room.encode() + b"#"

    def for_rooms(self, rooms: Collection[str]) -> bytes:
        """The channel of a broadcast to ``rooms``: the room channel when there is
        exactly one, else the namespace's."""
        if len(rooms) == 1:
            return self.room(next(iter(rooms)))
        return self.broadcast


def room_name(room: Any) -> str:
    """A room identifier from the wire as fastsio names rooms: Node allows numbers
    (``socket.join(123)``), which become their JavaScript string (``"123"``, ``"1.5"``)."""
    if isinstance(room, str):
        return room
    if isinstance(room, bool):
        return "true" if room else "false"
    if isinstance(room, float) and room.is_integer():
        return str(int(room))
    return str(room)


def to_wire_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """fastsio's broadcast flags as Node's: ``volatile``, ``compress``, ``timeout`` (in
    milliseconds), ``expectSingleResponse``; ``local`` is never published."""
    out: dict[str, Any] = {}
    if not flags:
        return out
    if flags.get("volatile"):
        out["volatile"] = True
    if "compress" in flags:
        out["compress"] = bool(flags["compress"])
    timeout = flags.get("timeout")
    if timeout is not None:
        out["timeout"] = int(round(timeout * 1000))
    if flags.get("expectSingleResponse"):
        out["expectSingleResponse"] = True
    return out


def from_wire_flags(flags: Any) -> dict[str, Any]:
    """Node's broadcast flags as fastsio's (``timeout`` back in seconds); anything
    unknown or malformed is left out."""
    out: dict[str, Any] = {}
    if not isinstance(flags, dict):
        return out
    if flags.get("volatile"):
        out["volatile"] = True
    compress = flags.get("compress")
    if isinstance(compress, bool):
        out["compress"] = compress
    timeout = flags.get("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0:
        out["timeout"] = timeout / 1000
    if flags.get("expectSingleResponse"):
        out["expectSingleResponse"] = True
    return out


def wire_opts(rooms: Iterable[str], except_rooms: Iterable[str]) -> dict[str, Any]:
    """``{"rooms": [...], "except": [...]}`` as a request's ``opts``."""
    return {"rooms": list(rooms), "except": list(except_rooms)}


def _packer() -> Any:
    try:
        import msgpack
    except ImportError as exc:  # pragma: no cover - the redis extra installs it
        raise ImportError("the Redis adapter needs msgpack: pip install 'fastsio-server[redis]'") from exc
    return msgpack


def pack(obj: Any) -> bytes:
    """msgpack, as notepack.io reads it (``bytes`` as bin, str as str)."""
    data: bytes = _packer().packb(obj, use_bin_type=True, datetime=True)
    return data


def load_msgpack(data: bytes) -> Any:
    """Decode a msgpack message (str as str, bin as bytes, timestamps as aware
    datetimes)."""
    return _packer().unpackb(data, raw=False, timestamp=3, strict_map_key=False)


def loads(data: bytes) -> Any:
    """Decode a request or response: JSON when it starts with ``{``, else msgpack."""
    if data[:1] == b"{":
        return json.loads(data)
    return load_msgpack(data)


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        # JSON has no binary: Node's JSON.stringify of a Buffer
        return {"type": "Buffer", "data": list(bytes(value))}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, datetime.datetime):
        return _iso(value)
    return str(value)


def dumps_json(obj: Any) -> bytes:
    """JSON as ``JSON.stringify`` writes it (compact; what JSON cannot hold is
    approximated as Node would, never an error)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def _iso(value: datetime.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def js_compatible(value: Any) -> Any:
    """``value`` with every datetime (a JavaScript ``Date`` on the wire) made the ISO
    string a Node receiver's clients get (``2024-01-02T03:04:05.678Z``)."""
    if isinstance(value, datetime.datetime):
        return _iso(value)
    if isinstance(value, list):
        return [js_compatible(v) for v in value]
    if isinstance(value, dict):
        return {k: js_compatible(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------- sharded
# The message types of socket.io-adapter's ClusterAdapter (the sharded adapter's envelope
# ``{type, data, uid, nsp}``), and the subscription modes of ``createShardedAdapter``.

S_BROADCAST = 3
S_SOCKETS_JOIN = 4
S_SOCKETS_LEAVE = 5
S_DISCONNECT_SOCKETS = 6
S_FETCH_SOCKETS = 7
S_FETCH_SOCKETS_RESPONSE = 8
S_SERVER_SIDE_EMIT = 9
S_SERVER_SIDE_EMIT_RESPONSE = 10
S_BROADCAST_CLIENT_COUNT = 11
S_BROADCAST_ACK = 12

#: the types whose ``data`` is sent as msgpack when it holds binary (JSON otherwise)
S_BINARY_TYPES = frozenset(
    (S_BROADCAST, S_FETCH_SOCKETS_RESPONSE, S_SERVER_SIDE_EMIT, S_SERVER_SIDE_EMIT_RESPONSE, S_BROADCAST_ACK)
)

#: ``createShardedAdapter``'s ``subscriptionMode`` values
SUBSCRIPTION_MODES = ("static", "dynamic", "dynamic-private")


def new_cluster_uid() -> str:
    """A cluster-style node or request id: 16 hex characters (Node's
    ``randomBytes(8).toString("hex")``)."""
    return secrets.token_hex(8)


def has_binary(value: Any) -> bool:
    """Whether ``value`` holds bytes anywhere (socket.io's ``hasBinary``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_binary(v) for v in value)
    if isinstance(value, dict):
        return any(has_binary(v) for v in value.values())
    return False


def encode_envelope(kind: int, data: Any, uid: str, nsp: str) -> bytes:
    """A sharded-mode message: JSON, or msgpack when it may hold binary and does."""
    message = {"type": kind, "data": data, "uid": uid, "nsp": nsp}
    if kind in S_BINARY_TYPES and has_binary(data):
        return pack(message)
    return dumps_json(message)


class ShardedChannels:
    """The sharded-mode channel names of one namespace (as bytes): the main channel
    ``prefix#nsp#`` (every broadcast not on a room channel, every request), the node's
    own ``prefix#nsp#uid#`` (its responses), and room channels ``prefix#nsp#room#``."""

    __slots__ = ("main", "own", "mode")

    def __init__(self, prefix: str, nsp: str, uid: str, mode: str) -> None:
        #: ``prefix#nsp#``
        self.main = f"{prefix}#{nsp}#".encode()
        #: ``prefix#nsp#uid#``
        self.own = self.main + uid.encode() + b"#"
        #: the subscription mode
        self.mode = mode

    def room(self, room: str) -> bytes:
        """``prefix#nsp#room#``."""
        return self.main + room.encode() + b"#"

    def node(self, uid: str) -> bytes:
        """A node's own channel (where its requests are answered)."""
        return self.main + uid.encode() + b"#"

    def for_broadcast(self, rooms: Collection[str], with_ack: bool) -> bytes:
        """The channel of a BROADCAST: a room's when there is exactly one room, no ack
        is wanted, and the mode says so (``dynamic``: unless the name looks like a socket
        id, 20 characters; ``dynamic-private``: always; ``static``: never)."""
        if not with_ack and len(rooms) == 1 and self.mode != "static":
            room = next(iter(rooms))
            if self.mode == "dynamic-private" or len(room) != 20:
                return self.room(room)
        return self.main


# ---------------------------------------------------------------------------------- streams
# ``@socket.io/redis-streams-adapter`` 0.3: the durable messages (BROADCAST without ack,
# SOCKETS_JOIN/LEAVE, DISCONNECT_SOCKETS) are stream entries ``uid <uid> nsp <nsp> type
# <decimal> data <json | base64(msgpack)>``; the rest are msgpack envelopes on pub/sub.

#: the types a stream entry may carry (the durable ones)
STREAM_TYPES = frozenset((S_BROADCAST, S_SOCKETS_JOIN, S_SOCKETS_LEAVE, S_DISCONNECT_SOCKETS))


def java_hash(text: str) -> int:
    """Java's ``String.hashCode`` as the streams adapter computes it in JavaScript: over
    UTF-16 code units, wrapping to a signed 32-bit integer."""
    h = 0
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h = (h * 31 + (units[i] | (units[i + 1] << 8))) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def stream_key(stream_name: str, stream_count: int, nsp: str) -> str:
    """The stream a namespace writes to: ``stream_name``, or with several streams
    ``stream_name-<hash(nsp) % count>`` with JavaScript's remainder (negative for a
    negative hash: a stream no reader polls, as Node's 0.3.1 does)."""
    if stream_count == 1:
        return stream_name
    h = java_hash(nsp)
    index = abs(h) % stream_count
    return f"{stream_name}-{-index if h < 0 else index}"


def encode_stream_data(kind: int, data: Any, only_plaintext: bool = False) -> bytes:
    """A stream entry's ``data`` field: JSON, or ``base64(msgpack)`` when the type may
    hold binary and it does (unless ``only_plaintext``)."""
    if not only_plaintext and kind in S_BINARY_TYPES and has_binary(data):
        import base64

        return base64.b64encode(pack(data))
    return dumps_json(data)


def decode_stream_data(raw: bytes) -> Any:
    """A stream entry's ``data`` field: JSON when it starts with ``{``, else base64
    msgpack."""
    if raw[:1] == b"{":
        return json.loads(raw)
    import base64

    return load_msgpack(base64.b64decode(raw, validate=True))


def parse_id(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id ``<ms>-<seq>`` as a pair of integers (ValueError if it is not
    one)."""
    text = entry_id.decode("ascii") if isinstance(entry_id, bytes) else entry_id
    ms, sep, seq = text.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit() or not ms.isascii() or not seq.isascii():
        raise ValueError(f"not a stream id: {text!r}")
    return int(ms), int(seq)


def encode_session(sid: str, pid: str, rooms: Iterable[str], data: Any) -> bytes:
    """A session kept for recovery as Node's streams adapter stores it:
    ``base64(msgpack({sid, pid, rooms, data}))``."""
    import base64

    return base64.b64encode(pack({"sid": sid, "pid": pid, "rooms": list(rooms), "data": data}))


def decode_session(raw: bytes) -> dict[str, Any] | None:
    """A stored session (see :func:`encode_session`); None if it is not one."""
    import base64

    try:
        session = load_msgpack(base64.b64decode(raw, validate=True))
    except Exception:
        return None
    if not isinstance(session, dict) or not isinstance(session.get("sid"), str):
        return None
    if not isinstance(session.get("pid"), str) or not isinstance(session.get("rooms", []), list):
        return None
    return session
