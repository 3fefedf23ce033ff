"""What the interop tests share: the application every client talks to, a log of
what the server saw that a test can wait on, and the Node drivers' records (Run, b, MODES)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import fastsio

import _nodedriver


class Seen:
    """What the server's handlers saw, in order: ``(kind, *details)`` tuples."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def add(self, kind: str, *details: Any) -> None:
        self.items.append((kind, *details))
        self._changed.set()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [item[1:] for item in self.items if item[0] == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[tuple[Any, ...]]:
        """Until ``count`` items of ``kind`` have been seen."""

        async def until() -> None:
            while len(self.of(kind)) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"server saw {count} x {kind!r}: no; saw {self.items!r}") from None
        return self.of(kind)


def build_server(**options: Any) -> tuple[fastsio.Server, Seen]:
    """The application of the interop tests.

    ``/``: a middleware refusing ``auth.refuse``; ``connect`` emits ``welcome``; ``echo``
    acks its arguments (a tuple: several); ``ask`` asks the client ``question`` with the
    same arguments and acks ``("answer", reply)``; ``inspect`` records its arguments;
    rooms (``join``, ``leave``, ``to_room``, ``socket_to``), ``broadcast``, ``ask_all``,
    ``kick``.  ``/chat``: refuses ``auth.refuse_chat`` in its connect handler, emits
    ``chat_welcome``, ``msg`` acks ``"recv " + text``, ``kick``.  ``/slow``: an async
    middleware and an async connect handler that both emit.
    """
    sio = fastsio.Server(**options)
    seen = Seen()

    @sio.use
    def refuse(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        if auth.get("refuse"):
            raise fastsio.ConnectionRefused("nope", {"code": 1})

    @sio.on("connect")
    def connect(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        seen.add("connect", socket.nsp, socket)
        socket.emit("welcome", {"id": socket.id, "auth": auth})

    @sio.on("disconnect")
    def disconnect(socket: fastsio.Socket, reason: str) -> None:
        seen.add("disconnect", socket.nsp, reason, socket.id)

    @sio.on("echo")
    def echo(socket: fastsio.Socket, *args: Any) -> Any:
        return args

    @sio.on("nothing")
    def nothing(socket: fastsio.Socket) -> None:
        seen.add("nothing")

    @sio.on("ask")
    async def ask(socket: fastsio.Socket, *args: Any) -> Any:
        reply = await socket.timeout(5).emit_with_ack("question", *args)
        seen.add("reply", reply)
        return "answer", reply

    @sio.on("ask_cb")
    def ask_cb(socket: fastsio.Socket, *args: Any) -> None:
        # the callback form of an acknowledged emit
        socket.emit("question", *args, callback=lambda *reply: seen.add("cb_reply", reply))

    @sio.on("inspect")
    def inspect(socket: fastsio.Socket, *args: Any) -> Any:
        seen.add("inspect", args)
        return args

    @sio.on("join")
    def join(socket: fastsio.Socket, room: str) -> list[str]:
        socket.join(room)
        return sorted(socket.rooms - {socket.id})

    @sio.on("leave")
    def leave(socket: fastsio.Socket, room: str) -> list[str]:
        socket.leave(room)
        return sorted(socket.rooms - {socket.id})

    @sio.on("to_room")
    def to_room(socket: fastsio.Socket, room: str, exclude: str | None, msg: Any) -> bool:
        op = sio.to(room)
        if exclude:
            op = op.except_(exclude)
        op.emit("room_msg", msg)
        return True

    @sio.on("socket_to")
    def socket_to(socket: fastsio.Socket, room: str, msg: Any) -> bool:
        socket.to(room).emit("room_msg", msg)
        return True

    @sio.on("to_self")
    def to_self(socket: fastsio.Socket, msg: Any) -> bool:
        sio.to(socket.id).emit("to_me", msg)  # every socket is in a room named by its id
        return True

    @sio.on("broadcast")
    def broadcast(socket: fastsio.Socket, msg: Any) -> int:
        return sio.emit("news", msg)

    @sio.on("ask_all")
    async def ask_all(socket: fastsio.Socket, *args: Any) -> list[Any]:
        replies = await sio.timeout(5).emit_with_ack("poll", *args)
        return sorted(replies)

    @sio.on("kick")
    def kick(socket: fastsio.Socket, close: bool = False) -> None:
        socket.disconnect(close=bool(close))

    @sio.on("burst")
    async def burst(socket: fastsio.Socket, n: int) -> int:
        for i in range(n):
            socket.emit("item", i, {"i": i, "bin": bytes([i % 256])} if i % 3 == 0 else "é✓" * i)
            if i % 10 == 9:
                await asyncio.sleep(0.001)
        return n

    chat = sio.of("/chat")

    @chat.on("connect")
    def chat_connect(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        if auth.get("refuse_chat"):
            raise fastsio.ConnectionRefused("chat closed", {"code": 2, "why": ["full"]})
        seen.add("connect", socket.nsp, socket)
        socket.emit("chat_welcome", "hello chat")

    @chat.on("disconnect")
    def chat_disconnect(socket: fastsio.Socket, reason: str) -> None:
        seen.add("disconnect", socket.nsp, reason, socket.id)

    @chat.on("msg")
    async def msg(socket: fastsio.Socket, text: str) -> str:
        await asyncio.sleep(0)
        return "recv " + text

    @chat.on("kick")
    def chat_kick(socket: fastsio.Socket) -> None:
        socket.disconnect()

    slow = sio.of("/slow")

    @slow.use
    async def slow_middleware(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        await asyncio.sleep(0.01)
        socket.emit("from_middleware", 1)

    @slow.on("connect")
    async def slow_connect(socket: fastsio.Socket, auth: dict[str, Any]) -> None:
        socket.emit("early", 2)
        await asyncio.sleep(0.01)
        socket.emit("late", 3)
        seen.add("connect", socket.nsp, socket)

    return sio, seen


# ---------------------------------------------------------------- the Node drivers
# (tests/node/driver.mjs and tests/legacy/driver.cjs print the same JSON-line records)

MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}


def b(data: bytes) -> dict[str, str]:
    """A binary value as the driver writes it."""
    return {"$bin": base64.b64encode(data).decode()}


class Run(_nodedriver.Run):
    """What socket.io-client saw, in drivers that open several sockets (``sock``)."""

    def acks(self, tag: str, sock: str = "s") -> list[Any]:
        return self.one("ack", tag=tag, sock=sock)["args"]

    def events(self, event: str, sock: str = "s") -> list[list[Any]]:
        return [r["args"] for r in self.of("event", event=event, sock=sock)]
