# The C declaration of flow_control_c's extension type, FlowControl, a subtype of
# the compiled Outbox.  Included by flow_control_c.pxd (the module compiled from
# fastsio/_server/flow_control_py.py) and by fastsio/_server/flow_control.pxd (the
# selector, as http_c and websocket_c, whose types are its subtypes, see it); see
# fanout_types.pxi for why a type is declared for its selector too.

from fastsio._server.outbox cimport Outbox


cdef class FlowControl(Outbox):
    cdef public object client
    cdef public bint dropping
