"""permessage-deflate (RFC 7692), server side, sans-I/O: options, negotiation, compression.

Theory of operation
===================

The extension is opt-in (``per_message_deflate``, off by default like Node's
socket.io 4).  Three pieces, none of which touches a socket:

* :class:`~fastsio.options.DeflateOptions` is the validated server option (it
  lives in :mod:`fastsio.options`, and is re-exported here).
* :func:`negotiate` reads the client's ``Sec-WebSocket-Extensions`` header and
  returns the :class:`DeflateParams` agreed on (with the value of the
  ``Sec-WebSocket-Extensions`` response header), or ``None``: no compression
  on this connection.
* :class:`Deflater` compresses outgoing messages of one connection.  The
  inflating half lives in the frame parser (``FrameParser(max_size,
  inflate_window_bits, inflate_no_context_takeover)`` of
  :mod:`fastsio._speedups.wsframe`), which bounds what it inflates by the
  message size limit.

Negotiation rules (RFC 7692 5 and 7.1):

1. The header is a comma-separated list of offers, each an extension name and
   ``;``-separated parameters, with or without a value (a token or a quoted
   string), RFC 6455 9.1.  A header that does not parse negotiates nothing.
2. Offers are tried in order; the first acceptable ``permessage-deflate`` offer
   wins.  An offer is declined (and the next one tried) when it has an unknown
   parameter, a parameter twice, or an invalid value (7.1: window bits are
   ``8``..``15`` without leading zeros; the ``*_no_context_takeover`` ones and,
   from a server, ``client_max_window_bits`` take no value).
3. ``server_no_context_takeover`` asked by the client is always granted; the
   server also sends it when configured so.  The compressor is then reset after
   every message.
4. ``client_no_context_takeover`` is sent when configured, or echoed when the
   client offered it; the inflater is then reset after every message.
5. ``server_max_window_bits``: the smaller of the client's value and the
   configured one; sent when the client asked or when the configured value is
   under 15.  zlib cannot deflate with a raw window of 8 bits: 8 is sent as is
   and compressed with 9, which (like Node's zlib binding does) yields a stream
   whose distances fit a 256-byte window (zlib keeps 262 bytes of lookahead).
6. ``client_max_window_bits``: without it in the offer the client may use 15
   bits, so a configured value under 15 declines the offer (as Node's ws does);
   with it, the smaller of the client's value (none: 15) and the configured one
   is sent unless it is 15 and the client gave no value.

Compression of a message (7.2.1): deflate with a sync flush, drop the final
``00 00 ff ff``, set RSV1 on the (only) frame.  Messages under ``threshold``
bytes go uncompressed, RSV1 clear, as engine.io does.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from ...options import DeflateOptions

__all__ = ("EXTENSION", "DeflateOptions", "DeflateParams", "Deflater", "negotiate", "parse_extensions")

#: The extension token (RFC 7692 5).
EXTENSION = "permessage-deflate"

# Window bits as they may appear in a header: "8".."15", no leading zeros (7.1.2).
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}

# RFC 7230 3.2.6: token and quoted-string; OWS around the separators.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED = re.compile(r'"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*)"')
_OWS = re.compile(r"[ \t]*")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """What one connection agreed on (the result of :func:`negotiate`).

    Attributes:
        response: the value of the ``Sec-WebSocket-Extensions`` response header.
        server_no_context_takeover: the server resets its compressor per message.
        client_no_context_takeover: the client resets its compressor per
            message (the server resets its inflater too).
        server_max_window_bits: the window the server compresses with (8..15).
        client_max_window_bits: the window the client compresses with (8..15).
    """

    response: str
    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int
    client_max_window_bits: int


def parse_extensions(header: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Parse a ``Sec-WebSocket-Extensions`` value (RFC 6455 9.1).

    Args:
        header: the header value (several headers joined with ``", "``).

    Returns:
        The offers in order: ``(name, [(param, value or None), ...])``; a quoted
        value is returned unquoted.  Empty list elements are skipped (RFC 7230 7).

    Raises:
        ValueError: the value does not follow the grammar.
    """
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    pos = 0
    end = len(header)

    def skip_ows(p: int) -> int:
        m = _OWS.match(header, p)
        assert m is not None  # matches the empty string
        return m.end()

    while True:
        pos = skip_ows(pos)
        if pos < end and header[pos] == ",":
            pos += 1
            continue
        if pos >= end:
            return offers
        m = _TOKEN.match(header, pos)
        if m is None:
            raise ValueError(f"expected an extension name at {pos}")
        name = m.group()
        params: list[tuple[str, str | None]] = []
        pos = skip_ows(m.end())
        while pos < end and header[pos] == ";":
            pos = skip_ows(pos + 1)
            m = _TOKEN.match(header, pos)
            if m is None:
                raise ValueError(f"expected a parameter name at {pos}")
            key = m.group()
            value: str | None = None
            pos = skip_ows(m.end())
            if pos < end and header[pos] == "=":
                pos = skip_ows(pos + 1)
                m = _TOKEN.match(header, pos)
                if m is not None:
                    value = m.group()
                else:
                    m = _QUOTED.match(header, pos)
                    if m is None:
                        raise ValueError(f"expected a parameter value at {pos}")
                    value = _ESCAPE.sub(r"\1", m.group(1))
                    # 9.1: a quoted value must still be a token once unquoted
                    if _TOKEN.fullmatch(value) is None:
                        raise ValueError(f"quoted value {value!r} is not a token")
                pos = skip_ows(m.end())
            params.append((key, value))
        if pos < end and header[pos] != ",":
            raise ValueError(f"unexpected {header[pos]!r} at {pos}")
        offers.append((name, params))


