"""Server API features driven by the real python-socketio client over real sockets."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from typing import Any

import pytest
import socketio

import fastsio


async def connect(url: str, namespaces: list[str] | None = None, **kw: Any) -> socketio.AsyncClient:
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(url, namespaces=namespaces or ["/"], transports=kw.pop("transports", ["websocket"]), **kw)
    return c


async def wait_until(cond: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_dynamic_namespace_regex_shares_parent_handlers(start_server: Any) -> None:
    sio = fastsio.Server(cleanup_empty_child_namespaces=True)
    dyn = sio.of(re.compile(r"^/room-\d+$"))
    seen: list[str] = []

    @dyn.use
    def mw(socket: fastsio.Socket, auth: Any) -> None:
        seen.append("mw:" + socket.nsp)

    @dyn.on("connect")
    def on_connect(socket: fastsio.Socket, auth: Any) -> None:
        seen.append("connect:" + socket.nsp)

    @dyn.on("where")
    def where(socket: fastsio.Socket) -> str:
        return socket.nsp

    url = await start_server(sio)
    c = await connect(url, ["/room-12", "/room-7"])
    assert await c.call("where", namespace="/room-12", timeout=5) == "/room-12"
    assert await c.call("where", namespace="/room-7", timeout=5) == "/room-7"
    assert sorted(seen) == sorted(["mw:/room-12", "connect:/room-12", "mw:/room-7", "connect:/room-7"])
    assert "/room-12" in sio.namespaces
    # broadcasting on the parent reaches every child
    got: list[Any] = []
    c.on("hello", lambda *a: got.append(a), namespace="/room-12")
    c.on("hello", lambda *a: got.append(a), namespace="/room-7")
    assert dyn.emit("hello", 1) == 2
    await wait_until(lambda: len(got) == 2)
    # an unknown name is still refused
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(url, ["/room-x"])
    await c.disconnect()
    await wait_until(lambda: "/room-12" not in sio.namespaces)


async def test_handshake_is_the_connections_when_first_read_later(start_server: Any) -> None:
    """``socket.handshake`` is made on first use: read long after the connection, it still
    has the connection's time, the auth dict the middleware and connect handler got, and
    the handshake request's headers, query and address; it is the same object each time."""
    import time

    sio = fastsio.Server()
    given: dict[str, Any] = {}

    @sio.use
    def mw(socket: fastsio.Socket, auth: Any) -> None:
        given["mw", socket.id] = auth

    @sio.on("connect")
    def on_connect(socket: fastsio.Socket, auth: Any) -> None:
        given["connect", socket.id] = auth
        auth["seen"] = True  # a change the handshake shows

    @sio.on("hs")
    def hs(socket: fastsio.Socket) -> list[Any]:
        handshake = socket.handshake
        assert handshake is socket.handshake
        assert handshake.auth is given["connect", socket.id] and handshake.auth is given["mw", socket.id]
        return [
            handshake.issued,
            handshake.auth,
            handshake.query.get("k"),
            handshake.headers.get("x-probe"),
            handshake.address,
            handshake.url,
        ]

    url = await start_server(sio)
    before = int(time.time() * 1000)
    c = await connect(url, auth={"token": "t"}, headers={"X-Probe": "p1"}, transports=["polling", "websocket"])
    c2 = await connect(url + "?k=v")
    after = int(time.time() * 1000)
    await asyncio.sleep(0.3)
    issued, auth, _, probe, address, _ = await c.call("hs", timeout=5)
    assert before <= issued <= after
    assert auth == {"token": "t", "seen": True}
    assert probe == "p1" and address == "127.0.0.1"
    issued2, auth2, k, _, _, url2 = await c2.call("hs", timeout=5)
    assert before <= issued2 <= after and auth2 == {"seen": True} and k == "v"
    assert "k=v" in url2
    await c.disconnect()
    await c2.disconnect()


