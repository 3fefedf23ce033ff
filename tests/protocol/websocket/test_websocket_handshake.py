"""Table-driven tests of the RFC 6455 opening handshake, ``fastsio.protocol.websocket.handshake``
(no network), through the public package ``fastsio.protocol.websocket``."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastsio.protocol.websocket as websocket


# ---------------------------------------------------------------- handshake

GOOD_HEADERS = {
    "host": "example.com",
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
}


def _with(**changes: str | None) -> dict[str, str]:
    """Return GOOD_HEADERS with some headers changed (None removes one)."""
    headers = dict(GOOD_HEADERS)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers


HANDSHAKE_CASES: list[tuple[str, str, dict[str, str], str | None]] = [
    ("valid", "GET", GOOD_HEADERS, None),
    ("upgrade mixed case", "GET", _with(upgrade="WebSocket"), None),
    ("upgrade list", "GET", _with(upgrade="foo, websocket"), None),
    ("connection list", "GET", _with(connection="keep-alive, Upgrade"), None),
    ("connection lower", "GET", _with(connection="upgrade"), None),
    ("random key", "GET", _with(sec_websocket_key=base64.b64encode(bytes(range(16))).decode()), None),
    ("POST", "POST", GOOD_HEADERS, "GET"),
    ("lower-case get", "get", GOOD_HEADERS, "GET"),
    ("no upgrade", "GET", _with(upgrade=None), "Upgrade"),
    ("upgrade h2c", "GET", _with(upgrade="h2c"), "Upgrade"),
    ("no connection", "GET", _with(connection=None), "Connection"),
    ("connection keep-alive", "GET", _with(connection="keep-alive"), "Connection"),
    ("connection upgraded", "GET", _with(connection="upgraded"), "Connection"),
    ("no version", "GET", _with(sec_websocket_version=None), "Version"),
    ("version 8", "GET", _with(sec_websocket_version="8"), "Version"),
    ("no key", "GET", _with(sec_websocket_key=None), "Key"),
    ("empty key", "GET", _with(sec_websocket_key=""), "Key"),
    ("key of 15 bytes", "GET", _with(sec_websocket_key=base64.b64encode(b"x" * 15).decode()), "Key"),
    ("key of 17 bytes", "GET", _with(sec_websocket_key=base64.b64encode(b"x" * 17).decode()), "Key"),
    ("key not base64", "GET", _with(sec_websocket_key="!!!!!!!!!!!!!!!!!!!!!!=="), "Key"),
    ("key inner padding", "GET", _with(sec_websocket_key="AAAAAAAAAAAAAAAAAAAA=A=="), "Key"),
    ("key non-ascii", "GET", _with(sec_websocket_key="AAAAAAAAAAAAAAAAAAAAA\u00e9=="), "Key"),
    ("key with spaces", "GET", _with(sec_websocket_key=" dGhlIHNhbXBsZSBub25jZQ=="), "Key"),
]


def _decodes_to_16_bytes(key: str) -> bool:
    """RFC 6455 4.1's key, by its definition: base64 (strict alphabet) of 16 bytes."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@given(
    st.one_of(
        st.text(alphabet=_B64, min_size=22, max_size=22).map(lambda s: s + "=="),
        # a key with one character changed to one that is not base64 (the URL-safe
        # alphabet's, padding, space, non-ASCII, a line break)
        st.tuples(
            st.text(alphabet=_B64, min_size=22, max_size=22),
            st.integers(0, 23),
            st.sampled_from("-_= .\u00e9\n\x00"),
        ).map(lambda t: (t[0] + "==")[: t[1]] + t[2] + (t[0] + "==")[t[1] + 1 :]),
        st.text(alphabet=_B64 + "=-_ .\u00e9\n", min_size=20, max_size=26),
        st.binary(min_size=14, max_size=18).map(lambda b: base64.b64encode(b).decode()),
    )
)
def test_key_check_is_base64_of_16_bytes(key: str) -> None:
    """check_handshake accepts exactly the keys that are base64 of 16 bytes."""
    result = websocket.check_handshake("GET", _with(sec_websocket_key=key))
    assert (result is None) == _decodes_to_16_bytes(key), (key, result)


@pytest.mark.parametrize(
    ("method", "headers", "error"), [c[1:] for c in HANDSHAKE_CASES], ids=[c[0] for c in HANDSHAKE_CASES]
)
def test_check_handshake(method: str, headers: dict[str, str], error: str | None) -> None:
    """Verify check_handshake accepts valid upgrades and names what is wrong otherwise."""
    result = websocket.check_handshake(method, headers)
    if error is None:
        assert result is None
    else:
        assert result is not None and error in result


def test_handshake_response() -> None:
    """Verify the 101 response byte for byte (RFC 6455 1.3 sample key)."""
    assert websocket.handshake_response("dGhlIHNhbXBsZSBub25jZQ==") == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"\r\n"
    )


def test_handshake_response_extra_headers() -> None:
    """Verify extra headers are appended in order."""
    response = websocket.handshake_response(
        "dGhlIHNhbXBsZSBub25jZQ==", [("Sec-WebSocket-Protocol", "chat"), ("Set-Cookie", "io=abc; Path=/")]
    )
    assert response.endswith(
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"Set-Cookie: io=abc; Path=/\r\n"
        b"\r\n"
    )
    assert websocket.handshake_response("dGhlIHNhbXBsZSBub25jZQ==", []) == websocket.handshake_response(
        "dGhlIHNhbXBsZSBub25jZQ=="
    )


@pytest.mark.parametrize(
    "header",
    [
        ("X-A", "v\r\nInjected: 1"),
        ("X-A", "v\nx"),
        ("X-A\r\nInjected", "1"),
        ("X-A", "nul\0"),
        ("", "empty name"),
        ("X:A", "colon in name"),
        ("X-A", "\u2603"),
    ],
)
def test_handshake_response_rejects_bad_headers(header: tuple[str, str]) -> None:
    """Verify header injection and non-Latin-1 values are refused."""
    with pytest.raises(ValueError):
        websocket.handshake_response("dGhlIHNhbXBsZSBub25jZQ==", [header])
