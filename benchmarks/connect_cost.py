"""Instructions per connection: fastsio's connect path in user space, counted by callgrind.

The load suite measures connects/s over real sockets; on this 2-core VM that varies by 10-20 %
from run to run, and CPU time per connection by as much, which hides a change of a few per cent
in the handshake path.  This counts the instructions one connection costs instead, repeatable to
about half a per cent, for comparing changes to that path.  It measures user space only: no
kernel, no event-loop I/O (the load suite measures those).

How it works: a child process imports the benchmark app (``benchmarks/servers/fastsio_app.py``,
the same server the load suite runs) from the tree under test, starts it, and makes connections
through its engine's ``protocol_factory`` with an in-memory transport (asyncio's transport
interface: ``write`` appends to a buffer).  Each connection is fed, in batches of 200 with a loop
iteration between steps (the writes of an iteration leave at its end), what the C load generator
sends:

* ``websocket``: the upgrade request, then the masked CONNECT frame ``40``;
* ``polling``: the handshake GET, the CONNECT by POST, then the GET the CONNECT reply answers;
* ``upgrade``: that, then a second connection with the upgrade request for the session, the
  masked ``2probe``, and once ``3probe`` is back ``5`` and an ``echo`` event with an ack; the
  polling connection is closed once the ack is back (the ``upgrade`` transport of the load
  generator).

The child checks that every connection got its CONNECT reply (a connection refused somewhere
would measure an error path) and exits.  It runs twice under ``valgrind --tool=callgrind``, with
``LOW`` and ``HIGH`` connections; the difference of the two instruction totals over
``HIGH - LOW`` is the cost of one connection, with start-up and imports cancelled out.

    python -m benchmarks.connect_cost                     # this tree, the three transports
    python -m benchmarks.connect_cost --baseline a6cd4b2  # and that commit (a built worktree), side by side
    python -m benchmarks.connect_cost --cpu --repeats 5   # CPU microseconds per connection (no valgrind)

It needs ``valgrind`` (``apt install valgrind``); ``--cpu`` does not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 200
LOW, HIGH = 400, 1600
TRANSPORTS = ("websocket", "polling", "upgrade")

_UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
_HANDSHAKE = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n\r\n"
_POST = (
    b"POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n\r\n40"
)
_POLL = b"GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n\r\n"
_UPGRADE_SID = _UPGRADE.replace(b"transport=websocket", b"transport=websocket&sid=%s")
_PROBED = b"3probe"
_ACKED = b'431["upgraded"]'
_SID = re.compile(rb'0\{"sid":"([^"]+)"')
_CONNECTED = b'40{"sid":"'


def _masked(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class MemoryTransport:
    """An asyncio transport that keeps what is written (and never blocks)."""

    def __init__(self, port: int) -> None:
        self.protocol: Any = None
        self.out = bytearray()
        self.closed = False
        self.peer = ("127.0.0.1", port)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The peer address; nothing else (no TLS)."""
        return self.peer if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Nothing is ever buffered."""

    def get_write_buffer_size(self) -> int:
        """Nothing is ever buffered."""
        return 0

    def write(self, data: bytes) -> None:
        """Keep ``data``."""
        self.out += data

    def writelines(self, data: list[bytes]) -> None:
        """Keep ``data``."""
        for chunk in data:
            self.out += chunk

    def set_protocol(self, protocol: Any) -> None:
        """The protocol that gets the bytes from now on."""
        self.protocol = protocol

    def get_protocol(self) -> Any:
        """The protocol that gets the bytes."""
        return self.protocol

    def is_closing(self) -> bool:
        """Closed by the server."""
        return self.closed

    def close(self) -> None:
        """Closed by the server."""
        self.closed = True

    def abort(self) -> None:
        """Closed by the server."""
        self.closed = True

    def pause_reading(self) -> None:
        """Nothing to pause."""

    def resume_reading(self) -> None:
        """Nothing to resume."""

    def feed(self, data: bytes) -> None:
        """The client sends ``data``."""
        self.protocol.data_received(data)

    def lose(self) -> None:
        """The client closes the connection."""
        self.closed = True
        self.protocol.connection_lost(None)


def _open(factory: Any, port: int, first: bytes) -> MemoryTransport:
    t = MemoryTransport(port)
    protocol = factory()
    t.set_protocol(protocol)
    protocol.connection_made(t)
    t.feed(first)
    return t


def _check(batch: list[MemoryTransport], expected: bytes, what: str) -> None:
    for t in batch:
        if expected not in t.out:
            raise SystemExit(f"a connection got no {what}: {bytes(t.out[-300:])!r}")


async def _upgrade(factory: Any, polls: list[MemoryTransport], sids: list[bytes], port: int) -> list[MemoryTransport]:
    """The upgrade of connected polling sessions: a WebSocket each, probed, upgraded and
    proven by an echo's ack; then their polling connections close."""
    sockets = [_open(factory, port + i, _UPGRADE_SID % sid) for i, sid in enumerate(sids)]
    await asyncio.sleep(0)
    for t in sockets:
        t.feed(_masked(b"2probe"))
    await asyncio.sleep(0)
    _check(sockets, _PROBED, "3probe")
    for t in sockets:
        t.feed(_masked(b"5") + _masked(b'421["echo","upgraded"]'))
    await asyncio.sleep(0)
    _check(sockets, _ACKED, "ack over the WebSocket")
    for t in polls:
        t.lose()
    return sockets


