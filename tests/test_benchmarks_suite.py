"""The benchmark suite itself, run for real: its C load generator against a fastsio server
over loopback, and ``python -m benchmarks --quick`` end to end (tiny N, short phases).

These check that the suite works and what it reports, never how fast anything is.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fastsio
from benchmarks.runner import build_loadgen, c_compiler
from fastsio._speedups import NO_EXTENSIONS

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    c_compiler() is None, reason="the load generator is built with a C compiler"
)


@pytest.fixture(scope="module")
def loadgen() -> Path:
    return build_loadgen()


async def test_loadgen_connects_from_each_source_address(start_server: Any, loadgen: Path) -> None:
    """``--sources K``: connection i comes from the (i mod K)-th address after ``--source``,
    so no one address runs short of ephemeral ports at the fd limit."""
    sio = fastsio.Server()
    seen: collections.Counter[str] = collections.Counter()

    @sio.on("connect")
    def connect(socket: Any, auth: Any) -> None:
        seen[socket.handshake.address] += 1

    url = await start_server(sio)
    port = url.rsplit(":", 1)[1]
    proc = await asyncio.create_subprocess_exec(
        str(loadgen), "--mode", "connect", "--port", port, "--clients", "40",
        "--warmup-conns", "0", "--hold", "0.2", "--settle", "0",
        "--source", "127.88.0.5", "--sources", "4",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["ready"] == 40 and result["failed"] == 0
    assert seen == {f"127.88.0.{5 + k}": 10 for k in range(4)}


def test_loadgen_refuses_sources_outside_loopback(loadgen: Path) -> None:
    done = subprocess.run(
        [str(loadgen), "--mode", "connect", "--port", "1", "--source", "127.255.255.250", "--sources", "8"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "--sources" in done.stderr


def test_quick_suite_end_to_end(tmp_path: Path) -> None:
    """One command runs every scenario against fastsio (this run's twin) and the coalesced
    floor, and leaves the raw results, the report and the chart."""
    impl = "fastsio-pure" if NO_EXTENSIONS else "fastsio"
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--impls", f"{impl},floor-coalesce",
         "--n", "60", "--echo-clients", "20", "--churn-cycles", "2", "--churn-batch", "30",
         "--duration", "0.3", "--rounds", "2", "--no-pin", "--no-install", "--no-results-md",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    runs = [r for r in rows if r["type"] == "run"]
    assert {(r["scenario"], r["impl"]) for r in runs} == {
        (s, i) for s in ("connect", "fanout", "echo", "churn") for i in (impl, "floor-coalesce")
    }
    assert all(r["ok"] and r["error"] is None for r in runs), [r["error"] for r in runs]
    by = {(r["scenario"], r["impl"]): r["result"] for r in runs}
    assert by[("connect", impl)]["ready"] == 60 and by[("connect", impl)]["failed"] == 0
    assert by[("fanout", impl)]["deliveries_per_s"] > 0
    assert by[("echo", impl)]["acks_per_s"] > 0
    report = (out / "report.md").read_text()
    assert impl in report and "floor-coalesce" in report and "fan-out deliveries/s" in report
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
