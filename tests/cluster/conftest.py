"""Fixtures of the cluster tests: a real ``redis-server`` on a free port (one per test
session), a fresh channel prefix per test (so tests never hear each other), fastsio
nodes on :class:`fastsio.adapters.RedisAdapter` (or ``RedisStreamsAdapter``), and Node
socket.io nodes (``_member.NodeMember``) on ``@socket.io/redis-adapter`` (or
``@socket.io/redis-streams-adapter``).

Skipped when ``redis-server`` is not installed (``make redis``, part of ``make test``,
installs it), or, for the Node members, when ``tests/cluster/node_modules`` is missing
(``make node``).
"""

from __future__ import annotations

import socket
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

import fastsio
from _member import REDIS_SERVER, NodeMember, RedisProcess, free_port, node_member_marks  # noqa: F401 - re-exported

def _redis_process() -> RedisProcess:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: `make redis` installs it (make test does)")
    return RedisProcess(free_port())


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
async def streams_node(
    redis_url: str, key: str, start_server: Callable[[Any], Awaitable[str]]
) -> Callable[..., Awaitable[tuple[fastsio.Server, str]]]:
    """Start a fastsio node on :class:`fastsio.adapters.RedisStreamsAdapter` (the test's
    prefix as stream name, channel prefix and session key prefix, as the Node members
    started with ``streams=True``): ``(server, url)``."""

    async def start(namespaces: tuple[str, ...] = (), requests_timeout: float = 5.0, stream_count: int = 1,
                    use_sharded_pubsub: bool = False, **options: Any) -> tuple[fastsio.Server, str]:
        adapter = fastsio.adapters.RedisStreamsAdapter(
            redis_url, stream_name=key, channel_prefix=key, session_key_prefix=key + ":session:",
            requests_timeout=requests_timeout, stream_count=stream_count, use_sharded_pubsub=use_sharded_pubsub,
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
        sharded: str | None = None, streams: bool = False, recovery: int | None = None,
        clients_only: bool = False, stream_count: int = 1, use_sharded_pubsub: bool = False,
    ) -> NodeMember:
        member = await NodeMember.start(redis_url, key, namespaces, requests_timeout, specific_responses, sharded,
                                        streams, recovery, clients_only, stream_count, use_sharded_pubsub)
        started.append(member)
        return member

    yield start
    for member in started:
        await member.close()
