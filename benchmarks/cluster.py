"""Cluster benchmarks: two nodes of one implementation on one redis-server (fastsio on
``RedisAdapter``, Node socket.io on ``@socket.io/redis-adapter`` 8.3), the load
generator's clients split across them (``loadgen --port2``: odd-numbered connections on
the second node; the control client, the first, on the first).

* **cluster fan-out** (issue 11, 10(a)): N clients, half on each node; the control client
  asks node A for ``burst(count, 100)``; node A fans each tick out to its clients and
  publishes it once, node B receives it from Redis and fans it out to its own.
  Deliveries/s to all N clients (the load generator's fan-out throughput phase), and
  p50/p99 of one broadcast reaching all N.
* ``fastsio-streams`` and ``node-socketio-streams``: the same two runs on the Redis
  Streams adapters (``RedisStreamsAdapter``, ``@socket.io/redis-streams-adapter`` 0.3;
  without connection state recovery): each broadcast is an XADD that the other node reads.
* **latency across Redis** (10(c)): 2 clients, one on each node: p50/p99 of one broadcast
  from node A reaching the client of node B (the slower of the two), against the same two
  clients on one node without an adapter.  The difference is what crossing Redis adds
  (publish, Redis, the other node's subscriber, its fan-out), as seen from a client.

The fastsio nodes of a cluster run with ``max_buffer_size`` = 256 MiB: the second node
learns of each broadcast after the first, and Node's socket.io, which buffers without
bound, would otherwise be compared with a fastsio that drops the lagging clients as slow
consumers (the default 1 MB).

    python -m benchmarks.cluster                         # fastsio and node-socketio, N = 1000, 10000
    python -m benchmarks.cluster --quick                 # N = 200, short phases
    python -m benchmarks.cluster --impls fastsio --clients 1000 --repeats 3
    python -m benchmarks.cluster --impls fastsio-streams,node-socketio-streams

Needs ``redis-server`` on the PATH (``make redis``), a C compiler (the load generator)
and, for node-socketio, Node.js and npm (``benchmarks/servers/node`` is npm-installed on
first use, with the Redis adapter).  Runs are unpinned (two servers, Redis and the load
generator share the machine's cores): compare implementations within one run.  Results go
to ``benchmarks/results/cluster-<time>/`` (``results.jsonl``, ``report.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from .runner import (
    IMPL_BY_NAME,
    RESULTS,
    Impl,
    Scenario,
    ServerProcess,
    base_env,
    build_loadgen,
    free_port,
    kill_group,
    prepare_node,
    run_loadgen,
    spawn,
    versions,
)

CLUSTER_IMPLS = ("fastsio", "fastsio-pure", "node-socketio", "fastsio-streams", "node-socketio-streams")


def cluster_impl(name: str) -> Impl:
    """The implementation ``name`` of :data:`CLUSTER_IMPLS` (``-streams``: on the Redis
    Streams adapter)."""
    base = name.removesuffix("-streams")
    impl = IMPL_BY_NAME[base]
    if base == name:
        return impl
    return replace(impl, name=name, args=(*impl.args, "--streams"))


@contextlib.contextmanager
def redis_server(log: Any) -> Iterator[str]:
    """A redis-server of its own on a free loopback port (no persistence); its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (make redis)")
    port = free_port()
    proc = spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                 Path.cwd(), base_env(), log, subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        kill_group(proc)


def node_impl(impl: Impl, redis_url: str | None, key: str) -> Impl:
    """``impl`` as a node of the cluster ``key`` on ``redis_url`` (None: on its own)."""
    if redis_url is None:
        return impl
    extra: tuple[str, ...] = ("--redis", redis_url, "--key", key)
    if impl.runtime == "python":
        # the second node lags behind the one that broadcasts (it is told later): with the
        # default 1 MB max_buffer_size its clients would be dropped as slow consumers,
        # where Node's socket.io buffers without bound
        extra += ("--max-buffer-size", str(256 * 1024 * 1024))
    return replace(impl, args=(*impl.args, *extra))


