"""Selector layer for the compiled twins.

Each hot module ``x`` has a pure-Python twin and, when built, a compiled twin.
A selector module (``wsframe.py``, ``eio.py``, ``sio.py``, ``fanout.py``) calls
:func:`load` once, at import, and binds the chosen module's names.  Nothing else
in the package names a compiled or pure module directly.

Switches, read once here:

* ``FASTSIO_NO_EXTENSIONS=1`` forces the pure twins (also forced off CPython).
* ``FASTSIO_REQUIRE_EXTENSIONS=1`` turns a missing compiled twin into an ImportError.

``IMPLEMENTATIONS[name]`` is ``"cython"`` or ``"python"``; ``REASONS[name]`` says why.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

__all__ = ("IMPLEMENTATIONS", "NO_EXTENSIONS", "REASONS", "REQUIRE_EXTENSIONS", "load")

NO_EXTENSIONS: bool = bool(os.environ.get("FASTSIO_NO_EXTENSIONS")) or (
    sys.implementation.name != "cpython"
)
REQUIRE_EXTENSIONS: bool = bool(os.environ.get("FASTSIO_REQUIRE_EXTENSIONS"))

IMPLEMENTATIONS: dict[str, str] = {}
REASONS: dict[str, str] = {}


def load(name: str) -> ModuleType:
    """Return the twin to use for ``name`` and record the choice."""
    base = f"{__name__}.{name}"
    if NO_EXTENSIONS:
        why = (
            "FASTSIO_NO_EXTENSIONS is set"
            if os.environ.get("FASTSIO_NO_EXTENSIONS")
            else f"{sys.implementation.name} is not CPython"
        )
    else:
        try:
            mod = importlib.import_module(base + "_c")
        except ImportError as exc:
            if REQUIRE_EXTENSIONS:
                raise ImportError(
                    f"fastsio: compiled twin {name!r} is missing and "
                    f"FASTSIO_REQUIRE_EXTENSIONS is set: {exc}"
                ) from exc
            why = f"compiled twin not importable: {exc}"
        else:
            IMPLEMENTATIONS[name] = "cython"
            REASONS[name] = "compiled twin loaded"
            return mod
    IMPLEMENTATIONS[name] = "python"
    REASONS[name] = why
    return importlib.import_module(base + "_py")


def load_variant(name: str, compiled: bool) -> ModuleType:
    """Import one twin explicitly (tests and benchmarks compare both)."""
    return importlib.import_module(f"{__name__}.{name}{'_c' if compiled else '_py'}")
