"""Engine.IO, sans-I/O: packet and payload codecs (v4, and v3 for socket.io-client
1.x/2.x) and the :class:`~.session.Session` state machine.

* :mod:`.packets`: the v4 codec (``encode_packet``, ``decode_packet``,
  ``encode_payload``, ``decode_payload``, :class:`EngineIOError`), from the selected
  twin (:mod:`.packets_py` is the specification).
* :mod:`.v3`: the v3 codec (:class:`Eio3Codec` for polling payloads, base64, JSONP),
  from the selected twin (:mod:`.v3_py`).
* :mod:`.wire`: packet types, the fixed packets, the OPEN packet and the error
  answers of the reference server.
* :mod:`.session`: one session's rules (heartbeat, polling, upgrade, close), time
  passed in, transports and timers behind the interfaces it declares.

This package's namespace re-exports the codecs and :mod:`.wire` (the v3 packet
functions as ``decode_packet3`` / ``encode_packet3``).
"""

from __future__ import annotations

from . import packets, wire
from .packets import *  # noqa: F403
from .v3 import TEXT_PLAIN, TEXT_UNKNOWN, TEXT_UTF8, Eio3Codec, decode_jsonp_body, jsonp_index
from .v3 import decode_packet as decode_packet3
from .v3 import encode_packet as encode_packet3
from .wire import *  # noqa: F403

__all__ = [
    "TEXT_PLAIN",
    "TEXT_UNKNOWN",
    "TEXT_UTF8",
    "Eio3Codec",
    "decode_jsonp_body",
    "decode_packet3",
    "encode_packet3",
    "jsonp_index",
]
__all__ += packets.__all__
__all__ += wire.__all__
