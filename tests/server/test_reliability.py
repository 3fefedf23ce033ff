"""Regression tests of the reliability defects of issue 13 (part A), over real sockets.

Each test failed before its fix:

* the packets a client sends while its namespace connection is being set up are
  bounded (``max_connect_queue``, ``max_connect_queue_bytes``), and the connect
  timeout also covers a connect handler that never finishes (A1);
* every HTTP connection has a deadline, also a request trickled in behind a held
  long-poll (A2);
* a session is dead at its ping deadline, not a timer-wheel tick later (A6);
* an old client's scheme-less ``Origin`` equal to the Host is same-origin (A7);
* ``allowed_hosts`` refuses other Host headers (A9);
* a burst to healthy, fast-reading clients does not drop them as slow consumers:
  only what the transport holds counts against ``max_buffer_size`` (A8).
"""

from __future__ import annotations

import asyncio
import json
import socket as socketlib
import sys
from pathlib import Path
from typing import Any

import pytest

import fastsio
from fastsio.protocol.websocket import OP_TEXT, build_frame

from _net import Conn, WSConn, build_request, eio_path, eio_ws, hostport, polling_open, stalled_ws


def assert_logged(logs: pytest.LogCaptureFixture, needle: str) -> None:
    """Verify a fastsio log line contains ``needle``."""
    lines = [r.getMessage() for r in logs.records if r.name.startswith("fastsio")]
    assert any(needle in line for line in lines), (needle, lines)


class SlowConnect:
    """A Socket.IO server whose ``/slow`` namespace's connect handler waits for
    :attr:`release` (or forever), and whose ``/`` echoes with an ack."""

    def __init__(self, **options: Any) -> None:
        self.sio = fastsio.Server(**options)
        self.release = asyncio.Event()
        self.events: list[Any] = []
        slow = self.sio.of("/slow")

        @slow.on("connect")
        async def connect(socket: Any, auth: Any) -> None:
            await self.release.wait()

        @slow.on("ev")
        def ev(socket: Any, *args: Any) -> None:
            self.events.append(args)

        @self.sio.on("echo")
        def echo(socket: Any, *args: Any) -> Any:
            return args


async def good_round_trip(url: str) -> None:
    """Verify a well-behaved client connects to ``/`` and gets an ack."""
    ws, _ = await eio_ws(url, "/socket.io/")
    try:
        await ws.send_text("40")
        reply = await ws.recv()
        assert isinstance(reply, str) and reply.startswith("40"), reply
        await ws.send_text('421["echo","ok"]')
        assert await ws.recv() == '431["ok"]'
    finally:
        ws.close()


# ------------------------------------------------------------------ A1: the connect queue


async def test_packets_while_connecting_are_delivered_in_order(start_server: Any) -> None:
    """Verify packets within the bounds wait for the connect handler and arrive in order."""
    app = SlowConnect()
    url = await start_server(app.sio)
    ws, _ = await eio_ws(url, "/socket.io/")
    try:
        await ws.send_text("40/slow,")
        for i in range(10):
            await ws.send_text(f'42/slow,["ev",{i}]')
        await asyncio.sleep(0.05)
        assert app.events == []
        app.release.set()
        reply = await ws.recv()
        assert isinstance(reply, str) and reply.startswith("40/slow,"), reply
        for _ in range(50):
            if len(app.events) == 10:
                break
            await asyncio.sleep(0.01)
        assert app.events == [(i,) for i in range(10)]
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("options", "count", "size"),
    [
        pytest.param({"max_connect_queue": 5}, 6, 10, id="packets"),
        pytest.param({"max_connect_queue_bytes": 10_000}, 4, 4000, id="bytes"),
        pytest.param({}, 33, 10, id="default-packets"),
        pytest.param({}, 3, 400_000, id="default-bytes"),
    ],
)
async def test_connect_queue_is_bounded(
    start_server: Any, logs: pytest.LogCaptureFixture, options: dict[str, Any], count: int, size: int
) -> None:
    """Verify a client that floods a namespace whose connect handler is still running
    is closed once over the bound (logged), and another client is served meanwhile."""
    app = SlowConnect(**options)
    url = await start_server(app.sio)
    ws, _ = await eio_ws(url, "/socket.io/")
    try:
        await ws.send_text("40/slow,")
        payload = json.dumps("x" * size)
        for i in range(count):
            await ws.send_text(f'42/slow,["ev",{i},{payload}]')
        assert await ws.close_code() == 1000
    finally:
        ws.close()
    assert_logged(logs, "while connecting to '/slow'")
    await good_round_trip(url)
    app.release.set()
    await asyncio.sleep(0.01)
    assert app.events == []


