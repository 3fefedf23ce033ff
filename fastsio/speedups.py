"""Which twin each hot module uses, and why: ``import fastsio.speedups``.

This module is the public report of the loader (:mod:`fastsio._speedups`).  It is a
read-only mapping as well as a module::

    import fastsio.speedups
    fastsio.speedups["wsframe"]          # "cython" or "python"
    dict(fastsio.speedups)               # every twin
    fastsio.speedups.reasons["wsframe"]  # why: "compiled twin loaded", "FASTSIO_NO_EXTENSIONS is set" ...
    fastsio.speedups.compiled            # True when every twin is the compiled one

    from fastsio.speedups import reasons, implementations, compiled

How it works: the module's class is swapped, once, for a :class:`ModuleType` subclass
that is also a :class:`~collections.abc.Mapping` over the loader's
``IMPLEMENTATIONS``; ``reasons`` and ``implementations`` are read-only views of the
loader's dicts, so they are complete once ``fastsio`` is imported (every selector has
run by then).  ``fastsio speedups`` from the command line: ``fastsio version``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from types import MappingProxyType, ModuleType

from . import _speedups

__all__ = ("compiled", "implementations", "reasons")

#: twin name -> ``"cython"`` or ``"python"`` (read-only)
implementations: Mapping[str, str] = MappingProxyType(_speedups.IMPLEMENTATIONS)
#: twin name -> why that twin is in use (read-only)
reasons: Mapping[str, str] = MappingProxyType(_speedups.REASONS)


class SpeedupsModule(ModuleType, Mapping[str, str]):
    """The class of this module: a module that reads as the mapping twin -> implementation.

    Identity equality and hashing stay the module's (``Mapping`` would make it unhashable).
    """

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __getitem__(self, name: str) -> str:
        """Return ``"cython"`` or ``"python"`` for the twin ``name``."""
        return _speedups.IMPLEMENTATIONS[name]

    def __iter__(self) -> Iterator[str]:
        """Iterate over the twins' names."""
        return iter(_speedups.IMPLEMENTATIONS)

    def __len__(self) -> int:
        """Return how many twins there are."""
        return len(_speedups.IMPLEMENTATIONS)

    @property
    def compiled(self) -> bool:
        """True when every twin is the compiled one."""
        values = _speedups.IMPLEMENTATIONS.values()
        return bool(values) and all(v == "cython" for v in values)

    def __repr__(self) -> str:
        return f"<module fastsio.speedups {_speedups.IMPLEMENTATIONS!r}>"


#: True when every twin is the compiled one (a property of the module: always current)
compiled: bool

sys.modules[__name__].__class__ = SpeedupsModule
