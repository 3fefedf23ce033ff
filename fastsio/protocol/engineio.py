"""Engine.IO v4 wire format: packet types, codecs and the error answers of the reference server.

The codec functions come from the selected twin in :mod:`fastsio._speedups.eio`; the
Engine.IO v3 ones (``allow_eio3``: socket.io-client 1.x/2.x) from :mod:`fastsio._speedups.eio3`.
"""

from __future__ import annotations

import json
from typing import Any

from .._speedups.eio import (
    SEPARATOR,
    EngineIOError,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)
from .._speedups.eio3 import (
    TEXT_PLAIN,
    TEXT_UNKNOWN,
    TEXT_UTF8,
    Eio3Codec,
    decode_jsonp_body,
    jsonp_index,
)
from .._speedups.eio3 import decode_packet as decode_packet3
from .._speedups.eio3 import encode_packet as encode_packet3

__all__ = (
    "CLOSE",
    "ERRORS",
    "MESSAGE",
    "NOOP",
    "OPEN",
    "PING",
    "PONG",
    "SEPARATOR",
    "UPGRADE",
    "TEXT_PLAIN",
    "TEXT_UNKNOWN",
    "TEXT_UTF8",
    "Eio3Codec",
    "EngineIOError",
    "decode_jsonp_body",
    "decode_packet",
    "decode_packet3",
    "decode_payload",
    "encode_packet",
    "encode_packet3",
    "encode_payload",
    "error_body",
    "jsonp_index",
    "open_packet",
)

OPEN = 0
CLOSE = 1
PING = 2
PONG = 3
MESSAGE = 4
UPGRADE = 5
NOOP = 6

# The reference server's (engine.io) error codes and messages, answered with HTTP 400
# (403 for FORBIDDEN) and a JSON body ``{"code": n, "message": "..."}``.
UNKNOWN_TRANSPORT = 0
UNKNOWN_SID = 1
BAD_HANDSHAKE_METHOD = 2
BAD_REQUEST = 3
FORBIDDEN = 4
UNSUPPORTED_PROTOCOL_VERSION = 5

ERRORS: dict[int, str] = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


def error_body(code: int, message: str | None = None) -> bytes:
    """The JSON body of an Engine.IO error response."""
    return json.dumps(
        {"code": code, "message": message or ERRORS[code]}, separators=(",", ":")
    ).encode()


def open_packet(
    sid: str, upgrades: list[str], ping_interval_ms: int, ping_timeout_ms: int, max_payload: int
) -> str:
    """The OPEN packet (``0{...}``) that starts a session (what ``json.dumps`` of the
    dict with compact separators gives).  Only the sid differs from session to session:
    the rest is encoded once per set of settings."""
    key = (*upgrades, ping_interval_ms, ping_timeout_ms, max_payload)
    tail = _open_tails.get(key)
    if tail is None:
        tail = (
            ',"upgrades":'
            + _json_compact.encode(list(upgrades))
            + ',"pingInterval":'
            + _json_compact.encode(ping_interval_ms)
            + ',"pingTimeout":'
            + _json_compact.encode(ping_timeout_ms)
            + ',"maxPayload":'
            + _json_compact.encode(max_payload)
            + "}"
        )
        if len(_open_tails) >= 64:
            _open_tails.clear()
        _open_tails[key] = tail
    return '0{"sid":' + _json_str(sid) + tail


_open_tails: dict[tuple[Any, ...], str] = {}
_json_compact = json.JSONEncoder(separators=(",", ":"))
_json_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
