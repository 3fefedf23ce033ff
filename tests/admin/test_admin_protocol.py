"""``sio.instrument()``: the Socket.IO Admin UI's protocol (``@socket.io/admin-ui`` 0.5),
driven as the UI drives it.

The admin is the real npm socket.io-client 4.8 (``tests/node/driver.mjs``), connecting to
``/admin`` with the options and the CONNECT auth the UI uses (``forceNew``,
``withCredentials``, polling then WebSocket, ``{username, password}``); the sockets it
watches are real clients doing real things: another socket.io-client in the same Node
process (upgraded from polling, emitting, acked, broadcast to) and python-socketio's
``AsyncClient`` on two namespaces.  Everything the admin receives is checked against what
those clients did, and its actions (``join``, ``leave``, ``emit``, ``_disconnect``) against
what the clients then see.  The other tests check the authentication (credentials,
session ids, callables, ``auth=False``), production mode, ``read_only``, bad input to the
actions, and ``fastsio.compat.AsyncServer.instrument``, with python-socketio as the admin.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import socketio as psio

import fastsio
from fastsio import compat
from _nodedriver import Run, node_marks, run_driver

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
DRIVER = NODE_DIR / "driver.mjs"
LEGACY_DIR = Path(__file__).resolve().parents[1] / "legacy"


def marked(marks: list[Any]) -> Any:
    """A decorator applying ``marks``."""

    def apply(fn: Any) -> Any:
        for mark in marks:
            fn = mark(fn)
        return fn

    return apply


needs_node = marked(node_marks(NODE_DIR))
needs_legacy = marked(node_marks(LEGACY_DIR, "sioc25", "run `npm ci` in tests/legacy"))

LOGIN = {"username": "admin", "password": "s3cret pass"}
# the Manager options of the UI's io() call (App.vue: tryConnect)
UI_OPTIONS = {"forceNew": True, "reconnection": False, "withCredentials": True, "transports": ["polling", "websocket"]}
ALL_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]


def build_app(**instrument: Any) -> tuple[fastsio.Server, Any]:
    """The watched application: ``/`` puts each socket in ``lobby`` and keeps its auth
    ``name`` in ``socket.data``; ``hello`` answers ``reply`` and acks; ``shout``
    broadcasts ``news``; ``/chat`` accepts anyone."""
    sio = fastsio.Server()

    @sio.on("connect")
    def connect(sock: fastsio.Socket, auth: dict[str, Any]) -> None:
        sock.join("lobby")
        sock.data["name"] = auth.get("name")

    @sio.on("hello")
    def hello(sock: fastsio.Socket, *args: Any) -> str:
        sock.emit("reply", "hi", *args)
        return "acked"

    @sio.on("shout")
    def shout(sock: fastsio.Socket, text: str) -> None:
        sio.emit("news", text)

    sio.of("/chat").on("connect", lambda sock, auth: None)
    options = {"auth": LOGIN, "server_stats_interval": 0.2, **instrument}
    admin = sio.instrument(**options)
    return sio, admin


def admin_events(run: Run, event: str) -> list[list[Any]]:
    return [r["args"] for r in run.of("event", sock="a", event=event)]


def emit(event: str, *args: Any, sock: str = "a") -> dict[str, Any]:
    return {"op": "emit", "sock": sock, "event": event, "args": list(args)}


def wait_admin(event: str, count: int = 1) -> dict[str, Any]:
    return {"op": "wait", "t": "event", "sock": "a", "event": event, "count": count}


@needs_node
async def test_admin_ui_protocol_with_real_clients(start_server: Any) -> None:
    """Verify every event the admin-ui package sends, against socket.io-client and
    python-socketio clients that connect, upgrade, emit, get acks and broadcasts, join
    and leave rooms, and are disconnected; and the UI's four actions."""
    sio, admin = build_app()
    url = await start_server(sio)
    py = psio.AsyncClient(reconnection=False)
    py_got: list[tuple[str, Any]] = []
    py.on("news", lambda text: py_got.append(("news", text)))
    py.on("notice", lambda text: py_got.append(("notice", text)))
    py_sid: dict[str, str] = {}

    async def on_sync(name: str) -> None:
        if name == "python":
            # WebSocket only: no upgrade, so the admin's socket_updated are the Node client's
            await py.connect(url, namespaces=["/", "/chat"], auth={"name": "py"}, transports=["websocket"], wait_timeout=5)
            py_sid["/"] = py.get_sid("/")
            py_sid["/chat"] = py.get_sid("/chat")
        elif name == "end":
            await py.disconnect()

    steps = [
        {"op": "connect", "sock": "a", "manager": "am", "nsp": "/admin", "auth": LOGIN, "options": UI_OPTIONS},
        wait_admin("config"),
        wait_admin("all_sockets"),
        wait_admin("server_stats"),
        {"op": "sync", "name": "python"},
        wait_admin("socket_connected", 2),
        {"op": "connect", "sock": "u", "manager": "um", "nsp": "/", "auth": {"name": "node"},
         "options": {"transports": ["polling", "websocket"]}},
        wait_admin("socket_connected", 3),
        {"op": "wait", "t": "upgrade", "manager": "um"},
        {"op": "emit", "sock": "u", "event": "hello", "args": [1, "two"], "ack": True},
        wait_admin("event_received"),
        wait_admin("event_sent"),
        {"op": "emit", "sock": "u", "event": "shout", "args": ["big news"]},
        {"op": "wait", "t": "event", "sock": "u", "event": "news"},
        wait_admin("event_sent", 3),  # reply, then news to both sockets of "/"
        emit("join", "/", "vip", {"$id": "u"}),
        wait_admin("room_joined"),
        emit("join", "/", "everyone"),
        wait_admin("room_joined", 3),
        emit("leave", "/", "vip", {"$id": "u"}),
        wait_admin("room_left"),
        emit("emit", "/", "lobby", "notice", "from the admin"),
        {"op": "wait", "t": "event", "sock": "u", "event": "notice"},
        wait_admin("server_stats", 3),
        emit("_disconnect", "/", False, {"$id": "u"}),
        {"op": "wait", "t": "disconnect", "sock": "u"},
        wait_admin("socket_disconnected"),
        {"op": "sync", "name": "end"},
        wait_admin("socket_disconnected", 3),
    ]
    scenario = {"url": url, "timeout": 20000, "steps": steps}
    run = await run_driver(DRIVER, scenario, 20, on_sync)
    assert run.returncode == 0, run
    u_id = run.one("connect", sock="u")["id"]
    a_id = run.one("connect", sock="a")["id"]

    # the login: a session id, then the config with every feature
    [[session_id]] = admin_events(run, "session")
    assert isinstance(session_id, str) and len(session_id) == 16
    assert admin_events(run, "config") == [[{"supportedFeatures": ALL_FEATURES}]]
    assert admin_events(run, "all_sockets") == [[[]]]  # nobody was connected yet

    # socket_connected: both python-socketio sockets, then the Node one, as the UI shows them
    connected = [args[0] for args in admin_events(run, "socket_connected")]
    by_id = {s["id"]: s for s in connected}
    assert a_id in by_id and by_id[a_id]["nsp"] == "/admin"  # the admin sees itself, as in Node
    py_root, py_chat, node = by_id[py_sid["/"]], by_id[py_sid["/chat"]], by_id[u_id]
    assert py_root["nsp"] == "/" and py_chat["nsp"] == "/chat" and node["nsp"] == "/"
    assert py_root["clientId"] == py_chat["clientId"] != node["clientId"]  # one connection, two sockets
    assert py_root["transport"] == "websocket"
    assert sorted(py_root["rooms"]) == sorted([py_sid["/"], "lobby"]) and py_chat["rooms"] == [py_sid["/chat"]]
    assert py_root["data"] == {"name": "py"} and node["data"] == {"name": "node"}
    hs = node["handshake"]
    assert hs["address"] == "127.0.0.1" and hs["url"].startswith("/socket.io/") and hs["secure"] is False
    assert "EIO" in hs["query"] and "host" in hs["headers"] and isinstance(hs["issued"], int)
    for args in admin_events(run, "socket_connected"):
        assert isinstance(args[1], str) and args[1].endswith("Z")  # the timestamp
    # the Node client came over polling and upgraded: socket_updated says so (unless its
    # upgrade was already done when its socket connected)
    updates = [args[0] for args in admin_events(run, "socket_updated")]
    if node["transport"] == "polling":
        assert {"id": u_id, "nsp": "/", "transport": "websocket"} in updates
    assert all(u["id"] in (u_id, a_id) for u in updates)  # the admin's own upgrade is told too

    # events, in development mode: what the Node client sent, and what it was sent
    received = admin_events(run, "event_received")
    assert received[0][:3] == ["/", u_id, ["hello", 1, "two"]]
    assert ["/", u_id, ["shout", "big news"]] in [r[:3] for r in received]
    sent = [s[:3] for s in admin_events(run, "event_sent")]
    assert ["/", u_id, ["reply", "hi", 1, "two"]] in sent
    assert ["/", u_id, ["news", "big news"]] in sent and ["/", py_sid["/"], ["news", "big news"]] in sent
    assert ["/", u_id, ["notice", "from the admin"]] in sent
    assert not [s for s in sent if s[0] == "/admin"]  # the admin namespace's own are not events
    assert ("news", "big news") in py_got and ("notice", "from the admin") in py_got

    # the actions: join by socket id (the UI's way), join all (MJOIN), leave, emit to a room
    joined = [j[:3] for j in admin_events(run, "room_joined")]
    assert joined[0] == ["/", "vip", u_id]
    assert sorted(joined[1:3]) == sorted([["/", "everyone", u_id], ["/", "everyone", py_sid["/"]]])
    left = [x[:3] for x in admin_events(run, "room_left")]
    assert left[0] == ["/", "vip", u_id]
    assert run.events("notice") == [["from the admin"]]
    # _disconnect: the Node client was disconnected by the server, and left its rooms
    assert run.one("disconnect", sock="u")["reason"] == "io server disconnect"
    gone = [d[:3] for d in admin_events(run, "socket_disconnected")]
    assert gone[0] == ["/", u_id, "server namespace disconnect"]
    assert sorted(x[1] for x in left[1:] if x[2] == u_id) == sorted(["everyone", "lobby", u_id])
    # python-socketio's disconnect(): a DISCONNECT per namespace, or the connection closed first
    assert {tuple(g[:2]) for g in gone[1:]} == {("/", py_sid["/"]), ("/chat", py_sid["/chat"])}
    assert {g[2] for g in gone[1:]} <= {"client namespace disconnect", "transport close"}

    # server_stats: the first at once, then every interval, with the namespaces and counts
    stats = [args[0] for args in admin_events(run, "server_stats")]
    assert len(stats) >= 3
    first = stats[0]
    assert set(first) == {"serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount",
                          "aggregatedEvents", "namespaces"}
    import os
    import socket

    assert first["serverId"] == first["hostname"] == socket.gethostname() and first["pid"] == os.getpid()
    assert {n["name"] for n in first["namespaces"]} == {"/", "/chat", "/admin"}
    counts: dict[str, int] = {}
    for s in stats:
        for e in s["aggregatedEvents"]:
            assert e["timestamp"] % 1000 == 0 and e["count"] > 0
            counts[e["type"]] = counts.get(e["type"], 0) + e["count"]
    assert counts["rawConnection"] >= 2  # python-socketio's and the Node client's connections
    for kind in ("packetsIn", "packetsOut", "bytesIn", "bytesOut"):
        assert counts[kind] > 0, (kind, counts)
    assert counts["bytesIn"] > counts["packetsIn"]
    assert any(s["clientsCount"] >= 3 for s in stats)  # admin, python-socketio, Node


