# cython-source: fastsio/_server/flow_control_py.py
# Augmenting declarations for flow_control_py.py compiled as ``flow_control_c``
# (STYLE 2.2; see wsframe_c.pxd for how setup.py builds it): ``FlowControl`` an
# extension type, a subtype of the compiled ``Outbox`` (flow_control_types.pxi).
include "flow_control_types.pxi"
