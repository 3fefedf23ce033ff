"""Broadcast fan-out, pure-Python twin.

Given the Engine.IO sessions of the recipients and one encoded Socket.IO packet
(text part, then binary attachments), build the Engine.IO packets once and the
WebSocket frames once, and hand the same bytes to every recipient: WebSocket
sessions get the frames (``ws.send_frame``), polling sessions the encoded packets.
"""

from __future__ import annotations

from typing import Any

from .wsframe import build_frame

OP_TEXT = 1
OP_BINARY = 2


def fanout(sessions: list[Any], parts: list[str | bytes]) -> None:
    packets: list[str | bytes] = []
    for part in parts:
        packets.append("4" + part if isinstance(part, str) else part)
    frames: list[bytes] | None = None
    for session in sessions:
        ws = session.ws
        if ws is not None:
            if frames is None:
                frames = [
                    build_frame(OP_TEXT, p) if isinstance(p, str) else build_frame(OP_BINARY, p)
                    for p in packets
                ]
            for frame in frames:
                ws.send_frame(frame)
        else:
            for p in packets:
                session.send(p)
