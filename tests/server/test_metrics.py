"""The ``metrics`` option: ``/metrics`` read with Prometheus's own text parser
(``prometheus_client.parser``) while real clients (python-socketio, socket.io-client 4.x
through tests/node/driver.mjs) connect, emit, get broadcasts and are refused; the counts
must be what they did.

The scrapes are raw HTTP requests on a TCP connection of their own, so the test knows
the exact bytes each request and answer took (the counters include them: a scrape's
request is counted before its answer is rendered, its answer in the next scrape).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import socketio as psio
from prometheus_client.parser import text_string_to_metric_families

import fastsio
from _net import stalled_ws
from _nodedriver import node_marks, run_driver

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
DRIVER = NODE_DIR / "driver.mjs"


class Scrape:
    """One parsed exposition: ``value(name, **labels)`` of a sample."""

    def __init__(self, text: str, request_bytes: int, response_bytes: int) -> None:
        self.text = text
        self.request_bytes = request_bytes
        self.response_bytes = response_bytes
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, sample: str, **labels: str) -> float:
        for family in self.families.values():
            for s in family.samples:
                if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        raise KeyError((sample, labels))

    def get(self, sample: str, default: float = 0.0, **labels: str) -> float:
        try:
            return self.value(sample, **labels)
        except KeyError:
            return default


async def http(url: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes, int, int]:
    """One raw HTTP/1.1 request on a new connection: (status, headers, body, bytes sent,
    bytes received)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    writer.write(request)
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body, len(request), len(raw)


async def scrape(url: str, path: str = "/metrics") -> Scrape:
    status, headers, body, sent, received = await http(url, path)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(body.decode(), sent, received)


async def until(check: Any, what: str) -> None:
    """Wait (a bounded number of loop turns, not a time) until ``check()`` is true."""
    for _ in range(2000):
        if await check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


def test_the_option() -> None:
    """Verify ``metrics``: off by default, ``True`` is ``/metrics``, a path is kept, and a
    path inside the Engine.IO path or not a path is refused."""
    assert fastsio.Server().options.metrics is None
    assert fastsio.Server(metrics=False).options.metrics is None
    assert fastsio.Server(metrics=True).options.metrics == "/metrics"
    assert fastsio.Server(metrics="/ops/prom").options.metrics == "/ops/prom"
    assert fastsio.Server().engine.metrics is None
    for bad in ("metrics", "/socket.io/metrics", "/"):
        with pytest.raises(ValueError):
            fastsio.Server(metrics=bad)
    with pytest.raises(TypeError):
        fastsio.Server(metrics=3)


async def test_off_serves_nothing(start_server: Any) -> None:
    """Verify that without the option ``/metrics`` is an ordinary unknown path (404)."""
    url = await start_server(fastsio.Server())
    status, _, _, _, _ = await http(url, "/metrics")
    assert status == 404


