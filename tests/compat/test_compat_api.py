"""``fastsio.compat``: python-socketio's server API over the core, driven by real clients
(python-socketio's ``AsyncClient``; socket.io-client 4.8 in Node for refusals, acks
and class-based namespaces).  One behaviour per test, each as python-socketio documents it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
import socketio as psio

import fastsio
from _nodedriver import node_marks, run_driver
from fastsio import compat as socketio
from fastsio.compat import exceptions

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
DRIVER = NODE_DIR / "driver.mjs"


def needs_node(fn: Any) -> Any:
    """Mark a test that drives socket.io-client 4.8 in Node (skipped without it)."""
    for mark in node_marks(NODE_DIR):
        fn = mark(fn)
    return fn


TRANSPORTS = [pytest.param(["polling"], id="polling"), pytest.param(["websocket"], id="websocket")]


@pytest.fixture
async def start() -> AsyncIterator[Callable[[socketio.AsyncServer], Any]]:
    """Start a compat server on a free port; return its URL; stop it afterwards."""
    servers: list[socketio.AsyncServer] = []

    async def go(sio: socketio.AsyncServer) -> str:
        await sio.start("127.0.0.1", 0)
        servers.append(sio)
        host, port = sio.server.address
        return f"http://{host}:{port}"

    yield go
    for sio in servers:
        await sio.stop()


async def until(predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` holds (5 s at most)."""
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def queue_for(client: psio.AsyncClient, event: str, namespace: str = "/") -> asyncio.Queue[Any]:
    """A queue of ``event``'s arguments (a tuple when several) as the client receives them."""
    q: asyncio.Queue[Any] = asyncio.Queue()

    async def handler(*args: Any) -> None:
        q.put_nowait(args[0] if len(args) == 1 else args)

    client.on(event, handler, namespace=namespace)
    return q


async def get(q: asyncio.Queue[Any]) -> Any:
    """The next item of ``q`` (5 s at most)."""
    return await asyncio.wait_for(q.get(), 5)


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_connect_environ_auth_session_and_ack(start: Any, transports: list[str]) -> None:
    """Verify ``connect(sid, environ, auth)`` (the handshake as a WSGI environ), the session
    saved in it and read by a later event, and a handler's return value as the ack."""
    sio = socketio.AsyncServer(async_mode="asgi")
    seen: dict[str, Any] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.update(sid=sid, auth=auth, query=environ["QUERY_STRING"], agent=environ.get("HTTP_X_AGENT"),
                    addr=environ["REMOTE_ADDR"], method=environ["REQUEST_METHOD"])
        async with sio.session(sid) as session:
            session["user"] = auth["user"]

    @sio.on("whoami")
    async def whoami(sid: str, n: int) -> Any:
        session = await sio.get_session(sid)
        return session["user"], n + 1

    url = await start(sio)
    client = psio.AsyncClient(reconnection=False)
    await client.connect(url + "?room=7", auth={"user": "ann"}, headers={"X-Agent": "tester"}, transports=transports)
    assert await client.call("whoami", 41, timeout=5) == ("ann", 42)
    assert seen["sid"] == client.get_sid() and seen["auth"] == {"user": "ann"}
    assert "room=7" in seen["query"] and "EIO=4" in seen["query"]
    assert seen["agent"] == "tester" and seen["addr"] == "127.0.0.1" and seen["method"] == "GET"
    assert sio.transport(client.get_sid()) == transports[0]
    env = sio.get_environ(client.get_sid())
    assert env is not None and env["HTTP_X_AGENT"] == "tester"
    await client.disconnect()


