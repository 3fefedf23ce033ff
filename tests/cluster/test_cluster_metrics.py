"""The Redis adapter's metrics: two fastsio nodes on one real redis-server, both with
``metrics=True``; a python-socketio client on the second node gets what the first
broadcasts.  The first node's ``fastsio_redis_published_total`` counts the broadcasts,
the second's ``fastsio_redis_received_total`` and the age of its last message show it
heard them, and its broadcast summary counts their local delivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio as psio
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.redis]


async def metrics_of(url: str) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if not s.labels:
                samples[s.name] = s.value
    return samples


async def test_redis_adapter_metrics(fastsio_node: Any) -> None:
    """Verify published, received, backlog, connection and last-message-age families."""
    k = 5
    first, url1 = await fastsio_node(metrics=True)
    second, url2 = await fastsio_node(metrics=True)
    client = psio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("tick", got.put_nowait)
    await client.connect(url2, transports=["websocket"])
    before = await metrics_of(url1)
    for i in range(k):
        first.emit("tick", i)
    assert [await got.get() for _ in range(k)] == list(range(k))
    one = await metrics_of(url1)
    two = await metrics_of(url2)
    assert one["fastsio_redis_published_total"] - before["fastsio_redis_published_total"] == k
    assert one["fastsio_redis_dropped_total"] == 0
    assert one["fastsio_redis_connected"] == 1 and two["fastsio_redis_connected"] == 1
    assert one["fastsio_redis_backlog_messages"] == 0
    assert two["fastsio_redis_received_total"] >= k
    assert two["fastsio_redis_last_message_age_seconds"] >= 0
    # delivered on the second node as a local broadcast to its one client
    assert two["fastsio_broadcast_recipients_count"] == k
    assert two["fastsio_broadcast_recipients_sum"] == k
    # the first node has no client: nothing fanned out there
    assert one["fastsio_broadcast_recipients_count"] == 0
    await client.disconnect()


async def test_streams_adapter_metrics(streams_node: Any) -> None:
    """Verify the streams adapter's node hears the other's broadcasts (stream entries
    counted as received, the age of the last one) and counts their local delivery."""
    k = 4
    first, url1 = await streams_node(metrics=True)
    second, url2 = await streams_node(metrics=True)
    client = psio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("tick", got.put_nowait)
    await client.connect(url2, transports=["websocket"])
    before = await metrics_of(url2)
    for i in range(k):
        first.emit("tick", i)
    assert [await got.get() for _ in range(k)] == list(range(k))
    two = await metrics_of(url2)
    assert two["fastsio_redis_received_total"] - before["fastsio_redis_received_total"] >= k
    assert two["fastsio_redis_last_message_age_seconds"] >= 0
    assert two["fastsio_redis_connected"] == 1
    assert two["fastsio_broadcast_recipients_count"] - before["fastsio_broadcast_recipients_count"] == k
    await client.disconnect()
