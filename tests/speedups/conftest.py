"""Twin fixtures for the tests of ``fastsio._speedups`` (STYLE 2.5).

* ``implementation``: a frozen :class:`Implementation`, params ``py`` and ``c``
  (session scope).  The ``c`` param carries the ``c_extension`` mark.  It is
  skipped when ``FASTSIO_NO_EXTENSIONS`` is set (a pure run) or when
  ``--no-c-extensions`` is given (if the root conftest defines that option),
  and when the compiled twin is not built; under
  ``FASTSIO_REQUIRE_EXTENSIONS`` a missing compiled twin fails instead.
* ``wsframe``, ``eio``, ``sio``, ``fanout``: the twin of that module for the
  current ``implementation``.
* ``twins``: ``twins("sio")`` returns ``(pure, compiled)`` for the
  equivalence tests (skipped like the ``c`` param).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import pytest

from fastsio._speedups import NO_EXTENSIONS, REQUIRE_EXTENSIONS


@dataclass(frozen=True)
class Implementation:
    """One side of the twins: the pure-Python one or the compiled one."""

    is_pure_python: bool

    @property
    def tag(self) -> str:
        """Return the test id of this side (``py`` or ``c``)."""
        return "py" if self.is_pure_python else "c"

    def load(self, name: str) -> ModuleType:
        """Return the twin ``name`` of this side (skip or fail when a compiled one is missing)."""
        module = f"fastsio._speedups.{name}_{self.tag}"
        if self.is_pure_python:
            return importlib.import_module(module)
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            if REQUIRE_EXTENSIONS:
                pytest.fail(f"{module} is not importable and FASTSIO_REQUIRE_EXTENSIONS is set: {exc}")
            pytest.skip(f"{module} is not built: {exc}")


def _compiled_wanted(config: pytest.Config) -> str | None:
    """Return why the compiled side is not wanted in this run, or ``None``."""
    if NO_EXTENSIONS:
        return "pure run (FASTSIO_NO_EXTENSIONS is set, or not CPython)"
    if config.getoption("--c-extensions", default=True) is False:
        return "--no-c-extensions"
    return None


@pytest.fixture(
    scope="session",
    params=[pytest.param(True, id="py"), pytest.param(False, id="c", marks=pytest.mark.c_extension)],
)
def implementation(request: pytest.FixtureRequest) -> Implementation:
    """Return one side of the twins (``py`` or ``c``)."""
    if not request.param:
        why = _compiled_wanted(request.config)
        if why is not None:
            pytest.skip(why)
    return Implementation(is_pure_python=request.param)


@pytest.fixture(scope="session")
def wsframe(implementation: Implementation) -> ModuleType:
    """Return the ``wsframe`` twin of the current implementation."""
    return implementation.load("wsframe")


@pytest.fixture(scope="session")
def eio(implementation: Implementation) -> ModuleType:
    """Return the ``eio`` twin of the current implementation."""
    return implementation.load("eio")


@pytest.fixture(scope="session")
def sio(implementation: Implementation) -> ModuleType:
    """Return the ``sio`` twin of the current implementation."""
    return implementation.load("sio")


@pytest.fixture(scope="session")
def fanout(implementation: Implementation) -> ModuleType:
    """Return the ``fanout`` twin of the current implementation."""
    return implementation.load("fanout")


@pytest.fixture(scope="session")
def twins(request: pytest.FixtureRequest) -> Callable[[str], tuple[ModuleType, ModuleType]]:
    """Return a loader of ``(pure, compiled)`` module pairs (skips without the compiled side)."""
    why = _compiled_wanted(request.config)

    def load(name: str) -> tuple[ModuleType, ModuleType]:
        if why is not None:
            pytest.skip(why)
        return (
            Implementation(is_pure_python=True).load(name),
            Implementation(is_pure_python=False).load(name),
        )

    return load


@pytest.fixture(scope="session")
def compiled(request: pytest.FixtureRequest) -> Callable[[str], ModuleType]:
    """Return a loader of compiled helper modules (``compiled("_frame")``), skipped like ``c``."""
    why = _compiled_wanted(request.config)

    def load(name: str) -> ModuleType:
        if why is not None:
            pytest.skip(why)
        module = f"fastsio._speedups.{name}"
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            if REQUIRE_EXTENSIONS:
                pytest.fail(f"{module} is not importable and FASTSIO_REQUIRE_EXTENSIONS is set: {exc}")
            pytest.skip(f"{module} is not built: {exc}")

    return load
