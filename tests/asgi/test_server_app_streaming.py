"""``Server(app=asgi_app)``: streamed responses (``StreamingResponse``, server-sent
events) go out as they come, in the chunked transfer coding, on fastsio's own server.

A real FastAPI app: an endless event stream (stopped when the client goes away), 8 MB in
64 KiB pieces, a stream that fails half way, an HTTP/1.0 client (no chunking: the body
ends with the connection), keep-alive after a chunked response; aiohttp and a raw socket
as clients.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

import aiohttp
import pytest

import fastsio

pytest.importorskip("fastapi")
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402

PIECE = 64 * 1024


def build() -> tuple[fastsio.Server, dict[str, Any]]:
    """The server and its app; ``seen["events"]``: how many events the endless stream made."""
    api = FastAPI()
    seen: dict[str, Any] = {"events": 0}

    @api.get("/events")
    async def events() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            n = 0
            while True:
                n += 1
                seen["events"] = n
                yield f"data: {n}\n\n".encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(gen(), media_type="text/event-stream")

    @api.get("/big")
    async def big() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(128):
                yield bytes([i]) * PIECE

        return StreamingResponse(gen(), media_type="application/octet-stream")

    @api.get("/half")
    async def half() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            yield b"first part;"
            await asyncio.sleep(0)
            raise RuntimeError("broken stream")

        return StreamingResponse(gen(), media_type="text/plain")

    @api.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return fastsio.Server(app=api), seen


async def test_event_stream_goes_out_as_it_comes_and_stops_with_the_client(start_server: Any) -> None:
    """Verify server-sent events arrive one by one (the response is endless: gathering it
    would never answer) and the generator stops once the client is gone."""
    sio, seen = build()
    url = await start_server(sio)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/events") as r:
            assert r.status == 200 and r.headers["Transfer-Encoding"] == "chunked"
            assert r.headers["Content-Type"].startswith("text/event-stream")
            got = []
            while len(got) < 5:
                line = (await asyncio.wait_for(r.content.readline(), 5)).strip()
                if line:
                    got.append(line)
            assert got == [f"data: {n}".encode() for n in range(1, 6)]
    # the app's send raised once the client was gone: the endless stream stopped
    # advancing (its generator is left suspended, and closed when collected)
    last, steady = -1, 0
    for _ in range(200):
        await asyncio.sleep(0.05)
        steady = steady + 1 if seen["events"] == last else 0
        last = seen["events"]
        if steady >= 6:
            break
    assert steady >= 6, "the endless stream kept going after its client left"


async def test_big_stream_and_keep_alive_after_it(start_server: Any) -> None:
    """Verify 8 MB in 64 KiB pieces arrive whole and in order, and the connection serves
    the next request after the chunked response."""
    sio, _ = build()
    url = await start_server(sio)
    connector = aiohttp.TCPConnector(limit=1)  # one connection: the next request reuses it
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(url + "/big") as r:
            body = await r.read()
        assert len(body) == 128 * PIECE
        assert all(body[i * PIECE] == i and body[(i + 1) * PIECE - 1] == i for i in range(128))
        async with http.get(url + "/hello") as r:
            assert await r.json() == {"hello": "world"}
        # a HEAD answer carries no body, whatever the app sends (FastAPI: 405 here)
        async with http.head(url + "/big") as r:
            assert r.status == 405 and await r.read() == b""
        async with http.get(url + "/hello") as r:
            assert await r.json() == {"hello": "world"}


async def test_stream_failing_half_way(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Verify a stream whose app raises after its first piece is cut short (the client
    sees an incomplete body, not a complete one), logged, and the server carries on."""
    sio, _ = build()
    url = await start_server(sio)
    with caplog.at_level(logging.ERROR, logger="fastsio"):
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/half") as r:
                with pytest.raises(aiohttp.ClientPayloadError):
                    await r.read()
            async with http.get(url + "/hello") as r:
                assert await r.json() == {"hello": "world"}
    assert any("broken stream" in str(rec.exc_info) for rec in caplog.records)


async def test_http10_client_gets_the_stream_until_close(start_server: Any) -> None:
    """Verify an HTTP/1.0 request (no chunked coding) gets the body delimited by the
    connection's close."""
    sio, _ = build()
    await start_server(sio)
    host, port = sio.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /big HTTP/1.0\r\nHost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)  # to EOF: the server closes
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    assert b"chunked" not in head.lower() and len(body) == 128 * PIECE
