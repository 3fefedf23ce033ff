"""The Socket.IO packet codec: the selector of the ``sio`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.sio_c`` when it is importable, else of the pure twin
:mod:`packets_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  Type
checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._speedups import bind

if TYPE_CHECKING:
    from .packets_py import *  # noqa: F403
    from .packets_py import __all__ as __all__
else:
    bind(globals(), "sio", __name__ + "_py")
