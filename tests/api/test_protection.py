"""Protection (all opt-in): the per-socket event rate limit, the per-IP connection cap and
the cap on concurrent handshakes, with the real python-socketio client and raw HTTP /
WebSocket requests over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
import socketio

import fastsio
from fastsio.protection import LogThrottle, RateLimit


async def connect(url: str, **kw: Any) -> socketio.AsyncClient:
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(url, transports=kw.pop("transports", ["websocket"]), **kw)
    return c


async def wait_until(cond: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------------------- rate limit
def test_token_bucket() -> None:
    limit = RateLimit(events_per_second=10, burst=3)
    bucket = limit.new_bucket(0.0)
    assert [limit.allow(bucket, 0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow(bucket, 0.05) is False  # half a token
    assert limit.allow(bucket, 0.1) is True  # one token after 0.1 s
    assert [limit.allow(bucket, 100.0) for _ in range(4)] == [True, True, True, False]  # capped at burst
    assert RateLimit(5).burst == 5 and RateLimit(0.5).burst == 1
    with pytest.raises(ValueError):
        RateLimit.parse({"events_per_second": 5, "action": "ban"})
    with pytest.raises(ValueError):
        RateLimit(0)


async def test_rate_limit_drops_events_and_tells_the_client(
    start_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sio = fastsio.Server(rate_limit={"events_per_second": 2, "burst": 5})
    handled: list[int] = []

    @sio.on("msg")
    def msg(socket: fastsio.Socket, n: int) -> None:
        handled.append(n)

    @sio.on("ask")
    def ask(socket: fastsio.Socket) -> str:
        return "answer"

    url = await start_server(sio)
    c = await connect(url)
    errors: list[Any] = []
    c.on("error", lambda payload: errors.append(payload))
    with caplog.at_level(logging.WARNING, logger="fastsio"):
        for n in range(30):
            await c.emit("msg", n)
        await wait_until(lambda: errors)
        await asyncio.sleep(0.1)
    assert 5 <= len(handled) <= 6 and handled == list(range(len(handled)))
    # one notice per run of dropped events, not one per event
    assert errors == [
        {
            "message": "rate limit exceeded",
            "data": {"event": "msg", "events_per_second": 2.0, "burst": 5.0},
        }
    ]
    assert any("over the event rate limit" in r.getMessage() for r in caplog.records)
    # tokens come back with time; the connection carries on
    await asyncio.sleep(0.6)
    assert await c.call("ask", timeout=5) == "answer"
    assert c.connected
    await c.disconnect()


async def test_rate_limit_disconnect(start_server: Any) -> None:
    sio = fastsio.Server(rate_limit={"events_per_second": 1, "burst": 3, "action": "disconnect"})
    reasons: list[str] = []
    handled: list[int] = []
    sio.on("msg", lambda socket, n: handled.append(n))
    sio.on("disconnect", lambda socket, reason: reasons.append(reason))
    url = await start_server(sio)
    c = await connect(url)
    gone: list[Any] = []
    c.on("disconnect", lambda *a: gone.append(a))
    for n in range(10):
        if not c.connected:
            break
        await c.emit("msg", n)
    await wait_until(lambda: reasons and gone)
    assert reasons == ["rate limit exceeded"]
    assert handled == [0, 1, 2]
    await c.disconnect()
    await wait_until(lambda: not sio.engine.sessions)


# ------------------------------------------------------------------- connections per IP
async def handshake(url: str, transport: str = "polling") -> tuple[int, Any, Any]:
    """An Engine.IO handshake; returns (status, body or ws, session)."""
    session = aiohttp.ClientSession()
    if transport == "polling":
        async with session.get(f"{url}/socket.io/?EIO=4&transport=polling") as resp:
            body = await resp.text()
            status = resp.status
            headers = resp.headers
        await session.close()
        return status, body, headers
    try:
        ws = await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        return exc.status, None, None
    return 101, ws, session


async def test_max_connections_per_ip(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    sio = fastsio.Server(max_connections_per_ip=2)
    url = await start_server(sio)
    a = await connect(url, transports=["polling"])
    b = await connect(url)
    # a third from the same address: refused, polling and WebSocket handshakes alike
    with caplog.at_level(logging.WARNING, logger="fastsio.engine"):
        status, body, _ = await handshake(url)
        assert status == 403 and json.loads(body) == {"code": 4, "message": "Forbidden"}
        status, _, _ = await handshake(url, "websocket")
        assert status == 403
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(url)
    assert any("max_connections_per_ip" in r.getMessage() for r in caplog.records)
    # the counts go down as sessions close
    await b.disconnect()
    await wait_until(lambda: len(sio.engine.sessions) == 1)
    c = await connect(url)
    assert c.connected
    await a.disconnect()
    await c.disconnect()
    await wait_until(lambda: not sio.engine.per_ip)


# --------------------------------------------------------------- concurrent handshakes
async def test_max_concurrent_handshakes(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    sio = fastsio.Server(max_concurrent_handshakes=2)
    url = await start_server(sio)
    # two Engine.IO sessions that never send a Socket.IO CONNECT
    s1, ws1, sess1 = await handshake(url, "websocket")
    s2, body2, _ = await handshake(url)
    assert s1 == 101 and s2 == 200
    sid2 = json.loads(body2[1:])["sid"]
    with caplog.at_level(logging.WARNING, logger="fastsio.engine"):
        status, body, headers = await handshake(url)
        assert status == 503 and headers["Retry-After"] == "1"
        assert json.loads(body) == {"code": 503, "message": "Too many handshakes in progress"}
        status, _, _ = await handshake(url, "websocket")
        assert status == 503
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(url)
    assert any("max_concurrent_handshakes" in r.getMessage() for r in caplog.records)
    # the second one completes its Socket.IO CONNECT: a slot frees up
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid2}", data="40") as resp:
            assert resp.status == 200
    await wait_until(lambda: len(sio.engine.handshaking) == 1)
    c = await connect(url)  # a real client: handshake and CONNECT
    assert c.connected and len(sio.engine.handshaking) == 1
    # the first one goes away: its slot frees up too
    await ws1.close()
    await sess1.close()
    await wait_until(lambda: not sio.engine.handshaking)
    d = await connect(url)
    e = await connect(url, transports=["polling"])
    assert d.connected and e.connected
    for client in (c, d, e):
        await client.disconnect()


def test_log_throttle(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(logging.getLogger("fastsio.test"), interval=1.0)
    with caplog.at_level(logging.WARNING, logger="fastsio.test"):
        for i in range(5):
            throttle.warn("k", "refused %d", i, now=10.0 + i * 0.1)
        throttle.warn("k", "refused %d", 99, now=11.5)
    assert [r.getMessage() for r in caplog.records] == ["refused 0", "refused 99 (and 4 more not logged)"]
