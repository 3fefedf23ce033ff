# The declarations of fanout_c.pyx's extension types (see fanout_types.pxi, which
# fastsio/_server/outbox.pxd includes too).
include "fanout_types.pxi"
