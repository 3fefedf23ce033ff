"""Memory bounds of what a socket makes the server keep: each test has a client over a
real WebSocket push the server past the bound and checks that the server closed it
as documented in SECURITY.md (one log line) and that its peak RSS stayed under the
bound's share over its baseline.

* acknowledgements the client owes the server (the app emits with a callback to a
  client that never answers): ``max_pending_acks``;
* events whose async handler is still running (a client that sends events faster than
  the handler finishes; a task each): ``max_pending_handlers``;
* rooms joined through ``socket.join`` for an app that joins what its client names:
  ``max_rooms_per_socket`` (the join raises);
* namespaces per connection (dynamic ones: a socket and a child each):
  ``max_namespaces_per_connection`` (CONNECT_ERROR);
* the children of a dynamic namespace that clients create and leave, without
  ``cleanup_empty_child_namespaces``: ``max_child_namespaces``.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from _bounds import WS, Closed, ServerProcess, ws_frame


async def good_client(server: ServerProcess) -> None:
    """Verify a well-behaved client is served (connect, an acknowledged echo)."""
    ws = await WS.open(server.port)
    try:
        await ws.connect()
        assert await ws.call("echo", "ok") == ["ok"]
    finally:
        ws.abort()


async def test_pending_acks(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify a client that never answers the server's acknowledgement requests is
    closed at ``max_pending_acks``: the app asks 500 times more in one loop, and the
    server keeps nothing of them once the socket is gone."""
    bound = 1000
    server = bounds_server(max_pending_acks=bound)
    ws = await WS.open(server.port)
    await ws.connect()
    assert await ws.call("acks", 10) is not None
    ws.abort()
    await good_client(server)
    server.baseline()

    ws = await WS.open(server.port)
    await ws.connect()
    # reads everything, answers nothing
    await ws.send_text('42["acks",500000]')
    asked = 0
    try:
        while True:
            msg = await ws.recv(30)
            if isinstance(msg, str) and msg.startswith("42"):
                asked += 1
    except Closed:
        pass
    assert asked <= bound + 1, asked
    log = await server.wait_logged("over max_pending_acks (1000); closing")
    assert log.count("over max_pending_acks (1000); closing") == 1, log[-2000:]
    # a packet for each ack asked, 1 KB each at most, and the slack
    server.assert_peak_under(bound * 1000)
    await good_client(server)


async def test_pending_handlers(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify a client flooding an async handler that never finishes is closed at
    ``max_pending_handlers`` (the events after it never start a task)."""
    bound = 100
    server = bounds_server(max_pending_handlers=bound)
    ws = await WS.open(server.port)
    await ws.connect()
    await ws.send_text('42["park"]')
    assert await ws.call("echo", 1) == [1]
    ws.abort()
    await good_client(server)
    server.baseline()

    ws = await WS.open(server.port)
    await ws.connect()
    try:
        for _ in range(200):  # 100,000 events, 500 per write
            await ws.send(ws_frame(0x1, b'42["park"]') * 500)
    except Closed:
        pass
    await ws.closed()
    log = await server.wait_logged("over max_pending_handlers (100); closing")
    assert log.count("over max_pending_handlers (100); closing") == 1, log[-2000:]
    # a task and its coroutine, 10 KB each at most, and the slack
    server.assert_peak_under(bound * 10_000)
    await good_client(server)


async def test_rooms_per_socket(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify an app that joins the rooms its client names stops at
    ``max_rooms_per_socket``: the joins over it raise (the app answers -1) and join
    nothing, however many names the client sends."""
    bound = 2000
    server = bounds_server(max_rooms_per_socket=bound)
    ws = await WS.open(server.port)
    await ws.connect()
    assert await ws.call("join", ["warm-%d" % i for i in range(100)]) == [101]
    ws.abort()
    await good_client(server)
    server.baseline()

    ws = await WS.open(server.port)
    await ws.connect()
    answers = []
    for batch in range(100):  # 100,000 room names of 24 characters
        names = [f"room-{batch:04d}-{i:04d}-padding" for i in range(1000)]
        answers.append((await ws.call("join", names, ack=batch + 1))[0])
    assert answers[:2] == [1001, 2001] and answers[2:] == [-1] * 98, answers
    log = await server.wait_logged("more than max_rooms_per_socket (2000)", 98)
    assert log.count("more than max_rooms_per_socket (2000)") == 98
    # a room: its name, its member set, the socket's entry; 1 KB each at most
    server.assert_peak_under(bound * 1000)
    ws.abort()
    await good_client(server)


async def connect_many(ws: WS, names: list[str]) -> list[str]:
    """CONNECT to every name (all sent at once); the replies, in order."""
    await ws.send(b"".join(ws_frame(0x1, f"40{n},".encode()) for n in names))
    replies = []
    while len(replies) < len(names):
        msg = await ws.recv()
        assert isinstance(msg, str)
        replies.append(msg)
    return replies


async def test_namespaces_per_connection(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify connections that CONNECT to thousands of dynamic namespaces get at most
    ``max_namespaces_per_connection`` of them, the rest CONNECT_ERROR."""
    bound = 50
    clients = 6
    server = bounds_server(max_namespaces_per_connection=bound, cleanup_empty_child_namespaces=True)
    ws = await WS.open(server.port)
    await connect_many(ws, [f"/dyn-{i}" for i in range(10)])
    ws.abort()
    await good_client(server)
    server.baseline()

    async def flood(k: int) -> list[str]:
        ws = await WS.open(server.port)
        try:
            return await connect_many(ws, [f"/dyn-{k * 100_000 + i}" for i in range(5000)])
        finally:
            ws.abort()

    for replies in await asyncio.gather(*(flood(k) for k in range(clients))):
        assert all(r.startswith("40/dyn-") for r in replies[:bound]), replies[:3]
        assert all(r.endswith(',{"message":"Too many namespaces"}') for r in replies[bound:]), replies[bound]
    await server.wait_logged("max_namespaces_per_connection")
    # a socket and a child namespace each, 20 KB at most
    server.assert_peak_under(clients * bound * 20_000)
    await good_client(server)


async def test_child_namespaces_kept(bounds_server: Callable[..., ServerProcess]) -> None:
    """Verify that without ``cleanup_empty_child_namespaces`` the children that clients
    create and leave stay at ``max_child_namespaces``, however many names they use."""
    bound = 300
    server = bounds_server(max_child_namespaces=bound, max_namespaces_per_connection=0)
    await good_client(server)
    server.baseline()
    for k in range(20):  # 20,000 children made, one client at a time
        ws = await WS.open(server.port)
        replies = await connect_many(ws, [f"/dyn-{k * 1000 + i}" for i in range(1000)])
        assert all(r.startswith("40/dyn-") for r in replies)
        await ws.send_text("1")  # Engine.IO close: all its sockets leave
        await ws.closed()
    ws = await WS.open(server.port)
    await ws.connect()
    kept = await ws.call("children")
    ws.abort()
    assert kept == [bound], kept
    # the live round's 1000 sockets and children, and the kept ones: 20 KB each at most
    server.assert_peak_under((1000 + bound) * 20_000)
