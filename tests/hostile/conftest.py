"""Fixtures of the hostile-input battery.

* ``family`` (every test that starts a server): ``ipv4`` (127.0.0.1) and ``ipv6``
  (``::1``; skipped only when the machine has no IPv6 loopback).
* ``serve``: start a :class:`fastsio.Server` (the battery's options, overridable) on
  the family's loopback address; stopped afterwards.  Its ``echo`` event returns its
  arguments (an ack); ``/dyn-<n>`` is a dynamic namespace (a regex parent).
* ``hostile``: the default server, with a :class:`~_hostile.Bystander` connected
  before the test and checked after it: its acked messages kept flowing during the
  attack and none was lost.
* ``logs``: caplog at DEBUG for the ``fastsio`` logger hierarchy.
* ``no_asyncio_errors`` (autouse): a test during which asyncio logged an error
  (an exception escaping a transport callback, "Fatal error on transport", a task
  exception never retrieved) fails.  ``frozen_heap`` (autouse, per file) keeps the
  full collection that needs cheap.

Twins: a server runs the twins its process loaded, so the battery runs on the
compiled twins under ``make test-compiled`` and on the pure ones under ``make
test-pure`` (``FASTSIO_NO_EXTENSIONS=1``); ``server_twins`` (autouse) checks that
the process really serves with the side that run is for, and the report header
says which.
"""

from __future__ import annotations

import gc
import logging
import re
import socket
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

import fastsio
from fastsio._speedups import NO_EXTENSIONS

from _hostile import MAX, Bystander


def _twins() -> str:
    kinds = set(fastsio.speedups.values())
    return kinds.pop() if len(kinds) == 1 else "mixed " + repr(dict(fastsio.speedups))


def pytest_report_header(config: pytest.Config) -> str:
    return f"fastsio hostile battery: the server runs the {_twins()} twins"


@pytest.fixture(scope="session", autouse=True)
def server_twins() -> str:
    """The twins the servers of this run use (``python`` or ``cython``), checked."""
    kind = _twins()
    expected = "python" if NO_EXTENSIONS else "cython"
    assert kind == expected, f"this run is for the {expected} twins but the server uses {kind}"
    return kind


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module", autouse=True)
def frozen_heap() -> Iterator[None]:
    """What exists when a test file starts leaves the collector's generations for the
    file's run (``gc.freeze()``, undone after it): the full collection each test ends
    with (see ``no_asyncio_errors``) then scans only what the test made, not the whole
    interpreter (2 ms instead of 25)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture(autouse=True)
def no_asyncio_errors() -> Iterator[None]:
    """Fail the test if asyncio logged an error while it ran."""
    handler = _Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
        gc.collect()  # "Task exception was never retrieved" is logged when the task dies
    finally:
        logger.removeHandler(handler)
    if handler.records:
        pytest.fail("asyncio logged errors:\n" + "\n".join(r.getMessage() for r in handler.records))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog recording the fastsio loggers at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="fastsio")
    return caplog


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture(params=["ipv4", "ipv6"])
def family(request: pytest.FixtureRequest) -> str:
    """The loopback address the test's servers listen on."""
    if request.param == "ipv6":
        if not _has_ipv6_loopback():
            pytest.skip("no IPv6 loopback (::1) on this machine")
        return "::1"
    return "127.0.0.1"


#: the battery's server options (a test may override any)
OPTIONS: dict[str, Any] = {
    "max_http_buffer_size": MAX,
    "allow_eio3": True,
    "cors_allowed_origins": ["http://good.example"],
    "allowed_hosts": ["localhost", "127.0.0.1", "::1"],
    "per_message_deflate": True,
}

DYNAMIC = re.compile(r"^/dyn-\d+$")


@dataclass
class Served:
    """A started server: the app, its base URL, and what its handlers saw."""

    app: fastsio.Server
    url: str
    disconnects: list[str]


def make_server(**overrides: Any) -> tuple[fastsio.Server, list[str]]:
    """A :class:`fastsio.Server` with the battery's options and handlers."""
    opts = dict(OPTIONS)
    opts.update(overrides)
    sio = fastsio.Server(**opts)
    disconnects: list[str] = []

    @sio.on("echo")
    def echo(sock: Any, *args: Any) -> Any:
        return args

    @sio.on("news")
    def news(sock: Any, n: Any) -> None:
        sio.emit("news", n)

    @sio.on("disconnect")
    def gone(sock: Any, reason: str) -> None:
        disconnects.append(reason)

    dyn = sio.of(DYNAMIC)
    dyn.on("echo", echo)
    return sio, disconnects


@pytest.fixture
async def serve(family: str) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """``await serve(**options)``: a started battery server on the family's address."""
    started: list[fastsio.Server] = []

    async def start(**overrides: Any) -> Served:
        app, disconnects = make_server(**overrides)
        await app.start(family, 0)
        started.append(app)
        host, port = app.address[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return Served(app, url, disconnects)

    yield start
    for app in started:
        # attackers leave polling sessions with packets owed: the battery does not test
        # the drain (tests/shutdown does), so it is kept short
        await app.stop(timeout=0.2)


@dataclass
class Hostile:
    """The default server under attack, and its bystander."""

    app: fastsio.Server
    url: str
    disconnects: list[str]
    bystander: Bystander


@pytest.fixture
async def hostile(serve: Callable[..., Awaitable[Served]]) -> AsyncIterator[Hostile]:
    """The default battery server, with a bystander exchanging acked messages during
    the test; afterwards the bystander must have lost nothing."""
    served = await serve()
    bystander = await Bystander(served.url).start()
    h = Hostile(served.app, served.url, served.disconnects, bystander)
    yield h
    rounds = await bystander.stop()
    assert rounds >= 1
