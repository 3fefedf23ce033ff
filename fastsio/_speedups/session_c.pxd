# cython-source: fastsio/protocol/engineio/session_py.py
# Augmenting declarations for session_py.py compiled as ``session_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared so
# that they remain module attributes.
#
# ``Session`` becomes an extension type: its fields are C fields (the pure twin's
# ``__slots__``, same names, all readable and writable from Python), and ``send`` and
# ``send_packets`` are ``cpdef``, so that ``fanout_c`` (which cimports this file)
# queues a broadcast for a long-polling session without a Python-level call.  The
# fields that the layers above may set to any number (``ping_interval`` and its kin,
# read back into the handshake) stay objects, so the twins read back the same values.
# ``deadline`` and ``probe_deadline`` are C doubles: the session computes them (loop
# times, always floats; 0.0 for no probe), and a float object per session was 24 bytes.
# ``max_queue`` and ``queued`` are C ssize_t: the engine sets ``max_queue`` from
# ``max_buffer_size``, at most 2**31 - 1 (as an object field it cost a third of the
# polling fan-out rate; a limit of 2**63 or more would be an OverflowError here).

import cython


cdef class Session:
    cdef public object sid
    cdef public int eio
    cdef public object transport
    cdef public int state
    cdef public object handler
    cdef public object ws
    cdef public object probe
    cdef public object poll
    cdef public object queue
    cdef public bint upgrading
    cdef public bint upgraded
    cdef public object ping_interval
    cdef public object ping_timeout
    cdef public object upgrade_timeout
    cdef public object owner
    cdef public double deadline
    cdef public bint awaiting_pong
    cdef public double probe_deadline
    cdef public object close_reason
    cdef public object request
    cdef public object timer_slot
    cdef public Py_ssize_t max_queue
    cdef public Py_ssize_t queued
    cdef public bint drop_when_full
    cdef public object v3
    cdef public object metrics

    @cython.locals(queued=Py_ssize_t)
    cpdef send(self, object encoded, bint compress=*)

    cpdef bint send_packets(self, object packets)
