"""RFC 6455 WebSocket, sans-I/O: frames, the opening handshake, permessage-deflate.

* :mod:`.frames`: opcodes (``OP_*``), close codes (``CLOSE_*``), the
  :class:`FrameParser` for client frames and the ``build_*`` functions for server
  frames, from the selected twin (:mod:`.frames_py` is the specification).
* :mod:`.handshake`: :func:`check_handshake` and :func:`handshake_response`
  (RFC 6455 4.2).
* :mod:`.deflate`: permessage-deflate (RFC 7692) negotiation and compression.

Nothing here touches sockets or the event loop.  Typical use::

    error = check_handshake(method, headers)        # headers: lower-case keys
    if error is not None:
        ...  # answer 400
    transport.write(handshake_response(headers["sec-websocket-key"]))
    parser = FrameParser(max_size)
    for opcode, value in parser.feed(data): ...
    transport.write(build_frame_text("hello"))

This package's namespace re-exports :mod:`.frames` and :mod:`.handshake`.
"""

from __future__ import annotations

from . import frames, handshake
from .frames import *  # noqa: F403
from .handshake import *  # noqa: F403

__all__ = (*frames.__all__, *handshake.__all__)