async def test_a_connections_sockets_in_three_namespaces(start_server: Any) -> None:
    """One connection in "/", "/a" and "/b": each namespace's packets reach its own
    socket, and a socket that leaves (the first one included) leaves the others
    connected (rejoining: tests/server/test_client_namespaces.py)."""
    sio = fastsio.Server()
    seen: dict[str, Any] = {}
    for name in ("/", "/a", "/b"):
        ns = sio.of(name)

        @ns.on("who")
        def who(socket: fastsio.Socket) -> list[Any]:
            return [socket.nsp, sorted(socket.client.sockets), socket.client.socket_count()]

        @ns.on("leave")
        def leave(socket: fastsio.Socket) -> None:
            seen["client"] = socket.client
            socket.disconnect()

    url = await start_server(sio)
    c = await connect(url, ["/", "/a", "/b"])
    for name in ("/", "/a", "/b"):
        assert await c.call("who", namespace=name, timeout=5) == [name, ["/", "/a", "/b"], 3]
    await c.emit("leave", namespace="/")  # the first socket of the connection
    await wait_until(lambda: "client" in seen and seen["client"].socket_of("/") is None)
    assert await c.call("who", namespace="/b", timeout=5) == ["/b", ["/a", "/b"], 2]
    await c.emit("leave", namespace="/a")
    await wait_until(lambda: seen["client"].socket_of("/a") is None)
    assert await c.call("who", namespace="/b", timeout=5) == ["/b", ["/b"], 1]
    assert seen["client"].socket_list() == [seen["client"].socket_of("/b")]
    await c.disconnect()
    await wait_until(lambda: seen["client"].socket_count() == 0)
    assert seen["client"].sockets == {}


async def test_dynamic_namespace_async_callable(start_server: Any) -> None:
    sio = fastsio.Server()

    async def allowed(name: str, auth: Any) -> bool:
        await asyncio.sleep(0)
        return name.startswith("/tenant-") and auth.get("ok") is True

    ns = sio.of(allowed)

    @ns.on("ping")
    def ping(socket: fastsio.Socket) -> str:
        return "pong " + socket.nsp

    url = await start_server(sio)
    c = await connect(url, ["/tenant-a"], auth={"ok": True})
    assert await c.call("ping", namespace="/tenant-a", timeout=5) == "pong /tenant-a"
    await c.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(url, ["/tenant-b"], auth={"ok": False})


