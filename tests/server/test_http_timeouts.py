"""HTTP deadlines: an idle keep-alive connection is closed (Node's keepAliveTimeout) and a
request not complete in time gets 408 (a client trickling its headers does not hold a
connection), over real sockets; a held long-poll GET and a WebSocket are not touched, and
other clients carry on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import fastsio

from _net import Conn, eio_path, eio_ws, polling_open


def make_server(**kw: Any) -> fastsio.EngineServer:
    kw.setdefault("http_keep_alive_timeout", 0.3)
    kw.setdefault("http_request_timeout", 0.5)
    return fastsio.EngineServer(path="/engine.io/", **kw)


async def closed_within(conn: Conn, seconds: float) -> float:
    t0 = time.monotonic()
    assert await conn.eof(timeout=seconds)
    return time.monotonic() - t0


async def test_idle_connection_closed(start_server: Any) -> None:
    url = await start_server(make_server())
    conn = await Conn.open(url)
    took = await closed_within(conn, 3)
    assert 0.2 < took < 2.0
    conn.close()


async def test_idle_after_response_closed_but_active_one_kept(start_server: Any) -> None:
    url = await start_server(make_server())
    conn = await Conn.open(url)
    for _ in range(4):  # requests closer together than the timeout keep it open
        r = await conn.request("GET", "/nowhere")
        assert r.status == 404
        await asyncio.sleep(0.15)
    took = await closed_within(conn, 3)
    assert took < 2.0
    conn.close()


async def test_trickled_headers_get_408(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    url = await start_server(make_server())
    conn = await Conn.open(url)
    await conn.send(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    await asyncio.sleep(0.2)
    await conn.send(b"X-Slow: 1\r\n")  # trickling: the deadline counts from the first byte
    r = await conn.response(timeout=3)
    assert 0.4 < time.monotonic() - t0 < 2.0
    assert r.status == 408
    assert await conn.eof()
    conn.close()
    assert any("not complete in time: 408" in rec.getMessage() for rec in logs.records)
    # the server serves others normally
    other = await Conn.open(url)
    assert (await other.request("GET", "/nowhere")).status == 404
    other.close()


async def test_request_deadline_earlier_than_keep_alive(start_server: Any) -> None:
    """A request timeout shorter than the keep-alive's: the connection, filed for its
    keep-alive deadline when it was made, is filed earlier for the request's."""
    url = await start_server(make_server(http_keep_alive_timeout=3.0, http_request_timeout=0.3))
    conn = await Conn.open(url)
    await conn.send(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    r = await conn.response(timeout=5)
    assert r.status == 408
    assert 0.2 < time.monotonic() - t0 < 2.0
    conn.close()


async def test_held_long_poll_and_websocket_untouched(start_server: Any) -> None:
    url = await start_server(make_server(ping_interval=1.0, ping_timeout=1.0))
    conn = await Conn.open(url)
    sid = (await polling_open(conn))["sid"]
    # the GET waits for data (a ping after ping_interval): longer than both timeouts
    t0 = time.monotonic()
    r = await conn.request("GET", eio_path(sid=sid))
    assert r.status == 200 and r.body == b"2" and time.monotonic() - t0 > 0.8
    ws, _ = await eio_ws(url)
    await asyncio.sleep(1.2)  # idle well past both timeouts: the WebSocket stays
    await ws.send_text("4hello")
    await asyncio.sleep(0.1)
    assert not ws.reader.at_eof()
    ws.close()
    conn.close()


async def test_zero_disables(start_server: Any) -> None:
    url = await start_server(make_server(http_keep_alive_timeout=0, http_request_timeout=0))
    conn = await Conn.open(url)
    await conn.send(b"GET / HTTP/1.1\r\n")
    await asyncio.sleep(0.8)
    await conn.send(b"Host: x\r\n\r\n")
    assert (await conn.response()).status == 404
    await asyncio.sleep(0.5)
    assert (await conn.request("GET", "/")).status == 404
    conn.close()
