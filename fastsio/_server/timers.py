"""One shared timer for every session, a bucketed timer wheel: the selector of the ``timers`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.timers_c`` when it is importable, else of the pure twin
:mod:`timers_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`TimerWheel` is an extension type whose fields are C fields:
every session, HTTP request and heartbeat files itself on it.  Type checkers
always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._speedups import bind

if TYPE_CHECKING:
    from .timers_py import *  # noqa: F403
    from .timers_py import __all__ as __all__
else:
    bind(globals(), "timers", __name__ + "_py")
