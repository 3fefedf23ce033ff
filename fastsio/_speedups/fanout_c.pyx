"""Broadcast fan-out, compiled twin of ``fanout_py.py`` (same behaviour, one C loop).

The Engine.IO packets are built once and the WebSocket frames once, on the
first WebSocket recipient; then every recipient gets the same objects:
``ws.send_frame(frame)`` for a WebSocket session, ``session.send(packet)`` for
a polling one.  Nothing is allocated per recipient.  When ``compress`` is true
(the broadcast may be compressed and the server has permessage-deflate on), a
WebSocket with the extension negotiated (``ws.deflate`` not None) gets its
packets of ``ws.deflate.threshold`` bytes or more through its own compressing
``ws.send(packet)`` instead.
"""

from .wsframe import build_frame


cdef inline Py_ssize_t _payload_size(bytes frame):
    # the payload length of an unmasked server frame, from its total length
    cdef Py_ssize_t n = len(frame)
    return n - (2 if n < 128 else 4 if n < 0x10004 else 10)


cdef _send_deflated(object ws, object deflate, list packets, list frames):
    # a connection with permessage-deflate: its own compressing send() for the
    # packets at or over its threshold, the shared frames for the others
    cdef Py_ssize_t i
    cdef object threshold = deflate.threshold
    for i in range(len(frames)):
        if _payload_size(<bytes>frames[i]) >= threshold:
            ws.send(packets[i])
        else:
            ws.send_frame(frames[i])


def fanout(sessions, parts, bint compress=True):
    """Hand one encoded Socket.IO packet (``parts``: text, then attachments) to every session."""
    cdef list packets = []
    cdef list frames = None
    cdef object frame0 = None
    cdef Py_ssize_t n_frames = 0
    cdef object session, ws, part, p, frame, deflate
    for part in parts:
        if isinstance(part, str):
            packets.append("4" + part)
        else:
            packets.append(part)
    # Cython iterates an exact list or tuple by index (re-reading its size at
    # each step, as the list iterator does), anything else as an iterator.
    for session in sessions:
        ws = session.ws
        if ws is not None:
            if frames is None:
                frames = [build_frame(1, p) if isinstance(p, str) else build_frame(2, p) for p in packets]
                n_frames = len(frames)
                if n_frames == 1:
                    frame0 = frames[0]
            if compress:
                # (a C test first: servers without the extension pass False)
                deflate = ws.deflate
                if deflate is not None:
                    _send_deflated(ws, deflate, packets, frames)
                    continue
            if n_frames == 1:
                # The common case: one text packet, one frame.
                ws.send_frame(frame0)
            else:
                for frame in frames:
                    ws.send_frame(frame)
        else:
            for p in packets:
                session.send(p)
