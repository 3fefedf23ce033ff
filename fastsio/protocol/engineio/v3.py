"""The Engine.IO v3 packet and payload codec: the selector of the ``eio3`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.eio3_c`` when it is importable, else of the pure twin
:mod:`v3_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  Type
checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._speedups import bind

if TYPE_CHECKING:
    from .v3_py import *  # noqa: F403
    from .v3_py import __all__ as __all__
else:
    bind(globals(), "eio3", __name__ + "_py")
