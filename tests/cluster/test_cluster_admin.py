"""The Admin UI across a cluster: two fastsio nodes on ``RedisAdapter`` (one real
redis-server), each instrumented with its own ``server_id``; the admin, python-socketio on
one node, sees both nodes' ``server_stats``, the other node's sockets in ``all_sockets``
(``fetch_sockets``), its connections and events as they happen (the admin namespace's
broadcasts cross Redis, as in Node), and acts on its sockets (join, disconnect)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio as psio

import fastsio

pytestmark = [pytest.mark.redis]

LOGIN = {"username": "admin", "password": "cluster secret"}


async def until(events: list[tuple[str, Any]], check: Any, what: str) -> Any:
    for _ in range(1000):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {what}: {[e for e, _ in events]}")


async def test_admin_ui_across_a_cluster(fastsio_node: Any) -> None:
    """Verify stats, sockets, reports and actions across two nodes."""
    nodes: dict[str, tuple[fastsio.Server, str]] = {}
    for name in ("node-a", "node-b"):
        server, url = await fastsio_node(namespaces=("/admin",))
        server.on("connect", lambda sock, auth: sock.join("lobby"))
        server.on("hello", lambda sock, *args: "acked")
        server.instrument(auth=LOGIN, server_id=name, server_stats_interval=0.2)
        nodes[name] = (server, url)
    (a, url_a), (b, url_b) = nodes["node-a"], nodes["node-b"]

    early = psio.AsyncClient(reconnection=False)  # on node b before any admin
    await early.connect(url_b, transports=["websocket"], wait_timeout=5)
    early_sid = early.get_sid("/")
    events: list[tuple[str, Any]] = []
    admin = psio.AsyncClient(reconnection=False)
    admin.on("*", lambda event, *args: events.append((event, args)), namespace="/admin")
    await admin.connect(url_a, namespaces=["/admin"], auth=LOGIN, transports=["websocket"], wait_timeout=5)

    def of(name: str) -> list[Any]:
        return [args for event, args in events if event == name]

    [(sockets,)] = await until(events, lambda: of("all_sockets"), "all_sockets")
    remote = [s for s in sockets if s["id"] == early_sid]
    assert remote and remote[0]["nsp"] == "/" and sorted(remote[0]["rooms"]) == sorted([early_sid, "lobby"])
    assert "auth" not in remote[0]["handshake"]
    # both nodes' stats reach the admin on node a
    await until(events, lambda: {s[0]["serverId"] for s in of("server_stats")} >= {"node-a", "node-b"}, "stats")

    late = psio.AsyncClient(reconnection=False)
    disconnected = asyncio.Event()
    late.on("disconnect", lambda *args: disconnected.set())
    await late.connect(url_b, transports=["websocket"], wait_timeout=5)
    late_sid = late.get_sid("/")
    await until(events, lambda: [c for c in of("socket_connected") if c[0]["id"] == late_sid], "socket_connected")
    assert await late.call("hello", "from b", timeout=5) == "acked"
    await until(events, lambda: [r for r in of("event_received") if r[:3] == ("/", late_sid, ["hello", "from b"])],
                "event_received")
    # the admin's actions reach node b's socket
    await admin.emit("join", ("/", "vip", late_sid), namespace="/admin")
    await until(events, lambda: [j for j in of("room_joined") if j[:3] == ("/", "vip", late_sid)], "room_joined")
    assert b.sockets.sockets[late_sid].rooms == {late_sid, "lobby", "vip"}
    await admin.emit("_disconnect", ("/", False, late_sid), namespace="/admin")
    await asyncio.wait_for(disconnected.wait(), 5)
    gone = await until(events, lambda: [d for d in of("socket_disconnected") if d[1] == late_sid], "socket_disconnected")
    assert gone[0][:3] == ("/", late_sid, "server namespace disconnect")
    await early.disconnect()
    await admin.disconnect()
