"""gzip/deflate of long-polling responses (http_compression, 1024-byte threshold)."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import aiohttp
import pytest
import socketio

import fastsio


async def _poll_session(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/engine.io/?EIO=4&transport=polling") as r:
        return (await r.text())[1:].split('"sid":"')[1].split('"')[0]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_large_poll_responses_are_compressed(start_server: Any, encoding: str) -> None:
    eio = fastsio.EngineServer()
    sockets: list[fastsio.EngineSocket] = []
    eio.on("connection", sockets.append)
    url = await start_server(eio)
    big = "é" * 2000
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        sid = await _poll_session(http, url)
        sockets[0].send(big)
        headers = {"Accept-Encoding": encoding}
        async with http.get(url + f"/engine.io/?EIO=4&transport=polling&sid={sid}", headers=headers) as r:
            assert r.headers["Content-Encoding"] == encoding
            raw = await r.read()
        body = gzip.decompress(raw) if encoding == "gzip" else zlib.decompress(raw)
        assert body.decode() == "4" + big
        assert len(raw) < len(body)
        # below the threshold: sent as is
        sockets[0].send("small")
        async with http.get(url + f"/engine.io/?EIO=4&transport=polling&sid={sid}", headers=headers) as r:
            assert "Content-Encoding" not in r.headers
            assert await r.text() == "4small"
        # a client that does not accept it (or refuses it with q=0) gets plain text
        sockets[0].send(big)
        plain = {"Accept-Encoding": f"{encoding};q=0, identity"}
        async with http.get(url + f"/engine.io/?EIO=4&transport=polling&sid={sid}", headers=plain) as r:
            assert "Content-Encoding" not in r.headers
            assert await r.text() == "4" + big


async def test_compression_can_be_turned_off(start_server: Any) -> None:
    eio = fastsio.EngineServer(http_compression=False)
    sockets: list[fastsio.EngineSocket] = []
    eio.on("connection", sockets.append)
    url = await start_server(eio)
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        sid = await _poll_session(http, url)
        sockets[0].send("x" * 5000)
        async with http.get(url + f"/engine.io/?EIO=4&transport=polling&sid={sid}", headers={"Accept-Encoding": "gzip"}) as r:
            assert "Content-Encoding" not in r.headers
            assert await r.text() == "4" + "x" * 5000


async def test_python_client_over_compressed_polling(start_server: Any) -> None:
    sio = fastsio.Server()

    @sio.on("big")
    def big(socket: fastsio.Socket, n: int) -> str:
        return "ü" * n

    url = await start_server(sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["polling"])
    assert await client.call("big", 50_000, timeout=5) == "ü" * 50_000
    await client.disconnect()
    await asyncio.sleep(0)
