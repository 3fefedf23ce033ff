"""Fuzz a live server over real sockets: valid sessions, mutated, replayed against two
servers at once (one process on the compiled twins, one on the pure twins), the answers
compared and both servers' survival checked.

How it works:

* ``python tests/fuzz/live.py serve`` is one server process: a JSON-parser
  :class:`fastsio.Server` (Engine.IO v4 and v3) and a msgpack-parser one (v4 only) on
  free loopback ports, with an ``echo`` event that acks its arguments (binary
  attachments included), a ``news`` event that emits back, a ``/admin`` namespace,
  dynamic namespaces ``/dyn-<n>``, permessage-deflate and long ping/HTTP timers (no
  timer fires inside a session).  Its log (WARNING and up, the ``asyncio`` logger
  included) goes to stderr; it prints its twins and ports on stdout.  :class:`Pair`
  starts two: ``FASTSIO_NO_EXTENSIONS=1`` for the pure one.
* A session (:func:`valid_sessions`) is what a well-behaved client sends, as
  :class:`Step` rows: on connection *n*, an HTTP request (method, target, headers,
  body; the Engine.IO sid is the placeholder :data:`SID`, filled in at replay with
  the sid that server gave in this session), a WebSocket frame (masked, built at
  replay), or raw bytes.  They cover polling and WebSocket, EIO4 and EIO3 (JSONP
  included), CONNECT to ``/`` and ``/admin``, events with acks, binary attachments,
  the polling-to-WebSocket upgrade, and the msgpack parser.
* :func:`mutate` changes a session: bytes flipped, inserted or deleted, steps
  truncated, duplicated, dropped, reordered, split in two sends or joined into one,
  numbers changed (Content-Length, Engine.IO v3 lengths, ack ids, attachment counts,
  frame lengths), headers dropped, duplicated or mangled.  It is driven by a
  ``random.Random(seed)``: a seed always gives the same session.
* :meth:`Pair.replay` plays a session against both servers at once, step by step.
  After each step it waits for acked echoes, one after the other, on a well-behaved
  WebSocket client of that server (a *barrier*: twice, three times after a step that
  opened a connection; see :func:`play` for why that many), so that the server has
  handled the step and written its answer before the last ack: what each connection
  received does not depend on timing (the server's handlers are synchronous).  The verdict compares,
  per connection, the HTTP responses and WebSocket frames received (normalised:
  sids, in the order they first appear, become ``<sid0>``...; ``Date`` dropped; what
  follows the server's close frame (a pong, the TCP close) is not compared, since the
  server closes the TCP connection after a timer when the client does not answer the
  close frame).
* A disagreement, a barrier that does not complete (a server that hangs or stops
  answering its well-behaved client), a dead server, or a server log line at ERROR or
  above / an asyncio "Fatal error" / "exception was never retrieved" / a traceback is
  a failure; :func:`minimise` then shrinks the session (steps dropped, bytes cut) while
  it still fails.

``tests/fuzz/test_live_fuzz.py`` replays a few hundred seeded sessions in the test
suite; ``make fuzz-live DURATION=600`` (``python tests/fuzz/live.py run --duration
600``) runs for a given time, saving each failing session (minimised) under
``--artifacts``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the placeholder of the Engine.IO sid in a step's bytes
SID = b"@@SID@@"
#: how long a barrier (a well-behaved client's acked echo) may take before the server
#: counts as hung
BARRIER_TIMEOUT = 15.0
MASK = b"\x11\x22\x33\x44"
UPGRADE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ERROR_MARKERS = ("ERROR", "CRITICAL", "Fatal error", "never retrieved", "Traceback")


# ------------------------------------------------------------------ the server process


def serve() -> None:
    """Run the fuzzed servers until stdin closes (the driver's end)."""
    import gc
    import logging

    import uvloop

    import fastsio

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def make(parser: str) -> fastsio.Server:
        sio = fastsio.Server(
            parser=parser,
            allow_eio3=parser == "json",
            ping_interval=60,
            ping_timeout=60,
            upgrade_timeout=60,
            connect_timeout=60,
            http_keep_alive_timeout=60,
            http_request_timeout=60,
            max_http_buffer_size=100_000,
            cors_allowed_origins=["http://good.example"],
            per_message_deflate=True,
            gc_freeze=False,
        )

        def echo(sock: Any, *args: Any) -> Any:
            return args

        def news(sock: Any, *args: Any) -> None:
            sock.emit("news", *args)

        for nsp in ("/", "/admin"):
            sio.on("echo", echo, namespace=nsp)
            sio.on("news", news, namespace=nsp)
        dynamic = sio.of(re.compile(r"^/dyn-\d+$"))  # a regex parent: /dyn-1, /dyn-2...
        dynamic.on("echo", echo)
        return sio

    async def main() -> None:
        servers = [make("json"), make("msgpack")]
        for sio in servers:
            await sio.start("127.0.0.1", 0)
        kinds = sorted(set(fastsio.speedups.values()))
        ports = " ".join(str(s.address[1]) for s in servers)
        print(f"READY {','.join(kinds)} {ports}", flush=True)
        loop = asyncio.get_running_loop()
        stdin_closed = loop.create_future()

        def watch() -> None:
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stdin_closed.set_result, None)

        loop.run_in_executor(None, watch)
        while not stdin_closed.done():
            # "Task exception was never retrieved" is logged when the task is collected
            gc.collect()
            await asyncio.wait([stdin_closed], timeout=0.5)
        for sio in servers:
            await sio.stop()
        gc.collect()

    uvloop.run(main())


