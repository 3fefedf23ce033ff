"""Interop with the real npm ``socket.io-client`` (4.8), driven by ``tests/node/driver.mjs``.

Every scenario runs over polling only, WebSocket only, and polling upgraded to
WebSocket; one Node process per scenario.  The driver prints what the client saw as
JSON lines (see the top of driver.mjs); the server side is observed through the
handlers of ``_interop.build_server``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

import fastsio
from _interop import MODES, Run, Seen, b, build_server
from _nodedriver import node_marks, run_driver

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
DRIVER = NODE_DIR / "driver.mjs"

pytestmark = node_marks(NODE_DIR)


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


async def drive(
    url: str,
    mode: str,
    steps: list[dict[str, Any]],
    *,
    on_sync: Callable[[str], Awaitable[None]] | None = None,
    options: dict[str, Any] | None = None,
    timeout: float = 10.0,
    check: bool = True,
    await_upgrade: bool | None = None,
) -> Run:
    """Run one scenario in one Node process; ``on_sync(name)`` runs at each ``sync`` step."""
    scenario = {
        "url": url,
        "options": {**MODES[mode], **(options or {})},
        "awaitUpgrade": mode == "upgrade" if await_upgrade is None else await_upgrade,
        "timeout": int(timeout * 1000),
        "steps": steps,
    }
    run = await run_driver(DRIVER, scenario, timeout, on_sync, Run)
    if check:
        assert run.returncode == 0, run
        if mode == "upgrade":
            assert run.of("upgrade"), run
    return run


async def until_polled(sock: fastsio.Socket) -> None:
    """Until a polling client's next GET is waiting at the server (no-op on WebSocket).

    Between two GETs a polling client has no connection to the server at all: what
    the server does then reaches it only with its next GET (if it can still make one)."""
    session = sock.client.session
    for _ in range(500):
        if session.transport != "polling" or session.poll is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no pending GET")


def connect_step(sock: str = "s", **kw: Any) -> dict[str, Any]:
    return {"op": "connect", "sock": sock, **kw}


# ---------------------------------------------------------------------- connecting


async def test_connect_with_auth_query_headers(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step(auth={"token": "abc", "n": 1}),
            {"op": "wait", "t": "event", "event": "welcome"},
        ],
        options={"query": {"q": "1", "name": "é ü&=+"}, "extraHeaders": {"x-interop": "yes"}},
    )
    ((nsp, socket),) = seen.of("connect")
    assert nsp == "/"
    hs = socket.handshake
    assert hs.auth == {"token": "abc", "n": 1}
    assert hs.query["q"] == "1" and hs.query["name"] == "é ü&=+" and hs.query["EIO"] == "4"
    assert hs.headers["x-interop"] == "yes"
    assert hs.address == "127.0.0.1"
    assert hs.url.startswith("/socket.io/?") and not hs.secure and not hs.xdomain
    assert socket.id == run.one("connect")["id"]
    # emitted by the connect handler, it arrives after the CONNECT
    assert run.events("welcome") == [[{"id": socket.id, "auth": {"token": "abc", "n": 1}}]]
    assert run.index("connect") < run.index("event", event="welcome")


async def test_emits_from_connect_handlers_arrive_after_connect(start_server, mode: str) -> None:
    # socket.io-client buffers events that precede the CONNECT and replays them *before*
    # its "connect" event, so the order of the records is the order on the wire.
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step("s", nsp="/slow"),
            {"op": "wait", "t": "event", "event": "late"},
            connect_step("c", nsp="/chat"),
            {"op": "wait", "t": "event", "event": "chat_welcome", "sock": "c"},
        ],
    )
    s_records = [(r["t"], r.get("event"), r.get("args")) for r in run.records if r.get("sock") == "s"]
    assert s_records == [
        ("connect", None, None),
        ("event", "from_middleware", [1]),
        ("event", "early", [2]),
        ("event", "late", [3]),
    ], run
    assert run.index("connect", sock="c") < run.index("event", event="chat_welcome", sock="c")


async def test_connect_errors(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            # refusals on one connection do not disturb it (the client closes a connection
            # that has no socket left, hence "s" first)
            connect_step("s", nsp="/", auth={}),
            connect_step("x", nsp="/nope", expect="connect_error"),
            connect_step("c", nsp="/chat", auth={"refuse_chat": True}, expect="connect_error"),
            {"op": "emit", "sock": "s", "event": "echo", "args": ["still", "here"], "ack": True},
            # a middleware refusal, on a connection of its own
            connect_step("r", manager="m2", auth={"refuse": True}, expect="connect_error"),
        ],
    )
    x = run.one("connect_error", sock="x")
    assert x["message"] == "Invalid namespace"
    c = run.one("connect_error", sock="c")
    assert (c["message"], c["data"]) == ("chat closed", {"code": 2, "why": ["full"]})
    r = run.one("connect_error", sock="r")
    assert (r["message"], r["data"]) == ("nope", {"code": 1})
    assert run.acks("echo") == ["still", "here"]
    assert [nsp for nsp, _ in seen.of("connect")] == ["/"]
    assert len(run.of("open", manager="m")) == 1


# ---------------------------------------------------------------------- acks and binary


async def test_acks_both_ways(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step(replies={"question": ["yes", {"n": 42}]}),
            # the handler's return value is the ack; a tuple is several arguments
            {"op": "emit", "event": "echo", "args": [1, "two", {"three": [3]}], "ack": True},
            {"op": "emit", "event": "echo", "args": [], "ack": True, "tag": "echo-none"},
            {"op": "emit", "event": "nothing", "args": [], "ack": True},
            # the server asks the client (await socket.emit_with_ack) inside a handler
            {"op": "emit", "event": "ask", "args": ["why?"], "ack": True},
            # the callback form
            {"op": "emit", "event": "ask_cb", "args": ["cb?"]},
            {"op": "wait", "t": "event", "event": "question", "count": 2},
            # the client's ack has left once this one is answered
            {"op": "emit", "event": "echo", "args": [], "ack": True, "tag": "barrier"},
        ],
    )
    assert run.acks("echo") == [1, "two", {"three": [3]}]
    assert run.acks("echo-none") == []
    assert run.acks("nothing") == []
    assert run.events("question") == [["why?"], ["cb?"]]
    assert all(r["ack"] for r in run.of("event", event="question"))
    # several ack arguments from the client arrive as a tuple
    assert seen.of("reply") == [(("yes", {"n": 42}),)]
    assert run.acks("ask") == ["answer", ["yes", {"n": 42}]]
    await seen.wait("cb_reply")
    assert seen.of("cb_reply") == [(("yes", {"n": 42}),)]


BLOB = bytes(range(256)) * 12  # 3 KiB, every byte value


async def test_binary_both_ways(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    nested = {"a": [1, b(b"\x00\x01\x02"), {"deep": [[b(BLOB)]]}], "b": {"c": b(b"")}, "t": "text"}
    run = await drive(
        url,
        mode,
        [
            connect_step(),
            # client -> server, binary at depth; the server's ack sends it back
            {"op": "emit", "event": "inspect", "args": [nested, b(b"\xff")], "ack": True},
            # server -> client with an ack: the client echoes the binary back in its ack
            {"op": "emit", "event": "ask", "args": [{"x": [b(b"\x07\x08")]}, b(BLOB)], "ack": True},
        ],
    )
    ((args,),) = seen.of("inspect")
    assert args == (
        {"a": [1, b"\x00\x01\x02", {"deep": [[BLOB]]}], "b": {"c": b""}, "t": "text"},
        b"\xff",
    )
    assert run.acks("inspect") == [nested, b(b"\xff")]
    assert run.events("question") == [[{"x": [b(b"\x07\x08")]}, b(BLOB)]]
    assert seen.of("reply") == [(({"x": [b"\x07\x08"]}, BLOB),)]
    assert run.acks("ask") == ["answer", [{"x": [b(b"\x07\x08")]}, b(BLOB)]]


async def test_unicode_and_bursts(start_server, mode: str) -> None:
    # many packets each way at once: several per polling payload, and, without waiting
    # for the upgrade, packets sent and received while it runs
    sio, seen = build_server()
    url = await start_server(sio)
    n = 60
    text = "héllo ✓ 😀 \u2028 \x1e end"
    steps: list[dict[str, Any]] = [connect_step()]
    steps.append({"op": "emit", "event": "burst", "args": [n], "ack": True, "wait": False})
    steps += [
        {"op": "emit", "event": "echo", "args": [i, text, b(bytes([i]))] if i % 2 else [i, text],
         "ack": True, "wait": False}
        for i in range(n)
    ]
    steps.append({"op": "wait", "t": "ack", "tag": "echo", "count": n})
    steps.append({"op": "wait", "t": "ack", "tag": "burst"})
    steps.append({"op": "wait", "t": "event", "event": "item", "count": n})
    if mode == "upgrade":
        steps.append({"op": "wait", "t": "upgrade"})
    run = await drive(url, mode, steps, await_upgrade=False)
    acks = [r["args"] for r in run.of("ack", tag="echo")]
    assert acks == [[i, text, b(bytes([i]))] if i % 2 else [i, text] for i in range(n)]
    assert run.acks("burst") == [n]
    items = run.events("item")
    assert items == [[i, {"i": i, "bin": b(bytes([i]))} if i % 3 == 0 else "é✓" * i] for i in range(n)]


async def test_force_base64_client(start_server, mode: str) -> None:
    # regression: with forceBase64 the client sends binary as "b" + base64 text frames
    # over WebSocket too; the server closed the connection ("parse error")
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step(),
            {"op": "emit", "event": "inspect", "args": [{"a": [b(b"\x01\x02")]}], "ack": True},
            {"op": "emit", "event": "ask", "args": [b(b"\x05")], "ack": True},
        ],
        options={"forceBase64": True},
    )
    assert seen.of("inspect") == [(({"a": [b"\x01\x02"]},),)]
    assert run.acks("inspect") == [{"a": [b(b"\x01\x02")]}]
    assert seen.of("reply") == [(b"\x05",)]
    assert run.acks("ask") == ["answer", b(b"\x05")]


# ---------------------------------------------------------------------- rooms and broadcast


def three_clients(**kw: Any) -> list[dict[str, Any]]:
    return [connect_step(f"s{i}", manager=f"m{i}", **kw) for i in (1, 2, 3)]


async def test_rooms(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            *three_clients(),
            {"op": "emit", "sock": "s1", "event": "join", "args": ["r"], "ack": True},
            {"op": "emit", "sock": "s2", "event": "join", "args": ["r"], "ack": True},
            {"op": "emit", "sock": "s2", "event": "join", "args": ["vip"], "ack": True, "tag": "join2"},
            # sio.to(room)
            {"op": "emit", "sock": "s1", "event": "to_room", "args": ["r", None, "all"], "ack": True},
            # socket.to(room): everyone in it but the sender
            {"op": "emit", "sock": "s1", "event": "socket_to", "args": ["r", "others"], "ack": True},
            # sio.to(room).except_(room)
            {"op": "emit", "sock": "s3", "event": "to_room", "args": ["r", "vip", "no-vip"], "ack": True},
            {"op": "emit", "sock": "s2", "event": "leave", "args": ["r"], "ack": True},
            {"op": "emit", "sock": "s3", "event": "to_room", "args": ["r", None, "left"], "ack": True,
             "tag": "to_room2"},
            # sio.to(socket.id)
            {"op": "emit", "sock": "s2", "event": "to_self", "args": ["me"], "ack": True},
            # a broadcast to all as a barrier: whatever came before it has arrived
            {"op": "emit", "sock": "s3", "event": "broadcast", "args": ["barrier"], "ack": True},
            *[{"op": "wait", "t": "event", "event": "news", "sock": f"s{i}"} for i in (1, 2, 3)],
        ],
    )
    assert run.acks("join", "s1") == [["r"]]
    assert run.acks("join2", "s2") == [["r", "vip"]]
    assert run.acks("leave", "s2") == [["vip"]]
    assert run.events("room_msg", "s1") == [["all"], ["no-vip"], ["left"]]
    assert run.events("room_msg", "s2") == [["all"], ["others"]]
    assert run.events("room_msg", "s3") == []
    assert [run.events("to_me", f"s{i}") for i in (1, 2, 3)] == [[], [["me"]], []]
    assert run.acks("broadcast", "s3") == [3]


async def test_broadcast_to_several_clients(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            *[
                connect_step(f"s{i}", manager=f"m{i}", replies={"poll": [f"s{i}", b(bytes([i]))]})
                for i in (1, 2, 3)
            ],
            {"op": "emit", "sock": "s2", "event": "broadcast", "args": [{"hello": b(b"all")}], "ack": True},
            *[{"op": "wait", "t": "event", "event": "news", "sock": f"s{i}"} for i in (1, 2, 3)],
            # sio.timeout(5).emit_with_ack: one reply per client
            {"op": "emit", "sock": "s1", "event": "ask_all", "args": [7], "ack": True},
        ],
    )
    for i in (1, 2, 3):
        assert run.events("news", f"s{i}") == [[{"hello": b(b"all")}]]
        assert run.events("poll", f"s{i}") == [[7]]
    assert run.acks("broadcast", "s2") == [3]
    assert run.acks("ask_all", "s1") == [[[f"s{i}", b(bytes([i]))] for i in (1, 2, 3)]]


# ---------------------------------------------------------------------- namespaces


async def test_two_namespaces_on_one_connection(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    gone: list[tuple[Any, ...]] = []

    async def on_sync(name: str) -> None:
        gone.extend(await seen.wait("disconnect"))

    run = await drive(
        url,
        mode,
        [
            connect_step("s", nsp="/"),
            connect_step("c", nsp="/chat"),
            {"op": "wait", "t": "event", "event": "chat_welcome", "sock": "c"},
            {"op": "emit", "sock": "c", "event": "msg", "args": ["hi"], "ack": True},
            {"op": "emit", "sock": "s", "event": "echo", "args": ["root"], "ack": True},
            {"op": "emit", "sock": "c", "event": "echo", "args": ["x"], "ack": True, "wait": False},
            # the server leaves /chat; / carries on
            {"op": "emit", "sock": "c", "event": "kick"},
            {"op": "wait", "t": "disconnect", "sock": "c"},
            {"op": "sync", "name": "chat gone"},
            {"op": "emit", "sock": "s", "event": "echo", "args": ["after"], "ack": True, "tag": "echo2"},
        ],
        on_sync=on_sync,
    )
    assert len(run.of("open")) == 1  # one Engine.IO connection carries both
    (root, s), (chat, c) = seen.of("connect")
    assert (root, chat) == ("/", "/chat")
    assert s.sid == c.sid and s.id != c.id
    assert run.acks("msg", "c") == ["recv hi"]
    assert run.acks("echo", "s") == ["root"]
    assert run.of("ack", sock="c", tag="echo") == []  # /chat has no "echo"
    assert run.events("welcome", "c") == [] and run.events("chat_welcome", "s") == []
    assert run.one("disconnect", sock="c")["reason"] == "io server disconnect"
    assert gone == [("/chat", "server namespace disconnect", c.id)]
    assert run.acks("echo2", "s") == ["after"]
    assert run.of("disconnect", sock="s") == []


async def test_other_namespace_alone(start_server, mode: str) -> None:
    # a connection may join a namespace without ever joining "/"
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step("c", nsp="/chat", auth={"who": "chat only"}),
            {"op": "emit", "sock": "c", "event": "msg", "args": ["solo"], "ack": True},
        ],
    )
    assert run.acks("msg", "c") == ["recv solo"]
    ((nsp, socket),) = seen.of("connect")
    assert nsp == "/chat" and socket.handshake.auth == {"who": "chat only"}
    assert sio.of("/").sockets == {}


# ---------------------------------------------------------------------- disconnecting


async def test_client_disconnects(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)

    async def on_sync(name: str) -> None:
        await seen.wait("disconnect", 2)

    run = await drive(
        url,
        mode,
        [
            connect_step("s"),
            connect_step("c", nsp="/chat"),
            {"op": "disconnect", "sock": "c"},
            {"op": "disconnect", "sock": "s"},
            {"op": "sync", "name": "gone"},
        ],
        on_sync=on_sync,
    )
    assert run.one("disconnect", sock="s")["reason"] == "io client disconnect"
    assert run.one("disconnect", sock="c")["reason"] == "io client disconnect"
    assert sorted(d[:2] for d in seen.of("disconnect")) == [
        ("/", "client namespace disconnect"),
        ("/chat", "client namespace disconnect"),
    ]


async def test_server_disconnects(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [connect_step(), {"op": "emit", "event": "kick"}, {"op": "wait", "t": "disconnect"}],
    )
    assert run.one("disconnect")["reason"] == "io server disconnect"
    assert [d[:2] for d in await seen.wait("disconnect")] == [("/", "server namespace disconnect")]


async def test_server_disconnects_and_closes(start_server, mode: str) -> None:
    # socket.disconnect(close=True): every namespace of the connection leaves, then it closes
    sio, seen = build_server()
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step("s"),
            connect_step("c", nsp="/chat"),
            {"op": "emit", "sock": "s", "event": "kick", "args": [True]},
            {"op": "wait", "t": "disconnect", "sock": "s"},
            {"op": "wait", "t": "disconnect", "sock": "c"},
        ],
    )
    assert run.one("disconnect", sock="s")["reason"] == "io server disconnect"
    assert run.one("disconnect", sock="c")["reason"] == "io server disconnect"
    assert sorted(d[:2] for d in await seen.wait("disconnect", 2)) == [
        ("/", "server namespace disconnect"),
        ("/chat", "server namespace disconnect"),
    ]


async def test_client_leaves_main_namespace_keeps_other(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)
    gone: list[tuple[Any, ...]] = []

    async def on_sync(name: str) -> None:
        gone.extend(await seen.wait("disconnect"))

    run = await drive(
        url,
        mode,
        [
            connect_step("s"),
            connect_step("c", nsp="/chat"),
            {"op": "disconnect", "sock": "s"},
            {"op": "sync", "name": "left /"},
            {"op": "emit", "sock": "c", "event": "msg", "args": ["still"], "ack": True},
        ],
        on_sync=on_sync,
    )
    assert [g[:2] for g in gone] == [("/", "client namespace disconnect")]
    assert run.acks("msg", "c") == ["recv still"]
    assert run.of("disconnect", sock="c") == []


async def test_server_stops(start_server, mode: str) -> None:
    sio, seen = build_server()
    url = await start_server(sio)

    async def on_sync(name: str) -> None:
        # with no GET pending, a stopped server cannot tell a polling client it closed
        # (the listener is gone): the client then sees "transport error", as with Node's
        await until_polled(seen.of("connect")[0][1])
        await sio.stop()

    run = await drive(
        url,
        mode,
        [
            connect_step("s"),
            connect_step("c", nsp="/chat"),
            {"op": "sync", "name": "stop"},
            {"op": "wait", "t": "disconnect", "sock": "s"},
            {"op": "wait", "t": "disconnect", "sock": "c"},
        ],
        on_sync=on_sync,
    )
    assert run.one("disconnect", sock="s")["reason"] == "transport close"
    assert run.one("disconnect", sock="c")["reason"] == "transport close"
    assert sorted(d[:2] for d in seen.of("disconnect")) == [
        ("/", "server shutting down"),
        ("/chat", "server shutting down"),
    ]


async def test_client_closes_the_connection(start_server, mode: str) -> None:
    # the client closes the Engine.IO connection (a CLOSE packet) without leaving its namespaces
    sio, seen = build_server()
    url = await start_server(sio)

    async def on_sync(name: str) -> None:
        await seen.wait("disconnect", 2)

    run = await drive(
        url,
        mode,
        [
            connect_step("s"),
            connect_step("c", nsp="/chat"),
            {"op": "close"},
            {"op": "sync", "name": "closed"},
        ],
        on_sync=on_sync,
    )
    assert run.one("disconnect", sock="s")["reason"] == "forced close"
    assert sorted(d[:2] for d in seen.of("disconnect")) == [
        ("/", "transport close"),
        ("/chat", "transport close"),
    ]


async def test_client_transport_goes_away(start_server, mode: str) -> None:
    # no goodbye at all: the client's TCP connections just close
    sio, seen = build_server()
    url = await start_server(sio)

    async def on_sync(name: str) -> None:
        await until_polled(seen.of("connect")[0][1])

    await drive(
        url,
        mode,
        [connect_step(), {"op": "sync", "name": "polled"}, {"op": "drop"}, {"op": "wait", "t": "disconnect"}],
        on_sync=on_sync,
        check=False,
    )
    assert [d[:2] for d in await seen.wait("disconnect")] == [("/", "transport close")]


async def test_heartbeat_timeout(start_server, mode: str) -> None:
    sio, seen = build_server(ping_interval=0.2, ping_timeout=0.15)
    url = await start_server(sio)
    run = await drive(
        url,
        mode,
        [
            connect_step(),
            # a client that answers pings stays connected through several intervals
            {"op": "sleep", "ms": 600},
            {"op": "emit", "event": "echo", "args": ["alive"], "ack": True},
            {"op": "dropPongs"},
            {"op": "wait", "t": "disconnect", "timeout": 3000},
        ],
    )
    assert run.acks("echo") == ["alive"]
    assert run.one("disconnect")["reason"] == "transport close"
    assert [d[:2] for d in await seen.wait("disconnect")] == [("/", "ping timeout")]
