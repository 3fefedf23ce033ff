# cython-source: fastsio/_server/http_py.py
# Augmenting declarations for http_py.py compiled as ``http_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared so
# that they remain module attributes.
#
# ``Connection`` becomes an extension type, a subtype of the compiled ``FlowControl``
# (and so of ``Outbox``): its fields are C fields, the pure twin's ``__slots__`` in the
# same order and with the same names, all readable and writable from Python (a test
# compares the twins' fields).  The flags are C ints (``bint``), the byte counts
# C ssize_t, the deadline a C double (0.0: none); the rest stay objects.  The request
# path reads and writes these fields a few dozen times per request.

from fastsio._server.flow_control cimport FlowControl


cdef class Connection(FlowControl):
    cdef public object app
    cdef public object loop
    cdef public bint secure
    cdef public object parser
    cdef public bytes url
    cdef public dict hdrs
    cdef public Py_ssize_t header_count
    cdef public Py_ssize_t header_bytes
    cdef public object body
    cdef public Py_ssize_t body_size
    cdef public object body_limit
    cdef public object request
    cdef public bint busy
    cdef public object backlog
    cdef public bint draining
    cdef public bint reading_paused
    cdef public bint keep_alive
    cdef public object poll_headers
    cdef public object poll_owner
    cdef public object poll_encoding
    cdef public object websocket
    cdef public object timer_slot
    cdef public double deadline
    cdef public bint in_request
    cdef public object metrics
    cdef public object passing
