"""``sio.run(workers=4)`` for real: a supervisor process and four forked workers on one
port (``tests/workers/workers_app.py``), no sticky load balancer, and real clients:
python-socketio's (polling only, WebSocket only, upgrade) and socket.io-client 4.x
(``tests/node/driver.mjs``), plus raw Engine.IO requests each on a new TCP connection.

What is checked: every client connects whichever worker its connections land on (a
request or WebSocket upgrade for another worker's session is handed to it with its
connection: counted, and the answer comes from the owner); a broadcast reaches every
client exactly once; acks, ``fetch_sockets``, all rooms, remote joins, broadcasts with
acks and ``server_side_emit_with_ack`` span the workers (the local worker adapter);
a killed worker is started again and its clients reconnect; SIGTERM to the supervisor
stops every worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest
import socketio

from _nodedriver import TESTS, node_marks, run_driver
from _pki import OPENSSL, make_pki
from fastsio._server.mesh import ALPHABET

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="workers need fork and SO_REUSEPORT")

HERE = Path(__file__).resolve().parent
APP = HERE / "workers_app.py"
NODE_DIR = TESTS / "node"
WORKERS = 4
# clients of each kind at least, and at most (connecting goes on until every worker has one)
LEAST, MOST = 4, 48


class Cluster:
    """The supervisor process of ``workers_app.py`` and what it printed on stderr."""

    def __init__(
        self, workers: int = WORKERS, transports: str = "polling,websocket", *redis: str, env: dict[str, str] | None = None
    ) -> None:
        proc = subprocess.Popen(
            [sys.executable, str(APP), str(workers), transports, *redis],
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(HERE),
            env={**os.environ, **(env or {})},
        )
        self._watch(proc, workers)

    @classmethod
    def attach(cls, proc: subprocess.Popen[str], workers: int) -> Cluster:
        """The supervisor ``proc`` (another app), once its ``workers`` listen."""
        self = cls.__new__(cls)
        self._watch(proc, workers)
        return self

    def _watch(self, proc: subprocess.Popen[str], workers: int) -> None:
        """Read ``proc``'s stderr from now on, and wait until its ``workers`` listen
        (stopping it if they do not)."""
        self.workers = workers
        self.proc = proc
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            found = self.wait_line(r"fastsio: (\d+) workers on 127\.0\.0\.1:(\d+)")
            self.port = int(found.group(2))
            self.url = f"http://127.0.0.1:{self.port}"
            self.secure_url = f"https://localhost:{self.port}"
            self.wait_count("listening on", workers)
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        with self.changed:
            found: list[re.Match[str]] = []

            def seen() -> bool:
                found[:] = [m for m in (re.search(pattern, line) for line in self.lines) if m]
                return bool(found)

            if not self.changed.wait_for(seen, timeout):
                raise AssertionError(f"no line {pattern!r} in {self.lines!r}")
            return found[0]

    def wait_count(self, text: str, count: int, timeout: float = 20.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: sum(line.count(text) for line in self.lines) >= count, timeout):
                raise AssertionError(f"fewer than {count} lines with {text!r} in {self.lines!r}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def new_client(ssl_context: ssl.SSLContext | None = None, **options: Any) -> socketio.AsyncClient:
    """A python-socketio client (over TLS trusting ``ssl_context``'s CA, if given: then
    with an aiohttp session of its own, which :func:`close_client` closes)."""
    if ssl_context is not None:
        options["http_session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context))
    return socketio.AsyncClient(**options)


async def close_client(client: socketio.AsyncClient) -> None:
    """Disconnect ``client``, and close the aiohttp session given to it, if any
    (python-socketio leaves a session it was given open)."""
    await client.disconnect()
    session = client.eio.external_http and client.eio.http
    if session:
        await session.close()


async def stats(url: str, ssl_context: ssl.SSLContext | None = None) -> list[dict[str, Any]]:
    """Every worker's ``stats`` (one WebSocket client asks its worker, which asks the others)."""
    client = new_client(ssl_context, reconnection=False)
    try:
        await client.connect(url, transports=["websocket"], wait_timeout=10)
        result: list[dict[str, Any]] = await client.call("stats", timeout=8)
    finally:
        await close_client(client)
    return result


