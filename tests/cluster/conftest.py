"""Fixtures of the cluster tests: a real ``redis-server`` on a free port (one per test
session), a fresh channel prefix per test (so tests never hear each other), fastsio
nodes on :class:`fastsio.adapters.RedisAdapter`, and Node socket.io nodes
(``_member.NodeMember``) on ``@socket.io/redis-adapter``.

Skipped when ``redis-server`` is not installed (``make redis``, part of ``make test``,
installs it), or, for the Node members, when ``tests/cluster/node_modules`` is missing
(``make node``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

import fastsio
from _member import HERE, NodeMember
from _nodedriver import node_marks

REDIS_SERVER = shutil.which("redis-server")

#: the marks of a test that runs Node members
node_member_marks = node_marks(HERE, package="socket.io", install="run `make node`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisProcess:
    """A redis-server of its own on 127.0.0.1:``port`` (no persistence)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(5)
        self.proc = None


def _redis_process() -> RedisProcess:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: `make redis` installs it (make test does)")
    return RedisProcess(_free_port())


@pytest.fixture(scope="session")
def redis_server() -> Iterator[tuple[str, int]]:
    """A redis-server for the session; ``(url, port)``."""
    redis = _redis_process()
    redis.start()
    yield redis.url, redis.port
    redis.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    """A redis-server of this test's own (to stop and restart), started."""
    redis = _redis_process()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def redis_url(redis_server: tuple[str, int]) -> str:
    return redis_server[0]


@pytest.fixture
def key() -> str:
    """A channel prefix of this test's own."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
async def fastsio_node(
    redis_url: str, key: str, start_server: Callable[[Any], Awaitable[str]]
) -> Callable[..., Awaitable[tuple[fastsio.Server, str]]]:
    """Start a fastsio node on the test's Redis and prefix: ``(server, url)``."""

    async def start(namespaces: tuple[str, ...] = (), requests_timeout: float = 5.0,
                    specific_responses: bool = False, sharded: str | None = None,
                    **options: Any) -> tuple[fastsio.Server, str]:
        adapter = fastsio.adapters.RedisAdapter(
            redis_url, key=key, requests_timeout=requests_timeout,
            publish_on_specific_response_channel=specific_responses,
            mode="sharded" if sharded else "classic", subscription_mode=sharded or "dynamic",
        )
        server = fastsio.Server(adapter=adapter, **options)
        for nsp in namespaces:
            server.of(nsp)
        url = await start_server(server)
        return server, url

    return start


@pytest.fixture
async def node_member(redis_url: str, key: str) -> AsyncIterator[Callable[..., Awaitable[NodeMember]]]:
    """Start Node socket.io members on the test's Redis and prefix."""
    started: list[NodeMember] = []

    async def start(
        namespaces: tuple[str, ...] = ("/",), requests_timeout: int = 5000, specific_responses: bool = False,
        sharded: str | None = None,
    ) -> NodeMember:
        member = await NodeMember.start(redis_url, key, namespaces, requests_timeout, specific_responses, sharded)
        started.append(member)
        return member

    yield start
    for member in started:
        await member.close()