async def test_connect_without_auth_gets_none_and_two_argument_handlers(start: Any) -> None:
    """Verify ``auth`` is None when the client sent none, and that a ``connect(sid, environ)``
    handler (python-socketio's older signature) and ``disconnect(sid)`` are called too."""
    sio = socketio.AsyncServer()
    calls: list[Any] = []
    sio.on("connect", lambda sid, environ, auth: calls.append(("connect /", auth)))

    @sio.on("connect", namespace="/old")
    def old_connect(sid: str, environ: dict[str, Any]) -> None:
        calls.append(("connect /old", sid))

    @sio.on("disconnect", namespace="/old")
    def old_disconnect(sid: str) -> None:
        calls.append(("disconnect /old", sid))

    url = await start(sio)
    client = psio.AsyncClient(reconnection=False)
    await client.connect(url, namespaces=["/", "/old"])
    old_sid = client.get_sid("/old")
    await client.disconnect()
    await until(lambda: len(calls) == 3)
    # the two namespaces connect independently: compare regardless of order
    assert sorted(map(repr, calls)) == sorted(
        map(repr, [("connect /", None), ("connect /old", old_sid), ("disconnect /old", old_sid)]))


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (lambda: False, {"message": "Connection rejected by server"}),
        (lambda: exceptions.ConnectionRefusedError("no way"), {"message": "no way"}),
        (lambda: exceptions.ConnectionRefusedError("no", {"code": 7}), {"message": "no", "data": {"code": 7}}),
        (lambda: exceptions.ConnectionRefusedError("no", 1, 2), {"message": "no", "data": [1, 2]}),
        (lambda: ConnectionRefusedError("builtin"), {"message": "Connection refused by server"}),
    ],
    ids=["false", "message", "data", "args", "builtin"],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
@needs_node
async def test_connect_refusals_reach_the_node_client(start: Any, refusal: Any, expected: Any, kind: str) -> None:
    """Verify each way python-socketio refuses a connection (return False, its
    ConnectionRefusedError with 0, 1, 2 or 3 arguments, the builtin ConnectionRefusedError),
    from a plain and an async handler: socket.io-client 4.8 gets that ``connect_error``."""
    sio = socketio.AsyncServer()

    def decide() -> Any:
        outcome = refusal()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    if kind == "sync":
        sio.on("connect", lambda sid, environ: decide())
    else:

        async def connect(sid: str, environ: Any, auth: Any) -> Any:
            await asyncio.sleep(0)
            return decide()

        sio.on("connect", connect)
    url = await start(sio)
    run = await run_driver(
        DRIVER,
        {"url": url, "options": {"transports": ["websocket"]}, "timeout": 8000,
         "steps": [{"op": "connect", "expect": "connect_error"}]},
        8.0,
    )
    assert run.returncode == 0, run
    err = run.one("connect_error")
    assert {"message": err["message"], **({"data": err["data"]} if err.get("data") is not None else {})} == expected
    assert not sio.server.of("/").sockets


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_emit_targets_rooms_and_skip_sid(start: Any, transports: list[str]) -> None:
    """Verify ``emit`` to everyone, ``to=`` a sid, ``room=`` a room, ``to=`` a list of rooms,
    ``skip_sid`` (one sid or a list), ``close_room``, ``rooms``, and ``send``; ``data``
    None is no argument, a tuple several."""
    sio = socketio.AsyncServer()

    @sio.event
    async def join(sid: str, room: str) -> list[str]:
        await sio.enter_room(sid, room)
        return sio.rooms(sid)

    @sio.event
    async def leave(sid: str, room: str) -> None:
        await sio.leave_room(sid, room)

    url = await start(sio)
    clients = [psio.AsyncClient(reconnection=False) for _ in range(3)]
    queues = []
    for c in clients:
        queues.append((queue_for(c, "news"), queue_for(c, "message")))
        await c.connect(url, transports=transports)
    a, b, c = (cl.get_sid() for cl in clients)
    assert sorted(await clients[0].call("join", "red", timeout=5)) == sorted([a, "red"])
    await clients[1].call("join", "red", timeout=5)
    await clients[2].call("join", "blue", timeout=5)

    async def inbox() -> list[Any]:
        # one marker to everyone: what each got before it is what the last emit sent it
        await sio.emit("news", "marker")
        got = []
        for news, _ in queues:
            items = []
            while (item := await get(news)) != "marker":
                items.append(item)
            got.append(items)
        return got

    await sio.emit("news", "all")
    assert await inbox() == [["all"], ["all"], ["all"]]
    await sio.emit("news", ("x", 1), to=b)
    assert await inbox() == [[], [("x", 1)], []]
    await sio.emit("news", None, room="red")
    assert await inbox() == [[()], [()], []]
    await sio.emit("news", "colours", to=["red", "blue"], skip_sid=a)
    assert await inbox() == [[], ["colours"], ["colours"]]
    await sio.emit("news", "not a, c", skip_sid=[a, c])
    assert await inbox() == [[], ["not a, c"], []]
    await sio.close_room("red")
    assert sio.rooms(a) == [a] and sio.rooms(b) == [b]
    await sio.emit("news", "red again", room="red")
    assert await inbox() == [[], [], []]
    await sio.send("hi", to=c)
    assert await get(queues[2][1]) == "hi"
    for cl in clients:
        await cl.disconnect()


