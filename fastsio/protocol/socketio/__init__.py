"""Socket.IO, sans-I/O: the packet codec (v5, and v4 for socket.io-client 1.x/2.x),
the parsers that turn packets into Engine.IO messages, and the decoder that
reassembles binary attachments.

* :mod:`.packets`: packet types (``CONNECT`` ... ``BINARY_ACK``), :class:`Packet`,
  ``encode``/``encode_event``/``decode`` and the attachment helpers, from the
  selected twin (:mod:`.packets_py` is the specification).
* :mod:`.parsers`: ``get_parser("json" | "msgpack" | parser)``, the JSON parser
  (orjson when it is faster) and :mod:`.msgpack_parser`.
* :mod:`.decoder`: one connection's incoming messages -> whole packets.

This package's namespace re-exports :mod:`.packets`.
"""

from __future__ import annotations

from .packets import *  # noqa: F403
from .packets import __all__
