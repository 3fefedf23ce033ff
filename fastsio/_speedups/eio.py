"""Selector for the Engine.IO codec twins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import NO_EXTENSIONS, load

if TYPE_CHECKING or NO_EXTENSIONS:
    from .eio_py import (  # noqa: F401
        SEPARATOR,
        EngineIOError,
        decode_packet,
        decode_payload,
        encode_packet,
        encode_payload,
    )

if not TYPE_CHECKING:
    _impl = load("eio")
    SEPARATOR = _impl.SEPARATOR
    EngineIOError = _impl.EngineIOError
    decode_packet = _impl.decode_packet
    decode_payload = _impl.decode_payload
    encode_packet = _impl.encode_packet
    encode_payload = _impl.encode_payload