async def _connect(sio: Any, transport_name: str, n: int) -> list[MemoryTransport]:
    """``n`` connections, in batches, each checked for its CONNECT reply."""
    factory = sio.engine.protocol_factory
    made: list[MemoryTransport] = []
    connect = _masked(b"40")
    for start in range(0, n, BATCH):
        first = _UPGRADE if transport_name == "websocket" else _HANDSHAKE
        batch = [_open(factory, 10000 + i % 50000, first) for i in range(start, min(n, start + BATCH))]
        sids: list[bytes] = []
        await asyncio.sleep(0)
        if transport_name == "websocket":
            for t in batch:
                t.feed(connect)
        else:
            for t in batch:
                m = _SID.search(t.out)
                if m is None:
                    raise SystemExit(f"no OPEN packet in the handshake response: {bytes(t.out[:300])!r}")
                sids.append(m.group(1))
                t.feed(_POST % m.group(1))
            await asyncio.sleep(0)
            for t, sid in zip(batch, sids):
                t.feed(_POLL % sid)
        await asyncio.sleep(0)
        _check(batch, _CONNECTED, "CONNECT reply")
        if transport_name == "upgrade":
            batch = await _upgrade(factory, batch, sids, 10000 + start % 50000)
        made.extend(batch)
    return made


def child(tree: str, transport_name: str, n: int) -> None:
    """In the child: the benchmark app of ``tree``, ``n`` connections; prints CPU seconds."""
    sys.path.insert(0, tree)
    os.chdir(tree)
    from benchmarks.servers.fastsio_app import sio  # noqa: PLC0415 - from the tree under test

    import uvloop  # noqa: PLC0415

    async def main() -> None:
        await sio.start("127.0.0.1", 0)
        await _connect(sio, transport_name, BATCH)  # warm-up
        started = time.process_time()
        held = await _connect(sio, transport_name, n)
        print(json.dumps({"cpu_s": time.process_time() - started, "connections": len(held)}))

    uvloop.run(main())


def _child_argv(tree: Path, transport_name: str, n: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", str(tree), transport_name, str(n)]


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
    env.pop("FASTSIO_NO_EXTENSIONS", None)
    env["FASTSIO_REQUIRE_EXTENSIONS"] = "1"
    return env


def instructions(tree: Path, transport_name: str) -> float:
    """Instructions per connection (callgrind, HIGH less LOW connections)."""
    totals = {}
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for n in (LOW, HIGH):
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.{n}", *_child_argv(tree, transport_name, n)]
            procs[n] = subprocess.Popen(argv, env=_env(tree), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n, proc in procs.items():
            out, err = proc.communicate()
            m = re.search(r"Collected : (\d+)", err)
            if proc.returncode != 0 or m is None:
                raise SystemExit(f"{tree} {transport_name} N={n} failed:\n{out}\n{err[-2000:]}")
            totals[n] = int(m.group(1))
    return (totals[HIGH] - totals[LOW]) / (HIGH - LOW)


def cpu_us(tree: Path, transport_name: str, n: int) -> float:
    """CPU microseconds per connection (no valgrind; noisy on a shared machine)."""
    proc = subprocess.run(_child_argv(tree, transport_name, n), env=_env(tree), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{tree} {transport_name} failed:\n{proc.stdout}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["cpu_s"] / n * 1e6


def _tree_of(rev: str) -> Path:
    from benchmarks.runner import prepare_baseline, resolve_baseline  # noqa: PLC0415

    base = resolve_baseline(rev)
    problem = prepare_baseline(base.commit, base.worktree, True, sys.stderr)
    if problem:
        raise SystemExit(f"baseline {rev}: {problem}")
    return base.worktree


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", action="append", default=[], metavar="REV", help="also measure this commit")
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="comma-separated: websocket,polling,upgrade")
    parser.add_argument("--cpu", action="store_true", help="CPU time per connection instead of instructions")
    parser.add_argument("--repeats", type=int, default=1, help="runs per tree and transport (the median is shown)")
    parser.add_argument("--n", type=int, default=5000, help="connections per --cpu run (5000)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if not args.cpu and shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt install valgrind), or use --cpu")
    trees = [("this tree", ROOT)] + [(rev, _tree_of(rev)) for rev in args.baseline]
    unit = "CPU us" if args.cpu else "instructions"
    print(f"{unit} per connection (median of {args.repeats}):")
    first: dict[str, float] = {}
    for transport_name in args.transports.split(","):
        for label, tree in trees:
            runs = sorted(
                cpu_us(tree, transport_name, args.n) if args.cpu else instructions(tree, transport_name) for _ in range(args.repeats)
            )
            value = runs[len(runs) // 2]
            first.setdefault(transport_name, value)
            ratio = value / first[transport_name]
            print(f"  {transport_name:9} {label:12} {value:12,.1f}  {ratio:.3f}x", flush=True)


if __name__ == "__main__":
    if "--child" not in sys.argv:
        sys.path.insert(0, str(ROOT))
    main()
