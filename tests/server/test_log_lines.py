"""The server's loggers: one hierarchy under the server's logger (``fastsio`` or the
``logger`` option), one clear line per refused connection and protocol error, and the
start-up line.  Real servers, raw WebSocket and HTTP clients (tests/server/_net.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import fastsio
from _net import WSConn, eio_path, eio_ws, frame, raw_exchange, sio_ws


def test_the_hierarchy() -> None:
    """Verify each layer logs to its child of the server's logger (the default
    ``fastsio``, or the ``logger`` option's), and nothing else."""
    for base, sio in (
        ("fastsio", fastsio.Server()),
        ("tests.mine", fastsio.Server(logger=logging.getLogger("tests.mine"))),
    ):
        assert sio.log.name == base
        assert sio.engine.log.name == f"{base}.engine"
        assert sio.engine.server_log.name == f"{base}.server"
        assert sio.socketio_log.name == f"{base}.socketio"
        ns = sio.of("/chat")
        assert ns.log.name == f"{base}.socketio"
        assert ns.adapter_log.name == f"{base}.adapter"
        assert sio.instrument(auth=False).log.name == f"{base}.admin"


async def test_start_line(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify the one INFO line at start, on ``fastsio.server``."""
    sio = fastsio.Server()
    await start_server(sio)
    host, port = sio.address
    build = "pure" if fastsio.speedups["fanout"] == "python" else "compiled"
    lines = [r for r in logs.records if "listening on" in r.getMessage()]
    assert [(r.name, r.levelno, r.getMessage()) for r in lines] == [
        ("fastsio.server", logging.INFO,
         f"fastsio {fastsio.__version__} ({build}) listening on http://{host}:{port}/socket.io/"),
    ]


async def test_one_line_per_refusal_and_protocol_error(start_server: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify one line each: a handshake refused (bad protocol version), a WebSocket
    protocol error (an unmasked client frame), an invalid Engine.IO packet, a Socket.IO
    packet that does not parse, and a CONNECT to an unknown namespace; each on its layer's
    logger, none above INFO."""
    sio = fastsio.Server()
    url = await start_server(sio)
    marks = len(logs.records)
    await raw_exchange(url, f"GET {eio_path('/socket.io/', transport='polling', EIO='9')} HTTP/1.1\r\n"
                       f"Host: x\r\nConnection: close\r\n\r\n".encode())
    ws, _ = await eio_ws(url, "/socket.io/")
    await ws.send(frame(1, b"4hello", masked=False))
    await ws.close_code()
    ws, _ = await eio_ws(url, "/socket.io/")
    await ws.send_text("9nonsense")
    await ws.close_code()
    ws, _ = await sio_ws(url)
    await ws.send_text('42["unterminated')
    await ws.close_code()
    ws, _ = await eio_ws(url, "/socket.io/")
    await ws.send_text("40/nowhere,")
    await ws.recv()  # the CONNECT_ERROR

    seen = [(r.name, r.getMessage()) for r in logs.records[marks:] if r.levelno >= logging.INFO]
    assert not [r for r in logs.records if r.levelno > logging.INFO], seen

    def lines(logger: str, text: str) -> list[str]:
        return [m for name, m in seen if name == logger and text in m]

    assert len(lines("fastsio.engine", "refused: 400 Unsupported protocol version")) == 1, seen
    assert len(lines("fastsio.server", "WebSocket protocol error")) == 1, seen
    assert len(lines("fastsio.engine", "invalid packet over WebSocket")) == 1, seen
    assert len([m for name, m in seen if name == "fastsio.socketio" and "connection" in m]) >= 1, seen
    assert len(lines("fastsio.socketio", "CONNECT to unknown namespace")) == 1, seen


async def test_refusals_are_one_line_each_and_caps_are_throttled(
    start_server: Any, logs: pytest.LogCaptureFixture
) -> None:
    """Verify a refused origin, a bad WebSocket handshake and a request refused by a hook
    are one line each (what was wrong in it), and a flood over ``max_connections_per_ip``
    is one throttled warning, not a line per refusal."""
    sio = fastsio.Server(cors_allowed_origins=["http://good.example"], max_connections_per_ip=1)

    @sio.engine.use
    def hook(req: Any) -> bool:
        return req.query.get("deny") is None

    url = await start_server(sio)
    marks = len(logs.records)
    polling = eio_path("/socket.io/", transport="polling")
    await raw_exchange(url, f"GET {polling} HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
                       "Connection: close\r\n\r\n".encode())
    await raw_exchange(url, f"GET {eio_path('/socket.io/', transport='websocket')} HTTP/1.1\r\nHost: x\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n".encode())
    await raw_exchange(url, f"GET {polling}&deny=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    held, _ = await eio_ws(url, "/socket.io/")  # the address's one session
    for _ in range(5):
        await raw_exchange(url, f"GET {polling} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    seen = [(r.name, r.levelname, r.getMessage()) for r in logs.records[marks:]]
    engine = [m for name, _, m in seen if name == "fastsio.engine"]
    assert len([m for m in engine if "evil.example" in m]) == 1, seen
    assert len([m for m in engine if "bad WebSocket handshake" in m]) == 1, seen
    assert len([m for m in engine if "refused by a hook" in m]) == 1, seen
    caps = [m for m in engine if "max_connections_per_ip" in m]
    assert len(caps) == 1, seen  # then silent for a second (LogThrottle)
    assert len(engine) == 4, seen
    held.close()


def test_hot_paths_guard_debug() -> None:
    """Verify the debug lines of per-event paths are behind ``isEnabledFor`` (nothing is
    formatted or called for them unless DEBUG is on)."""
    import importlib
    import inspect

    from fastsio import namespace
    from fastsio._speedups import SOURCES

    socket = importlib.import_module(SOURCES["socket"])  # the pure twin: the source of both
    for module, needle in ((namespace, "no handler for event"), (socket, "unknown ack id")):
        source = inspect.getsource(module)
        at = source.index(needle)
        assert "isEnabledFor(logging.DEBUG)" in source[max(0, at - 300) : at], module.__name__


_ = WSConn  # the raw WebSocket client the helpers return
