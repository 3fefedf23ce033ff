"""Hostile Socket.IO, v5 (Engine.IO v4) and v4 (Engine.IO v3): bad packet types,
namespaces, payloads, reserved event names, JSON that does not parse or goes too
deep, placeholders and attachments that do not match, ack ids of every absurd shape
and size.

Each row is a list of Socket.IO packets (``str``: a text packet, sent as an Engine.IO
MESSAGE; ``bytes``: a binary message) sent on a WebSocket connected to ``/``.
``expect`` is ``CLOSE`` (a protocol error: the connection is closed, code 1000, the
socket disconnected with "parse error") or the exact next Socket.IO packet the
server must answer, after which the connection must still serve an acked event.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from _hostile import MAX, Case, WSConn, assert_logged, binary, params, sio_reply, sio_ws, text

CLOSE = "close"
INVALID = "invalid packet"
PH0 = '{"_placeholder":true,"num":0}'


def ph(num: Any) -> str:
    return json.dumps({"_placeholder": True, "num": num}, separators=(",", ":"))


def deep(n: int) -> str:
    return "[" * n + "]" * n


V5 = [
    # --- packet types
    *[Case(f"type-{c}", [f"{c}[]"], CLOSE, INVALID) for c in ("7", "8", "9", "x", "/", " ", "\u0664")],
    Case("empty", [""], CLOSE, INVALID),
    Case("connect-error-from-client", ['4{"message":"x"}'], CLOSE, "unexpected packet type 4"),
    # --- namespaces
    Case("event-unconnected-namespace", ['2/nope,["echo"]'], CLOSE, "unconnected namespace"),
    Case("event-unconnected-dynamic", ['2/dyn-1,["echo"]'], CLOSE, "unconnected namespace"),
    Case("ack-unconnected-namespace", ["3/nope,1[]"], CLOSE, "unconnected namespace"),
    Case("connect-unknown", ["0/nope,"], '4/nope,{"message":"Invalid namespace"}', "CONNECT to unknown namespace"),
    Case("connect-no-comma", ["0/nope"], '4/nope,{"message":"Invalid namespace"}', "CONNECT to unknown namespace"),
    Case("connect-dynamic-no-match", ["0/dyn-x,"], '4/dyn-x,{"message":"Invalid namespace"}', "CONNECT to unknown namespace"),
    Case("connect-nul", ["0/\x00,"], '4/\x00,{"message":"Invalid namespace"}', "CONNECT to unknown namespace"),
    Case("connect-huge-name", ["0/" + "n" * 5000 + ","], '4/' + "n" * 5000 + ',{"message":"Invalid namespace"}', "CONNECT to unknown namespace"),
    Case("connect-no-slash", ["0nope,"], CLOSE, INVALID),
    Case("connect-second", ["0"], CLOSE, "second CONNECT"),
    Case("connect-auth-string", ['0/nope,"x"'], CLOSE, INVALID),
    Case("connect-auth-array", ["0/nope,[1]"], CLOSE, INVALID),
    Case("connect-auth-null", ["0/nope,null"], CLOSE, INVALID),
    Case("connect-with-ack-id", ["0/nope,1{}"], CLOSE, INVALID),
    Case("disconnect-payload", ["1{}"], CLOSE, INVALID),
    Case("disconnect-ack-id", ["17"], CLOSE, INVALID),
    # --- event payloads
    *[
        Case(f"event-{name}", ["2" + payload], CLOSE, INVALID)
        for name, payload in (
            ("missing", ""),
            ("empty-array", "[]"),
            ("object", '{"a":1}'),
            ("string", '"echo"'),
            ("number", "1.5e3x"),
            ("null", "null"),
            ("name-null", "[null]"),
            ("name-true", "[true]"),
            ("name-object", "[{}]"),
            ("name-array", "[[]]"),
            ("truncated", '["echo"'),
            ("nan", '["echo",NaN]'),
            ("infinity", '["echo",Infinity]'),
            ("minus-infinity", '["echo",-Infinity]'),
            ("float-overflow", '["echo",1e999]'),
            ("float-overflow-negative", '["echo",{"a":[-1E400]}]'),
            ("float-overflow-digits", '["echo",' + "9" * 400 + ".5]"),
            ("trailing-junk", '["echo"]x'),
            ("bad-escape", '["echo","\\x41"]'),
            ("raw-control-char", '["echo","a\x01b"]'),
            ("single-quotes", "['echo']"),
            ("int-5000-digits", '["echo",' + "7" * 5000 + "]"),
            ("nested-9000", '["echo",' + deep(4500) + "]"),
            ("comment", '["echo"/*x*/]'),
        )
    ],
    # reserved event names (socket.io-parser refuses them too)
    *[
        Case(f"reserved-{name}", [f'2["{name}"]'], CLOSE, INVALID)
        for name in ("connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener")
    ],
    Case("reserved-with-ack", ['27["connect",{}]'], CLOSE, INVALID),
    # --- ack ids: accepted shapes answered as sent
    Case("ack-id-0", ['20["echo",1]'], "30[1]", ""),
    Case("ack-id-leading-zeros", ['2007["echo",1]'], "37[1]", ""),
    Case("ack-id-2^31", ['22147483648["echo",1]'], "32147483648[1]", ""),
    Case("ack-id-max-safe", ['29007199254740991["echo",1]'], "39007199254740991[1]", ""),
    # absurd ones: refused
    Case("ack-id-2^53+1", ['29007199254740993["echo",1]'], CLOSE, INVALID),
    Case("ack-id-2^64", ['218446744073709551616["echo",1]'], CLOSE, INVALID),
    Case("ack-id-100-digits", ["2" + "1" * 100 + '["echo",1]'], CLOSE, INVALID),
    Case("ack-id-4301-digits", ["2" + "1" * 4301 + '["echo",1]'], CLOSE, INVALID),
    Case("ack-id-9000-digits", ["2" + "9" * 9000 + '["echo",1]'], CLOSE, INVALID),
    Case("ack-id-negative", ['2-1["echo",1]'], CLOSE, INVALID),
    Case("ack-id-float", ['21.5["echo",1]'], CLOSE, INVALID),
    Case("ack-id-exponent", ['21e3["echo",1]'], CLOSE, INVALID),
    Case("ack-id-space", ['2 1["echo",1]'], CLOSE, INVALID),
    Case("ack-id-hex", ['20x1f["echo",1]'], CLOSE, INVALID),
    Case("ack-id-unicode-digit", ['2\u0661["echo",1]'], CLOSE, INVALID),
    Case("ack-id-no-payload", ["27"], CLOSE, INVALID),
    # ACK packets from the client
    Case("ack-without-id", ['3["x"]'], CLOSE, INVALID),
    Case("ack-object", ['31{"a":1}'], CLOSE, INVALID),
    Case("ack-string", ['31"x"'], CLOSE, INVALID),
    Case("ack-id-9000-digits-ack", ["3" + "9" * 9000 + "[]"], CLOSE, INVALID),
    Case("ack-unknown-id", ['3999["late"]'], "", "unknown ack id"),
    Case("ack-unknown-huge-id", ['39007199254740991["late"]'], "", "unknown ack id"),
    Case("ack-unknown-no-payload", ["3999"], "", "unknown ack id"),
    # --- attachments and placeholders
    Case("attachments-no-dash", ['51["x"]'], CLOSE, INVALID),
    Case("attachments-alpha", ['5x-["x"]'], CLOSE, INVALID),
    Case("attachments-negative", ['5-1-["x"]'], CLOSE, INVALID),
    Case("attachments-over-max", ['511-["echo"]'], CLOSE, "attachments announced (max 10)"),
    Case("attachments-huge", ['599999999999-["echo"]'], CLOSE, "attachments announced (max 10)"),
    Case("attachments-5000-digits", ["5" + "9" * 5000 + '-["echo"]'], CLOSE, INVALID),
    Case("placeholder-num-out-of-range", [f'51-["echo",{ph(1)}]', b"\x01"], CLOSE, "illegal attachments"),
    Case("placeholder-num-negative", [f'51-["echo",{ph(-1)}]', b"\x01"], CLOSE, "illegal attachments"),
    Case("placeholder-num-string", [f'51-["echo",{ph("0")}]', b"\x01"], CLOSE, "illegal attachments"),
    Case("placeholder-num-float", [f'51-["echo",{ph(0.5)}]', b"\x01"], CLOSE, "illegal attachments"),
    Case("placeholder-num-true", [f'51-["echo",{ph(True)}]', b"\x01"], CLOSE, "illegal attachments"),
    Case("placeholder-num-huge", [f'51-["echo",{ph(10**30)}]', b"\x01"], CLOSE, "illegal attachments"),
    # only an exact placeholder ({"_placeholder": true, "num": i}) is one (a design choice,
    # tests/protocol/socketio): other objects pass as data; socket.io-parser refuses these
    Case("placeholder-num-missing-is-data", ['51-["echo",{"_placeholder":true}]', b"\x01"], "", ""),
    Case("placeholder-extra-key-is-data", ['51-["echo",{"_placeholder":true,"num":4,"x":1}]', b"\x01"], "", ""),
    # an attachment no placeholder names is ignored, as socket.io-parser does
    Case("placeholder-unused-attachment", [f'52-["echo",{PH0}]', b"\x01", b"\x02"], "", ""),
    Case("placeholder-text-between", [f'52-["echo",{PH0},{ph(1)}]', b"\x01", '2["echo"]'], CLOSE, "attachments were expected"),
    Case("placeholder-in-event-name", [f'51-[{PH0}]', b"\x01"], CLOSE, INVALID),
    Case("binary-not-expected", [b"\x01\x02"], CLOSE, "unexpected binary"),
    Case("binary-ack-without-id", [f"61-[{PH0}]", b"\x01"], CLOSE, INVALID),
    Case("binary-ack-unknown-id", [f"6-1-[{PH0}]", b"\x01"], CLOSE, INVALID),
    Case("binary-ack-unknown", [f"61-5[{PH0}]", b"\x01"], "", "unknown ack id"),
    Case("binary-event-ok-then-extra", [f'51-9["echo",{PH0}]', b"\x01", b"\x02"], CLOSE, "unexpected binary"),
]


async def _still_serves(ws: WSConn) -> None:
    await ws.send_text('42123["echo","still"]')
    assert await sio_reply(ws) == '3123["still"]'


async def _run(hostile: Any, logs: pytest.LogCaptureFixture, case: Case, eio: str) -> None:
    ws = await sio_ws(hostile.url, eio=eio)
    try:
        for m in case.data:
            if isinstance(m, bytes):
                await ws.send(binary((b"\x04" if eio == "3" else b"") + m))
            else:
                await ws.send(text("4" + m))
        if case.expect == CLOSE:
            assert await ws.close_code() == 1000
            for _ in range(100):
                if "parse error" in hostile.disconnects:
                    break
                await asyncio.sleep(0.01)
            assert "parse error" in hostile.disconnects
        else:
            if case.expect:
                assert await sio_reply(ws) == case.expect
            await _still_serves(ws)
    finally:
        ws.close()
    if case.log:
        assert_logged(logs, case.log)


@pytest.mark.parametrize("case", params(V5))
async def test_bad_socket_io_v5(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify each Socket.IO v5 row: a protocol error closes the connection and is
    logged; an odd but valid packet is answered as the reference server would."""
    await _run(hostile, logs, case, "4")


