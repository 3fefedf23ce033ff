"""Hostile Engine.IO, v4 and v3: bad sids, transports, versions and methods; POST
payloads that do not parse (v4 text, v3 text/base64, v3 binary, v3 JSONP forms);
packets a client must not send over WebSocket; upgrade probes that break the rules;
JSONP ``j=`` indexes made to inject script.

Request rows: ``data`` is ``(method, query, body, headers)``; ``{sid}`` in a query
value is replaced by the sid of a session opened for the row (``extra["session"]``:
its handshake query), ``{wsid}`` by a WebSocket-only session's.  ``expect`` is
``(status, Engine.IO error code)``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from _hostile import (
    NO_LOG,
    Case,
    MissingLog,
    Conn,
    WSConn,
    assert_logged,
    build_request,
    eio_path,
    eio_ws,
    params,
    polling_open,
)

NO_LOG_ENGINE = None  # fixed: Engine._error logs each refusal
V4: dict[str, str] = {}
V3_B64 = {"EIO": "3", "b64": "1"}
V3_BIN = {"EIO": "3"}
V3_JSONP = {"EIO": "3", "j": "0"}
SID = "{sid}"
BAD_PAYLOAD = "bad payload"
BAD_BODY = "bad POST body"


def get(query: dict[str, Any], **kw: Any) -> tuple[str, dict[str, Any], bytes, dict[str, str]]:
    return ("GET", query, b"", kw)


def post(body: bytes, query: dict[str, Any] | None = None, **headers: str) -> tuple[str, dict[str, Any], bytes, dict[str, str]]:
    return ("POST", {"sid": SID} if query is None else query, body, headers)


def _v3(*packets: str) -> bytes:
    return "".join(f"{len(p)}:{p}" for p in packets).encode()


OCTET = {"Content-Type": "application/octet-stream"}

REQUESTS = [
    # --- sids
    Case("sid-unknown", get({"sid": "A" * 20}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("sid-space", get({"sid": "%20"}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("sid-huge", get({"sid": "s" * 8000}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("sid-nul", get({"sid": "%00"}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("sid-unicode", get({"sid": "%F0%9F%92%A9"}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("sid-twice", get({"sid": SID + "&sid=" + "B" * 20}), (400, 1), "Session ID unknown", NO_LOG_ENGINE, {"session": V4}),
    Case("sid-prefix", get({"sid": SID + "x"}), (400, 1), "Session ID unknown", NO_LOG_ENGINE, {"session": V4}),
    Case("sid-of-websocket-session", get({"sid": "{wsid}"}), (400, 3), "Bad request", NO_LOG_ENGINE),
    Case("post-sid-unknown", post(b"4hi", {"sid": "Z" * 20}), (400, 1), "Session ID unknown", NO_LOG_ENGINE),
    Case("post-sid-of-websocket-session", post(b"4hi", {"sid": "{wsid}"}), (400, 3), "Bad request", NO_LOG_ENGINE),
    # --- transports
    Case("transport-junk", get({"transport": "flash"}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("transport-missing", get({"transport": None}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("transport-empty", get({"transport": ""}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("transport-case", get({"transport": "POLLING"}), (400, 0), "Transport unknown", NO_LOG_ENGINE),
    Case("transport-websocket-no-upgrade", get({"transport": "websocket"}), (400, 3), "Bad request", NO_LOG_ENGINE),
    Case("transport-switch-on-sid", get({"transport": "websocket", "sid": SID}), (400, 3), "Bad request", NO_LOG_ENGINE, {"session": V4}),
    # --- versions
    *[
        Case(f"eio-{name}", get({"EIO": value}), (400, 5), "Unsupported protocol version", NO_LOG_ENGINE)
        for name, value in (("5", "5"), ("0", "0"), ("2", "2"), ("junk", "abc"), ("missing", None), ("4.0", "4.0"), ("space", "%204"), ("huge", "4" * 3000))
    ],
    # --- methods
    Case("handshake-post", post(b"", {}), (400, 2), "Bad handshake method", NO_LOG_ENGINE),
    Case("handshake-put", ("PUT", {}, b"", {}), (400, 2), "Bad handshake method", NO_LOG_ENGINE),
    Case("handshake-delete", ("DELETE", {}, b"", {}), (400, 2), "Bad handshake method", NO_LOG_ENGINE),
    Case("sid-put", ("PUT", {"sid": SID}, b"4x", {}), (400, 3), "Bad request", NO_LOG_ENGINE, {"session": V4}),
    Case("sid-delete", ("DELETE", {"sid": SID}, b"", {}), (400, 3), "Bad request", NO_LOG_ENGINE, {"session": V4}),
    Case("sid-patch", ("PATCH", {"sid": SID}, b"4x", {}), (400, 3), "Bad request", NO_LOG_ENGINE, {"session": V4}),
    # --- origins (the server allows http://good.example only)
    Case("origin-evil-handshake", get({}, Origin="http://evil.example"), (403, 4), "Not an accepted origin (origin 'http://evil.example')"),
    Case("origin-evil-post", post(b"4hi", Origin="http://evil.example"), (403, 4), "Not an accepted origin (origin 'http://evil.example')", None, {"session": V4}),
    Case("origin-null-poll", get({"sid": SID}, Origin="null"), (403, 4), "Not an accepted origin (origin 'null')", None, {"session": V4}),
    Case(
        "origin-evil-preflight",
        ("OPTIONS", {}, b"", {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}),
        (403, 4),
        "Not an accepted origin (origin 'http://evil.example')",
    ),
    # --- Host trust (allowed_hosts: localhost, 127.0.0.1, ::1)
    Case("host-evil-handshake", get({}), (400, None), "not in allowed_hosts", None, {"host": "evil.example"}),
    Case("host-evil-post", post(b"4hi"), (400, None), "not in allowed_hosts", None, {"session": V4, "host": "evil.example"}),
    Case("host-evil-poll", get({"sid": SID}), (400, None), "not in allowed_hosts", None, {"session": V4, "host": "evil.example"}),
    Case("host-evil-v3-jsonp", get({}), (400, None), "not in allowed_hosts", None, {"host": "evil.example", "query": V3_JSONP}),
    Case("host-ip-other", get({}), (400, None), "not in allowed_hosts", None, {"host": "127.0.0.2"}),
    Case("host-evil-preflight", ("OPTIONS", {}, b"", {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}), (400, None), "not in allowed_hosts", None, {"host": "evil.example"}),
    # --- v4 POST payloads
    *[
        Case(f"v4-{name}", post(body), (400, 3), log, None, {"session": V4})
        for name, body, log in (
            ("type-7", b"7hello", BAD_PAYLOAD),
            ("type-9", b"9", BAD_PAYLOAD),
            ("type-letter", b"xhello", BAD_PAYLOAD),
            ("empty-body", b"", BAD_PAYLOAD),
            ("empty-packet-inside", b"4a\x1e\x1e4b", BAD_PAYLOAD),
            ("separator-only", b"\x1e", BAD_PAYLOAD),
            ("separator-leading", b"\x1e4a", BAD_PAYLOAD),
            ("separator-trailing", b"4a\x1e", BAD_PAYLOAD),
            ("non-utf8", b"4\xff\xfe", BAD_BODY),
            ("utf8-truncated", b"4\xe2\x82", BAD_BODY),
            ("base64-junk", b"b!!!", BAD_PAYLOAD),
            ("base64-no-padding", b"bAQI", BAD_PAYLOAD),
            ("base64-bad-length", b"bAAAAA", BAD_PAYLOAD),
            ("base64-padding-only", b"b====", BAD_PAYLOAD),
            ("base64-inner-space", b"bAQ I=", BAD_PAYLOAD),
            ("base64-in-second", b"4ok\x1eb@@@@", BAD_PAYLOAD),
        )
    ],
    Case("v4-open-from-client", post(b"0"), (200, None), "unexpected packet type 0", None, {"session": V4}),
    Case("v4-upgrade-over-polling", post(b"5"), (200, None), "unexpected packet type 5", None, {"session": V4}),
    Case("v4-ping-from-client", post(b"2"), (200, None), "PING from the client", None, {"session": V4}),
    Case("v4-ping-after-message", post(b"40\x1e2"), (200, None), "PING from the client", None, {"session": V4}),
    Case("v4-overlapping-get", ("GET2", {"sid": SID}, b"", {}), (400, 3), "overlapping polling requests", None, {"session": V4}),
    # --- v3 text (b64=1) payloads: <length>:<packet>
    *[
        Case(f"v3-{name}", post(body), (400, 3), log, None, {"session": V3_B64})
        for name, body, log in (
            ("length-short", b"2:4ab", BAD_PAYLOAD),
            ("length-long", b"9:4ab", BAD_PAYLOAD),
            ("length-alpha", b"x:4a", BAD_PAYLOAD),
            ("colon-only", b":", BAD_PAYLOAD),
            ("no-colon", b"24a", BAD_PAYLOAD),
            ("length-huge", b"99999999999999999999:4a", BAD_PAYLOAD),
            ("length-4300-digits", b"1" * 4400 + b":4a", BAD_PAYLOAD),
            ("length-negative", b"-2:4a", BAD_PAYLOAD),
            ("length-zero-then-junk", b"0:x", BAD_PAYLOAD),
            ("type-unknown", _v3("9a"), BAD_PAYLOAD),
            ("base64-junk", _v3("b4!!!"), BAD_PAYLOAD),
            ("base64-type-unknown", _v3("b9AQI="), BAD_PAYLOAD),
            ("second-broken", _v3("4ok") + b"5:4x", BAD_PAYLOAD),
            ("non-utf8", b"2:4\xff", BAD_BODY),
        )
    ],
    # --- v3 binary payloads (application/octet-stream): <0|1><digits><0xff><packet>
    *[
        Case(f"v3bin-{name}", post(body, None, **OCTET), (400, 3), BAD_PAYLOAD, None, {"session": V3_BIN})
        for name, body in (
            ("kind-2", b"\x02\x03\xff4ab"),
            ("digit-10", b"\x00\x0a\xff4ab"),
            ("no-terminator", b"\x00\x03\x01\x02"),
            ("length-over", b"\x00\x09\x09\xff4ab"),
            ("length-310-digits", b"\x00" + b"\x09" * 310 + b"\xff4"),
            ("empty", b""),
            ("only-kind", b"\x00"),
            ("text-not-utf8", b"\x00\x03\xff4\xff\xfe"),
            ("binary-type-unknown", b"\x01\x02\xff\x09\x01"),
        )
    ],
    # --- v3 JSONP forms (j=0): d=<payload>
    *[
        Case(f"jsonp-{name}", post(body, None, **{"Content-Type": "application/x-www-form-urlencoded"}), (400, 3), log, None, {"session": V3_JSONP})
        for name, body, log in (
            ("no-d", b"x=3:4ab", BAD_BODY),
            ("two-d", b"d=3:4ab&d=3:4cd", BAD_BODY),
            ("empty-form", b"", BAD_BODY),
            ("non-ascii", b"d=3:4\xe9b", BAD_BODY),
            ("bad-framing", b"d=3:4a", BAD_PAYLOAD),
            ("bad-type", b"d=2:9a", BAD_PAYLOAD),
            ("percent-junk", b"d=%ZZ%ZZ", BAD_PAYLOAD),
        )
    ],
]


async def _session(url: str, query: dict[str, str]) -> tuple[Conn, str]:
    conn = await Conn.open(url)
    return conn, await polling_open(conn, **query)


@pytest.mark.parametrize("case", params(REQUESTS))
async def test_bad_engine_io_request(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the row's status and Engine.IO error code, and a log line."""
    method, query, body, headers = case.data
    opened: list[Any] = []
    sid = wsid = ""
    try:
        if "session" in case.extra:
            conn0, sid = await _session(hostile.url, case.extra["session"])
            opened.append(conn0)
        if any(v == "{wsid}" for v in query.values()):
            ws, data = await eio_ws(hostile.url)
            opened.append(ws)
            wsid = data["sid"]
        q = {**case.extra.get("session", case.extra.get("query", {}))}
        q.update({k: (v.replace(SID, sid).replace("{wsid}", wsid) if isinstance(v, str) else v) for k, v in query.items()})
        conn = await Conn.open(hostile.url)
        opened.append(conn)
        if method == "GET2":  # a long-poll held, then a second one beside it
            await conn.send(build_request("GET", eio_path(**q)))
            other = await Conn.open(hostile.url)
            opened.append(other)
            r = await other.request("GET", eio_path(**q))
        else:
            r = await conn.request(method, eio_path(**q), body, headers=headers, host=case.extra.get("host", "localhost"))
    finally:
        for c in opened:
            c.close()
    status, code = case.expect
    assert r.status == status, r
    if code is not None:
        assert r.json()["code"] == code, r
    assert_logged(logs, case.log)


