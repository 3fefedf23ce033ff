"""The streams adapter's formats against the values captured from Node's
``@socket.io/redis-streams-adapter`` 0.3.1 on a live Redis (``../shared/protocol``, §5):
a binary broadcast's ``data`` field, a stored session, the stream a namespace hashes to;
no Redis needed."""

from __future__ import annotations

import pytest

from fastsio.adapters import redis_wire as wire

# XADD ... data <this>: a broadcast of ["bin", <01 02 03 ff>] to everyone
CAPTURED_DATA = b"gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQEAQID/6RvcHRzg6Vyb29tc5CmZXhjZXB0kKVmbGFnc4A="
# SET sio:session:<pid> <this> PX 60000
CAPTURED_SESSION = (b"hKNzaWS0VmJ4dWdpWXI5ZEk5WlBicUFBQUWjcGlktHlzNEwwTll0b3FxMmNWblFBQUFGpXJvb21zkrRWYnh1Z2lZcjlk"
                    b"STlaUGJxQUFBRaVyb29tMqRkYXRhgqRuYW1lo2NCMqZzZXJ2ZXKhQg==")


def test_binary_broadcast_data_is_nodes() -> None:
    data = {"packet": {"type": 2, "data": ["bin", b"\x01\x02\x03\xff"]}, "opts": {"rooms": [], "except": [], "flags": {}}}
    assert wire.encode_stream_data(wire.S_BROADCAST, data) == CAPTURED_DATA
    assert wire.decode_stream_data(CAPTURED_DATA) == data
    # JSON when there is no binary, or with only_plaintext
    plain = wire.encode_stream_data(wire.S_BROADCAST, data, only_plaintext=True)
    assert plain.startswith(b"{") and wire.decode_stream_data(plain)["opts"] == data["opts"]
    assert wire.encode_stream_data(wire.S_SOCKETS_JOIN, {"opts": {}, "rooms": ["r"]}) == b'{"opts":{},"rooms":["r"]}'


def test_session_is_nodes() -> None:
    session = wire.decode_session(CAPTURED_SESSION)
    assert session == {"sid": "VbxugiYr9dI9ZPbqAAAE", "pid": "ys4L0NYtoqq2cVnQAAAF",
                       "rooms": ["VbxugiYr9dI9ZPbqAAAE", "room2"], "data": {"name": "cB2", "server": "B"}}
    assert wire.encode_session(session["sid"], session["pid"], session["rooms"], session["data"]) == CAPTURED_SESSION
    for bad in (b"", b"%%%", b"kQ==", b"gaNzaWQB"):  # not base64, [1], {"sid": 1}
        assert wire.decode_session(bad) is None


@pytest.mark.parametrize(("nsp", "hashed", "stream"), [
    ("/", 47, "socket.io-3"),
    ("/chat", 46457863, "socket.io-3"),
    ("/admin", 1438238848, "socket.io-0"),
    ("/a-very-long-namespace-name-xyz", -1456438082, "socket.io--2"),
])
def test_stream_of_a_namespace(nsp: str, hashed: int, stream: str) -> None:
    assert wire.java_hash(nsp) == hashed
    assert wire.stream_key("socket.io", 4, nsp) == stream
    assert wire.stream_key("socket.io", 1, nsp) == "socket.io"


def test_stream_ids() -> None:
    assert wire.parse_id(b"1796052580732-0") == (1796052580732, 0)
    assert wire.parse_id("1-2") < wire.parse_id("1-10") < wire.parse_id("2-0")
    for bad in ("", "1", "1-", "-1", "a-1", "1-2-3", "١-1"):
        with pytest.raises(ValueError):
            wire.parse_id(bad)