async def test_socket_middleware_changes_and_drops_packets(start_server: Any) -> None:
    sio = fastsio.Server()
    errors: list[str] = []

    @sio.on("connect")
    def on_connect(socket: fastsio.Socket, auth: Any) -> None:
        @socket.use
        def upper(sock: fastsio.Socket, event: str, args: list[Any]) -> None:
            if event == "forbidden":
                raise ValueError("not allowed")
            args[:] = [a.upper() if isinstance(a, str) else a for a in args]

        @socket.use
        async def later(sock: fastsio.Socket, event: str, args: list[Any]) -> None:
            await asyncio.sleep(0)
            args.append("!")

    @sio.on("echo")
    def echo(socket: fastsio.Socket, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.on("forbidden")
    def forbidden(socket: fastsio.Socket) -> str:
        return "should not run"

    @sio.on("error")
    def on_error(socket: fastsio.Socket, exc: BaseException) -> None:
        errors.append(str(exc))

    url = await start_server(sio)
    c = await connect(url)
    assert await c.call("echo", ("abc", 1), timeout=5) == ("ABC", 1, "!")
    with pytest.raises(socketio.exceptions.TimeoutError):
        await c.call("forbidden", timeout=0.3)
    assert errors == ["not allowed"]
    await c.disconnect()


async def test_catch_all_listeners(start_server: Any) -> None:
    sio = fastsio.Server()
    incoming: list[tuple[Any, ...]] = []
    outgoing: list[tuple[Any, ...]] = []
    ns_out: list[tuple[Any, ...]] = []

    sio.on_any(lambda socket, event, *args: incoming.append(("ns", event, *args)))
    sio.on_any_outgoing(lambda socket, event, *args: ns_out.append((event, *args)))

    @sio.on("connect")
    def on_connect(socket: fastsio.Socket, auth: Any) -> None:
        socket.on_any(lambda s, event, *args: incoming.append(("sock", event, *args)))
        socket.prepend_any(lambda s, event, *args: incoming.append(("first", event)))
        socket.on_any_outgoing(lambda s, event, *args: outgoing.append((event, *args)))

    @sio.on("hi")
    def hi(socket: fastsio.Socket, x: Any) -> None:
        socket.emit("back", x)

    url = await start_server(sio)
    c = await connect(url)
    got: list[Any] = []
    c.on("back", lambda x: got.append(x))
    c.on("all", lambda x: got.append(x))
    await c.emit("hi", 5)
    await wait_until(lambda: got == [5])
    assert incoming == [("ns", "hi", 5), ("first", "hi"), ("sock", "hi", 5)]
    assert outgoing == [("back", 5)]
    sio.emit("all", 6)  # broadcasts notify outgoing listeners too, once per recipient
    await wait_until(lambda: got == [5, 6])
    assert outgoing == [("back", 5), ("all", 6)]
    assert ns_out == [("back", 5), ("all", 6)]
    sockets = await sio.fetch_sockets()
    sockets[0].off_any()
    sockets[0].off_any_outgoing()
    await c.emit("hi", 7)
    await wait_until(lambda: got == [5, 6, 7])
    assert incoming[-1] == ("ns", "hi", 7)
    assert outgoing == [("back", 5), ("all", 6)]
    await c.disconnect()


async def test_rooms_dedup_except_and_fetch_sockets(start_server: Any) -> None:
    sio = fastsio.Server()

    @sio.on("join")
    def join(socket: fastsio.Socket, *rooms: str) -> list[str]:
        socket.join(list(rooms))
        return sorted(socket.rooms - {socket.id})

    url = await start_server(sio)
    clients = [await connect(url) for _ in range(3)]
    boxes: list[list[Any]] = [[] for _ in clients]
    for c, box in zip(clients, boxes):
        c.on("x", lambda v, box=box: box.append(v))
    assert await clients[0].call("join", ("a", "b"), timeout=5) == ["a", "b"]
    assert await clients[1].call("join", "b", timeout=5) == ["b"]
    assert await clients[2].call("join", "c", timeout=5) == ["c"]
    # in two rooms -> delivered once
    assert sio.to(["a", "b"]).emit("x", 1) == 2
    assert sio.to("a").to("c").except_("b").emit("x", 2) == 1
    await wait_until(lambda: boxes == [[1], [1], [2]])
    # ids are rooms too
    sockets = await sio.fetch_sockets()
    assert len(sockets) == 3
    target = next(s for s in sockets if "c" in s.rooms)
    assert sio.to(target.id).emit("x", 3) == 1
    await wait_until(lambda: boxes[2] == [2, 3])
    # bulk operations
    sio.in_("b").sockets_join("d")
    assert len(await sio.in_("d").fetch_sockets()) == 2
    sio.in_("d").sockets_leave("b")
    assert await sio.in_("b").fetch_sockets() == []
    sio.server_side_emit("nobody-else", 1)  # one node: no-op
    assert await sio.server_side_emit_with_ack("q") == []
    sio.in_("c").disconnect_sockets()
    await wait_until(lambda: not clients[2].connected)
    for c in clients[:2]:
        await c.disconnect()


async def test_broadcast_emit_with_ack_and_timeout(start_server: Any) -> None:
    sio = fastsio.Server(ack_timeout=0.5)
    url = await start_server(sio)
    fast = await connect(url)
    slow = await connect(url)
    fast.on("q", lambda x: x * 2)

    async def never(x: Any) -> Any:
        await asyncio.sleep(10)

    slow.on("q", never)
    replies = await sio.to([s.id for s in await sio.fetch_sockets() if s.handshake is not None][:1]).emit_with_ack("q", 0)
    assert len(replies) == 1
    with pytest.raises(fastsio.AckTimeout) as info:
        await sio.emit_with_ack("q", 21)  # server-wide ack_timeout 0.5 s
    assert info.value.replies == [42]
    with pytest.raises(fastsio.AckTimeout):
        await sio.timeout(0.1).emit_with_ack("q", 1)
    await fast.disconnect()
    await slow.disconnect()


async def test_volatile_and_modifiers(start_server: Any) -> None:
    sio = fastsio.Server()
    url = await start_server(sio)
    c = await connect(url)
    got: list[Any] = []
    c.on("v", lambda x: got.append(x))
    assert sio.volatile.emit("v", 1) == 1  # writable websocket: delivered
    assert sio.local.compress(False).emit("v", 2) == 1
    socks = await sio.fetch_sockets()
    socks[0].volatile.emit("v", 3)
    socks[0].compress(True).emit("v", 4)
    await wait_until(lambda: got == [1, 2, 3, 4])
    await c.disconnect()


async def _raw_ws_client(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    mask = os.urandom(4)
    payload = b"40"
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    await writer.drain()
    return reader, writer


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_largest_max_buffer_size_serves_clients(start_server: Any, transport: str) -> None:
    """Verify the largest ``max_buffer_size`` (2**31 - 1: uvloop holds a transport's
    high-water mark in a C int, and the compiled outbox and session hold the limit in C)
    serves a client on either transport; one more is refused up front."""
    with pytest.raises(ValueError, match="at most"):
        fastsio.Server(max_buffer_size=2**31)
    sio = fastsio.Server(max_buffer_size=2**31 - 1)

    @sio.on("echo")
    def echo(socket: fastsio.Socket, data: Any) -> Any:
        return data

    url = await start_server(sio)
    client = socketio.AsyncClient()
    await client.connect(url, transports=[transport])
    try:
        assert await client.call("echo", "x" * 5000, timeout=5) == "x" * 5000
    finally:
        await client.disconnect()


async def test_slow_consumer_is_disconnected_others_carry_on(start_server: Any) -> None:
    sio = fastsio.Server(max_buffer_size=1_000_000)
    reasons: list[str] = []

    @sio.on("disconnect")
    def gone(socket: fastsio.Socket, reason: str) -> None:
        reasons.append(reason)

    await start_server(sio)
    host, port = sio.address
    reader, writer = await _raw_ws_client(host, port)  # connects, then never reads again
    await wait_until(lambda: len(sio.of("/").sockets) == 1)
    # a client that keeps reading (raw, so that the test client itself is never the slow one)
    good_reader, good_writer = await _raw_ws_client(host, port)
    await wait_until(lambda: len(sio.of("/").sockets) == 2)
    received = bytearray()

    async def drain() -> None:
        while True:
            chunk = await good_reader.read(1 << 20)
            if not chunk:
                return
            received.extend(chunk)

    drainer = asyncio.create_task(drain())
    payload = "x" * 10000
    for i in range(2000):
        sio.emit("tick", i, payload)  # ~20 MB to each client: more than the kernel buffers hold
        if i % 50 == 0:
            await asyncio.sleep(0.005)
    await wait_until(lambda: "send buffer full" in reasons, timeout=10)
    await wait_until(lambda: received.count(b'42["tick",') == 2000, timeout=20)
    assert reasons == ["send buffer full"]
    assert received.rfind(b'42["tick",1999,') > 0
    # the server still serves new clients normally
    c = await connect(f"http://{host}:{port}")
    assert c.connected
    await c.disconnect()
    drainer.cancel()
    writer.close()
    good_writer.close()


async def test_too_many_attachments_close_the_connection(start_server: Any) -> None:
    sio = fastsio.Server()
    reasons: list[str] = []

    @sio.on("disconnect")
    def gone(socket: fastsio.Socket, reason: str) -> None:
        reasons.append(reason)

    await start_server(sio)
    host, port = sio.address
    reader, writer = await _raw_ws_client(host, port)
    await wait_until(lambda: len(sio.of("/").sockets) == 1)
    mask = os.urandom(4)
    payload = b'4511-["x",{"_placeholder":true,"num":0}]'
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    await writer.drain()
    await wait_until(lambda: reasons == ["parse error"])
    writer.close()
