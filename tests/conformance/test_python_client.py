"""Interop with python-socketio's ``socketio.AsyncClient``, over WebSocket and polling.

The same application as the Node tests (``_interop.build_server``).
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

import pytest
import socketio

import fastsio
from _interop import Seen, build_server

pytestmark = pytest.mark.conformance

BLOB = bytes(range(256)) * 12


@pytest.fixture(params=["websocket", "polling"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


class Recorder:
    """Collects what a client's handlers saw; a test can wait on it."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def add(self, *item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [i[1:] for i in self.items if i[0] == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[tuple[Any, ...]]:
        async def until() -> None:
            while len(self.of(kind)) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"client saw {count} x {kind!r}: no; saw {self.items!r}") from None
        return self.of(kind)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., tuple[socketio.AsyncClient, Recorder]]]:
    """``make(namespaces)``: a client whose handlers record everything, on those namespaces."""
    made: list[socketio.AsyncClient] = []

    def make(namespaces: tuple[str, ...] = ("/",), question_reply: Any = ("yes", {"n": 42})):
        c = socketio.AsyncClient(reconnection=False)
        rec = Recorder()
        for nsp in namespaces:

            def bind(nsp: str) -> None:
                c.on("connect", lambda: rec.add("connect", nsp), namespace=nsp)
                c.on("disconnect", lambda reason=None: rec.add("disconnect", nsp, reason), namespace=nsp)
                c.on("connect_error", lambda data=None: rec.add("connect_error", nsp, data), namespace=nsp)

                async def any_event(event: str, *args: Any) -> Any:
                    rec.add("event", nsp, event, args)
                    if event == "question":
                        return question_reply
                    return None

                c.on("*", any_event, namespace=nsp)

            bind(nsp)
        made.append(c)
        return c, rec

    yield make
    for c in made:
        if c.connected:
            await c.disconnect()


