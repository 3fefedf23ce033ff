"""One connection's sockets in several namespaces, over a raw WebSocket: a namespace
left (by the client, or the first one of the connection) can be joined again on the
same connection, and the packets of each namespace reach its current socket."""

from __future__ import annotations

import json
from typing import Any

import fastsio

from _net import sio_call, sio_ws


async def test_namespaces_left_and_joined_again(start_server: Any) -> None:
    sio = fastsio.Server()
    for name in ("/", "/a", "/b"):

        @sio.of(name).on("who")
        def who(socket: fastsio.Socket) -> list[Any]:
            return [socket.nsp, socket.id, sorted(socket.client.sockets)]

    url = await start_server(sio)
    ws, root_id = await sio_ws(url)
    try:
        ids = {"/": root_id}
        for name in ("/a", "/b"):
            await ws.send_text(f"40{name},")
            reply = await ws.recv()
            assert isinstance(reply, str) and reply.startswith(f"40{name},"), reply
            ids[name] = json.loads(reply[len(f"40{name},") :])["sid"]
        ack = 1
        for name in ("/", "/a", "/b"):
            assert await sio_call(ws, "who", ack=ack, nsp=name) == [[name, ids[name], ["/", "/a", "/b"]]]
            ack += 1
        # the client leaves "/" (the connection's first socket) and "/a"
        await ws.send_text("41")
        await ws.send_text("41/a,")
        assert await sio_call(ws, "who", ack=ack, nsp="/b") == [["/b", ids["/b"], ["/b"]]]
        ack += 1
        # and joins them again: new sockets, in the order they come back
        for name in ("/a", "/"):
            prefix = "" if name == "/" else name + ","
            await ws.send_text(f"40{prefix}")
            reply = await ws.recv()
            assert isinstance(reply, str) and reply.startswith(f"40{prefix}"), reply
            new_id = json.loads(reply[len(f"40{prefix}") :])["sid"]
            assert new_id != ids[name]
            ids[name] = new_id
        for name in ("/", "/a", "/b"):
            assert await sio_call(ws, "who", ack=ack, nsp=name) == [[name, ids[name], ["/", "/a", "/b"]]]
            ack += 1
        assert len(sio.of("/").sockets) == 1 and len(sio.of("/a").sockets) == 1
    finally:
        ws.writer.close()