async def ready(cluster: Cluster, ssl_context: ssl.SSLContext | None = None) -> list[dict[str, Any]]:
    """Wait until every worker is linked to every other one; their stats."""
    found: Any = None
    deadline = time.monotonic() + 40
    url = cluster.url if ssl_context is None else cluster.secure_url
    while time.monotonic() < deadline:
        try:
            found = await stats(url, ssl_context)
        except socketio.exceptions.SocketIOError as exc:  # a worker not linked yet timed out
            found = exc
        else:
            if len(found) == cluster.workers and all(len(s["linked"]) == cluster.workers - 1 for s in found):
                return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workers never all linked up: {found}")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of this test's own on a free port (no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: `make redis` installs it (make test does)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    running = Cluster()
    try:
        yield running
    finally:
        running.stop()


class Counter:
    """How many times something happened; ``wait_for(n)`` until it happened ``n`` times."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        self.changed.set()

    async def wait_for(self, n: int) -> None:
        while self.count < n:
            self.changed.clear()
            await self.changed.wait()


class Clients:
    """python-socketio clients, each recording the ``heard`` broadcasts it got."""

    def __init__(self, url: str, ssl_context: ssl.SSLContext | None = None) -> None:
        self.url = url
        self.ssl_context = ssl_context
        self.clients: list[socketio.AsyncClient] = []
        self.heard: list[list[Any]] = []
        self.ends: list[asyncio.Event] = []
        self.workers: list[int] = []
        self.connects: list[Counter] = []

    async def add(self, transports: list[str], reconnection: bool = False) -> int:
        client = new_client(
            self.ssl_context, reconnection=reconnection, reconnection_delay=0.2, reconnection_delay_max=0.5
        )
        heard: list[Any] = []
        end = asyncio.Event()
        connects = Counter()
        client.on("connect", connects.bump)

        @client.on("heard")
        def on_heard(tag: Any) -> None:
            heard.append(tag)
            if isinstance(tag, str) and tag.startswith("end"):
                end.set()

        @client.on("ask")
        def on_ask() -> str:
            return "yes"

        try:
            await client.connect(self.url, transports=transports, wait_timeout=10)
            who = await client.call("whoami", timeout=10)
        except BaseException:
            await close_client(client)
            raise
        self.clients.append(client)
        self.heard.append(heard)
        self.ends.append(end)
        self.connects.append(connects)
        self.workers.append(who["worker"])
        return int(who["worker"])

    async def cover(self, transports: list[str], reconnection: bool = False) -> set[int]:
        """Connect clients over ``transports`` until every worker holds one of them
        (at least LEAST of them, at most MOST)."""
        seen: set[int] = set()
        for i in range(MOST):
            seen.add(await self.add(transports, reconnection))
            if i + 1 >= LEAST and len(seen) == WORKERS:
                break
        return seen

    async def wait_end(self, tag: str) -> None:
        for i, client in enumerate(self.clients):
            await asyncio.wait_for(self.ends[i].wait(), 20)
        for end in self.ends:
            end.clear()

    async def close(self) -> None:
        for client in self.clients:
            await close_client(client)


@pytest.fixture
async def clients(cluster: Cluster) -> AsyncIterator[Clients]:
    await ready(cluster)
    group = Clients(cluster.url)
    yield group
    await group.close()


async def test_transports_broadcasts_acks_and_requests_across_workers(cluster: Cluster, clients: Clients) -> None:
    """Verify clients over polling only, WebSocket only and upgrade reach every worker;
    a broadcast from one reaches each client exactly once; acks, fetch_sockets, all
    rooms, a remote join, a broadcast with acks and server_side_emit_with_ack span the
    four workers (the local worker adapter)."""
    await across_workers(cluster, clients)


@pytest.mark.redis
async def test_workers_on_the_redis_adapter(redis_url: str) -> None:
    """Verify the same with the server's RedisAdapter (a real redis-server): each worker
    is a node of the Redis cluster, polling still goes to the session's worker."""
    running = Cluster(WORKERS, "polling,websocket", redis_url, "w" + uuid.uuid4().hex[:8])
    try:
        await ready(running)
        group = Clients(running.url)
        try:
            await across_workers(running, group)
        finally:
            await group.close()
    finally:
        running.stop()


