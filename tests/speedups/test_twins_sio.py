"""Twin equivalence and table tests of ``sio`` (the Socket.IO packet codec).

Table tests run on each twin through the ``sio`` fixture (ids ``py``/``c``);
hypothesis feeds both twins the same random packets, JSON-able data with
nested binary, and random (often broken) encoded packets, and requires equal
results or the same exception class.  Results are compared with their types
spelled out (a tuple must not pass for a list, ``1`` for ``True`` or ``1.0``).
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

Twins = Callable[[str], tuple[ModuleType, ModuleType]]


def canon(value: Any) -> Any:
    """Return ``value`` with every type spelled out; NaN equals NaN; Packets as fields."""
    if type(value).__name__ == "Packet":
        return ("Packet", canon([value.type, value.nsp, value.data, value.id, value.attachments]))
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [canon(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(canon(k), canon(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    """Return ``fn``'s result (canonical), or its exception class name."""
    try:
        result = fn(*args)
    except Exception as exc:
        return ("raises", type(exc).__name__)
    return ("ok", canon(result))


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, "/", None, None), ["0"]),
        ((0, "/admin", {"token": "x"}, None), ['0/admin,{"token":"x"}']),
        ((1, "/admin", None, None), ["1/admin,"]),
        ((2, "/", ["hello", 1], None), ['2["hello",1]']),
        ((2, "/", ["hello"], 12), ['212["hello"]']),
        ((3, "/chat", ["ok"], 7), ['3/chat,7["ok"]']),
        ((4, "/", {"message": "no"}, None), ['4{"message":"no"}']),
        ((2, "/", ["é", "\u2028", '"\\\n'], None), ['2["é","\u2028","\\"\\\\\\n"]']),
        ((2, "/", ["bin", b"\x01"], None), ['51-["bin",{"_placeholder":true,"num":0}]', b"\x01"]),
        ((3, "/", [{"a": [b"x", bytearray(b"y")]}], 3), ['62-3[{"a":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]', b"x", b"y"]),
    ],
)
def test_encode(sio: ModuleType, args: tuple[Any, ...], expected: list[Any]) -> None:
    """Verify encoding: type, attachments, namespace, ack id, compact UTF-8 JSON."""
    assert sio.encode(*args) == expected


def test_encode_event(sio: ModuleType) -> None:
    """Verify encode_event puts the event name first and becomes binary when needed."""
    assert sio.encode_event("/", "chat", ("hi", 2)) == ['2["chat","hi",2]']
    assert sio.encode_event("/x", "up", (b"\x00",), 5) == ['51-/x,5["up",{"_placeholder":true,"num":0}]', b"\x00"]


def test_encode_custom_dumps(sio: ModuleType) -> None:
    """Verify a custom JSON encoder is used when given."""
    assert sio.encode(2, "/", ["x"], None, lambda d: "CUSTOM") == ["2CUSTOM"]


@pytest.mark.parametrize("data", [[math.nan], [object()], [{1: 2, "a": {(1,): 2}}]])
def test_encode_refuses(sio: ModuleType, data: Any) -> None:
    """Verify data JSON cannot carry raises like the stdlib encoder does."""
    with pytest.raises((ValueError, TypeError)):
        sio.encode(2, "/", data)


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("0", (0, "/", None, None, 0)),
        ('0/admin,{"token":"x"}', (0, "/admin", {"token": "x"}, None, 0)),
        ("1/admin,", (1, "/admin", None, None, 0)),
        ('2["hello",1]', (2, "/", ["hello", 1], None, 0)),
        ('212["hello"]', (2, "/", ["hello"], 12, 0)),
        ('3/chat,7["ok"]', (3, "/chat", ["ok"], 7, 0)),
        ('4{"message":"no"}', (4, "/", {"message": "no"}, None, 0)),
        ('51-["bin",{"_placeholder":true,"num":0}]', (5, "/", ["bin", {"_placeholder": True, "num": 0}], None, 1)),
        ('2 [ "x" ] ', (2, "/", ["x"], None, 0)),
        ("2[1.5e3,-0,null,true]", (2, "/", [1500.0, 0, None, True], None, 0)),
    ],
)
def test_decode(sio: ModuleType, s: str, expected: tuple[Any, ...]) -> None:
    """Verify decoding into a Packet with type, namespace, data, ack id and attachment count."""
    p = sio.decode(s)
    assert (p.type, p.nsp, p.data, p.id, p.attachments) == expected


