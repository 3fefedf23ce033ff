# cython-source: fastsio/_server/websocket_py.py
# Augmenting declarations for websocket_py.py compiled as ``websocket_c`` (STYLE 2.2;
# see wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared
# so that they remain module attributes.
#
# ``WebSocketConnection`` becomes an extension type, a subtype of the compiled
# ``FlowControl`` (and so of ``Outbox``): its fields are C fields, the pure twin's
# ``__slots__`` in the same order and with the same names, all objects and all
# readable and writable from Python (a test compares the twins' fields).  Its
# Engine.IO v3 variant stays a Python subclass.

from fastsio._server.flow_control cimport FlowControl


cdef class WebSocketConnection(FlowControl):
    cdef public object app
    cdef public object loop
    cdef public object frames
    cdef public object spare
    cdef public object handler
    cdef public object metrics
