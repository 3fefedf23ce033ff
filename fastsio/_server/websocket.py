"""The WebSocket transport: the selector of the ``websocket`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.websocket_c`` when it is importable, else of the pure twin
:mod:`websocket_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`WebSocketConnection` is an extension type (a subtype of the
compiled ``FlowControl``) whose fields are C fields.
Type checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._speedups import bind
from . import flow_control  # noqa: F401 - the compiled WebSocketConnection's base, chosen first (see _speedups.BASES)

if TYPE_CHECKING:
    from .websocket_py import *  # noqa: F403
    from .websocket_py import __all__ as __all__
else:
    bind(globals(), "websocket", __name__ + "_py")
