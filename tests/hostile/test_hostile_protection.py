"""The protection options under attack: ``rate_limit`` (drop and disconnect),
``max_connections_per_ip`` and ``max_concurrent_handshakes``, each flooded by a raw
client while a python-socketio AsyncClient and a raw bystander, connected before the
attack, keep exchanging acked messages and lose nothing; after the attack, new
clients are served again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import socketio

from _hostile import Bystander, Conn, assert_logged, build_request, eio_path, eio_ws, sio_reply, sio_ws, text, ws_headers


async def good_client(url: str) -> socketio.AsyncClient:
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(url, transports=["websocket"], wait_timeout=5)
    return c


async def refused_client(url: str) -> None:
    """A python-socketio client's connection attempt must fail (its HTTP session closed)."""
    c = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(url, transports=["websocket"], wait_timeout=5)
    if c.eio.http is not None:
        await c.eio.http.close()


async def acked(c: socketio.AsyncClient, n: int) -> None:
    """n acked round trips; each must come back with its argument."""
    for i in range(n):
        assert await c.call("echo", i, timeout=5) == i


async def test_rate_limit_drop_under_flood(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a flood of events over ``rate_limit`` (drop) is dropped, the flooder is
    told once ("error" event) and stays connected, logged; the good clients' acks
    all come back."""
    served = await serve(rate_limit={"events_per_second": 5, "burst": 10})
    good = await good_client(served.url)
    ws = await sio_ws(served.url)
    try:
        await ws.send(b"".join(text(f'42{i}["echo",{i}]') for i in range(500)))
        replies = []
        while True:
            msg = await sio_reply(ws)
            replies.append(msg)
            if isinstance(msg, str) and msg.startswith('2["error"'):
                break
        acks = [m for m in replies if isinstance(m, str) and m.startswith("3")]
        # the burst (10), and what refilled while the flood was read (5/s): far from 500
        assert 10 <= len(acks) < 50, acks
        assert acks[:10] == [f"3{i}[{i}]" for i in range(10)]
        notice = json.loads(replies[-1][1:])  # type: ignore[index]
        assert notice[1]["message"] == "rate limit exceeded"
        await acked(good, 5)
        await asyncio.sleep(0.25)  # a token or so later, the flooder is served again
        await ws.send_text('42999["echo","again"]')
        while (msg := await sio_reply(ws)) != '3999["again"]':
            assert isinstance(msg, str) and msg.startswith("3"), msg
    finally:
        ws.close()
    assert_logged(logs, "over the event rate limit (5/s, burst 10); dropping events")
    await acked(good, 3)
    await good.disconnect()


async def test_rate_limit_disconnect_under_flood(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify ``rate_limit`` (disconnect): the flooder gets DISCONNECT, then its
    connection is closed, logged; the good clients lose nothing."""
    served = await serve(rate_limit={"events_per_second": 5, "burst": 10, "action": "disconnect"})
    good = await good_client(served.url)
    ws = await sio_ws(served.url)
    try:
        await ws.send(b"".join(text(f'42["echo",{i}]') for i in range(500)))
        while (msg := await sio_reply(ws)) != "1":
            pass
        assert await ws.close_code() == 1000
    finally:
        ws.close()
    assert "rate limit exceeded" in served.disconnects
    assert_logged(logs, "over the event rate limit (5/s, burst 10); disconnecting")
    await acked(good, 5)
    await good.disconnect()


async def test_max_connections_per_ip_under_attack(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify sessions over ``max_connections_per_ip`` are refused (403 code 4, over
    polling and WebSocket), logged; the clients connected before lose nothing; once the
    attacker's sessions end, its address is served again."""
    served = await serve(max_connections_per_ip=5)
    good = await good_client(served.url)
    bystander = await Bystander(served.url).start()
    conns = [await Conn.open(served.url) for _ in range(8)]
    sids = []
    try:
        statuses = []
        for c in conns:
            r = await c.request("GET", eio_path())
            statuses.append((r.status, r.json()["code"] if r.status != 200 else None))
            if r.status == 200:
                sids.append(json.loads(r.body[1:])["sid"])
        # two slots are the good clients'
        assert statuses == [(200, None)] * 3 + [(403, 4)] * 5, statuses
        up = await Conn.open(served.url)
        await up.send(build_request("GET", eio_path(transport="websocket"), headers=ws_headers()))
        r = await up.response()
        assert r.status == 403 and r.json()["code"] == 4
        assert await up.read_all() == b""
        up.close()
        await acked(good, 5)
        # the attacker ends its sessions (a CLOSE packet): three slots are free again
        for sid in sids:
            assert (await conns[0].request("POST", eio_path(sid=sid), b"1")).status == 200
        for c in conns[:3]:
            assert (await c.request("GET", eio_path())).status == 200
        assert (await conns[3].request("GET", eio_path())).status == 403
    finally:
        for c in conns:
            c.close()
    assert_logged(logs, "it has 5 sessions, max_connections_per_ip")
    await acked(good, 2)
    await good.disconnect()
    await bystander.stop()


async def test_max_concurrent_handshakes_under_attack(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify handshakes over ``max_concurrent_handshakes`` (sessions that never
    CONNECT) get 503 with Retry-After, over polling and WebSocket, logged; connected
    clients lose nothing; once the attacker's sessions end, new clients connect."""
    served = await serve(max_concurrent_handshakes=3)
    good = await good_client(served.url)
    bystander = await Bystander(served.url).start()
    attackers = [(await eio_ws(served.url))[0] for _ in range(3)]
    try:
        conn = await Conn.open(served.url)
        r = await conn.request("GET", eio_path())
        conn.close()
        assert r.status == 503 and r.headers["retry-after"] == "1"
        assert r.json() == {"code": 503, "message": "Too many handshakes in progress"}
        up = await Conn.open(served.url)
        await up.send(build_request("GET", eio_path(transport="websocket"), headers=ws_headers()))
        r = await up.response()
        assert r.status == 503 and await up.read_all() == b""
        up.close()
        await refused_client(served.url)
        await acked(good, 5)
    finally:
        for ws in attackers:
            ws.close()
    assert_logged(logs, "handshakes in progress, max_concurrent_handshakes")
    for _ in range(200):
        if len(served.app.engine.sessions) == 1 + 1:  # the good client and the bystander
            break
        await asyncio.sleep(0.01)
    again = await good_client(served.url)
    await acked(again, 2)
    await again.disconnect()
    await good.disconnect()
    await bystander.stop()


async def test_handshake_slots_free_at_connect_timeout(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify polling handshakes that never CONNECT free their slots once
    ``connect_timeout`` closes them."""
    served = await serve(max_concurrent_handshakes=3, connect_timeout=0.3)
    conns = [await Conn.open(served.url) for _ in range(3)]
    try:
        for c in conns:
            assert (await c.request("GET", eio_path())).status == 200
        r = await conns[0].request("GET", eio_path())
        assert r.status == 503
        for _ in range(100):
            if logs.text.count("sent no CONNECT in time") == 3:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert (await conns[1].request("GET", eio_path())).status == 200
    finally:
        for c in conns:
            c.close()
