"""Flow control and the slow-consumer policy of a connection's write side: the selector of the ``flow_control`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.flow_control_c`` when it is importable, else of the pure twin
:mod:`flow_control_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`FlowControl` is an extension type, a subtype of the compiled
``Outbox`` (see ``_speedups/fanout_types.pxi``), and the base of the compiled
HTTP and WebSocket connections.
Type checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._speedups import bind
from . import outbox  # noqa: F401 - the fanout twin, the compiled FlowControl's base, chosen first (see _speedups.BASES)

if TYPE_CHECKING:
    from .flow_control_py import *  # noqa: F403
    from .flow_control_py import __all__ as __all__
else:
    bind(globals(), "flow_control", __name__ + "_py")