async def test_connect_queue_counts_attachments(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify binary attachments count against max_connect_queue_bytes."""
    app = SlowConnect(max_connect_queue_bytes=10_000)
    url = await start_server(app.sio)
    ws, _ = await eio_ws(url, "/socket.io/")
    try:
        await ws.send_text("40/slow,")
        for i in range(3):
            await ws.send_text(f'452-/slow,["ev",{i},{{"_placeholder":true,"num":0}},{{"_placeholder":true,"num":1}}]')
            await ws.send_binary(b"\x00" * 2000)
            await ws.send_binary(b"\x00" * 2000)
        assert await ws.close_code() == 1000
    finally:
        ws.close()
    assert_logged(logs, "over max_connect_queue")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_timeout_covers_a_pending_connect_handler(
    start_server: Any, logs: pytest.LogCaptureFixture, transport: str
) -> None:
    """Verify a connection whose connect handler never finishes is closed at
    connect_timeout (it was kept open forever)."""
    app = SlowConnect(connect_timeout=0.3)
    url = await start_server(app.sio)
    if transport == "websocket":
        ws, _ = await eio_ws(url, "/socket.io/")
        try:
            await ws.send_text("40/slow,")
            assert await ws.close_code(timeout=3) == 1000
        finally:
            ws.close()
    else:
        conn = await Conn.open(url)
        try:
            sid = (await polling_open(conn, "/socket.io/"))["sid"]
            r = await conn.request("POST", eio_path("/socket.io/", sid=sid), b"40/slow,")
            assert r.status == 200
            r = await conn.request("GET", eio_path("/socket.io/", sid=sid))
            assert r.body == b"1"
        finally:
            conn.close()
    assert_logged(logs, "not connected in time")
    await good_round_trip(url)


# ------------------------------------------------------------------ A2: HTTP deadlines


async def test_request_behind_a_held_poll_has_a_deadline(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a request trickled in behind a held long-poll GET is closed once
    http_request_timeout has passed (its deadline fired while the poll was held and
    was never armed again: the connection stayed open for good)."""
    app = fastsio.EngineServer(http_request_timeout=0.3, ping_interval=20)
    url = await start_server(app)
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn))["sid"]
        await conn.send(build_request("GET", eio_path(sid=sid)))  # held: nothing to send
        await asyncio.sleep(0.05)
        await conn.send(b"GET /engine.io/?EIO=4&transport=polling&sid=" + sid.encode() + b" HTTP/1.1\r\nHost: a\r\n")
        assert await conn.eof(timeout=3)
    finally:
        conn.close()
    assert_logged(logs, "not complete in time")


# ------------------------------------------------------------------ A6: ping timeout on time


async def test_session_is_dead_at_its_ping_deadline(start_server: Any) -> None:
    """Verify, as the official engine.io suite's "closes the session upon ping
    timeout", that a GET arriving just after pingInterval + pingTimeout gets 400
    (sessions were still open a timer-wheel bucket later, about half the time)."""
    interval, timeout = 0.3, 0.2
    app = fastsio.EngineServer(ping_interval=interval, ping_timeout=timeout)
    url = await start_server(app)

    async def one() -> int:
        conn = await Conn.open(url)
        try:
            sid = (await polling_open(conn))["sid"]
            await asyncio.sleep(interval + timeout + 0.005)
            return (await conn.request("GET", eio_path(sid=sid))).status
        finally:
            conn.close()

    statuses = await asyncio.gather(*(one() for _ in range(20)))
    assert statuses == [400] * 20


# ------------------------------------------------------------------ A7 / A9: Origin and Host


def ws_upgrade(host: str, origin: str | None) -> bytes:
    """A WebSocket handshake for a new Engine.IO session, with these Host and Origin."""
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    if origin is not None:
        headers["Origin"] = origin
    return build_request("GET", eio_path(transport="websocket"), headers=headers, host=host)


