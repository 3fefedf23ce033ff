"""Fixtures of the memory-bound tests: ``bounds_server(**options)`` starts
``_bounds_server.py`` in a subprocess on the current twin (``FASTSIO_NO_EXTENSIONS``
for ``py``) and stops it after the test."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from _bounds import ServerProcess


@pytest.fixture
def bounds_server(implementation: Any) -> Iterator[Callable[..., ServerProcess]]:
    """A factory of servers in subprocesses, on the twin of ``implementation``."""
    started: list[ServerProcess] = []

    def start(**options: Any) -> ServerProcess:
        server = ServerProcess(options, pure=implementation.is_pure_python)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
