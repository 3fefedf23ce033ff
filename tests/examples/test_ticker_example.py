"""examples/ticker: subscribe, ticks to subscribed symbols only, in order, unsubscribe, the
bounded subscription list, and the snapshot; python-socketio clients over both transports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

ticker_app = pytest.importorskip("examples.ticker.app", reason="the examples live in the source tree, not in the wheel")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_ticker(start_server: Any, transport: str) -> None:
    """Verify a client gets the ticks of what it subscribed to, and only those."""
    sio, ticker = ticker_app.create_app(symbols=5, rate=50)
    url = await start_server(sio)
    ticker.start()
    client = socketio.AsyncClient(reconnection=False)
    ticks: asyncio.Queue[Any] = asyncio.Queue()
    client.on("tick", lambda symbol, price, seq: ticks.put_nowait((symbol, price, seq)))
    try:
        await client.connect(url, transports=[transport])
        got = await client.call("subscribe", ["SYM001", "SYM003", "NOPE", 7], timeout=5)
        assert got == ["SYM001", "SYM003"]
        seen: dict[str, list[int]] = {"SYM001": [], "SYM003": []}
        while min(len(v) for v in seen.values()) < 5:
            symbol, price, seq = await asyncio.wait_for(ticks.get(), 5)
            assert symbol in seen and isinstance(price, float) and price > 0
            seen[symbol].append(seq)
        for seqs in seen.values():
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        snapshot = await client.call("snapshot", timeout=5)
        assert sorted(snapshot) == [f"SYM{i:03d}" for i in range(5)]
        await client.emit("unsubscribe", (["SYM001", "SYM003"],))
        # once the unsubscribe is through (an ack after it, in order), no more ticks arrive
        await client.call("snapshot", timeout=5)
        seq_then = ticker.seq
        while not ticks.empty():
            assert ticks.get_nowait()[2] <= seq_then
        while ticker.seq < seq_then + 3:
            await asyncio.sleep(0.02)
        assert ticks.empty()
    finally:
        ticker.stop()
        await client.disconnect()


async def test_subscription_list_is_bounded(start_server: Any) -> None:
    """Verify a client-supplied list is cut at MAX_SYMBOLS and anything but a list is ignored."""
    sio, _ = ticker_app.create_app(symbols=ticker_app.MAX_SYMBOLS + 50, rate=1)
    url = await start_server(sio)
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(url, transports=["websocket"])
        everything = [f"SYM{i:03d}" for i in range(ticker_app.MAX_SYMBOLS + 50)]
        assert await client.call("subscribe", everything, timeout=5) == everything[: ticker_app.MAX_SYMBOLS]
        assert await client.call("subscribe", "SYM001", timeout=5) == []
    finally:
        await client.disconnect()
