"""TLS (``start(ssl_context=...)``) with real clients that verify the certificate.

The test makes its own small PKI with the ``openssl`` command: a CA, and a server
certificate it signs for ``localhost``, ``127.0.0.1`` and ``::1``.  Clients trust that
CA the proper way -- socket.io-client 4.8 in Node (tests/node/driver.mjs) through its
``ca`` option, python-socketio through an aiohttp session whose SSL context loads the
CA -- never by turning verification off; a Node client without the CA must be refused.
Each transport: ``wss://`` only, ``https://`` polling only, and polling then the
upgrade to ``wss://``; permessage-deflate over TLS; and bad clients (plain HTTP to
the TLS port, a TLS handshake that stalls): closed and logged, while a client beside
them carries on.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import socketio

import fastsio
from _nodedriver import TESTS, Run, node_marks, run_driver
from _pki import OPENSSL, Pki, make_pki

NODE_DIR = TESTS / "node"
# asyncio's TLS and uvloop's are different code: both are tested
pytestmark = pytest.mark.both_loops

TRANSPORTS = [
    pytest.param(["websocket"], id="wss"),
    pytest.param(["polling"], id="https-polling"),
    pytest.param(["polling", "websocket"], id="upgrade"),
]
# about 20 KB that deflate shrinks well
BIG = "compress me " + " ".join(str(i * 7919 % 100003) for i in range(3000))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA and a server certificate for localhost, 127.0.0.1 and ::1, made by openssl."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    return make_pki(tmp_path_factory.mktemp("pki"))


class App:
    """A TLS server: ``echo`` acknowledges its arguments, ``ask`` makes the server emit
    ``news`` to the asking socket; what its sockets were served over is recorded."""

    def __init__(self, **options: Any) -> None:
        self.sio = sio = fastsio.Server(shutdown_timeout=0.5, **options)
        self.secure: list[bool] = []
        self.deflated: list[bool] = []

        @sio.on("connect")
        def connect(sock: fastsio.Socket, auth: Any) -> None:
            self.secure.append(sock.handshake.secure)

        @sio.on("echo")
        def echo(sock: fastsio.Socket, *args: Any) -> Any:
            ws = sock.session.ws
            self.deflated.append(ws is not None and ws.deflate is not None)
            return args

        @sio.on("ask")
        def ask(sock: fastsio.Socket, what: Any) -> None:
            sock.emit("news", what, BIG)

    @property
    def port(self) -> int:
        assert self.sio.address is not None
        return self.sio.address[1]


@pytest.fixture
async def served(pki: Pki) -> AsyncIterator[Any]:
    """``await served(**options)``: a started TLS :class:`App` on 127.0.0.1."""
    apps: list[App] = []

    async def start(**options: Any) -> App:
        app = App(**options)
        await app.sio.start("127.0.0.1", 0, ssl_context=pki.server_context())
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.sio.stop()


async def node(url: str, options: dict[str, Any], steps: list[dict[str, Any]], upgrade: bool = False) -> Run:
    scenario = {"url": url, "options": options, "awaitUpgrade": upgrade, "timeout": 15000, "steps": steps}
    return await run_driver(NODE_DIR / "driver.mjs", scenario, 15)


EXCHANGE = [
    {"op": "connect"},
    {"op": "emit", "event": "echo", "args": [1, "two", BIG], "ack": True, "tag": "echo"},
    {"op": "emit", "event": "ask", "args": ["tls?"]},
    {"op": "wait", "t": "event", "event": "news"},
]


def check_exchange(run: Run) -> None:
    assert run.returncode == 0 and run.of("done"), run
    assert run.one("ack", tag="echo")["args"] == [1, "two", BIG]
    assert run.events("news") == [["tls?", BIG]]


@pytest.mark.parametrize("transports", TRANSPORTS)
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.node
async def test_node_client_over_tls(served: Any, pki: Pki, transports: list[str], host: str) -> None:
    """Verify socket.io-client 4.8 in Node, trusting the test CA (``ca``), over
    ``wss://``, ``https://`` polling, and polling then the upgrade: connect, an acked
    event and a server emit both ways (20 KB each), the server sees a secure
    handshake."""
    _need_node()
    app = await served()
    upgrade = len(transports) > 1
    run = await node(
        f"https://{host}:{app.port}",
        {"transports": transports, "ca": pki.ca.read_text()},
        EXCHANGE,
        upgrade=upgrade,
    )
    check_exchange(run)
    assert run.one("open")["transport"] == transports[0]
    if upgrade:
        assert run.one("upgrade")["transport"] == "websocket"
    assert app.secure == [True]


@pytest.mark.node
async def test_node_client_without_the_ca_is_refused(served: Any, pki: Pki) -> None:
    """Verify the Node client does check the certificate: without the CA it cannot
    connect (so the tests above trust it for real); the server logs the failed
    handshake, and a client with the CA connects beside it."""
    _need_node()
    app = await served(tls_handshake_timeout=0.5)
    url = f"https://localhost:{app.port}"
    run = await node(url, {"transports": ["websocket"]}, [{"op": "connect", "expect": "connect_error"}])
    assert run.returncode == 0, run
    assert app.secure == []
    check_exchange(await node(url, {"transports": ["websocket"], "ca": pki.ca.read_text()}, EXCHANGE))


@pytest.mark.node
async def test_node_client_permessage_deflate_over_tls(served: Any, pki: Pki) -> None:
    """Verify permessage-deflate over ``wss://`` (engine.io-client offers it by
    default): negotiated, and the large packets arrive whole both ways."""
    _need_node()
    app = await served(per_message_deflate=True)
    run = await node(
        f"https://localhost:{app.port}", {"transports": ["websocket"], "ca": pki.ca.read_text()}, EXCHANGE
    )
    check_exchange(run)
    assert app.deflated == [True]


@pytest.mark.parametrize("transports", TRANSPORTS)
async def test_python_client_over_tls(served: Any, pki: Pki, transports: list[str]) -> None:
    """Verify python-socketio's AsyncClient over TLS, its aiohttp session trusting the
    test CA: connect, an acked call and a server emit, on each transport (and with
    permessage-deflate on the server)."""
    app = await served(per_message_deflate=True)
    news: asyncio.Queue[Any] = asyncio.Queue()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context()))
    client = socketio.AsyncClient(reconnection=False, http_session=http)
    client.on("news", lambda *args: news.put_nowait(list(args)))
    try:
        await client.connect(f"https://localhost:{app.port}", transports=transports, wait_timeout=10)
        if len(transports) > 1:
            for _ in range(500):
                if client.transport() == "websocket":
                    break
                await asyncio.sleep(0.01)
            assert client.transport() == "websocket"
        assert await client.call("echo", [1, "two", BIG], timeout=10) == [1, "two", BIG]
        await client.emit("ask", "py?")
        assert await asyncio.wait_for(news.get(), 10) == ["py?", BIG]
    finally:
        await client.disconnect()
        await http.close()
    assert app.secure == [True]


async def test_bad_clients_are_logged_and_nobody_else_disturbed(
    served: Any, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify plain HTTP to the TLS port and a TLS handshake that stalls (a TCP
    connection that sends half a ClientHello, then nothing) are closed and logged,
    while a python-socketio client connected over TLS keeps exchanging acked calls."""
    caplog.set_level(logging.INFO, logger="fastsio")
    app = await served(tls_handshake_timeout=0.5)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context()))
    good = socketio.AsyncClient(reconnection=False, http_session=http)
    try:
        await good.connect(f"https://localhost:{app.port}", transports=["websocket"], wait_timeout=10)
        plain_r, plain_w = await asyncio.open_connection("127.0.0.1", app.port)
        plain_w.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
        stall_r, stall_w = await asyncio.open_connection("127.0.0.1", app.port)
        stall_w.write(b"\x16\x03\x01\x02\x00\x01\x00")  # the start of a ClientHello
        assert await good.call("echo", "beside", timeout=10) == "beside"
        # the plain HTTP client gets no HTTP answer: its connection is closed
        answer = await asyncio.wait_for(plain_r.read(), 10)
        assert not answer.startswith(b"HTTP/"), answer
        # the stalled handshake is cut at tls_handshake_timeout
        assert await asyncio.wait_for(stall_r.read(), 10) == b""
        for i in range(5):
            assert await good.call("echo", i, timeout=10) == i
        for _ in range(300):
            if "a TLS handshake did not complete" in caplog.text:
                break
            await asyncio.sleep(0.01)
        plain_w.close()
        stall_w.close()
    finally:
        await good.disconnect()
        await http.close()
    lines = [r.getMessage() for r in caplog.records if "a TLS handshake did not complete" in r.getMessage()]
    assert lines, caplog.text
    assert "(1 so far)" in lines[0] or "(2 so far)" in lines[0]
    assert app.secure == [True]


def _need_node() -> None:
    for mark in node_marks(NODE_DIR):
        if mark.name == "skipif" and mark.args[0]:
            pytest.skip(mark.kwargs["reason"])


RUN_APP = """
import sys
import fastsio

sio = fastsio.Server()
sio.on("echo", lambda sock, *args: args)
sio.run("127.0.0.1", int(sys.argv[1]), certfile=sys.argv[2], keyfile=sys.argv[3])
"""


async def test_run_with_certfile_and_keyfile(pki: Pki, tmp_path: Path) -> None:
    """Verify ``run(certfile=, keyfile=)``: a process serving TLS that a
    python-socketio client trusting the CA talks to over polling then WebSocket; it says
    https when it starts and exits 0 on SIGTERM."""
    import signal
    import socket as socket_
    import sys

    (tmp_path / "app.py").write_text(RUN_APP, encoding="utf-8")
    with socket_.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(tmp_path / "app.py"), str(port), str(pki.cert), str(pki.key),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert b"listening on https://127.0.0.1:" in line, line
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context()))
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        try:
            await client.connect(f"https://localhost:{port}", wait_timeout=10)
            assert await client.call("echo", "over tls", timeout=10) == "over tls"
        finally:
            await client.disconnect()
            await http.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
