"""The HTTP/1.1 layer and HTTP policy over real sockets: keep-alive, bodies, limits,
errors, Engine.IO error responses, CORS, cookies, lifecycle."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastsio
from fastsio._server import http as http_mod

from _net import Conn, WSConn, build_request, eio_path, eio_ws, hostport, polling_open, raw_exchange

# ------------------------------------------------------------------ HTTP/1.1


async def test_keep_alive_several_requests_on_one_connection(start_server: Any) -> None:
    """Verify several requests, of several kinds, share one connection."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        r1 = await conn.request("GET", "/nothing-here")
        assert r1.status == 404 and r1.body == b"Not Found"
        opened = await polling_open(conn)
        sid = opened["sid"]
        r3 = await conn.request("POST", eio_path(sid=sid), b"4hello")
        assert (r3.status, r3.body) == (200, b"ok")
        r4 = await conn.request("GET", eio_path(transport="nope"))
        assert r4.status == 400
        assert "connection" not in r4.headers
        r5 = await conn.request("GET", "/again")
        assert r5.status == 404
    finally:
        conn.close()


async def test_pipelined_requests_answered_in_order(start_server: Any) -> None:
    """Verify pipelined requests get their responses in order, one write."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        await conn.send(
            build_request("GET", "/a") + build_request("GET", eio_path()) + build_request("GET", "/b")
        )
        statuses = [(await conn.response()).status for _ in range(3)]
        assert statuses == [404, 200, 404]
    finally:
        conn.close()


async def test_pipelined_request_waits_behind_long_poll(start_server: Any) -> None:
    """Verify a request pipelined behind a long-polling GET is answered after it."""
    eio = fastsio.EngineServer()
    sockets: list[Any] = []
    eio.on("connection", sockets.append)
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        await conn.send(build_request("GET", eio_path(sid=sid)) + build_request("GET", "/after"))
        with pytest.raises(asyncio.TimeoutError):
            await conn.response(timeout=0.1)
        sockets[0].send("late")
        first = await conn.response()
        assert first.body == b"4late"
        assert (await conn.response()).status == 404
    finally:
        conn.close()


async def test_many_pipelined_requests_behind_long_poll(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify the most pipelined requests allowed wait, then are all answered in order."""
    eio = fastsio.EngineServer()
    sockets: list[Any] = []
    eio.on("connection", sockets.append)
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        n = http_mod.MAX_PIPELINED
        await conn.send(build_request("GET", eio_path(sid=sid)) + b"".join(build_request("GET", f"/{i}") for i in range(n)))
        await asyncio.sleep(0.05)
        sockets[0].send("go")
        assert (await conn.response()).body == b"4go"
        for _ in range(n):
            assert (await conn.response()).status == 404
        assert (await conn.request("GET", "/last")).status == 404
    finally:
        conn.close()
    assert not [r for r in logs.records if r.exc_info]