async def test_counts_match_python_clients(start_server: Any) -> None:
    """Verify the counts against what python-socketio clients did over WebSocket: N
    handshakes and sockets, N*(1+K) packets in (CONNECT and K events), N*(2+K) out (OPEN,
    the CONNECT reply, K acks) plus a broadcast's N copies, the broadcast summary, the
    exact bytes a broadcast and a scrape add, and the disconnections once they leave."""
    n, k = 4, 3
    sio = fastsio.Server(metrics=True)

    @sio.on("echo")
    def echo(sock: fastsio.Socket, data: Any) -> Any:
        return data

    url = await start_server(sio)
    clients = [psio.AsyncClient(reconnection=False) for _ in range(n)]
    ticks: asyncio.Queue[Any] = asyncio.Queue()
    for c in clients:
        c.on("tick", ticks.put_nowait)
        await c.connect(url, transports=["websocket"])
    for c in clients:
        for i in range(k):
            assert await c.call("echo", i) == i
    first = await scrape(url)
    assert first.value("fastsio_connections", transport="websocket", eio="4") == n
    assert first.value("fastsio_connections", transport="polling", eio="4") == 0
    assert first.value("fastsio_handshakes_total", transport="websocket", eio="4") == n
    assert first.value("fastsio_sockets", namespace="/") == n
    assert first.value("fastsio_connects_total", namespace="/", result="accepted") == n
    assert first.value("fastsio_packets_received_total") == n * (1 + k)
    assert first.value("fastsio_packets_sent_total") == n * (2 + k)
    assert first.value("fastsio_broadcast_recipients_count") == 0
    assert first.value("fastsio_info", build="pure" if fastsio.speedups["fanout"] == "python" else "compiled") == 1
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert first.value(name) > 0

    payload = "x" * 100
    assert sio.emit("tick", payload) == n
    for _ in range(n):
        assert await ticks.get() == payload
    second = await scrape(url)
    frame = len(b'42["tick","' + payload.encode() + b'"]') + 2  # a 2-byte header: under 126 bytes
    assert second.value("fastsio_broadcast_recipients_count") == 1
    assert second.value("fastsio_broadcast_recipients_sum") == n
    assert second.value("fastsio_packets_sent_total") == n * (2 + k) + n
    # what happened in between: the first scrape's answer and the broadcast's frames went
    # out, the second scrape's request came in
    sent = second.value("fastsio_bytes_sent_total") - first.value("fastsio_bytes_sent_total")
    assert sent == first.response_bytes + n * frame
    received = second.value("fastsio_bytes_received_total") - first.value("fastsio_bytes_received_total")
    assert received == second.request_bytes
    assert second.value("fastsio_writes_total") - first.value("fastsio_writes_total") == 1 + n

    for c in clients:
        await c.disconnect()

    async def gone() -> bool:
        return (await scrape(url)).value("fastsio_connections", transport="websocket", eio="4") == 0

    await until(gone, "the clients' sessions closed")
    last = await scrape(url)
    assert sum(s.value for s in last.families["fastsio_disconnects"].samples) == n
    assert last.value("fastsio_sockets", namespace="/") == 0