async def test_connect_with_auth_query_headers(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    c, rec = clients()
    await c.connect(
        url + "?q=1&name=%C3%A9%20%26",
        headers={"X-Interop": "py"},
        auth={"token": "py"},
        transports=[transport],
        wait_timeout=5,
    )
    ((nsp, socket),) = seen.of("connect")
    hs = socket.handshake
    assert hs.auth == {"token": "py"}
    assert hs.query["q"] == "1" and hs.query["name"] == "é &"
    assert hs.headers["x-interop"] == "py"
    assert c.get_sid("/") == socket.id
    assert c.transport() == transport
    await rec.wait("event")
    # the connect handler's emit comes after the CONNECT
    assert rec.items[:2] == [
        ("connect", "/"),
        ("event", "/", "welcome", ({"id": socket.id, "auth": {"token": "py"}},)),
    ]


async def test_acks_both_ways(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    c, rec = clients()
    await c.connect(url, transports=[transport], wait_timeout=5)
    # the handler's return value is the ack; a tuple is several arguments
    assert await c.call("echo", (1, "two", {"three": [3]}), timeout=5) == (1, "two", {"three": [3]})
    assert await c.call("echo", "one", timeout=5) == "one"
    assert await c.call("nothing", timeout=5) is None
    # the server asks the client inside a handler (await socket.emit_with_ack)
    assert await c.call("ask", "why?", timeout=5) == ("answer", ["yes", {"n": 42}])
    assert seen.of("reply") == [(("yes", {"n": 42}),)]
    # the callback form
    await c.emit("ask_cb", "cb?")
    assert await seen.wait("cb_reply") == [(("yes", {"n": 42}),)]
    # the client's own callback
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    await c.emit("echo", ("a", "b"), callback=lambda *args: got.set_result(args))
    assert await asyncio.wait_for(got, 5) == ("a", "b")


async def test_binary_both_ways(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    c, rec = clients(question_reply=None)
    await c.connect(url, transports=[transport], wait_timeout=5)
    nested = {"a": [1, b"\x00\x01\x02", {"deep": [[BLOB]]}], "b": {"c": b""}, "t": "text"}
    assert await c.call("inspect", (nested, b"\xff"), timeout=5) == (nested, b"\xff")
    assert seen.of("inspect") == [((nested, b"\xff"),)]
    # server -> client with binary, and a binary ack from the client
    c2, rec2 = clients(question_reply=({"echo": [BLOB]}, b"\x07"))
    await c2.connect(url, transports=[transport], wait_timeout=5)
    reply = await c2.call("ask", {"x": [b"\x07\x08"]}, timeout=5)
    assert reply == ("answer", [{"echo": [BLOB]}, b"\x07"])
    assert rec2.of("event")[-1] == ("/", "question", ({"x": [b"\x07\x08"]},))
    assert seen.of("reply") == [(({"echo": [BLOB]}, b"\x07"),)]


async def test_two_namespaces(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    c, rec = clients(("/", "/chat"))
    await c.connect(url, transports=[transport], namespaces=["/", "/chat"], wait_timeout=5)
    (_, s), (_, ch) = sorted(seen.of("connect"), key=lambda x: x[0])
    assert s.sid == ch.sid and s.id != ch.id  # one Engine.IO connection
    assert await c.call("msg", "hi", namespace="/chat", timeout=5) == "recv hi"
    assert await c.call("echo", "root", timeout=5) == "root"
    assert ("/chat", "chat_welcome", ("hello chat",)) in rec.of("event")
    # the server leaves /chat; / carries on
    await c.emit("kick", namespace="/chat")
    assert await rec.wait("disconnect") == [("/chat", "server disconnect")]
    assert await seen.wait("disconnect") == [("/chat", "server namespace disconnect", ch.id)]
    assert await c.call("echo", "after", timeout=5) == "after"


async def test_connect_errors(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    c, rec = clients(("/nope",))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(url, transports=[transport], namespaces=["/nope"], wait_timeout=5)
    assert rec.of("connect_error") == [("/nope", {"message": "Invalid namespace"})]
    c, rec = clients()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(url, transports=[transport], auth={"refuse": True}, wait_timeout=5)
    assert rec.of("connect_error") == [("/", {"message": "nope", "data": {"code": 1}})]
    c, rec = clients(("/chat",))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(
            url, transports=[transport], namespaces=["/chat"], auth={"refuse_chat": True}, wait_timeout=5
        )
    assert rec.of("connect_error") == [("/chat", {"message": "chat closed", "data": {"code": 2, "why": ["full"]}})]
    assert seen.of("connect") == []


async def test_disconnect_reasons(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    # the client leaves
    c, rec = clients()
    await c.connect(url, transports=[transport], wait_timeout=5)
    await c.disconnect()
    ((nsp, reason, _),) = await seen.wait("disconnect")
    if transport == "polling":
        assert reason == "client namespace disconnect"
    else:
        # python-socketio queues its DISCONNECT and CLOSE packets, then closes the
        # WebSocket before its writer task has sent them: the server sees the close
        assert reason in ("client namespace disconnect", "transport close")
    assert rec.of("disconnect") == [("/", "client disconnect")]
    # the server disconnects the socket
    c, rec = clients()
    await c.connect(url, transports=[transport], wait_timeout=5)
    await c.emit("kick")
    assert await rec.wait("disconnect") == [("/", "server disconnect")]
    assert [d[:2] for d in await seen.wait("disconnect", 2)][1] == ("/", "server namespace disconnect")
    # the server closes the whole connection
    c, rec = clients(("/", "/chat"))
    await c.connect(url, transports=[transport], namespaces=["/", "/chat"], wait_timeout=5)
    await c.emit("kick", True)
    assert sorted(await rec.wait("disconnect", 2)) == [("/", "server disconnect"), ("/chat", "server disconnect")]
    assert sorted(d[:2] for d in (await seen.wait("disconnect", 4))[2:]) == [
        ("/", "server namespace disconnect"),
        ("/chat", "server namespace disconnect"),
    ]


async def test_server_stops(start_server, clients, transport: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    c, rec = clients()
    await c.connect(url, transports=[transport], wait_timeout=5)
    if transport == "polling":  # wait for the client's GET to be waiting at the server
        ((_, socket),) = seen.of("connect")
        for _ in range(500):
            if socket.client.session.poll is not None:
                break
            await asyncio.sleep(0.01)
    await sio.stop()
    assert [d[:2] for d in await seen.wait("disconnect")] == [("/", "server shutting down")]
    ((nsp, reason),) = await rec.wait("disconnect")
    # over polling the client gets a CLOSE packet; a WebSocket is simply closed, as the
    # reference server does, which python-socketio reports as a transport error
    assert reason == ("server disconnect" if transport == "polling" else "transport error")


async def test_handshake_query_after_the_request_is_compacted(start_server, clients, transport: str) -> None:
    """A session keeps its handshake request, minus the parsed query (parsed again on
    first use); with an ``allow_request`` hook the dict it saw is the one kept."""
    seen_by_hook: list[Any] = []

    for hook in (None, lambda req: seen_by_hook.append(req.query) or True):
        sio = fastsio.Server(allow_request=hook) if hook else fastsio.Server()
        sockets: list[Any] = []
        sio.on("connect", lambda socket, auth, s=sockets: s.append(socket))
        url = await start_server(sio)
        c, _ = clients()
        await c.connect(url + "?token=abc&n=%C3%A9", transports=[transport], wait_timeout=5)
        (sock,) = sockets
        req = sock.client.session.request
        assert "token=abc&n=%C3%A9&" in req.query_string
        query = sock.handshake.query
        if hook is not None:
            assert query is seen_by_hook[0]  # the dict the hook saw is the one kept
        assert query["token"] == "abc" and query["n"] == "é" and query["EIO"] == "4"
        query["added"] = "1"  # parsed once, then kept: a change stays
        assert sock.handshake.query is query and sock.handshake.query["added"] == "1"
        await c.disconnect()
