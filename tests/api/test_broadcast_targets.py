"""The memory adapter keeps, per room, the list of connections a broadcast goes to (built by
the first broadcast, dropped when the room changes or a session upgrades).  These tests change
membership in every way a room can change and check, with the real python-socketio client over
real sockets, that every broadcast reaches exactly the sockets in the room at that moment."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

import fastsio


async def client(url: str, got: list[Any], name: str, transports: list[str] | None = None) -> socketio.AsyncClient:
    c = socketio.AsyncClient(reconnection=False)
    c.on("tick", lambda n: got.append((name, n)))
    await c.connect(url, transports=transports or ["websocket"])
    return c


async def settle(got: list[Any], want: set[Any], timeout: float = 5.0) -> None:
    """Wait until ``got`` holds ``want``; then a little more, so that extra deliveries show."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not want <= set(got):
        if loop.time() > end:
            raise AssertionError(f"missing {want - set(got)}; got {got}")
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)


async def test_membership_changes_reach_the_right_sockets(start_server: Any) -> None:
    sio = fastsio.Server()

    @sio.on("join")
    def join(socket: fastsio.Socket, room: str) -> bool:
        socket.join(room)
        return True

    @sio.on("leave")
    def leave(socket: fastsio.Socket, room: str) -> bool:
        socket.leave(room)
        return True

    url = await start_server(sio)
    got: list[Any] = []
    a = await client(url, got, "a")
    b = await client(url, got, "b")
    assert await a.call("join", "r", timeout=5)
    sio.to("r").emit("tick", 1)  # builds the room's list: a
    sio.emit("tick", 2)  # and the list of everyone: a, b
    await settle(got, {("a", 1), ("a", 2), ("b", 2)})
    assert await b.call("join", "r", timeout=5)  # b joins: r's list must be rebuilt
    sio.to("r").emit("tick", 3)
    await settle(got, {("a", 3), ("b", 3)})
    assert await a.call("leave", "r", timeout=5)
    sio.to("r").emit("tick", 4)
    await settle(got, {("b", 4)})
    assert ("a", 4) not in got
    c = await client(url, got, "c")  # a new socket: everyone's list must be rebuilt
    sio.emit("tick", 5)
    await settle(got, {("a", 5), ("b", 5), ("c", 5)})
    await b.disconnect()  # b goes: r and everyone
    await asyncio.sleep(0.2)
    assert sio.to("r").emit("tick", 6) == 0
    assert sio.emit("tick", 7) == 2
    await settle(got, {("a", 7), ("c", 7)})
    assert ("b", 7) not in got and ("b", 6) not in got
    assert got.count(("a", 2)) == 1 and got.count(("b", 3)) == 1
    await a.disconnect()
    await c.disconnect()


async def test_join_in_connect_handler_while_room_is_broadcast(start_server: Any) -> None:
    """A socket joins in its connect handler, which broadcasts to that room before the socket
    is connected (fastsio runs the handler before the CONNECT reply, as python-socketio does;
    whether that one reaches the new socket is not the point here): the room's list is built
    then, without the new socket, and every broadcast after the connect must reach it."""
    sio = fastsio.Server()

    @sio.on("connect")
    def connect(socket: fastsio.Socket, auth: Any) -> None:
        socket.join("all")
        sio.to("all").emit("tick", "hello " + str(auth["name"]))

    url = await start_server(sio)
    got: list[Any] = []
    a = socketio.AsyncClient(reconnection=False)
    a.on("tick", lambda n: got.append(("a", n)))
    await a.connect(url, transports=["websocket"], auth={"name": "a"})
    b = socketio.AsyncClient(reconnection=False)
    b.on("tick", lambda n: got.append(("b", n)))
    await b.connect(url, transports=["websocket"], auth={"name": "b"})
    await settle(got, {("a", "hello b")})
    assert sio.to("all").emit("tick", "after") == 2
    await settle(got, {("a", "after"), ("b", "after")})
    await a.disconnect()
    await b.disconnect()


async def test_polling_client_upgrades_and_keeps_receiving(start_server: Any) -> None:
    """Broadcasts before, during and after a polling -> WebSocket upgrade all arrive, once, in
    order; after the upgrade the broadcast goes straight to the WebSocket connection."""
    sio = fastsio.Server()
    url = await start_server(sio)
    got: list[Any] = []
    a = await client(url, got, "a", transports=["polling", "websocket"])
    n = 0
    sid = a.get_sid("/")
    for _ in range(200):
        n += 1
        sio.emit("tick", n)
        await asyncio.sleep(0.01)
        sock = sio.of("/").sockets.get(sid)
        if sock is not None and sock.client.session.ws is not None and n > 5:
            break
    assert sio.of("/").sockets[sid].client.session.ws is not None, "the client did not upgrade"
    for _ in range(5):
        n += 1
        sio.emit("tick", n)
    await settle(got, {("a", i) for i in range(1, n + 1)})
    assert [x for _, x in got] == list(range(1, n + 1))
    targets = sio.of("/").adapter.cached_targets()
    assert targets == [sio.of("/").sockets[sid].client.session.ws]
    await a.disconnect()


class CountingRoom(str):
    """A room name that counts how often it is compared (``==``)."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountingRoom.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_joining_a_list_of_rooms_is_linear() -> None:
    """Verify one ``join`` of n rooms compares room names O(n) times, not O(n**2)
    (issue 13, A3: a 10,000-room join used to rebuild a tuple per room)."""
    from fastsio.adapters import MemoryAdapter

    sio = fastsio.Server()
    adapter = MemoryAdapter(sio.of("/"))
    n = 2000
    rooms = [CountingRoom(f"room-{i}") for i in range(n)]
    CountingRoom.comparisons = 0
    adapter.add_all("sid-1", rooms)
    assert adapter.socket_rooms("sid-1") == {"sid-1", *rooms}
    assert CountingRoom.comparisons < 10 * n


def test_sockets_of_one_room_share_its_membership_tuple() -> None:
    """Verify the sockets in one room and no other share one tuple of their rooms (and the
    room's name), and that a change to one socket's rooms leaves the others' alone."""
    from fastsio.adapters import MemoryAdapter

    sio = fastsio.Server()
    adapter = MemoryAdapter(sio.of("/"))
    for i in range(4):
        adapter.add_all(f"s{i}", [f"s{i}", "".join(["ro", "om"])])  # a new str each time
    assert adapter.sids["s1"] is adapter.sids["s0"] and adapter.sids["s3"] is adapter.sids["s0"]
    assert adapter.sids["s2"][0] is adapter.sids["s0"][0]
    adapter.add_all("s1", ["other"])
    adapter.delete("s2", "room")
    assert adapter.socket_rooms("s0") == {"s0", "room"}
    assert adapter.socket_rooms("s1") == {"s1", "room", "other"}
    assert adapter.socket_rooms("s2") == {"s2"}
    assert adapter.socket_rooms("s3") == {"s3", "room"}
    assert set(adapter.rooms["room"]) == {"s0", "s1", "s3"}
    # s0 first in the room is now in two: a newcomer gets a tuple of its own
    adapter.add_all("s0", ["other"])
    adapter.add_all("s4", ["room"])
    assert adapter.socket_rooms("s4") == {"s4", "room"}
    assert adapter.sids["s4"] is not adapter.sids["s0"]
    adapter.delete_all("s0")
    assert adapter.socket_rooms("s3") == {"s3", "room"} and set(adapter.rooms["room"]) == {"s1", "s3", "s4"}
