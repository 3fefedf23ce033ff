"""Hostile WebSocket: the opening handshake (keys, versions, missing headers,
cross-site WebSocket hijacking origins) and the frames (RSV bits, opcodes, lengths,
masking, fragmentation, UTF-8, close codes, permessage-deflate).

Handshake rows are a request's headers; the server must refuse with the row's status
(the Engine.IO error body ``{"code": n, ...}`` where it has one), close, and log why.
Frame rows are bytes sent on an open Socket.IO WebSocket; the server must close with
the row's close code and log the protocol error.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from typing import Any

import pytest

from _hostile import (
    MAX,
    NO_LOG,
    Case,
    Conn,
    WSConn,
    assert_logged,
    build_request,
    close_frame,
    eio_path,
    frame,
    params,
    polling_open,
    sio_reply,
    sio_ws,
    text,
    ws_headers,
)

WS = eio_path(transport="websocket")
BAD = "bad WebSocket handshake"
ORIGIN = "refused: 403 Not an accepted origin (origin "
HOST = "not in allowed_hosts"
NO_LOG_ENGINE = None  # fixed: Engine._error logs each refusal

# data: (target, header overrides, method); expect: (status, Engine.IO error code or None)
HANDSHAKES = [
    Case("key-short", (WS, {"Sec-WebSocket-Key": "short"}), (400, 3), BAD),
    Case("key-empty", (WS, {"Sec-WebSocket-Key": ""}), (400, 3), BAD),
    Case("key-missing", (WS, {"Sec-WebSocket-Key": None}), (400, 3), BAD),
    Case("key-not-base64", (WS, {"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}), (400, 3), BAD),
    Case("key-15-bytes", (WS, {"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA"}), (400, 3), BAD),
    Case("key-17-bytes", (WS, {"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAAA="}), (400, 3), BAD),
    Case("key-32-bytes", (WS, {"Sec-WebSocket-Key": "A" * 43 + "="}), (400, 3), BAD),
    Case("key-two", (WS, {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="}), (400, 3), BAD),
    Case("key-nonascii", (WS, {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ\xe9="}), (400, 3), BAD),
    Case("version-8", (WS, {"Sec-WebSocket-Version": "8"}), (400, 3), BAD),
    Case("version-12", (WS, {"Sec-WebSocket-Version": "12"}), (400, 3), BAD),
    Case("version-14", (WS, {"Sec-WebSocket-Version": "14"}), (400, 3), BAD),
    Case("version-missing", (WS, {"Sec-WebSocket-Version": None}), (400, 3), BAD),
    Case("version-list", (WS, {"Sec-WebSocket-Version": "13, 8"}), (400, 3), BAD),
    Case("version-junk", (WS, {"Sec-WebSocket-Version": "thirteen"}), (400, 3), BAD),
    Case("version-huge", (WS, {"Sec-WebSocket-Version": "9" * 500}), (400, 3), BAD),
    Case("upgrade-not-websocket", (WS, {"Upgrade": "websocket2"}), (400, 3), "Bad request", NO_LOG_ENGINE, {"keep": True}),
    Case("method-post", (WS, {}, "POST"), (400, 3), BAD),
    Case("upgrade-missing", (WS, {"Upgrade": None}), (400, 3), "Bad request", NO_LOG_ENGINE, {"keep": True}),
    Case("connection-missing", (WS, {"Connection": None}), (400, 3), "Bad request", NO_LOG_ENGINE, {"keep": True}),
    Case("connection-keep-alive", (WS, {"Connection": "keep-alive"}), (400, 3), "Bad request", NO_LOG_ENGINE, {"keep": True}),
    Case("transport-polling", (eio_path(), {}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("transport-junk", (eio_path(transport="smoke"), {}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("transport-missing", (eio_path(transport=None), {}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("eio-5", (eio_path(transport="websocket", EIO="5"), {}), (400, 5), "Unsupported protocol version", NO_LOG_ENGINE),
    Case("eio-missing", (eio_path(transport="websocket", EIO=None), {}), (400, 5), "Unsupported protocol version", NO_LOG_ENGINE),
    Case("eio-junk", (eio_path(transport="websocket", EIO="4x"), {}), (400, 5), "Unsupported protocol version", NO_LOG_ENGINE),
    Case("sid-unknown", (eio_path(transport="websocket", sid="A" * 20), {}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("sid-huge", (eio_path(transport="websocket", sid="A" * 10_000), {}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("path-unknown", ("/nowhere/?EIO=4&transport=websocket", {}), (404, None), "Not Found", NO_LOG_ENGINE),
    # cross-site WebSocket hijacking: the server allows http://good.example only
    Case("origin-evil", (WS, {"Origin": "http://evil.example"}), (403, 4), ORIGIN),
    Case("origin-null", (WS, {"Origin": "null"}), (403, 4), ORIGIN),
    Case("origin-empty", (WS, {"Origin": ""}), (403, 4), ORIGIN),
    Case("origin-suffix", (WS, {"Origin": "http://good.example.evil.example"}), (403, 4), ORIGIN),
    Case("origin-prefix", (WS, {"Origin": "http://evilgood.example"}), (403, 4), ORIGIN),
    Case("origin-other-port", (WS, {"Origin": "http://good.example:8080"}), (403, 4), ORIGIN),
    Case("origin-other-scheme", (WS, {"Origin": "https://good.example"}), (403, 4), ORIGIN),
    Case("origin-trailing-slash", (WS, {"Origin": "http://good.example/"}), (403, 4), ORIGIN),
    Case("origin-userinfo", (WS, {"Origin": "http://good.example@evil.example"}), (403, 4), ORIGIN),
    Case("origin-file", (WS, {"Origin": "file://"}), (403, 4), ORIGIN),
    Case("origin-two", (WS, {"Origin": "http://good.example, http://evil.example"}), (403, 4), ORIGIN),
    Case("origin-localhost-https", (WS, {"Origin": "https://localhost"}), (403, 4), ORIGIN),
    Case("origin-schemeless-other", (WS, {"Origin": "evil.example"}), (403, 4), ORIGIN),
    Case("origin-schemeless-other-port", (WS, {"Origin": "localhost:1"}), (403, 4), ORIGIN),
    # Host trust (allowed_hosts: localhost, 127.0.0.1, ::1): a DNS-rebinding page sends
    # Origin and Host both its own
    Case("dns-rebinding", (WS, {"Origin": "http://evil.example"}), (400, None), HOST, None, {"host": "evil.example"}),
    Case("host-evil-no-origin", (WS, {}), (400, None), HOST, None, {"host": "evil.example"}),
    Case("host-suffix", (WS, {}), (400, None), HOST, None, {"host": "localhost.evil.example"}),
    Case("host-userinfo", (WS, {}), (400, None), HOST, None, {"host": "localhost@evil.example"}),
    Case("host-empty", (WS, {}), (400, None), HOST, None, {"host": ""}),
    Case("host-missing", (WS, {}), (400, None), HOST, None, {"host": None}),
    Case("host-two", (WS, {"Host": "evil.example"}), (400, None), HOST),
]


@pytest.mark.parametrize("case", params(HANDSHAKES))
async def test_bad_websocket_handshake(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the row's status and error body, the end of the connection, and a log line."""
    target, headers, *method = case.data
    status, code = case.expect
    data = build_request(
        method[0] if method else "GET", target, headers=ws_headers(**headers), host=case.extra.get("host", "localhost")
    )
    conn = await Conn.open(hostile.url)
    try:
        await conn.send(data)
        r = await conn.response()
        assert r.status == status, r
        if not case.extra.get("keep"):  # not an upgrade: an HTTP error, the connection stays
            assert r.headers.get("connection") == "close", r
            assert await conn.read_all() == b""
    finally:
        conn.close()
    if code is not None:
        assert r.json()["code"] == code, r
    assert_logged(logs, case.log)


