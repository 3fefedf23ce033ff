"""The Node side of the mixed-cluster tests: :class:`NodeMember` runs ``node_member.mjs``
(a socket.io 4.8 node on ``@socket.io/redis-adapter``, socket.io-client clients and a
``@socket.io/redis-emitter``) and evaluates JavaScript in it, one command at a time.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from _nodedriver import NODE

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
                  "publishOnSpecificResponseChannel": specific_responses, "sharded": sharded}
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