@pytest.mark.parametrize(
    "s",
    [
        "",
        "7",
        "2",
        '2{"a":1}',
        '2["connect"]',
        "2[true]",
        "2[]",
        "5[]",
        "5x-[]",
        '3["x"]',
        '0["x"]',
        "1[]",
        '11["x"]',
        '2["x"]]',
        "2\ufeff[\"x\"]",
        "2" + "[" * 100_000 + "]" * 100_000,
        '4["x"]',
        '2["x",NaN]',
        '2["x",-Infinity]',
        '2["x",1e400]',
        '2["x",-1E999]',
    ],
)
def test_decode_rejects(sio: ModuleType, s: str) -> None:
    """Verify bad types, counts, JSON, shapes and ack ids raise SocketIOError (deep JSON too)."""
    with pytest.raises(sio.SocketIOError):
        sio.decode(s)


def test_decode_custom_loads(sio: ModuleType) -> None:
    """Verify a custom JSON decoder gets the payload text."""
    seen = []

    def loads(text: str) -> Any:
        seen.append(text)
        return ["e"]

    assert sio.decode("2/n,5 whatever", loads).data == ["e"]
    assert seen == [" whatever"]


def test_deconstruct_reconstruct(sio: ModuleType) -> None:
    """Verify binary values become numbered placeholders and come back."""
    data = ["a", {"b": b"1", "c": (bytearray(b"2"), memoryview(b"3"))}]
    shell, buffers = sio.deconstruct(data)
    assert buffers == [b"1", b"2", b"3"]
    assert all(type(b) is bytes for b in buffers)
    assert shell == ["a", {"b": {"_placeholder": True, "num": 0}, "c": [{"_placeholder": True, "num": 1}, {"_placeholder": True, "num": 2}]}]
    assert sio.reconstruct(shell, buffers) == ["a", {"b": b"1", "c": [b"2", b"3"]}]
    assert sio.has_binary(data) is True
    assert sio.has_binary(["a", {"b": [1, None]}]) is False


@pytest.mark.parametrize(
    "placeholder",
    [{"_placeholder": True, "num": 5}, {"_placeholder": True, "num": -1}, {"_placeholder": True, "num": "0"}, {"_placeholder": True, "num": True}],
)
def test_reconstruct_rejects(sio: ModuleType, placeholder: dict[str, Any]) -> None:
    """Verify a placeholder naming no attachment raises SocketIOError."""
    with pytest.raises(sio.SocketIOError):
        sio.reconstruct([placeholder], [b"x"])


def test_packet_value(sio: ModuleType) -> None:
    """Verify Packet: defaults, equality by fields, repr, unhashable, slotted."""
    p = sio.Packet(2, data=["x"])
    assert (p.type, p.nsp, p.data, p.id, p.attachments) == (2, "/", ["x"], None, 0)
    assert p == sio.Packet(2, "/", ["x"], None, 0)
    assert p != sio.Packet(2, "/", ["y"])
    assert p != "packet"
    assert repr(p) == "Packet(type=2, nsp='/', data=['x'], id=None, attachments=0)"
    with pytest.raises(TypeError):
        hash(p)
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    p.data = ["z"]
    assert p.data == ["z"]
    assert issubclass(sio.SocketIOError, ValueError)


