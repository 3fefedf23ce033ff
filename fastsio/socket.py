"""Sockets and the per-connection client: the selector of the ``socket`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.socket_c`` when it is importable, else of the pure twin
:mod:`fastsio.socket_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`Socket` and :class:`Client` are extension types: their
fields are C fields (the pure twin's ``__slots__``, same names), so the code of
the connect and event paths reads them without a descriptor lookup.  Type
checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._speedups import bind

if TYPE_CHECKING:
    from .socket_py import *  # noqa: F403
    from .socket_py import __all__ as __all__
else:
    bind(globals(), "socket", __name__ + "_py")
