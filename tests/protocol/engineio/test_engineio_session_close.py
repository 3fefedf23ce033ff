"""Session closes over polling (sans-I/O): what each GET gets."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from fastsio.protocol.engineio.session import CLOSED, CLOSING, Session


class Owner:
    """The engine's side of the session (``SessionOwner``)."""

    #: the sessions' logger (``SessionOwner.log``)
    log = logging.getLogger("fastsio.test.session")

    def __init__(self) -> None:
        self.discarded: list[Session] = []

    def schedule(self, session: Session, when: float) -> None:
        pass

    def cancel(self, session: Session) -> None:
        pass

    def discard(self, session: Session) -> None:
        self.discarded.append(session)

    def release(self, session: Session) -> None:
        """Record nothing: no caps on sessions here."""

    def upgraded(self, session: Session) -> None:
        """Record nothing: no one keeps transports here."""

    def handshake_done(self, session: Session) -> None:
        """Record nothing: the layer above is not under test here."""


class Poll:
    def __init__(self) -> None:
        self.payloads: list[str] = []

    def respond(self, payload: str) -> None:
        self.payloads.append(payload)

    def drop(self) -> None:
        pass


class Handler:
    def __init__(self) -> None:
        self.closed: list[str] = []

    def on_message(self, data: Any) -> None:
        pass

    def on_close(self, reason: str) -> None:
        self.closed.append(reason)


def new_session(cls: type[Session]) -> tuple[Session, Owner, Handler]:
    """A polling session of the twin ``cls``, with a handler."""
    owner = Owner()
    session = cls("sid", "polling", owner, 0.0, ping_interval=25.0, ping_timeout=20.0)
    session.handler = Handler()
    return session, owner, session.handler


def test_forced_close_sends_queue_then_close_with_the_next_get(session_twin: ModuleType) -> None:
    # regression: the CLOSE packet used to share a payload with the queued DISCONNECT
    # packets, and socket.io-client then reported "transport close" instead of
    # "io server disconnect" (it handles Socket.IO packets a tick late)
    session, owner, handler = new_session(session_twin.Session)
    first = Poll()
    assert session.poll_request(first)
    session.send("41")  # answers the pending GET at once
    session.send("41/chat,")  # queued for the next one
    session.close("forced close")
    assert handler.closed == ["forced close"]
    assert first.payloads == ["41"] and session.state == CLOSING
    second = Poll()
    assert session.poll_request(second)
    assert second.payloads == ["41/chat,"] and session.state == CLOSING
    third = Poll()
    assert session.poll_request(third)
    assert third.payloads == ["1"]
    assert session.state == CLOSED and owner.discarded == [session]


def test_forced_close_with_queue_and_no_pending_get(session_twin: ModuleType) -> None:
    session, owner, handler = new_session(session_twin.Session)
    session.send("41")
    session.close("forced close")
    assert session.state == CLOSING
    first, second = Poll(), Poll()
    assert session.poll_request(first)
    assert first.payloads == ["41"] and session.state == CLOSING
    assert session.poll_request(second)
    assert second.payloads == ["1"] and session.state == CLOSED


def test_forced_close_with_empty_queue_sends_close_at_once(session_twin: ModuleType) -> None:
    session, owner, handler = new_session(session_twin.Session)
    poll = Poll()
    assert session.poll_request(poll)
    session.close("forced close")
    assert poll.payloads == ["1"] and session.state == CLOSED


def test_shutdown_close_hands_queue_and_close_together(session_twin: ModuleType) -> None:
    # the server is going away: the pending GET may be the last request it answers
    session, owner, handler = new_session(session_twin.Session)
    poll = Poll()
    assert session.poll_request(poll)
    session.queue = ['42["x"]']  # queued while an upgrade ran, say
    session.close("server shutting down")
    assert poll.payloads == ['42["x"]\x1e1'] and session.state == CLOSED


class Probe:
    """A WebSocket being probed for the upgrade (``WebSocketSink``)."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.closed = False

    def send(self, encoded: str | bytes, compress: bool = True) -> None:
        assert not self.closed
        self.sent.append(encoded)

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return not self.closed

    congested = False


def upgrading_session(cls: type[Session]) -> tuple[Session, Owner, Handler, Probe]:
    """A polling session whose client has had 3probe (its pending GET released)."""
    session, owner, handler = new_session(cls)
    poll = Poll()
    assert session.poll_request(poll)
    probe = Probe()
    assert session.attach_probe(probe, 1.0)
    session.receive_ws(probe, "2probe", 1.0)
    assert probe.sent == ["3probe"] and poll.payloads == ["6"] and session.upgrading
    return session, owner, handler, probe


def test_shutdown_during_upgrade_hands_the_queue_to_the_websocket(session_twin: ModuleType) -> None:
    # socket.io-client has paused its polling once it got 3probe: it polls no more, so
    # a graceful close keeps the probe, and the client's UPGRADE gets what it is owed
    session, owner, handler, probe = upgrading_session(session_twin.Session)
    session.send("42[\"a\"]")
    session.send("42[\"b\"]")
    session.close("server shutting down")
    assert handler.closed == ["server shutting down"]
    assert session.state == CLOSING and not probe.closed and owner.discarded == []
    session.receive_ws(probe, "5", 2.0)
    assert probe.sent == ["3probe", "42[\"a\"]", "42[\"b\"]"] and probe.closed
    assert session.state == CLOSED and owner.discarded == [session]


def test_shutdown_during_upgrade_with_nothing_queued(session_twin: ModuleType) -> None:
    session, owner, handler, probe = upgrading_session(session_twin.Session)
    session.close("server shutting down")
    assert session.state == CLOSING and not probe.closed
    session.receive_ws(probe, "5", 2.0)
    assert probe.sent == ["3probe"] and probe.closed and session.state == CLOSED


def test_shutdown_during_upgrade_other_packet_or_deadline_drops_the_probe(session_twin: ModuleType) -> None:
    session, owner, handler, probe = upgrading_session(session_twin.Session)
    session.close("server shutting down")
    session.receive_ws(probe, "2", 2.0)  # not the UPGRADE packet
    assert probe.closed and session.state == CLOSING
    # the lingering session ends at its deadline (a probe still kept is closed then)
    session2, owner2, _, probe2 = upgrading_session(session_twin.Session)
    session2.close("server shutting down")
    session2.on_timer(100.0)
    assert probe2.closed and session2.state == CLOSED and owner2.discarded == [session2]


def test_transport_close_during_upgrade_closes_the_probe(session_twin: ModuleType) -> None:
    # not a graceful close: the probe goes at once, as before
    session, owner, handler, probe = upgrading_session(session_twin.Session)
    session.close("transport error")
    assert probe.closed and session.state == CLOSED
