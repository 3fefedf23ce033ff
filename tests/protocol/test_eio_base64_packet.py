"""Engine.IO packets that are "b" + base64 text (sent by clients with forceBase64)."""

from __future__ import annotations

import pytest

from fastsio.protocol.engineio import packets as eio
from fastsio.protocol.engineio import packets_py as eio_py


@pytest.mark.parametrize("codec", [eio, eio_py], ids=["selected", "pure"])
def test_base64_text_packet_is_a_binary_message(codec) -> None:
    # regression: the WebSocket decoder refused it ("unknown packet type") and closed the session
    assert codec.decode_packet("bAQID") == (eio_py.MESSAGE, b"\x01\x02\x03")
    assert codec.decode_packet("b") == (eio_py.MESSAGE, b"")


@pytest.mark.parametrize("codec", [eio, eio_py], ids=["selected", "pure"])
@pytest.mark.parametrize("bad", ["b!!!", "bAQI", "bé"])
def test_invalid_base64_text_packet(codec, bad: str) -> None:
    with pytest.raises(codec.EngineIOError):
        codec.decode_packet(bad)


@pytest.mark.parametrize("codec", [eio, eio_py], ids=["selected", "pure"])
def test_payload_and_packet_agree(codec) -> None:
    assert codec.decode_payload("bAQID") == [codec.decode_packet("bAQID")]