async def test_pipelining_flood_is_bounded(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a client pipelining without end behind a long poll cannot make the server
    buffer without end (reading pauses; over the cap in one read, the connection drops)."""
    eio = fastsio.EngineServer()
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        conn.writer.write(build_request("GET", eio_path(sid=sid)) + build_request("GET", "/x") * 20_000)
        try:
            await asyncio.wait_for(conn.writer.drain(), 0.5)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        await asyncio.sleep(0.1)
        for c in eio.engine.connections:
            assert len(c.backlog) <= http_mod.MAX_PIPELINED
    finally:
        conn.close()
    other = await Conn.open(url)
    try:
        await polling_open(other)
    finally:
        other.close()


async def test_keep_alive_is_per_request(start_server: Any) -> None:
    """Verify ``Connection: close`` on a pipelined request applies to that request only."""
    eio = fastsio.EngineServer()
    sockets: list[Any] = []
    eio.on("connection", sockets.append)
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        await conn.send(
            build_request("GET", eio_path(sid=sid)) + build_request("GET", "/x", headers={"Connection": "close"})
        )
        await asyncio.sleep(0.05)
        sockets[0].send("go")
        first = await conn.response()
        assert first.body == b"4go" and "connection" not in first.headers
        second = await conn.response()
        assert second.status == 404 and second.headers["connection"] == "close"
        assert await conn.eof()
    finally:
        conn.close()


async def test_requests_after_an_upgrade_not_taken(start_server: Any) -> None:
    """Verify requests pipelined after a non-WebSocket Upgrade request are still served."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        h2c = build_request("GET", "/h2c", headers={"Connection": "Upgrade", "Upgrade": "h2c"})
        await conn.send(h2c * 300 + build_request("GET", eio_path()))
        for _ in range(300):
            assert (await conn.response()).status == 404
        r = await conn.response()
        assert r.status == 200 and r.body[:1] == b"0"
    finally:
        conn.close()


async def test_connection_close_request_header(start_server: Any) -> None:
    """Verify ``Connection: close`` from the client closes after the response."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", "/x", headers={"Connection": "close"})
        assert r.status == 404 and r.headers.get("connection") == "close"
        assert await conn.eof()
    finally:
        conn.close()


async def test_http_1_0_closes(start_server: Any) -> None:
    """Verify an HTTP/1.0 request without keep-alive gets its answer, then the end."""
    url = await start_server(fastsio.EngineServer())
    out = await raw_exchange(url, b"GET /x HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404 ")


async def test_post_content_length_body(start_server: Any) -> None:
    """Verify a POST body framed by Content-Length reaches the session, split in pieces."""
    eio = fastsio.EngineServer()
    got: list[Any] = []
    eio.on("connection", lambda s: s.on("message", got.append))
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        req = build_request("POST", eio_path(sid=sid), "4héllo\x1ebAQI=".encode())
        for i in range(0, len(req), 7):  # the request arrives in small pieces
            await conn.send(req[i : i + 7])
            await asyncio.sleep(0)
        r = await conn.response()
        assert (r.status, r.body) == (200, b"ok")
        assert r.headers["content-type"] == "text/html"
        assert got == ["héllo", b"\x01\x02"]
    finally:
        conn.close()


async def test_post_chunked_body(start_server: Any) -> None:
    """Verify a chunked POST body is reassembled."""
    eio = fastsio.EngineServer()
    got: list[Any] = []
    eio.on("connection", lambda s: s.on("message", got.append))
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        head = f"POST {eio_path(sid=sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        body = b"3\r\n4ab\r\n4\r\nc\x1e4d\r\n0\r\n\r\n"
        await conn.send(head.encode() + body)
        r = await conn.response()
        assert (r.status, r.body) == (200, b"ok")
        assert got == ["abc", "d"]
        # the connection is still usable
        assert (await conn.request("GET", "/x")).status == 404
    finally:
        conn.close()


async def test_header_size_limit_431(start_server: Any) -> None:
    """Verify headers over 16 KiB are answered 431 and the connection closed."""
    url = await start_server(fastsio.EngineServer())
    big = "x" * (http_mod.MAX_HEADER_BYTES + 1)
    out = await raw_exchange(url, build_request("GET", eio_path(), headers={"X-Big": big}))
    assert out.startswith(b"HTTP/1.1 431 ")
    assert out.count(b"HTTP/1.1") == 1


async def test_header_count_limit_431(start_server: Any) -> None:
    """Verify more than 100 headers are answered 431."""
    url = await start_server(fastsio.EngineServer())
    headers = {f"X-H{i}": "v" for i in range(http_mod.MAX_HEADERS + 1)}
    out = await raw_exchange(url, build_request("GET", "/", headers=headers))
    assert out.startswith(b"HTTP/1.1 431 ")


async def test_url_size_limit_414(start_server: Any) -> None:
    """Verify a request line over the limit is answered 414."""
    url = await start_server(fastsio.EngineServer())
    out = await raw_exchange(url, build_request("GET", "/" + "a" * (http_mod.MAX_HEADER_BYTES + 1)))
    assert out.startswith(b"HTTP/1.1 414 ")


async def test_headers_just_under_the_limit(start_server: Any) -> None:
    """Verify headers just under the limit are served."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", "/x", headers={"X-Big": "x" * (http_mod.MAX_HEADER_BYTES - 200)})
        assert r.status == 404
    finally:
        conn.close()


