"""A high-fanout ticker: prices of a few symbols, pushed to every client that subscribed.

    python -m examples.ticker.app --port 8000 --symbols 50 --rate 20

Each symbol is a room. A client ``subscribe``s to a list of symbols (the ack is the list it
got, at most ``MAX_SYMBOLS``) and ``unsubscribe``s; every ``1/rate`` seconds each symbol's new
price goes to its room as ``tick`` (symbol, price, sequence number), one encode per symbol
whatever the number of subscribers, and ``snapshot`` answers with the last prices.

A ticker's next packet replaces its last, so the server runs with ``slow_consumer="drop"``: a
client that cannot keep up misses ticks (it sees the gap in the sequence numbers) rather than
being disconnected, while the heartbeat still closes one that stopped reading altogether.
The ticks are not volatile broadcasts (``sio.volatile``): a long-polling client can take a
volatile packet only while its GET is waiting, so of a burst of ticks it would get the first
one only (Node's ``io.volatile`` does the same).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
from typing import Any

import fastsio

#: the most symbols one client may subscribe to (client-supplied lists are bounded)
MAX_SYMBOLS = 100


class Ticker:
    """The prices and the task that moves them and broadcasts them."""

    def __init__(self, sio: fastsio.Server, symbols: int = 50, rate: float = 20.0, seed: int = 1) -> None:
        self.sio = sio
        self.rate = rate
        self.random = random.Random(seed)
        self.prices = {f"SYM{i:03d}": 100.0 for i in range(symbols)}
        self.seq = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking (in the running loop)."""
        self.task = asyncio.get_running_loop().create_task(self.run())

    def stop(self) -> None:
        """Stop ticking."""
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def tick(self) -> None:
        """Move every price once and send each to its room."""
        self.seq += 1
        for symbol, price in self.prices.items():
            price = round(max(0.01, price * (1 + self.random.gauss(0, 0.001))), 2)
            self.prices[symbol] = price
            self.sio.to(symbol).emit("tick", symbol, price, self.seq)

    async def run(self) -> None:
        """Tick ``rate`` times a second until cancelled."""
        while True:
            self.tick()
            await asyncio.sleep(1 / self.rate)


def create_app(symbols: int = 50, rate: float = 20.0, **options: Any) -> tuple[fastsio.Server, Ticker]:
    """Make the server and its ticker (``ticker.start()`` once the server runs)."""
    options.setdefault("slow_consumer", "drop")
    options.setdefault("cors_allowed_origins", "*")
    sio = fastsio.Server(**options)
    ticker = Ticker(sio, symbols, rate)

    @sio.on("subscribe")
    def subscribe(socket: fastsio.Socket, symbols: Any) -> list[str]:
        if not isinstance(symbols, list):
            return []
        wanted = [s for s in symbols[:MAX_SYMBOLS] if isinstance(s, str) and s in ticker.prices]
        socket.join(wanted)
        return wanted

    @sio.on("unsubscribe")
    def unsubscribe(socket: fastsio.Socket, symbols: Any) -> None:
        for symbol in symbols if isinstance(symbols, list) else ():
            if isinstance(symbol, str) and symbol in ticker.prices:
                socket.leave(symbol)

    @sio.on("snapshot")
    def snapshot(socket: fastsio.Socket) -> dict[str, float]:
        return dict(ticker.prices)

    return sio, ticker


def main() -> None:
    """Serve the ticker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="ticks per second per symbol")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.symbols, args.rate))


async def serve(host: str, port: int, symbols: int, rate: float) -> None:
    """Start the server and the ticker; stop both on Ctrl-C or SIGTERM."""
    sio, ticker = create_app(symbols, rate)
    await sio.start(host, port)
    ticker.start()
    print(f"ticker: {symbols} symbols, {rate:g} ticks/s, on http://{host}:{port}/socket.io/", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        ticker.stop()
        await sio.stop()


if __name__ == "__main__":
    main()
