"""Hostile HTTP: request lines, headers, bodies, chunked encoding and pipelining.

Each row is raw bytes sent on a fresh connection; the server must answer the status
of the row (then close the connection) and log why, while the bystander's acked
messages keep flowing.
"""

from __future__ import annotations

from typing import Any

import pytest

from fastsio._server import http as http_mod

from _hostile import (
    MAX,
    Case,
    Conn,
    assert_logged,
    build_request,
    eio_path,
    params,
    polling_open,
    raw_exchange,
    status_of,
    statuses,
)

MALFORMED = "malformed HTTP request"
HANDSHAKE = eio_path()
H = http_mod.MAX_HEADER_BYTES


def _chunked(*chunks: bytes, size_line: bytes | None = None) -> bytes:
    head = b"POST " + HANDSHAKE.encode() + b" HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return head + (size_line if size_line is not None else body + b"0\r\n\r\n")


def _headers(n: int) -> bytes:
    return build_request("GET", HANDSHAKE, headers={f"X-H{i}": "v" for i in range(n)})


CASES = [
    # --- request line
    Case("garbage-line", b"GARBAGE\r\n\r\n", 400, MALFORMED),
    Case("binary-line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400, MALFORMED),
    Case("unknown-method", b"FROB / HTTP/1.1\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("lowercase-method", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("method-nonascii", b"G\xc9T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("version-empty", b"GET / HTTP/\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("version-junk", b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("version-99", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("version-digits", b"GET / HTTP/1.1234\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("url-nul", b"GET /\x00 HTTP/1.1\r\n\r\n", 400, MALFORMED),
    Case("url-space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("url-ctl", b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, MALFORMED),
    Case("url-oversize", build_request("GET", "/" + "u" * (H + 10)), 414, "refused: 414"),
    Case("query-oversize", build_request("GET", HANDSHAKE + "&x=" + "q" * (H + 10)), 414, "refused: 414"),
    Case("bare-lf-line", b"GET / HTTP/1.1\nHost: x\n\n", 400, MALFORMED),
    Case("cr-only", b"GET / HTTP/1.1\rHost: x\r\r", 400, MALFORMED),
    # --- headers
    Case("header-no-colon", b"GET / HTTP/1.1\r\nNo Colon Here\r\n\r\n", 400, MALFORMED),
    Case("header-name-space", b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, MALFORMED),
    Case("header-space-before-colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, MALFORMED),
    Case("header-value-nul", b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", 400, MALFORMED),
    Case("header-value-del", b"GET / HTTP/1.1\r\nHost: a\r\n b\x7f\x00\r\n\r\n", 400, MALFORMED),
    Case("header-obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400, MALFORMED),
    Case("header-name-nonascii", b"GET / HTTP/1.1\r\nX-\xff: 1\r\n\r\n", 400, MALFORMED),
    Case("header-empty-name", b"GET / HTTP/1.1\r\n: nothing\r\n\r\n", 400, MALFORMED),
    Case("header-bytes-oversize", build_request("GET", HANDSHAKE, headers={"X": "y" * (H + 10)}), 431, "refused: 431"),
    Case("header-count", _headers(http_mod.MAX_HEADERS + 1), 431, "refused: 431"),
    Case("header-count-5000", _headers(5000), 431, "refused: 431"),
    Case("header-many-small", build_request("GET", HANDSHAKE, headers={f"X{i}": "z" * 300 for i in range(60)}), 431, "refused: 431"),
    # --- bodies
    Case("content-length-alpha", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, MALFORMED),
    Case("content-length-negative", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, MALFORMED),
    Case("content-length-twice", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, MALFORMED),
    Case("content-length-list", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nab", 400, MALFORMED),
    Case("content-length-2e64", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551617\r\n\r\n", 400, MALFORMED),
    Case("content-length-over", build_request("POST", HANDSHAKE, b"4" * (MAX + 1)), 413, "over the limit"),
    Case("content-length-huge", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", 413, "over the limit"),
    Case(
        "content-length-and-chunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        MALFORMED,
    ),
    # --- chunked
    Case("chunk-size-junk", _chunked(size_line=b"xyz\r\n"), 400, MALFORMED),
    Case("chunk-size-overflow", _chunked(size_line=b"fffffffffffffffffffff\r\n"), 400, MALFORMED),
    Case("chunk-size-negative", _chunked(size_line=b"-5\r\nhello\r\n"), 400, MALFORMED),
    Case("chunk-no-crlf", _chunked(size_line=b"5\r\nhelloXX0\r\n\r\n"), 400, MALFORMED),
    Case("chunk-ext-junk", _chunked(size_line=b"5;\x00\r\nhello\r\n0\r\n\r\n"), 400, MALFORMED),
    Case("chunked-over", _chunked(b"x" * 256, b"x" * MAX), 413, "over the limit"),
    Case("chunked-many-small-over", _chunked(*([b"xx"] * (MAX // 2 + 1))), 413, "over the limit"),
    Case(
        "te-not-last-chunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        400,
        MALFORMED,
    ),
    Case(
        "te-twice",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        MALFORMED,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
async def test_bad_http(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the row's status, then the end of the connection, and a log line."""
    out = await raw_exchange(hostile.url, case.data)
    assert status_of(out) == case.expect, out[:200]
    assert b"connection: close" in out.split(b"\r\n\r\n")[0].lower()
    assert_logged(logs, case.log)


# ------------------------------------------------------------------ pipelining


PIPELINE_CASES = [
    Case(
        "garbage-behind-good",
        build_request("GET", HANDSHAKE) + b"\x00\x01\x02\r\n\r\n",
        [200, 400],
        MALFORMED,
    ),
    Case(
        "oversize-behind-good",
        build_request("GET", HANDSHAKE) + build_request("POST", HANDSHAKE, b"x" * (MAX + 1)),
        [200, 413],
        "over the limit",
    ),
    Case(
        "smuggle-behind-good",
        build_request("GET", HANDSHAKE)
        + b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
        [200, 400],
        MALFORMED,
    ),
]


@pytest.mark.parametrize("case", params(PIPELINE_CASES))
async def test_bad_pipelining(hostile: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify pipelined abuse: good requests answered in order, then the row's
    refusal; nothing after it is answered."""
    out = await raw_exchange(hostile.url, case.data)
    assert statuses(out) == case.expect, out[:300]
    assert_logged(logs, case.log)


async def test_pipelined_flood_behind_held_poll(hostile: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify requests pipelined behind a held long-poll GET are bounded: over
    MAX_PIPELINED the connection is cut (no answer to the flood, nothing buffered)."""
    conn = await Conn.open(hostile.url)
    try:
        sid = await polling_open(conn)
        poll = build_request("GET", eio_path(sid=sid))
        await conn.send(poll * (http_mod.MAX_PIPELINED + 10))
        out = await conn.read_all()
    finally:
        conn.close()
    assert statuses(out) == [], out[:300]
    assert_logged(logs, f"over {http_mod.MAX_PIPELINED} pipelined requests; closing")


async def test_slowloris_gets_408(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a request trickled in slower than ``http_request_timeout`` is answered
    408, while a bystander is served."""
    from _hostile import Bystander

    served = await serve(http_request_timeout=0.3)
    bystander = await Bystander(served.url).start()
    conn = await Conn.open(served.url)
    try:
        await conn.send(b"GET " + HANDSHAKE.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        out = await conn.read_all(timeout=5)
    finally:
        conn.close()
    assert status_of(out) == 408, out
    assert_logged(logs, "not complete in time: 408")
    await bystander.stop()


async def test_endless_body_gets_413(hostile: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify a chunked body that never ends is cut at the limit (413), not buffered."""
    conn = await Conn.open(hostile.url)
    try:
        await conn.send(b"POST " + HANDSHAKE.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(MAX // 1000 + 5):
                await conn.send(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
        except (ConnectionResetError, BrokenPipeError):
            pass
        out = await conn.read_all()
    finally:
        conn.close()
    assert status_of(out) == 413, out
    assert_logged(logs, "over the limit")