async def status_of(url: str, request: bytes) -> int:
    """Send ``request`` on a new connection; the status code of the response."""
    conn = await Conn.open(url)
    try:
        await conn.send(request)
        line = await asyncio.wait_for(conn.reader.readline(), 3)
        return int(line.split(b" ", 2)[1])
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        pytest.param("localhost:{port}", "localhost:{port}", 101, id="schemeless-same-host"),
        pytest.param("localhost:{port}", "http://localhost:{port}", 101, id="same-origin"),
        pytest.param("localhost:{port}", "evil.example:{port}", 403, id="schemeless-other-host"),
        pytest.param("localhost:{port}", "localhost:1", 403, id="schemeless-other-port"),
        pytest.param("localhost:{port}", "https://localhost:{port}", 403, id="other-scheme"),
        pytest.param("localhost:{port}", "null", 403, id="null"),
        pytest.param("localhost:{port}", "https://example.com", 101, id="listed"),
    ],
)
async def test_websocket_origin(
    start_server: Any, logs: pytest.LogCaptureFixture, host: str, origin: str, status: int
) -> None:
    """Verify a scheme-less Origin equal to the Host (socket.io-client 1.x in Node) is
    same-origin with an origin list configured, and everything else is still refused."""
    app = fastsio.EngineServer(cors_allowed_origins=["https://example.com"])
    url = await start_server(app)
    port = hostport(url)[1]
    assert await status_of(url, ws_upgrade(host.format(port=port), origin.format(port=port))) == status
    if status == 403:
        assert_logged(logs, "origin")


HOSTS = ["localhost", ".example.com", "::1"]


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        pytest.param("localhost:{port}", True, id="listed-with-port"),
        pytest.param("LOCALHOST", True, id="case"),
        pytest.param("example.com:{port}", True, id="domain"),
        pytest.param("chat.example.com", True, id="subdomain"),
        pytest.param("[::1]:{port}", True, id="ipv6"),
        pytest.param("evil.example", False, id="rebinding"),
        pytest.param("evilexample.com", False, id="suffix-not-subdomain"),
        pytest.param("127.0.0.1:{port}", False, id="unlisted-address"),
        pytest.param("", False, id="empty"),
        pytest.param("[::1", False, id="broken-ipv6"),
    ],
)
@pytest.mark.parametrize("kind", ["polling", "websocket", "static"])
async def test_allowed_hosts(start_server: Any, logs: pytest.LogCaptureFixture, host: str, ok: bool, kind: str) -> None:
    """Verify allowed_hosts: a request for another Host gets 400 and a log line
    (an ``Origin`` equal to it, the DNS-rebinding shape, does not help), on every path."""
    app = fastsio.Server(allowed_hosts=HOSTS, static_files={"/": {"filename": __file__}})
    url = await start_server(app)
    host = host.format(port=hostport(url)[1])
    origin = f"http://{host}"
    if kind == "websocket":
        request = ws_upgrade(host, origin).replace(b"/engine.io/", b"/socket.io/")
    elif kind == "polling":
        request = build_request("GET", eio_path("/socket.io/", transport="polling"), headers={"Origin": origin}, host=host)
    else:
        request = build_request("GET", "/", host=host)
    status = await status_of(url, request)
    if ok:
        assert status == (101 if kind == "websocket" else 200)
    else:
        assert status == 400
        assert_logged(logs, "not in allowed_hosts")


# ------------------------------------------------------------------ A8: healthy clients are not slow consumers


