"""Held connections across workers (issue 11, 10(b)): ``sio.run(workers=W)`` holding more
WebSocket connections than one process may have files open, each answering pings, and
the memory each costs.

One process may hold at most ~19,900 connections here (the hard limit of 20,000 open
files per process).  This starts a fastsio server with ``workers=W`` (default 4: the
supervisor and W forked workers on one port, the local worker adapter between them),
with a short ping interval so that pings happen while the connections are held, then P
load generator processes (``benchmarks/loadgen``, connect mode: each opens its share of
the N connections, from 8 fresh loopback source addresses of its own, answers every
Engine.IO ping, and holds them for ``--hold`` seconds).

Measured:

* ``held``: connections established on the server's port at the same time (counted in
  ``/proc/net/tcp``, server side), and each load generator's ``ready`` count;
* ``pings per connection`` during each generator's hold, and connections the server
  closed during the hold (a connection that stopped answering pings would be closed at
  ``ping_interval + ping_timeout``);
* ``memory per connection``: the sum of the workers' RSS once all N are held, minus the
  sum before the first connection, divided by N;
* the per-worker split (connections and RSS per worker).

    python -m benchmarks.workers                        # 50,000 connections, 4 workers, 4 generators
    python -m benchmarks.workers --clients 60000 --generators 5
    python -m benchmarks.workers --quick                # 2,000 connections, short hold

Unpinned: the server's workers and the generators share the machine's cores, so the
connect rate is indicative only; the count held, the pings answered and the memory per
connection are the figures.  Results are appended to
``benchmarks/results/workers-<time>/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .runner import RESULTS, ROOT, build_loadgen, next_source_address, raise_nofile_limit

SERVER = """
import sys
import fastsio

interval, timeout, workers = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sio = fastsio.Server(ping_interval=interval, ping_timeout=timeout, transports=["websocket"])

@sio.on("connect")
def connect(sock, auth):
    pass

sio.run("127.0.0.1", 0, workers=workers)
"""


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` (kB; 0 when gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (the workers of the supervisor)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry))
    return sorted(found)


# the server's address in /proc/net/tcp (127.0.0.1, little-endian hex); the generators
# connect from other loopback addresses, whose ephemeral ports may equal the server's
_LOCAL = "0100007F"


def _established_inodes(port: int) -> set[str]:
    """The socket inodes of the TCP connections established on the server's side of
    127.0.0.1:``port`` (by inode: a large table read while it changes may show an entry
    twice)."""
    local = f"{_LOCAL}:{port:04X}"
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == local and fields[3] == "01":
                inodes.add(fields[9])
    return inodes


def established(port: int) -> int:
    """TCP connections established on the server's side of 127.0.0.1:``port``."""
    return len(_established_inodes(port))


def per_worker(port: int, workers: list[int]) -> dict[int, int]:
    """Connections per worker: its socket inodes that are established on ``port``."""
    inodes = _established_inodes(port)
    split = {}
    for pid in workers:
        n = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    n += 1
        except OSError:
            pass
        split[pid] = n
    return split


