"""One connection's incoming Socket.IO messages -> whole packets (sans-I/O).

A Socket.IO packet arrives as one or more Engine.IO messages:

* with a text parser (the default JSON format, ``parser.binary`` False), a packet is
  one text message, and a ``BINARY_EVENT``/``BINARY_ACK`` announces ``N`` binary
  attachments: the next ``N`` messages, which must all be binary.  A binary message
  nobody expects, a text message while attachments are expected, or more than
  ``max_attachments`` announced is a protocol error;
* with a binary parser (``msgpack``, ``parser.binary`` True), each message is one
  whole packet.

:class:`Decoder` does that for every connection of a server: it is built once (from
the server's parser) and holds no per-connection state.  What a connection keeps
between two messages (the packet waiting for its attachments) lives in the
connection's own object, which satisfies :class:`DecoderState` (one attribute, so a
connection costs no extra object).  :meth:`Decoder.feed` takes that state and one
message, and returns:

* a whole :class:`~fastsio.protocol.socketio.packets.Packet` (attachments put back);
* ``None``: the message was an attachment, and more are expected;
* a :class:`ProtocolError`: the message breaks the protocol; its ``reason`` says how
  (the caller logs it and closes the connection; the state is reset).

No I/O, no clock, no logging: the caller does those.

:func:`split_v3_query` is Socket.IO v4's (socket.io-client 1.x/2.x) other parsing
step: a CONNECT's namespace may carry a query string, which is its auth.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol
from urllib.parse import parse_qsl

from .packets import Packet, SocketIOError

__all__ = ("MAX_ATTACHMENTS", "Decoder", "DecoderState", "ProtocolError", "split_v3_query")

#: Binary attachments one packet may announce (socket.io-parser's ``maxAttachments``
#: default): a client cannot make the server collect binary messages without end.
MAX_ATTACHMENTS = 10


class DecoderState(Protocol):
    """What :class:`Decoder` keeps for one connection between two messages.

    ``pending`` is ``None`` while no packet waits for attachments; otherwise it is the
    decoder's own (a list: the packet, then the attachments received so far).  Only
    the decoder reads or writes it; its owner starts it at ``None``.
    """

    pending: list[Any] | None


class ProtocolError:
    """What :meth:`Decoder.feed` returns for a message that breaks the protocol.

    Attributes:
        reason: what was wrong, for the log (one short line).
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"ProtocolError({self.reason!r})"


class Decoder:
    """Incoming messages -> whole packets, for every connection of one server.

    Args:
        parser: the server's parser (see :mod:`fastsio.protocol.socketio.parsers`):
            its ``decode``, its ``binary`` flag and, for a text parser, its
            ``reconstruct``.
        max_attachments: the most binary attachments one packet may announce.
    """

    __slots__ = ("binary", "decode", "reconstruct", "max_attachments", "feed")

    def __init__(self, parser: Any, max_attachments: int = MAX_ATTACHMENTS) -> None:
        #: each message is one whole packet (a binary parser)
        self.binary: bool = bool(getattr(parser, "binary", False))
        self.decode: Callable[[Any], Packet] = parser.decode
        self.reconstruct: Callable[[Any, list[bytes]], Any] | None = getattr(parser, "reconstruct", None)
        self.max_attachments = max_attachments
        #: ``feed(state, message)``: decode one message of the connection whose state is
        #: ``state`` (updated).  Returns the whole packet, ``None`` when more attachments
        #: are expected, or a :class:`ProtocolError` (the state is then reset).  Bound
        #: once to the parser's kind (text with attachments, or binary).
        self.feed: Callable[[DecoderState, str | bytes], Packet | ProtocolError | None] = (
            self._feed_binary if self.binary else self._feed_text
        )

    def _feed_binary(self, state: DecoderState, message: str | bytes) -> Packet | ProtocolError | None:
        try:
            return self.decode(message)
        except SocketIOError as exc:
            return ProtocolError(f"invalid packet ({exc})")

    def _feed_text(self, state: DecoderState, message: str | bytes) -> Packet | ProtocolError | None:
        if isinstance(message, str):
            if state.pending is not None:
                state.pending = None
                return ProtocolError("text packet while attachments were expected")
            try:
                pkt = self.decode(message)
            except SocketIOError as exc:
                return ProtocolError(f"invalid packet ({exc}): {message!r:.100}")
            if pkt.attachments:
                if pkt.attachments > self.max_attachments:
                    return ProtocolError(f"{pkt.attachments} attachments announced (max {self.max_attachments})")
                state.pending = [pkt]
                return None
            return pkt
        pending = state.pending
        if pending is None:
            return ProtocolError("unexpected binary message")
        pending.append(message)
        pkt = pending[0]
        if len(pending) <= pkt.attachments:
            return None
        state.pending = None
        reconstruct = self.reconstruct
        if reconstruct is None:  # pragma: no cover - a text parser has one
            return ProtocolError("the parser cannot reconstruct attachments")
        try:
            pkt.data = reconstruct(pkt.data, pending[1:])
        except SocketIOError as exc:
            return ProtocolError(str(exc))
        return pkt  # type: ignore[no-any-return]


def split_v3_query(pkt: Packet) -> dict[str, str] | None:
    """Socket.IO v4 (socket.io-client 1.x/2.x): a packet's namespace may carry a query
    string (``/chat?token=x``), which is the CONNECT's auth.

    Returns:
        ``None`` when the namespace has no query; otherwise the query as a dict, and
        ``pkt.nsp`` is set to the namespace alone.
    """
    nsp = pkt.nsp
    if "?" not in nsp:
        return None
    pkt.nsp, _, query = nsp.partition("?")
    return dict(parse_qsl(query, keep_blank_values=True))
