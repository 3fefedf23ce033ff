"""Micro-benchmarks of the codec twins: ``c`` vs ``py`` vs the incumbent.

Incumbents: wsproto's ``FrameProtocol`` for frames; python-engineio's
``engineio.packet.Packet`` / ``engineio.payload.Payload`` and python-socketio's
``socketio.packet.Packet`` for the Engine.IO / Socket.IO codecs.  Each body
calls its operation 100 times in a plain loop (the incumbents' object-based
APIs through a small function that creates and encodes, or decodes, one
packet) on a small event packet (``42["chat message","hello world"]``) and
asserts the result, never the time.

The twins come from the ``wsframe``/``eio``/``sio`` fixtures of tests/conftest.py
(ids ``py``/``c``); each incumbent has its own test in the same benchmark group.

A plain ``pytest`` run executes each body once (benchmarking off), so the suite
stays fast; measure with::

    python -m pytest tests/test_benchmarks_codecs.py --benchmark-only --benchmark-columns=mean,ops
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import engineio.packet
import engineio.payload
import pytest
import socketio.packet
from wsproto.frame_protocol import FrameProtocol, Opcode

from fastsio.protocol import websocket

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
def test_ws_parse_text(bench: Any, wsframe: ModuleType) -> None:
    """Parse one masked text frame carrying a small event (twins ``py``/``c``)."""
    result = run(bench, wsframe.FrameParser(1_000_000).feed, TEXT_FRAME)
    assert result == [(1, "4" + TEXT)]


@pytest.mark.benchmark(group="ws-parse-text")
def test_ws_parse_text_wsproto(bench: Any) -> None:
    """Parse one masked text frame carrying a small event (wsproto)."""
    result = run(bench, wsproto_read, FrameProtocol(client=False, extensions=[]), TEXT_FRAME)
    assert result == [(1, "4" + TEXT)]


@pytest.mark.benchmark(group="ws-parse-64k")
def test_ws_parse_64k(bench: Any, wsframe: ModuleType) -> None:
    """Parse (and unmask) one 64 KiB binary frame (twins ``py``/``c``)."""
    result = run(bench, wsframe.FrameParser(1_000_000).feed, BIG_FRAME)
    assert result == [(2, BIG)]


@pytest.mark.benchmark(group="ws-parse-64k")
def test_ws_parse_64k_wsproto(bench: Any) -> None:
    """Parse (and unmask) one 64 KiB binary frame (wsproto)."""
    result = run(bench, wsproto_read, FrameProtocol(client=False, extensions=[]), BIG_FRAME)
    result = [(op, bytes(p)) for op, p in result]
    assert result == [(2, BIG)]


@pytest.mark.benchmark(group="ws-build-text")
def test_ws_build_text(bench: Any, wsframe: ModuleType) -> None:
    """Build one server text frame carrying a small event (twins ``py``/``c``)."""
    message = "4" + TEXT
    result = run(bench, wsframe.build_frame, 1, message)
    assert result == b"\x81" + bytes((len(message),)) + message.encode()


@pytest.mark.benchmark(group="ws-build-text")
def test_ws_build_text_wsproto(bench: Any) -> None:
    """Build one server text frame carrying a small event (wsproto)."""
    message = "4" + TEXT
    result = bytes(run(bench, FrameProtocol(client=False, extensions=[]).send_data, message, True))
    assert result == b"\x81" + bytes((len(message),)) + message.encode()


@pytest.mark.benchmark(group="ws-build-64k")
def test_ws_build_64k(bench: Any, wsframe: ModuleType) -> None:
    """Build one 64 KiB server binary frame (twins ``py``/``c``)."""
    result = run(bench, wsframe.build_frame, 2, BIG)
    assert result == b"\x82\x7f" + len(BIG).to_bytes(8, "big") + BIG


@pytest.mark.benchmark(group="ws-build-64k")
def test_ws_build_64k_wsproto(bench: Any) -> None:
    """Build one 64 KiB server binary frame (wsproto)."""
    result = bytes(run(bench, FrameProtocol(client=False, extensions=[]).send_data, BIG, True))
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
def test_eio_encode_packet(bench: Any, eio: ModuleType) -> None:
    """Encode one MESSAGE packet (twins ``py``/``c``)."""
    result = run(bench, eio.encode_packet, 4, TEXT)
    assert result == "4" + TEXT


@pytest.mark.benchmark(group="eio-encode-packet")
def test_eio_encode_packet_python_engineio(bench: Any) -> None:
    """Encode one MESSAGE packet (python-engineio)."""
    result = run(bench, engineio_encode, engineio.packet.MESSAGE, TEXT)
    assert result == "4" + TEXT


@pytest.mark.benchmark(group="eio-decode-packet")
def test_eio_decode_packet(bench: Any, eio: ModuleType) -> None:
    """Decode one MESSAGE packet (twins ``py``/``c``)."""
    message = "4" + TEXT
    result = run(bench, eio.decode_packet, message)
    assert result == (4, TEXT)


@pytest.mark.benchmark(group="eio-decode-packet")
def test_eio_decode_packet_python_engineio(bench: Any) -> None:
    """Decode one MESSAGE packet (python-engineio)."""
    message = "4" + TEXT
    result = run(bench, engineio_decode, message)
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
def test_eio_encode_payload(bench: Any, eio: ModuleType) -> None:
    """Encode a polling payload from a queue of three MESSAGE packets (as each server queues them; twins ``py``/``c``)."""
    result = run(bench, eio.encode_payload, [eio.encode_packet(4, t) for t in PAYLOAD_TEXTS])
    assert result == PAYLOAD


@pytest.mark.benchmark(group="eio-encode-payload")
def test_eio_encode_payload_python_engineio(bench: Any) -> None:
    """Encode a polling payload from a queue of three MESSAGE packets (as each server queues them; python-engineio)."""
    queue = [engineio.packet.Packet(engineio.packet.MESSAGE, data=t) for t in PAYLOAD_TEXTS]
    result = run(bench, engineio_payload, queue)
    assert result == PAYLOAD


@pytest.mark.benchmark(group="eio-decode-payload")
def test_eio_decode_payload(bench: Any, eio: ModuleType) -> None:
    """Decode a polling payload of three MESSAGE packets (twins ``py``/``c``)."""
    result = run(bench, eio.decode_payload, PAYLOAD)
    assert result == [(4, t) for t in PAYLOAD_TEXTS]


@pytest.mark.benchmark(group="eio-decode-payload")
def test_eio_decode_payload_python_engineio(bench: Any) -> None:
    """Decode a polling payload of three MESSAGE packets (python-engineio)."""
    result = run(bench, engineio_decode_payload, PAYLOAD)
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
def test_sio_encode(bench: Any, sio: ModuleType) -> None:
    """Encode one EVENT packet: ``["chat message", "hello world"]`` (twins ``py``/``c``)."""
    result = run(bench, sio.encode, 2, "/", DATA)
    assert result == [TEXT]


@pytest.mark.benchmark(group="sio-encode")
def test_sio_encode_python_socketio(bench: Any) -> None:
    """Encode one EVENT packet: ``["chat message", "hello world"]`` (python-socketio)."""
    result = [run(bench, socketio_encode, DATA)]
    assert result == [TEXT]


@pytest.mark.benchmark(group="sio-decode")
def test_sio_decode(bench: Any, sio: ModuleType) -> None:
    """Decode one EVENT packet: ``2["chat message","hello world"]`` (twins ``py``/``c``)."""
    result = fields(run(bench, sio.decode, TEXT))
    assert result == (2, "/", DATA, None)


@pytest.mark.benchmark(group="sio-decode")
def test_sio_decode_python_socketio(bench: Any) -> None:
    """Decode one EVENT packet: ``2["chat message","hello world"]`` (python-socketio)."""
    result = run(bench, socketio_decode, TEXT)
    assert result == (2, "/", DATA, None)


BINARY_DATA = ["file", {"name": "a.bin", "content": b"\x00\x01" * 50}]
BINARY_PARTS = ['51-["file",{"name":"a.bin","content":{"_placeholder":true,"num":0}}]', b"\x00\x01" * 50]


@pytest.mark.benchmark(group="sio-encode-binary")
def test_sio_encode_binary(bench: Any, sio: ModuleType) -> None:
    """Encode one EVENT with a binary attachment (deconstruct to a placeholder) (twins ``py``/``c``)."""
    result = run(bench, sio.encode, 2, "/", BINARY_DATA)
    assert result == BINARY_PARTS


@pytest.mark.benchmark(group="sio-encode-binary")
def test_sio_encode_binary_python_socketio(bench: Any) -> None:
    """Encode one EVENT with a binary attachment (deconstruct to a placeholder) (python-socketio)."""
    result = run(bench, socketio_encode, BINARY_DATA)
    assert result == BINARY_PARTS


@pytest.mark.benchmark(group="sio-decode-binary")
def test_sio_decode_binary(bench: Any, sio: ModuleType) -> None:
    """Decode one BINARY_EVENT and reconstruct it from its attachment (twins ``py``/``c``)."""
    text, attachment = BINARY_PARTS

    def decode_binary(text: str, attachment: bytes) -> Any:
        return sio.reconstruct(sio.decode(text).data, [attachment])

    result = run(bench, decode_binary, text, attachment)
    assert result == BINARY_DATA


@pytest.mark.benchmark(group="sio-decode-binary")
def test_sio_decode_binary_python_socketio(bench: Any) -> None:
    """Decode one BINARY_EVENT and reconstruct it from its attachment (python-socketio)."""
    text, attachment = BINARY_PARTS
    result = run(bench, socketio_decode_binary, text, attachment)
    assert result == BINARY_DATA


def test_incumbents_read_our_frames() -> None:
    """Verify the benchmark inputs are what they claim: wsproto reads our frame back."""
    proto = FrameProtocol(client=True, extensions=[])
    proto.receive_bytes(websocket.build_frame(1, "4" + TEXT))
    frames = list(proto.received_frames())
    assert [(f.opcode, f.payload) for f in frames] == [(Opcode.TEXT, "4" + TEXT)]
