"""RFC 6455 WebSocket framing, server side: the pure-Python twin (the specification).

This module is the reference implementation of ``wsframe``.  The compiled twin
(``wsframe_c``) is built from this very source by Cython, with an augmenting
``wsframe_c.pxd``; so the code below sticks to module-level int constants, plain
classes and int arithmetic.  Nothing here performs I/O: bytes go in, events and
bytes come out.

Theory of operation of :class:`FrameParser`
===========================================

The parser turns the byte stream a *client* sends to the server into complete
messages and control frames.  State, all of it on the instance:

* ``_buf``: the bytes received but not consumed yet (None when there are
  none, so an idle connection holds no buffer).  It only ever holds the
  head of one incomplete frame; complete frames never stay in it.
* ``_need``: how many bytes ``_buf`` must hold before parsing can progress.  A
  chunk that does not reach it is appended and nothing else happens, so a large
  frame arriving in many chunks costs one append per chunk, not one re-parse.
* the open fragmented message, if any: ``_frag_opcode`` (``0`` when none,
  else :data:`OP_TEXT` or :data:`OP_BINARY`), its parts, its size so far and,
  for text, an incremental UTF-8 decoder.
* with permessage-deflate (RFC 7692) negotiated: the inflater and whether the
  open message is compressed (``_frag_compressed``).
* ``_closed`` once a Close frame has been parsed, ``_error`` once the stream
  has been found invalid.

A parser with none of this state (``_buf`` None, no open message, no inflater,
not closed, not failed) is :attr:`~FrameParser.idle`: the only thing left on it
is its configuration, so the connections of a server can share one idle parser
between reads (``fastsio._server.websocket`` does).

:meth:`FrameParser.feed` works on one contiguous block: the chunk itself when
``_buf`` is empty (no copy), else ``_buf`` with the chunk appended.  It walks
the block frame by frame with int operations only, and at the end drops the
consumed prefix once (``del buf[:pos]``) or stores the incomplete tail.

Rules, checked for each frame as soon as the bytes they need are present:

1. **Header (2 bytes).**  RSV1-3 must be clear, except RSV1 on the first frame
   of a Text or Binary message once permessage-deflate is negotiated (rule 4);
   the opcode must be one of 0, 1, 2, 8, 9, 10, and the MASK bit must be set
   (RFC 6455 5.1: "a client MUST mask all frames").  A control frame (opcode
   >= 8) must have FIN set and a 7-bit length of at most 125 (5.5).  A
   continuation frame needs an open fragmented message and a Text or Binary
   frame needs none (5.4).  All of these fail with 1002 (protocol error).
2. **Extended length.**  The 16-bit and 64-bit forms must be minimal (like
   wsproto: 1002) and the 64-bit form must have its most significant bit clear
   (5.2: 1002).  As soon as the length is known, and before any payload is
   buffered, a data frame that would take the message past ``max_size`` fails
   with 1009 (message too big); control frames are bounded by rule 1 instead.
3. **Payload.**  When the whole frame is present it is unmasked (5.3) and
   dispatched:

   * an unfragmented Text frame is decoded in one go (invalid UTF-8: 1007);
   * an unfragmented Binary frame is emitted as is;
   * a fragment joins the open message; text fragments go through an
     incremental decoder, so a message fails (1007) on the first fragment
     whose prefix is invalid, without waiting for the final fragment;
   * Ping and Pong are emitted at once, even between fragments (5.4);
   * Close is parsed (7.1.5, 7.4): an empty payload means 1005 (no status), a
     1-byte payload or a code peers must not send is 1002, a reason that is
     not UTF-8 is 1007.  After a Close frame the peer must not send anything
     (5.5.1), so the parser discards all later input and ``feed`` returns
     ``[]``.

4. **Compressed messages** (RFC 7692, when ``inflate_window_bits`` is given).
   RSV1 on the first frame marks the message compressed (6); on a
   continuation or control frame it is 1002 (6.1, 6.2).  Each fragment is
   inflated as it completes, the last one followed by ``00 00 ff ff`` (7.2.2),
   through one raw-deflate inflater per connection, or per message with
   ``inflate_no_context_takeover``.  Inflating never produces more than the
   room left under ``max_size`` plus one byte (``decompress(data,
   max_length)``), so a message that inflates past the limit fails with 1009
   after at most ``max_size + 1`` bytes of output, however small its wire
   form.  Its frames are bounded on the wire too, before they are buffered:
   rule 2 applies with the inflated size so far as the running size, and a
   frame over the limit there still passes when no longer than deflate's worst
   case for a ``max_size`` message (zlib's ``deflateBound``, a fraction of a
   percent more), so an incompressible message of ``max_size`` bytes fits.
   Data that does not inflate is 1007, as with Node's ws and wsproto; inflated
   text is UTF-8 checked like any text (1007).

Error handling: the first violation raises :class:`WebSocketError` carrying the
close code to send; the messages completed earlier in the same ``feed`` call
travel on it as ``.events`` so that none is lost.  The parser is then dead: any
later ``feed`` raises an equal error (same code and reason, empty ``.events``).

Close codes and acceptance rules match wsproto's ``FrameProtocol``; the
differential tests in ``tests/speedups/test_wsframe_wsproto.py`` hold both to
that.  The differences are in *timing* only, and vanish once a frame is
complete: this parser rejects a bad header (rules 1 and 2) as soon as the
bytes involved arrive, where wsproto waits for the whole header, and it checks
the UTF-8 of a text frame when the frame is complete, where wsproto checks it
while the payload is still arriving.

Performance notes (CPython 3.11, measured against the alternatives):

* Unmasking goes through ``_unmask`` (:func:`fastsio.protocol.websocket.mask_py.unmask`):
  an ``int.from_bytes`` XOR for payloads up to 512 bytes (2x faster than
  ``bytes.translate`` at 100 bytes, 10x faster than a per-byte loop) and four
  strided ``bytes.translate`` calls above it (2.5x faster than the int XOR at
  64 KiB).  The compiled twin binds ``_unmask`` to a C loop instead (see
  ``wsframe_c.pxd`` and ``_frame.pyx``, as aiohttp's ``reader_c.pxd`` does with
  ``websocket_mask``); the helper call costs the pure twin a few percent on
  100-byte frames.
* Unmasking all the frames of a chunk with one big XOR was tried: 10-20%
  faster for many tiny frames per chunk, 20% slower for one frame per chunk
  (the common case), so frames are unmasked one by one.
* For the compiled twin (this file compiled by Cython as ``wsframe_c``, typed
  by ``wsframe_c.pxd``): header bytes are read through ``data``, an alias of
  the block that the ``.pxd`` types as a C pointer; the 64-bit length is
  assembled byte by byte so that it stays a C integer; the public ``OP_*`` /
  ``CLOSE_*`` names are not ``cdef``-ed in the ``.pxd`` (they would vanish
  from the module).  :func:`build_frame` ends in ``_frame``
  (:func:`fastsio.protocol.websocket.mask_py.frame`), which the compiled twin binds to
  a C function that writes the header and copies the payload into one
  allocation.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import struct
import zlib
from typing import Any

from fastsio.protocol.websocket.mask_py import INT_XOR_MAX as _INT_XOR_MAX
from fastsio.protocol.websocket.mask_py import frame as _frame
from fastsio.protocol.websocket.mask_py import unmask as _unmask
from fastsio.protocol.websocket.mask_py import unmask_large as _unmask_large

__all__ = (
    "CLOSE_ABNORMAL",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_INVALID_DATA",
    "CLOSE_MANDATORY_EXT",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_POLICY",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_TOO_BIG",
    "CLOSE_UNSUPPORTED",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameParser",
    "WebSocketError",
    "accept_key",
    "build_close",
    "build_frame",
    "build_frame_binary",
    "build_frame_text",
    "is_valid_close_code",
    "mask_payload",
)

# Opcodes (RFC 6455 5.2).  Plain ints, not an enum: they are compared in the
# hot loop and a .pxd can type them.
OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

# Close codes (RFC 6455 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED = 1003
CLOSE_NO_STATUS = 1005  # local only: never on the wire
CLOSE_ABNORMAL = 1006  # local only: never on the wire
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_MANDATORY_EXT = 1010
CLOSE_INTERNAL_ERROR = 1011

# Codes below 3000 a peer may send: those RFC 6455 defines plus 1012/1013
# (IANA registry), minus the local-only 1005, 1006 and 1015.  3000-4999 are
# open to libraries and applications.  This is exactly the set wsproto accepts.
_WIRE_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013))
# Codes that mean "no close frame payload" when sending.
_LOCAL_CLOSE_CODES = frozenset((1005, 1006, 1015))

# A message size limit at or above this is no limit (lengths are 63-bit, 5.2).
_NO_LIMIT = 1 << 63

# A Close reason has 125 - 2 bytes of room (5.5).
_MAX_CLOSE_REASON = 123

# Inflate limits at or above this are passed to zlib as "none" (it takes a ssize_t).
_HUGE = 1 << 62

# RFC 7692 7.2.2: appended to a compressed message before inflating its last part.
_DEFLATE_TRAILER = b"\x00\x00\xff\xff"

# RFC 6455 1.3: the GUID appended to Sec-WebSocket-Key.
_ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_pack_h2 = struct.Struct("!BB").pack
_pack_h4 = struct.Struct("!BBH").pack
_pack_h10 = struct.Struct("!BBQ").pack

# Two-byte headers of unfragmented text / binary frames, by payload length.
_TEXT_HEADERS = tuple(_pack_h2(0x81, n) for n in range(126))
_BINARY_HEADERS = tuple(_pack_h2(0x82, n) for n in range(126))


_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class WebSocketError(Exception):
    """The peer broke RFC 6455; close the connection with :attr:`code`.

    Attributes:
        code: the close code to send (1002 protocol error, 1007 invalid
            payload data, 1009 message too big).
        reason: a short description, safe to send as the close reason.
        events: the messages that :meth:`FrameParser.feed` completed before it
            hit the error, in order (the same shape as its return value).
            Deliver them before closing if you want to; empty on re-raise.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.events: list[tuple[int, object]] = []

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


