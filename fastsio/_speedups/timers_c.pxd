# cython-source: fastsio/_server/timers_py.py
# Augmenting declarations for timers_py.py compiled as ``timers_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared so
# that they remain module attributes.
#
# ``TimerWheel`` becomes an extension type: its fields are C fields, the pure twin's
# ``__slots__`` in the same order and with the same names, readable and writable from
# Python (a test compares the twins' fields).  The bucket table and the heap are a C
# dict and list and the bucket width a C double, so that ``schedule`` -- every
# session, request and heartbeat files itself on the wheel -- finds its bucket without
# a Python-level attribute lookup.  Bucket indices stay Python ints, as in the pure
# twin (a deadline far in the future is a large index, not an overflow).  The objects
# on the wheel stay untyped (sessions, HTTP connections, clients: anything with
# ``timer_slot`` and ``on_timer``).

cimport cython


cdef class TimerWheel:
    cdef public object loop
    cdef public double resolution
    cdef public dict buckets
    cdef public list heap
    cdef public object handle
    cdef public object armed
    cdef public object log

    @cython.locals(bucket=list)
    cpdef schedule(self, object obj, double when)
    cpdef file_by(self, object obj, double when)
    cpdef cancel(self, object obj)
    cdef _arm(self, object idx)