V4_INVALID_NSP = None  # fixed: Socket.IO v4 clients get the message alone

V4 = [
    Case("v4-type-7", ["7[]"], CLOSE, INVALID),
    Case("v4-empty", [""], CLOSE, INVALID),
    Case("v4-reserved-connect", ['2["connect"]'], CLOSE, INVALID),
    Case("v4-reserved-disconnect", ['2["disconnect"]'], CLOSE, INVALID),
    Case("v4-event-empty-array", ["2[]"], CLOSE, INVALID),
    Case("v4-event-truncated", ['2["echo"'], CLOSE, INVALID),
    Case("v4-event-unconnected", ['2/nope,["echo"]'], CLOSE, "unconnected namespace"),
    Case("v4-second-connect", ["0"], CLOSE, "second CONNECT"),
    Case("v4-connect-unknown-query", ["0/nope?token=1,"], '4/nope,"Invalid namespace"', "CONNECT to unknown namespace", V4_INVALID_NSP),
    Case("v4-connect-query-junk", ["0/nope?%ZZ=&&=,"], '4/nope,"Invalid namespace"', "CONNECT to unknown namespace", V4_INVALID_NSP),
    Case("v4-ack-id-4301-digits", ["2" + "1" * 4301 + '["echo",1]'], CLOSE, INVALID),
    Case("v4-ack-id-2^64", ['218446744073709551616["echo",1]'], CLOSE, INVALID),
    Case("v4-ack-id-leading-zeros", ['2007["echo",1]'], "37[1]", ""),
    Case("v4-binary-not-expected", [b"\x01"], CLOSE, "unexpected binary"),
    Case("v4-placeholder-out-of-range", [f'51-["echo",{ph(3)}]', b"\x01"], CLOSE, "illegal attachments"),
    Case("v4-attachments-over-max", ['520-["echo"]'], CLOSE, "attachments announced (max 10)"),
]