def is_valid_close_code(code: int) -> bool:
    """Return whether a peer may put ``code`` in a Close frame (RFC 6455 7.4)."""
    if code < 3000:
        return code in _WIRE_CLOSE_CODES
    return code < 5000


def _parse_close(payload: bytes) -> tuple[int, str]:
    """Return ``(code, reason)`` of a Close payload, or raise WebSocketError."""
    n = len(payload)
    if n == 0:
        # 7.1.5: "If this Close control frame contains no status code, _The
        # WebSocket Connection Close Code_ is considered to be 1005."
        return (CLOSE_NO_STATUS, "")
    if n == 1:
        raise WebSocketError(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if not is_valid_close_code(code):
        raise WebSocketError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketError(CLOSE_INVALID_DATA, "invalid UTF-8 in close reason") from None
    return (code, reason)


def mask_payload(mask: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """Return ``data`` masked (or unmasked) with the 4-byte ``mask`` (RFC 6455 5.3).

    Args:
        mask: the 4-byte masking key.
        data: the payload.

    Returns:
        A new :class:`bytes` object of the same length as ``data``.

    Raises:
        ValueError: if ``mask`` is not 4 bytes long.
    """
    if len(mask) != 4:
        raise ValueError("mask must be 4 bytes")
    n = len(data)
    if n == 0:
        return b""
    if n > _INT_XOR_MAX:
        return _unmask_large(mask, data)
    # XOR as two little-endian ints: mask repeated to exactly n bytes.
    return (int.from_bytes(data, "little") ^ int.from_bytes((mask * ((n + 3) >> 2))[:n], "little")).to_bytes(
        n, "little"
    )


class FrameParser:
    """Server-side parser of client frames (client frames MUST be masked).

    See the module docstring for the rules.  Usage::

        parser = FrameParser(max_size=1_000_000)
        try:
            for opcode, value in parser.feed(chunk):
                ...
        except WebSocketError as exc:
            handle(exc.events)  # optional: messages completed before the error
            transport.write(build_close(exc.code, exc.reason))
    """

    def __init__(
        self, max_size: int = 1_000_000, inflate_window_bits: int = 0, inflate_no_context_takeover: bool = False
    ) -> None:
        """Create a parser.

        Args:
            max_size: maximum size in bytes of one complete (reassembled)
                data message, inflated; ``0`` means unlimited.
            inflate_window_bits: ``0`` when permessage-deflate is not
                negotiated (RSV1 is then a protocol error), else the client's
                window bits (8..15; 8 is inflated with 9, which reads any
                8-bit stream).
            inflate_no_context_takeover: the client resets its compressor
                after every message (``client_no_context_takeover``), so the
                inflater is reset too.

        Raises:
            ValueError: ``max_size`` is negative or ``inflate_window_bits``
                is not 0 or 8..15.
        """
        if max_size < 0:
            raise ValueError("max_size must be >= 0")
        if inflate_window_bits and not 8 <= inflate_window_bits <= 15:
            raise ValueError("inflate_window_bits must be 0 or from 8 to 15")
        # Configuration.  A limit that no frame length can reach (2**63 bytes
        # and above, 5.2) is no limit: this keeps sizes 64-bit in the C twin.
        self._max_size = 0 if max_size >= _NO_LIMIT else int(max_size)
        # Stream state: unconsumed bytes (None while there are none: a held
        # connection between messages keeps no buffer), and how many _buf needs to
        # progress.
        self._buf: bytearray | None = None
        self._need = 0
        # Open fragmented message: opcode (0 = none), parts, bytes so far, and
        # the incremental decoder that validates text fragments as they come.
        self._frag_opcode = 0
        self._frag_parts: list[Any] | None = None
        self._frag_size = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        # permessage-deflate: the inflater's window bits (0: not negotiated),
        # whether to drop the inflater after each message, the inflater (made
        # on the first compressed message), whether the open message is compressed.
        self._inflate_bits = max(int(inflate_window_bits), 9) if inflate_window_bits else 0
        self._inflate_reset = bool(inflate_no_context_takeover)
        self._inflater: Any = None
        self._frag_compressed = False
        # The longest compressed frame accepted: zlib's deflateBound() of a
        # max_size message, plus room for the flush (rule 4).
        m = self._max_size
        self._wire_max = m + (m >> 12) + (m >> 14) + (m >> 25) + 32
        # Terminal states: a Close frame was parsed; the stream was invalid.
        self._closed = False
        self._error: WebSocketError | None = None

    @property
    def closed(self) -> bool:
        """Whether a Close frame was parsed (later input is then ignored)."""
        return self._closed

    @property
    def idle(self) -> bool:
        """Whether the parser is between messages: no unconsumed bytes, no open
        fragmented message, no inflater, neither closed nor failed.  An idle parser
        holds nothing that a new parser with the same ``max_size`` (and no
        permessage-deflate) would not: it can serve another connection next."""
        return (
            self._buf is None
            and self._frag_opcode == 0
            and self._inflater is None
            and not self._closed
            and self._error is None
        )

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, object]]:
        """Consume a chunk of the client's byte stream.

        Args:
            data: any chunk: several frames, part of a frame, one byte.  It is
                not referenced after the call returns.

        Returns:
            The messages and control frames completed by this chunk, in order:
            ``(OP_TEXT, str)``, ``(OP_BINARY, bytes)``, ``(OP_PING, bytes)``,
            ``(OP_PONG, bytes)`` and ``(OP_CLOSE, (code, reason))``.  After a
            Close frame, always ``[]``.

        Raises:
            WebSocketError: the stream is invalid; send a Close frame with its
                ``code`` and drop the connection.  Its ``events`` holds the
                messages completed before the error in this call.
        """
        if self._error is not None:
            raise WebSocketError(self._error.code, self._error.reason)
        if self._closed:
            return []
        buf = self._buf
        if buf is not None:
            buf += data
            have = len(buf)
            if have < self._need:
                return []
            src: bytes | bytearray = buf
        elif type(data) is bytes:
            src = data
        else:
            # Copy: the caller may reuse its buffer once we return.
            src = bytes(data)
        events: list[tuple[int, object]] = []
        try:
            pos = self._parse(src, events)
        except WebSocketError as exc:
            self._fail(exc, events)
            raise
        except UnicodeDecodeError:
            error = WebSocketError(CLOSE_INVALID_DATA, "invalid UTF-8 in text message")
            self._fail(error, events)
            raise error from None
        if self._closed:
            self._buf = None
        elif src is buf:
            if pos:
                if pos == len(buf):
                    self._buf = None
                else:
                    del buf[:pos]
        elif pos < len(src):
            self._buf = bytearray(memoryview(src)[pos:])
        return events

    def _fail(self, exc: WebSocketError, events: list[tuple[int, object]]) -> None:
        """Enter the dead state after ``exc``; hand over ``events`` on it."""
        exc.events = events
        self._error = exc
        self._buf = None
        self._frag_parts = None
        self._decoder = None
        self._inflater = None

    def _parse(self, src: bytes | bytearray, events: list[tuple[int, object]]) -> int:
        """Parse the complete frames at the start of ``src`` into ``events``.

        Returns the number of bytes consumed and sets ``_need`` to the number
        of bytes the incomplete remainder needs before it can progress.
        """
        # ``data`` is ``src``; the compiled twin types it as a C pointer for
        # the header bytes (``src`` stays the object handed to ``_unmask``).
        data = src
        end = len(src)
        pos = 0
        max_size = self._max_size
        frag = self._frag_opcode
        need = 2
        while True:
            avail = end - pos
            if avail < 2:
                need = 2
                break
            b0 = data[pos]
            b1 = data[pos + 1]
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            n = b1 & 0x7F
            if b0 & 0x70:
                # RSV1 is permessage-deflate's "compressed" bit, allowed on the
                # first frame of a data message once negotiated (RFC 7692 6).
                if b0 & 0x30 or not self._inflate_bits or opcode == 0 or opcode > 2:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
            if opcode >= 8:
                if opcode > 10:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
                if not fin:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
                if n > 125:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes")
            elif opcode > 2:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
            elif opcode == 0:
                if not frag:
                    raise WebSocketError(
                        CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue"
                    )
            elif frag:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, "new data frame inside a fragmented message")
            if not b1 & 0x80:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, "unmasked client frame")
            if n < 126:
                hlen = 6
            elif n == 126:
                if avail < 4:
                    need = 4
                    break
                n = (data[pos + 2] << 8) | data[pos + 3]
                if n < 126:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, "non-minimal 16-bit payload length")
                hlen = 8
            else:
                if avail < 10:
                    need = 10
                    break
                # Byte by byte rather than int.from_bytes: a C integer in the
                # compiled twin, and 64-bit frames are rare.
                n = 0
                for k in range(pos + 2, pos + 10):
                    n = (n << 8) | data[k]
                if n >> 63:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, "64-bit payload length with the high bit set")
                if n < 0x10000:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, "non-minimal 64-bit payload length")
                hlen = 14
            if max_size and opcode < 8 and n + (0 if opcode else self._frag_size) > max_size:
                # A compressed frame may be a little longer than what it inflates
                # to; it is bounded by deflate's worst case for a whole message
                # of max_size bytes instead, and its inflated size as it inflates.
                if not ((b0 & 0x40 if opcode else self._frag_compressed) and n <= self._wire_max):
                    raise WebSocketError(CLOSE_TOO_BIG, f"message over {max_size} bytes")
            frame_end = pos + hlen + n
            if frame_end > end:
                need = frame_end - pos
                break

            # Unmask (5.3).  The key is the last 4 header bytes.
            start = pos + hlen
            payload = _unmask(src, start, frame_end)
            pos = frame_end

            # Dispatch.  RSV bits are clear here, so 0x81 / 0x82 are exactly
            # the unfragmented Text / Binary frames: the common case.
            if b0 == 0x81:
                events.append((OP_TEXT, payload.decode("utf-8")))
            elif b0 == 0x82:
                events.append((OP_BINARY, payload))
            elif opcode < 8:
                frag = self._fragment(b0, n, payload, events)
            elif opcode == OP_CLOSE:
                events.append((OP_CLOSE, _parse_close(payload)))
                # 5.5.1: nothing may follow a Close frame; ignore the rest.
                self._closed = True
                self._need = 0
                return end
            else:
                events.append((opcode, payload))
        self._need = need
        return pos

    def _fragment(self, b0: int, n: int, payload: bytes, events: list[tuple[int, object]]) -> int:
        """Add one fragment to the open message (5.4) and emit the message on the last.

        Also takes every frame of a compressed message, fragmented or not.
        Returns the opcode of the message left open (``0`` when none).
        """
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        if opcode:
            # The first fragment opens the message.
            self._frag_opcode = opcode
            self._frag_size = 0
            self._frag_parts = []
            self._frag_compressed = (b0 & 0x40) != 0
            if self._frag_compressed and fin:
                # One compressed frame: the whole message at once.
                payload = self._inflate(payload, fin)
                self._frag_opcode = 0
                self._frag_compressed = False
                if opcode == OP_TEXT:
                    events.append((OP_TEXT, payload.decode("utf-8")))
                else:
                    events.append((OP_BINARY, payload))
                return 0
            if opcode == OP_TEXT:
                self._decoder = _utf8_decoder()
        if self._frag_compressed:
            payload = self._inflate(payload, fin)
            n = len(payload)
        self._frag_size += n
        decoder = self._decoder
        if decoder is not None:
            # Fails (1007) as soon as the text so far cannot be UTF-8.
            self._frag_parts.append(decoder.decode(payload, bool(fin)))  # type: ignore[union-attr]
        else:
            self._frag_parts.append(payload)  # type: ignore[union-attr]
        if not fin:
            return self._frag_opcode
        if decoder is not None:
            events.append((OP_TEXT, "".join(self._frag_parts)))  # type: ignore[arg-type]
        else:
            events.append((OP_BINARY, b"".join(self._frag_parts)))  # type: ignore[arg-type]
        self._frag_opcode = 0
        self._frag_size = 0
        self._frag_parts = None
        self._decoder = None
        self._frag_compressed = False
        return 0

    def _inflate(self, data: bytes, fin: int) -> bytes:
        """Return the inflated bytes of one part of a compressed message (RFC 7692 7.2.2).

        Raises WebSocketError: 1009 when the message inflates past
        ``max_size``, 1007 when ``data`` is not valid deflate data.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(-self._inflate_bits)
        max_size = self._max_size
        try:
            if max_size:
                # At most one byte past the room left: output under the cap
                # means every input byte was consumed.
                room = max_size - self._frag_size
                # (zlib takes a ssize_t; a limit that large is no limit)
                cap = room + 1 if room < _HUGE else 0
                out: bytes = inflater.decompress(data, cap)
                if fin and len(out) <= room:
                    out += inflater.decompress(_DEFLATE_TRAILER, cap - len(out) if cap else 0)
                if len(out) > room:
                    raise WebSocketError(CLOSE_TOO_BIG, f"message over {max_size} bytes")
            else:
                out = inflater.decompress(data)
                if fin:
                    out += inflater.decompress(_DEFLATE_TRAILER)
        except zlib.error:
            raise WebSocketError(CLOSE_INVALID_DATA, "invalid compressed data") from None
        if fin and (self._inflate_reset or inflater.eof):
            # A new message starts a new stream (after a block with BFINAL
            # set too, RFC 7692 7.2.3.3).
            self._inflater = None
        return out


def build_frame(
    opcode: int, payload: bytes | bytearray | memoryview | str, fin: bool = True, rsv1: bool = False
) -> bytes:
    """Return one server frame: unmasked, minimal length form (RFC 6455 5.2).

    Args:
        opcode: one of the ``OP_*`` constants.
        payload: the payload; a :class:`str` is UTF-8 encoded.
        fin: whether this is the last frame of its message.
        rsv1: set RSV1 (per-message compression, once negotiated).

    Returns:
        The frame as :class:`bytes`.

    Raises:
        ValueError: unknown opcode, or a control frame that is fragmented or
            has more than 125 bytes of payload.
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    elif type(payload) is not bytes:
        # Any buffer, by its bytes (the len() of a memoryview counts items).
        payload = bytes(payload)
    n = len(payload)
    if opcode >= 8:
        if opcode > 10:
            raise ValueError(f"unknown opcode {opcode!r}")
        if n > 125:
            raise ValueError("control frame payload over 125 bytes")
        if not fin:
            raise ValueError("control frames cannot be fragmented")
    elif opcode > 2 or opcode < 0:
        raise ValueError(f"unknown opcode {opcode!r}")
    # The opcode is valid now (a C int in the compiled twin).
    b0 = opcode
    if fin:
        b0 |= 0x80
    if rsv1:
        b0 |= 0x40
    return _frame(b0, payload)


