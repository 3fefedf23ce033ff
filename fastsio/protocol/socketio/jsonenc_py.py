"""The JSON writer of the Socket.IO codec, pure-Python twin of ``_speedups/_jsonenc.pyx``.

:mod:`fastsio.protocol.socketio.packets_py` imports :func:`json_dumps` as ``_dumps``.
Its compiled build (compiled as ``fastsio._speedups.sio_c``) binds the C writer of
``_jsonenc.pyx`` in place of it (``_speedups/sio_c.pxd``).  Both must write exactly
the same text; ``tests/speedups/test_helpers.py`` holds them equal.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ("json_dumps",)


_json_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

# A surrogate code point (a lone one, e.g. from the JSON escape "\ud800" that JavaScript
# clients send for a lone surrogate in a string) has no UTF-8 form: written raw, the
# text could not be sent.  Outside strings JSON is ASCII, so escaping every one of
# them in the text is exact, and is what JSON.stringify does.
_surrogate = re.compile("[\ud800-\udfff]")


def _escape_surrogate(m: re.Match[str]) -> str:
    return "\\u%04x" % ord(m.group())


def json_dumps(obj: Any) -> str:
    """Return ``obj`` as the JSON of the Socket.IO codec: compact, UTF-8 (not
    ASCII-escaped) but with surrogates escaped, and NaN/Infinity refused as the
    JavaScript side cannot parse them."""
    s = _json_encode(obj)
    if s.isascii() or _surrogate.search(s) is None:  # isascii() is O(1)
        return s
    return _surrogate.sub(_escape_surrogate, s)