def fanout_scenario(n: int, port2: int | None, duration: float, rounds: int) -> Scenario:
    args = ["--clients", str(n), "--size", "100", "--rounds", str(rounds), "--latency-budget", "20",
            "--duration", str(duration), "--burst-budget-mb", "64", "--inflight", "200", "--settle", "0.5"]
    if port2 is not None:
        args += ["--port2", str(port2)]
    timeout = 60 + n / 100 + 20 + 30 + duration * 10 + 30
    return Scenario("fanout", n, f"fanout-{n}", tuple(args), timeout)


def run_one(impl: Impl, n: int, cluster: bool, redis_url: str, loadgen: Path, log: Any,
            duration: float, rounds: int) -> dict[str, Any]:
    """One load generator run against one node, or two nodes of a fresh cluster."""
    key = "bench" + uuid.uuid4().hex[:8]
    nodes = [ServerProcess(node_impl(impl, redis_url if cluster else None, key), log, None)
             for _ in range(2 if cluster else 1)]
    try:
        for node in nodes:
            node.start(60)
        port2 = nodes[1].port if cluster else None
        result = run_loadgen(loadgen, fanout_scenario(n, port2, duration, rounds), nodes[0].port, nodes[0].pid,
                             None)
    finally:
        for node in nodes:
            node.stop()
    data = result.data or {}
    return {
        "impl": impl.name,
        "n": n,
        "nodes": len(nodes),
        "error": result.error,
        "deliveries_per_s": data.get("deliveries_per_s"),
        "lat_p50_ms": data.get("lat_p50_ms"),
        "lat_p99_ms": data.get("lat_p99_ms"),
        "count": data.get("count"),
        "delivered": data.get("deliveries"),
        "expected": data.get("expected"),
        "result": data,
    }


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None and not r.get("error") and r[key] >= 0]
    return statistics.median(values) if values else None


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "failed"
    if value >= 100_000:
        return f"{value / 1e6:.2f} M{unit}"
    if value >= 1000:
        return f"{value / 1e3:.1f} k{unit}"
    return f"{value:.2f}{unit}"


