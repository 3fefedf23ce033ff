"""Twin equivalence of ``eio3`` (the Engine.IO v3 codec): same results, same exception class.

``setup.py`` compiles every pure twin without a hand-written ``.pyx`` from its
own source, ``fastsio/protocol/engineio/v3_py.py`` included; these property tests hold the two builds
equal on random packets and payloads (valid ones built by the encoders, and
random text and bytes).  The codec's behaviour itself: tests/protocol/engineio/test_engineio_v3.py
legacy protocol's tests.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

Twins = Callable[[str], tuple[ModuleType, ModuleType]]


def typed(value: Any) -> Any:
    """Return ``value`` with the type of every part spelled out."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    """Return ``fn``'s typed result, or its exception class name."""
    try:
        return ("ok", typed(fn(*args)))
    except Exception as exc:
        return ("raises", type(exc).__name__)


texts = st.text(max_size=12) | st.sampled_from(["é", "\U0001f600", "\ud83d", "42[\"é\"]"])
encoded = st.one_of(
    st.tuples(st.integers(0, 6), texts).map(lambda t: f"{t[0]}{t[1]}"),
    st.binary(max_size=12),
)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(packets=st.lists(encoded, min_size=0, max_size=5), mode=st.integers(0, 3))
def test_payloads_round_trip_alike(twins: Twins, packets: list[Any], mode: int) -> None:
    """Verify both twins frame packets alike, and read the frames back alike."""
    py, c = twins("eio3")
    text = outcome(py.encode_payload_text, packets, mode)
    assert outcome(c.encode_payload_text, packets, mode) == text
    binary = outcome(py.encode_payload_binary, packets)
    assert outcome(c.encode_payload_binary, packets) == binary
    if text[0] == "ok":
        body = py.encode_payload_text(packets, mode)
        assert outcome(c.decode_payload_text, body) == outcome(py.decode_payload_text, body)
        decoded = py.decode_payload_text(body) if outcome(py.decode_payload_text, body)[0] == "ok" else []
        assert outcome(c.utf8_decoded, decoded) == outcome(py.utf8_decoded, decoded)
    if binary[0] == "ok":
        raw = py.encode_payload_binary(packets)
        assert outcome(c.decode_payload_binary, raw) == outcome(py.decode_payload_binary, raw)
    for packet in packets:
        assert outcome(c.encode_packet, packet) == outcome(py.encode_packet, packet)


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="0123456789:b4/AQID=é\U0001f600\ud83d,[]\"x", max_size=24),
    raw=st.binary(max_size=24),
)
def test_decoders_alike(twins: Twins, text: str, raw: bytes) -> None:
    """Verify both twins decode arbitrary text and bytes alike."""
    py, c = twins("eio3")
    for name, arg in (
        ("decode_packet", text),
        ("decode_packet", raw),
        ("decode_payload_text", text),
        ("decode_payload_binary", raw),
        ("utf16_len", text),
        ("json_ascii", "4" + text),
        ("jsonp_index", text),
        ("decode_jsonp_body", raw),
        ("decode_jsonp_body", b"d=" + text.encode("utf-8", "surrogatepass")),
    ):
        assert outcome(getattr(c, name), arg) == outcome(getattr(py, name), arg), name


@pytest.mark.hypothesis
@settings(max_examples=100, deadline=None)
@given(payload=texts, index=st.text(alphabet="0123x", max_size=3))
def test_jsonp_alike(twins: Twins, payload: str, index: str) -> None:
    """Verify both twins write the same JSONP response."""
    py, c = twins("eio3")
    assert outcome(c.encode_jsonp, payload, index) == outcome(py.encode_jsonp, payload, index)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(
    packets=st.lists(encoded, min_size=1, max_size=4),
    binary=st.booleans(),
    jsonp=st.none() | st.sampled_from(["0", "12"]),
    text_mode=st.integers(0, 2),
    always_binary=st.booleans(),
    json_messages=st.booleans(),
)
def test_session_codec_alike(
    twins: Twins,
    packets: list[Any],
    binary: bool,
    jsonp: str | None,
    text_mode: int,
    always_binary: bool,
    json_messages: bool,
) -> None:
    """Verify a session's codec frames and reads payloads alike in both twins, whatever its settings."""
    py, c = twins("eio3")
    codecs = []
    for mod in (py, c):
        codec = mod.Eio3Codec(binary=binary, jsonp=jsonp, text_mode=text_mode, always_binary=always_binary)
        codec.json_messages = json_messages
        codecs.append(codec)
    encoded_py = outcome(codecs[0].encode_payload, packets)
    assert outcome(codecs[1].encode_payload, packets) == encoded_py
    if encoded_py[0] == "ok" and jsonp is None:
        body = codecs[0].encode_payload(packets)
        assert outcome(codecs[1].decode_payload, body) == outcome(codecs[0].decode_payload, body)
        assert codecs[1].text_mode == codecs[0].text_mode
