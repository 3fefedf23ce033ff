"""Socket.IO v5 wire format: packet types and the codec of the selected twin."""

from __future__ import annotations

from .._speedups.sio import (
    Packet,
    SocketIOError,
    decode,
    deconstruct,
    encode,
    encode_event,
    has_binary,
    reconstruct,
)

__all__ = (
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
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
