"""The server side of the WebSocket opening handshake (RFC 6455 4.2), sans-I/O.

:func:`check_handshake` says whether a request's method and headers make a valid
upgrade request; :func:`handshake_response` builds the ``101 Switching Protocols``
answer with the accept key of :func:`fastsio.protocol.websocket.frames.accept_key`.
"""

from __future__ import annotations

import re

from .frames import accept_key

__all__ = ("WEBSOCKET_VERSION", "check_handshake", "handshake_response")

#: The only protocol version this server speaks (RFC 6455 4.2.1, item 6).
WEBSOCKET_VERSION = "13"


_KEY = re.compile(r"[A-Za-z0-9+/]{22}==")
_BAD_KEY = "invalid 'Sec-WebSocket-Key' (must be base64 of 16 bytes)"
# the 101 response up to its accept key (the same for every handshake)
_SWITCHING = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "


def _has_token(value: str, token: str) -> bool:
    """Return whether the comma-separated header ``value`` lists ``token`` (case-insensitive)."""
    if "," not in value:
        return value.strip().lower() == token
    return any(part.strip().lower() == token for part in value.split(","))


def check_handshake(method: str, headers: dict[str, str]) -> str | None:
    """Check that a request is a valid WebSocket opening handshake (RFC 6455 4.2.1).

    Args:
        method: the request method.
        headers: the request headers, keys in lower case.

    Returns:
        ``None`` if the request may be upgraded, else a message saying what is
        wrong (answer it with 400 Bad Request; when the message is about
        ``Sec-WebSocket-Version``, RFC 6455 4.2.2 asks for 426 and a
        ``Sec-WebSocket-Version: 13`` header).
    """
    if method != "GET":
        return "WebSocket handshake method must be GET"
    if not _has_token(headers.get("upgrade", ""), "websocket"):
        return "missing header 'Upgrade: websocket'"
    if not _has_token(headers.get("connection", ""), "upgrade"):
        return "missing header 'Connection: Upgrade'"
    if headers.get("sec-websocket-version") != WEBSOCKET_VERSION:
        return "unsupported or missing 'Sec-WebSocket-Version' (expected 13)"
    key = headers.get("sec-websocket-key")
    if key is None:
        return "missing header 'Sec-WebSocket-Key'"
    # 4.1: "a randomly selected 16-byte value that has been base64-encoded",
    # which is always 22 base64 characters and "==" (what decodes to 16 bytes).
    return None if _KEY.fullmatch(key) is not None else _BAD_KEY


def handshake_response(key: str, extra_headers: list[tuple[str, str]] | None = None) -> bytes:
    """Return the complete ``101 Switching Protocols`` response (RFC 6455 4.2.2).

    Args:
        key: the request's ``Sec-WebSocket-Key``, already checked with
            :func:`check_handshake`.
        extra_headers: more ``(name, value)`` headers to send, e.g.
            ``Sec-WebSocket-Protocol`` or ``Set-Cookie``.

    Returns:
        The status line and headers, ending with the blank line, as bytes.

    Raises:
        ValueError: a header name or value contains CR, LF or NUL, or is not
            Latin-1 (this would allow response splitting).
    """
    accept = _SWITCHING + accept_key(key)
    if not extra_headers:
        return (accept + "\r\n\r\n").encode("latin-1")
    lines = [accept]
    for name, value in extra_headers:
        if not name or ":" in name or _bad_header_chars(name) or _bad_header_chars(value):
            raise ValueError(f"invalid header {name!r}: {value!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")



def _bad_header_chars(text: str) -> bool:
    """Return whether ``text`` holds a character that would break the header block."""
    return "\r" in text or "\n" in text or "\0" in text