# ------------------------------------------------------------------ over WebSocket

WS_MESSAGES = [
    Case("ws-type-9", "9", 1000, "invalid packet over WebSocket"),
    Case("ws-type-letter", "z", 1000, "invalid packet over WebSocket"),
    Case("ws-empty", "", 1000, "invalid packet over WebSocket"),
    Case("ws-base64-junk", "b!!!", 1000, "invalid packet over WebSocket"),
    Case("ws-ping", "2", 1000, "PING from the client"),
    Case("ws-ping-probe", "2probe", 1000, "PING from the client"),
    Case("ws-open", "0", 1000, "unexpected packet type 0"),
    Case("ws-open-json", '0{"sid":"x"}', 1000, "unexpected packet type 0"),
    Case("ws-upgrade", "5", 1000, "unexpected packet type 5"),
    Case("ws-v3-type-9", "9", 1000, "invalid packet over WebSocket", None, {"eio": "3"}),
    Case("ws-v3-empty", "", 1000, "invalid packet over WebSocket", None, {"eio": "3"}),
    Case("ws-v3-open", "0", 1000, "unexpected packet type 0", None, {"eio": "3"}),
    Case("ws-v3-binary-type-9", b"\x09\x01\x02", 1000, "invalid packet over WebSocket", None, {"eio": "3"}),
    Case("ws-v3-binary-empty", b"", 1000, "invalid packet over WebSocket", None, {"eio": "3"}),
]


