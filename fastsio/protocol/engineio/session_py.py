"""Engine.IO session state machine (sans-I/O: no sockets, no loop, time passed in).

Theory of operation
-------------------
A :class:`Session` is one Engine.IO connection, whatever transports carry it.  It talks
to the outside through three objects it is given, each declared here as a
:class:`typing.Protocol` (satisfied structurally; nothing here imports the I/O layer):

* a *WebSocket sink* (:class:`WebSocketSink`, ``ws`` / ``probe``): ``send(encoded)``
  sends one encoded Engine.IO packet as a frame (``str`` -> text, ``bytes`` -> binary;
  ``send(encoded, False)``: never compressed), ``close()`` closes it, ``writable()``
  says whether a packet sent now leaves at once;
* a *poll sink* (:class:`PollSink`, ``poll``, the pending long-polling GET):
  ``respond(payload)`` answers the request (``str``; ``bytes`` for an EIO3 binary
  payload); ``drop()`` forgets it without answering;
* an *owner* (:class:`SessionOwner`, the engine): ``schedule(session, when)`` asks for
  ``on_timer(now)`` at ``when``, ``cancel(session)`` withdraws that,
  ``discard(session)`` forgets a closed session (its sid is unknown from then on),
  ``release(session)`` is told when a closed session lingers (``CLOSING``) for its
  last GET (it no longer counts against the caps on sessions),
  ``upgraded(session)`` is told when a session moved onto its WebSocket (whoever keeps
  ``session.ws``, like the broadcast target lists of the memory adapter, knows they
  may be stale), ``handshake_done(session)`` is what the layer above calls once its
  own handshake is complete; ``log`` is the logger of the session's log lines (one
  per server, reached through the owner: no per-session cost);

and it reports upward to its ``handler`` (:class:`SessionHandler`: the Socket.IO
client or the public EngineSocket): ``on_open(now)`` (called by the owner once the
OPEN packet is sent), ``on_message(data)`` and ``on_close(reason)``.

This module is the pure twin, and the specification, of the ``session`` twins: the
selector :mod:`fastsio.protocol.engineio.session` binds it, or the same source
compiled as ``fastsio._speedups.session_c`` with the declarations of
``session_c.pxd`` (``Session`` an extension type with typed fields, ``send`` and
``send_packets`` reachable from the compiled broadcast fan-out as C calls).

Rules:

1. OPEN.  A session starts ``open`` on transport ``polling`` or ``websocket``.  The OPEN
   packet is the first thing sent.  The first ping is due ``ping_interval`` later.
2. Heartbeat (EIO4).  At the ping deadline the server sends ``2`` and waits
   ``ping_timeout`` for ``3``; a PONG reschedules the next ping ``ping_interval``
   later; no PONG in time closes the session with reason ``"ping timeout"``.
   EIO3 (``eio=3``) turns it round: the client sends ``2`` (any data), the server
   answers ``3`` with the same data, and a session with no ping for
   ``ping_interval + ping_timeout`` closes with ``"ping timeout"``.  Its packets and
   payloads are framed by ``v3`` (an ``engineio.Eio3Codec``) instead of the v4 codec.
3. Polling.  Packets for a polling session queue up encoded; a GET takes the whole
   queue at once, or waits (one GET at a time: a second one is a transport error
   that closes the session, the pending GET getting the CLOSE packet).
4. Upgrade.  A WebSocket with the session's sid is a *probe*: ``2probe`` is answered
   with ``3probe`` and a pending GET is released with a NOOP (later GETs too, while
   the upgrade runs); ``5`` (UPGRADE) moves the session onto the WebSocket and
   flushes the queue through it.  Anything else on the probe, or no ``5`` within
   ``upgrade_timeout``, drops the probe.  After the upgrade polling requests with
   the sid are refused by the caller.
5. Close.  A CLOSE packet from the client, ``close()`` from the application, a
   transport that goes away, a parse error or a ping timeout end the session once;
   ``on_close(reason)`` runs once, with Node's reason strings.  A WebSocket is simply
   closed (after what was sent to it).  A polling session closed by the server hands
   its queue plus a CLOSE packet to the pending GET, or, with none pending, waits
   (state CLOSING) for the next GET to take them, at most until its next deadline.
   Closed by the application ("forced close") or by the server stopping ("server
   shutting down") with packets queued and no GET pending, the next GET takes the
   queue and the one after it the CLOSE packet, as with the reference server
   (socket.io-client would otherwise act on the CLOSE before the packets beside it).
   Closed so in the middle of an upgrade (``3probe`` sent: the client has paused its
   polling and will poll no more), the probe is kept: the client's UPGRADE packet on
   it gets the queue over the WebSocket, which then closes.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, Sequence

from fastsio.protocol.engineio.packets import (
    CLOSE,
    MESSAGE,
    NOOP,
    PING,
    PONG,
    UPGRADE,
    EngineIOError,
    decode_packet,
    decode_payload,
    encode_payload,
)
from fastsio.protocol.engineio.v3 import decode_packet as decode_packet3
from fastsio.protocol.engineio.wire import (
    CLOSE_PACKET,
    MESSAGE_PREFIX,
    NOOP_PACKET,
    PING_PACKET,
    PONG_PACKET,
    PROBE,
    PROBE_REPLY,
)

__all__ = (
    "CLOSED",
    "CLOSING",
    "LINGER_REASONS",
    "OPEN",
    "POLLING",
    "PollSink",
    "Session",
    "SessionHandler",
    "SessionOwner",
    "Timed",
    "WEBSOCKET",
    "WebSocketSink",
)

# states
OPEN = 1
CLOSING = 2
CLOSED = 3

# closes after which a polling client still gets what was queued (and a CLOSE packet)
LINGER_REASONS = frozenset(("forced close", "server shutting down"))

# transports
POLLING = "polling"
WEBSOCKET = "websocket"


class WebSocketSink(Protocol):
    """A WebSocket carrying a session (the I/O layer's WebSocket connection)."""

    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        """Send one encoded Engine.IO packet as one message (``str``: text frame,
        ``bytes``: binary); ``compress=False``: never compressed."""

    def close(self) -> None:
        """Close the WebSocket (after what was sent)."""

    def writable(self) -> bool:
        """Whether a packet sent now leaves at once (nothing is waiting)."""

    @property
    def congested(self) -> bool:
        """Its packets are being dropped: a slow consumer over ``max_buffer_size``
        with ``slow_consumer="drop"``."""


class PollSink(Protocol):
    """A pending long-polling GET (the I/O layer's HTTP connection)."""

    def respond(self, payload: str | bytes) -> None:
        """Answer the GET with one encoded payload (``bytes``: an EIO3 binary payload)."""

    def drop(self) -> None:
        """Forget the GET without answering it."""


class Timed(Protocol):
    """What the owner's timer can call back: a session, or anything of the layers
    above that needs one deadline (the Socket.IO connect timeout)."""

    #: the timer's bookkeeping (a bucket of the I/O layer's timer wheel), None when unscheduled
    timer_slot: Any

    def on_timer(self, now: float) -> None:
        """The deadline given to ``schedule`` has come; ``now`` is the time."""


class SessionOwner(Protocol):
    """What owns the sessions (the engine): their timers, their ids, the logger."""

    @property
    def log(self) -> logging.Logger:
        """The logger of the sessions' log lines (what a client got wrong)."""

    def schedule(self, obj: Timed, when: float) -> None:
        """Call ``obj.on_timer(now)`` at (or after) ``when`` (one deadline per object)."""

    def cancel(self, obj: Timed) -> None:
        """Withdraw the object's deadline."""

    def discard(self, session: Session) -> None:
        """Forget a closed session (its sid is unknown from then on)."""

    def release(self, session: Session) -> None:
        """A closed session lingers (``CLOSING``) for its client's next GET: it no
        longer counts against the caps on sessions (it is still known by its sid
        until :meth:`discard`)."""

    def upgraded(self, session: Session) -> None:
        """The session moved onto its WebSocket (``session.ws``)."""

    def handshake_done(self, session: Session) -> None:
        """The layer above completed its own handshake (Socket.IO: a namespace
        CONNECT); called by that layer."""


class SessionHandler(Protocol):
    """The layer above a session (the Socket.IO client, or the public EngineSocket)."""

    def on_open(self, now: float) -> None:
        """The session is open (its OPEN packet sent); ``now`` is the loop time."""

    def on_message(self, data: str | bytes) -> None:
        """A MESSAGE packet's data."""

    def on_close(self, reason: str) -> None:
        """The session closed (once), with Node's reason string."""


class Session:
    """One Engine.IO session.  See the module docstring for the rules."""

    __slots__ = (
        "sid",
        "eio",
        "transport",
        "state",
        "handler",
        "ws",
        "probe",
        "poll",
        "queue",
        "upgrading",
        "upgraded",
        "ping_interval",
        "ping_timeout",
        "upgrade_timeout",
        "owner",
        "deadline",
        "awaiting_pong",
        "probe_deadline",
        "close_reason",
        "request",
        "timer_slot",
        "max_queue",
        "queued",
        "drop_when_full",
        "v3",
        "metrics",
    )

    def __init__(
        self,
        sid: str,
        transport: str,
        owner: SessionOwner,
        now: float,
        *,
        ping_interval: float,
        ping_timeout: float,
        upgrade_timeout: float = 10.0,
        eio: int = 4,
    ) -> None:
        # identity
        self.sid = sid
        self.eio = eio
        self.transport = transport
        self.state = OPEN
        # the layer above (Socket.IO client or EngineSocket): on_message / on_close
        self.handler: SessionHandler | None = None
        # transports: the active WebSocket, a WebSocket being probed, the pending GET
        self.ws: WebSocketSink | None = None
        self.probe: WebSocketSink | None = None
        self.poll: PollSink | None = None
        # encoded packets waiting for a GET (polling, or while an upgrade runs): an
        # empty tuple until the first one (a WebSocket session never needs a list)
        self.queue: list[str | bytes] | tuple[()] = ()
        self.upgrading = False
        self.upgraded = False
        # heartbeat
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.upgrade_timeout = upgrade_timeout
        self.owner = owner
        self.awaiting_pong = False
        # EIO3: the client pings; it is late after ping_interval + ping_timeout
        self.deadline = now + ping_interval + (ping_timeout if eio == 3 else 0.0)
        self.probe_deadline = 0.0
        self.close_reason = ""
        # the handshake request (the I/O layer's Request object), for the layer above
        self.request: Any = None
        # owned by the scheduler (timer wheel bucket)
        self.timer_slot: Any = None
        # polling: bytes queued for the next GET, and the most allowed (0: no limit)
        self.max_queue = 0
        self.queued = 0
        # over max_queue: drop packets (the layer above checks ``congested``) rather
        # than close (the server's slow_consumer="drop")
        self.drop_when_full = False
        # EIO3 sessions: the polling payload framing (an engineio.Eio3Codec), else None
        self.v3: Any = None
        # the server's metrics counters (``packets_in``/``packets_out``), or None: off
        self.metrics: Any = None
        owner.schedule(self, self.deadline)

    # ------------------------------------------------------------------ sending
    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        """Send one encoded packet on the active transport (queued for polling).

        ``compress=False``: not compressed on a WebSocket with permessage-deflate
        (polling is unaffected: HTTP compression applies to whole responses)."""
        if self.state != OPEN:
            return
        metrics = self.metrics
        if metrics is not None:
            metrics.packets_out += 1
        ws = self.ws
        if ws is not None:
            if compress:
                ws.send(encoded)
            else:
                ws.send(encoded, False)
            return
        queue = self.queue
        if queue:
            queue.append(encoded)
        else:
            self.queue = [encoded]
        if self.poll is not None and not self.upgrading:
            self._flush_poll()
        elif self.max_queue:
            queued = self.queued
            self.queued = queued + len(encoded)
            if self.queued > self.max_queue:
                if not self.drop_when_full:
                    self.owner.log.warning(
                        "session %s: %d bytes queued for its next GET, over max_buffer_size (%d); closing",
                        self.sid,
                        self.queued,
                        self.max_queue,
                    )
                    self.close("send buffer full", send_close=False)
                elif queued <= self.max_queue:
                    self.owner.log.warning(
                        "session %s: %d bytes queued for its next GET, over max_buffer_size (%d); "
                        "dropping what is sent to it until it polls (slow_consumer='drop')",
                        self.sid,
                        self.queued,
                        self.max_queue,
                    )

    def send_packets(self, packets: Sequence[str | bytes]) -> bool:
        """Send the encoded Engine.IO packets of one Socket.IO packet (its text, then
        its attachments): all of them, or, when the session is ``congested``
        (``slow_consumer="drop"``), none.  Returns False when they were dropped so."""
        # ``congested``, inline: this is the compiled fan-out's C path
        ws = self.ws
        if ws is not None:
            if ws.congested:
                return False
        elif self.drop_when_full and self.queued > self.max_queue:
            return False
        for encoded in packets:
            self.send(encoded)
        return True

    @property
    def congested(self) -> bool:
        """A slow consumer whose packets are being dropped (``slow_consumer="drop"``):
        its WebSocket's transport holds more than ``max_buffer_size``, or more than
        that is queued for its next GET.  The layer above drops whole packets then
        (never some parts of one); the session's own packets (pings, CLOSE) still go."""
        ws = self.ws
        if ws is not None:
            return bool(ws.congested)
        return self.drop_when_full and self.queued > self.max_queue

    def writable(self) -> bool:
        """Whether a packet sent now leaves at once (what ``volatile`` emits need)."""
        if self.state != OPEN:
            return False
        ws = self.ws
        if ws is not None:
            return bool(ws.writable())
        return self.poll is not None and not self.upgrading

    def send_message(self, data: str | bytes) -> None:
        """Send a MESSAGE packet."""
        self.send(MESSAGE_PREFIX + data if isinstance(data, str) else data)

    def _flush_poll(self) -> None:
        poll = self.poll
        self.poll = None
        queue = self.queue
        self.queue = ()
        self.queued = 0
        self._respond(poll, queue)  # type: ignore[arg-type]  # called with a poll pending

    def _respond(self, poll: PollSink, packets: Sequence[str | bytes]) -> None:
        """Answer a GET with ``packets`` as one payload (of the session's version)."""
        if type(packets) is not list:
            packets = list(packets)
        v3 = self.v3
        poll.respond(encode_payload(packets) if v3 is None else v3.encode_payload(packets))

    # ------------------------------------------------------------------ polling
    def poll_request(self, sink: PollSink) -> bool:
        """A long-polling GET arrived.  False means overlap (the caller answers 400)."""
        if self.poll is not None:
            self.close("transport error")
            return False
        if self.state == CLOSING:
            queue = self.queue
            if queue and queue[-1] is not CLOSE_PACKET and self.close_reason in LINGER_REASONS:
                # like the reference server: what was queued first, the CLOSE packet with
                # the next GET; socket.io-client handles the Socket.IO packets of a payload
                # a tick late, so a CLOSE beside them would overtake them (a DISCONNECT
                # would be reported as "transport close", events and acks lost).  The
                # CLOSE packet stays queued: the session is still owed to its client.
                self._respond(sink, queue)
                self.queue = [CLOSE_PACKET]
                return True
            self._respond(sink, queue if queue and queue[-1] is CLOSE_PACKET else [*queue, CLOSE_PACKET])
            self._finish()
            return True
        if self.queue:
            self.poll = sink
            self._flush_poll()
        elif self.upgrading:
            self._respond(sink, [NOOP_PACKET])
        else:
            self.poll = sink
        return True

    def poll_closed(self, sink: PollSink) -> None:
        """The connection holding the pending GET went away."""
        if self.poll is sink:
            self.poll = None
            if self.state == OPEN and not self.upgrading:
                self.close("transport close")

    def receive_payload(self, body: str | bytes, now: float) -> None:
        """A polling POST body (EIO3: ``bytes`` is a binary payload).  Raises
        EngineIOError (after closing) if it does not parse."""
        try:
            packets = decode_payload(body) if self.v3 is None else self.v3.decode_payload(body)  # type: ignore[arg-type]
        except EngineIOError:
            self.close("parse error")
            raise
        metrics = self.metrics
        if metrics is not None:
            metrics.packets_in += len(packets)
        for ptype, data in packets:
            if self.state != OPEN:
                break
            if ptype == CLOSE:
                # release a pending GET with a NOOP, then close without a CLOSE packet
                if self.poll is not None:
                    poll = self.poll
                    self.poll = None
                    self._respond(poll, [NOOP_PACKET])
                self.close("transport close", send_close=False)
                break
            self._on_packet(ptype, data, now)

    # ---------------------------------------------------------------- websocket
    def receive_ws(self, sink: Any, message: str | bytes, now: float) -> None:
        """One WebSocket message from the active socket or from a probe."""
        if self.state != OPEN:
            if self.state == CLOSING and sink is self.probe:
                self._closing_probe(message)
            return
        metrics = self.metrics
        if metrics is not None:
            metrics.packets_in += 1
        try:
            ptype, data = decode_packet(message) if self.eio == 4 else decode_packet3(message)
        except EngineIOError as exc:
            self.owner.log.info("session %s: invalid packet over WebSocket (%s): %.100r", self.sid, exc, message)
            if sink is self.probe:
                self.drop_probe()
                return
            self.close("parse error")
            return
        if sink is self.probe:
            self._on_probe_packet(ptype, data, now)
            return
        if ptype == CLOSE:
            self.close("transport close", send_close=False)
            return
        self._on_packet(ptype, data, now)

    def _closing_probe(self, message: str | bytes) -> None:
        """A message on the probe kept by a graceful close in the middle of an upgrade:
        the UPGRADE packet makes it the transport of what the client is owed (the queue,
        then the WebSocket closes); anything else drops it."""
        probe = self.probe
        assert probe is not None
        self.probe = None
        self.upgrading = False
        if message == "5":
            queue = self.queue
            self.queue = ()
            for encoded in queue:
                if encoded is not CLOSE_PACKET:
                    probe.send(encoded)
            probe.close()
            self._finish()
        else:
            probe.close()

    def can_attach_probe(self) -> bool:
        """Whether a WebSocket upgrade request for this session would be taken (an
        open polling session, not upgrading nor upgraded)."""
        return self.state == OPEN and self.transport == POLLING and self.probe is None and not self.upgraded

    def attach_probe(self, sink: WebSocketSink, now: float) -> bool:
        """A WebSocket upgrade request for this session.  False: refuse it."""
        if not self.can_attach_probe():
            return False
        self.probe = sink
        self.probe_deadline = now + self.upgrade_timeout
        self._reschedule()
        return True

    def _on_probe_packet(self, ptype: int, data: Any, now: float) -> None:
        probe = self.probe
        assert probe is not None
        if ptype == PING and data == PROBE:
            probe.send(PROBE_REPLY)
            self.upgrading = True
            if self.poll is not None:
                if self.queue:
                    self._flush_poll()
                else:
                    poll = self.poll
                    self.poll = None
                    self._respond(poll, [NOOP_PACKET])
        elif ptype == UPGRADE and self.upgrading:
            if self.poll is not None:
                poll = self.poll
                self.poll = None
                self._respond(poll, [NOOP_PACKET])
            self.probe = None
            self.ws = probe
            self.owner.upgraded(self)
            self.transport = WEBSOCKET
            self.upgrading = False
            self.upgraded = True
            self.probe_deadline = 0.0
            self._reschedule()
            queue = self.queue
            self.queue = ()
            for encoded in queue:
                probe.send(encoded)
        else:
            self.owner.log.info(
                "session %s: upgrade probe sent packet type %d out of turn; dropping the probe", self.sid, ptype
            )
            self.drop_probe()

    def drop_probe(self) -> None:
        """Give up the upgrade in progress: close the probe WebSocket."""
        probe = self.probe
        if probe is None:
            return
        self.probe = None
        self.upgrading = False
        self.probe_deadline = 0.0
        probe.close()

    def ws_closed(self, sink: Any, reason: str = "transport close") -> None:
        """A WebSocket of this session went away (closed, errored, or dropped as a
        slow consumer: ``reason``)."""
        if sink is self.probe:
            self.probe = None
            self.upgrading = False
        elif sink is self.ws:
            self.ws = None
            self.close(reason, send_close=False)

    # ------------------------------------------------------------------ packets
    def _on_packet(self, ptype: int, data: Any, now: float) -> None:
        if ptype == MESSAGE:
            self.handler.on_message(data)  # type: ignore[union-attr]  # set once open
        elif ptype == PONG:
            if self.eio == 4:
                self.awaiting_pong = False
                self.deadline = now + self.ping_interval
                self._reschedule()
        elif ptype == PING:
            if self.eio == 3:
                self.send(PONG_PACKET + data if isinstance(data, str) else PONG_PACKET)
                self.deadline = now + self.ping_interval + self.ping_timeout
                self._reschedule()
            else:
                self.owner.log.info("session %s: PING from the client (invalid heartbeat direction)", self.sid)
                self.close("parse error")
        elif ptype == NOOP:
            pass
        else:  # OPEN or UPGRADE on the active transport
            self.owner.log.info("session %s: unexpected packet type %d", self.sid, ptype)
            self.close("parse error")

    # ------------------------------------------------------------------ timers
    def _reschedule(self) -> None:
        when = self.deadline
        if self.probe_deadline and self.probe_deadline < when:
            when = self.probe_deadline
        self.owner.schedule(self, when)

    def on_timer(self, now: float) -> None:
        """Called by the owner at (or after) the deadline it was given."""
        if self.state != OPEN:
            if self.state == CLOSING:
                self._finish()
            return
        if self.probe_deadline and now >= self.probe_deadline:
            self.drop_probe()
        if now >= self.deadline:
            if self.eio == 3 or self.awaiting_pong:
                self.close("ping timeout")
                return
            self.awaiting_pong = True
            self.send(PING_PACKET)
            # The PONG is due ping_timeout after the ping was due, not after ``now``:
            # an owner may call a little early and tell a later time (a timer wheel
            # tells its bucket's end), and a session must be dead at interval +
            # timeout.  A ping sent late (a busy loop) still leaves the client at
            # least half of ping_timeout.
            self.deadline = max(self.deadline, now - self.ping_timeout / 2) + self.ping_timeout
        self._reschedule()

    def check_heartbeat(self, now: float) -> bool:
        """A request for this session arrived at ``now``: if its heartbeat deadline
        has passed (no PONG, or for EIO3 no PING, in time), close it now with reason
        ``"ping timeout"`` instead of when its timer comes.  True: the session still
        serves requests (open, or closing with packets left for the next GET)."""
        if self.state == OPEN and now >= self.deadline and (self.eio == 3 or self.awaiting_pong):
            self.close("ping timeout")
        return self.state != CLOSED

    # ------------------------------------------------------------------ closing
    def close(self, reason: str = "forced close", send_close: bool = True) -> None:
        """End the session (once) and tell the handler.

        ``send_close``: a polling client is sent a CLOSE packet (after what is queued);
        False when the client itself closed (a pending GET then gets a NOOP).
        """
        if self.state != OPEN:
            return
        self.close_reason = reason
        linger = send_close and self.transport == POLLING and reason in LINGER_REASONS
        if self.probe is not None and not (linger and self.upgrading and self.poll is None):
            probe = self.probe
            self.probe = None
            probe.close()
        # else: the client has paused its polling for the upgrade (it was sent 3probe and
        # its GET released): it polls no more, and will take what it is owed over the
        # WebSocket, after its UPGRADE packet (see receive_ws)
        ws = self.ws
        if ws is not None:
            self.ws = None
            ws.close()
            self._finish()
        elif self.poll is not None:
            poll = self.poll
            self.poll = None
            if send_close:
                self._respond(poll, [*self.queue, CLOSE_PACKET])
            else:
                self._respond(poll, [NOOP_PACKET])
            self._finish()
        elif linger:
            # a graceful close: keep the queue for the next GET, until the deadline at
            # most; the session no longer holds a handshake or per-address slot
            self.state = CLOSING
            self.owner.release(self)
        else:
            self._finish()
        handler = self.handler
        if handler is not None:
            self.handler = None
            handler.on_close(reason)

    def abandon(self) -> None:
        """A closed session lingering (``CLOSING``) for its client's next GET is given
        up (the server stops): forgotten now.  Nothing for a session in another state."""
        if self.state == CLOSING:
            self._finish()

    def _finish(self) -> None:
        probe = self.probe
        if probe is not None:  # kept by a graceful close during an upgrade
            self.probe = None
            probe.close()
        self.state = CLOSED
        self.queue = ()
        self.owner.cancel(self)
        self.owner.discard(self)
