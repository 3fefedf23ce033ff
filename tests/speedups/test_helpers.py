"""The C helpers (``_frame``, ``_jsonenc``) against their pure versions (``protocol/websocket/mask_py.py``, ``protocol/socketio/jsonenc_py.py``).

The compiled twins cimport these C functions under the names the pure twins
import from those modules (see ``wsframe_c.pxd`` and ``sio_c.pxd``), so each
pair must agree exactly: same bytes or text, same exception class and message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastsio.protocol.socketio import jsonenc_py
from fastsio.protocol.websocket import mask_py


@pytest.fixture(scope="module")
def frame_c(compiled: Callable[[str], ModuleType]) -> ModuleType:
    """Return the compiled frame helpers (skipped like the ``c`` twins)."""
    return compiled("_frame")


@pytest.fixture(scope="module")
def jsonenc_c(compiled: Callable[[str], ModuleType]) -> ModuleType:
    """Return the compiled JSON writer (skipped like the ``c`` twins)."""
    return compiled("_jsonenc")


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    """Return ``fn``'s result with its type, or its exception class and message."""
    try:
        result = fn(*args)
    except Exception as exc:
        return ("raises", type(exc).__name__, str(exc))
    return ("ok", type(result).__name__, result)


# ---------------------------------------------------------------- unmask / frame


def naive_xor(mask: bytes, data: bytes) -> bytes:
    """Return ``data`` XOR ``mask`` by the obvious per-byte loop."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("n", [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 512, 513, 4096, 65537])
def test_unmask_lengths(frame_c: ModuleType, n: int) -> None:
    """Verify both unmask every length like the per-byte reference (8-byte words and tails)."""
    mask = b"\x9a\x01\xfe\x37"
    payload = bytes(range(256)) * (n // 256 + 1)
    src = b"head" + mask + naive_xor(mask, payload[:n]) + b"tail"
    for kind in (bytes, bytearray):
        got = frame_c.unmask(kind(src), 8, 8 + n)
        assert got == mask_py.unmask(kind(src), 8, 8 + n) == payload[:n]
        assert type(got) is bytes


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(src=st.binary(min_size=4, max_size=2000), a=st.integers(4, 2000), b=st.integers(0, 2000), kind=st.booleans())
def test_unmask_twins(frame_c: ModuleType, src: bytes, a: int, b: int, kind: bool) -> None:
    """Verify both unmask any in-bounds slice of any block alike."""
    start = min(a, len(src))
    end = start + min(b, len(src) - start)
    block = bytearray(src) if kind else src
    assert frame_c.unmask(block, start, end) == mask_py.unmask(block, start, end)


@pytest.mark.parametrize(("start", "end"), [(3, 5), (6, 5), (4, 100)])
def test_unmask_bounds(frame_c: ModuleType, start: int, end: int) -> None:
    """Verify the C loop refuses bounds outside the block (the parser never passes them)."""
    with pytest.raises(ValueError):
        frame_c.unmask(b"0123456789", start, end)
    with pytest.raises(TypeError):
        frame_c.unmask(memoryview(b"0123456789"), 4, 5)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(
    b0=st.integers(0, 255),
    payload=st.binary(max_size=300) | st.sampled_from([b"x" * 125, b"x" * 126, b"x" * 65535, b"x" * 65536]),
    kind=st.integers(0, 2),
)
def test_frame_twins(frame_c: ModuleType, b0: int, payload: bytes, kind: int) -> None:
    """Verify both write the same header and payload for any first byte and length."""
    value = (bytes, bytearray, memoryview)[kind](payload)
    assert outcome(frame_c.frame, b0, value) == outcome(mask_py.frame, b0, value)


# ---------------------------------------------------------------- JSON


class MyStr(str):
    pass


class MyInt(int):
    def __repr__(self) -> str:
        return "MyInt!"


class MyFloat(float):
    pass


class MyList(list):  # type: ignore[type-arg]
    pass


class MyDict(dict):  # type: ignore[type-arg]
    pass


ODD = [
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    1e308,
    5e-324,
    2**64,
    -(2**63),
    True,
    MyStr("sub"),
    MyInt(5),
    MyFloat(1.5),
    MyList([1, 2]),
    MyDict(a=1),
    {1: "int key", 2.5: "float key", True: "bool key", None: "none key"},
    {(1, 2): "tuple key"},
    object(),
    b"bytes",
    "\x00\x1f\x7f\"\\/\u2028\ud800\U0001f600",
    "plain",
    "",
    [],
    {},
    (),
    ((),),
]

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
        st.sampled_from(ODD),
    ),
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=5) | st.sampled_from([1, None, 2.5]), inner, max_size=4),
    max_leaves=15,
)


@pytest.mark.hypothesis
@settings(max_examples=600, deadline=None)
@given(value=json_values)
def test_json_dumps_twins(jsonenc_c: ModuleType, value: Any) -> None:
    """Verify the C writer returns what the stdlib encoder returns, or raises the same error."""
    assert outcome(jsonenc_c.json_dumps, value) == outcome(jsonenc_py.json_dumps, value)


@pytest.mark.parametrize("value", ODD, ids=[repr(v)[:20] for v in ODD])
def test_json_dumps_odd_values(jsonenc_c: ModuleType, value: Any) -> None:
    """Verify the C writer on its own with each odd value, in a list and as a dict value."""
    for wrapped in (value, [value], {"k": value}, [1, [value, "x"]]):
        assert outcome(jsonenc_c.json_dumps, wrapped) == outcome(jsonenc_py.json_dumps, wrapped)


def test_json_dumps_deep_and_circular(jsonenc_c: ModuleType) -> None:
    """Verify deep nesting and cycles are left to the stdlib encoder (same result, same error)."""
    deep: Any = "x"
    for _ in range(200):
        deep = [deep, {"a": deep}] if _ < 5 else [deep]
    assert jsonenc_c.json_dumps(deep) == jsonenc_py.json_dumps(deep)
    loop: list[Any] = [1]
    loop.append(loop)
    assert outcome(jsonenc_c.json_dumps, loop) == outcome(jsonenc_py.json_dumps, loop)
    assert outcome(jsonenc_c.json_dumps, loop)[1] == "ValueError"
    assert jsonenc_c.json_dumps(["after", "a", "cycle"]) == '["after","a","cycle"]'


def test_json_dumps_huge_int(jsonenc_c: ModuleType) -> None:
    """Verify an int over the str-conversion digit limit fails alike."""
    big = [10**5000]
    assert outcome(jsonenc_c.json_dumps, big) == outcome(jsonenc_py.json_dumps, big)


def test_json_dumps_is_compact_utf8() -> None:
    """Verify the reference encoder's settings: compact, not ASCII-escaped, NaN refused."""
    assert jsonenc_py.json_dumps({"a": ["é", 1]}) == '{"a":["é",1]}'
    with pytest.raises(ValueError):
        jsonenc_py.json_dumps(math.nan)
    assert json.loads(jsonenc_py.json_dumps(["\u2028"])) == ["\u2028"]
