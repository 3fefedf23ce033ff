"""Interop with the real npm socket.io-client 2.5.0, 1.7.4 and 1.2.0 (Engine.IO v3,
Socket.IO v4), driven by ``tests/legacy/driver.cjs``, against ``allow_eio3=True``.

Every scenario runs over polling only, WebSocket only, and polling upgraded to
WebSocket; one Node process per scenario.  In Node these clients poll with ``b64=1``
(their XMLHttpRequest has no binary responses), so polling carries text payloads:
socket.io-client 1.x writes them as engine.io-parser 1.x does (UTF-8 inside the
payload), 2.x as it is; non-ASCII text must survive both.  (Binary polling payloads
and socket.io-client 1.2.0 in a browser: tests/browser.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _interop import MODES, Run, b, build_server
from _nodedriver import node_marks, run_driver

LEGACY_DIR = Path(__file__).resolve().parents[1] / "legacy"
DRIVER = LEGACY_DIR / "driver.cjs"

pytestmark = node_marks(LEGACY_DIR, "sioc12", "run `npm ci` in tests/legacy")

CLIENTS = {"2.5.0": "sioc25", "1.7.4": "sioc17", "1.2.0": "sioc12"}
TEXT = "héllo 世界 🎉 \u2028 ✓"


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=list(CLIENTS))
def client(request: pytest.FixtureRequest) -> str:
    return request.param


async def drive(
    url: str, client: str, mode: str, steps: list[dict[str, Any]], timeout: float = 10.0
) -> Run:
    """Run one scenario with ``client`` (a version) in one Node process."""
    scenario = {
        "client": CLIENTS[client],
        "url": url,
        "options": MODES[mode],
        "awaitUpgrade": mode == "upgrade",
        "timeout": int(timeout * 1000),
        "steps": steps,
    }
    run = await run_driver(DRIVER, scenario, timeout, run_type=Run)
    assert run.returncode == 0, run
    if mode == "upgrade":
        assert run.of("upgrade"), run
    return run


def server(**options: Any) -> Any:
    # the default same-origin check with an origin list: socket.io-client 1.2.0's
    # ws@0.4 sends "Origin: host:port" (no scheme), same-origin when it is the Host
    options.setdefault("cors_allowed_origins", ["https://example.com"])
    return build_server(allow_eio3=True, **options)


# ---------------------------------------------------------------------- the whole life of a connection


async def test_connection_life(start_server: Any, client: str, mode: str) -> None:
    """Verify, with each client on each transport: the implicit "/" connection and a second
    namespace (ids as Node gives them), acks both ways, non-ASCII text both ways, binary
    from the server, an invalid namespace refused, client-initiated heartbeats, and
    disconnects both ways."""
    sio, seen = server(ping_interval=0.25, ping_timeout=0.5)
    url = await start_server(sio)
    steps: list[dict[str, Any]] = [
        {"op": "connect", "replies": {"question": ["yes", TEXT]}},
        {"op": "wait", "t": "event", "event": "welcome"},
        {"op": "emit", "event": "echo", "args": [1, TEXT, {"a": [TEXT]}], "ack": True},
        {"op": "emit", "event": "ask", "args": [TEXT], "ack": True},
        {"op": "connect", "sock": "c", "nsp": "/chat"},
        {"op": "wait", "t": "event", "event": "chat_welcome", "sock": "c"},
        {"op": "emit", "sock": "c", "event": "msg", "args": [TEXT], "ack": True},
        {"op": "connect", "sock": "x", "nsp": "/nope", "expect": "error"},
        # server -> client: a broadcast (the fan-out's pre-built frames) and binary
        {"op": "emit", "event": "broadcast", "args": [TEXT], "ack": True},
        {"op": "wait", "t": "event", "event": "news"},
        {"op": "emit", "event": "burst", "args": [4], "ack": True},
        {"op": "wait", "t": "event", "event": "item", "count": 4},
        # the client pings (pingInterval 250 ms); the server answers and stays
        {"op": "sleep", "ms": 700},
        {"op": "emit", "sock": "c", "event": "msg", "args": ["still here"], "ack": True, "tag": "msg2"},
        # disconnects: the client leaves /chat, the server disconnects "/"
        {"op": "disconnect", "sock": "c"},
        {"op": "sleep", "ms": 50},
        {"op": "emit", "event": "kick", "args": []},
        {"op": "wait", "t": "disconnect", "sock": "s"},
    ]
    run = await drive(url, client, mode, steps)

    # "/" is connected without a CONNECT from the client; ids as Node gives them
    engine_id = run.one("connect", sock="s")["engine"]
    connects = {nsp: sock for nsp, sock in seen.of("connect")}
    assert connects["/"].id == engine_id
    assert connects["/chat"].id == "/chat#" + engine_id
    assert connects["/"].handshake.query["EIO"] == "3"
    assert run.events("welcome") == [[{"id": engine_id, "auth": {}}]]
    # acks both ways, non-ASCII intact
    assert run.acks("echo") == [1, TEXT, {"a": [TEXT]}]
    assert run.events("question") == [[TEXT]]
    assert seen.of("reply") == [(("yes", TEXT),)]
    assert run.acks("ask") == ["answer", ["yes", TEXT]]
    assert run.acks("msg", "c") == ["recv " + TEXT]
    assert run.acks("msg2", "c") == ["recv still here"]
    # an unknown namespace: an ERROR packet
    assert run.one("error", sock="x")["data"] == "Invalid namespace"  # as socket.io 2.x sends it
    # from the server: non-ASCII, binary
    assert run.events("news") == [[TEXT]]
    assert run.events("item") == [[i, {"i": i, "bin": b(bytes([i]))} if i % 3 == 0 else "é✓" * i] for i in range(4)]
    assert len(run.of("pong")) >= 2
    # disconnects both ways
    assert ("/chat", "client namespace disconnect", "/chat#" + engine_id) in seen.of("disconnect")
    assert run.one("disconnect", sock="s")["reason"] == "io server disconnect"
    await seen.wait("disconnect", 2)
    assert ("/", "server namespace disconnect", engine_id) in seen.of("disconnect")


# ---------------------------------------------------------------------- binary


@pytest.mark.parametrize("client", ["2.5.0", "1.7.4"])
async def test_binary_both_ways(start_server: Any, client: str, mode: str) -> None:
    """Verify binary attachments both ways, at depth, in events and acks.

    (socket.io-client 1.2.0 cannot send binary from a modern Node: its engine.io-parser
    1.1 encodes ``Buffer.buffer``, the whole 8 KiB allocation pool, as zeros.  It is
    tested in the browser.)"""
    sio, seen = server()
    url = await start_server(sio)
    blob = bytes(range(256)) * 12
    nested = {"a": [1, b(b"\x00\x01\x02"), {"deep": [[b(blob)]]}], "t": TEXT}
    run = await drive(
        url,
        client,
        mode,
        [
            {"op": "connect"},
            {"op": "emit", "event": "inspect", "args": [nested, b(b"\xff")], "ack": True},
            {"op": "emit", "event": "ask", "args": [{"x": [b(b"\x07\x08")]}, b(blob)], "ack": True},
        ],
    )
    ((args,),) = seen.of("inspect")
    assert args == ({"a": [1, b"\x00\x01\x02", {"deep": [[blob]]}], "t": TEXT}, b"\xff")
    assert run.acks("inspect") == [nested, b(b"\xff")]
    assert run.events("question") == [[{"x": [b(b"\x07\x08")]}, b(blob)]]
    assert seen.of("reply") == [(({"x": [b"\x07\x08"]}, blob),)]
    assert run.acks("ask") == ["answer", [{"x": [b(b"\x07\x08")]}, b(blob)]]


# ---------------------------------------------------------------------- namespace queries and refusals


async def test_namespace_query_and_refusal(start_server: Any, mode: str) -> None:
    """Verify socket.io-client 2.x's namespace query (the handshake auth, as in Node) and a
    refusal carrying data (an ERROR packet with the data)."""
    sio, seen = server()
    url = await start_server(sio)
    run = await drive(
        url,
        "2.5.0",
        mode,
        [
            {"op": "connect"},
            {"op": "connect", "sock": "r", "nsp": "/chat", "query": {"refuse_chat": "1"}, "expect": "error"},
            {"op": "connect", "sock": "c", "manager": "m2", "nsp": "/chat", "query": {"token": "abc", "x": TEXT}},
            {"op": "emit", "sock": "c", "event": "msg", "args": ["hi"], "ack": True},
            # the client closes the whole connection
            {"op": "close", "manager": "m2"},
            {"op": "wait", "t": "close", "manager": "m2"},
            {"op": "sleep", "ms": 200},  # over polling the CLOSE packet leaves in a POST
        ],
    )
    assert run.one("error", sock="r")["data"] == {"code": 2, "why": ["full"]}
    chat = [sock for nsp, sock in seen.of("connect") if nsp == "/chat"]
    assert len(chat) == 1 and chat[0].handshake.auth == {"token": "abc", "x": TEXT}
    assert run.acks("msg", "c") == ["recv hi"]
    # m2's "/" and "/chat", and m's "/" when the process exits
    await seen.wait("disconnect", 3)
    assert ("/chat", "transport close", chat[0].id) in seen.of("disconnect")