@pytest.mark.parametrize("case", params(WS_MESSAGES))
async def test_bad_engine_io_message(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify an Engine.IO packet a client must not send closes the session (the
    WebSocket closed with 1000), logged."""
    ws, _ = await eio_ws(hostile.url, case.extra.get("eio", "4"))
    try:
        if case.extra.get("eio") == "3":
            assert await ws.recv() == "40"
        if isinstance(case.data, bytes):
            await ws.send_binary(case.data)
        else:
            await ws.send_text(case.data)
        assert await ws.close_code() == case.expect
    finally:
        ws.close()
    assert_logged(logs, case.log)


PROBES = [
    Case("probe-message", "4hello", None, "probe", None),
    Case("probe-upgrade-first", "5", None, "probe", None),
    Case("probe-ping-not-probe", "2ping", None, "probe", None),
    Case("probe-invalid", "9", None, "invalid packet over WebSocket"),
]


@pytest.mark.parametrize("case", params(PROBES))
async def test_bad_upgrade_probe(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify a probe WebSocket that breaks the upgrade protocol is closed, and the
    polling session it tried to upgrade carries on."""
    conn = await Conn.open(hostile.url)
    try:
        sid = await polling_open(conn)
        ws = await WSConn.connect(hostile.url, eio_path(transport="websocket", sid=sid))
        await ws.send_text(case.data)
        assert await ws.close_code() in (1000, None)
        ws.close()
        r = await conn.request("POST", eio_path(sid=sid), b"40")
        assert r.status == 200
        r = await conn.request("GET", eio_path(sid=sid))
        assert r.body.startswith(b"40{"), r
    finally:
        conn.close()
    assert_logged(logs, case.log)


# ------------------------------------------------------------------ JSONP j= (v3)

JSONP = [
    Case("j-letters", "abc", "", ""),
    Case("j-negative", "-1", "1", ""),
    Case("j-script", "0%5D(alert(1))%3B//", "01", ""),
    Case("j-quote", "1%22%3Balert(1)%3B%22", "11", ""),
    Case("j-newline", "1%0A2", "12", ""),
    Case("j-html", "%3Cscript%3E2", "2", ""),
    Case("j-unicode-digits", "%D9%A3", "", ""),
    Case("j-long", "7" * 3000, "7" * 3000, ""),
]


@pytest.mark.parametrize("case", params(JSONP))
async def test_jsonp_index_sanitized(hostile: Any, case: Case) -> None:
    """Verify a JSONP index made to inject script is reduced to its ASCII digits (as
    the reference server does): the answer is one call of ``___eio[<digits>]`` with a
    JSON string, whatever ``j`` was.  (Sanitised, not refused: no log line.)"""
    conn = await Conn.open(hostile.url)
    try:
        r = await conn.request("GET", eio_path(EIO="3", j=case.data))
    finally:
        conn.close()
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/javascript")
    m = re.fullmatch(rb'___eio\[([0-9]*)\]\("(?:[^"\\]|\\.)*"\);', r.body)
    assert m is not None, r.body[:200]
    assert m.group(1) == case.expect.encode()


async def test_polling_client_that_never_polls(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a polling client that sends acked events but never GETs its answers is
    bounded: once what waits for it passes ``max_buffer_size`` its session is closed
    (the next POST gets 400 code 1), logged; a bystander loses nothing."""
    from _hostile import Bystander

    served = await serve(max_buffer_size=50_000)
    bystander = await Bystander(served.url).start()
    conn = await Conn.open(served.url)
    try:
        sid = await polling_open(conn)
        assert (await conn.request("POST", eio_path(sid=sid), b"40")).status == 200
        assert (await conn.request("GET", eio_path(sid=sid))).body.startswith(b"40{")
        body = "\x1e".join(f'42{i}["echo","{"x" * 200}"]' for i in range(40)).encode()
        for _ in range(50):  # 50 x 40 x 200 bytes: twice the bound
            r = await conn.request("POST", eio_path(sid=sid), body)
            if r.status != 200:
                break
        assert r.status == 400 and r.json()["code"] == 1, r
    finally:
        conn.close()
    assert "send buffer full" in served.disconnects
    await bystander.stop()
    assert_logged(logs, "max_buffer_size")