# ---------------------------------------------------------------- twins

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
binaries = st.binary(max_size=8).flatmap(
    lambda b: st.sampled_from([b, bytearray(b), memoryview(b)])
)
data_with_binary = st.recursive(
    scalars | binaries,
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
odd_values = st.sampled_from([math.nan, math.inf, object(), {1: "int key"}, {None: 1}, (1, 2), 2**20000])
namespaces = st.sampled_from(["/", "/chat", "/a,b", "/é"]) | st.text(max_size=6).map(lambda t: "/" + t)
ack_ids = st.none() | st.integers(0, 2**40)


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(
    ptype=st.integers(0, 6),
    nsp=namespaces,
    data=st.none() | data_with_binary | st.lists(data_with_binary | odd_values, max_size=3),
    ack=ack_ids,
)
def test_encode_twins(twins: Twins, ptype: int, nsp: str, data: Any, ack: int | None) -> None:
    """Verify both twins encode any packet alike (or refuse its data alike)."""
    py, c = twins("sio")
    assert outcome(c.encode, ptype, nsp, data, ack) == outcome(py.encode, ptype, nsp, data, ack)


@pytest.mark.hypothesis
@settings(max_examples=100, deadline=None)
@given(nsp=namespaces, event=st.text(max_size=8), args=st.lists(data_with_binary, max_size=3).map(tuple), ack=ack_ids)
def test_encode_event_twins(twins: Twins, nsp: str, event: str, args: tuple[Any, ...], ack: int | None) -> None:
    """Verify both twins encode any event alike."""
    py, c = twins("sio")
    assert outcome(c.encode_event, nsp, event, args, ack) == outcome(py.encode_event, nsp, event, args, ack)


def finite(literal: str) -> float:
    """``parse_float`` refusing a number too large for a float."""
    value = float(literal)
    if math.isinf(value):
        raise ValueError(literal)
    return value


def refuse(name: str) -> Any:
    """Refuse a non-JSON constant, as the codec does."""
    raise ValueError(name)


def mutate(s: str, edits: list[tuple[int, int, str]]) -> str:
    """Return ``s`` with characters deleted, replaced or inserted at the given positions."""
    for pos, op, ch in edits:
        i = pos % (len(s) + 1)
        if op == 0:
            s = s[:i] + s[i + 1 :]
        elif op == 1:
            s = s[:i] + ch + s[i + 1 :]
        else:
            s = s[:i] + ch + s[i:]
    return s


edit_chars = st.sampled_from(list('0123456789-,/[]{}"\\ :tfnue.\x1e\ufeff'))


@pytest.mark.hypothesis
@settings(max_examples=600, deadline=None)
@given(
    ptype=st.integers(0, 6),
    nsp=namespaces,
    data=st.none() | json_data | st.lists(json_data, min_size=1, max_size=3),
    ack=ack_ids,
    edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 2), edit_chars), max_size=3),
)
def test_decode_twins(twins: Twins, ptype: int, nsp: str, data: Any, ack: int | None, edits: list[Any]) -> None:
    """Verify both twins decode encoded packets, intact or mutated, alike."""
    py, c = twins("sio")
    s = mutate(py.encode(ptype, nsp, data, ack)[0], edits)
    assert outcome(c.decode, s) == outcome(py.decode, s)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(s=st.text(alphabet='0123456-,/[]{}"\\ :abtrue.\x1e\ufeff\u00e9', max_size=24))
def test_decode_garbage_twins(twins: Twins, s: str) -> None:
    """Verify both twins decode arbitrary text alike."""
    py, c = twins("sio")
    assert outcome(c.decode, s) == outcome(py.decode, s)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=' \t\n\r0123456789-+.eE[]{}",:nultrfasNIiy\\', max_size=20), wrap=st.booleans())
def test_json_reader_is_json_loads(sio: ModuleType, text: str, wrap: bool) -> None:
    """Verify the codec's JSON reader equals json.loads in value and in refusal.

    Read through the public ``decode`` of an ACK (``3/x,1 <json>``: the space ends
    the ack id and is JSON whitespace); ``wrap`` puts the text in ``[...]`` so that
    every value it parses is compared, not only lists (an ACK carries a list).
    A refusal of the JSON is a SocketIOError caused by a ValueError; a valid JSON
    value that is not a list is a SocketIOError without a cause.
    NaN, Infinity and -Infinity are refused: they are not JSON (``JSON.parse`` refuses them);
    so is a number too large for a float (``1e999``), which would be inf.
    """
    body = " " + ("[" + text + "]" if wrap else text)
    try:
        value = json.loads(body, parse_constant=refuse, parse_float=finite)
        expected: Any = ("ok", canon(value)) if isinstance(value, list) else ("not a list",)
    except ValueError:
        expected = ("raises", "ValueError")
    try:
        got: Any = ("ok", canon(sio.decode("3/x,1" + body).data))
    except sio.SocketIOError as exc:
        got = ("raises", "ValueError") if isinstance(exc.__cause__, ValueError) else ("not a list",)
    assert got == expected


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(data=data_with_binary)
def test_deconstruct_reconstruct_twins(twins: Twins, data: Any) -> None:
    """Verify both twins deconstruct, detect and reconstruct binary alike."""
    py, c = twins("sio")
    assert outcome(c.has_binary, data) == outcome(py.has_binary, data)
    assert outcome(c.deconstruct, data) == outcome(py.deconstruct, data)
    shell, buffers = py.deconstruct(data)
    assert outcome(c.reconstruct, shell, buffers) == outcome(py.reconstruct, shell, buffers)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(
    data=st.recursive(
        scalars | st.fixed_dictionaries({"_placeholder": st.sampled_from([True, 1, "x"]), "num": st.sampled_from([0, 1, 2, -1, True, 1.0, "0"])}),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["_placeholder", "num", "k"]), inner, max_size=3),
        max_leaves=8,
    ),
    buffers=st.lists(st.binary(max_size=3), max_size=3),
)
def test_reconstruct_twins(twins: Twins, data: Any, buffers: list[bytes]) -> None:
    """Verify both twins resolve (or refuse) any placeholders alike."""
    py, c = twins("sio")
    assert outcome(c.reconstruct, data, buffers) == outcome(py.reconstruct, data, buffers)