async def test_refusals_by_reason(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify refused requests are counted by reason, each with one log line on
    ``fastsio.engine``, and a CONNECT refused by a middleware or to an unknown namespace
    is counted (one line on ``fastsio.socketio``)."""
    sio = fastsio.Server(metrics=True, cors_allowed_origins=["http://good.example"])

    @sio.use
    def gate(sock: fastsio.Socket, auth: Any) -> None:
        if auth.get("token") != "ok":
            raise fastsio.ConnectionRefused("bad token")

    url = await start_server(sio)
    await http(url, "/socket.io/?EIO=4&transport=polling&sid=nosuchsid")
    await http(url, "/socket.io/?EIO=4&transport=carrier-pigeon")
    await http(url, "/socket.io/?EIO=9&transport=polling")
    client = psio.AsyncClient(reconnection=False)
    with pytest.raises(psio.exceptions.ConnectionError):
        await client.connect(url, transports=["websocket"], auth={"token": "no"})
    await client.disconnect()
    if client.eio.http is not None:  # its aiohttp session, whatever state the refusal left it in
        await client.eio.http.close()
    m = await scrape(url)
    assert m.value("fastsio_refused_total", reason="unknown_sid") == 1
    assert m.value("fastsio_refused_total", reason="unknown_transport") == 1
    assert m.value("fastsio_refused_total", reason="unsupported_protocol_version") == 1
    assert m.value("fastsio_connects_total", namespace="/", result="refused") == 1
    engine = [r for r in logs.records if r.name == "fastsio.engine" and "refused" in r.getMessage()]
    # one line each (the unknown sid at DEBUG: every client of a restarted server sends one)
    assert len(engine) == 2, [r.getMessage() for r in engine]
    refused = [r for r in logs.records if r.name == "fastsio.socketio" and "CONNECT refused" in r.getMessage()]
    assert len(refused) == 1 and "bad token" in refused[0].getMessage()


async def test_ack_timeouts_counted(start_server: Any) -> None:
    """Verify an acknowledgement not received in time is counted (a socket's
    ``emit_with_ack`` with ``timeout``, to a client that answers only afterwards)."""
    sio = fastsio.Server(metrics=True)
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @sio.on("go")
    async def go(sock: fastsio.Socket) -> None:
        try:
            await sock.timeout(0.05).emit_with_ack("unanswered")
        except fastsio.AckTimeout as exc:
            outcome.set_result(exc)

    url = await start_server(sio)
    client = psio.AsyncClient(reconnection=False)
    release = asyncio.Event()

    async def unanswered() -> str:
        await release.wait()  # answers only once the server gave up (python-socketio always acks)
        return "late"

    client.on("unanswered", unanswered)
    await client.connect(url, transports=["websocket"])
    await client.emit("go")
    assert isinstance(await outcome, fastsio.AckTimeout)
    release.set()
    m = await scrape(url)
    assert m.value("fastsio_ack_timeouts_total") == 1
    await client.disconnect()


async def test_head_and_other_methods(start_server: Any) -> None:
    """Verify HEAD gets the headers and no body, POST 405, and a custom path is served."""
    url = await start_server(fastsio.Server(metrics="/ops/metrics"))
    status, headers, body, _, _ = await http(url, "/ops/metrics", "HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    status, headers, _, _, _ = await http(url, "/ops/metrics", "POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert (await http(url, "/metrics"))[0] == 404


@pytest.mark.parametrize("client", [pytest.param("socket.io-client", marks=node_marks(NODE_DIR))])
async def test_counts_match_node_client_upgrade(start_server: Any, client: str) -> None:
    """Verify the counts against socket.io-client 4.x (the npm package) connecting over
    polling and upgrading to WebSocket, emitting K events with acks: one polling
    handshake, one upgrade, the session then on WebSocket, K+1 packets in at least."""
    k = 3
    sio = fastsio.Server(metrics=True)

    @sio.on("echo")
    def echo(sock: fastsio.Socket, *args: Any) -> Any:
        return args

    url = await start_server(sio)
    seen: dict[str, Scrape] = {}

    async def on_sync(name: str) -> None:
        seen[name] = await scrape(url)

    steps: list[dict[str, Any]] = [{"op": "connect"}]
    steps += [{"op": "emit", "event": "echo", "args": [i], "ack": True, "tag": str(i)} for i in range(k)]
    steps += [{"op": "sync", "name": "connected"}, {"op": "disconnect"}]
    run = await run_driver(
        DRIVER,
        {"url": url, "options": {"transports": ["polling", "websocket"]}, "awaitUpgrade": True,
         "timeout": 8000, "steps": steps},
        8.0,
        on_sync,
    )
    assert run.returncode == 0, run
    assert len(run.of("ack")) == k
    m = seen["connected"]
    assert m.value("fastsio_handshakes_total", transport="polling", eio="4") == 1
    assert m.get("fastsio_handshakes_total", transport="websocket", eio="4") == 0
    assert m.value("fastsio_upgrades_total") == 1
    assert m.value("fastsio_connections", transport="websocket", eio="4") == 1
    assert m.value("fastsio_connects_total", namespace="/", result="accepted") == 1
    assert m.value("fastsio_packets_received_total") >= k + 1
    assert m.value("fastsio_packets_sent_total") >= k + 2


async def test_served_under_asgi(caplog: pytest.LogCaptureFixture) -> None:
    """Verify :class:`fastsio.ASGIApp` answers the metrics path itself (driven as an
    ASGI server would, after a python-socketio-free lifespan start)."""
    sio = fastsio.Server(metrics=True)
    app = fastsio.ASGIApp(sio)
    await sio.start_embedded()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/metrics", "raw_path": b"/metrics", "query_string": b"",
             "headers": [(b"host", b"test")], "client": ("127.0.0.1", 5000), "scheme": "http",
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    try:
        await app(scope, receive, send)
    finally:
        await sio.stop()
    assert sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    families = {f.name for f in text_string_to_metric_families(body)}
    assert {"fastsio_connections", "fastsio_handshakes", "fastsio_sockets"} <= families
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_slow_consumer_dropped_packets_and_buffers(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify ``slow_consumer="drop"``: while a WebSocket client does not read, the send
    buffer gauges show it over ``max_buffer_size`` and congested; afterwards the dropped
    packets are exactly the broadcasts it did not get, and the packets sent the others."""
    total = 5000  # 10 MB: more than the kernel buffers take (as tests/server/test_reliability.py)
    sio = fastsio.Server(ping_interval=30, slow_consumer="drop", metrics=True)
    url = await start_server(sio)
    ws, sock = await stalled_ws(url)
    try:
        blob = b"\xab" * 2000
        for i in range(total):
            sio.emit("b", i, blob)
            if i % 500 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        during = await scrape(url)
        assert during.value("fastsio_congested_connections") == 1
        assert during.value("fastsio_send_buffer_max_bytes") > sio.options.max_buffer_size
        assert during.value("fastsio_send_buffer_bytes") >= during.value("fastsio_send_buffer_max_bytes")
        assert during.value("fastsio_dropped_packets_total") > 0
        # read everything it was sent, until a marker sent once it drained
        seen = 0
        sent_after = False
        while True:
            if not sent_after and any("drained" in r.getMessage() for r in logs.records):
                sio.emit("after")
                sent_after = True
            msg = await ws.recv()
            if msg == '42["after"]':
                break
            assert isinstance(msg, str) and msg.startswith('451-["b",'), msg
            assert await ws.recv() == blob
            seen += 1
        after = await scrape(url)
        assert 0 < seen < total
        assert after.value("fastsio_dropped_packets_total") == total - seen
        # OPEN, the CONNECT reply, two packets (text, attachment) per broadcast it got, "after"
        assert after.value("fastsio_packets_sent_total") == 2 + 2 * seen + 1
        assert after.value("fastsio_broadcast_recipients_count") == total + 1
        assert after.get("fastsio_disconnects_total", reason="send buffer full") == 0
    finally:
        ws.close()
        sock.close()


async def test_slow_consumer_disconnected_counted(start_server: Any) -> None:
    """Verify the default ``slow_consumer="disconnect"``: a WebSocket client that does not
    read is disconnected ("send buffer full"), counted by that reason."""
    sio = fastsio.Server(ping_interval=30, metrics=True)
    url = await start_server(sio)
    ws, sock = await stalled_ws(url)
    try:
        blob = b"\xab" * 2000
        i = 0
        while sio.of("/").sockets and i < 20000:
            sio.emit("b", i, blob)
            i += 1
            if i % 500 == 0:
                await asyncio.sleep(0)
        assert not sio.of("/").sockets

        async def counted() -> bool:
            return (await scrape(url)).get("fastsio_disconnects_total", reason="send buffer full") == 1

        await until(counted, "the slow consumer's disconnection counted")
    finally:
        ws.close()
        sock.close()


LEGACY_DIR = Path(__file__).resolve().parents[1] / "legacy"


@pytest.mark.parametrize(
    "client", [pytest.param("sioc25", marks=node_marks(LEGACY_DIR, "sioc25", "run `npm ci` in tests/legacy"))]
)
async def test_eio3_clients_counted_by_version(start_server: Any, client: str) -> None:
    """Verify an Engine.IO v3 client (the npm socket.io-client 2.5.0, ``allow_eio3``) is
    counted under ``eio="3"``: its handshake, its open session while connected, its
    CONNECT; an EIO4 label stays at 0."""
    sio = fastsio.Server(metrics=True, allow_eio3=True)

    @sio.on("echo")
    def echo(sock: fastsio.Socket, *args: Any) -> Any:
        return args

    url = await start_server(sio)
    seen: dict[str, Scrape] = {}

    async def on_sync(name: str) -> None:
        seen[name] = await scrape(url)

    steps = [
        {"op": "connect"},
        {"op": "emit", "event": "echo", "args": [1], "ack": True, "tag": "e"},
        {"op": "sync", "name": "connected"},
        {"op": "disconnect"},
    ]
    run = await run_driver(
        LEGACY_DIR / "driver.cjs",
        {"client": client, "url": url, "options": {"transports": ["websocket"]}, "timeout": 8000, "steps": steps},
        8.0,
        on_sync,
    )
    assert run.returncode == 0, run
    m = seen["connected"]
    assert m.value("fastsio_handshakes_total", transport="websocket", eio="3") == 1
    assert m.value("fastsio_connections", transport="websocket", eio="3") == 1
    assert m.value("fastsio_connections", transport="websocket", eio="4") == 0
    assert m.value("fastsio_connects_total", namespace="/", result="accepted") == 1
