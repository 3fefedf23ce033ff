"""Selector for the Socket.IO codec twins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import NO_EXTENSIONS, load

if TYPE_CHECKING or NO_EXTENSIONS:
    from .sio_py import (  # noqa: F401
        Packet,
        SocketIOError,
        decode,
        deconstruct,
        encode,
        encode_event,
        has_binary,
        reconstruct,
    )

if not TYPE_CHECKING:
    _impl = load("sio")
    Packet = _impl.Packet
    SocketIOError = _impl.SocketIOError
    decode = _impl.decode
    deconstruct = _impl.deconstruct
    encode = _impl.encode
    encode_event = _impl.encode_event
    has_binary = _impl.has_binary
    reconstruct = _impl.reconstruct
