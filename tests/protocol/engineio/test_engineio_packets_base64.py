"""Engine.IO packets that are "b" + base64 text (sent by clients with forceBase64), on each ``eio`` twin."""

from __future__ import annotations

import binascii
import re
import sys
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastsio.protocol.engineio import wire


def test_base64_text_packet_is_a_binary_message(eio: ModuleType) -> None:
    """Verify "b" + base64 decodes to a binary MESSAGE (it used to close the session)."""
    # regression: the WebSocket decoder refused it ("unknown packet type") and closed the session
    assert eio.decode_packet("bAQID") == (wire.MESSAGE, b"\x01\x02\x03")
    assert eio.decode_packet("b") == (wire.MESSAGE, b"")


@pytest.mark.parametrize("bad", ["b!!!", "bAQI", "bé"])
def test_invalid_base64_text_packet(eio: ModuleType, bad: str) -> None:
    """Verify broken base64 is an EngineIOError."""
    with pytest.raises(eio.EngineIOError):
        eio.decode_packet(bad)


def test_payload_and_packet_agree(eio: ModuleType) -> None:
    """Verify a polling payload of one base64 packet decodes like the packet."""
    assert eio.decode_payload("bAQID") == [eio.decode_packet("bAQID")]


# Strictly invalid base64 that the lenient decoder (strict_mode=False, Python 3.10's
# only mode) would accept: whitespace, junk, leading, excess and discontinuous padding,
# and (refused by 3.13's strict_mode, accepted by 3.11's) padding after a whole group.
NOT_STRICT = ["AQ ID", "AQID\n", "AQ!ID", "=AQI", "AQI=AQI=", "AQ=I", "AQ==x", "AQI==", "AQID=", "AQID=="]
WHOLE_GROUPS_THEN_PADDING = re.compile(rb"(?:[A-Za-z0-9+/]{4})*=+")


@pytest.mark.parametrize("bad", NOT_STRICT)
def test_base64_is_strict_on_every_python(eio: ModuleType, eio3: ModuleType, bad: str) -> None:
    """Verify non-strict base64 is refused by both codecs, on 3.10 (no strict_mode) as on 3.11+.

    Regression: the codecs called ``binascii.a2b_base64(..., strict_mode=True)``,
    a TypeError on Python 3.10, which ``requires-python`` admits.
    """
    with pytest.raises(binascii.Error):
        eio.a2b_base64_strict(bad.encode())
    with pytest.raises(eio.EngineIOError):
        eio.decode_packet("b" + bad)
    with pytest.raises(eio.EngineIOError):
        eio.decode_payload("b" + bad)
    with pytest.raises(eio3.EngineIOError):
        eio3.decode_packet("b4" + bad)


@pytest.mark.parametrize("good", ["", "AQID", "AQI=", "AQ==", "AQIDBA==", "+/+/"])
def test_strict_base64_decodes_valid_input(eio: ModuleType, eio3: ModuleType, good: str) -> None:
    """Verify padded, well-formed base64 decodes in both codecs."""
    expected = binascii.a2b_base64(good.encode())
    assert eio.a2b_base64_strict(good.encode()) == expected
    assert eio.decode_packet("b" + good) == (wire.MESSAGE, expected)
    assert eio3.decode_packet("b4" + good) == (wire.MESSAGE, expected)


@pytest.mark.hypothesis
@pytest.mark.skipif(sys.version_info < (3, 11), reason="binascii has strict_mode from Python 3.11")
@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="AQIDab+/=\n !-_", max_size=16))
def test_strict_base64_agrees_with_strict_mode(eio: ModuleType, text: str) -> None:
    """Verify a2b_base64_strict accepts and decodes what Python 3.13's ``strict_mode=True`` does."""
    data = text.encode()
    try:
        expected: bytes | None = binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        expected = None
    if sys.version_info < (3, 13) and WHOLE_GROUPS_THEN_PADDING.fullmatch(data) and data[:1] != b"=":
        expected = None  # 3.11/3.12's strict_mode lets excess padding after a whole group through
    try:
        got: bytes | None = eio.a2b_base64_strict(data)
    except binascii.Error:
        got = None
    assert got == expected