async def test_second_upgrade_refused(hostile: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a second WebSocket upgrade of a session already probing is accepted then
    closed (1000), as the reference server does, and logged."""
    conn = await Conn.open(hostile.url)
    try:
        sid = await polling_open(conn)
        first = await WSConn.connect(hostile.url, eio_path(transport="websocket", sid=sid))
        second = await WSConn.connect(hostile.url, eio_path(transport="websocket", sid=sid))
        assert await second.close_code() == 1000
        first.close()
        second.close()
    finally:
        conn.close()
    assert_logged(logs, "refused a second upgrade")


# ------------------------------------------------------------------ frames

PROTO = "WebSocket protocol error"
_BIG = b"4" + b"x" * MAX


def _deflated(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


FRAMES = [
    # masking, RSV bits, opcodes
    Case("unmasked-text", frame(0x1, b"4hi", masked=False), 1002, PROTO),
    Case("unmasked-binary", frame(0x2, b"\x01", masked=False), 1002, PROTO),
    Case("unmasked-ping", frame(0x9, b"", masked=False), 1002, PROTO),
    Case("unmasked-close", frame(0x8, struct.pack("!H", 1000), masked=False), 1002, PROTO),
    Case("rsv2", frame(0x1, b"4hi", rsv=2), 1002, PROTO),
    Case("rsv3", frame(0x1, b"4hi", rsv=1), 1002, PROTO),
    Case("rsv-all", frame(0x1, b"4hi", rsv=7), 1002, PROTO),
    Case("rsv1-on-ping", frame(0x9, b"", rsv=4), 1002, PROTO),
    Case("rsv1-on-close", frame(0x8, struct.pack("!H", 1000), rsv=4), 1002, PROTO),
    *[Case(f"opcode-{op}", frame(op, b"4hi"), 1002, PROTO) for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF)],
    # lengths
    Case("oversize-text", frame(0x1, _BIG), 1009, PROTO),
    Case("oversize-binary", frame(0x2, b"x" * (MAX + 1)), 1009, PROTO),
    Case("oversize-fragmented", frame(0x1, _BIG[:600], fin=False) + frame(0x0, _BIG[600:]), 1009, PROTO),
    Case(
        "oversize-many-fragments",
        frame(0x1, b"4", fin=False) + b"".join(frame(0x0, b"xxxxxxxxxx", fin=False) for _ in range(MAX // 10 + 1)),
        1009,
        PROTO,
    ),
    Case("length-2^63", b"\x82\xff\x80" + b"\x00" * 7 + b"\x00" * 4, 1002, PROTO),
    Case("length-2^62", b"\x82\xff\x40" + b"\x00" * 7 + b"\x00" * 4, 1009, PROTO),
    Case("length-2^32", b"\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00" + b"\x00" * 4, 1009, PROTO),
    Case("length-non-minimal-16", b"\x81\xfe\x00\x05" + b"\x00" * 9, 1002, PROTO),
    Case("length-non-minimal-64", b"\x81\xff" + struct.pack("!Q", 5) + b"\x00" * 9, 1002, PROTO),
    Case("control-126", frame(0x9, b"p" * 126), 1002, PROTO),
    Case("control-close-126", frame(0x8, struct.pack("!H", 1000) + b"r" * 124), 1002, PROTO),
    # fragmentation
    Case("fragmented-ping", frame(0x9, b"p", fin=False), 1002, PROTO),
    Case("fragmented-pong", frame(0xA, b"p", fin=False), 1002, PROTO),
    Case("fragmented-close", frame(0x8, struct.pack("!H", 1000), fin=False), 1002, PROTO),
    Case("continuation-first", frame(0x0, b"4hi"), 1002, PROTO),
    Case("continuation-after-final", text("4hi") + frame(0x0, b"x"), 1002, PROTO),
    Case("text-inside-fragmented", frame(0x1, b"4h", fin=False) + frame(0x1, b"i"), 1002, PROTO),
    Case("binary-inside-fragmented", frame(0x1, b"4h", fin=False) + frame(0x2, b"i"), 1002, PROTO),
    # UTF-8
    Case("utf8-invalid", frame(0x1, b"4\xff\xfe"), 1007, PROTO),
    Case("utf8-surrogate", frame(0x1, b"4\xed\xa0\x80"), 1007, PROTO),
    Case("utf8-overlong", frame(0x1, b"4\xc0\xaf"), 1007, PROTO),
    Case("utf8-over-10ffff", frame(0x1, b"4\xf4\x90\x80\x80"), 1007, PROTO),
    Case("utf8-lone-continuation", frame(0x1, b"4\x80"), 1007, PROTO),
    Case("utf8-5-byte", frame(0x1, b"4\xf8\x88\x80\x80\x80"), 1007, PROTO),
    Case("utf8-truncated", frame(0x1, b"4\xe2\x82"), 1007, PROTO),
    Case("utf8-fragmented-truncated", frame(0x1, b"4\xe2\x82", fin=False) + frame(0x0, b"x"), 1007, PROTO),
    Case("utf8-close-reason", close_frame(1000, b"\xff"), 1007, PROTO),
    # close codes
    *[
        Case(f"close-code-{code}", close_frame(code), 1002, PROTO)
        for code in (0, 999, 1004, 1005, 1006, 1012 + 4, 1100, 2000, 2999, 5000, 65535)
    ],
    Case("close-1-byte", frame(0x8, b"\x03"), 1002, PROTO),
    # permessage-deflate is not negotiated on this connection
    Case("rsv1-without-deflate", frame(0x1, _deflated(b"4hi"), rsv=4), 1002, PROTO),
]


@pytest.mark.parametrize("case", params(FRAMES))
async def test_bad_frame(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the row's close code on a Socket.IO WebSocket, a log line, and the
    disconnect of the socket ("transport close")."""
    ws = await sio_ws(hostile.url)
    try:
        await ws.send(case.data)
        assert await ws.close_code() == case.expect
    finally:
        ws.close()
    assert_logged(logs, case.log)
    assert_logged(logs, str(case.expect))


async def test_good_close_codes_and_interleaved_control(hostile: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify what looks odd but is valid is served: a ping inside a fragmented
    message, then a close with an application code and a UTF-8 reason (echoed)."""
    ws = await sio_ws(hostile.url)
    try:
        await ws.send(frame(0x1, b'421["ec', fin=False) + frame(0x9, b"!") + frame(0x0, b'ho",1]'))
        assert await ws.recv_frame() == (0xA, b"!")
        assert await sio_reply(ws) == "31[1]"
        await ws.send(close_frame(4999, "ünïcode".encode()))
        assert await ws.close_code() == 4999
    finally:
        ws.close()


# ------------------------------------------------------------------ permessage-deflate

DEFLATE = [
    Case("deflate-not-deflate", frame(0x1, b"\xff\xff\xff\xff", rsv=4), 1007, PROTO),
    Case("deflate-rsv1-on-continuation", frame(0x1, _deflated(b"4h"), rsv=4, fin=False) + frame(0x0, b"i", rsv=4), 1002, PROTO),
    Case("deflate-rsv1-on-ping", frame(0x9, b"", rsv=4), 1002, PROTO),
    Case("deflate-bomb", frame(0x1, _deflated(b"4" + b"x" * (50 * MAX)), rsv=4), 1009, PROTO),
    Case("deflate-bad-utf8", frame(0x1, _deflated(b"4\xff\xfe"), rsv=4), 1007, PROTO),
]


@pytest.mark.parametrize("case", params(DEFLATE))
async def test_bad_deflate(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify broken permessage-deflate frames on a connection that negotiated it."""
    ws = await WSConn.connect(
        hostile.url,
        eio_path(transport="websocket"),
        headers={"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"},
    )
    try:
        assert (await ws.recv())[:1] == "0"  # type: ignore[index]
        await ws.send_text("40")
        assert (await ws.recv())[:2] == "40"  # type: ignore[index]
        await ws.send(case.data)
        assert await ws.close_code() == case.expect
    finally:
        ws.close()
    assert_logged(logs, case.log)


async def test_ping_flood_without_reading(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a client that floods pings and never reads the pongs is dropped as a slow
    consumer once they pass ``max_buffer_size`` (logged), not buffered without bound;
    a bystander loses nothing."""
    from _hostile import Bystander

    served = await serve(max_buffer_size=100_000)
    bystander = await Bystander(served.url).start()
    ws = await sio_ws(served.url)
    burst = frame(0x9, b"p" * 125) * 500
    try:
        for _ in range(2000):  # up to 125 MB of pongs
            await asyncio.wait_for(ws.send(burst), 5)
        raise AssertionError("the flooder was never dropped")
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        ws.close()
    assert_logged(logs, "over max_buffer_size (100000); disconnecting")
    await bystander.stop()


# ------------------------------------------------------------------ extension offers

#: data: a Sec-WebSocket-Extensions offer no server may accept as is (RFC 7692 7.1);
#: expect: the extension answered (None: declined, the connection goes uncompressed)
OFFERS = [
    Case("offer-window-7", "permessage-deflate; server_max_window_bits=7", None, ""),
    Case("offer-window-16", "permessage-deflate; server_max_window_bits=16", None, ""),
    Case("offer-window-junk", "permessage-deflate; server_max_window_bits=abc", None, ""),
    Case("offer-client-window-0", "permessage-deflate; client_max_window_bits=0", None, ""),
    Case("offer-duplicate-param", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", None, ""),
    Case("offer-unknown-param", "permessage-deflate; x-bomb=1", None, ""),
    Case("offer-value-on-flag", "permessage-deflate; server_no_context_takeover=1", None, ""),
    Case("offer-garbage", ";;;,,,==\"\"\"", None, ""),
    Case("offer-huge", "permessage-deflate; " + "x" * 8000, None, ""),
    Case("offer-bad-then-good", "permessage-deflate; x=1, permessage-deflate", "permessage-deflate", ""),
]


@pytest.mark.parametrize("case", params(OFFERS))
async def test_bad_extension_offer(hostile: Any, case: Case) -> None:
    """Verify an unacceptable permessage-deflate offer is declined (RFC 7692: the
    server answers without it), not answered with a broken agreement, and the
    connection works uncompressed.  (Declined, not refused: no log line.)"""
    conn = await Conn.open(hostile.url)
    ws = WSConn(conn.reader, conn.writer)
    try:
        await ws.send(build_request("GET", WS, headers=ws_headers(**{"Sec-WebSocket-Extensions": case.data})))
        head = (await ws.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        assert head.startswith("http/1.1 101 "), head
        answered = [line for line in head.split("\r\n") if line.startswith("sec-websocket-extensions:")]
        if case.expect is None:
            assert answered == [], answered
        else:
            assert answered and answered[0].split(":", 1)[1].strip().startswith(case.expect), answered
        assert (await ws.recv())[:1] == "0"  # type: ignore[index]
        await ws.send_text("40")
        assert (await ws.recv())[:2] == "40"  # type: ignore[index]
        if case.expect is None:
            await ws.send_text('421["echo","plain"]')
            assert await sio_reply(ws) == '31["plain"]'
    finally:
        ws.close()