def _accept(params: list[tuple[str, str | None]], options: DeflateOptions) -> DeflateParams | None:
    """Return what answering one ``permessage-deflate`` offer agrees on, or None to decline it."""
    seen: set[str] = set()
    server_nct = False
    client_nct = False
    server_bits: int | None = None
    client_bits: int | None = None
    client_bits_offered = False
    for key, value in params:
        if key in seen:
            return None  # 7: a parameter given twice
        seen.add(key)
        if key == "server_no_context_takeover" or key == "client_no_context_takeover":
            if value is not None:
                return None
            if key[0] == "s":
                server_nct = True
            else:
                client_nct = True
        elif key == "server_max_window_bits":
            if value is None or value not in _WINDOW_BITS:
                return None
            server_bits = _WINDOW_BITS[value]
        elif key == "client_max_window_bits":
            client_bits_offered = True
            if value is not None:
                if value not in _WINDOW_BITS:
                    return None
                client_bits = _WINDOW_BITS[value]
        else:
            return None  # unknown parameter
    # rule 6: a client that did not offer client_max_window_bits uses up to 15
    if not client_bits_offered and options.client_max_window_bits < 15:
        return None
    server_nct = server_nct or options.server_no_context_takeover
    client_nct = client_nct or options.client_no_context_takeover
    response = [EXTENSION]
    if server_nct:
        response.append("server_no_context_takeover")
    if client_nct:
        response.append("client_no_context_takeover")
    server_window = min(server_bits or 15, options.server_max_window_bits)
    if server_bits is not None or server_window < 15:
        response.append(f"server_max_window_bits={server_window}")
    client_window = min(client_bits or 15, options.client_max_window_bits)
    if client_bits_offered and (client_bits is not None or client_window < 15):
        response.append(f"client_max_window_bits={client_window}")
    return DeflateParams("; ".join(response), server_nct, client_nct, server_window, client_window)


def negotiate(header: str | None, options: DeflateOptions) -> DeflateParams | None:
    """Answer the client's extension offers (RFC 7692 5, 7.1).

    Args:
        header: the request's ``Sec-WebSocket-Extensions`` value, or None.
        options: the server's options.

    Returns:
        The agreed parameters (send ``Sec-WebSocket-Extensions: <response>``
        with the 101), or ``None``: no offer was acceptable, or the header does
        not parse; the connection then goes uncompressed.
    """
    if not header:
        return None
    try:
        offers = parse_extensions(header)
    except ValueError:
        return None
    for name, params in offers:
        if name == EXTENSION:
            agreed = _accept(params, options)
            if agreed is not None:
                return agreed
    return None


class Deflater:
    """The compressing half of permessage-deflate for one connection.

    The zlib compressor is made on the first compressed message (a connection
    that never sends a large message never holds one) and, with
    ``server_no_context_takeover``, dropped after every message.  With context
    takeover it holds zlib's state for the connection's life: about
    ``2 ** (wbits + 2) + 2 ** (mem_level + 9)`` bytes (256 KiB with the defaults).
    """

    __slots__ = ("params", "threshold", "_level", "_wbits", "_mem_level", "_reset", "_compressor")

    def __init__(self, params: DeflateParams, options: DeflateOptions) -> None:
        #: what was agreed (the frame parser's inflater follows the client's half)
        self.params = params
        #: messages shorter than this (bytes) are sent uncompressed
        self.threshold = options.threshold
        self._level = options.level
        # raw deflate (negative wbits); zlib refuses 8 for it, and 9 keeps
        # distances under 256 anyway (see the module docstring, rule 5)
        self._wbits = -max(params.server_max_window_bits, 9)
        self._mem_level = options.mem_level
        self._reset = params.server_no_context_takeover
        self._compressor: Any = None

    def compress(self, data: bytes) -> bytes:
        """Return the payload of the compressed message carrying ``data`` (RFC 7692 7.2.1)."""
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(self._level, zlib.DEFLATED, self._wbits, self._mem_level)
            if not self._reset:
                self._compressor = compressor
        out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # a sync flush always ends with an empty stored block, 00 00 ff ff: dropped
        return out[:-4]
