"""WebSocket masking and frame assembly, pure-Python twin of ``_speedups/_frame.pyx``.

:mod:`fastsio.protocol.websocket.frames_py` imports these under private names.
Its compiled build (the same source compiled as ``fastsio._speedups.wsframe_c``)
does not call them: ``_speedups/wsframe_c.pxd`` cimports the C functions of the
same names from ``_frame.pyx``, which Cython binds in place of this import.  Each
C helper must return exactly what its version here returns;
``tests/speedups/test_helpers.py`` holds them equal.
"""

from __future__ import annotations

import struct

__all__ = ("INT_XOR_MAX", "frame", "unmask", "unmask_large")
# Payloads up to this many bytes are unmasked with the int XOR trick, larger
# ones with bytes.translate (crossover measured on CPython 3.11: the int XOR is
# 2x faster than translate at 100 bytes, translate 2.5x faster at 64 KiB).
INT_XOR_MAX = 512


def _make_xor_tables() -> tuple[bytes, ...]:
    """Return the 256 translation tables ``t[k][i] == i ^ k``."""
    ident = int.from_bytes(bytes(range(256)), "big")
    return tuple((ident ^ int.from_bytes(bytes((k,)) * 256, "big")).to_bytes(256, "big") for k in range(256))


_XOR_TABLES = _make_xor_tables()


def unmask_large(mask: bytes | bytearray, data: bytes | bytearray | memoryview) -> bytes:
    """Return ``data`` XOR ``mask``, by four strided ``bytes.translate`` calls."""
    buf = bytearray(data)
    buf[0::4] = buf[0::4].translate(_XOR_TABLES[mask[0]])
    buf[1::4] = buf[1::4].translate(_XOR_TABLES[mask[1]])
    buf[2::4] = buf[2::4].translate(_XOR_TABLES[mask[2]])
    buf[3::4] = buf[3::4].translate(_XOR_TABLES[mask[3]])
    return bytes(buf)


def unmask(src: bytes | bytearray, start: int, end: int) -> bytes:
    """Return the payload ``src[start:end]`` unmasked (RFC 6455 5.3).

    The 4-byte masking key is ``src[start - 4:start]``, as in a client frame.
    The caller guarantees ``4 <= start <= end <= len(src)``.
    """
    n = end - start
    if n == 0:
        return b""
    if n <= INT_XOR_MAX:
        # XOR as two little-endian ints: the key repeated to exactly n bytes.
        return (
            int.from_bytes(src[start:end], "little")
            ^ int.from_bytes((src[start - 4 : start] * ((n + 3) >> 2))[:n], "little")
        ).to_bytes(n, "little")
    return unmask_large(src[start - 4 : start], src[start:end])


_pack_h2 = struct.Struct("!BB").pack
_pack_h4 = struct.Struct("!BBH").pack
_pack_h10 = struct.Struct("!BBQ").pack


def frame(b0: int, payload: bytes | bytearray | memoryview) -> bytes:
    """Return a server frame: first byte ``b0``, minimal length form, no mask (RFC 6455 5.2).

    The caller has validated ``b0`` (FIN, RSV and opcode bits).
    """
    if type(payload) is not bytes:
        # Any buffer, by its bytes (the len() of a memoryview counts items).
        payload = bytes(payload)
    n = len(payload)
    if n < 126:
        return _pack_h2(b0, n) + payload
    if n < 0x10000:
        return _pack_h4(b0, 126, n) + payload
    return _pack_h10(b0, 127, n) + payload
