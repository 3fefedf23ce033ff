"""The bytes on Redis, against the vectors captured from the Node packages
(``shared/protocol/redis-adapter.md``: socket.io 4.8, @socket.io/redis-adapter 8.3.0,
@socket.io/redis-emitter 5.1.0): what fastsio publishes is byte-identical to what Node
published (the node uid aside), and what Node published, replayed on a real
redis-server, is delivered and answered as Node nodes do.  Clients: python-socketio."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgpack
import pytest
import socketio

import fastsio
from test_cluster_requests import until

pytestmark = [pytest.mark.redis]

# io.emit("all", "hello", 1, 2.5, true, null, {k: "v"}, [1, 2]) from node uid Q5Oq_V
ALL = bytes.fromhex(
    "93a651354f715f5683a47479706502a46461746198a3616c6ca568656c6c6f01cb4004000000000000c3c081a16ba176920102"
    "a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"
)
# io.emit("bin", Buffer[1,2,3,255], {nested: Buffer("hi")})
BIN = bytes.fromhex(
    "93a651354f715f5683a47479706502a46461746193a362696ec404010203ff81a66e6573746564c4026869a36e7370a12f83"
    "a5726f6f6d7390a665786365707490a5666c61677380"
)
# io.to("room1").emit("r1", "x") on socket.io#/#room1#
ROOM1 = bytes.fromhex(
    "93a651354f715f5683a47479706502a46461746192a27231a178a36e7370a12f83a5726f6f6d7391a5726f6f6d31a6657863"
    "657074 90a5666c61677380".replace(" ", "")
)
# emitter.emit("em-all", "x", 42)
EMITTER_ALL = bytes.fromhex(
    "93a7656d697474657283a47479706502a46461746193a6656d2d616c6ca1782aa36e7370a12f83a5726f6f6d7390a5666c61"
    "677380a665786365707490"
)
# io.timeout(2000).emitWithAck("ask", "q"): the request (msgpack)
ASK = bytes.fromhex(
    "85a3756964a651354f715f56a9726571756573744964a6434747433449a47479706507a67061636b657483a47479706502a4"
    "6461746192a361736ba171a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d65"
    "6f7574cd07d0"
)


class Tap:
    """A raw subscriber to every channel of the test's prefix."""

    def __init__(self, redis_url: str, key: str) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(redis_url)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.key = key
        self.messages: list[tuple[bytes, bytes]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Tap:
        await self.pubsub.psubscribe(f"{self.key}*")
        await self.pubsub.get_message(timeout=1)  # the confirmation
        self.task = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        while True:
            msg = await self.pubsub.get_message(timeout=None)
            if msg is not None:
                self.messages.append((msg["channel"], msg["data"]))

    def on(self, channel: str) -> list[bytes]:
        return [data for ch, data in self.messages if ch == channel.encode()]

    async def __aexit__(self, *exc: Any) -> None:
        assert self.task is not None
        self.task.cancel()
        await self.pubsub.aclose()
        await self.client.aclose()


async def _client(url: str, events: list[Any], answer: Any = None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)

    @client.on("*")
    def any_event(event: str, *args: Any) -> Any:
        events.append([event, *args])
        return answer

    await client.connect(url, transports=["websocket"])
    return client


async def test_published_bytes_match_node(fastsio_node: Any, redis_url: str, key: str) -> None:
    server, url = await fastsio_node()
    uid = server.of("/").adapter.uid.encode()
    async with Tap(redis_url, key) as tap:
        events: list[Any] = []
        client = await _client(url, events)
        sid = client.get_sid("/")
        server.of("/").sockets[sid].join("room1")
        server.emit("all", "hello", 1, 2.5, True, None, {"k": "v"}, [1, 2])
        server.emit("bin", b"\x01\x02\x03\xff", {"nested": b"hi"})
        server.to("room1").emit("r1", "x")
        emitter = fastsio.Emitter(redis_url, key=key)
        await emitter.emit("em-all", "x", 42)
        await emitter.close()
        await until(lambda: len(tap.messages) >= 4)
        await client.disconnect()
    node_uid = b"Q5Oq_V"
    # (the node's and the emitter's publishes may interleave either way)
    assert sorted(tap.on(f"{key}#/#")) == sorted([ALL.replace(node_uid, uid), BIN.replace(node_uid, uid), EMITTER_ALL])
    assert tap.on(f"{key}#/#room1#") == [ROOM1.replace(node_uid, uid)]


async def test_node_messages_delivered_and_answered(fastsio_node: Any, redis_url: str, key: str) -> None:
    import redis.asyncio as aioredis

    server, url = await fastsio_node()
    events: list[Any] = []
    client = await _client(url, events, answer="ack-from-py")
    other: list[Any] = []
    client2 = await _client(url, other)
    server.of("/").sockets[client.get_sid("/")].join("room1")
    publisher = aioredis.Redis.from_url(redis_url)
    async with Tap(redis_url, key) as tap:
        for channel, payload in ((f"{key}#/#", ALL), (f"{key}#/#", BIN), (f"{key}#/#room1#", ROOM1),
                                 (f"{key}#/#", EMITTER_ALL), (f"{key}#/#room2#", ROOM1)):
            await publisher.publish(channel, payload)
        await until(lambda: len(events) == 4 and len(other) == 3)
        assert events == [
            ["all", "hello", 1, 2.5, True, None, {"k": "v"}, [1, 2]],
            ["bin", b"\x01\x02\x03\xff", {"nested": b"hi"}],
            ["r1", "x"],
            ["em-all", "x", 42],
        ]
        assert [e[0] for e in other] == ["all", "bin", "em-all"]
        # a foreign, broken and a python-socketio message are skipped, the node carries on
        for junk in (b"\x93\x01", b"not msgpack \xc1", json.dumps({"method": "emit", "event": "x"}).encode(),
                     msgpack.packb(["zz", {"type": 2, "data": ["wrong-nsp"], "nsp": "/other"}, {}])):
            await publisher.publish(f"{key}#/#", junk)
            await publisher.publish(f"{key}-request#/#", junk)
        # the broadcast-with-ack request: the count (JSON) first, then each ack (msgpack)
        await publisher.publish(f"{key}-request#/#", ASK)
        await until(lambda: len(tap.on(f"{key}-response#/#")) >= 3)
        responses = tap.on(f"{key}-response#/#")
    await publisher.aclose()
    assert json.loads(responses[0]) == {"type": 8, "requestId": "CGGC4I", "clientCount": 2}
    acks = [msgpack.unpackb(r) for r in responses[1:]]
    assert sorted(a["packet"] for a in acks if a["packet"] is not None) == ["ack-from-py"]
    assert all(a["type"] == 9 and a["requestId"] == "CGGC4I" for a in acks)
    assert events[-1] == ["ask", "q"]
    await client.disconnect()
    await client2.disconnect()
