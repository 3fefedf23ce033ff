"""The Engine.IO session state machine: the selector of the ``session`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.session_c`` when it is importable, else of the pure twin
:mod:`session_py` beside this module, which is the specification (its module
docstring states the rules); see :func:`fastsio._speedups.load` for the switches
and what is recorded.  The compiled :class:`Session` is an extension type, so the
compiled broadcast fan-out (``fastsio._speedups.fanout_c``) queues a packet for a
long-polling session and checks its queue's limit without a Python-level call.
Type checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._speedups import bind

if TYPE_CHECKING:
    from .session_py import *  # noqa: F403
    from .session_py import __all__ as __all__
else:
    bind(globals(), "session", __name__ + "_py")
