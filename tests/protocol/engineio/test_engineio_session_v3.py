"""The Engine.IO v3 rules of the session state machine (sans-I/O): client-initiated
heartbeat, payloads framed by the session's ``Eio3Codec``, binary WebSocket frames."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import pytest

from fastsio.protocol.engineio import Eio3Codec, EngineIOError
from fastsio.protocol.engineio.session import OPEN, Session


class Owner:
    """The engine's side of the session (``SessionOwner``)."""

    #: the sessions' logger (``SessionOwner.log``)
    log = logging.getLogger("fastsio.test.session")

    def __init__(self) -> None:
        self.when: float | None = None

    def schedule(self, session: Session, when: float) -> None:
        self.when = when

    def cancel(self, session: Session) -> None:
        self.when = None

    def discard(self, session: Session) -> None:
        pass

    def release(self, session: Session) -> None:
        """Record nothing: no caps on sessions here."""

    def upgraded(self, session: Session) -> None:
        """Record nothing: no one keeps transports here."""

    def handshake_done(self, session: Session) -> None:
        """Record nothing: the layer above is not under test here."""


class Sink:
    """A poll sink and a WebSocket sink at once."""

    def __init__(self) -> None:
        self.out: list[Any] = []
        self.closed = False

    def respond(self, payload: Any) -> None:
        self.out.append(payload)

    def send(self, encoded: Any) -> None:
        self.out.append(encoded)

    def close(self) -> None:
        self.closed = True

    def drop(self) -> None:
        pass


class Handler:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.closed: list[str] = []

    def on_message(self, data: Any) -> None:
        self.messages.append(data)

    def on_close(self, reason: str) -> None:
        self.closed.append(reason)


def new(
    cls: type[Session], transport: str = "polling", codec: Eio3Codec | None = None
) -> tuple[Session, Owner, Handler]:
    """An EIO3 session of the twin ``cls``, with a handler."""
    owner = Owner()
    session = cls("sid", transport, owner, 100.0, ping_interval=25.0, ping_timeout=20.0, eio=3)
    session.v3 = codec or Eio3Codec(binary=False)
    session.handler = Handler()
    return session, owner, session.handler


def test_heartbeat_is_the_clients(session_twin: ModuleType) -> None:
    """Verify the first deadline is interval + timeout, a ping is answered with its data
    and pushes the deadline, and no ping in time closes with "ping timeout"."""
    session, owner, handler = new(session_twin.Session)
    assert owner.when == 145.0
    session.on_timer(144.0)
    assert session.state == OPEN and not session.queue  # the server never pings
    session.receive_payload("1:2", 140.0)
    session.receive_payload("6:2hello", 140.0)
    assert session.queue == ["3", "3hello"]
    assert owner.when == 185.0
    session.receive_payload("1:3", 180.0)  # a PONG is no ping
    assert owner.when == 185.0
    session.on_timer(185.0)
    assert handler.closed == ["ping timeout"]


def test_poll_responses_are_v3_payloads(session_twin: ModuleType) -> None:
    """Verify every response to a GET goes through the codec (queue, NOOP, CLOSE)."""
    session, owner, handler = new(session_twin.Session)
    poll = Sink()
    session.send("4é")
    session.send(b"\x01")
    session.poll_request(poll)
    assert poll.out == ["2:4é6:b4AQ=="]
    # a WebSocket probe releases the pending GET with a NOOP
    session.poll_request(poll)
    probe = Sink()
    assert session.attach_probe(probe, 101.0)
    session.receive_ws(probe, "2probe", 101.0)
    assert probe.out == ["3probe"]
    assert poll.out[-1] == "1:6"
    session.receive_ws(probe, "5", 101.0)
    session.send(b"\x02")
    assert probe.out[-1] == b"\x02"  # the I/O layer adds the type byte (Connection.send)
    session.receive_ws(probe, b"\x04\x07", 102.0)
    session.receive_ws(probe, "b4CA==", 102.0)
    assert handler.messages == [b"\x07", b"\x08"]


def test_binary_client_gets_binary_payloads(session_twin: ModuleType) -> None:
    """Verify binary-capable clients get bytes (a binary payload) when text will not do."""
    session, owner, handler = new(session_twin.Session, codec=Eio3Codec(binary=True))
    poll = Sink()
    session.send("4hello")
    session.poll_request(poll)
    assert poll.out == ["6:4hello"]
    session.send(b"\x01")
    session.poll_request(poll)
    assert poll.out[-1] == bytes([1, 2, 255, 4, 1])


def test_close_over_polling(session_twin: ModuleType) -> None:
    """Verify a CLOSE from the client releases the GET with "1:6"; a server close sends "1:1"."""
    session, owner, handler = new(session_twin.Session)
    poll = Sink()
    session.poll_request(poll)
    session.receive_payload(bytes([0, 1, 255]) + b"1", 101.0)
    assert poll.out == ["1:6"] and handler.closed == ["transport close"]
    session, owner, handler = new(session_twin.Session)
    poll = Sink()
    session.poll_request(poll)
    session.close("forced close")
    assert poll.out == ["1:1"]


@pytest.mark.parametrize("body", ["abc", "5:4hi", b"\x03\x01\xff4"])
def test_bad_payload_closes(body: Any, session_twin: ModuleType) -> None:
    """Verify a payload that does not parse closes the session ("parse error") and raises."""
    session, owner, handler = new(session_twin.Session)
    with pytest.raises(EngineIOError):
        session.receive_payload(body, 101.0)
    assert handler.closed == ["parse error"]


def test_bad_websocket_message_closes(session_twin: ModuleType) -> None:
    """Verify a bad WebSocket message closes the session."""
    session, owner, handler = new(session_twin.Session, "websocket")
    ws = Sink()
    session.ws = ws
    session.receive_ws(ws, b"\x09", 101.0)
    assert handler.closed == ["parse error"] and ws.closed
