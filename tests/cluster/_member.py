"""The Node side of the mixed-cluster tests: :class:`NodeMember` runs ``node_member.mjs``
(a socket.io 4.8 node on ``@socket.io/redis-adapter``, socket.io-client clients and a
``@socket.io/redis-emitter``) and evaluates JavaScript in it, one command at a time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from _nodedriver import NODE, node_marks

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "node_member.mjs"


def b(data: bytes) -> dict[str, str]:
    """How the Node side prints binary."""
    return {"$bin": base64.b64encode(data).decode()}


class NodeError(AssertionError):
    """The JavaScript of a command threw."""


class NodeMember:
    """One Node socket.io node of the cluster (``url``: where its clients connect)."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._next = 0
        self._lock = asyncio.Lock()

    @classmethod
    async def start(
        cls,
        redis_url: str,
        key: str,
        namespaces: tuple[str, ...] = ("/",),
        requests_timeout: int = 5000,
        specific_responses: bool = False,
        sharded: str | None = None,
        streams: bool = False,
        recovery: int | None = None,
        clients_only: bool = False,
        stream_count: int = 1,
        use_sharded_pubsub: bool = False,
    ) -> NodeMember:
        assert NODE is not None
        proc = await asyncio.create_subprocess_exec(
            NODE,
            str(SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            cwd=str(HERE),
            limit=1 << 24,
        )
        assert proc.stdin is not None and proc.stdout is not None
        config = {"redis": redis_url, "key": key, "namespaces": list(namespaces), "requestsTimeout": requests_timeout,
                  "publishOnSpecificResponseChannel": specific_responses, "sharded": sharded,
                  "streams": streams, "recovery": recovery, "clientsOnly": clients_only,
                  "streamCount": stream_count, "useShardedPubSub": use_sharded_pubsub}
        proc.stdin.write(json.dumps(config).encode() + b"\n")
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        ready = json.loads(line)
        assert ready.get("ready"), ready
        return cls(proc, ready["port"])

    async def eval(self, code: str, timeout: float = 15, **args: Any) -> Any:
        """Run ``code`` (the body of ``async (ctx, args) => {...}``); its result."""
        async with self._lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self._next += 1
            self.proc.stdin.write(json.dumps({"id": self._next, "code": code, "args": args}).encode() + b"\n")
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not line:
                raise NodeError("node_member.mjs exited")
            reply = json.loads(line)
            assert reply["id"] == self._next, reply
            if not reply["ok"]:
                raise NodeError(reply["error"])
            return reply["value"]

    async def connect(self, name: str, url: str, nsp: str = "/", **opts: Any) -> str:
        """A socket.io-client named ``name`` connected to ``url`` (any node); its id."""
        sid: str = await self.eval("return await ctx.connect(args.name, args.url, args.opts)", name=name, url=url,
                                   opts={"nsp": nsp, **opts})
        return sid

    async def events(self, name: str, event: str | None = None) -> list[list[Any]]:
        """What client ``name`` received so far: ``[event, *args]`` each."""
        found: list[list[Any]] = await self.eval("return ctx.events(args.name, args.event ?? undefined)",
                                                 name=name, event=event)
        return found

    async def wait_for(self, name: str, event: str, count: int = 1, ms: int = 5000) -> list[list[Any]]:
        """The ``event`` events of client ``name`` once ``count`` arrived."""
        found: list[list[Any]] = await self.eval(
            "return await ctx.waitFor(args.name, args.event, args.count, args.ms)",
            timeout=ms / 1000 + 5, name=name, event=event, count=count, ms=ms)
        return found

    async def close(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
            await asyncio.wait_for(self.proc.wait(), 5)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


# ------------------------------------------------------------------ shared by the cluster tests
# (here, not in conftest.py: a test module importing `conftest` gets whichever directory's
# conftest was imported last when several test directories are collected together)
REDIS_SERVER = shutil.which("redis-server")

#: the marks of a test that runs Node members
node_member_marks = node_marks(HERE, package="socket.io", install="run `make node`")


def free_port() -> int:
    """A free TCP port on loopback (for the test's redis-server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisProcess:
    """A redis-server of its own on 127.0.0.1:``port`` (no persistence)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(5)
        self.proc = None


