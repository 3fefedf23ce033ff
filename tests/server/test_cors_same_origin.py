"""A same-origin request is served whatever ``cors_allowed_origins`` lists (browsers send
Origin with same-origin POSTs and WebSockets: a page served beside the Socket.IO
endpoint, and also allowed to other origins, must still work)."""

from __future__ import annotations

from typing import Any

import fastsio
from _net import Conn, WSConn, eio_path


async def test_same_origin_beside_an_allow_list(start_server: Any) -> None:
    """Verify same-origin polling and WebSocket pass, a listed origin gets CORS headers,
    an unlisted one is refused."""
    url = await start_server(fastsio.EngineServer(cors_allowed_origins=["http://elsewhere:1"]))
    me = "http://localhost"  # the requests' Host is "localhost"
    conn = await Conn.open(url)
    r = await conn.request("GET", eio_path(), headers={"Origin": me})
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == me
    r = await conn.request("GET", eio_path(), headers={"Origin": "http://elsewhere:1"})
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "http://elsewhere:1"
    r = await conn.request("GET", eio_path(), headers={"Origin": "http://evil:2"})
    assert r.status == 403
    conn.close()
    ws = await WSConn.connect(url, eio_path(transport="websocket"), headers={"Origin": me})
    assert (await ws.recv())[0] == "0"  # type: ignore[index]
    ws.close()
