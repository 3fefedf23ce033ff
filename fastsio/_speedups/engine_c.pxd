# cython-source: fastsio/_server/engine_py.py
# Augmenting declarations for engine_py.py compiled as ``engine_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared so
# that they remain module attributes.
#
# ``Engine`` becomes an extension type: its fields are C fields, the pure twin's
# ``__slots__`` in the same order and with the same names (a test compares the two
# twins' fields), all objects and all readable and writable from Python.  What this
# saves is the descriptor lookup of each ``self.<field>`` in the request, handshake
# and upgrade paths, which read a dozen of them per request.

cdef class Engine:
    cdef public object options
    cdef public object base_log
    cdef public object log
    cdef public object server_log
    cdef public object path
    cdef public object path_noslash
    cdef public object transports
    cdef public object versions
    cdef public object factory
    cdef public object fallback
    cdef public object websocket_fallback
    cdef public object sessions
    cdef public object transport_changes
    cdef public object observers
    cdef public object hooks
    cdef public object connections
    cdef public object spare_frame_parsers
    cdef public object max_connections_per_ip
    cdef public object max_concurrent_handshakes
    cdef public object draining
    cdef public object per_ip
    cdef public object counted
    cdef public object handshaking
    cdef public object _refusals
    cdef public object loop
    cdef public object wheel
    cdef public object flusher
    cdef public object metrics
    cdef public object metrics_path
    cdef public object router
    cdef object __weakref__