async def rooms_become(client: socketio.AsyncClient, check: Any) -> None:
    """Ask ``client``'s worker for every worker's rooms until ``check(rooms)`` holds (10 s
    at most)."""
    rooms: list[str] = []
    for _ in range(200):
        rooms = await client.call("rooms", timeout=15)
        if check(rooms):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workers' rooms stayed {rooms}")


async def across_workers(cluster: Cluster, clients: Clients) -> None:
    for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
        seen = await clients.cover(transports)
        assert seen == set(range(WORKERS)), (transports, seen)
    assert [c.transport() for c in clients.clients].count("polling") >= LEAST
    total = len(clients.clients)
    first = clients.clients[0]
    assert await first.call("shout", "t1", timeout=10) == "ok"
    assert await first.call("shout", "end1", timeout=10) == "ok"
    await clients.wait_end("end1")
    assert clients.heard == [["t1", "end1"]] * total
    # requests across the workers
    assert await first.call("count", timeout=15) == total
    assert await first.call("ask_all", timeout=15) == ["yes"] * total
    # a remote join, then a broadcast to the room (from another client's worker)
    last = clients.clients[-1]
    assert await first.call("join_all", "r", timeout=10) is True
    await rooms_become(last, lambda rooms: "r" in rooms)
    assert await last.call("to_room", ("r", "r1"), timeout=10) is True
    assert await last.call("to_room", ("r", "end2"), timeout=10) is True
    await clients.wait_end("end2")
    assert clients.heard == [["t1", "end1", "r1", "end2"]] * total
    # a remote leave: the room's next broadcast reaches nobody
    assert await first.call("leave_all", "r", timeout=10) is True
    # (sockets_leave is not acknowledged, as in Node: the leave from first's worker and the
    # broadcast from last's reach a third worker in the order the adapter's bus got them;
    # wait until every worker reports the room gone)
    await rooms_become(last, lambda rooms: "r" not in rooms)
    assert await last.call("to_room", ("r", "r2"), timeout=10) is True
    assert await first.call("shout", "end3", timeout=10) == "ok"
    await clients.wait_end("end3")
    # an emit to each socket fetch_sockets found (RemoteSocket.emit for the other workers')
    assert await last.call("each", "e1", timeout=15) == total
    assert await last.call("shout", "end4", timeout=10) == "ok"
    await clients.wait_end("end4")
    assert clients.heard == [["t1", "end1", "r1", "end2", "end3", "e1", "end4"]] * total
    found = await stats(cluster.url)
    assert sorted(s["worker"] for s in found) == list(range(WORKERS))
    assert len({s["adapter"] for s in found}) == 1
    # each polling client's connections land on any worker: some were handed off
    assert sum(s["handed_off"] for s in found) > 0
    # disconnect_sockets reaches every worker's clients
    gone = [asyncio.Event() for _ in clients.clients]
    for i, client in enumerate(clients.clients):
        client.on("disconnect", gone[i].set)
    await first.emit("disconnect_all")  # (no ack: the caller is disconnected too)
    for event in gone:
        await asyncio.wait_for(event.wait(), 20)


