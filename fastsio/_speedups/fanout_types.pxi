# The C declarations of fanout_c's extension types, Flusher and Outbox: their fields
# and C methods (the layout and the vtable that subtypes extend).
#
# Included twice, so that the layout is written once: by fanout_c.pxd (the module that
# implements them), and by fastsio/_server/outbox.pxd, which declares them as
# attributes of the fanout selector, fastsio._server.outbox.  The compiled connection
# types (flow_control_c's FlowControl, then http_c's Connection and websocket_c's
# WebSocketConnection) are their subtypes: their pure twins import the base from the
# selector, as every module of the package does, and Cython then needs the base
# declared for that module name.  At import, Cython takes the type from the selector
# and checks its size, so a pure fanout twin with a compiled subtype is an
# ImportError, and that subtype's selector falls back to its pure twin.

cimport cython


cdef class Flusher:
    cdef public object loop
    cdef public list pending
    cdef public bint scheduled
    cdef public bint counting
    cdef public long long bytes_out
    cdef public long long writes
    cdef object _run
    cdef public list last_chunks
    cdef public bytes last_joined

    @cython.final
    cdef void _add(self, object conn) except *


cdef class Outbox:
    cdef public object transport
    cdef public object flusher
    cdef public object wbuf
    cdef public Py_ssize_t wbytes
    cdef public Py_ssize_t limit
    cdef public bint closed
    cdef public bint paused
    cdef public bint ws_mode
    cdef public bint ws_closing
    cdef public bint eio3
    cdef public object deflate
    cdef public bint drop_slow

    # final: direct C calls, as when they were inline (the fan-out loop calls _write
    # once per recipient)
    @cython.final
    cdef int _write(self, bytes data) except -1
    @cython.final
    cdef int _emit(self, object buf) except -1
    @cython.final
    cdef int _flush(self) except -1