class Server:
    """The supervisor of ``sio.run(workers=W)`` and its stderr."""

    def __init__(self, workers: int, interval: float, timeout: float, log: Any) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(interval), str(timeout), str(workers)],
            stderr=subprocess.PIPE, stdout=log, text=True, env=env, cwd=str(ROOT),
        )
        self.lines: list[str] = []
        self.log = log
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 60
        with self.cond:
            while not (self._port() and sum(line.count("listening on") for line in self.lines) >= workers):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit(f"the server did not start: {self.lines}")
                self.cond.wait(0.5)
        self.port = self._port()
        self.workers = children(self.proc.pid)

    def _port(self) -> int:
        for line in self.lines:
            m = re.search(r"workers on 127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        return 0

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.write(line)
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def rss(self) -> int:
        return sum(rss_kb(pid) for pid in self.workers)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile_limit()
    loadgen = build_loadgen()
    out = RESULTS / f"workers-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "server.log", "w") as log:
        server = Server(args.workers, args.ping_interval, args.ping_timeout, log)
        try:
            time.sleep(1.0)
            baseline = server.rss()
            shares = [args.clients // args.generators + (1 if i < args.clients % args.generators else 0)
                      for i in range(args.generators)]
            gens = []
            started = time.monotonic()
            for share in shares:
                argv = [str(loadgen), "--mode", "connect", "--port", str(server.port), "--clients", str(share),
                        "--inflight", str(args.inflight), "--warmup-conns", "0", "--hold", str(args.hold),
                        "--settle", "1", "--timeout", str(args.timeout), "--source", next_source_address(),
                        "--sources", "8"]
                gens.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            peak = 0
            held_at = None
            rss_held = 0
            split: dict[int, int] = {}
            rss_split: dict[int, int] = {}
            while any(g.poll() is None for g in gens):
                n = established(server.port)
                if n > peak:
                    peak = n
                if held_at is None and n >= args.clients:
                    held_at = time.monotonic() - started
                    time.sleep(2.0)  # the last handshakes' objects settle
                    rss_held = server.rss()
                    split = per_worker(server.port, server.workers)
                    rss_split = {pid: rss_kb(pid) for pid in server.workers}
                    peak = max(peak, established(server.port))
                time.sleep(1.0)
            reports = []
            for g in gens:
                stdout, stderr = g.communicate()
                line = stdout.strip().splitlines()[-1] if stdout.strip() else "{}"
                try:
                    reports.append(json.loads(line))
                except ValueError:
                    reports.append({"ok": False, "error": stderr[-500:]})
            rss_end = server.rss()
        finally:
            status = server.stop()
    ready = sum(int(r.get("ready", 0)) for r in reports)
    pings = sum(int(r.get("hold_pings", 0)) for r in reports)
    closed = sum(int(r.get("closed_during_hold", 0)) for r in reports)
    result = {
        "bench": "workers-held",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "workers": args.workers,
        "generators": args.generators,
        "clients": args.clients,
        "ping_interval_s": args.ping_interval,
        "ping_timeout_s": args.ping_timeout,
        "hold_s": args.hold,
        "ready": ready,
        "peak_established": peak,
        "all_held_after_s": None if held_at is None else round(held_at, 1),
        "hold_pings": pings,
        "pings_per_connection": round(pings / ready, 2) if ready else None,
        "closed_during_hold": closed,
        "rss_baseline_kb": baseline,
        "rss_held_kb": rss_held,
        "rss_end_kb": rss_end,
        "kb_per_connection": round((rss_held - baseline) / ready, 2) if ready and rss_held else None,
        "per_worker_connections": list(split.values()),
        "per_worker_rss_kb": list(rss_split.values()),
        "generators_ok": all(r.get("ok") for r in reports),
        "server_exit": status,
        "build": "pure" if os.environ.get("FASTSIO_NO_EXTENSIONS") else "compiled",
        "nofile_limit": raise_nofile_limit()[1],
        "reports": reports,
    }
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")
    result["results_dir"] = str(out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50_000, help="connections to hold in all (50000)")
    parser.add_argument("--workers", type=int, default=4, help="server workers (4)")
    parser.add_argument("--generators", type=int, default=4, help="load generator processes (4)")
    parser.add_argument("--hold", type=float, default=40.0, help="seconds each generator holds its connections (40)")
    parser.add_argument("--ping-interval", type=float, default=5.0, help="the server's ping_interval (5 s)")
    parser.add_argument("--ping-timeout", type=float, default=20.0, help="the server's ping_timeout (20 s)")
    parser.add_argument("--inflight", type=int, default=200, help="handshakes in flight per generator (200)")
    parser.add_argument("--timeout", type=float, default=300.0, help="a generator's hard limit (300 s)")
    parser.add_argument("--quick", action="store_true", help="2,000 connections, 2 generators, 12 s hold")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.generators, args.hold, args.ping_interval = 2000, 2, 12.0, 2.0
    result = run(args)
    summary = {k: v for k, v in result.items() if k != "reports"}
    print(json.dumps(summary, indent=1))
    ok = result["ready"] == args.clients and result["closed_during_hold"] == 0 and result["generators_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
