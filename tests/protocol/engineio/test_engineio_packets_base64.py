"""Engine.IO packets that are "b" + base64 text (sent by clients with forceBase64), on each ``eio`` twin."""

from __future__ import annotations

from types import ModuleType

import pytest

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