async def test_emit_callback_and_call(start: Any) -> None:
    """Verify ``emit(..., callback=)`` gets the client's ack arguments, ``call`` returns
    one value, a tuple of several, None for none, and raises TimeoutError when the client
    does not answer; ``call`` cannot broadcast; a callback needs one client."""
    sio = socketio.AsyncServer()
    url = await start(sio)
    client = psio.AsyncClient(reconnection=False)
    client.on("one", lambda x: x * 2)
    client.on("two", lambda x: (x, "b"))
    client.on("none", lambda: None)

    async def never(*args: Any) -> Any:
        await asyncio.sleep(3600)

    client.on("never", never)
    await client.connect(url)
    sid = client.get_sid()
    acked: asyncio.Queue[Any] = asyncio.Queue()
    await sio.emit("one", 21, to=sid, callback=lambda *args: acked.put_nowait(args))
    assert await get(acked) == (42,)
    assert await sio.call("one", 5, to=sid) == 10
    assert await sio.call("two", "a", sid=sid) == ("a", "b")
    assert await sio.call("none", to=sid) is None
    with pytest.raises(exceptions.TimeoutError):
        await sio.call("never", to=sid, timeout=0.2)
    with pytest.raises(ValueError):
        await sio.call("one", 1)
    with pytest.raises(ValueError):
        await sio.emit("one", 1, callback=print)
    await client.disconnect()


async def test_server_disconnect_and_reasons(start: Any) -> None:
    """Verify ``disconnect(sid)``: the client is disconnected, the handler gets
    ``sio.reason.SERVER_DISCONNECT``; a session read in the async disconnect handler still
    has the client's data; ``get_session`` of a gone client raises KeyError."""
    sio = socketio.AsyncServer()
    reasons: asyncio.Queue[Any] = asyncio.Queue()

    @sio.event
    async def connect(sid: str, environ: Any) -> None:
        await sio.save_session(sid, {"name": "zed"})

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        await asyncio.sleep(0)
        session = await sio.get_session(sid)
        reasons.put_nowait((reason, session["name"]))

    url = await start(sio)
    client = psio.AsyncClient(reconnection=False)
    gone = asyncio.Event()
    client.on("disconnect", lambda *a: gone.set())
    await client.connect(url)
    sid = client.get_sid()
    await sio.disconnect(sid)
    assert await get(reasons) == (sio.reason.SERVER_DISCONNECT, "zed")
    await asyncio.wait_for(gone.wait(), 5)
    with pytest.raises(KeyError):
        await sio.get_session(sid)
    assert sio.rooms(sid) == []
    await sio.disconnect(sid)  # unknown: nothing happens


class Chat(socketio.AsyncNamespace):
    """A class-based namespace, python-socketio style."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.log: list[Any] = []

    async def on_connect(self, sid: str, environ: Any, auth: Any) -> None:
        """Refuse a client without a name; greet the others."""
        if not auth or "name" not in auth:
            raise exceptions.ConnectionRefusedError("name?")
        await self.save_session(sid, {"name": auth["name"]})
        await self.enter_room(sid, "all")
        await self.emit("welcome", auth["name"], to=sid)

    async def on_say(self, sid: str, text: str) -> str:
        """Send ``text`` to the others; acknowledge."""
        async with self.session(sid) as session:
            await self.emit("said", (session["name"], text), room="all", skip_sid=sid)
        return "ok " + text

    def on_rooms(self, sid: str) -> list[str]:
        """A plain method: the client's rooms."""
        return sorted(self.rooms(sid))

    def on_disconnect(self, sid: str, reason: str) -> None:
        """Note the reason."""
        self.log.append(reason)


