# cython-source: fastsio/socket_py.py
# Augmenting declarations for socket_py.py compiled as ``socket_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared so
# that they remain module attributes.
#
# ``Socket`` and ``Client`` become extension types: their fields are C fields, the
# pure twin's ``__slots__`` in the same order and with the same names, all readable
# and writable from Python (a test compares the two twins' fields).  Most stay
# objects, so the twins hold the same values; the flags are C ints (``bint``: a
# Python bool read back), the counters C ssize_t, and the socket's connection time a
# C double (the float object it was is 24 bytes per socket).  Python subclasses (the
# Admin UI's counting client) override their ``def`` methods as before.

cdef class Socket:
    cdef public object id
    cdef public object namespace
    cdef public object client
    cdef public object _handshake
    cdef public object _auth
    cdef public double _issued
    cdef public object _data
    cdef public bint connected
    cdef public bint recovered
    cdef public object _acks
    cdef public object _held
    cdef public object _timeout
    cdef public bint _volatile
    cdef public bint _compress
    cdef public object any_in
    cdef public object any_out
    cdef public object middlewares
    cdef public object pid
    cdef public object restoring
    cdef public object _bucket
    cdef public Py_ssize_t pending_handlers
    cdef object __weakref__


cdef class Client:
    cdef public object server
    cdef public object session
    cdef public object first_nsp
    cdef public object first
    cdef public dict others
    cdef public object connecting
    cdef public Py_ssize_t queued
    cdef public Py_ssize_t queued_bytes
    cdef public Py_ssize_t partial_bytes
    cdef public object pending
    cdef public object timer_slot
