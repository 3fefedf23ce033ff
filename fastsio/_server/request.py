"""The HTTP request object, and the strings requests share: the selector of the ``request`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.request_c`` when it is importable, else of the pure twin
:mod:`request_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`Request` is an extension type whose fields are C fields, and
the string tables and query splitting, which every request goes through, are C
code.  Type checkers always see the pure twin.  The rest of the package imports
this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._speedups import bind

if TYPE_CHECKING:
    from .request_py import *  # noqa: F403
    from .request_py import __all__ as __all__
else:
    bind(globals(), "request", __name__ + "_py")