async def test_404_outside_engine_io_path(start_server: Any) -> None:
    """Verify every path but the Engine.IO one is 404, whatever the method."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        for method, target in [
            ("GET", "/"),
            ("GET", "/engine.io.x/"),
            ("GET", "/engine.io/extra"),
            ("POST", "/other"),
            ("DELETE", "/socket.io/"),
        ]:
            r = await conn.request(method, target)
            assert r.status == 404, (method, target)
    finally:
        conn.close()


async def test_engine_io_path_without_trailing_slash(start_server: Any) -> None:
    """Verify the Engine.IO path is served with and without its trailing slash."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", "/engine.io?EIO=4&transport=polling")
        assert r.status == 200 and r.body[:1] == b"0"
    finally:
        conn.close()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="no-version"),
        pytest.param(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", id="bad-version"),
        pytest.param(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", id="header-no-colon"),
        pytest.param(b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", id="nul-in-header"),
        pytest.param(b"G\x01T / HTTP/1.1\r\n\r\n", id="bad-method"),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", id="bad-content-length"),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad-chunk-size"
        ),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, id="tls-hello"),
    ],
)
async def test_malformed_http_400(start_server: Any, data: bytes) -> None:
    """Verify malformed HTTP gets a clean 400 and the connection closed."""
    url = await start_server(fastsio.EngineServer())
    out = await raw_exchange(url, data)
    assert out.startswith(b"HTTP/1.1 400 "), out[:80]
    assert b"Connection: close" in out


async def test_malformed_second_request_after_good_one(start_server: Any) -> None:
    """Verify a bad request after a good one on the same connection gets 400."""
    url = await start_server(fastsio.EngineServer())
    out = await raw_exchange(url, build_request("GET", "/a") + b"NOT HTTP\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404 ")
    assert b"HTTP/1.1 400 " in out


# ------------------------------------------------------------------ body limit


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_limit_413_closes_session(start_server: Any, chunked: bool) -> None:
    """Verify a POST over max_http_buffer_size is answered 413 and its session closed."""
    eio = fastsio.EngineServer(max_http_buffer_size=100)
    reasons: list[str] = []
    eio.on("connection", lambda s: s.on("close", reasons.append))
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        body = b"4" + b"x" * 200
        if chunked:
            head = f"POST {eio_path(sid=sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            data = head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 50]), body[i : i + 50]) for i in range(0, len(body), 50)) + b"0\r\n\r\n"
        else:
            data = build_request("POST", eio_path(sid=sid), body)
        await conn.send(data)
        r = await conn.response()
        assert r.status == 413
        assert await conn.eof()
    finally:
        conn.close()
    for _ in range(50):
        if reasons:
            break
        await asyncio.sleep(0.01)
    assert reasons and reasons[0] in ("transport error", "parse error")
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.status == 400 and r.json() == {"code": 1, "message": "Session ID unknown"}
    finally:
        conn.close()


async def test_body_just_under_limit(start_server: Any) -> None:
    """Verify a POST of exactly max_http_buffer_size bytes is served."""
    eio = fastsio.EngineServer(max_http_buffer_size=100)
    got: list[Any] = []
    eio.on("connection", lambda s: s.on("message", got.append))
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        r = await conn.request("POST", eio_path(sid=sid), b"4" + b"x" * 99)
        assert r.status == 200
        assert got == ["x" * 99]
    finally:
        conn.close()


