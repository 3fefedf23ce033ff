"""Random ids (Engine.IO session ids, Socket.IO socket ids, recovery session ids).

20 URL-safe characters from 15 random bytes, like the reference server's ``base64id``.
The bytes come from ``os.urandom`` in blocks (one system call per 256 ids, not per id,
as base64id pools ``crypto.randomBytes``); a forked child drops the parent's block, so
two processes never hand out the same ids.  A lock keeps two threads (two servers on
two loops, say) from taking the same bytes.
"""

from __future__ import annotations

import base64
import os
import threading

_ID_BYTES = 15
_BLOCK = _ID_BYTES * 256
_pool = b""
_pos = 0
_lock = threading.Lock()


def random_id() -> str:
    """A new 20-character URL-safe random id."""
    global _pool, _pos
    with _lock:
        pos = _pos
        if pos + _ID_BYTES > len(_pool):
            _pool = os.urandom(_BLOCK)
            pos = 0
        _pos = pos + _ID_BYTES
        raw = _pool[pos : pos + _ID_BYTES]
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _forget_pool() -> None:
    global _pool, _pos, _lock
    _pool = b""
    _pos = 0
    _lock = threading.Lock()  # (a lock held by another thread at fork stays held)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