@pytest.mark.parametrize("case", params(V4))
async def test_bad_socket_io_v4(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the same over a Socket.IO v4 (Engine.IO v3) WebSocket connection."""
    await _run(hostile, logs, case, "3")


async def test_attachment_bomb_is_bounded(hostile: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify the most attachments a packet may announce, each as large as a message
    may be, is served (not buffered without bound), then one more is refused."""
    ws = await sio_ws(hostile.url)
    try:
        await ws.send_text("4510-1[" + ",".join(['"echo"'] + [ph(i) for i in range(10)]) + "]")
        for _ in range(10):
            await ws.send_binary(b"z" * (MAX - 1))
        parts = [await sio_reply(ws) for _ in range(11)]
        assert isinstance(parts[0], str) and parts[0].startswith("610-1["), parts[0][:40]
        assert parts[1:] == [b"z" * (MAX - 1)] * 10
    finally:
        ws.close()
    ws = await sio_ws(hostile.url)
    try:
        await ws.send_text("4511-[" + ",".join(['"echo"'] + [ph(i) for i in range(11)]) + "]")
        assert await ws.close_code() == 1000
    finally:
        ws.close()
    assert_logged(logs, "11 attachments announced (max 10)")


@pytest.mark.parametrize(
    "packet",
    [
        "2" + "1" * 4301 + '["x"]',
        "3" + "9" * 17 + "[]",
        "29007199254740992[\"x\"]",
        "5" + "9" * 5000 + '-["x"]',
        "5" + "1" * 17 + '-["x"]',
    ],
    ids=["ack-4301-digits", "ack-17-digits", "ack-2^53", "attachments-5000-digits", "attachments-17-digits"],
)
def test_codec_refuses_absurd_numbers(sio: Any, packet: str) -> None:
    """Verify both codec twins refuse an ack id over MAX_ACK_ID and an attachment
    count of more than 16 digits with SocketIOError (a ValueError from ``int()``
    escaped into the transport callbacks before), and take MAX_ACK_ID itself."""
    with pytest.raises(sio.SocketIOError):
        sio.decode(packet)
    assert sio.decode(f'2{sio.MAX_ACK_ID}["x"]').id == 2**53 - 1



@pytest.mark.parametrize("literal", ["1e999", "-1e400", "9" * 400 + ".5", "1.8e308"])
def test_codec_refuses_float_overflow(sio: Any, literal: str) -> None:
    """Verify both twins refuse a number that would become inf (before, it reached the
    handler, and an ack or broadcast of it failed to encode: a traceback logged, the
    ack lost), and keep large finite ones."""
    with pytest.raises(sio.SocketIOError):
        sio.decode(f'2["x",{literal}]')
    assert sio.decode('2["x",1.7e308,-2.5e-320]').data == ["x", 1.7e308, -2.5e-320]


#: rows of V5 sent over long-polling too (one POST each)
POLLING = [
    "type-7", "empty", "event-unconnected-namespace", "connect-second", "event-truncated", "reserved-connect",
    "ack-id-9000-digits", "ack-id-2^64", "attachments-5000-digits", "event-float-overflow", "binary-not-expected",
    "placeholder-num-out-of-range",
]


@pytest.mark.parametrize("case", params(c for c in V5 if c.id in POLLING))
async def test_bad_socket_io_v5_over_polling(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the same protocol errors over long-polling: the session is closed (its
    GET gets the CLOSE packet, then the sid is unknown), logged."""
    from _hostile import Conn, eio_path, polling_open

    conn = await Conn.open(hostile.url)
    try:
        sid = await polling_open(conn)
        assert (await conn.request("POST", eio_path(sid=sid), b"40")).status == 200
        assert (await conn.request("GET", eio_path(sid=sid))).body.startswith(b"40{")
        body = b"\x1e".join(
            b"b" + __import__("base64").b64encode(m) if isinstance(m, bytes) else ("4" + m).encode() for m in case.data
        )
        assert (await conn.request("POST", eio_path(sid=sid), body)).status == 200
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.status == 400 or r.body.endswith(b"1"), r
    finally:
        conn.close()
    for _ in range(100):
        if "parse error" in hostile.disconnects:
            break
        await asyncio.sleep(0.01)
    assert "parse error" in hostile.disconnects
    assert_logged(logs, case.log)


async def test_connect_errors_do_not_keep_a_connection_alive(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a client that only ever CONNECTs to namespaces that refuse it is still
    closed by ``connect_timeout`` (it never connected to anything)."""
    served = await serve(connect_timeout=0.3)
    from _hostile import eio_ws

    ws, _ = await eio_ws(served.url)
    try:
        for i in range(100):
            try:
                await ws.send_text(f"40/nope-{i},")
            except (ConnectionResetError, BrokenPipeError):
                break
            msg = await ws.recv_frame()
            if msg[0] == 0x8:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("still open after 2 s")
    finally:
        ws.close()
    assert_logged(logs, "sent no CONNECT in time")


async def test_refused_connects_do_not_flood_the_log(hostile: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a flood of CONNECTs to unknown namespaces on one connection is answered
    (CONNECT_ERROR each) but logged a bounded number of times."""
    from _hostile import text as text_frame

    ws = await sio_ws(hostile.url)
    try:
        await ws.send(b"".join(text_frame(f"40/nope-{i},") for i in range(2000)))
        for i in range(2000):
            assert await sio_reply(ws) == f'4/nope-{i},{{"message":"Invalid namespace"}}'
        await _still_serves(ws)
    finally:
        ws.close()
    lines = [r for r in logs.records if "CONNECT to unknown namespace" in r.getMessage()]
    assert 1 <= len(lines) <= 20, len(lines)
