# The fanout selector's extension types as the compiled twins that subclass them see
# them (Cython declarations; see fastsio/_speedups/fanout_types.pxi).
include "../_speedups/fanout_types.pxi"
