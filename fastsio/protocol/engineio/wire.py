"""Engine.IO wire constants shared by both protocol versions: packet types, the
fixed encoded packets the session sends, the OPEN packet, and the error answers of
the reference server (``{"code": n, "message": "..."}``).
"""

from __future__ import annotations

import json
from typing import Any

from .packets import CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE

__all__ = (
    "BAD_HANDSHAKE_METHOD",
    "BAD_REQUEST",
    "CLOSE_PACKET",
    "ERRORS",
    "FORBIDDEN",
    "MESSAGE_PREFIX",
    "NOOP_PACKET",
    "PING_PACKET",
    "PONG_PACKET",
    "PROBE",
    "PROBE_REPLY",
    "UNKNOWN_SID",
    "UNKNOWN_TRANSPORT",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "error_body",
    "open_packet",
)

# Encoded text packets that never change (a packet is its type digit, then its data).
#: what precedes the text of a MESSAGE packet (``"4hello"``)
MESSAGE_PREFIX = str(MESSAGE)
#: a CLOSE packet
CLOSE_PACKET = str(CLOSE)
#: a NOOP packet (releases a pending GET during an upgrade)
NOOP_PACKET = str(NOOP)
#: a PING packet (EIO4: the server pings)
PING_PACKET = str(PING)
#: a PONG packet (EIO3: the server answers the client's pings)
PONG_PACKET = str(PONG)
#: the data of the upgrade probe (``2probe`` from the client)
PROBE = "probe"
#: the answer to the probe
PROBE_REPLY = PONG_PACKET + PROBE

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
_json_str = json.encoder.encode_basestring_ascii