def build_frame_text(data: str) -> bytes:
    """Return an unfragmented Text frame carrying ``data`` (fast path of :func:`build_frame`)."""
    payload = data.encode("utf-8")
    n = len(payload)
    if n < 126:
        return _TEXT_HEADERS[n] + payload
    if n < 0x10000:
        return _pack_h4(0x81, 126, n) + payload
    return _pack_h10(0x81, 127, n) + payload


def build_frame_binary(data: bytes | bytearray | memoryview) -> bytes:
    """Return an unfragmented Binary frame carrying ``data`` (fast path of :func:`build_frame`)."""
    n = len(data)
    if n < 126:
        return _BINARY_HEADERS[n] + data
    if n < 0x10000:
        return _pack_h4(0x82, 126, n) + data
    return _pack_h10(0x82, 127, n) + data


def build_close(code: int | None = CLOSE_NORMAL, reason: str = "") -> bytes:
    """Return a complete server Close frame (RFC 6455 5.5.1).

    Args:
        code: the close code.  ``None`` and the local-only codes 1005, 1006
            and 1015 give a Close frame without payload (a peer reads 1005);
            ``reason`` is then dropped, since a reason needs a code.
        reason: the reason; UTF-8 encoded and cut to 123 bytes on a character
            boundary, as wsproto does.

    Returns:
        The frame as :class:`bytes`.

    Raises:
        ValueError: ``code`` is not one a peer accepts (see
            :func:`is_valid_close_code`).
    """
    if code is None or code in _LOCAL_CLOSE_CODES:
        return b"\x88\x00"
    if not is_valid_close_code(code):
        raise ValueError(f"invalid close code {code!r}")
    raw = reason.encode("utf-8")
    if len(raw) > _MAX_CLOSE_REASON:
        raw = raw[:_MAX_CLOSE_REASON].decode("utf-8", "ignore").encode("utf-8")
    return _pack_h2(0x88, 2 + len(raw)) + code.to_bytes(2, "big") + raw


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 4.2.2).

    Args:
        key: the client's key, as sent (base64 of 16 random bytes).

    Returns:
        ``base64(sha1(key + GUID))``.
    """
    digest = hashlib.sha1((key + _ACCEPT_GUID).encode("latin-1")).digest()
    return binascii.b2a_base64(digest, newline=False).decode("ascii")
