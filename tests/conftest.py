"""Shared fixtures.

* event loops: async tests run on uvloop; tests under ``tests/server`` (and any test
  marked ``both_loops``) run on both uvloop and the stdlib's asyncio loop.
* ``start_server``: start a fastsio Server/EngineServer on 127.0.0.1:0 for the test,
  stop it afterwards; returns the base URL.
* twins (STYLE 2.5), the one fixture of the suite for them: ``implementation`` is a
  frozen :class:`Implementation`, params ``py`` and ``c`` (session scope; ``c``
  carries the ``c_extension`` mark).  ``c`` is skipped only where the compiled side
  is not wanted (a pure run: ``FASTSIO_NO_EXTENSIONS`` set or not CPython, or
  ``--no-c-extensions``); where it is wanted, a compiled twin that does not import
  FAILS the test, so a broken build never hides behind a skip.  ``wsframe``,
  ``eio``, ``eio3``, ``sio``, ``fanout``, ``session_twin``: the twin of that name for the current
  ``implementation``; ``twins("sio")`` -> ``(pure, compiled)`` for equivalence tests;
  ``compiled("_frame")`` -> a compiled helper module.  The pure twin of each name
  is the module its selector registered (``fastsio._speedups.SOURCES``).
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, AsyncIterator, Callable

import pytest
import uvloop

import fastsio  # noqa: F401  (runs every selector, so SOURCES is complete)
from fastsio._speedups import NO_EXTENSIONS, SOURCES, compiled_module


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--c-extensions/--no-c-extensions`` (default on: the compiled twins are tested)."""
    group = parser.getgroup("fastsio")
    group.addoption("--c-extensions", dest="c_extensions", action="store_true", default=True,
                    help="test the compiled twins too (default)")
    group.addoption("--no-c-extensions", dest="c_extensions", action="store_false",
                    help="test the pure-Python twins only")


def compiled_unwanted(config: pytest.Config) -> str | None:
    """Return why the compiled twins are not tested in this run, or None when they are."""
    if NO_EXTENSIONS:
        return "pure run (FASTSIO_NO_EXTENSIONS is set, or not CPython)"
    if config.getoption("c_extensions") is False:
        return "--no-c-extensions"
    return None


def _import_compiled(module: str) -> ModuleType:
    """Import a compiled module that this run expects: failing, not skipping, when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{module} is expected in this run (compiled twins) but does not import: {exc}")


@dataclass(frozen=True)
class Implementation:
    """One side of the twins: the pure-Python one or the compiled one."""

    is_pure_python: bool

    @property
    def tag(self) -> str:
        """Return the test id of this side (``py`` or ``c``)."""
        return "py" if self.is_pure_python else "c"

    def load(self, name: str) -> ModuleType:
        """Return the twin ``name`` (``"wsframe"``, ``"eio"`` ...) of this side."""
        if self.is_pure_python:
            return importlib.import_module(SOURCES[name])
        return _import_compiled(compiled_module(name))


PURE = Implementation(is_pure_python=True)
COMPILED = Implementation(is_pure_python=False)


@pytest.fixture(
    scope="session",
    params=[pytest.param(True, id="py"), pytest.param(False, id="c", marks=pytest.mark.c_extension)],
)
def implementation(request: pytest.FixtureRequest) -> Implementation:
    """Return one side of the twins (``py`` or ``c``)."""
    if not request.param:
        why = compiled_unwanted(request.config)
        if why is not None:
            pytest.skip(why)
    return PURE if request.param else COMPILED


@pytest.fixture(scope="session")
def wsframe(implementation: Implementation) -> ModuleType:
    """Return the WebSocket frame codec twin of the current implementation."""
    return implementation.load("wsframe")


@pytest.fixture(scope="session")
def eio(implementation: Implementation) -> ModuleType:
    """Return the Engine.IO v4 codec twin of the current implementation."""
    return implementation.load("eio")


@pytest.fixture(scope="session")
def eio3(implementation: Implementation) -> ModuleType:
    """Return the Engine.IO v3 codec twin of the current implementation."""
    return implementation.load("eio3")


@pytest.fixture(scope="session")
def sio(implementation: Implementation) -> ModuleType:
    """Return the Socket.IO codec twin of the current implementation."""
    return implementation.load("sio")


@pytest.fixture(scope="session")
def fanout(implementation: Implementation) -> ModuleType:
    """Return the outbox/fan-out twin of the current implementation."""
    return implementation.load("fanout")


@pytest.fixture(scope="session")
def session_twin(implementation: Implementation) -> ModuleType:
    """Return the Engine.IO session twin of the current implementation."""
    return implementation.load("session")


@pytest.fixture(scope="session")
def twins(request: pytest.FixtureRequest) -> Callable[[str], tuple[ModuleType, ModuleType]]:
    """Return a loader of ``(pure, compiled)`` twin pairs (skipped in a pure run)."""
    why = compiled_unwanted(request.config)

    def load(name: str) -> tuple[ModuleType, ModuleType]:
        if why is not None:
            pytest.skip(why)
        return PURE.load(name), COMPILED.load(name)

    return load


@pytest.fixture(scope="session")
def compiled(request: pytest.FixtureRequest) -> Callable[[str], ModuleType]:
    """Return a loader of compiled helper modules (``compiled("_frame")``), skipped in a pure run."""
    why = compiled_unwanted(request.config)

    def load(name: str) -> ModuleType:
        if why is not None:
            pytest.skip(why)
        return _import_compiled(f"fastsio._speedups.{name}")

    return load


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    if "tests/server" in item.path.as_posix() or item.get_closest_marker("both_loops"):
        return {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[[Any], Any]]:
    started: list[Any] = []

    async def start(app: Any, host: str = "127.0.0.1") -> str:
        await app.start(host, 0)
        started.append(app)
        h, port = app.address
        return f"http://{h}:{port}"

    yield start
    for app in started:
        # a test's clients may be gone with packets owed (a polling client that never
        # came back): tests of the drain itself stop their own servers
        await app.stop(timeout=0.2)