async def _eio_get(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        assert resp.status == 200, (resp.status, await resp.text())
        return await resp.text()


async def _eio_post(session: aiohttp.ClientSession, url: str, body: str) -> None:
    async with session.post(url, data=body.encode()) as resp:
        assert resp.status == 200, (resp.status, await resp.text())


async def _eio_until(session: aiohttp.ClientSession, url: str, prefix: str) -> str:
    """GET until a packet starting with ``prefix`` comes (pings answered)."""
    for _ in range(20):
        for packet in (await _eio_get(session, url)).split("\x1e"):
            if packet.startswith(prefix):
                return packet
            if packet == "2":
                await _eio_post(session, url, "3")
    raise AssertionError(f"no {prefix!r} packet")


async def test_requests_and_upgrades_go_to_the_owner(cluster: Cluster) -> None:
    """Verify raw Engine.IO sessions, every request on a new TCP connection (so on any
    worker): the owner (the worker named by the sid's first character) answers each
    polling request and takes the WebSocket upgrade, however many hand-offs it took."""
    await ready(cluster)
    before = sum(s["handed_off"] for s in await stats(cluster.url))
    base = f"{cluster.url}/socket.io/?EIO=4"
    connector = aiohttp.TCPConnector(force_close=True)  # a new TCP connection per request
    async with aiohttp.ClientSession(connector=connector) as http:
        for round_ in range(12):
            opened = await _eio_get(http, f"{base}&transport=polling")
            sid = json.loads(opened[1:])["sid"]
            owner = ALPHABET.index(sid[0])
            assert owner < WORKERS
            poll = f"{base}&transport=polling&sid={sid}"
            await _eio_post(http, poll, "40")
            await _eio_until(http, poll, "40{")
            await _eio_post(http, poll, '421["whoami"]')
            reply = await _eio_until(http, poll, "431[")
            who = json.loads(reply[3:])[0]
            assert (who["worker"], who["sid"]) == (owner, sid)
            if round_ % 2:
                # and its upgrade, on a new connection too
                async with http.ws_connect(f"ws://127.0.0.1:{cluster.port}/socket.io/?EIO=4&transport=websocket&sid={sid}") as ws:
                    await ws.send_str("2probe")
                    assert (await ws.receive_str(timeout=10)) == "3probe"
                    await ws.send_str("5")
                    await ws.send_str('422["whoami"]')
                    while True:
                        msg = await ws.receive_str(timeout=10)
                        if msg.startswith("432"):
                            break
                    assert json.loads(msg[3:])[0]["worker"] == owner
    after = sum(s["handed_off"] for s in await stats(cluster.url))
    # 12 sessions of 6 connections or more each, each on a worker drawn by the kernel
    assert after > before


async def test_pipelined_requests_follow_their_sessions(cluster: Cluster) -> None:
    """Verify two pipelined requests on one connection for sessions of two different
    workers, the first a long-polling GET held until the server's next ping: each is
    answered by its session's worker, in order, on that connection (the second waits
    behind the first and is handed on once the first is answered, whichever worker the
    kernel gave the connection to)."""
    await ready(cluster)
    base = f"{cluster.url}/socket.io/?EIO=4&transport=polling"
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        sids: list[str] = []
        while len(sids) < 2:  # two sessions of two different workers
            sid = json.loads((await _eio_get(http, base))[1:])["sid"]
            if not sids or sid[0] != sids[0][0]:
                sids.append(sid)
    first, second = sids
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.port)
    body = b"40"
    writer.write(
        f"GET /socket.io/?EIO=4&transport=polling&sid={first} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        + f"POST /socket.io/?EIO=4&transport=polling&sid={second} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )
    await writer.drain()
    answers = []
    for _ in range(2):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        answers.append((head.split(b" ", 2)[1], await asyncio.wait_for(reader.readexactly(length), 10)))
    writer.close()
    # the held GET got the server's ping (ping_interval 1 s), then the POST its "ok"
    assert answers == [(b"200", b"2"), (b"200", b"ok")]


def test_unknown_sids_are_answered_by_their_worker_or_any(cluster: Cluster) -> None:
    """Verify a sid no worker has is answered "Session ID unknown" (400): one naming a
    worker (handed to it, which does not have it either) and one whose first character
    names no worker (answered by whichever worker gets it)."""
    import urllib.error
    import urllib.request

    for first in ALPHABET[: WORKERS + 2]:
        sid = first + "x" * 19
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{cluster.url}/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=10)
        assert err.value.code == 400
        assert json.loads(err.value.read())["message"] == "Session ID unknown"


