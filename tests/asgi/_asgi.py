"""What the ASGI tests share: the FastAPI app and the fastsio server they serve together,
a real uvicorn started on a free port, and the real clients (socket.io-client 4.x through
tests/node/driver.mjs, python-socketio's AsyncClient, aiohttp for the FastAPI routes).

The app (:func:`build`): FastAPI routes ``GET /api/hello`` (its lifespan's state in the
answer), ``POST /api/items`` (JSON echoed), ``GET /api/boom`` (raises), ``GET /api/stream``
(a streamed response), a FastAPI WebSocket route ``/api/ws`` (echo); a lifespan that
records startup and shutdown.  The fastsio server: ``connect`` joins room ``all`` and
emits ``welcome``; ``echo`` acks its arguments; ``shout`` broadcasts ``heard`` to ``all``;
``bye`` disconnects the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from fastapi import FastAPI, WebSocket
from fastapi.responses import StreamingResponse

import fastsio
from _nodedriver import Run, node_marks, run_driver

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
DRIVER = NODE_DIR / "driver.mjs"
NODE_MARKS = node_marks(NODE_DIR)

MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}
#: python-socketio's AsyncClient ``transports=`` of each mode
PY_MODES: dict[str, list[str]] = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}
def _ws_impls() -> list[str]:
    try:
        from uvicorn.config import WS_PROTOCOLS
    except ImportError:
        return []
    impls = ["wsproto"] if importlib.util.find_spec("wsproto") else []
    if importlib.util.find_spec("websockets"):
        # uvicorn's current websockets implementation (the legacy one is deprecated)
        impls.append("websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets")
    return impls


#: uvicorn's WebSocket implementations here (wsproto is fastsio's own dependency)
WS_IMPLS = _ws_impls()


class Seen:
    """What the server side saw, in order; a test can wait on it."""

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
            raise AssertionError(f"saw {count} x {kind!r}: no; saw {self.items!r}") from None
        return self.of(kind)


def build(serve_app: bool = False, **options: Any) -> tuple[fastsio.Server, FastAPI, Seen]:
    """The fastsio server and the FastAPI app (see the module docstring); ``serve_app``:
    the server serves the app itself (``Server(app=api)``)."""
    seen = Seen()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        seen.add("startup", sio.started)
        yield {"greeting": "hi from lifespan"}
        seen.add("shutdown", sio.started)

    api = FastAPI(lifespan=lifespan)

    @api.get("/api/hello")
    async def hello(name: str = "world") -> dict[str, Any]:
        return {"hello": name}

    @api.post("/api/items")
    async def items(item: dict[str, Any]) -> dict[str, Any]:
        return {"got": item}

    @api.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("boom in a route")

    @api.get("/api/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"part{i};".encode()
                await asyncio.sleep(0)

        return StreamingResponse(parts(), media_type="text/plain")

    @api.websocket("/api/ws")
    async def ws_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text("echo:" + text)
        await websocket.close()

    sio = fastsio.Server(app=api, **options) if serve_app else fastsio.Server(**options)

    @sio.on("connect")
    def connect(sock: fastsio.Socket, auth: Any) -> None:
        sock.join("all")
        seen.add("connect", sock.id, sock.handshake.headers.get("x-test"))
        sock.emit("welcome", {"id": sock.id})

    @sio.on("disconnect")
    def disconnect(sock: fastsio.Socket, reason: str) -> None:
        seen.add("disconnect", sock.id, reason)

    @sio.on("echo")
    def echo(sock: fastsio.Socket, *args: Any) -> Any:
        return args

    @sio.on("shout")
    def shout(sock: fastsio.Socket, text: str) -> str:
        sio.to("all").emit("heard", text)
        return "ok"

    @sio.on("bye")
    def bye(sock: fastsio.Socket) -> None:
        sock.disconnect()

    return sio, api, seen


def free_socket() -> socket.socket:
    """A listening-ready TCP socket bound to a free port of 127.0.0.1 (no race for it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def uvicorn_serving(app: Any, ws: str = "auto", **config: Any) -> AsyncIterator[str]:
    """Serve ``app`` with a real uvicorn (in this process, on this loop) on a free port;
    yields the base URL; shuts uvicorn down (lifespan shutdown included) on the way out."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, ws=ws, lifespan="on", log_level="warning", access_log=False, **config)
    )
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 15)
        finally:
            sock.close()


async def drive(
    url: str,
    mode: str,
    steps: list[dict[str, Any]],
    timeout: float = 10.0,
    on_sync: Callable[[str], Awaitable[None]] | None = None,
    **options: Any,
) -> Run:
    """One socket.io-client 4.x run (tests/node/driver.mjs) in ``mode``; checked: exit 0,
    and the upgrade seen in mode ``upgrade``; ``on_sync(name)`` at each ``sync`` step."""
    scenario = {
        "url": url,
        "options": {**MODES[mode], **options},
        "awaitUpgrade": mode == "upgrade",
        "timeout": int(timeout * 1000),
        "steps": steps,
    }
    run = await run_driver(DRIVER, scenario, timeout, on_sync)
    assert run.returncode == 0, run
    if mode == "upgrade":
        assert run.of("upgrade"), run
    return run


#: the node scenario both arrangements run: connect, welcome, an ack, a broadcast
NODE_STEPS: list[dict[str, Any]] = [
    {"op": "connect", "sock": "s", "options": {"extraHeaders": {"x-test": "node"}}},
    {"op": "wait", "t": "event", "event": "welcome"},
    {"op": "emit", "event": "echo", "args": [{"n": 1}, "two", {"$bin": "AAEC"}], "ack": True},
    {"op": "emit", "event": "shout", "args": ["hello all"], "ack": True},
    {"op": "wait", "t": "event", "event": "heard"},
    {"op": "disconnect", "sock": "s"},
    {"op": "sync", "name": "gone"},
]


def check_node_run(run: Run) -> None:
    """What :data:`NODE_STEPS` must have seen."""
    welcome = run.of("event", event="welcome")
    assert len(welcome) == 1 and welcome[0]["args"][0]["id"], run
    assert run.one("ack", tag="echo")["args"] == [{"n": 1}, "two", {"$bin": "AAEC"}]
    assert run.one("ack", tag="shout")["args"] == ["ok"]
    assert [r["args"] for r in run.of("event", event="heard")] == [["hello all"]]


async def python_client_round(url: str, mode: str, seen: Seen) -> None:
    """python-socketio's AsyncClient over ``mode``: connect, welcome, an ack, a
    broadcast, binary, the transport it ends on, and a disconnect the server sees."""
    socketio = pytest.importorskip("socketio")
    client = socketio.AsyncClient(reconnection=False)
    got: dict[str, Any] = {}
    welcome = asyncio.Event()
    heard = asyncio.Event()

    @client.on("welcome")
    def on_welcome(data: Any) -> None:
        got["welcome"] = data
        welcome.set()

    @client.on("heard")
    def on_heard(data: Any) -> None:
        got["heard"] = data
        heard.set()

    await client.connect(url, transports=PY_MODES[mode], headers={"x-test": "python"})
    try:
        await asyncio.wait_for(welcome.wait(), 5)
        sid = got["welcome"]["id"]
        assert await client.call("echo", {"k": [1, 2]}, timeout=5) == {"k": [1, 2]}
        assert await client.call("echo", b"\x00\xff" * 100, timeout=5) == b"\x00\xff" * 100
        assert await client.call("shout", "from python", timeout=5) == "ok"
        await asyncio.wait_for(heard.wait(), 5)
        assert got["heard"] == "from python"
        if mode == "upgrade":
            for _ in range(200):
                if client.transport() == "websocket":
                    break
                await asyncio.sleep(0.02)
        assert client.transport() == ("polling" if mode == "polling" else "websocket")
        assert await client.call("echo", "after upgrade", timeout=5) == "after upgrade"
    finally:
        await client.disconnect()
    ((gone_sid, reason),) = await seen.wait("disconnect")
    assert gone_sid == sid
    if mode == "polling":
        assert reason == "client namespace disconnect"
    else:
        # python-socketio queues its DISCONNECT and CLOSE packets, then closes the
        # WebSocket before its writer task has sent them (as on fastsio's own server)
        assert reason in ("client namespace disconnect", "transport close")
    assert (sid, "python") in seen.of("connect")


#: an ASGI server serving an app: ``serving(app)`` yields the base URL (uvicorn_serving,
#: and the hypercorn and granian ones of their test modules)
Serving = Callable[[Any], contextlib.AbstractAsyncContextManager[str]]


async def node_client_under(serving: Serving, mode: str) -> None:
    """socket.io-client 4.x's steps (acks, broadcast, binary, disconnect) in ``mode``
    against ``fastsio.ASGIApp`` beside the FastAPI app, served by ``serving``."""
    sio, api, seen = build()
    async with serving(fastsio.ASGIApp(sio, api)) as url:

        async def on_sync(name: str) -> None:
            (gone,) = await seen.wait("disconnect")
            assert gone[1] == "client namespace disconnect"

        run = await drive(url, mode, NODE_STEPS, on_sync=on_sync)
        check_node_run(run)


async def python_client_and_lifespan_under(serving: Serving, mode: str) -> None:
    """python-socketio's round in ``mode``, the FastAPI route, and the lifespan passed
    through (fastsio started before the app's startup, stopped before its shutdown),
    with ``fastsio.ASGIApp`` served by ``serving``."""
    sio, api, seen = build()
    async with serving(fastsio.ASGIApp(sio, api)) as url:
        # FastAPI's startup ran, after fastsio's (the server runs)
        assert seen.of("startup") == [(True,)] and sio.started
        await python_client_round(url, mode, seen)
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/hello?name=a") as r:
                assert await r.json() == {"hello": "a"}
    # the ASGI server's shutdown: fastsio stopped first, then FastAPI's shutdown ran
    assert seen.of("shutdown") == [(False,)] and not sio.started
