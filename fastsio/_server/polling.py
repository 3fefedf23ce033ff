"""The long-polling transport's HTTP side: request bodies, response bodies and their
headers, compression, and the Engine.IO v3 payload framing a polling client asks for.

A long-polling POST carries one Engine.IO payload: text (UTF-8), or for an Engine.IO v3
session a binary payload (``application/octet-stream``) or a JSONP form
(:func:`post_payload`).  The framing of a v3 session's payloads (binary or base64, JSONP
index, the text mode of engine.io-client 1.4/1.5) is chosen from its handshake query
(:func:`v3_codec`).

A long-polling GET is answered with one Engine.IO payload (``str``; ``bytes`` for an
Engine.IO v3 binary payload, sent as ``application/octet-stream``).  A payload of
:data:`COMPRESSION_THRESHOLD` bytes or more is compressed (gzip, or HTTP "deflate",
i.e. zlib) when ``http_compression`` is on and the client accepts it
(:func:`accepted_encoding` of its ``Accept-Encoding``).  The HTTP connection keeps the
headers and the encoding of its pending GET and calls :func:`poll_response` when the
session answers it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping

from ..protocol import engineio as eio
from ..protocol.engineio.v3 import Eio3Codec

__all__ = ("COMPRESSION_THRESHOLD", "accepted_encoding", "poll_headers", "poll_response", "post_payload", "v3_codec")

# engine.io-client 1.4/1.5's cache-busting parameter (later ones use yeast ids): these
# clients read polling responses only as binary payloads when they support binary
_EIO_CLIENT_1_4 = re.compile(r"\d{10,}-\d+")

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


def v3_codec(query: Mapping[str, str]) -> Eio3Codec:
    """The payload framing of an Engine.IO v3 session, from its handshake query:
    ``b64`` (base64 instead of binary), the JSONP index ``j``, and engine.io-client
    1.4/1.5 (recognised by its ``t`` parameter), which reads binary payloads only."""
    j = query.get("j")
    old_client = _EIO_CLIENT_1_4.fullmatch(query.get("t", "")) is not None
    return Eio3Codec(
        binary="b64" not in query,
        jsonp=eio.jsonp_index(j) if j is not None else None,
        text_mode=eio.TEXT_UTF8 if old_client else eio.TEXT_UNKNOWN,
        always_binary=old_client,
    )


def poll_headers(cors: list[tuple[str, str]], v3: Eio3Codec | None) -> list[tuple[str, str]]:
    """The headers of a long-polling GET's answer (``Content-Type`` first); a JSONP
    session's answer is a script, without CORS headers."""
    if v3 is not None and v3.jsonp is not None:
        return [("Content-Type", "text/javascript; charset=UTF-8"), ("X-XSS-Protection", "0")]
    headers = [("Content-Type", "text/plain; charset=UTF-8")]
    headers.extend(cors)
    return headers


def post_payload(v3: Eio3Codec | None, body: bytes, content_type: str) -> str | bytes:
    """A long-polling POST's body as the payload the session decodes: text, or for an
    Engine.IO v3 session a JSONP form's payload or a binary payload (``bytes``).

    Raises:
        UnicodeDecodeError: a text body that is not UTF-8.
        EngineIOError: a JSONP form that does not parse.
    """
    if v3 is None:
        return body.decode("utf-8")
    if v3.jsonp is not None:
        return eio.decode_jsonp_body(body)
    if content_type.split(";")[0].strip() == "application/octet-stream":
        return body  # an EIO3 binary payload
    return body.decode("utf-8")