async def admin_client(url: str, auth: Any, events: list[tuple[str, Any]] | None = None) -> psio.AsyncClient:
    """python-socketio as the admin, recording what it gets in ``events``."""
    client = psio.AsyncClient(reconnection=False)
    if events is not None:
        def record(event: str, *args: Any) -> None:
            events.append((event, args))

        client.on("*", record, namespace="/admin")
    await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=5)
    return client


async def refused(url: str, auth: Any) -> Any:
    """The CONNECT_ERROR python-socketio gets for ``auth`` on ``/admin``."""
    client = psio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/admin")
    with pytest.raises(psio.exceptions.ConnectionError):
        await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=5)
    await client.disconnect()
    return errors


async def until(events: list[tuple[str, Any]], name: str, count: int = 1) -> list[Any]:
    for _ in range(1000):
        found = [args for event, args in events if event == name]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {count} x {name}: {events}")


async def test_authentication(start_server: Any) -> None:
    """Verify credentials (right, wrong, missing), the login's session id accepted in
    place of them, a list of logins, an async callable, and ``auth=False``."""
    sio, _ = build_app()
    url = await start_server(sio)
    for bad in ({"username": "admin", "password": "s3cret pasS"}, {"username": "Admin", "password": LOGIN["password"]},
                {"username": "admin"}, {}, {"sessionId": "0123456789abcdef"}):
        assert await refused(url, bad) == [{"message": "invalid credentials"}]
    events: list[tuple[str, Any]] = []
    ok = await admin_client(url, LOGIN, events)
    [(session_id,)] = await until(events, "session")
    await ok.disconnect()
    again: list[tuple[str, Any]] = []
    client = await admin_client(url, {"sessionId": session_id}, again)  # what the UI sends after a reload
    await until(again, "config")
    assert not [e for e in again if e[0] == "session"]
    await client.disconnect()

    for auth, good, bad in (
        ([{"username": "a", "password": "1"}, {"username": "b", "password": "2"}], {"username": "b", "password": "2"},
         {"username": "a", "password": "2"}),
        (lambda given: given.get("token") == "t0ken", {"token": "t0ken"}, {"token": "t0ken!"}),
    ):
        s, _ = build_app(auth=auth)
        u = await start_server(s)
        await (await admin_client(u, good)).disconnect()
        assert await refused(u, bad) == [{"message": "invalid credentials"}]

    async def check(given: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        return given.get("token") == "async"

    s, _ = build_app(auth=check)
    u = await start_server(s)
    await (await admin_client(u, {"token": "async"})).disconnect()
    assert await refused(u, {"token": "sync"}) == [{"message": "invalid credentials"}]
    s, _ = build_app(auth=False)
    u = await start_server(s)
    await (await admin_client(u, None)).disconnect()


def test_instrument_arguments() -> None:
    """Verify what instrument() refuses: no auth, a bcrypt hash, a bad mode, twice."""
    for kwargs in ({"auth": None}, {"auth": {"username": "a", "password": "$2b$10$" + "a" * 53}},
                   {"auth": False, "mode": "debug"}, {"auth": {}}, {"auth": "secret"},
                   {"auth": False, "server_stats_interval": 0}):
        with pytest.raises(ValueError):
            fastsio.Server().instrument(**kwargs)
    sio = fastsio.Server()
    sio.instrument(auth=False)
    with pytest.raises(ValueError, match="already"):
        sio.instrument(auth=False)


async def test_production_and_read_only(start_server: Any) -> None:
    """Verify production mode (config without ALL_EVENTS, no all_sockets, no socket or
    event reports, server_stats with the counts) and read_only (no actions: a join
    from the admin changes nothing)."""
    sio, _ = build_app(mode="production", read_only=True)
    url = await start_server(sio)
    events: list[tuple[str, Any]] = []
    admin = await admin_client(url, LOGIN, events)
    user = psio.AsyncClient(reconnection=False)
    await user.connect(url, auth={"name": "u"}, transports=["websocket"], wait_timeout=5)
    sid = user.get_sid("/")
    assert await user.call("hello", "x", timeout=5) == "acked"
    await admin.emit("join", ("/", "vip", sid), namespace="/admin")
    await admin.emit("_disconnect", ("/", True, sid), namespace="/admin")
    # a stats tick with the user's traffic in it
    for _ in range(1000):
        stats = [args[0] for event, args in events if event == "server_stats"]
        counts = {e["type"] for s in stats for e in s["aggregatedEvents"]}
        if {"rawConnection", "packetsIn", "bytesOut"} <= counts:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(events)
    assert [args for event, args in events if event == "config"] == [({"supportedFeatures": ["AGGREGATED_EVENTS"]},)]
    names = {event for event, _ in events}
    assert names <= {"session", "config", "server_stats"}, names
    assert user.connected and sio.sockets.sockets[sid].rooms == {sid, "lobby"}
    assert {"name": "/", "socketsCount": 1} in stats[-1]["namespaces"]
    await user.disconnect()
    await admin.disconnect()


async def test_bad_actions_are_ignored(start_server: Any) -> None:
    """Verify actions with wrong types, unknown namespaces or reserved event names
    change nothing and leave the server serving."""
    sio, _ = build_app()
    url = await start_server(sio)
    events: list[tuple[str, Any]] = []
    admin = await admin_client(url, LOGIN, events)
    user = psio.AsyncClient(reconnection=False)
    got: list[Any] = []
    user.on("*", lambda event, *args: got.append(event))
    await user.connect(url, auth={"name": "u"}, transports=["websocket"], wait_timeout=5)
    sid = user.get_sid("/")
    for event, args in (("join", ("/", None, sid)), ("join", (7, "r")), ("join", ("/nowhere", "r")),
                        ("leave", ("/", ["r"])), ("_disconnect", ({"x": 1}, True)), ("emit", ("/", None, "connect")),
                        ("emit", ("/", 5, "x")), ("emit", ()), ("join", ())):
        await admin.emit(event, args, namespace="/admin")
    assert await user.call("hello", timeout=5) == "acked"
    assert sio.sockets.sockets[sid].rooms == {sid, "lobby"} and user.connected
    assert "/nowhere" not in sio.namespaces
    assert got == ["reply"]
    await user.disconnect()
    await admin.disconnect()


async def test_compat_instrument(start_server: Any) -> None:
    """Verify python-socketio's ``sio.instrument(auth=...)`` on the compat facade: the
    admin sees the sid-based app's sockets."""
    sio = compat.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.enter_room(sid, "compat-room")

    with pytest.raises(ValueError):
        sio.instrument()
    sio.instrument(auth={"username": "admin", "password": "pw"}, mode="development", read_only=False,
                   server_id="compat-1", namespace="/admin", server_stats_interval=0.2)
    url = await start_server(sio.server)
    user = psio.AsyncClient(reconnection=False)
    await user.connect(url, transports=["websocket"], wait_timeout=5)
    events: list[tuple[str, Any]] = []
    admin = await admin_client(url, {"username": "admin", "password": "pw"}, events)
    [(sockets,)] = await until(events, "all_sockets")
    assert [(s["id"], s["nsp"], sorted(s["rooms"])) for s in sockets] == [
        (user.get_sid("/"), "/", sorted([user.get_sid("/"), "compat-room"]))]
    stats = await until(events, "server_stats", 2)
    assert stats[-1][0]["serverId"] == "compat-1"
    user_sid = user.get_sid("/")
    await user.disconnect()
    [(nsp, sid, reason, ts)] = await until(events, "socket_disconnected")
    assert (nsp, sid) == ("/", user_sid) and reason in ("client namespace disconnect", "transport close")
    await admin.disconnect()


async def test_dynamic_late_namespaces_binary_and_msgpack(start_server: Any) -> None:
    """Verify events are reported on a dynamic namespace's children and on a namespace
    made after the admin connected, binary arguments included, on a msgpack server
    (python-socketio's msgpack serializer as the admin); and that the listeners that
    report events are taken off when the last admin leaves."""
    import re

    sio = fastsio.Server(parser="msgpack")
    dyn = sio.of(re.compile(r"^/dyn-\d+$"))
    dyn.on("ping", lambda sock, data: sock.emit("pong", data))
    sio.instrument(auth=LOGIN, server_stats_interval=0.2)
    url = await start_server(sio)
    events: list[tuple[str, Any]] = []
    admin = psio.AsyncClient(reconnection=False, serializer="msgpack")
    admin.on("*", lambda event, *args: events.append((event, args)), namespace="/admin")
    await admin.connect(url, namespaces=["/admin"], auth=LOGIN, transports=["websocket"], wait_timeout=5)
    await until(events, "config")
    late = sio.of("/late")  # made while an admin watches
    late.on("echo", lambda sock, *args: args)
    user = psio.AsyncClient(reconnection=False, serializer="msgpack")
    await user.connect(url, namespaces=["/dyn-7", "/late"], transports=["websocket"], wait_timeout=5)
    await user.emit("ping", b"\x00\xffbin", namespace="/dyn-7")
    assert await user.call("echo", "x", namespace="/late", timeout=5) == "x"
    received = [args for args in await until(events, "event_received", 2)]
    assert ("/dyn-7", user.get_sid("/dyn-7"), ["ping", b"\x00\xffbin"]) in [r[:3] for r in received]
    assert ("/late", user.get_sid("/late"), ["echo", "x"]) in [r[:3] for r in received]
    sent = await until(events, "event_sent")
    assert sent[0][:3] == ("/dyn-7", user.get_sid("/dyn-7"), ["pong", b"\x00\xffbin"])
    connected = {args[0]["nsp"] for args in await until(events, "socket_connected", 2)}
    assert {"/dyn-7", "/late"} <= connected
    stats = await until(events, "server_stats", 2)
    assert {"/dyn-7", "/late", "/admin", "/"} <= {n["name"] for n in stats[-1][0]["namespaces"]}
    await admin.disconnect()
    for _ in range(500):  # the server sees the admin leave
        if not sio.of("/admin").sockets:
            break
        await asyncio.sleep(0.01)
    assert not dyn.any_in and not dyn.any_out and not late.any_in and not late.any_out
    await user.disconnect()


async def test_inside_uvicorn() -> None:
    """Verify the Admin UI's protocol with the server inside uvicorn (fastsio.ASGIApp):
    the admin over polling upgraded to WebSocket, as the UI connects, sees a polling
    client connect, upgrade, emit, and the traffic counts."""
    from asgi._asgi import uvicorn_serving

    sio, _ = build_app()
    async with uvicorn_serving(fastsio.ASGIApp(sio)) as url:
        events: list[tuple[str, Any]] = []
        admin = psio.AsyncClient(reconnection=False)
        admin.on("*", lambda event, *args: events.append((event, args)), namespace="/admin")
        await admin.connect(url, namespaces=["/admin"], auth=LOGIN, transports=["polling", "websocket"], wait_timeout=5)
        await until(events, "all_sockets")
        user = psio.AsyncClient(reconnection=False)
        await user.connect(url, auth={"name": "uv"}, transports=["polling", "websocket"], wait_timeout=5)
        sid = user.get_sid("/")
        assert await user.call("hello", "via uvicorn", timeout=5) == "acked"
        received = await until(events, "event_received")
        assert received[0][:3] == ("/", sid, ["hello", "via uvicorn"])
        [(connected, _ts)] = [args for args in await until(events, "socket_connected") if args[0]["id"] == sid]
        assert connected["data"] == {"name": "uv"} and connected["nsp"] == "/"
        for _ in range(1000):  # the user's upgrade, reported unless it was done before its CONNECT
            if connected["transport"] == "websocket" or any(
                e == "socket_updated" and a[0]["id"] == sid for e, a in events
            ):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(events)
        for _ in range(1000):
            counts = {e["type"] for event, args in events if event == "server_stats" for e in args[0]["aggregatedEvents"]}
            if {"rawConnection", "packetsIn", "bytesIn", "packetsOut", "bytesOut"} <= counts:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(events)
        await user.disconnect()
        await admin.disconnect()


@needs_legacy
async def test_legacy_client_watched(start_server: Any) -> None:
    """Verify a Socket.IO v4 client (socket.io-client 2.5.0, Engine.IO v3) as the admin
    sees it: its sockets (ids as Node gives them), its event, its disconnection."""
    sio = fastsio.Server(allow_eio3=True)
    sio.on("hello", lambda sock, *args: "acked")
    sio.of("/chat").on("connect", lambda sock, auth: None)
    sio.instrument(auth=LOGIN, server_stats_interval=0.2)
    url = await start_server(sio)
    events: list[tuple[str, Any]] = []
    admin = await admin_client(url, LOGIN, events)
    steps = [
        {"op": "connect"},
        {"op": "connect", "sock": "c", "nsp": "/chat"},
        {"op": "emit", "event": "hello", "args": ["from 2.x"], "ack": True},
        {"op": "disconnect", "sock": "c"},
        {"op": "sync", "name": "seen"},
    ]

    async def on_sync(name: str) -> None:
        await until(events, "socket_disconnected")

    scenario = {"client": "sioc25", "url": url, "options": {"transports": ["websocket"]}, "timeout": 10000,
                "steps": steps}
    run = await run_driver(LEGACY_DIR / "driver.cjs", scenario, 10, on_sync)
    assert run.returncode == 0, run
    engine_id = run.one("connect", sock="s")["engine"]
    connected = {args[0]["id"]: args[0] for args in await until(events, "socket_connected", 2)}
    assert connected[engine_id]["nsp"] == "/" and connected[engine_id]["clientId"] == engine_id
    assert connected[f"/chat#{engine_id}"]["nsp"] == "/chat"
    assert connected[engine_id]["handshake"]["query"]["EIO"] == "3"
    received = [r[:3] for r in await until(events, "event_received")]
    assert ("/", engine_id, ["hello", "from 2.x"]) in received
    gone = [d[:3] for d in await until(events, "socket_disconnected")]
    assert ("/chat", f"/chat#{engine_id}", "client namespace disconnect") in gone
    await admin.disconnect()
