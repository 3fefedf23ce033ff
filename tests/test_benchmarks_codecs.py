"""Micro-benchmarks of the codec twins: ``c`` vs ``py`` vs the incumbent.

Incumbents: wsproto's ``FrameProtocol`` for frames; python-engineio's
``engineio.packet.Packet`` / ``engineio.payload.Payload`` and python-socketio's
``socketio.packet.Packet`` for the Engine.IO / Socket.IO codecs.  Each body
calls its operation 100 times in a plain loop (the incumbents' object-based
APIs through a small function that creates and encodes, or decodes, one
packet) on a small event packet (``42["chat message","hello world"]``) and
asserts the result, never the time.

A plain ``pytest`` run executes each body once (benchmarking off), so the suite
stays fast; measure with::

    python -m pytest tests/test_benchmarks_codecs.py --benchmark-only --benchmark-columns=mean,ops
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import engineio.packet
import engineio.payload
import pytest
import socketio.packet
from wsproto.frame_protocol import FrameProtocol, Opcode

from fastsio._speedups import NO_EXTENSIONS, SOURCES, compiled_module

LOOPS = 100
TEXT = '2["chat message","hello world"]'  # a Socket.IO EVENT, as Engine.IO MESSAGE data
DATA = ["chat message", "hello world"]
MASK = b"\x37\xfa\x21\x3d"


def masked(opcode: int, payload: bytes) -> bytes:
    """Return a masked client frame (built by wsproto's client, so independent of ours)."""
    client = FrameProtocol(client=True, extensions=[])
    if opcode == 1:
        return bytes(client.send_data(payload.decode(), fin=True))
    return bytes(client.send_data(payload, fin=True))


TEXT_FRAME = masked(1, ("4" + TEXT).encode())
BIG = bytes(range(256)) * 256  # 64 KiB
BIG_FRAME = masked(2, BIG)


def twin(name: str, label: str) -> ModuleType:
    """Return the ``c`` or ``py`` twin of ``name`` (skip ``c`` when not built or not wanted)."""
    if label == "py":
        return importlib.import_module(SOURCES[name])
    if NO_EXTENSIONS:
        pytest.skip("pure run")
    return importlib.import_module(compiled_module(name))


@pytest.fixture
def bench(benchmark: Any, request: pytest.FixtureRequest) -> Any:
    """Return the benchmark fixture; without --benchmark-only/--benchmark-enable each body runs once."""
    config = request.config
    if not (config.getoption("benchmark_only") or config.getoption("benchmark_enable")):
        benchmark.disabled = True
    return benchmark


def run(bench: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Benchmark ``fn(*args)`` called LOOPS times in a plain loop; return its last result."""
    results: list[Any] = []

    def _run() -> None:
        result = None
        for _ in range(LOOPS):
            result = fn(*args)
        results.append(result)

    bench(_run)
    return results[-1]


# ---------------------------------------------------------------- WebSocket frames


def wsproto_read(proto: FrameProtocol, data: bytes) -> list[tuple[int, Any]]:
    """Return the (opcode, payload) frames wsproto reads from ``data``."""
    proto.receive_bytes(data)
    return [(int(f.opcode), f.payload) for f in proto.received_frames()]


@pytest.mark.benchmark(group="ws-parse-text")
@pytest.mark.parametrize("impl", ["c", "py", "wsproto"])
def test_ws_parse_text(bench: Any, impl: str) -> None:
    """Parse one masked text frame carrying a small event."""
    if impl == "wsproto":
        result = run(bench, wsproto_read, FrameProtocol(client=False, extensions=[]), TEXT_FRAME)
    else:
        result = run(bench, twin("wsframe", impl).FrameParser(1_000_000).feed, TEXT_FRAME)
    assert result == [(1, "4" + TEXT)]


@pytest.mark.benchmark(group="ws-parse-64k")
@pytest.mark.parametrize("impl", ["c", "py", "wsproto"])
def test_ws_parse_64k(bench: Any, impl: str) -> None:
    """Parse (and unmask) one 64 KiB binary frame."""
    if impl == "wsproto":
        result = run(bench, wsproto_read, FrameProtocol(client=False, extensions=[]), BIG_FRAME)
        result = [(op, bytes(p)) for op, p in result]
    else:
        result = run(bench, twin("wsframe", impl).FrameParser(1_000_000).feed, BIG_FRAME)
    assert result == [(2, BIG)]


@pytest.mark.benchmark(group="ws-build-text")
@pytest.mark.parametrize("impl", ["c", "py", "wsproto"])
def test_ws_build_text(bench: Any, impl: str) -> None:
    """Build one server text frame carrying a small event."""
    message = "4" + TEXT
    if impl == "wsproto":
        result = bytes(run(bench, FrameProtocol(client=False, extensions=[]).send_data, message, True))
    else:
        result = run(bench, twin("wsframe", impl).build_frame, 1, message)
    assert result == b"\x81" + bytes((len(message),)) + message.encode()


@pytest.mark.benchmark(group="ws-build-64k")
@pytest.mark.parametrize("impl", ["c", "py", "wsproto"])
def test_ws_build_64k(bench: Any, impl: str) -> None:
    """Build one 64 KiB server binary frame."""
    if impl == "wsproto":
        result = bytes(run(bench, FrameProtocol(client=False, extensions=[]).send_data, BIG, True))
    else:
        result = run(bench, twin("wsframe", impl).build_frame, 2, BIG)
    assert result == b"\x82\x7f" + len(BIG).to_bytes(8, "big") + BIG


# ---------------------------------------------------------------- Engine.IO


def engineio_encode(packet_type: int, data: Any) -> Any:
    """Encode one packet the python-engineio way (a Packet, then encode())."""
    return engineio.packet.Packet(packet_type, data=data).encode()


def engineio_decode(message: str) -> tuple[int, Any]:
    """Decode one packet the python-engineio way."""
    packet = engineio.packet.Packet(encoded_packet=message)
    return packet.packet_type, packet.data


@pytest.mark.benchmark(group="eio-encode-packet")
@pytest.mark.parametrize("impl", ["c", "py", "python-engineio"])
def test_eio_encode_packet(bench: Any, impl: str) -> None:
    """Encode one MESSAGE packet."""
    if impl == "python-engineio":
        result = run(bench, engineio_encode, engineio.packet.MESSAGE, TEXT)
    else:
        result = run(bench, twin("eio", impl).encode_packet, 4, TEXT)
    assert result == "4" + TEXT


@pytest.mark.benchmark(group="eio-decode-packet")
@pytest.mark.parametrize("impl", ["c", "py", "python-engineio"])
def test_eio_decode_packet(bench: Any, impl: str) -> None:
    """Decode one MESSAGE packet."""
    message = "4" + TEXT
    if impl == "python-engineio":
        result = run(bench, engineio_decode, message)
    else:
        result = run(bench, twin("eio", impl).decode_packet, message)
    assert result == (4, TEXT)


PAYLOAD_TEXTS = [TEXT, '2["typing",{"user":"ann"}]', '3/chat,5["ok"]']
PAYLOAD = "\x1e".join("4" + t for t in PAYLOAD_TEXTS)


def engineio_payload(packets: list[Any]) -> Any:
    """Encode queued packets into a polling payload the python-engineio way."""
    return engineio.payload.Payload(packets=packets).encode()


def engineio_decode_payload(body: str) -> list[tuple[int, Any]]:
    """Decode a polling payload the python-engineio way."""
    return [(p.packet_type, p.data) for p in engineio.payload.Payload(encoded_payload=body).packets]


@pytest.mark.benchmark(group="eio-encode-payload")
@pytest.mark.parametrize("impl", ["c", "py", "python-engineio"])
def test_eio_encode_payload(bench: Any, impl: str) -> None:
    """Encode a polling payload from a queue of three MESSAGE packets (as each server queues them)."""
    if impl == "python-engineio":
        queue = [engineio.packet.Packet(engineio.packet.MESSAGE, data=t) for t in PAYLOAD_TEXTS]
        result = run(bench, engineio_payload, queue)
    else:
        eio = twin("eio", impl)
        result = run(bench, eio.encode_payload, [eio.encode_packet(4, t) for t in PAYLOAD_TEXTS])
    assert result == PAYLOAD


@pytest.mark.benchmark(group="eio-decode-payload")
@pytest.mark.parametrize("impl", ["c", "py", "python-engineio"])
def test_eio_decode_payload(bench: Any, impl: str) -> None:
    """Decode a polling payload of three MESSAGE packets."""
    if impl == "python-engineio":
        result = run(bench, engineio_decode_payload, PAYLOAD)
    else:
        result = run(bench, twin("eio", impl).decode_payload, PAYLOAD)
    assert result == [(4, t) for t in PAYLOAD_TEXTS]


# ---------------------------------------------------------------- Socket.IO


def socketio_encode(data: Any) -> Any:
    """Encode an EVENT the python-socketio way."""
    return socketio.packet.Packet(socketio.packet.EVENT, data=data).encode()


def socketio_decode(text: str) -> tuple[Any, ...]:
    """Decode a packet the python-socketio way."""
    p = socketio.packet.Packet(encoded_packet=text)
    return p.packet_type, p.namespace or "/", p.data, p.id


def socketio_decode_binary(text: str, attachment: bytes) -> Any:
    """Decode a BINARY_EVENT and its attachment the python-socketio way."""
    p = socketio.packet.Packet(encoded_packet=text)
    p.add_attachment(attachment)
    return p.data


def fields(packet: Any) -> tuple[Any, ...]:
    """Return a decoded packet's fields."""
    return packet.type, packet.nsp, packet.data, packet.id


@pytest.mark.benchmark(group="sio-encode")
@pytest.mark.parametrize("impl", ["c", "py", "python-socketio"])
def test_sio_encode(bench: Any, impl: str) -> None:
    """Encode one EVENT packet: ``["chat message", "hello world"]``."""
    if impl == "python-socketio":
        result = [run(bench, socketio_encode, DATA)]
    else:
        result = run(bench, twin("sio", impl).encode, 2, "/", DATA)
    assert result == [TEXT]


@pytest.mark.benchmark(group="sio-decode")
@pytest.mark.parametrize("impl", ["c", "py", "python-socketio"])
def test_sio_decode(bench: Any, impl: str) -> None:
    """Decode one EVENT packet: ``2["chat message","hello world"]``."""
    if impl == "python-socketio":
        result = run(bench, socketio_decode, TEXT)
    else:
        result = fields(run(bench, twin("sio", impl).decode, TEXT))
    assert result == (2, "/", DATA, None)


BINARY_DATA = ["file", {"name": "a.bin", "content": b"\x00\x01" * 50}]
BINARY_PARTS = ['51-["file",{"name":"a.bin","content":{"_placeholder":true,"num":0}}]', b"\x00\x01" * 50]


@pytest.mark.benchmark(group="sio-encode-binary")
@pytest.mark.parametrize("impl", ["c", "py", "python-socketio"])
def test_sio_encode_binary(bench: Any, impl: str) -> None:
    """Encode one EVENT with a binary attachment (deconstruct to a placeholder)."""
    if impl == "python-socketio":
        result = run(bench, socketio_encode, BINARY_DATA)
    else:
        result = run(bench, twin("sio", impl).encode, 2, "/", BINARY_DATA)
    assert result == BINARY_PARTS


@pytest.mark.benchmark(group="sio-decode-binary")
@pytest.mark.parametrize("impl", ["c", "py", "python-socketio"])
def test_sio_decode_binary(bench: Any, impl: str) -> None:
    """Decode one BINARY_EVENT and reconstruct it from its attachment."""
    text, attachment = BINARY_PARTS
    if impl == "python-socketio":
        result = run(bench, socketio_decode_binary, text, attachment)
    else:
        sio = twin("sio", impl)

        def decode_binary(text: str, attachment: bytes) -> Any:
            return sio.reconstruct(sio.decode(text).data, [attachment])

        result = run(bench, decode_binary, text, attachment)
    assert result == BINARY_DATA


def test_incumbents_read_our_frames() -> None:
    """Verify the benchmark inputs are what they claim: wsproto reads our frame back."""
    proto = FrameProtocol(client=True, extensions=[])
    proto.receive_bytes(importlib.import_module("fastsio.protocol.websocket.frames_py").build_frame(1, "4" + TEXT))
    frames = list(proto.received_frames())
    assert [(f.opcode, f.payload) for f in frames] == [(Opcode.TEXT, "4" + TEXT)]
