"""The orjson JSON backend (used when installed; not a dependency) writes exactly what the
codec's standard-library writer writes, and refuses what it refuses (but enum.Enum and
uuid.UUID)."""

from __future__ import annotations

import enum
import math
import random
import struct
from typing import Any

import pytest
import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

import fastsio
from fastsio.protocol.socketio.jsonenc_py import json_dumps
from fastsio.protocol.socketio import parsers
from fastsio.protocol import socketio as sio

orjson = pytest.importorskip("orjson")

# what the codec writes without orjson (the stdlib encoder, compact, not ASCII-escaped,
# NaN refused; see fastsio._speedups._helpers)
STD = json_dumps


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def floats() -> list[float]:
    out = [0.0, -0.0, 1e-5, 1.5e-7, 1e-4, 9.999e-5, 1e15, 1e16, 1e17, 1e21, 1e22, 123456789012345680.0,
           5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1 / 3, 0.1 + 0.2, 2**53 + 0.0]
    for e in range(-330, 310, 3):
        out.append(float(f"1.2345e{e}") if e > -324 else 0.0)
    rnd = random.Random(7)
    for _ in range(3000):
        f = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        if math.isfinite(f):
            out.append(f)
        out.append(rnd.uniform(-1e-3, 1e-3))
    return out


CASES: list[Any] = [
    None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**64), 10**40,
    "", "plain", "é😀", "\u2028\u2029", "\x00\x01\x1f\x7f\"\\/", "null", "1e-05", "0.00001",
    [], {}, [1, [2, [3, {"a": None}]]], {"k": "v", "n": [1.5, -0.0, None]}, (1, 2), ["tick", 1, "abc123"],
    {"ünï": {"cödé": ["x" * 1000]}}, [None] * 10, [1e-7, None, "e-"],
    Color.RED, [Color.RED], Name("sub"), {"k": Name("v")}, {1: "int key"}, {None: 1, True: 2, 1.5: 3},
    "\ud800", ["lone \udfff surrogate"], [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],
    [[]] * 300,
]


def nested(depth: int) -> Any:
    v: Any = []
    for _ in range(depth):
        v = [v]
    return v


def same(value: Any) -> None:
    dumps = parsers.orjson_dumps()
    assert dumps is not None
    try:
        expected: Any = STD(value)
    except Exception as exc:  # noqa: BLE001
        expected = type(exc)
    try:
        got: Any = dumps(value)
    except Exception as exc:  # noqa: BLE001
        got = type(exc)
    assert got == expected, value


@pytest.mark.parametrize("value", CASES + [nested(300), nested(50)], ids=lambda v: repr(v)[:40])
def test_same_output_as_stdlib(value: Any) -> None:
    same(value)


def test_same_output_on_floats() -> None:
    values = floats()
    for f in values:
        same(f)
        same([f, -f])
    same(values)


def test_refuses_what_the_stdlib_refuses() -> None:
    dumps = parsers.orjson_dumps()
    for bad in (math.nan, [math.inf], {"x": -math.inf}, object(), {"k": {1, 2}}, b"bytes"):
        with pytest.raises((ValueError, TypeError)):
            STD(bad)
        with pytest.raises((ValueError, TypeError)):
            dumps(bad)
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError):
        dumps(circular)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(json_values)
def test_same_output_property(value: Any) -> None:
    same(value)


def test_parser_backends_encode_alike() -> None:
    fast = parsers.JsonParser(backend="orjson")
    builtin = parsers.JsonParser(backend="builtin")
    assert fast.backend == "orjson" and builtin.backend == "builtin"
    for args in [(1, "é", 1e-7), ({"a": [None, 2**70]},), (b"\x00\x01", {"b": b"x"}), ()]:
        assert fast.encode_event("/chat", "ev", args, 3) == builtin.encode_event("/chat", "ev", args, 3)
        assert fast.encode(sio.ACK, "/", list(args), 1) == builtin.encode(sio.ACK, "/", list(args), 1)
    with pytest.raises(ValueError):
        parsers.JsonParser(backend="simdjson")


async def test_server_with_orjson_backend(start_server: Any) -> None:
    server = fastsio.Server(parser=parsers.JsonParser(backend="orjson"))
    server.on("echo", lambda socket, *args: args)
    url = await start_server(server)
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(url, transports=["websocket"])
    data = [1, "é😀", 1.5e-7, None, {"big": 2**70}, b"\x00\xff"]
    assert await c.call("echo", data, timeout=5) == data
    await c.disconnect()