class Server:
    """One server process (compiled or pure twins) and what it logged."""

    def __init__(self, pure: bool) -> None:
        self.pure = pure
        env = dict(os.environ)
        env.pop("FASTSIO_NO_EXTENSIONS", None)
        if pure:
            env["FASTSIO_NO_EXTENSIONS"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read().decode()[-2000:]}")
        _, kinds, json_port, msgpack_port = line.split()
        expected = "python" if pure else "cython"
        if kinds != expected:
            self.proc.kill()
            raise RuntimeError(f"the {expected} server runs the {kinds} twins")
        self.ports = {"json": int(json_port), "msgpack": int(msgpack_port)}
        self.log: list[str] = []

    async def watch(self) -> None:
        """Collect the server's stderr lines into :attr:`log` (a task)."""
        assert self.proc.stderr is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self.proc.stderr)
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a line over the limit
                line = b"<a very long log line>\n"
            if not line:
                return
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def rss_mb(self) -> float:
        """The process's resident memory in MB (Linux; 0 elsewhere)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """End the process (closing stdin makes it stop its servers and exit)."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ sessions


@dataclass
class Step:
    """One thing the client does on connection ``conn``.

    ``kind``: ``"http"`` (``data`` is the request line and headers, without the final
    blank line; ``body`` follows, with a Content-Length when ``length`` is True),
    ``"ws"`` (one masked frame: ``opcode`` with ``fin``, payload ``data``), or
    ``"raw"`` (``data`` as it is).  :data:`SID` in ``data`` is the session's sid.
    """

    conn: int
    kind: str
    data: bytes
    body: bytes = b""
    length: bool = True
    opcode: int = 1
    fin: bool = True

    def render(self, sid: bytes) -> bytes:
        """The bytes this step sends, with ``sid`` in place of :data:`SID`."""
        if self.kind == "http":
            head = self.data.replace(SID, sid)
            if self.length and (self.body or head.startswith(b"POST")):
                head += b"\r\nContent-Length: " + str(len(self.body)).encode()
            return head + b"\r\n\r\n" + self.body
        if self.kind == "ws":
            return ws_frame(self.opcode, self.data, fin=self.fin)
        return self.data.replace(SID, sid)


@dataclass
class Session:
    """A list of steps, for the server of ``parser`` ("json" or "msgpack")."""

    name: str
    parser: str
    steps: list[Step] = field(default_factory=list)

    def describe(self) -> str:
        """A Python literal of the session (saved with a failure; :func:`load` reads it)."""
        rows = [(s.conn, s.kind, s.data, s.body, s.length, s.opcode, s.fin) for s in self.steps]
        return repr({"name": self.name, "parser": self.parser, "steps": rows})


def load(text: str) -> Session:
    """Read a session saved by :meth:`Session.describe`."""
    import ast

    raw = ast.literal_eval(text)
    return Session(raw["name"], raw["parser"], [Step(*row) for row in raw["steps"]])


def ws_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes = MASK) -> bytes:
    """A masked client frame."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def http(method: str, target: str, headers: tuple[str, ...] = ()) -> bytes:
    """The head of a request (no blank line: :meth:`Step.render` adds it)."""
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", *headers]
    return "\r\n".join(lines).encode("latin-1")


def eio3_payload(packets: list[str]) -> bytes:
    """An Engine.IO v3 text payload (``<length>:<packet>``; length in characters)."""
    return "".join(f"{len(p)}:{p}" for p in packets).encode()


def binary_payload(packets: list[bytes]) -> bytes:
    """An Engine.IO v3 binary payload: text packets (kind 0) and, for packets that
    start with the 0x04 type byte, binary ones (kind 1)."""
    out = b""
    for p in packets:
        kind = 1 if p[:1] == b"\x04" else 0
        out += bytes((kind, *(int(d) for d in str(len(p))), 255)) + p
    return out


def deflated(data: bytes) -> bytes:
    """``data`` as one permessage-deflate message (a fresh context; trailer dropped)."""
    import zlib

    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]


def msgpack_packet(type_: int, nsp: str, data: Any = None, id: int | None = None) -> bytes:
    """A Socket.IO packet in the msgpack parser's format."""
    import msgpack

    packet: dict[str, Any] = {"type": type_, "nsp": nsp}
    if data is not None:
        packet["data"] = data
    if id is not None:
        packet["id"] = id
    return bytes(msgpack.packb(packet, use_bin_type=True))


UPGRADE_HEADERS = (
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {UPGRADE_KEY}",
    "Sec-WebSocket-Version: 13",
)


