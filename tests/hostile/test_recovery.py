"""Hostile connection state recovery: forged, malformed and replayed ``pid`` and
``offset`` in a CONNECT's auth.

A victim connects, receives a broadcast (which carries its offset), and loses its
transport; its session is kept.  Then an attacker CONNECTs with the row's auth: it
must get a new session (another sid, another pid, nothing replayed), a log line must
say the session was not recovered, and (unless the row used the victim's own pid,
which is the victim's secret) the victim must still recover its session afterwards,
with what it missed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import pytest

from _hostile import Bystander, Case, WSConn, assert_logged, eio_ws, params, sio_reply

NOT_RECOVERED = "not recovered"


async def connect(url: str, auth: Any = None) -> tuple[WSConn, dict[str, Any], list[str]]:
    """CONNECT to / with ``auth``: the connection, the CONNECT reply's data, and the
    packets replayed before it."""
    ws, _ = await eio_ws(url)
    await ws.send_text("40" + (json.dumps(auth) if auth is not None else ""))
    replayed = []
    while True:
        msg = await sio_reply(ws)
        assert isinstance(msg, str)
        if msg.startswith("0"):
            return ws, json.loads(msg[1:]), replayed
        replayed.append(msg)


async def news(ws: WSConn, n: int) -> str:
    """Emit ``news`` (the server broadcasts it); return the broadcast's offset."""
    await ws.send_text(f'42["news",{n}]')
    msg = await sio_reply(ws)
    assert isinstance(msg, str) and msg.startswith(f'2["news",{n},'), msg
    return str(json.loads(msg[1:])[2])


async def drop(ws: WSConn, served: Any) -> None:
    """Lose the transport (a recoverable disconnect) and wait for the server to see it."""
    before = served.disconnects.count("transport close")
    ws.close()
    for _ in range(300):
        if served.disconnects.count("transport close") > before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server did not see the disconnect")


#: data: a function (victim pid, victim offset) -> the attacker's auth;
#: expect: whether the victim can still recover afterwards
CASES = [
    Case("pid-forged", lambda pid, off: {"pid": "A" * len(pid), "offset": off}, True, NOT_RECOVERED),
    Case("pid-forged-offset-forged", lambda pid, off: {"pid": "forged", "offset": "forged"}, True, NOT_RECOVERED),
    Case("pid-int", lambda pid, off: {"pid": 1, "offset": off}, True, NOT_RECOVERED),
    Case("pid-null", lambda pid, off: {"pid": None, "offset": off}, True, NOT_RECOVERED),
    Case("pid-list", lambda pid, off: {"pid": [pid], "offset": off}, True, NOT_RECOVERED),
    Case("pid-object", lambda pid, off: {"pid": {"$ne": ""}, "offset": off}, True, NOT_RECOVERED),
    Case("pid-huge", lambda pid, off: {"pid": "p" * 6000, "offset": off}, True, NOT_RECOVERED),
    Case("pid-prefix", lambda pid, off: {"pid": pid[:-1], "offset": off}, True, NOT_RECOVERED),
    Case("pid-empty", lambda pid, off: {"pid": "", "offset": off}, True, NOT_RECOVERED),
    Case("pid-without-offset", lambda pid, off: {"pid": "forged"}, True, NOT_RECOVERED),
    Case("offset-without-pid", lambda pid, off: {"offset": off}, True, NOT_RECOVERED),
    # the victim's own pid with a wrong offset: whoever holds the pid is the victim
    # (its secret); the session is not recovered, and is then gone, as for a stale offset
    Case("own-pid-offset-int", lambda pid, off: {"pid": pid, "offset": 0}, True, NOT_RECOVERED),
    Case("own-pid-offset-forged", lambda pid, off: {"pid": pid, "offset": "forged"}, False, NOT_RECOVERED),
    Case("own-pid-offset-future", lambda pid, off: {"pid": pid, "offset": off[:-1] + "9" * 18}, False, NOT_RECOVERED),
    Case("own-pid-offset-5000-digits", lambda pid, off: {"pid": pid, "offset": off + "1" * 5000}, False, NOT_RECOVERED),
    # the epoch is random: change its first character to one it does not have
    Case("own-pid-offset-other-epoch", lambda pid, off: {"pid": pid, "offset": ("Y" if off[0] == "Z" else "Z") + off[1:]}, False, NOT_RECOVERED),
]


@pytest.fixture
async def recovery(serve: Any) -> AsyncIterator[Any]:
    """A server with connection state recovery, and a bystander checked afterwards."""
    served = await serve(connection_state_recovery=True)
    bystander = await Bystander(served.url).start()
    yield served
    await bystander.stop()


@pytest.mark.parametrize("case", params(CASES))
async def test_forged_recovery(recovery: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the row's auth gets a new session, logged, and the victim's recovery."""
    victim, first, _ = await connect(recovery.url)
    offset = await news(victim, 1)
    await drop(victim, recovery)
    listener, _, _ = await connect(recovery.url)
    await news(listener, 2)  # what the victim misses

    attacker, got, replayed = await connect(recovery.url, case.data(first["pid"], offset))
    try:
        assert got["sid"] != first["sid"] and got["pid"] != first["pid"], got
        assert replayed == []
        assert_logged(logs, case.log)
    finally:
        attacker.close()

    again, back, missed = await connect(recovery.url, {"pid": first["pid"], "offset": offset})
    try:
        if case.expect:
            assert back["sid"] == first["sid"], back
            assert [json.loads(m[1:])[:2] for m in missed] == [["news", 2]]
        else:
            assert back["sid"] != first["sid"] and missed == []
    finally:
        again.close()
        listener.close()


async def test_replayed_recovery(recovery: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a pid and offset used once cannot be used again: not while the
    recovered socket is connected, nor after, with the old offset."""
    victim, first, _ = await connect(recovery.url)
    offset = await news(victim, 1)
    await drop(victim, recovery)
    back, got, _ = await connect(recovery.url, {"pid": first["pid"], "offset": offset})
    assert got["sid"] == first["sid"]
    replay, stolen, replayed = await connect(recovery.url, {"pid": first["pid"], "offset": offset})
    assert stolen["sid"] != first["sid"] and replayed == []
    replay.close()
    assert_logged(logs, NOT_RECOVERED)
    await news(back, 2)
    back.close()


async def test_pid_of_live_socket(recovery: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify the pid and offset of a socket still connected recover nothing (and the
    socket carries on)."""
    victim, first, _ = await connect(recovery.url)
    offset = await news(victim, 1)
    thief, got, replayed = await connect(recovery.url, {"pid": first["pid"], "offset": offset})
    assert got["sid"] != first["sid"] and replayed == []
    thief.close()
    assert await news(victim, 2) != offset
    victim.close()
    assert_logged(logs, NOT_RECOVERED)
