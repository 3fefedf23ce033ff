"""Hostile dynamic namespaces: a client creating thousands of child namespaces through
a regex parent (``sio.of(re.compile(r"^/dyn-\\d+$"))``).

Each CONNECT to a new matching name creates a child namespace (with its adapter) and
a socket.  What must hold: the children go away when their last socket leaves (with
``cleanup_empty_child_namespaces``), refused and abandoned CONNECTs leave nothing
behind, and what one client can make the server keep is bounded
(``max_namespaces_per_connection``, ``max_child_namespaces``; the tests of the cleanup
lift the first, to flood one connection with CONNECTs).  The bystander's
acked messages keep flowing throughout.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from _hostile import Bystander, WSConn, assert_logged, eio_ws, sio_reply

N = 1000


async def flood_connects(url: str, names: list[str], auth: str = "") -> tuple[WSConn, list[str]]:
    """CONNECT to every name on one connection (all sent at once); return the
    connection and the replies."""
    ws, _ = await eio_ws(url)
    await ws.send(b"".join(_text(f"40{n},{auth}") for n in names))
    replies = []
    while len(replies) < len(names):
        msg = await sio_reply(ws)
        assert isinstance(msg, str)
        replies.append(msg)
    return ws, replies


def _text(s: str) -> bytes:
    from _hostile import text

    return text(s)


async def wait_for(cond: Any, what: str) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


def children(app: Any) -> int:
    return sum(1 for name in app.namespaces if re.fullmatch(r"/dyn-\d+", name))


async def test_children_go_away_with_their_last_socket(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify, with ``cleanup_empty_child_namespaces``, N children made by one client
    are all gone once it disconnects, and a bystander lost nothing meanwhile."""
    served = await serve(cleanup_empty_child_namespaces=True, max_namespaces_per_connection=0)
    bystander = await Bystander(served.url).start()
    ws, replies = await flood_connects(served.url, [f"/dyn-{i}" for i in range(N)])
    assert all(r.startswith(f"0/dyn-{i},") for i, r in enumerate(replies))
    assert children(served.app) == N
    ws.close()
    await wait_for(lambda: children(served.app) == 0, "children left behind")
    await bystander.stop()


async def test_refused_connects_leave_no_children(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify CONNECTs refused by the parent's middleware leave no child namespace
    behind (with ``cleanup_empty_child_namespaces``)."""
    served = await serve(cleanup_empty_child_namespaces=True, max_namespaces_per_connection=0)
    dyn = next(p for p in served.app.parents if getattr(p.matcher, "pattern", "") == r"^/dyn-\d+$")

    @dyn.use
    def refuse(sock: Any, auth: Any) -> None:
        raise fastsio_refused("no")

    bystander = await Bystander(served.url).start()
    ws, replies = await flood_connects(served.url, [f"/dyn-{i}" for i in range(N)])
    try:
        assert all(r == f'4/dyn-{i},{{"message":"no"}}' for i, r in enumerate(replies)), replies[:3]
        assert children(served.app) == 0
    finally:
        ws.close()
    await bystander.stop()


async def test_abandoned_async_connects_leave_no_children(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify children whose (async) connect handler was still running when the client
    went away are removed too."""
    served = await serve(cleanup_empty_child_namespaces=True, max_namespaces_per_connection=0)
    dyn = next(p for p in served.app.parents if getattr(p.matcher, "pattern", "") == r"^/dyn-\d+$")
    release = asyncio.Event()

    @dyn.on("connect")
    async def slow(sock: Any, auth: Any) -> None:
        await release.wait()

    ws, _ = await eio_ws(served.url)
    await ws.send(b"".join(_text(f"40/dyn-{i},") for i in range(200)))
    await wait_for(lambda: children(served.app) == 200, "children not created")
    ws.close()
    await wait_for(lambda: not served.app.engine.sessions, "session not closed")
    release.set()
    await wait_for(lambda: children(served.app) == 0, "abandoned children left behind")


def fastsio_refused(message: str) -> Exception:
    import fastsio

    return fastsio.ConnectionRefused(message)


async def test_children_bounded_by_default(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify that with the default options, children made by clients that left do not
    accumulate: after three clients made N each and left, fewer than N remain."""
    served = await serve()
    for round_ in range(3):
        ws, _ = await flood_connects(served.url, [f"/dyn-{round_ * N + i}" for i in range(N)])
        ws.close()
    await wait_for(lambda: not served.app.engine.sessions, "sessions not closed")
    assert children(served.app) < N


async def test_namespaces_per_connection_bounded(serve: Any, logs: pytest.LogCaptureFixture) -> None:
    """Verify one connection cannot join N namespaces: some CONNECTs are refused
    (CONNECT_ERROR), and a log line says why."""
    served = await serve(cleanup_empty_child_namespaces=True)
    ws, replies = await flood_connects(served.url, [f"/dyn-{i}" for i in range(N)])
    ws.close()
    assert any(r.startswith("4/dyn-") for r in replies)
    assert_logged(logs, "namespaces")