def report(rows: list[dict[str, Any]], impls: list[str], clients: list[int], command: str) -> str:
    lines = [
        "# Cluster benchmarks (two nodes on one redis-server)",
        "",
        f"Command: `{command}`; {time.strftime('%Y-%m-%d %H:%M:%S')}; unpinned; medians over the repeats.",
        "",
        "## Cluster fan-out: N clients split over 2 nodes, broadcasts from node A",
        "",
        "| implementation | N | deliveries/s | one broadcast to all N, p50 | p99 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in impls:
        for n in clients:
            sel = [r for r in rows if r["impl"] == name and r["n"] == n and r["nodes"] == 2]
            lines.append(
                f"| {name} | {n:,} | {_fmt(_median(sel, 'deliveries_per_s'))} "
                f"| {_fmt(_median(sel, 'lat_p50_ms'), ' ms')} | {_fmt(_median(sel, 'lat_p99_ms'), ' ms')} |"
            )
    for ours, theirs in (("fastsio", "node-socketio"), ("fastsio-streams", "node-socketio-streams")):
        if ours not in impls or theirs not in impls:
            continue
        lines += ["", f"| N | {ours} / {theirs}, deliveries/s |", "| --- | --- |"]
        for n in clients:
            a = _median([r for r in rows if r["impl"] == ours and r["n"] == n and r["nodes"] == 2],
                        "deliveries_per_s")
            b = _median([r for r in rows if r["impl"] == theirs and r["n"] == n and r["nodes"] == 2],
                        "deliveries_per_s")
            lines.append(f"| {n:,} | {a / b:.2f}x |" if a and b else f"| {n:,} | n/a |")
    lines += [
        "",
        "## Latency a broadcast adds when it crosses Redis (2 clients)",
        "",
        "| implementation | one node, p50 | p99 | two nodes (client on B), p50 | p99 | added, p50 | added, p99 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in impls:
        one = [r for r in rows if r["impl"] == name and r["n"] == 2 and r["nodes"] == 1]
        two = [r for r in rows if r["impl"] == name and r["n"] == 2 and r["nodes"] == 2]
        p50a, p99a, p50b, p99b = (_median(one, "lat_p50_ms"), _median(one, "lat_p99_ms"),
                                  _median(two, "lat_p50_ms"), _median(two, "lat_p99_ms"))
        added50 = p50b - p50a if p50a is not None and p50b is not None else None
        added99 = p99b - p99a if p99a is not None and p99b is not None else None
        lines.append(
            f"| {name} | {_fmt(p50a, ' ms')} | {_fmt(p99a, ' ms')} | {_fmt(p50b, ' ms')} | {_fmt(p99b, ' ms')} "
            f"| {_fmt(added50, ' ms')} | {_fmt(added99, ' ms')} |"
        )
    errors = [r for r in rows if r.get("error")]
    if errors:
        lines += ["", "Failed runs:", ""]
        lines += [f"- {r['impl']} N={r['n']} nodes={r['nodes']}: {r['error']}" for r in errors]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impls", default="fastsio,node-socketio", help=f"of {', '.join(CLUSTER_IMPLS)}")
    parser.add_argument("--clients", default="1000,10000", help="N of the fan-out runs (comma-separated)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0, help="fan-out throughput phase, seconds")
    parser.add_argument("--latency-rounds", type=int, default=200, help="broadcasts timed in the latency runs")
    parser.add_argument("--quick", action="store_true", help="N=200, 2 s phases, 50 latency rounds")
    args = parser.parse_args(argv)
    impls = [name.strip() for name in args.impls.split(",") if name.strip()]
    for name in impls:
        if name not in CLUSTER_IMPLS:
            parser.error(f"unknown implementation {name!r}: {', '.join(CLUSTER_IMPLS)}")
    clients = [200] if args.quick else [int(n) for n in args.clients.split(",")]
    duration = 2.0 if args.quick else args.duration
    latency_rounds = 50 if args.quick else args.latency_rounds
    out_dir = RESULTS / time.strftime("cluster-%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "logs").mkdir()
    command = " ".join(["python -m benchmarks.cluster", *(argv if argv is not None else sys.argv[1:])])
    loadgen = build_loadgen()
    rows: list[dict[str, Any]] = []
    with open(out_dir / "logs" / "servers.log", "w") as log, redis_server(log) as redis_url:
        node_impls = [name for name in impls if name.startswith("node-")]
        if node_impls:
            why = prepare_node(log)
            if why is not None:
                print(f"{', '.join(node_impls)} skipped: {why}", file=sys.stderr)
                impls = [name for name in impls if name not in node_impls]
        plan = [(n, True) for n in clients] + [(2, False), (2, True)]
        for repeat in range(args.repeats):
            order = impls[repeat % len(impls):] + impls[: repeat % len(impls)]
            for n, cluster in plan:
                for name in order:
                    impl = cluster_impl(name)
                    rounds = latency_rounds if n == 2 else 20
                    row = run_one(impl, n, cluster, redis_url, loadgen, log, duration, rounds)
                    row["repeat"] = repeat
                    rows.append(row)
                    print(f"{name:14s} N={n:<6d} nodes={row['nodes']} deliveries/s={_fmt(row['deliveries_per_s'])}"
                          f" p50={_fmt(row['lat_p50_ms'], ' ms')} p99={_fmt(row['lat_p99_ms'], ' ms')}"
                          + (f" ERROR {row['error']}" if row["error"] else ""), flush=True)
    with open(out_dir / "results.jsonl", "w") as f:
        f.write(json.dumps({"meta": {"command": command, "versions": versions(), "clients": clients,
                                     "duration": duration, "latency_rounds": latency_rounds}}) + "\n")
        for row in rows:
            f.write(json.dumps({"run": row}) + "\n")
    text = report(rows, impls, clients, command)
    (out_dir / "report.md").write_text(text)
    print(text)
    print(f"results: {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
