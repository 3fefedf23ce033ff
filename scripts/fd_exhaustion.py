"""Diagnostic: the server's memory after file-descriptor exhaustion attacks (by hand).

``python scripts/fd_exhaustion.py [--rounds 4] [--nofile 8192] [--shape websocket|idle] [--pure]``

Starts the soak's server (``scripts/soak.py server``) with its open-files limit set to
``--nofile``, then, each round, opens connections from this process until the server
can no longer accept (its ``accept`` fails with EMFILE: connections stay in the
kernel's backlog or time out), holds them, releases them all, and waits for the
server to settle.  Per round it prints the server's RSS before, at the peak and after,
its open fds, its Python objects and allocated blocks after a full collection, and its
RSS after glibc's ``malloc_trim`` (called inside the server as a diagnostic: the
library never calls it).  A leak shows as objects/blocks or trimmed RSS growing round
after round; memory that glibc keeps for reuse shows as an RSS that stays up but does
not grow, and that malloc_trim gives back.

``--shape websocket`` (default): every connection completes a Socket.IO connection
over WebSocket; ``idle``: TCP connections that send nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak  # noqa: E402  (the soak's clients and server)


async def attack(port: int, shape: str, most: int) -> tuple[list[Any], int]:
    """Open connections until ``most`` or until the server stops accepting; the
    connections held and how many attempts failed."""
    held: list[Any] = []
    failed = 0
    stats: dict[str, int] = {"q_answered": 0, "broadcasts_received": 0}

    async def one() -> Any:
        if shape == "idle":
            return await asyncio.wait_for(soak.Raw.open(port), 2)
        client = soak.WSClient(stats, deflate=False)
        try:
            await asyncio.wait_for(client.open(port, {"bad": 1}), 3)
        except BaseException:
            release([client])  # a connection made but not upgraded in time is dropped too
            raise
        return client

    batch = 200
    while len(held) < most and failed < 2 * batch:
        results = await asyncio.gather(*(one() for _ in range(batch)), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                failed += 1
            else:
                held.append(r)
    return held, failed


def release(held: list[Any]) -> None:
    """Drop every connection held."""
    for conn in held:
        if isinstance(conn, soak.Raw):
            conn.abort()
        elif conn.conn is not None:
            conn.conn.abort()
            if conn.reader is not None:
                conn.reader.cancel()


async def main(args: argparse.Namespace) -> None:
    env = dict(os.environ)
    env.pop("FASTSIO_NO_EXTENSIONS", None)
    if args.pure:
        env["FASTSIO_NO_EXTENSIONS"] = "1"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))

    server = subprocess.Popen(
        [sys.executable, str(Path(soak.__file__)), "server"], stdout=subprocess.PIPE, env=env, preexec_fn=limit
    )
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    try:
        cold = soak.proc_figures(server.pid)
        first = await soak.server_diag(port, "trim")
        print(f"cold: RSS {cold[0] / 1e6:.1f} MB, {cold[1]} fds; objects {first['objects']}, "
              f"blocks {first['blocks']}, RSS after malloc_trim {first['rss_after_malloc_trim'] / 1e6:.1f} MB")
        for rnd in range(1, args.rounds + 1):
            before = soak.proc_figures(server.pid)
            t0 = time.monotonic()
            held, failed = await attack(port, args.shape, args.nofile + 1000)
            peak = soak.proc_figures(server.pid)
            release(held)
            # the server notices the closes, and the backlog drains into closed sockets
            for _ in range(60):
                await asyncio.sleep(1)
                if soak.proc_figures(server.pid)[1] <= before[1] + 2:
                    break
            await asyncio.sleep(soak.PING_INTERVAL + soak.PING_TIMEOUT + 1)
            after = soak.proc_figures(server.pid)
            diag = await soak.server_diag(port, "arenas")
            trimmed = await soak.server_diag(port, "trim")
            print(
                f"round {rnd}: {len(held)} connections held ({failed} refused or timed out) in "
                f"{time.monotonic() - t0:.0f} s; RSS before {before[0] / 1e6:.1f} MB, peak {peak[0] / 1e6:.1f} MB, "
                f"after {after[0] / 1e6:.1f} MB; fds before {before[1]}, peak {peak[1]}, after {after[1]}; "
                f"objects {diag['objects']}, blocks {diag['blocks']}; pymalloc: "
                + ", ".join(f"{k} {v}" for k, v in diag.items() if "arena" in k or "bytes in" in k)
                + "; "
                f"RSS after malloc_trim {trimmed['rss_after_malloc_trim'] / 1e6:.1f} MB",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--nofile", type=int, default=8192, help="the server's open-files limit (8192)")
    parser.add_argument("--shape", choices=("websocket", "idle"), default="websocket")
    parser.add_argument("--pure", action="store_true")
    ns = parser.parse_args()
    if ns.nofile + 1200 > resource.getrlimit(resource.RLIMIT_NOFILE)[0]:
        parser.error("--nofile must leave this process room for as many connections")
    import uvloop

    uvloop.run(main(ns))