async def test_burst_to_a_room_keeps_healthy_clients(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a handler emitting 10,000 packets of ~100 bytes to a room in one loop
    (about 1 MB per client in one iteration) keeps every client (each was dropped:
    "1000040 bytes waiting, over max_buffer_size"), and each gets every packet."""
    sio = fastsio.Server(ping_interval=30)
    count, clients = 10_000, 8

    @sio.on("burst")
    def burst(socket: Any) -> None:
        for i in range(count):
            sio.emit("t", "x" * 89)  # 101-byte frames: 1,010,000 bytes per client

    url = await start_server(sio)
    conns = [(await eio_ws(url, "/socket.io/"))[0] for _ in range(clients)]
    try:
        for ws in conns:
            await ws.send_text("40")
            reply = await ws.recv()
            assert isinstance(reply, str) and reply.startswith("40"), reply
        await conns[0].send_text('42["burst"]')
        expected = '42["t","' + "x" * 89 + '"]'
        for ws in conns:
            for _ in range(count):
                assert await ws.recv() == expected
    finally:
        for ws in conns:
            ws.close()
    lines = [r.getMessage() for r in logs.records]
    assert not any("max_buffer_size" in line for line in lines), lines


async def test_fast_reader_gets_20_mb_and_a_stopped_reader_is_dropped(
    start_server: Any, logs: pytest.LogCaptureFixture
) -> None:
    """Verify a fast client in another process receives a 20 MB burst (1 MB per loop
    iteration) without being dropped, while a client that stopped reading is dropped
    as a slow consumer (disconnect reason "send buffer full"), and the server carries
    on."""
    sio = fastsio.Server(ping_interval=30)
    reasons: list[str] = []
    data = "y" * 1000
    rounds, per_round = 20, 1000
    done = asyncio.Event()

    @sio.on("disconnect")
    def gone(socket: Any, reason: str) -> None:
        reasons.append(reason)

    @sio.on("echo")
    def echo(socket: Any, *args: Any) -> Any:
        return args

    async def burst() -> None:
        for _ in range(rounds):
            for _ in range(per_round):
                sio.emit("t", data)
            await asyncio.sleep(0.005)
        done.set()

    url = await start_server(sio)
    host, port = hostport(url)
    frame_size = len(build_frame(OP_TEXT, "4" + sio.parser.encode_event("/", "t", (data,))[0]))
    expected = frame_size * rounds * per_round
    reader = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("_ws_reader.py")),
        host,
        str(port),
        str(expected),
        stdout=asyncio.subprocess.PIPE,
    )
    assert reader.stdout is not None
    stalled: socketlib.socket | None = None
    try:
        assert (await asyncio.wait_for(reader.stdout.readline(), 10)).strip() == b"ready"
        _, stalled = await stalled_ws(url)
        # from here on the stalled client reads nothing
        await burst()
        got = int((await asyncio.wait_for(reader.stdout.readline(), 60)).strip())
        assert got == expected
        assert await asyncio.wait_for(reader.wait(), 10) == 0
    finally:
        if reader.returncode is None:
            reader.kill()
            await reader.wait()
        if stalled is not None:
            stalled.close()
    # the stalled client dropped; the reader's own close ("transport close") may follow
    assert reasons[:1] == ["send buffer full"] and reasons.count("send buffer full") == 1, reasons
    assert_logged(logs, "over max_buffer_size")
    await good_round_trip(url)


# ------------------------------------------------------------------ A5: nothing lost at shutdown


@pytest.mark.parametrize("keep_alive", [True, False], ids=["keep-alive", "new-connections"])
async def test_stop_gives_polling_clients_what_they_are_owed(start_server: Any, keep_alive: bool) -> None:
    """Verify stop() lets a polling client with packets queued and no GET pending take
    them (5 events and an ack) with its next GET, and the CLOSE packet with the one
    after, on the same connection or a new one (they were lost: the connections were
    closed one loop iteration after the sessions, and listening had stopped)."""
    sio = fastsio.Server(ping_interval=30)

    @sio.on("ask")
    def ask(socket: Any, n: int) -> Any:
        for i in range(n):
            socket.emit("ev", i)
        return "done"

    url = await start_server(sio)
    path = "/socket.io/"
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn, path))["sid"]
        assert (await conn.request("POST", eio_path(path, sid=sid), b"40")).status == 200
        assert (await conn.request("GET", eio_path(path, sid=sid))).body.startswith(b"40")
        assert (await conn.request("POST", eio_path(path, sid=sid), b'421["ask",5]')).status == 200
        stopping = asyncio.ensure_future(sio.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # waiting for this client
        if not keep_alive:
            conn.close()
            conn = await Conn.open(url)
        got = (await conn.request("GET", eio_path(path, sid=sid))).body.split(b"\x1e")
        assert got == [b'42["ev",%d]' % i for i in range(5)] + [b'431["done"]']
        if not keep_alive:
            conn.close()
            conn = await Conn.open(url)
        assert (await conn.request("GET", eio_path(path, sid=sid))).body == b"1"
        await asyncio.wait_for(stopping, 3)
    finally:
        conn.close()


async def test_stop_waits_for_a_polling_client_owed_only_the_close_packet(start_server: Any) -> None:
    """Verify stop() waits for a polling client with nothing queued and no GET pending
    (between two GETs) to come for its CLOSE packet: without it the client's next GET
    found the server gone, or the session forgotten (400), and socket.io-client
    reported "transport error" instead of "transport close"."""
    sio = fastsio.Server(ping_interval=30)
    url = await start_server(sio)
    path = "/socket.io/"
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn, path))["sid"]
        assert (await conn.request("POST", eio_path(path, sid=sid), b"40")).status == 200
        assert (await conn.request("GET", eio_path(path, sid=sid))).body.startswith(b"40")
        stopping = asyncio.ensure_future(sio.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # waiting for this client
        assert (await conn.request("GET", eio_path(path, sid=sid))).body == b"1"
        await asyncio.wait_for(stopping, 3)
    finally:
        conn.close()


async def test_stop_refuses_new_sessions_and_gives_up_after_shutdown_timeout(
    start_server: Any, logs: pytest.LogCaptureFixture
) -> None:
    """Verify that while stop() waits, a new handshake gets 503, and a client that
    never comes back is given up after shutdown_timeout (logged)."""
    sio = fastsio.Server(ping_interval=30, shutdown_timeout=0.3)

    @sio.on("ask")
    def ask(socket: Any) -> Any:
        return "done"

    url = await start_server(sio)
    path = "/socket.io/"
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn, path))["sid"]
        assert (await conn.request("POST", eio_path(path, sid=sid), b"40")).status == 200
        assert (await conn.request("GET", eio_path(path, sid=sid))).body.startswith(b"40")
        assert (await conn.request("POST", eio_path(path, sid=sid), b'421["ask"]')).status == 200
        stopping = asyncio.ensure_future(sio.stop())
        await asyncio.sleep(0.05)
        other = await Conn.open(url)
        try:
            r = await other.request("GET", eio_path(path, transport="polling"))
            assert r.status == 503 and b"Server shutting down" in r.body
        finally:
            other.close()
        await asyncio.wait_for(stopping, 3)
    finally:
        conn.close()
    assert_logged(logs, "did not come for what they were owed")


# ------------------------------------------------------------------ A8: the slow-consumer policy


async def test_drop_policy_keeps_a_slow_websocket_and_drops_whole_packets(
    start_server: Any, logs: pytest.LogCaptureFixture
) -> None:
    """Verify slow_consumer="drop": a WebSocket client that stops reading while 10 MB of
    binary events are sent to it stays connected, loses whole packets only (every
    placeholder text frame is followed by its attachment), is logged once, and gets
    what is sent after it drained."""
    sio = fastsio.Server(ping_interval=30, slow_consumer="drop")
    reasons: list[str] = []

    @sio.on("disconnect")
    def gone(socket: Any, reason: str) -> None:
        reasons.append(reason)

    url = await start_server(sio)
    ws, sock = await stalled_ws(url)
    try:
        blob = b"\xab" * 2000
        for i in range(5000):
            sio.emit("b", i, blob)
            if i % 500 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.1)
        assert reasons == []
        assert_logged(logs, "dropping what is sent to it until it drains")
        # read the backlog: whole packets only, in order; once the server says the
        # connection drained, what it sends arrives again
        seen: list[int] = []
        sent_after = False
        while True:
            if not sent_after and any("drained" in r.getMessage() for r in logs.records):
                sio.emit("after")
                sent_after = True
            msg = await ws.recv()
            if msg == '42["after"]':
                break
            assert isinstance(msg, str) and msg.startswith('451-["b",'), msg
            seen.append(json.loads(msg[4:])[1])
            assert await ws.recv() == blob  # its attachment, right behind it
        assert sent_after
        assert seen == sorted(seen) and 0 < len(seen) < 5000, len(seen)
        assert reasons == []
    finally:
        ws.close()
        sock.close()


async def test_drop_policy_keeps_a_slow_polling_client(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify slow_consumer="drop" over long-polling: packets past max_buffer_size
    queued for the next GET are dropped whole (the session stays open, logged once),
    the GET gets the first ones in order, and later packets go again."""
    sio = fastsio.Server(ping_interval=30, slow_consumer="drop", max_buffer_size=10_000)
    url = await start_server(sio)
    path = "/socket.io/"
    conn = await Conn.open(url)
    try:
        sid = (await polling_open(conn, path))["sid"]
        assert (await conn.request("POST", eio_path(path, sid=sid), b"40")).status == 200
        assert (await conn.request("GET", eio_path(path, sid=sid))).body.startswith(b"40")
        for i in range(100):
            sio.emit("e", i, "z" * 500)
        body = (await conn.request("GET", eio_path(path, sid=sid))).body
        packets = body.split(b"\x1e")
        numbers = [json.loads(p[2:])[1] for p in packets]
        assert numbers == list(range(len(numbers))) and 10 <= len(numbers) < 100, len(numbers)
        assert len(body) < 10_000 + 600
        assert_logged(logs, "dropping what is sent to it until it polls")
        sio.emit("after")
        assert (await conn.request("GET", eio_path(path, sid=sid))).body == b'42["after"]'
    finally:
        conn.close()
