"""Selector for the WebSocket framing twins (RFC 6455).

Binds the public names of the compiled twin when it is importable, else of the
pure-Python twin, once, at import (see :func:`fastsio._speedups.load`).  Type
checkers always see the pure twin, which is the specification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import load

__all__ = (
    "CLOSE_ABNORMAL",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_INVALID_DATA",
    "CLOSE_MANDATORY_EXT",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_POLICY",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_TOO_BIG",
    "CLOSE_UNSUPPORTED",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameParser",
    "WebSocketError",
    "accept_key",
    "build_close",
    "build_frame",
    "build_frame_binary",
    "build_frame_text",
    "is_valid_close_code",
    "mask_payload",
)

if TYPE_CHECKING:
    from .wsframe_py import (
        CLOSE_ABNORMAL,
        CLOSE_GOING_AWAY,
        CLOSE_INTERNAL_ERROR,
        CLOSE_INVALID_DATA,
        CLOSE_MANDATORY_EXT,
        CLOSE_NO_STATUS,
        CLOSE_NORMAL,
        CLOSE_POLICY,
        CLOSE_PROTOCOL_ERROR,
        CLOSE_TOO_BIG,
        CLOSE_UNSUPPORTED,
        OP_BINARY,
        OP_CLOSE,
        OP_CONT,
        OP_PING,
        OP_PONG,
        OP_TEXT,
        FrameParser,
        WebSocketError,
        accept_key,
        build_close,
        build_frame,
        build_frame_binary,
        build_frame_text,
        is_valid_close_code,
        mask_payload,
    )
else:
    _impl = load("wsframe")
    OP_CONT = _impl.OP_CONT
    OP_TEXT = _impl.OP_TEXT
    OP_BINARY = _impl.OP_BINARY
    OP_CLOSE = _impl.OP_CLOSE
    OP_PING = _impl.OP_PING
    OP_PONG = _impl.OP_PONG
    CLOSE_NORMAL = _impl.CLOSE_NORMAL
    CLOSE_GOING_AWAY = _impl.CLOSE_GOING_AWAY
    CLOSE_PROTOCOL_ERROR = _impl.CLOSE_PROTOCOL_ERROR
    CLOSE_UNSUPPORTED = _impl.CLOSE_UNSUPPORTED
    CLOSE_NO_STATUS = _impl.CLOSE_NO_STATUS
    CLOSE_ABNORMAL = _impl.CLOSE_ABNORMAL
    CLOSE_INVALID_DATA = _impl.CLOSE_INVALID_DATA
    CLOSE_POLICY = _impl.CLOSE_POLICY
    CLOSE_TOO_BIG = _impl.CLOSE_TOO_BIG
    CLOSE_MANDATORY_EXT = _impl.CLOSE_MANDATORY_EXT
    CLOSE_INTERNAL_ERROR = _impl.CLOSE_INTERNAL_ERROR
    FrameParser = _impl.FrameParser
    WebSocketError = _impl.WebSocketError
    accept_key = _impl.accept_key
    build_close = _impl.build_close
    build_frame = _impl.build_frame
    build_frame_binary = _impl.build_frame_binary
    build_frame_text = _impl.build_frame_text
    is_valid_close_code = _impl.is_valid_close_code
    mask_payload = _impl.mask_payload
