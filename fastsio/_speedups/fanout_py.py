"""Broadcast fan-out, pure-Python twin.

Given the Engine.IO sessions of the recipients and one encoded Socket.IO packet
(text part, then binary attachments), build the Engine.IO packets once and the
WebSocket frames once, and hand the same bytes to every recipient: WebSocket
sessions get the frames (``ws.send_frame``), polling sessions the encoded packets.

When ``compress`` is true (the broadcast may be compressed and the server has
permessage-deflate on), a WebSocket with the extension negotiated (``ws.deflate``
not None) gets each packet of ``ws.deflate.threshold`` bytes or more through its
own compressing ``ws.send(packet)`` instead (the compressor is per connection);
its smaller packets still get the shared frames.  With ``compress`` false, no
recipient is looked at for it.
"""

from __future__ import annotations

from typing import Any

from .wsframe import build_frame

OP_TEXT = 1
OP_BINARY = 2


def _payload_size(frame: bytes) -> int:
    """Return the payload length of an unmasked server frame (from its total length)."""
    n = len(frame)
    return n - (2 if n < 128 else 4 if n < 0x10004 else 10)


def fanout(sessions: list[Any], parts: list[str | bytes], compress: bool = True) -> None:
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
            deflate = ws.deflate if compress else None
            if deflate is not None:
                threshold = deflate.threshold
                for p, frame in zip(packets, frames):
                    if _payload_size(frame) >= threshold:
                        ws.send(p)
                    else:
                        ws.send_frame(frame)
                continue
            for frame in frames:
                ws.send_frame(frame)
        else:
            for p in packets:
                session.send(p)
