"""The long-polling transport's HTTP side: response bodies, their headers, compression.

A long-polling GET is answered with one Engine.IO payload (``str``; ``bytes`` for an
Engine.IO v3 binary payload, sent as ``application/octet-stream``).  A payload of
:data:`COMPRESSION_THRESHOLD` bytes or more is compressed (gzip, or HTTP "deflate",
i.e. zlib) when ``http_compression`` is on and the client accepts it
(:func:`accepted_encoding` of its ``Accept-Encoding``).  The HTTP connection keeps the
headers and the encoding of its pending GET and calls :func:`poll_response` when the
session answers it.
"""

from __future__ import annotations

import zlib

__all__ = ("COMPRESSION_THRESHOLD", "accepted_encoding", "poll_response")

#: long-polling responses this large or larger are compressed when the client accepts it
COMPRESSION_THRESHOLD = 1024

_ZERO_Q = ("0", "0.0", "0.00", "0.000")


def accepted_encoding(header: str | None) -> str | None:
    """``"gzip"`` or ``"deflate"`` if the client accepts it (q > 0), gzip first;
    None if it accepts neither (or sent no ``Accept-Encoding``)."""
    if not header:
        return None
    accepted = set()
    for item in header.lower().split(","):
        name, _, params = item.strip().partition(";")
        q = params.strip()
        if q.startswith("q=") and q[2:].strip() in _ZERO_Q:
            continue
        accepted.add(name.strip())
    if "gzip" in accepted:
        return "gzip"
    if "deflate" in accepted:
        return "deflate"
    return None


def poll_response(
    payload: str | bytes,
    headers: list[tuple[str, str]] | tuple[()],
    encoding: str | None,
) -> tuple[list[tuple[str, str]] | tuple[()], bytes]:
    """The headers and body answering a long-polling GET with ``payload``.

    Args:
        payload: the Engine.IO payload (``bytes``: an EIO3 binary payload).
        headers: the GET's response headers, ``Content-Type`` first (text).
        encoding: ``"gzip"``/``"deflate"`` when the response may be compressed.
    """
    if isinstance(payload, str):
        body = payload.encode("utf-8")
    else:
        binary: list[tuple[str, str]] = [("Content-Type", "application/octet-stream")]
        binary.extend(headers[1:])
        headers = binary
        body = payload
    if encoding is not None and len(body) >= COMPRESSION_THRESHOLD:
        if encoding == "gzip":
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip container
        else:
            packer = zlib.compressobj(6, zlib.DEFLATED, 15)  # HTTP "deflate" = zlib
        body = packer.compress(body) + packer.flush()
        headers = [*headers, ("Content-Encoding", encoding), ("Vary", "Accept-Encoding")]
    return headers, body
