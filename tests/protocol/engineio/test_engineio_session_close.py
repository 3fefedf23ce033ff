"""Session closes over polling (sans-I/O): what each GET gets."""

from __future__ import annotations

import logging
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


def new_session() -> tuple[Session, Owner, Handler]:
    owner = Owner()
    session = Session("sid", "polling", owner, 0.0, ping_interval=25.0, ping_timeout=20.0)
    session.handler = Handler()
    return session, owner, session.handler


def test_forced_close_sends_queue_then_close_with_the_next_get() -> None:
    # regression: the CLOSE packet used to share a payload with the queued DISCONNECT
    # packets, and socket.io-client then reported "transport close" instead of
    # "io server disconnect" (it handles Socket.IO packets a tick late)
    session, owner, handler = new_session()
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


def test_forced_close_with_queue_and_no_pending_get() -> None:
    session, owner, handler = new_session()
    session.send("41")
    session.close("forced close")
    assert session.state == CLOSING
    first, second = Poll(), Poll()
    assert session.poll_request(first)
    assert first.payloads == ["41"] and session.state == CLOSING
    assert session.poll_request(second)
    assert second.payloads == ["1"] and session.state == CLOSED


def test_forced_close_with_empty_queue_sends_close_at_once() -> None:
    session, owner, handler = new_session()
    poll = Poll()
    assert session.poll_request(poll)
    session.close("forced close")
    assert poll.payloads == ["1"] and session.state == CLOSED


def test_shutdown_close_hands_queue_and_close_together() -> None:
    # the server is going away: the pending GET may be the last request it answers
    session, owner, handler = new_session()
    poll = Poll()
    assert session.poll_request(poll)
    session.queue = ['42["x"]']  # queued while an upgrade ran, say
    session.close("server shutting down")
    assert poll.payloads == ['42["x"]\x1e1'] and session.state == CLOSED
