# cython-source: fastsio/protocol/websocket/frames_py.py
# Augmenting declarations for frames_py.py compiled as ``wsframe_c`` (STYLE 2.2).
#
# setup.py copies frames_py.py to build/cython/fastsio/_speedups/wsframe_c.py
# beside this file and cythonizes it there, so the package never holds an
# importable ``wsframe_c.py``.  Only private names are declared: a ``cdef``
# module global disappears from the module dict, and the public OP_* /
# CLOSE_* names must stay importable.
#
# Integer widths: payload lengths are at most 2**63 - 1 (RFC 6455 5.2, the
# parser rejects the high bit), so lengths, sizes and the size limit are
# ``unsigned long long``; FrameParser.__init__ maps a limit >= 2**63 to 0
# (none), which no frame could tell apart.

import cython

from fastsio._speedups._frame cimport frame as _frame
from fastsio._speedups._frame cimport unmask as _unmask

cdef frozenset _WIRE_CLOSE_CODES
cdef frozenset _LOCAL_CLOSE_CODES
cdef object _NO_LIMIT
cdef unsigned long long _HUGE
cdef bytes _DEFLATE_TRAILER
cdef Py_ssize_t _MAX_CLOSE_REASON
cdef str _ACCEPT_GUID
cdef object _pack_h2
cdef object _pack_h4
cdef object _pack_h10
cdef tuple _TEXT_HEADERS
cdef tuple _BINARY_HEADERS
cdef object _utf8_decoder


@cython.locals(n=Py_ssize_t, code=int)
cdef tuple _parse_close(bytes payload)


cdef class FrameParser:
    cdef unsigned long long _max_size
    cdef bytearray _buf
    cdef unsigned long long _need
    cdef int _frag_opcode
    cdef list _frag_parts
    cdef unsigned long long _frag_size
    cdef object _decoder
    cdef int _inflate_bits
    cdef unsigned long long _wire_max
    cdef bint _inflate_reset
    cdef object _inflater
    cdef bint _frag_compressed
    cdef bint _closed
    cdef object _error

    @cython.locals(buf=bytearray, have="unsigned long long", pos=Py_ssize_t, events=list)
    cpdef list feed(self, object data)

    cdef _fail(self, object exc, list events)

    @cython.locals(
        data="const unsigned char *",
        end="unsigned long long",
        pos=Py_ssize_t,
        avail=Py_ssize_t,
        start=Py_ssize_t,
        k=Py_ssize_t,
        hlen=Py_ssize_t,
        max_size="unsigned long long",
        frag=int,
        need="unsigned long long",
        b0=int,
        b1=int,
        opcode=int,
        fin=int,
        n="unsigned long long",
        frame_end="unsigned long long",
        payload=bytes,
    )
    cdef Py_ssize_t _parse(self, object src, list events) except -1

    @cython.locals(opcode=int, fin=int)
    cdef int _fragment(self, int b0, unsigned long long n, bytes payload, list events) except -1

    @cython.locals(max_size="unsigned long long", room="unsigned long long", cap="unsigned long long", out=bytes)
    cdef bytes _inflate(self, bytes data, int fin)



@cython.locals(n=Py_ssize_t, b0=int)
cpdef bytes build_frame(object opcode, object payload, object fin=*, object rsv1=*)