def valid_sessions() -> list[Session]:
    """The valid sessions mutations start from (what well-behaved clients send).

    Each one is checked as it is (unmutated) at the start of every run: a valid
    session the two servers answer differently, or that fails, fails the run.
    """
    p = "/socket.io/?EIO=4&transport=polling"
    sid = "&sid=" + SID.decode()
    out: list[Session] = []
    bin_event = b'451-5["echo","x",{"_placeholder":true,"num":0}]'
    two_bins = b'452-/admin,9["echo",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]'

    # EIO4 polling: handshake, CONNECT, events with acks, binary, a second namespace, close
    s = Session("eio4-polling", "json")
    s.steps = [
        Step(0, "http", http("GET", p + "&t=a")),
        Step(0, "http", http("POST", p + sid, ("Content-Type: text/plain;charset=UTF-8",)), b"40"),
        Step(0, "http", http("GET", p + sid)),
        Step(1, "http", http("GET", p + sid)),  # held: answered by the ack below
        Step(0, "http", http("POST", p + sid), b'421["echo","hello",{"a":[1,2.5,null,true]}]\x1e42["news","n"]'),
        Step(0, "http", http("POST", p + sid), bin_event + b"\x1ebAQID"),
        Step(1, "http", http("GET", p + sid)),
        Step(0, "http", http("POST", p + sid), b'40/admin,\x1e42/admin,7["echo","\xc3\xa9\xe2\x82\xac"]'),
        Step(1, "http", http("GET", p + sid)),
        Step(0, "http", http("POST", p + sid), b"41/admin,\x1e1"),
        Step(1, "http", http("GET", p + sid)),
    ]
    out.append(s)

    # EIO4 WebSocket directly: CONNECT, acks, binary attachments, ping, fragments, close
    s = Session("eio4-websocket", "json")
    s.steps = [
        Step(0, "http", http("GET", "/socket.io/?EIO=4&transport=websocket", UPGRADE_HEADERS)),
        Step(0, "ws", b'40{"token":"t"}'),
        Step(0, "ws", b'423["echo",1,"two",[3]]'),
        Step(0, "ws", bin_event),
        Step(0, "ws", b"\x00\xff\x10", opcode=2),
        Step(0, "ws", b"40/admin,"),
        Step(0, "ws", two_bins),
        Step(0, "ws", b"a", opcode=2),
        Step(0, "ws", b"bb", opcode=2),
        Step(0, "ws", b"40/dyn-17,"),
        Step(0, "ws", b'42/dyn-17,8["echo",{"n":17}]'),
        Step(0, "ws", b"ping", opcode=9),
        Step(0, "ws", b"3"),
        Step(0, "ws", b'42["ne', fin=False),
        Step(0, "ws", b'ws",1]', opcode=0),
        Step(0, "ws", b"\x03\xe8", opcode=8),
    ]
    out.append(s)

    # permessage-deflate: compressed messages (RSV1) in and out, one in two fragments
    s = Session("eio4-deflate", "json")
    deflate = (*UPGRADE_HEADERS, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    s.steps = [
        Step(0, "http", http("GET", "/socket.io/?EIO=4&transport=websocket", deflate)),
        Step(0, "ws", deflated(b"40"), opcode=0x41),
        Step(0, "ws", deflated(b'421["echo","' + b"compressible " * 200 + b'"]'), opcode=0x41),
        Step(0, "ws", deflated(b'452-2["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'), opcode=0x41),
        Step(0, "ws", deflated(b"\x00" * 3000), opcode=0x42),
        Step(0, "ws", b"plain", opcode=2),
        Step(0, "ws", deflated(b'423["echo",[1,2,3]]')[:4], opcode=0x41, fin=False),
        Step(0, "ws", deflated(b'423["echo",[1,2,3]]')[4:], opcode=0),
    ]
    out.append(s)

    # EIO4 polling, then the upgrade to WebSocket
    s = Session("eio4-upgrade", "json")
    s.steps = [
        Step(0, "http", http("GET", p)),
        Step(0, "http", http("POST", p + sid), b"40"),
        Step(0, "http", http("GET", p + sid)),
        Step(1, "http", http("GET", p + sid)),  # held; the upgrade answers it with a noop
        Step(2, "http", http("GET", "/socket.io/?EIO=4&transport=websocket" + sid, UPGRADE_HEADERS)),
        Step(2, "ws", b"2probe"),
        Step(2, "ws", b"5"),
        Step(2, "ws", b'425["echo","after upgrade"]'),
        Step(2, "ws", b'451-6["echo",{"_placeholder":true,"num":0}]'),
        Step(2, "ws", b"\x01\x02", opcode=2),
        Step(2, "ws", b"1"),
    ]
    out.append(s)

    # EIO3 polling (text, base64 binary), then the upgrade
    p3 = "/socket.io/?EIO=3&transport=polling"
    s = Session("eio3-polling", "json")
    s.steps = [
        Step(0, "http", http("GET", p3 + "&b64=1")),
        Step(0, "http", http("POST", p3 + sid), eio3_payload(['42["echo","v3"]', "40/admin,"])),
        Step(0, "http", http("GET", p3 + sid + "&b64=1")),
        Step(0, "http", http("POST", p3 + sid), eio3_payload(['451-/admin,4["echo",{"_placeholder":true,"num":0}]', "b4AAEC"])),
        Step(0, "http", http("GET", p3 + sid + "&b64=1")),
        Step(1, "http", http("GET", p3 + sid + "&b64=1")),
        Step(2, "http", http("GET", "/socket.io/?EIO=3&transport=websocket" + sid, UPGRADE_HEADERS)),
        Step(2, "ws", b"2probe"),
        Step(2, "ws", b"5"),
        Step(2, "ws", b'426["echo",6]'),
        Step(2, "ws", b'451-7["echo",{"_placeholder":true,"num":0}]'),
        Step(2, "ws", b"\x04\x09\x08", opcode=2),
        Step(2, "ws", b"2"),
    ]
    out.append(s)

    # EIO3 binary payloads (XHR2 clients: no b64; application/octet-stream POSTs)
    octet = ("Content-Type: application/octet-stream",)
    s = Session("eio3-binary-payload", "json")
    s.steps = [
        Step(0, "http", http("GET", p3)),
        Step(0, "http", http("POST", p3 + sid, octet), binary_payload([b'42["echo","\xc3\xa9"]', b"40/admin,"])),
        Step(0, "http", http("GET", p3 + sid)),
        Step(0, "http", http("POST", p3 + sid, octet),
             binary_payload([b'451-/admin,3["echo",{"_placeholder":true,"num":0}]', b"\x04\x00\xff\x01"])),
        Step(0, "http", http("GET", p3 + sid)),
    ]
    out.append(s)

    # EIO3 JSONP polling (form-encoded POSTs)
    form = ("Content-Type: application/x-www-form-urlencoded",)
    s = Session("eio3-jsonp", "json")
    s.steps = [
        Step(0, "http", http("GET", p3 + "&j=0")),
        Step(0, "http", http("POST", p3 + sid + "&j=0", form), b"d=12%3A42%5B%22echo%22%2C1%5D"),
        Step(0, "http", http("GET", p3 + sid + "&j=0")),
        Step(0, "http", http("POST", p3 + sid + "&j=0", form), b"d=" + eio3_payload(['421["echo","j"]']).replace(b'"', b"%22")),
        Step(0, "http", http("GET", p3 + sid + "&j=0")),
    ]
    out.append(s)

    # EIO3 WebSocket directly (binary messages carry the 0x04 type byte)
    s = Session("eio3-websocket", "json")
    s.steps = [
        Step(0, "http", http("GET", "/socket.io/?EIO=3&transport=websocket", UPGRADE_HEADERS)),
        Step(0, "ws", b'421["echo","hi"]'),
        Step(0, "ws", b"40/admin,"),
        Step(0, "ws", b'451-/admin,2["echo",{"_placeholder":true,"num":0}]'),
        Step(0, "ws", b"\x04abc", opcode=2),
        Step(0, "ws", b"2"),
        Step(0, "ws", b"1"),
    ]
    out.append(s)

    # msgpack: every packet one binary message
    s = Session("msgpack-websocket", "msgpack")
    s.steps = [
        Step(0, "http", http("GET", "/socket.io/?EIO=4&transport=websocket", UPGRADE_HEADERS)),
        Step(0, "ws", msgpack_packet(0, "/", {"token": 1}), opcode=2),
        Step(0, "ws", msgpack_packet(2, "/", ["echo", 1, b"\x00\x01", {"k": [1.5, None]}], id=3), opcode=2),
        Step(0, "ws", msgpack_packet(2, "/", ["news", "x"]), opcode=2),
        Step(0, "ws", msgpack_packet(0, "/admin"), opcode=2),
        Step(0, "ws", msgpack_packet(2, "/admin", ["echo", "y"], id=4), opcode=2),
        Step(0, "ws", msgpack_packet(1, "/admin"), opcode=2),
        Step(0, "ws", b"2"),
    ]
    out.append(s)

    # msgpack over polling (binary messages as base64 "b" packets)
    s = Session("msgpack-polling", "msgpack")
    s.steps = [
        Step(0, "http", http("GET", p)),
        Step(0, "http", http("POST", p + sid), b"b" + base64.b64encode(msgpack_packet(0, "/"))),
        Step(0, "http", http("GET", p + sid)),
        Step(
            0,
            "http",
            http("POST", p + sid),
            b"b" + base64.b64encode(msgpack_packet(2, "/", ["echo", b"\xff", 2], id=5))
            + b"\x1eb" + base64.b64encode(msgpack_packet(2, "/", ["news", 1])),
        ),
        Step(0, "http", http("GET", p + sid)),
    ]
    out.append(s)
    return out


# ------------------------------------------------------------------ mutations

_NUMBER = re.compile(rb"\d+")
_INTERESTING_NUMBERS = (b"0", b"1", b"-1", b"9", b"99999999999999999999", b"4294967296", b"65536", b"007", b"")
_INTERESTING_BYTES = (
    b"\x00", b"\xff", b"\x1e", b"-", b",", b"[", b"]", b"{", b"}", b'"', b"\\", b":", b"/", b"\r\n",
    b"\xc3", b"\xed\xa0\x80", b"b", b"%", b"&", b'{"_placeholder":true,"num":0}', b"1e400", b"-0.0",
)
#: JSON values the two JSON writers (the compiled twin's own, the pure twin's: the
#: standard library's or orjson's) might write differently, or refuse
_JSON_VALUES = (
    b"-0.0", b"0.1", b"1e-7", b"1.5E+300", b"5e-324", b"1.7976931348623157e308", b"1e400", b"-1e400",
    b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551616", b"1.0", b"100000000000000000000.0",
    b"NaN", b"Infinity", b"-Infinity", b'"\\ud800"', b'"\\udfff\\ud800"', b'"\\u0000\\u001f\\u007f"', b'"\\u2028\\u2029"',
    b'"\xf0\x9f\x98\x80"', b'"\xed\xa0\x80"', b'{"a":1,"a":2}', b'{"":null}', b"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
    b'{"_placeholder":true,"num":0}', b'{"_placeholder":true,"num":-1}', b"true", b"null", b'""', b"{}", b"[]",
    b'"' + b"x" * 70000 + b'"',
)
_JSON_SCALAR = re.compile(rb'-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\]|\\.)*"|true|false|null')

_HEADERS = (
    b"Origin: http://evil.example", b"Origin: http://good.example", b"Transfer-Encoding: chunked",
    b"Content-Length: 5", b"Connection: close", b"Expect: 100-continue", b"Content-Type: application/octet-stream",
    b"Sec-WebSocket-Extensions: permessage-deflate", b"Host: other", b"X: " + b"y" * 5000, b"Cookie: io=" + SID,
)


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One byte-level change of ``data``."""
    b = bytearray(data)
    if not b:
        return rng.choice(_INTERESTING_BYTES)
    choice = rng.randrange(7)
    i = rng.randrange(len(b))
    if choice == 0:
        b[i] ^= 1 << rng.randrange(8)
    elif choice == 1:
        b[i] = rng.randrange(256)
    elif choice == 2:
        b[i:i] = rng.choice(_INTERESTING_BYTES)
    elif choice == 3:
        del b[i : i + rng.randint(1, 8)]
    elif choice == 4:
        j = rng.randrange(len(b))
        b[i:i] = b[j : j + rng.randint(1, 16)]  # a copy of a piece from elsewhere
    elif choice == 5 and rng.random() < 0.5:
        scalars = list(_JSON_SCALAR.finditer(bytes(b)))
        if scalars:
            m = rng.choice(scalars)
            b[m.start() : m.end()] = rng.choice(_JSON_VALUES)
        else:
            b[i:i] = rng.choice(_JSON_VALUES)
    elif choice == 5:
        numbers = list(_NUMBER.finditer(bytes(b)))
        if numbers:
            m = rng.choice(numbers)
            if rng.random() < 0.5:
                new = rng.choice(_INTERESTING_NUMBERS)
            else:
                new = str(int(m.group()) + rng.choice((-1, 1, 2, 1000))).encode()
            b[m.start() : m.end()] = new
        else:
            b[i] = rng.randrange(256)
    else:
        del b[i:]  # truncated
    return bytes(b)


def _mutate_headers(rng: random.Random, head: bytes) -> bytes:
    """Drop, duplicate, mangle or add a header line (or mangle the request line)."""
    lines = head.split(b"\r\n")
    i = rng.randrange(len(lines))
    choice = rng.randrange(6)
    if choice == 0 and i > 0:
        del lines[i]
    elif choice == 1:
        lines.insert(i, lines[i])
    elif choice == 2:
        lines[i] = lines[i].upper() if rng.random() < 0.5 else lines[i].lower()
    elif choice == 3:
        lines.insert(max(1, i), rng.choice(_HEADERS))
    elif choice == 4:
        lines[i] = lines[i].replace(b": ", b":", 1) if rng.random() < 0.5 else lines[i].replace(b" ", b"  ", 1)
    else:
        lines[i] = _mutate_bytes(rng, lines[i])
    return b"\r\n".join(lines)


def mutate(session: Session, rng: random.Random, rounds: int | None = None) -> Session:
    """A mutated copy of ``session`` (``rounds`` mutations, else 1-4, from ``rng``)."""
    s = copy.deepcopy(session)
    s.name += "*"
    for _ in range(rounds if rounds is not None else rng.randint(1, 4)):
        if not s.steps:
            break
        steps = s.steps
        i = rng.randrange(len(steps))
        step = steps[i]
        choice = rng.randrange(14)
        if choice == 0:
            del steps[i]
        elif choice == 1:
            steps.insert(i, copy.deepcopy(step))
        elif choice == 2 and i + 1 < len(steps):
            steps[i], steps[i + 1] = steps[i + 1], steps[i]
        elif choice == 3:
            # the step split in two sends (a frame, a header, a body cut in two)
            raw = step.render(SID)
            cut = rng.randint(0, len(raw))
            steps[i : i + 1] = [Step(step.conn, "raw", raw[:cut]), Step(step.conn, "raw", raw[cut:])]
        elif choice == 4 and i + 1 < len(steps) and steps[i + 1].conn == step.conn:
            # two steps sent in one write
            steps[i : i + 2] = [Step(step.conn, "raw", step.render(SID) + steps[i + 1].render(SID))]
        elif choice == 5:
            steps[i] = Step(step.conn, "raw", _mutate_bytes(rng, step.render(SID)))  # framing broken too
        elif choice == 6 and step.kind == "http":
            step.data = _mutate_headers(rng, step.data)
        elif choice == 7 and step.kind == "http":
            if rng.random() < 0.3:
                step.length = not step.length
            step.body = _mutate_bytes(rng, step.body)
        elif choice == 8 and step.kind == "ws":
            step.data = _mutate_bytes(rng, step.data)  # the payload, framed right
        elif choice == 9 and step.kind == "ws":
            step.opcode = rng.choice((0, 1, 2, 3, 8, 9, 10, 11, 15))
            step.fin = rng.random() < 0.7
        elif choice == 10:
            step.conn = rng.randrange(4)  # on another connection
        elif choice == 11:
            steps.insert(rng.randrange(len(steps)), copy.deepcopy(step))  # replayed elsewhere
        elif choice == 12 and step.kind == "ws":
            # a frame length that lies
            raw = bytearray(step.render(SID))
            raw[1] = 0x80 | rng.choice((0, 1, 125, 126, 127, (raw[1] & 0x7F) ^ 1))
            steps[i] = Step(step.conn, "raw", bytes(raw))
        elif step.kind == "http":
            step.body = _mutate_bytes(rng, step.body)
        else:
            step.data = _mutate_bytes(rng, step.data)
    return s


# ------------------------------------------------------------------ replay


class Conn(asyncio.Protocol):
    """A raw client connection: everything received, and whether the server closed it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport  # (uvloop's is no asyncio.Transport)

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


class Probe:
    """A well-behaved WebSocket client of one server: :meth:`barrier` is an acked echo."""

    def __init__(self, port: int, parser: str) -> None:
        self.port = port
        self.parser = parser
        self.n = 0
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        """Connect (WebSocket, EIO4) and join the main namespace."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        upgrade = http("GET", "/socket.io/?EIO=4&transport=websocket", UPGRADE_HEADERS)
        self.writer.write(Step(0, "http", upgrade).render(b""))
        await self.reader.readuntil(b"\r\n\r\n")
        await self._recv()  # the open packet
        await self._send(b"40" if self.parser == "json" else msgpack_packet(0, "/"))
        await self._recv()  # the CONNECT reply

    async def _send(self, payload: bytes, text: bool = False) -> None:
        # a msgpack packet is a binary message; Engine.IO's own packets are text
        self.writer.write(ws_frame(1 if text or self.parser == "json" else 2, payload))
        await self.writer.drain()

    async def _recv(self) -> tuple[int, bytes]:
        head = await self.reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, await self.reader.readexactly(n)

    async def barrier(self) -> None:
        """Send an acked echo and wait for its ack (pings answered on the way).

        Raises:
            AssertionError: the ack is not the echo of what was sent.
        """
        self.n += 1
        if self.parser == "json":
            await self._send(f'42{self.n}["echo",{self.n}]'.encode())
            expected = f"43{self.n}[{self.n}]".encode()
        else:
            await self._send(msgpack_packet(2, "/", ["echo", self.n], id=self.n))
            expected = msgpack_packet(3, "/", [self.n], id=self.n)
        while True:
            _, payload = await self._recv()
            if payload == b"2":
                await self._send(b"3", text=True)
                continue
            if payload != expected and not (self.parser == "msgpack" and _same_msgpack(payload, expected)):
                raise AssertionError(f"the well-behaved client got {payload!r}, not {expected!r}")
            return

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


def _same_msgpack(a: bytes, b: bytes) -> bool:
    import msgpack

    try:
        return bool(msgpack.unpackb(a) == msgpack.unpackb(b))
    except Exception:
        return False


async def _settle() -> None:
    """Let the client's protocols read what the kernel already holds."""
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.sleep(0.002)


_SID_TEXT = re.compile(rb'\\?"sid\\?":\\?"([A-Za-z0-9_-]+)')
_SID_MSGPACK = re.compile(rb"\xa3sid[\xa0-\xbf]")
_B64_PACKET = re.compile(rb"(^|\x1e)b([A-Za-z0-9+/]+={0,2})(?=\x1e|$)")
_B64_ANYWHERE = re.compile(rb"(?:^|\x1e|\r\n\r\n)b([A-Za-z0-9+/]+={0,2})")


async def play(session: Session, port: int, probe: Probe) -> dict[int, tuple[bytes, bool]]:
    """Play ``session`` against one server; return per connection (bytes received, closed)."""
    loop = asyncio.get_running_loop()
    conns: dict[int, Conn] = {}
    sid = b"none"
    try:
        for step in session.steps:
            conn = conns.get(step.conn)
            # The server reads a step's bytes no later than the loop iteration in which it
            # reads the first echo (they were in its socket first), so its answer is
            # written before the second echo's ack; on a new connection it may read them
            # one iteration later (the accept comes first): a third echo then.
            barriers = 2
            if conn is None:
                _, conn = await loop.create_connection(Conn, "127.0.0.1", port)
                conns[step.conn] = conn
                barriers = 3
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                conn.transport.write(step.render(sid))
            for _ in range(barriers):
                await probe.barrier()
                await _settle()
            if sid == b"none":
                for c in conns.values():
                    m = _SID_TEXT.search(bytes(c.data))
                    if m:
                        sid = m.group(1)
                        break
        return {i: (bytes(c.data), c.closed) for i, c in sorted(conns.items())}
    finally:
        for c in conns.values():
            if c.transport is not None:
                c.transport.abort()


def _learn_sids(data: bytes, sids: list[bytes]) -> None:
    """Add the sids ``data`` carries to ``sids`` (in order of appearance)."""
    for m in _SID_TEXT.finditer(data):
        if m.group(1) not in sids:
            sids.append(m.group(1))
    for m in _SID_MSGPACK.finditer(data):
        n = data[m.end() - 1] & 0x1F
        sid = data[m.end() : m.end() + n]
        if len(sid) == n and sid not in sids:
            sids.append(sid)
    for m in _B64_ANYWHERE.finditer(data):  # msgpack over polling
        try:
            _learn_sids(base64.b64decode(m.group(1), validate=True), sids)
        except ValueError:
            pass


def _replace_sids(data: bytes, sids: list[bytes]) -> bytes:
    for i, sid in enumerate(sids):
        data = data.replace(sid, f"<sid{i}>".encode())
    return data


def _parse_frames(data: bytes) -> tuple[list[Any], bytes]:
    """The server's (unmasked) frames in ``data``, and what is left over."""
    frames: list[Any] = []
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n = b1 & 0x7F
        at = pos + 2
        if n == 126:
            if at + 2 > len(data):
                break
            n = int.from_bytes(data[at : at + 2], "big")
            at += 2
        elif n == 127:
            if at + 8 > len(data):
                break
            n = int.from_bytes(data[at : at + 8], "big")
            at += 8
        if at + n > len(data):
            break
        frames.append((b0, data[at : at + n]))
        pos = at + n
    return frames, data[pos:]


def _normalise_body(body: bytes, sids: list[bytes]) -> bytes:
    """A polling body with sids replaced (the base64 of msgpack packets decoded first)."""

    def unb64(m: re.Match[bytes]) -> bytes:
        try:
            return m.group(1) + b"b64:" + _replace_sids(base64.b64decode(m.group(2), validate=True), sids)
        except ValueError:
            return m.group(0)

    return _replace_sids(_B64_PACKET.sub(unb64, body), sids)


def normalise(received: dict[int, tuple[bytes, bool]]) -> list[Any]:
    """What a session received, comparable across servers (see the module docstring)."""
    sids: list[bytes] = []
    for data, _ in received.values():
        _learn_sids(data, sids)
    out: list[Any] = []
    for i, (data, closed) in received.items():
        events: list[Any] = []
        rest = data
        while rest:
            head_end = rest.find(b"\r\n\r\n")
            if head_end < 0:
                events.append(("garbage", _replace_sids(rest, sids)))
                break
            lines = rest[:head_end].split(b"\r\n")
            headers = [ln for ln in lines[1:] if not ln.lower().startswith(b"date:")]
            length = 0
            for ln in headers:
                if ln.lower().startswith(b"content-length:"):
                    length = int(ln.split(b":", 1)[1])
            body = rest[head_end + 4 : head_end + 4 + length]
            rest = rest[head_end + 4 + length :]
            events.append(("http", lines[0], tuple(_replace_sids(h, sids) for h in headers), _normalise_body(body, sids)))
            if lines[0].split(b" ")[1:2] == [b"101"]:
                frames, rest = _parse_frames(rest)
                events.extend(("frame", b0, _replace_sids(payload, sids)) for b0, payload in frames)
                if rest:
                    events.append(("partial", _replace_sids(rest, sids)))
                break
        # the server ends the TCP connection a second after its close frame when the
        # client does not answer it: whether a frame it sends after its close frame (a
        # pong) or the close of the TCP connection was seen is a matter of timing
        close_frame = next((k for k, e in enumerate(events) if e[0] == "frame" and e[1] & 0x0F == 8), None)
        if close_frame is not None:
            del events[close_frame + 1 :]
        elif closed:
            events.append(("closed",))
        out.append((i, events))
    return out


@dataclass
class Verdict:
    """What one replay found (empty: nothing)."""

    disagreement: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def bad(self) -> bool:
        """A disagreement or a failure."""
        return bool(self.disagreement or self.failures)


class Pair:
    """The compiled and the pure server, with ``lanes`` well-behaved clients each."""

    def __init__(self, same: bool = False, lanes: int = 1) -> None:
        # ``same``: two compiled servers (a check of the harness's own determinism)
        self.servers = [Server(pure=False), Server(pure=not same)]
        self.lanes = lanes
        self.probes: dict[tuple[int, str, int], Probe] = {}
        self.watchers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Watch the servers' logs; connect the well-behaved clients."""
        self.watchers = [asyncio.create_task(s.watch()) for s in self.servers]
        for i, server in enumerate(self.servers):
            for parser, port in server.ports.items():
                for lane in range(self.lanes):
                    probe = Probe(port, parser)
                    await asyncio.wait_for(probe.open(), BARRIER_TIMEOUT)
                    self.probes[(i, parser, lane)] = probe

    async def replay(self, session: Session, lane: int = 0) -> Verdict:
        """Play ``session`` on both servers at once and judge (``lane``: whose
        well-behaved clients are the barriers; sessions in different lanes may be
        played at the same time)."""
        verdict = Verdict()
        logs_before = [len(s.log) for s in self.servers]

        async def one(i: int) -> Any:
            server = self.servers[i]
            return await asyncio.wait_for(
                play(session, server.ports[session.parser], self.probes[(i, session.parser, lane)]),
                BARRIER_TIMEOUT * (4 * len(session.steps) + 2),
            )

        results = await asyncio.gather(one(0), one(1), return_exceptions=True)
        for i, result in enumerate(results):
            if isinstance(result, BaseException):
                verdict.failures.append(f"server {i} ({'pure' if self.servers[i].pure else 'compiled'}): {result!r}")
                if self.servers[i].alive():
                    # a new well-behaved client for the next sessions of this lane
                    self.probes[(i, session.parser, lane)].close()
                    probe = Probe(self.servers[i].ports[session.parser], session.parser)
                    await asyncio.wait_for(probe.open(), BARRIER_TIMEOUT)
                    self.probes[(i, session.parser, lane)] = probe
        if not verdict.failures:
            a, b = (normalise(r) for r in results)  # type: ignore[arg-type]
            if a != b:
                verdict.disagreement = f"compiled: {a!r}\npure:     {b!r}"
        await asyncio.sleep(0.01)
        for i, server in enumerate(self.servers):
            if not server.alive():
                verdict.failures.append(f"server {i} died (exit {server.proc.returncode})")
            new = [line for line in server.log[logs_before[i] :] if any(m in line for m in ERROR_MARKERS)]
            if new:
                verdict.failures.append(f"server {i} logged: " + "\n".join(new[:20]))
        return verdict

    async def stop(self) -> None:
        """Close the well-behaved clients, stop the servers."""
        for probe in self.probes.values():
            probe.close()
        for server in self.servers:
            server.stop()
        for task in self.watchers:
            task.cancel()


async def minimise(pair: Pair, session: Session, is_bad: Callable[[Verdict], bool], budget: float = 60.0) -> Session:
    """A smaller session that still fails ``is_bad`` (steps dropped one at a time)."""
    deadline = time.monotonic() + budget
    best = session
    changed = True
    while changed and time.monotonic() < deadline:
        changed = False
        for i in range(len(best.steps) - 1, -1, -1):
            if i >= len(best.steps):
                continue
            trial = copy.deepcopy(best)
            del trial.steps[i]
            if trial.steps and is_bad(await pair.replay(trial)):
                best, changed = trial, True
            if time.monotonic() > deadline:
                break
    return best


# ------------------------------------------------------------------ runs


@dataclass
class Stats:
    """What a run did."""

    sessions: int = 0
    valid: int = 0
    disagreements: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    by_base: dict[str, int] = field(default_factory=dict)
    #: per server ("compiled", "pure"): RSS in MB at the start, the highest seen, at the end
    rss: dict[str, list[float]] = field(default_factory=dict)

    def sample(self, pair: Pair) -> None:
        """Record the servers' RSS."""
        for server in pair.servers:
            mb = server.rss_mb()
            row = self.rss.setdefault("pure" if server.pure else "compiled", [mb, mb, mb])
            row[1], row[2] = max(row[1], mb), mb

    def summary(self) -> str:
        """One line of figures."""
        rss = ", ".join(f"{k} {a:.0f}/{b:.0f}/{c:.0f}" for k, (a, b, c) in self.rss.items())
        return (
            f"live fuzz: {self.sessions} sessions replayed ({self.valid} valid, {self.sessions - self.valid} mutated; "
            f"per base {self.by_base}), {len(self.disagreements)} disagreements, {len(self.failures)} failures; "
            f"server RSS MB start/peak/end: {rss}"
        )


class Generator:
    """The mutated sessions of a seed: each a mutation of a valid session or, one time
    in three, of one of the last 64 mutated ones (mutations stack up)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bases = valid_sessions()
        self.recent: list[Session] = []

    def next(self) -> Session:
        """The next session of the seed."""
        rng = self.rng
        base = rng.choice(self.recent) if self.recent and rng.random() < 1 / 3 else rng.choice(self.bases)
        session = mutate(base, rng)
        session.name = session.name.rstrip("*") + "*"
        self.recent = [*self.recent[-63:], session]
        return session


def sessions_for(seed: int, count: int) -> list[Session]:
    """The first ``count`` mutated sessions of seed ``seed`` (as :func:`run` makes them)."""
    gen = Generator(seed)
    return [gen.next() for _ in range(count)]


async def run(
    seed: int,
    count: int | None,
    duration: float | None,
    artifacts: Path | None = None,
    same: bool = False,
    lanes: int = 4,
    minimise_budget: float = 60.0,
    log: Callable[[str], None] = print,
) -> Stats:
    """Replay the valid sessions, then mutated ones from ``seed`` (``count`` of them, or
    for ``duration`` s), ``lanes`` at a time; then minimise what failed, one at a time."""
    stats = Stats()
    pair = Pair(same=same, lanes=lanes)
    await pair.start()
    stats.sample(pair)
    gen = Generator(seed)
    started = time.monotonic()
    queue: list[Session] = valid_sessions()
    bad: list[tuple[Session, Verdict]] = []
    made = 0

    def next_session() -> Session | None:
        nonlocal made
        if queue:
            return queue.pop(0)
        if count is not None and made >= count:
            return None
        if duration is not None and time.monotonic() - started > duration:
            return None
        made += 1
        return gen.next()

    async def worker(lane: int) -> None:
        while (session := next_session()) is not None:
            verdict = await pair.replay(session, lane)
            stats.sessions += 1
            if not session.name.endswith("*"):
                stats.valid += 1
            base = session.name.rstrip("*")
            stats.by_base[base] = stats.by_base.get(base, 0) + 1
            if verdict.bad:
                bad.append((session, verdict))
                if any("died" in f for f in verdict.failures):
                    return
            if stats.sessions % 50 == 0:
                stats.sample(pair)
            if stats.sessions % 500 == 0:
                log(f"... {stats.summary()} ({time.monotonic() - started:.0f} s; {len(bad)} to check alone at the end)")

    try:
        await asyncio.gather(*(worker(lane) for lane in range(lanes)))
        stats.sample(pair)
        for session, verdict in bad:
            kind = "disagreement" if verdict.disagreement else "failure"
            if not all(server.alive() for server in pair.servers):
                await pair.stop()
                pair = Pair(same=same, lanes=1)
                await pair.start()
            small = session
            if minimise_budget > 0:
                # played alone now: a failure that does not come back was another lane's
                again = await pair.replay(session)
                if again.bad:

                    def still(v: Verdict) -> bool:
                        return bool(v.disagreement) if kind == "disagreement" else bool(v.failures)

                    small = await minimise(pair, session, still, minimise_budget)
                    verdict = await pair.replay(small)
                else:
                    kind += " (not reproduced alone)"
            text = f"{kind}: {small.describe()}\n{verdict.disagreement}\n" + "\n".join(verdict.failures)
            if small is not session:
                text += f"\n\nbefore minimising: {session.describe()}\n"
            (stats.disagreements if kind.startswith("disagreement") else stats.failures).append(text)
            log(text[:4000])
            if artifacts is not None:
                artifacts.mkdir(parents=True, exist_ok=True)
                (artifacts / f"live-{seed}-{len(stats.disagreements) + len(stats.failures)}.txt").write_text(text)
    finally:
        await pair.stop()
    return stats


def main() -> None:
    """``serve`` (a server process) or ``run`` (the fuzzer; see ``--help``)."""
    if sys.argv[1:2] == ["serve"]:
        serve()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "replay"])
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (run)")
    parser.add_argument("--count", type=int, default=None, help="mutated sessions (instead of --duration)")
    parser.add_argument("--artifacts", type=Path, default=Path("fuzz-live-artifacts"))
    parser.add_argument("--same", action="store_true", help="two compiled servers: the harness's own noise")
    parser.add_argument("--lanes", type=int, default=4, help="sessions played at the same time")
    parser.add_argument("file", nargs="?", help="a saved session (replay)")
    args = parser.parse_args()
    import uvloop

    if args.command == "replay":
        async def replay_one() -> None:
            pair = Pair()
            await pair.start()
            try:
                text = Path(args.file).read_text()
                verdict = await pair.replay(load(text.split(": ", 1)[1].split("\n", 1)[0]))
                print(verdict.disagreement or "agree", *verdict.failures, sep="\n")
            finally:
                await pair.stop()

        uvloop.run(replay_one())
        return
    print(f"live fuzz: seed {args.seed}, {'%d sessions' % args.count if args.count else '%.0f s' % args.duration}", flush=True)
    started = time.monotonic()
    stats = uvloop.run(run(args.seed, args.count, None if args.count else args.duration, args.artifacts, args.same,
                           args.lanes, log=lambda s: print(s, flush=True)))
    print(stats.summary() + f" in {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(1 if stats.disagreements or stats.failures else 0)


if __name__ == "__main__":
    main()