async def test_many_tiny_chunks_are_cheap(start_server: Any) -> None:
    """Verify a chunked body of many 1-byte chunks is refused in linear time."""
    eio = fastsio.EngineServer(max_http_buffer_size=200_000)
    url = await start_server(eio)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        head = f"POST {eio_path(sid=sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        started = time.perf_counter()
        await conn.send(head.encode() + b"1\r\n4\r\n" + b"1\r\nx\r\n" * 200_001)
        r = await conn.response(timeout=20)
        assert r.status == 413
        assert time.perf_counter() - started < 5
    finally:
        conn.close()


# ------------------------------------------------------------------ Engine.IO errors


def _err(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


ERRORS = [
    pytest.param("GET", "/engine.io/?EIO=4&transport=carrier-pigeon", 400, _err(0, "Transport unknown"), id="transport-unknown"),
    pytest.param("GET", "/engine.io/?EIO=4", 400, _err(0, "Transport unknown"), id="transport-missing"),
    pytest.param("GET", "/engine.io/?EIO=4&transport=polling&sid=nope", 400, _err(1, "Session ID unknown"), id="sid-unknown"),
    pytest.param("POST", "/engine.io/?EIO=4&transport=polling&sid=nope", 400, _err(1, "Session ID unknown"), id="post-sid-unknown"),
    pytest.param("POST", "/engine.io/?EIO=4&transport=polling", 400, _err(2, "Bad handshake method"), id="post-handshake"),
    pytest.param("PUT", "/engine.io/?EIO=4&transport=polling", 400, _err(2, "Bad handshake method"), id="put-handshake"),
    pytest.param("GET", "/engine.io/?EIO=4&transport=websocket", 400, _err(3, "Bad request"), id="websocket-without-upgrade"),
    pytest.param("GET", "/engine.io/?EIO=3&transport=polling", 400, _err(5, "Unsupported protocol version"), id="eio3"),
    pytest.param("GET", "/engine.io/?EIO=5&transport=polling", 400, _err(5, "Unsupported protocol version"), id="eio5"),
    pytest.param("GET", "/engine.io/?transport=polling", 400, _err(5, "Unsupported protocol version"), id="eio-missing"),
]


@pytest.mark.parametrize(("method", "target", "status", "body"), ERRORS)
async def test_engine_io_errors(start_server: Any, method: str, target: str, status: int, body: dict[str, Any]) -> None:
    """Verify the reference server's error responses, exact JSON."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        r = await conn.request(method, target, b"" if method == "GET" else b"4x")
        assert r.status == status
        assert r.headers["content-type"] == "application/json"
        assert r.body == json.dumps(body, separators=(",", ":")).encode()
        # still served after an error
        assert (await conn.request("GET", eio_path())).status == 200
    finally:
        conn.close()


async def test_bad_request_for_other_methods_and_upgraded_sessions(start_server: Any) -> None:
    """Verify code 3 for a PUT with a sid and for polling on an upgraded session."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        r = await conn.request("PUT", eio_path(sid=sid), b"4x")
        assert r.status == 400 and r.json() == _err(3, "Bad request")
        r = await conn.request("GET", eio_path(sid=sid, transport="websocket"))
        assert r.status == 400 and r.json() == _err(3, "Bad request")
    finally:
        conn.close()
    ws, opened = await eio_ws(url)
    try:
        conn = await Conn.open(url)
        r = await conn.request("GET", eio_path(sid=opened["sid"]))
        assert r.status == 400 and r.json() == _err(3, "Bad request")
        conn.close()
    finally:
        ws.close()


def _allow_sync(ok: bool) -> Any:
    def allow(req: Any) -> bool:
        return ok if req.query.get("token") != "good" else True

    return allow


def _allow_async(ok: bool) -> Any:
    async def allow(req: Any) -> bool:
        await asyncio.sleep(0.01)
        return ok if req.query.get("token") != "good" else True

    return allow


def _allow_raises(ok: bool) -> Any:
    def allow(req: Any) -> bool:
        if req.query.get("token") == "good":
            return True
        raise RuntimeError("refused by raising")

    return allow


@pytest.mark.parametrize("make", [_allow_sync, _allow_async, _allow_raises], ids=["sync", "async", "raises"])
async def test_allow_request_403(start_server: Any, make: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify allow_request refusing answers 403 code 4 (polling and WebSocket); accepting serves."""
    url = await start_server(fastsio.EngineServer(allow_request=make(False)))
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path())
        assert r.status == 403 and r.json() == _err(4, "Forbidden")
        r = await conn.request("GET", eio_path(token="good"))
        assert r.status == 200 and r.body[:1] == b"0"
    finally:
        conn.close()
    out = await raw_exchange(
        url,
        build_request(
            "GET",
            eio_path(transport="websocket"),
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        ),
    )
    assert out.startswith(b"HTTP/1.1 403 ")
    assert out.endswith(b'{"code":4,"message":"Forbidden"}')
    ws, _ = await eio_ws(url, token="good")
    ws.close()


async def test_allow_request_sees_the_request(start_server: Any) -> None:
    """Verify allow_request gets the handshake request (headers, query)."""
    seen: list[Any] = []

    def allow(req: Any) -> bool:
        seen.append((req.method, req.path, req.query.get("EIO"), req.headers.get("x-test")))
        return True

    url = await start_server(fastsio.EngineServer(allow_request=allow))
    conn = await Conn.open(url)
    try:
        await polling_open(conn, **{"X-Test": "yes"})
    finally:
        conn.close()
    assert seen == [("GET", "/engine.io/", "4", "yes")]


async def test_allow_request_async_client_gone(start_server: Any) -> None:
    """Verify an async allow_request whose client left meanwhile does nothing."""
    release = asyncio.Event()

    async def allow(req: Any) -> bool:
        await release.wait()
        return True

    eio = fastsio.EngineServer(allow_request=allow)
    url = await start_server(eio)
    conn = await Conn.open(url)
    await conn.send(build_request("GET", eio_path()))
    await asyncio.sleep(0.05)
    conn.close()
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.sleep(0.05)
    assert eio.clients_count == 0


# ------------------------------------------------------------------ CORS


def _origin_of(url: str) -> str:
    host, port = hostport(url)
    return f"http://{host}:{port}"


@pytest.mark.parametrize(
    ("allowed", "origin", "ok"),
    [
        pytest.param(None, "http://SAME", True, id="none-same-origin"),
        pytest.param(None, "http://evil.example", False, id="none-other-origin"),
        pytest.param(None, "https://SAME", False, id="none-other-scheme"),
        pytest.param("*", "http://anything.example", True, id="star"),
        pytest.param(["http://a.example", "http://b.example"], "http://b.example", True, id="list-listed"),
        pytest.param(["http://a.example"], "http://c.example", False, id="list-unlisted"),
        pytest.param("http://a.example", "http://a.example", True, id="string-listed"),
        pytest.param("http://a.example", "http://a.example.evil", False, id="string-prefix"),
    ],
)
async def test_cors(start_server: Any, allowed: Any, origin: str, ok: bool) -> None:
    """Verify the Origin check and the CORS headers: the origin reflected, credentials allowed."""
    eio = fastsio.EngineServer(cors_allowed_origins=allowed)
    url = await start_server(eio)
    host, port = hostport(url)
    origin = origin.replace("SAME", f"{host}:{port}")
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path(), headers={"Origin": origin}, host=f"{host}:{port}")
        if ok:
            assert r.status == 200
            assert r.headers["access-control-allow-origin"] == origin
            assert r.headers["access-control-allow-credentials"] == "true"
            sid = json.loads(r.body[1:])["sid"]
            r = await conn.request("POST", eio_path(sid=sid), b"4x", headers={"Origin": origin}, host=f"{host}:{port}")
            assert r.status == 200 and r.headers["access-control-allow-origin"] == origin
        else:
            assert r.status == 403
            assert r.json() == _err(4, "Not an accepted origin")
            assert "access-control-allow-origin" not in r.headers
        # no Origin header (not a browser): always served
        r = await conn.request("GET", eio_path(), host=f"{host}:{port}")
        assert r.status == 200 and "access-control-allow-origin" not in r.headers
    finally:
        conn.close()
    # the same check on WebSocket upgrades
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Origin": origin,
    }
    if ok:
        ws = await WSConn.connect(url, eio_path(transport="websocket"), {"Origin": origin}, f"{host}:{port}")
        assert (await ws.recv())[0] == "0"
        ws.close()
    else:
        target = eio_path(transport="websocket")
        out = await raw_exchange(url, build_request("GET", target, headers=headers, host=f"{host}:{port}"))
        assert out.startswith(b"HTTP/1.1 403 ")
        assert out.endswith(b'{"code":4,"message":"Not an accepted origin"}')


async def test_cors_without_credentials(start_server: Any) -> None:
    """Verify cors_credentials=False leaves out Allow-Credentials."""
    url = await start_server(fastsio.EngineServer(cors_allowed_origins="*", cors_credentials=False))
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path(), headers={"Origin": "http://x.example"})
        assert r.headers["access-control-allow-origin"] == "http://x.example"
        assert "access-control-allow-credentials" not in r.headers
    finally:
        conn.close()


async def test_cors_preflight(start_server: Any) -> None:
    """Verify a preflight OPTIONS is answered 204 with methods and the requested headers."""
    url = await start_server(fastsio.EngineServer(cors_allowed_origins=["http://a.example"]))
    conn = await Conn.open(url)
    try:
        r = await conn.request(
            "OPTIONS",
            eio_path(),
            headers={
                "Origin": "http://a.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-custom",
            },
        )
        assert r.status == 204 and r.body == b""
        assert r.headers["access-control-allow-origin"] == "http://a.example"
        assert r.headers["access-control-allow-credentials"] == "true"
        assert "POST" in r.headers["access-control-allow-methods"].split(",")
        assert "GET" in r.headers["access-control-allow-methods"].split(",")
        assert r.headers["access-control-allow-headers"] == "content-type, x-custom"
        # a refused origin gets no preflight
        r = await conn.request(
            "OPTIONS", eio_path(), headers={"Origin": "http://b.example", "Access-Control-Request-Method": "POST"}
        )
        assert r.status == 403
    finally:
        conn.close()


async def test_cors_with_aiohttp(start_server: Any) -> None:
    """Verify the CORS headers as an HTTP client library sees them."""
    url = await start_server(fastsio.EngineServer(cors_allowed_origins="*"))
    async with aiohttp.ClientSession() as http:
        async with http.get(url + eio_path(), headers={"Origin": "http://o.example"}) as r:
            assert r.status == 200
            assert r.headers["Access-Control-Allow-Origin"] == "http://o.example"
            assert r.headers["Access-Control-Allow-Credentials"] == "true"


# ------------------------------------------------------------------ cookie


@pytest.mark.parametrize("cookie", ["io", {"name": "io"}])
async def test_cookie(start_server: Any, cookie: Any) -> None:
    """Verify the cookie option sets ``io=<sid>; Path=/; HttpOnly; SameSite=Lax``."""
    url = await start_server(fastsio.EngineServer(cookie=cookie))
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path())
        sid = json.loads(r.body[1:])["sid"]
        assert r.headers["set-cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
        # only on the handshake
        r = await conn.request("POST", eio_path(sid=sid), b"4x")
        assert "set-cookie" not in r.headers
    finally:
        conn.close()


async def test_cookie_on_websocket_handshake(start_server: Any) -> None:
    """Verify a WebSocket-only handshake's 101 carries the cookie."""
    url = await start_server(fastsio.EngineServer(cookie="io"))
    conn = await Conn.open(url)
    try:
        await conn.send(
            build_request(
                "GET",
                eio_path(transport="websocket"),
                headers={
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "13",
                },
            )
        )
        head = (await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)).decode()
        assert head.startswith("HTTP/1.1 101 ")
        assert "Set-Cookie: io=" in head and "; Path=/; HttpOnly; SameSite=Lax" in head
    finally:
        conn.close()


async def test_no_cookie_by_default(start_server: Any) -> None:
    """Verify no cookie is set without the option."""
    url = await start_server(fastsio.EngineServer())
    conn = await Conn.open(url)
    try:
        r = await conn.request("GET", eio_path())
        assert "set-cookie" not in r.headers
    finally:
        conn.close()


# ------------------------------------------------------------------ lifecycle


async def test_start_port_0_and_address() -> None:
    """Verify port 0 picks a free port that ``address`` reports; a second start raises."""
    eio = fastsio.EngineServer()
    assert eio.address is None
    await eio.start("127.0.0.1", 0)
    try:
        host, port = eio.address  # type: ignore[misc]
        assert host == "127.0.0.1" and port > 0
        conn = await Conn.open(f"http://{host}:{port}")
        assert (await conn.request("GET", "/x")).status == 404
        conn.close()
        with pytest.raises(RuntimeError):
            await eio.start("127.0.0.1", 0)
    finally:
        await eio.stop()
    await eio.stop()  # idempotent


async def test_stop_closes_listener_and_disconnects_clients() -> None:
    """Verify stop() refuses new connections and disconnects everyone, "server shutting down"."""
    sio = fastsio.Server()
    reasons: list[str] = []
    sio.on("disconnect", lambda socket, reason: reasons.append(reason))
    eio = fastsio.EngineServer()
    eio_reasons: list[str] = []
    eio.on("connection", lambda s: s.on("close", eio_reasons.append))
    await sio.start("127.0.0.1", 0)
    await eio.start("127.0.0.1", 0)
    sio_url = "http://%s:%d" % sio.address  # type: ignore[str-format]
    eio_url = "http://%s:%d" % eio.address  # type: ignore[str-format]
    from _net import sio_ws

    ws, _ = await sio_ws(sio_url)
    eio_sock, _ = await eio_ws(eio_url)
    poll = await Conn.open(eio_url)
    sid = (await polling_open(poll))["sid"]
    await poll.send(build_request("GET", eio_path(sid=sid)))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    # nobody is owed anything: no wait for shutdown_timeout (5 s), only for the
    # WebSocket close handshakes, which these raw clients never answer (cut after 1 s)
    await asyncio.gather(sio.stop(), eio.stop())
    assert time.perf_counter() - started < 4
    assert reasons == ["server shutting down"]
    assert sorted(eio_reasons) == ["server shutting down", "server shutting down"]
    # the pending GET got the CLOSE packet, the WebSocket a close frame
    r = await poll.response()
    assert r.body == b"1"
    assert await eio_sock.close_code() == 1000
    assert await ws.close_code() == 1000
    for url in (sio_url, eio_url):
        with pytest.raises(OSError):
            await Conn.open(url)
    for c in (ws, eio_sock, poll):
        c.close()


_RUN_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
import fastsio
server = fastsio.{cls}()
server.run("127.0.0.1", 0)
print("exited cleanly", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("cls", ["Server", "EngineServer"])
def test_run_stops_on_signal(sig: int, cls: str) -> None:
    """Verify run() serves, then exits 0 promptly on SIGINT and SIGTERM."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_SCRIPT.format(cls=cls)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 15
        port = None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "server did not start"
        import socket as socketlib

        with socketlib.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 404 ")
        started = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(timeout=10)
        out = proc.stdout.read() if proc.stdout else ""
        assert rc == 0, (rc, out, proc.stderr.read())
        assert "exited cleanly" in out
        assert time.monotonic() - started < 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abEIO=&+%20t-_.~é", max_size=6),
            st.text(alphabet="ab=&+%2F0w-é", max_size=6),
        ),
        max_size=5,
    ).map(lambda pairs: "&".join(f"{k}={v}" if v != "-" else k for k, v in pairs))
)
def test_query_is_what_parse_qsl_gives(qs: str) -> None:
    """The query fast path (nothing to unquote) and the parse_qsl path agree with
    ``dict(parse_qsl(qs))``: blank values and '='-less names dropped, last one wins."""
    from urllib.parse import parse_qsl

    from fastsio._server.request import parse_query

    assert parse_query(qs) == dict(parse_qsl(qs))


@given(
    st.one_of(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(str.encode),
        st.binary(max_size=40),
    ).map(lambda rest: b"/" + rest)
)
def test_origin_form_target_splits_as_parse_url_does(raw: bytes) -> None:
    """Any origin-form target (``/path?query``) that the HTTP parser accepts, without a
    fragment, splits into the path and the query string that ``httptools.parse_url``
    gives."""
    import httptools

    from fastsio._server.request import split_target

    class Head:
        complete = False
        url = b""

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_message_complete(self) -> None:
            self.complete = True

    head = Head()
    try:
        httptools.HttpRequestParser(head).feed_data(b"GET " + raw + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    except httptools.HttpParserError:
        return  # refused before the target is split
    # the target as the server gets it (the parser's, which may differ from what was
    # sent: "GET /  HTTP/1.1" is the target "/")
    url = head.url
    if not head.complete or not url.startswith(b"/") or b"#" in url:
        return
    parsed = httptools.parse_url(url)
    assert split_target(url.decode("latin-1")) == (parsed.path.decode("latin-1"), (parsed.query or b"").decode("latin-1"))


@pytest.mark.parametrize("target", ["*", "http://example.com/socket.io/?EIO=4", "/a?b#c", "/a#b", ""])
def test_other_targets_go_to_parse_url(target: str) -> None:
    """Anything but an origin-form target without a fragment is left to ``parse_url``."""
    from fastsio._server.request import split_target

    assert split_target(target) is None


async def test_absolute_form_target_is_served(start_server: Any) -> None:
    """A request in absolute form (``GET http://host/socket.io/?...``, as to a proxy)
    still reaches the engine by its path."""
    url = await start_server(fastsio.EngineServer())
    host, port = hostport(url)
    request = f"GET http://{host}:{port}{eio_path()} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    out = await raw_exchange(url, request.encode())
    assert out.startswith(b"HTTP/1.1 200 "), out[:80]
    assert b'0{"sid":"' in out


@pytest.mark.parametrize(
    "qs",
    [
        "EIO=4&transport=polling&t=PQx1a2b",
        "EIO=4&transport=websocket&sid=AbCdEfGhIjKlMnOpQrSt",
        "sid=a&sid=b&t=&t=1",
        "EIO=4&transport=polling&sid=x%2By&t=1+2",
    ],
)
def test_query_with_per_request_values(qs: str) -> None:
    """``sid`` and ``t`` (not shared: they differ per request) parse like any other
    parameter."""
    from urllib.parse import parse_qsl

    from fastsio._server.request import parse_query

    assert parse_query(qs) == dict(parse_qsl(qs))


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"Host", b"host", b"Cookie", b"X-A", b"x-a", b"Sec-WebSocket-Key", b"Accept"]),
            st.one_of(st.binary(max_size=8), st.binary(min_size=60, max_size=80)),
        ),
        max_size=8,
    )
)
def test_header_dict_is_the_lower_cased_joined_headers(raw: list[tuple[bytes, bytes]]) -> None:
    """Header names lower-cased, values decoded as Latin-1, repeated headers joined by
    ", " in order, whatever was shared before."""
    from fastsio._server.request import header_dict

    expected: dict[str, str] = {}
    for name, value in raw:
        key, val = name.decode("latin-1").lower(), value.decode("latin-1")
        expected[key] = expected[key] + ", " + val if key in expected else val
    assert header_dict(raw) == expected
    assert header_dict(raw) == expected  # the second time from the shared tables
