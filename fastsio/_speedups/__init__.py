"""The compiled side of fastsio's twins, and the one loader that picks a twin.

Every hot module has a pure-Python twin, which is the specification and lives
with its feature (``fastsio/protocol/websocket/frames_py.py``,
``fastsio/protocol/engineio/packets_py.py``, ``fastsio/_server/outbox_py.py`` ...),
and a compiled twin here, ``fastsio._speedups.<name>_c``: either the pure source
compiled by Cython with this folder's ``<name>_c.pxd`` (whose first line names
that source: "one source, two builds"), or hand-written Cython for pointer-level
code (``fanout_c.pyx``, and the C helpers ``_frame.pyx`` and ``_jsonenc.pyx``
that the compiled builds cimport).  This folder holds no pure logic of its own.

The feature's own selector module (``frames.py`` beside ``frames_py.py``) calls
:func:`bind` once, at import, which loads the chosen module (:func:`load`) and binds
its public names in the selector; the rest of the package imports the selector.  Nothing else names a ``_c`` or ``_py`` module.

Switches, read once here:

* ``FASTSIO_NO_EXTENSIONS=1`` forces the pure twins (also forced off CPython).
* ``FASTSIO_REQUIRE_EXTENSIONS=1`` turns a missing compiled twin into an ImportError.

:data:`IMPLEMENTATIONS` maps each twin's name to ``"cython"`` or ``"python"``;
:data:`REASONS` says why.  The public, read-only report of both is the module
:mod:`fastsio.speedups`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

__all__ = (
    "BASES",
    "IMPLEMENTATIONS",
    "NO_EXTENSIONS",
    "REASONS",
    "REQUIRE_EXTENSIONS",
    "SOURCES",
    "bind",
    "compiled_module",
    "load",
)

#: True when the pure twins are forced (``FASTSIO_NO_EXTENSIONS`` set, or not CPython).
NO_EXTENSIONS: bool = bool(os.environ.get("FASTSIO_NO_EXTENSIONS")) or (
    sys.implementation.name != "cpython"
)
#: True when a missing compiled twin is an error (``FASTSIO_REQUIRE_EXTENSIONS`` set).
REQUIRE_EXTENSIONS: bool = bool(os.environ.get("FASTSIO_REQUIRE_EXTENSIONS"))

#: twin name -> ``"cython"`` or ``"python"``: which twin the package uses.
IMPLEMENTATIONS: dict[str, str] = {}
#: twin name -> why that twin is in use.
REASONS: dict[str, str] = {}
#: twin name -> the import name of its pure twin (the specification), as its selector gave it.
SOURCES: dict[str, str] = {}
#: twin name -> the twin whose compiled extension type its compiled extension type
#: subclasses: the compiled connections are subtypes of the compiled ``Outbox``.  A
#: compiled subtype cannot be made of a pure base, so it is only loaded when its base
#: twin is the compiled one (the subtype's selector imports the base's selector first).
BASES: dict[str, str] = {"flow_control": "fanout", "http": "flow_control", "websocket": "flow_control"}


def compiled_module(name: str) -> str:
    """Return the import name of the compiled twin ``name`` (``fastsio._speedups.<name>_c``)."""
    return f"{__name__}.{name}_c"


def load(name: str, pure: str) -> ModuleType:
    """Return the twin to use for ``name`` and record the choice.

    Args:
        name: the twin's name (``"wsframe"``, ``"eio"`` ...), a key of :data:`IMPLEMENTATIONS`.
        pure: the import name of the pure twin (the specification).

    Returns:
        The compiled module ``fastsio._speedups.<name>_c`` when it imports (and
        extensions are not turned off), else the pure module.

    Raises:
        ImportError: the compiled twin does not import (or, for a twin of :data:`BASES`,
            its base twin is the pure one) and ``FASTSIO_REQUIRE_EXTENSIONS`` is set.
    """
    SOURCES[name] = pure
    base = BASES.get(name)
    if NO_EXTENSIONS:
        why = (
            "FASTSIO_NO_EXTENSIONS is set"
            if os.environ.get("FASTSIO_NO_EXTENSIONS")
            else f"{sys.implementation.name} is not CPython"
        )
    elif base is not None and IMPLEMENTATIONS.get(base, "cython") != "cython":
        # (not imported: its module's initialisation would fail on the pure base)
        if importlib.util.find_spec(compiled_module(name)) is None:
            why = f"compiled twin not importable: No module named {compiled_module(name)!r}"
        else:
            why = f"its base twin {base!r} is the pure one (a compiled subtype needs the compiled base)"
        if REQUIRE_EXTENSIONS:
            raise ImportError(f"fastsio: compiled twin {name!r} cannot load and FASTSIO_REQUIRE_EXTENSIONS is set: {why}")
    else:
        try:
            mod = importlib.import_module(compiled_module(name))
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
    return importlib.import_module(pure)


def bind(namespace: dict[str, Any], name: str, pure: str) -> None:
    """Load the twin ``name`` (see :func:`load`) and bind its public names in ``namespace``.

    A selector calls ``bind(globals(), name, __name__ + "_py")``: its ``__all__`` and
    every name in it become the chosen twin's, once, at import.
    """
    impl = load(name, pure)
    names = impl.__all__
    namespace["__all__"] = names
    for attr in names:
        namespace[attr] = getattr(impl, attr)
