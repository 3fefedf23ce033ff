"""Random ids (Engine.IO session ids, Socket.IO socket ids, recovery session ids).

20 URL-safe characters from 15 random bytes, like the reference server's ``base64id``.
The bytes come from ``os.urandom`` in blocks (one system call per 256 ids, not per id,
as base64id pools ``crypto.randomBytes``), and a block is base64-encoded at once: 15
bytes are five whole 3-byte groups, so the block's encoding is its 256 ids end to end,
and an id is a slice of that string.  A forked child drops the parent's block, so two
processes never hand out the same ids.  A lock keeps two threads (two servers on two
loops, say) from taking the same id.
"""

from __future__ import annotations

import base64
import os
import threading

_ID_BYTES = 15
_ID_CHARS = 20  # base64 of 15 bytes, no padding
_IDS_PER_BLOCK = 256
_BLOCK_CHARS = _ID_CHARS * _IDS_PER_BLOCK
_pool = ""
_pos = _BLOCK_CHARS
_lock = threading.Lock()


def random_id() -> str:
    """A new 20-character URL-safe random id."""
    global _pool, _pos
    with _lock:
        pos = _pos
        if pos >= _BLOCK_CHARS:
            _pool = base64.urlsafe_b64encode(os.urandom(_ID_BYTES * _IDS_PER_BLOCK)).decode("ascii")
            pos = 0
        _pos = pos + _ID_CHARS
        return _pool[pos : pos + _ID_CHARS]


def _forget_pool() -> None:
    global _pool, _pos, _lock
    _pool = ""
    _pos = _BLOCK_CHARS
    _lock = threading.Lock()  # (a lock held by another thread at fork stays held)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
