"""Pointer-level helpers of the compiled frame codec (the twin of ``wsframe``).

Each returns exactly what its pure version in ``fastsio/protocol/websocket/mask_py.py`` returns:

* ``unmask(src, start, end)``: the payload ``src[start:end]`` XOR the 4-byte key
  ``src[start - 4:start]`` (RFC 6455 5.3), without slicing ``src`` or building
  Python ints: one ``bytes`` allocation and a loop over 8-byte words.  ``src``
  is the parser's receive block, a ``bytes`` or a ``bytearray``.
* ``frame(b0, payload)``: a server frame (5.2: first byte, minimal length
  form, no mask) written into one allocation.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy


cpdef bytes unmask(object src, Py_ssize_t start, Py_ssize_t end):
    """Return the payload ``src[start:end]`` unmasked with the key ``src[start - 4:start]``.

    Raises:
        TypeError: ``src`` is not ``bytes`` or ``bytearray``.
        ValueError: the bounds do not fit ``src`` (the frame parser never
            passes such bounds; the check keeps the C loop in bounds).
    """
    cdef const unsigned char* base
    cdef Py_ssize_t size
    if type(src) is bytes:
        base = <const unsigned char*>PyBytes_AS_STRING(src)
        size = PyBytes_GET_SIZE(src)
    elif type(src) is bytearray:
        base = <const unsigned char*>PyByteArray_AS_STRING(src)
        size = PyByteArray_GET_SIZE(src)
    else:
        raise TypeError(f"expected bytes or bytearray, got {type(src).__name__}")
    if start < 4 or end < start or end > size:
        raise ValueError("payload bounds outside the buffer")
    cdef Py_ssize_t n = end - start
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    if n == 0:
        return out
    cdef unsigned char* dst = <unsigned char*>PyBytes_AS_STRING(out)
    cdef const unsigned char* payload = base + start
    cdef const unsigned char* key = base + start - 4
    cdef uint32_t key32
    cdef uint64_t key64, word
    cdef Py_ssize_t i = 0
    # memcpy keeps the key's byte order whatever the endianness, and makes the
    # unaligned 8-byte loads well defined (compilers turn it into plain moves).
    memcpy(&key32, key, 4)
    key64 = (<uint64_t>key32 << 32) | key32
    while i + 8 <= n:
        memcpy(&word, payload + i, 8)
        word ^= key64
        memcpy(dst + i, &word, 8)
        i += 8
    # i is a multiple of 8 here, so the key index of byte i is i & 3.
    while i < n:
        dst[i] = payload[i] ^ key[i & 3]
        i += 1
    return out


cdef inline bytes _frame(int b0, const unsigned char* data, Py_ssize_t n):
    cdef Py_ssize_t hlen = 2 if n < 126 else 4 if n < 0x10000 else 10
    cdef bytes out = PyBytes_FromStringAndSize(NULL, hlen + n)
    cdef unsigned char* dst = <unsigned char*>PyBytes_AS_STRING(out)
    cdef uint64_t length = <uint64_t>n
    cdef int k
    dst[0] = <unsigned char>b0
    if hlen == 2:
        dst[1] = <unsigned char>n
    elif hlen == 4:
        dst[1] = 126
        dst[2] = <unsigned char>(length >> 8)
        dst[3] = <unsigned char>length
    else:
        dst[1] = 127
        for k in range(8):
            dst[2 + k] = <unsigned char>(length >> (56 - 8 * k))
    if n:
        memcpy(dst + hlen, data, n)
    return out


cpdef bytes frame(int b0, object payload):
    """Return a server frame: first byte ``b0``, minimal length form, no mask (RFC 6455 5.2)."""
    cdef Py_buffer view
    if type(payload) is bytes:
        return _frame(b0, <const unsigned char*>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
    # bytearray, memoryview, any buffer (the pure version concatenates them).
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        return _frame(b0, <const unsigned char*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