async def test_engine_server_workers() -> None:
    """Verify ``EngineServer.run(workers=4)`` (Engine.IO only, nothing shared between the
    workers): every request of a polling session, each on a new TCP connection, is
    answered by the worker that made the session."""
    proc = subprocess.Popen([sys.executable, str(HERE / "engine_workers_app.py")], stderr=subprocess.PIPE, text=True)
    running = Cluster.attach(proc, WORKERS)
    try:
        base = f"{running.url}/engine.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            for _ in range(4):
                opened = await _eio_get(http, base)
                sid = json.loads(opened[1:])["sid"]
                pids = set()
                for i in range(6):
                    await _eio_post(http, f"{base}&sid={sid}", f"4m{i}")
                    reply = await _eio_until(http, f"{base}&sid={sid}", f"4m{i}:")
                    pids.add(reply.split(":")[1])
                assert len(pids) == 1
    finally:
        assert running.stop() == 0


def _node(fn: Any) -> Any:
    for mark in node_marks(NODE_DIR):
        fn = mark(fn)
    return fn


@_node
async def test_node_clients_across_workers(cluster: Cluster) -> None:
    """Verify socket.io-client 4.x over polling only, WebSocket only and upgrade (four
    managers of each kind) connects through the workers and gets a broadcast made on
    another client's worker exactly once, and answers a broadcast with acks."""
    await ready(cluster)
    kinds = {"p": {"transports": ["polling"]}, "w": {"transports": ["websocket"]}, "u": {}}
    steps: list[dict[str, Any]] = []
    names = []
    for kind, options in kinds.items():
        for i in range(4):
            name = f"{kind}{i}"
            names.append(name)
            steps.append({"op": "connect", "sock": name, "manager": name, "options": options,
                          "replies": {"ask": ["yes"]}, "timeout": 10000})
    steps += [{"op": "wait", "t": "upgrade", "manager": f"u{i}", "timeout": 10000} for i in range(4)]
    steps += [{"op": "emit", "sock": name, "event": "whoami", "ack": True, "tag": f"who-{name}"} for name in names]
    steps += [
        {"op": "sync", "name": "connected"},
        {"op": "wait", "t": "event", "event": "heard", "count": 2 * len(names), "timeout": 20000},
        {"op": "sync", "name": "heard"},
    ]
    helper = Clients(cluster.url)
    answers: dict[str, Any] = {}

    async def on_sync(name: str) -> None:
        if name == "connected":
            await helper.add(["websocket"])
            first = helper.clients[0]
            assert await first.call("shout", "n1", timeout=10) == "ok"
            assert await first.call("shout", "end", timeout=10) == "ok"
        else:
            answers["ask"] = await helper.clients[0].call("ask_all", timeout=15)
            answers["count"] = await helper.clients[0].call("count", timeout=15)

    try:
        run = await run_driver(NODE_DIR / "driver.mjs", {"url": cluster.url, "timeout": 60000, "steps": steps}, 60, on_sync)
    finally:
        await helper.close()
    assert run.returncode == 0, run
    workers = {run.one("ack", tag=f"who-{name}")["args"][0]["worker"] for name in names}
    assert len(workers) >= 2, run  # twelve clients, four workers: more than one was used
    for name in names:
        assert [r["args"] for r in run.of("event", sock=name, event="heard")] == [["n1"], ["end"]], (name, run)
    assert len(run.of("upgrade")) == 4
    # the helper and the twelve node sockets
    assert answers == {"ask": ["yes"] * (len(names) + 1), "count": len(names) + 1}


