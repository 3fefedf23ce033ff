"""The HTTP/1.1 protocol of a TCP connection, on httptools: the selector of the ``http`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.http_c`` when it is importable, else of the pure twin
:mod:`http_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`Connection` is an extension type (a subtype of the compiled
``FlowControl``) whose fields are C fields: the request path reads and writes
a few dozen of them per request without a descriptor lookup.
Type checkers always see the pure twin.  The rest of the package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._speedups import bind
from . import flow_control  # noqa: F401 - the compiled Connection's base, chosen first (see _speedups.BASES)

if TYPE_CHECKING:
    from .http_py import *  # noqa: F403
    from .http_py import __all__ as __all__
else:
    bind(globals(), "http", __name__ + "_py")
