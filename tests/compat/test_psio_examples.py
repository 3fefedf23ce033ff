"""Three of python-socketio's own example servers (examples/server/asgi: ``app.py``,
``fiddle.py``, ``latency.py``), ported to :mod:`fastsio.compat` with the import and the
serving lines changed (each file's header says exactly what), driven by real clients:
python-socketio's ``AsyncClient`` over polling and WebSocket, and socket.io-client 4.8 in
Node (``tests/node/driver.mjs``) over polling, WebSocket and the upgrade.

Each test imports its example afresh (its module-level ``sio``), from a temporary
working folder that holds stand-ins for the pages its ``static_files`` name (the
examples' own HTML is not copied here), and serves it with ``await sio.start(...)``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator

import aiohttp
import pytest
import socketio

from _nodedriver import node_marks, run_driver

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "psio_examples"
NODE_DIR = HERE.parent / "node"
DRIVER = NODE_DIR / "driver.mjs"
MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}
_count = itertools.count()


def needs_node(fn: Any) -> Any:
    """Mark a test that drives socket.io-client 4.8 in Node (skipped without it)."""
    for mark in node_marks(NODE_DIR):
        fn = mark(fn)
    return fn


def load_example(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``psio_examples/<name>.py`` afresh, with ``folder`` as the working folder
    (where it finds its static files)."""
    (folder / f"{name}.html").write_text(f"<!doctype html><title>{name} stand-in</title>", encoding="utf-8")
    (folder / "static").mkdir(exist_ok=True)
    (folder / "static" / "fiddle.js").write_text("// stand-in\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    spec = importlib.util.spec_from_file_location(f"psio_example_{name}_{next(_count)}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def served() -> AsyncIterator[list[Any]]:
    """Stop the examples' servers (and cancel their background tasks) after the test."""
    servers: list[Any] = []
    yield servers
    for sio in servers:
        # a test's polling clients may be gone with packets owed: no drain to wait for
        await sio.stop(timeout=0.2)
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__name__", "") == "background_task":
            task.cancel()


async def serve(module: ModuleType, servers: list[Any]) -> str:
    """Start the example's ``sio`` on a free port; return its URL."""
    await module.sio.start("127.0.0.1", 0)
    servers.append(module.sio)
    host, port = module.sio.server.address
    return f"http://{host}:{port}"


class Inbox:
    """A python-socketio client's received events, in order."""

    def __init__(self, client: socketio.AsyncClient, *events: str) -> None:
        self.queue: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        for event in events:
            client.on(event, self._handler(event))

    def _handler(self, event: str) -> Any:
        async def handler(*args: Any) -> None:
            self.queue.put_nowait((event, args))

        return handler

    async def next(self, timeout: float = 5) -> tuple[str, tuple[Any, ...]]:
        """Return the next event received (name, arguments)."""
        return await asyncio.wait_for(self.queue.get(), timeout)


TRANSPORTS = [pytest.param(["polling"], id="polling"), pytest.param(["websocket"], id="websocket")]


# ---------------------------------------------------------------------- fiddle.py


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_fiddle_with_python_client(
    transports: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any]
) -> None:
    """Verify fiddle.py: ``connect(sid, environ, auth)`` sees the auth, ``emit(..., to=sid)``
    of a tuple inside it arrives as three arguments, ``disconnect(sid, reason)`` runs; the
    static files are served."""
    url = await serve(load_example("fiddle", tmp_path, monkeypatch), served)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as resp:
            assert resp.status == 200 and "fiddle stand-in" in await resp.text()
        async with http.get(url + "/static/fiddle.js") as resp:
            assert resp.status == 200 and await resp.text() == "// stand-in\n"
    client = socketio.AsyncClient(reconnection=False)
    inbox = Inbox(client, "hello")
    await client.connect(url, auth={"token": "x1"}, transports=transports)
    assert await inbox.next() == ("hello", (1, 2, {"hello": "you"}))
    await client.disconnect()


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_fiddle_prints_connect_and_disconnect(
    transports: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Verify fiddle.py's handlers print what python-socketio's would: the auth and sid on
    connect, the sid and python-socketio's reason on disconnect."""
    module = load_example("fiddle", tmp_path, monkeypatch)
    url = await serve(module, served)
    gone = asyncio.Event()
    ns = module.sio.server.of("/")
    client = socketio.AsyncClient(reconnection=False)
    inbox = Inbox(client, "hello")
    await client.connect(url, auth={"token": "x2"}, transports=transports)
    await inbox.next()
    sid = client.get_sid()
    assert sid in ns.sockets
    await client.disconnect()
    for _ in range(500):
        if sid not in ns.sockets:
            gone.set()
            break
        await asyncio.sleep(0.01)
    assert gone.is_set()
    out = capsys.readouterr().out.splitlines()
    assert f"connected auth={{'token': 'x2'}} sid={sid}" in out
    # python-socketio's client sends the DISCONNECT packet and closes the connection right
    # after: either may reach the server first
    assert any(line in (f"disconnected {sid} client disconnect", f"disconnected {sid} transport close")
               for line in out), out


@needs_node
@pytest.mark.parametrize("mode", list(MODES))
async def test_fiddle_with_node_client(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Verify fiddle.py with socket.io-client 4.8: the ``hello`` event's three arguments,
    and the disconnect reason python-socketio names "client disconnect"."""
    url = await serve(load_example("fiddle", tmp_path, monkeypatch), served)
    fiddle_ns = served[0].server.of("/")

    async def until_gone(name: str) -> None:
        # the client process stays until its DISCONNECT has reached the server
        for _ in range(500):
            if not fiddle_ns.sockets:
                return
            await asyncio.sleep(0.01)

    run = await run_driver(
        DRIVER,
        {
            "url": url,
            "options": MODES[mode],
            "awaitUpgrade": mode == "upgrade",
            "timeout": 10000,
            "steps": [
                {"op": "connect", "auth": {"token": "node"}},
                {"op": "wait", "t": "event", "event": "hello"},
                {"op": "disconnect"},
                {"op": "sync", "name": "disconnected"},
            ],
        },
        10.0,
        until_gone,
    )
    assert run.returncode == 0, run
    assert run.events("hello") == [[1, 2, {"hello": "you"}]]
    sid = run.one("connect")["id"]
    out = capsys.readouterr().out.splitlines()
    assert f"connected auth={{'token': 'node'}} sid={sid}" in out
    assert f"disconnected {sid} client disconnect" in out


# ---------------------------------------------------------------------- latency.py


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_latency_with_python_client(
    transports: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any]
) -> None:
    """Verify latency.py: each ``ping_from_client`` gets a ``pong_from_server`` (no argument:
    ``emit(event, room=sid)`` without data)."""
    url = await serve(load_example("latency", tmp_path, monkeypatch), served)
    client = socketio.AsyncClient(reconnection=False)
    inbox = Inbox(client, "pong_from_server")
    await client.connect(url, transports=transports)
    for _ in range(5):
        await client.emit("ping_from_client")
        assert await inbox.next() == ("pong_from_server", ())
    await client.disconnect()


@needs_node
@pytest.mark.parametrize("mode", list(MODES))
async def test_latency_with_node_client(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any]
) -> None:
    """Verify latency.py with socket.io-client 4.8, as its page uses it: ping, pong, three times."""
    url = await serve(load_example("latency", tmp_path, monkeypatch), served)
    steps: list[dict[str, Any]] = [{"op": "connect"}]
    for i in range(1, 4):
        steps += [{"op": "emit", "event": "ping_from_client", "args": []},
                  {"op": "wait", "t": "event", "event": "pong_from_server", "count": i}]
    run = await run_driver(
        DRIVER,
        {"url": url, "options": MODES[mode], "awaitUpgrade": mode == "upgrade", "timeout": 10000, "steps": steps},
        10.0,
    )
    assert run.returncode == 0, run
    assert run.events("pong_from_server") == [[], [], []]


# ---------------------------------------------------------------------- app.py


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_app_rooms_and_broadcasts(
    transports: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Verify app.py, the full example: the connect greeting, an echo to the sender only,
    join/leave, a room event, a broadcast, closing a room, and a server-side disconnect
    (the disconnect handler prints python-socketio's reason)."""
    url = await serve(load_example("app", tmp_path, monkeypatch), served)
    a = socketio.AsyncClient(reconnection=False)
    b = socketio.AsyncClient(reconnection=False)
    inbox_a = Inbox(a, "my_response")
    inbox_b = Inbox(b, "my_response")
    for client, inbox in ((a, inbox_a), (b, inbox_b)):
        await client.connect(url, transports=transports)
        assert await inbox.next() == ("my_response", ({"data": "Connected", "count": 0},))

    async def said(inbox: Inbox) -> Any:
        event, args = await inbox.next()
        assert event == "my_response"
        return args[0]["data"]

    await a.emit("my_event", {"data": "only A"})
    assert await said(inbox_a) == "only A"
    for client, inbox in ((a, inbox_a), (b, inbox_b)):
        await client.emit("join", {"room": "r1"})
        assert await said(inbox) == "Entered room: r1"
    await a.emit("my_room_event", {"data": "to r1", "room": "r1"})
    assert await said(inbox_a) == "to r1"
    assert await said(inbox_b) == "to r1"
    await a.emit("leave", {"room": "r1"})
    assert await said(inbox_a) == "Left room: r1"
    await a.emit("my_room_event", {"data": "r1 without A", "room": "r1"})
    assert await said(inbox_b) == "r1 without A"
    await b.emit("my_broadcast_event", {"data": "everyone"})
    assert await said(inbox_a) == "everyone"
    assert await said(inbox_b) == "everyone"
    await a.emit("close room", {"room": "r1"})
    assert await said(inbox_b) == "Room r1 is closing."
    # the room is gone: a room event reaches nobody (B's next message is its own echo)
    await a.emit("my_room_event", {"data": "r1 closed", "room": "r1"})
    await b.emit("my_event", {"data": "B again"})
    assert await said(inbox_b) == "B again"
    await a.emit("my_event", {"data": "A again"})
    assert await said(inbox_a) == "A again"
    # B's rooms: its own sid only
    b_sid = b.get_sid()
    assert served[0].rooms(b_sid) == [b_sid]
    disconnected = asyncio.Event()
    a.on("disconnect", lambda *args: disconnected.set())
    await a.emit("disconnect request")
    await asyncio.wait_for(disconnected.wait(), 5)
    await b.disconnect()
    for _ in range(500):
        if not served[0].server.of("/").sockets:
            break
        await asyncio.sleep(0.01)
    out = capsys.readouterr().out
    assert "Client disconnected, reason: server disconnect" in out