async def test_a_killed_worker_is_restarted_and_its_clients_reconnect(cluster: Cluster) -> None:
    """Verify SIGKILL of a worker that holds clients: the supervisor forks it again, its
    polling and WebSocket clients reconnect by themselves (to any worker), and a
    broadcast then reaches every client exactly once."""
    found = await ready(cluster)
    pids = {s["worker"]: s["pid"] for s in found}
    group = Clients(cluster.url)
    try:
        for transports in (["polling"], ["websocket"]):
            await group.cover(transports, reconnection=True)
        victim = group.workers[0]
        on_victim = [i for i, w in enumerate(group.workers) if w == victim]
        os.kill(pids[victim], signal.SIGKILL)
        cluster.wait_line(rf"worker {victim} \(pid {pids[victim]}\) exited")
        cluster.wait_count("listening on", WORKERS + 1)
        found = await ready(cluster)
        assert {s["worker"]: s["pid"] for s in found}[victim] != pids[victim]
        # each of the victim's clients connected a second time, the others once
        for i in range(len(group.clients)):
            await asyncio.wait_for(group.connects[i].wait_for(2 if i in on_victim else 1), 30)
        first = group.clients[-1]
        assert await first.call("shout", "k1", timeout=10) == "ok"
        assert await first.call("shout", "end", timeout=10) == "ok"
        await group.wait_end("end")
        assert all(heard == ["k1", "end"] for heard in group.heard), group.heard
        assert await first.call("count", timeout=15) == len(group.clients)
    finally:
        await group.close()


async def test_sigterm_stops_every_worker(cluster: Cluster) -> None:
    """Verify SIGTERM to the supervisor stops the four workers (their clients are
    disconnected) and the supervisor exits 0."""
    found = await ready(cluster)
    group = Clients(cluster.url)
    gone = [asyncio.Event() for _ in range(8)]
    try:
        for i in range(8):
            await group.add(["polling"] if i % 2 else ["websocket"])
            group.clients[i].on("disconnect", gone[i].set)
        cluster.proc.send_signal(signal.SIGTERM)
        for event in gone:
            await asyncio.wait_for(event.wait(), 20)
        assert await asyncio.get_running_loop().run_in_executor(None, cluster.proc.wait, 30) == 0
        for s in found:
            with pytest.raises(ProcessLookupError):
                os.kill(s["pid"], 0)
    finally:
        await group.close()


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
async def test_tls_websocket_workers(tmp_path: Path) -> None:
    """Verify ``run(workers=4, certfile=, keyfile=)`` with a WebSocket-only server:
    python-socketio clients trusting the test CA connect over ``wss://`` until every
    worker holds one; a broadcast from one reaches each exactly once, and
    ``fetch_sockets`` counts them all (the worker adapter between TLS workers)."""
    pki = make_pki(tmp_path)
    running = Cluster(
        WORKERS, "websocket", env={"WORKERS_CERTFILE": str(pki.cert), "WORKERS_KEYFILE": str(pki.key)}
    )
    ctx = pki.client_context()
    group = Clients(running.secure_url, ctx)
    try:
        await ready(running, ctx)
        assert await group.cover(["websocket"]) == set(range(WORKERS))
        assert all(c.transport() == "websocket" for c in group.clients)
        first = group.clients[0]
        assert await first.call("shout", "tls", timeout=10) == "ok"
        assert await first.call("shout", "end-tls", timeout=10) == "ok"
        await group.wait_end("end-tls")
        assert group.heard == [["tls", "end-tls"]] * len(group.clients)
        assert await first.call("count", timeout=15) == len(group.clients)
    finally:
        await group.close()
        assert running.stop() == 0


def test_tls_with_polling_is_refused(tmp_path: Path) -> None:
    """Verify ``run(workers=N)`` over TLS refuses a server that allows polling (its
    requests could not be handed to another worker with their TLS state), before any
    worker starts."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    pki = make_pki(tmp_path)
    import fastsio

    with pytest.raises(ValueError, match="WebSocket-only"):
        fastsio.Server().run("127.0.0.1", 0, workers=2, certfile=str(pki.cert), keyfile=str(pki.key))
