"""The WebSocket connections of a server share one idle frame parser.

A connection without permessage-deflate has no parser of its own between messages
(``WebSocketConnection.frames`` is None; it reads with the engine's spare parser).  A
read that stops mid-frame makes it take that parser as its own, and a later read that
completes the frame gives it back.  These tests drive real connections over TCP with
frames cut where the parser must keep state, interleaved with other connections'
messages, and check that every connection gets its own messages, whole and in order,
that a broken stream on one connection leaves the others alone, and that a
connection with permessage-deflate keeps its own parser.
"""

from __future__ import annotations

from typing import Any

import fastsio
from fastsio.protocol.websocket.frames import FrameParser

from _net import WSConn, eio_path, eio_ws, frame, text, until


def _echo(**options: Any) -> fastsio.EngineServer:
    eio = fastsio.EngineServer(**options)
    eio.on("connection", lambda sock: sock.on("message", sock.send))
    return eio


def _ws_of(eio: fastsio.EngineServer, sid: str) -> Any:
    return eio.engine.sessions[sid].ws


async def test_a_partial_frame_takes_the_parser_and_a_whole_one_gives_it_back(start_server: Any) -> None:
    eio = _echo()
    url = await start_server(eio)
    a, open_a = await eio_ws(url)
    b, open_b = await eio_ws(url)
    try:
        ws_a, ws_b = _ws_of(eio, open_a["sid"]), _ws_of(eio, open_b["sid"])
        assert ws_a.frames is None and ws_b.frames is None  # both on the shared parser
        assert ws_a.spare is ws_b.spare
        first = text("4" + "a" * 300)
        await a.send(first[:7])  # the header and part of the payload
        await until(lambda: ws_a.frames is not None)
        assert isinstance(ws_a.frames, FrameParser)
        assert ws_a.frames is not ws_a.spare.parser
        # meanwhile the other connection reads with the (new) shared parser
        for i in range(5):
            await b.send_text(f"4b{i}")
            assert await b.recv() == f"4b{i}"
        assert ws_b.frames is None
        # the rest of the frame and half of the next: still its own parser
        second = text("4second")
        await a.send(first[7:] + second[:3])
        assert await a.recv() == "4" + "a" * 300
        assert ws_a.frames is not None
        # the rest: idle again, back to the shared parser
        await a.send(second[3:])
        assert await a.recv() == "4second"
        await until(lambda: ws_a.frames is None)
        await a.send_text("4again")
        assert await a.recv() == "4again"
    finally:
        a.writer.close()
        b.writer.close()


async def test_fragmented_messages_on_many_connections_interleaved(start_server: Any) -> None:
    eio = _echo()
    url = await start_server(eio)
    conns = [await eio_ws(url) for _ in range(6)]
    try:
        # every connection opens a fragmented message before any finishes it
        for i, (ws, _) in enumerate(conns):
            await ws.send(frame(0x1, f"4msg{i}-".encode(), fin=False))
        for i, (ws, _) in enumerate(conns):
            await ws.send(frame(0x0, b"middle-", fin=False) + frame(0x9, b"ping"))
        for i, (ws, _) in enumerate(reversed(conns)):
            await ws.send(frame(0x0, f"end{len(conns) - 1 - i}".encode()))
        for i, (ws, _) in enumerate(conns):
            op, payload = await ws.recv_frame()
            assert (op, payload) == (0xA, b"ping")  # the pong of the ping between fragments
            assert await ws.recv() == f"4msg{i}-middle-end{i}"
        for ws, opened in conns:
            await until(lambda opened=opened: _ws_of(eio, opened["sid"]).frames is None)
    finally:
        for ws, _ in conns:
            ws.writer.close()


async def test_a_broken_stream_on_the_shared_parser_leaves_the_others_alone(start_server: Any) -> None:
    eio = _echo()
    url = await start_server(eio)
    good, _ = await eio_ws(url)
    bad, opened = await eio_ws(url)
    try:
        spare = _ws_of(eio, opened["sid"]).spare
        shared = spare.parser
        await bad.send(frame(0x1, b"4x", masked=False))  # client frames must be masked
        assert await bad.close_code() == 1002
        assert spare.parser is not shared  # the failed parser left with its connection
        assert spare.parser.idle
        await good.send_text("4still here")
        assert await good.recv() == "4still here"
        late, _ = await eio_ws(url)
        try:
            await late.send_text("4new")
            assert await late.recv() == "4new"
        finally:
            late.writer.close()
    finally:
        good.writer.close()
        bad.writer.close()


async def test_permessage_deflate_keeps_its_own_parser(start_server: Any) -> None:
    eio = _echo(per_message_deflate=True)
    url = await start_server(eio)

    ws = await WSConn.connect(
        url,
        eio_path("/engine.io/", transport="websocket"),
        headers={"Sec-WebSocket-Extensions": "permessage-deflate"},
    )
    try:
        first = await ws.recv()
        assert isinstance(first, str) and first.startswith("0")
        session = next(iter(eio.engine.sessions.values()))
        assert session.ws.spare is None
        assert isinstance(session.ws.frames, FrameParser)
        await ws.send_text("4plain")
        assert await ws.recv() == "4plain"
        assert isinstance(session.ws.frames, FrameParser)
    finally:
        ws.writer.close()
