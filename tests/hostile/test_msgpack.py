"""Hostile msgpack (``Server(parser="msgpack")``): messages that are not msgpack, not
a packet map, or a packet of the wrong shape (type, namespace, data, id), reserved
event names, and msgpack's own bombs (declared lengths far past the message, deep
nesting).  Each row is one binary message on a connected WebSocket; the server must
close the connection (1000, "parse error") and log why.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest

from _hostile import Case, WSConn, assert_logged, eio_path, params

INVALID = "invalid packet"


def pk(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def ev(data: Any, **kw: Any) -> bytes:
    return pk({"type": 2, "nsp": "/", "data": data, **kw})


CASES = [
    Case("not-msgpack", b"\xc1", "close", INVALID),
    Case("truncated-map", pk({"type": 2, "nsp": "/", "data": ["echo"]})[:-3], "close", INVALID),
    Case("trailing-bytes", ev(["echo"]) + b"\x00", "close", INVALID),
    Case("empty", b"", "close", INVALID),
    Case("not-a-map", pk([2, "/", ["echo"]]), "close", INVALID),
    Case("map-int-keys", pk({1: 2}), "close", INVALID),
    Case("type-missing", pk({"nsp": "/", "data": ["echo"]}), "close", INVALID),
    Case("type-string", pk({"type": "2", "nsp": "/", "data": ["echo"]}), "close", INVALID),
    Case("type-7", pk({"type": 7, "nsp": "/", "data": ["echo"]}), "close", INVALID),
    Case("type-negative", pk({"type": -1, "nsp": "/", "data": ["echo"]}), "close", INVALID),
    Case("type-float", pk({"type": 2.5, "nsp": "/", "data": ["echo"]}), "close", INVALID),
    Case("type-bool", pk({"type": True, "nsp": "/", "data": ["echo"]}), "close", INVALID),
    Case("nsp-missing", pk({"type": 2, "data": ["echo"]}), "close", INVALID),
    Case("nsp-int", pk({"type": 2, "nsp": 1, "data": ["echo"]}), "close", INVALID),
    Case("nsp-bytes", pk({"type": 2, "nsp": b"/", "data": ["echo"]}), "close", INVALID),
    Case("nsp-unconnected", pk({"type": 2, "nsp": "/nope", "data": ["echo"]}), "close", "unconnected namespace"),
    Case("data-not-list", ev({"a": 1}), "close", INVALID),
    Case("data-empty", ev([]), "close", INVALID),
    Case("data-missing", pk({"type": 2, "nsp": "/"}), "close", INVALID),
    Case("name-null", ev([None]), "close", INVALID),
    Case("name-bytes", ev([b"echo"]), "close", INVALID),
    Case("name-bool", ev([True]), "close", INVALID),
    *[Case(f"reserved-{n}", ev([n]), "close", INVALID) for n in ("connect", "disconnect", "connect_error", "disconnecting")],
    Case("id-string", ev(["echo"], id="1"), "close", INVALID),
    Case("id-negative", ev(["echo"], id=-1), "close", INVALID),
    Case("id-float", ev(["echo"], id=1.5), "close", INVALID),
    Case("id-2^64-1", ev(["echo"], id=2**64 - 1), "close", INVALID),
    Case("id-2^53", ev(["echo"], id=2**53), "close", INVALID),
    Case("id-float-huge", ev(["echo"], id=1e300), "close", INVALID),
    Case("ack-data-not-list", pk({"type": 3, "nsp": "/", "data": "x", "id": 1}), "close", INVALID),
    Case("connect-data-list", pk({"type": 0, "nsp": "/x", "data": [1]}), "close", INVALID),
    Case("disconnect-with-data", pk({"type": 1, "nsp": "/", "data": 1}), "close", INVALID),
    Case("second-connect", pk({"type": 0, "nsp": "/"}), "close", "second CONNECT"),
    Case("connect-error-from-client", pk({"type": 4, "nsp": "/", "data": "x"}), "close", "unexpected packet type 4"),
    Case("text-message", "2[\"echo\"]", "close", "text message with the msgpack parser"),
    # bombs: a declared length far past the message, nesting deeper than the decoder allows
    Case("array32-length-bomb", b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xdd\xff\xff\xff\xff", "close", INVALID),
    Case("map32-length-bomb", b"\xdf\xff\xff\xff\xff", "close", INVALID),
    Case("str32-length-bomb", b"\xdb\xff\xff\xff\xff", "close", INVALID),
    Case("bin32-length-bomb", b"\xc6\xff\xff\xff\xff", "close", INVALID),
    Case("nesting-5000", b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa4echo" + b"\x91" * 5000 + b"\xc0", "close", INVALID),
]


async def _msgpack_ws(url: str) -> WSConn:
    ws = await WSConn.connect(url, eio_path(transport="websocket"))
    first = await ws.recv()
    assert isinstance(first, str) and first[0] == "0"
    await ws.send_binary(pk({"type": 0, "nsp": "/"}))
    reply = await ws.recv()
    assert isinstance(reply, bytes) and msgpack.unpackb(reply)["type"] == 0, reply
    return ws


async def _call(ws: WSConn, n: int) -> None:
    await ws.send_binary(ev(["echo", n], id=n))
    while True:
        msg = await ws.recv()
        if msg == "2":
            await ws.send_text("3")
            continue
        assert isinstance(msg, bytes)
        assert msgpack.unpackb(msg) == {"type": 3, "nsp": "/", "data": [n], "id": n}
        return


@pytest.fixture
async def msgpack_server(serve: Any) -> Any:
    return await serve(parser="msgpack", allow_eio3=False)


@pytest.mark.parametrize("case", params(CASES))
async def test_bad_msgpack(msgpack_server: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify each row closes the connection, is logged, and a bystander on the same
    server, mid-conversation, carries on."""
    bystander = await _msgpack_ws(msgpack_server.url)
    await _call(bystander, 1)
    ws = await _msgpack_ws(msgpack_server.url)
    try:
        if isinstance(case.data, str):
            await ws.send_text("4" + case.data)
        else:
            await ws.send_binary(case.data)
        assert await ws.close_code() == 1000
        for _ in range(100):
            if "parse error" in msgpack_server.disconnects:
                break
            await asyncio.sleep(0.01)
        assert msgpack_server.disconnects == ["parse error"]
        await _call(bystander, 2)
    finally:
        ws.close()
        bystander.close()
    assert_logged(logs, case.log)