@needs_node
async def test_class_based_namespace_with_node_clients(start: Any) -> None:
    """Verify ``register_namespace`` with an ``AsyncNamespace``: on_connect refuses or
    accepts, on_<event> with acks (async and plain), the namespace's own emit/rooms/session,
    on_disconnect with python-socketio's reason; driven by socket.io-client 4.8."""
    sio = socketio.AsyncServer()
    chat = Chat("/chat")
    sio.register_namespace(chat)
    with pytest.raises(ValueError):
        sio.register_namespace(object())  # type: ignore[arg-type]
    url = await start(sio)
    other = psio.AsyncClient(reconnection=False)
    said = queue_for(other, "said", "/chat")
    welcome = queue_for(other, "welcome", "/chat")
    await other.connect(url, namespaces=["/chat"], auth={"name": "py"})
    assert await get(welcome) == "py"
    run = await run_driver(
        DRIVER,
        {
            "url": url,
            "options": {"transports": ["websocket"]},
            "timeout": 8000,
            "steps": [
                {"op": "connect", "sock": "anon", "nsp": "/chat", "expect": "connect_error", "manager": "m1"},
                {"op": "connect", "sock": "s", "nsp": "/chat", "auth": {"name": "node"}, "manager": "m2"},
                {"op": "wait", "t": "event", "sock": "s", "event": "welcome"},
                {"op": "emit", "sock": "s", "event": "say", "args": ["hello"], "ack": True, "tag": "say"},
                {"op": "emit", "sock": "s", "event": "rooms", "args": [], "ack": True, "tag": "rooms"},
                {"op": "disconnect", "sock": "s"},
                {"op": "sync", "name": "gone"},
            ],
        },
        8.0,
        lambda name: until(lambda: chat.log == ["client disconnect"]),
    )
    assert run.returncode == 0, run
    assert run.one("connect_error", sock="anon")["message"] == "name?"
    assert run.events("welcome") == [["node"]]
    assert run.one("ack", tag="say")["args"] == ["ok hello"]
    node_sid = run.one("connect", sock="s")["id"]
    assert run.one("ack", tag="rooms")["args"] == [sorted(["all", node_sid])]
    assert await get(said) == ("node", "hello")
    assert chat.log == ["client disconnect"]
    await other.disconnect()


async def test_catch_all_events_namespaces_and_tasks(start: Any) -> None:
    """Verify a ``"*"`` handler gets ``(event, sid, *args)`` for events without their own
    handler, ``namespaces=[...]`` accepts a namespace with no handler while an unknown one
    is refused, ``@sio.event(namespace=...)``, ``start_background_task`` and ``sleep``."""
    sio = socketio.AsyncServer(namespaces=["/", "/quiet"])
    caught: asyncio.Queue[Any] = asyncio.Queue()

    @sio.on("*")
    def any_event(event: str, sid: str, *args: Any) -> str:
        caught.put_nowait((event, args))
        return "caught " + event

    @sio.event(namespace="/ns")
    async def hello(sid: str) -> str:
        return "hello from /ns"

    ticks: list[int] = []

    async def ticker(n: int) -> None:
        for i in range(n):
            ticks.append(i)
            await sio.sleep(0)

    task = sio.start_background_task(ticker, 3)
    url = await start(sio)
    client = psio.AsyncClient(reconnection=False)
    await client.connect(url, namespaces=["/", "/quiet", "/ns"])
    assert await client.call("whatever", [1, 2], timeout=5) == "caught whatever"
    assert await get(caught) == ("whatever", ([1, 2],))
    assert await client.call("hello", namespace="/ns", timeout=5) == "hello from /ns"
    assert client.get_sid("/quiet") is not None
    await task
    assert ticks == [0, 1, 2]
    refused = psio.AsyncClient(reconnection=False)
    with pytest.raises(psio.exceptions.ConnectionError):
        await refused.connect(url, namespaces=["/nowhere"], wait_timeout=3)
    await client.disconnect()


