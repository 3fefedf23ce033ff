# The flow_control selector's extension type as the compiled twins that subclass it
# see it (Cython declarations; see fastsio/_speedups/flow_control_types.pxi).
include "../_speedups/flow_control_types.pxi"
