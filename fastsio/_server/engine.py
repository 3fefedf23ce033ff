"""Engine.IO over HTTP (routing, handshake, long-polling, upgrade): the selector of the ``engine`` twins.

Binds, once, at import, the public names (``__all__``) of the compiled twin
``fastsio._speedups.engine_c`` when it is importable, else of the pure twin
:mod:`engine_py` beside this module, which is the specification; see
:func:`fastsio._speedups.load` for the switches and what is recorded.  In the
compiled twin :class:`Engine` is an extension type whose fields are C fields
(the pure twin's ``__slots__``), read by every request and handshake without a
descriptor lookup.  Type checkers always see the pure twin.  The rest of the
package imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._speedups import bind

if TYPE_CHECKING:
    from .engine_py import *  # noqa: F403
    from .engine_py import __all__ as __all__
else:
    bind(globals(), "engine", __name__ + "_py")