def test_constructor_arguments() -> None:
    """Verify python-engineio's options reach the core, ``async_mode`` and friends are
    accepted, ``serializer="msgpack"`` is fastsio's msgpack parser, a directory of
    ``static_files`` without its trailing slash is a directory, and what fastsio does not
    support is a TypeError naming it; ``attach`` says it is not here, and ``instrument``
    without ``auth`` is python-socketio's ValueError (tests/admin tests the rest)."""
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=3, ping_timeout=4, cors_allowed_origins="*",
                               monitor_clients=True, engineio_logger=False, compression_threshold=1024,
                               max_http_buffer_size=1234, transports=["websocket"], static_files={"/s": "."})
    opts = sio.server.options
    assert (opts.ping_interval, opts.ping_timeout, opts.cors_allowed_origins, opts.max_http_buffer_size) == (
        3, 4, "*", 1234)
    assert opts.transports == ("websocket",) and sio.async_mode == "aiohttp"
    assert dict(opts.static_files or {}) == {"/s/": "."}
    assert socketio.AsyncServer(serializer="msgpack").server.options.parser == "msgpack"
    logger = logging.getLogger("compat-test")
    assert socketio.AsyncServer(logger=logger).server.log is logger
    for kwargs in ({"client_manager": object()}, {"json": object()}, {"always_connect": True},
                   {"async_handlers": False}, {"serializer": "pickle"}, {"compression_threshold": 10},
                   {"ping_interval": (25, 5)}):
        with pytest.raises(TypeError):
            socketio.AsyncServer(**kwargs)
    with pytest.raises(TypeError, match="did you mean"):
        socketio.AsyncServer(ping_intervl=3)
    with pytest.raises(NotImplementedError):
        sio.attach(object())
    with pytest.raises(ValueError, match="auth"):
        sio.instrument()
    with pytest.raises(NotImplementedError):
        sio.on("x", print, namespace="*")
    assert isinstance(sio.server, fastsio.Server)


@needs_node
@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_call_and_callback_with_the_node_client(start: Any, mode: str) -> None:
    """Verify ``call`` and ``emit(callback=)`` against socket.io-client 4.8, which answers
    with the arguments it got: one value, a tuple of several, binary."""
    sio = socketio.AsyncServer()
    url = await start(sio)
    results: dict[str, Any] = {}

    async def act(name: str) -> None:
        (sid,) = list(sio.server.of("/").sockets)
        results["one"] = await sio.call("ask", "x", to=sid, timeout=5)
        results["two"] = await sio.call("ask", ("a", 1), sid=sid, timeout=5)
        results["bin"] = await sio.call("ask", b"\x00\x01", to=sid, timeout=5)
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await sio.emit("ask", {"k": "v"}, to=sid, callback=lambda *args: acked.set_result(args))
        results["callback"] = await asyncio.wait_for(acked, 5)

    run = await run_driver(
        DRIVER,
        {"url": url, "options": {"transports": [mode]}, "timeout": 8000,
         "steps": [{"op": "connect"}, {"op": "sync", "name": "connected"}]},
        8.0,
        act,
    )
    assert run.returncode == 0, run
    assert results == {"one": "x", "two": ("a", 1), "bin": b"\x00\x01", "callback": ({"k": "v"},)}


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_msgpack_serializer_with_python_socketio_msgpack_client(start: Any, transports: list[str]) -> None:
    """Verify ``AsyncServer(serializer="msgpack")`` talks to python-socketio's
    ``AsyncClient(serializer="msgpack")``: an event with a dict, an ack with bytes."""
    pytest.importorskip("msgpack")
    sio = socketio.AsyncServer(serializer="msgpack")

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data, b"\x01\x02"

    url = await start(sio)
    client = psio.AsyncClient(reconnection=False, serializer="msgpack")
    await client.connect(url, transports=transports)
    assert await client.call("echo", {"a": [1, 2], "s": "é"}, timeout=5) == ({"a": [1, 2], "s": "é"}, b"\x01\x02")
    await client.disconnect()
