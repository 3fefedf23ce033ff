"""The benchmark suite itself, run for real: its C load generator against a fastsio server
over loopback, and ``python -m benchmarks --quick`` end to end (tiny N, short phases).

These check that the suite works and what it reports, never how fast anything is.
"""

from __future__ import annotations

import asyncio
import collections
import json
import shutil
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
    """One command runs the WebSocket scenarios against fastsio (this run's twin) and the
    coalesced floor, and leaves the raw results, the report and the chart."""
    impl = "fastsio-pure" if NO_EXTENSIONS else "fastsio"
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--impls", f"{impl},floor-coalesce",
         "--scenarios", "connect,fanout,echo,churn", "--n", "60", "--echo-clients", "20", "--churn-cycles", "2", "--churn-batch", "30",
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


NEW_SCENARIOS = (
    "polling-fanout", "polling-connect", "upgrade-connect", "rooms", "payload", "msgpack",
    "echo-under-fanout", "tls-fanout",
)  # fmt: skip


def test_quick_suite_runs_the_second_round_scenarios(tmp_path: Path) -> None:
    """Long-polling, upgrade, rooms, binary payloads, msgpack, echo under a fan-out and TLS, each
    against fastsio (this run's twin) and, where it speaks it, the coalesced floor (no polling,
    no msgpack there); every delivery counted, the targets printed measured / target / result."""
    impl = "fastsio-pure" if NO_EXTENSIONS else "fastsio"
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--impls", f"{impl},floor-coalesce",
         "--scenarios", ",".join(NEW_SCENARIOS), "--n", "30", "--echo-clients", "10",
         "--duration", "0.3", "--rounds", "2", "--no-pin", "--no-install", "--no-results-md",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    meta, runs = rows[0], [r for r in rows if r["type"] == "run"]
    tls_ran = "tls-fanout-30" not in meta["not_run"]  # no openssl or libssl-dev: said so, not run
    floor_kinds = {"rooms", "payload", "echo-under-fanout", *(["tls-fanout"] if tls_ran else [])}
    wanted = {(k, impl) for k in NEW_SCENARIOS if tls_ran or k != "tls-fanout"}
    wanted |= {(k, "floor-coalesce") for k in floor_kinds}
    assert {(r["scenario"], r["impl"]) for r in runs} == wanted
    assert all(r["ok"] and r["error"] is None for r in runs), [(r["label"], r["impl"], r["error"]) for r in runs]
    by = {(r["label"], r["impl"]): r["result"] for r in runs}
    polling = by[("polling-fanout-30", impl)]
    assert polling["deliveries"] == polling["expected"] > 0 and polling["polls"] > 0
    for label in ("polling-connect-30", "upgrade-connect-30"):
        assert by[(label, impl)]["ready"] == 30 and by[(label, impl)]["failed"] == 0
    rooms = by[("rooms-30", impl)]
    assert rooms["per_emit"] == 10 and rooms["deliveries"] == rooms["expected"] > 0
    for size in (16, 64):
        payload = by[(f"payload-{size}k", impl)]
        assert payload["delivered_bytes"] == payload["deliveries"] * size * 1024 > 0
    assert by[("msgpack-30", impl)]["deliveries"] == by[("msgpack-30", impl)]["expected"] > 0
    euf = by[("echo-under-fanout-30", impl)]
    assert euf["acks"] > 0 and euf["bad_acks"] == 0 and euf["receivers"] == 30 and euf["count"] == 1
    if tls_ran:
        assert by[("tls-fanout-30", impl)]["deliveries"] == by[("tls-fanout-30", impl)]["expected"] > 0
    report = (out / "report.md").read_text()
    assert "polling fan-out deliveries/s" in report and "bytes/s" in report
    if impl == "fastsio":  # the targets are the compiled twin's (the pure one's: against python-socketio)
        assert "## Targets (issue 14)" in report and "| target | measured | target | result |" in report
        assert "payload bytes/s (payload-64k)" in report


def _node_server_installed() -> bool:
    from benchmarks.runner import NODE_DIR

    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "@trufflesuite").is_dir()


needs_node_server = pytest.mark.skipif(
    not _node_server_installed(),
    reason="benchmarks/servers/node is installed by the suite on first use (npm ci), or node is missing",
)


@needs_node_server
def test_node_uws_server_serves_and_fails_loudly_without_its_binary(tmp_path: Path) -> None:
    """node-socketio-uws serves a real Socket.IO connection on uWebSockets.js, and when its binary
    cannot be loaded it exits with an error instead of falling back to ``ws``."""
    from benchmarks.runner import IMPL_BY_NAME, NODE_DIR, base_env, free_port, probe

    impl = IMPL_BY_NAME["node-socketio-uws"]
    port = free_port()
    proc = subprocess.Popen(impl.argv(port), cwd=NODE_DIR, env=base_env(), stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # written once it listens
        assert "uWebSockets.js" in line, line
        probe(port)
    finally:
        proc.terminate()
        proc.wait(10)
    missing = tmp_path / "no-such-uws.node"
    done = subprocess.run(
        impl.argv(free_port()), cwd=NODE_DIR, env={**base_env(), "UWS_BINARY": str(missing)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 3 and "cannot load uWebSockets.js" in done.stderr and str(missing) in done.stderr


def test_targets_from_a_noisy_run_are_not_judged() -> None:
    """A target computed from a run whose background CPU was above the limit says so instead of
    PASS or FAIL, and is what keeps such a run from rewriting RESULTS.md."""
    from benchmarks import report

    def run(impl: str, value: float, background: float) -> dict[str, Any]:
        return {"type": "run", "seq": 1, "repeat": 1, "scenario": "fanout", "label": "fanout-1k", "n": 1000,
                "impl": impl, "ok": True, "error": None, "result": {"deliveries_per_s": value},
                "background_cpu": background}  # fmt: skip

    meta = {"repeats": 1, "implementations": ["fastsio", "floor-coalesce"], "settings": {}}
    quiet = [run("fastsio", 9e6, 0.01), run("floor-coalesce", 10e6, 0.02)]
    noisy = [run("fastsio", 9e6, 0.01), run("floor-coalesce", 10e6, 0.5)]
    assert "| fan-out deliveries/s, 1,000 clients | 9M vs 10M: 0.90x | >= 0.8x floor-coalesce | PASS |" in (
        report.markdown(meta, quiet, None, None)
    )
    assert report.noisy_targets(meta, quiet) == []
    assert "noisy, not judged (PASS as measured)" in report.markdown(meta, noisy, None, None)
    assert report.noisy_targets(meta, noisy) == ["fan-out deliveries/s, 1,000 clients"]


# ---------------------------------------------------------------------------------------------------
# --baseline REV: an older commit as one more implementation, fastsio@<short sha>


def _git_head() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


needs_git = pytest.mark.skipif(_git_head() is None, reason="needs fastsio's git history")


@needs_git
def test_baseline_option_names_and_selects_the_commit() -> None:
    """``--baseline HEAD`` adds fastsio@<short sha> and, without ``--impls``, runs just it and
    fastsio; ``--impls`` takes the name (or fastsio@REV) like any other."""
    from benchmarks.__main__ import parse_args

    short = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert parse_args(["--baseline", "HEAD"]).impls == ["fastsio", f"fastsio@{short}"]
    args = parse_args(["--baseline", "HEAD", "--impls", f"node-socketio,fastsio@{short},fastsio"])
    assert args.impls == ["node-socketio", f"fastsio@{short}", "fastsio"]
    assert args.baselines[f"fastsio@{short}"].commit == _git_head()
    assert parse_args(["--impls", "fastsio,fastsio@HEAD"]).impls == ["fastsio", f"fastsio@{short}"]
    with pytest.raises(SystemExit):
        parse_args(["--baseline", "no-such-revision-anywhere"])


@needs_git
def test_baseline_runs_from_its_own_worktree(tmp_path: Path) -> None:
    """The baseline's server imports the worktree's fastsio, not this tree's; the worktree is
    reused (tracked files put back) when it already holds the commit.  Pure twins here: the
    suite itself builds the compiled ones, which takes too long for a test."""
    import dataclasses
    import io

    from benchmarks.runner import check_python_server, ensure_worktree, resolve_baseline

    baseline = resolve_baseline("HEAD", home=tmp_path)
    tree = baseline.worktree
    log = io.StringIO()
    try:
        assert ensure_worktree(baseline.commit, tree, log) is None
        assert (tree / "benchmarks" / "servers" / "fastsio_app.py").exists()
        impl = dataclasses.replace(baseline.impl, env={"FASTSIO_NO_EXTENSIONS": "1"})
        assert impl.cwd == tree and impl.environ()["PYTHONPATH"].split(":")[0] == str(tree)
        facts: dict[str, Any] = {}
        assert check_python_server(impl, facts) is None
        assert Path(facts["fastsio_file"]).resolve() == (tree / "fastsio" / "__init__.py").resolve()

        readme = tree / "README.md"
        committed = readme.read_text()
        readme.write_text("changed by hand\n")
        marker = tree / "fastsio" / "marker.txt"
        marker.write_text("left alone\n")
        assert ensure_worktree(baseline.commit, tree, log) is None
        assert readme.read_text() == committed and marker.exists()  # reused, not made again
        assert "resetting" in log.getvalue()
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True, check=False)


def _run(impl: str, rep: int, result: dict[str, float]) -> dict[str, Any]:
    kind = "fanout" if "deliveries_per_s" in result else "connect"
    label = f"{kind}-1k"
    return {"type": "run", "seq": rep, "repeat": rep, "scenario": kind, "label": label, "n": 1000,
            "impl": impl, "ok": True, "error": None, "result": result}  # fmt: skip


def test_report_sets_fastsio_against_its_baseline() -> None:
    """The report gives fastsio and fastsio@<sha> their columns side by side, then a table of
    both medians with their ranges, fastsio / baseline, and whether the repeats overlap."""
    from benchmarks import report

    base = "fastsio@1234567"
    runs = [
        *(_run(base, k, {"deliveries_per_s": v}) for k, v in enumerate((1.00e6, 1.10e6, 1.05e6))),
        *(_run("fastsio", k, {"deliveries_per_s": v}) for k, v in enumerate((1.08e6, 1.20e6, 1.15e6))),
        *(_run(base, k, {"connects_per_s": c, "rss_per_conn_kb": kb})
          for k, (c, kb) in enumerate(((9e3, 3.3), (9.5e3, 3.4), (9.2e3, 3.35)))),
        *(_run("fastsio", k, {"connects_per_s": c, "rss_per_conn_kb": kb})
          for k, (c, kb) in enumerate(((7e3, 3.6), (7.5e3, 3.7), (7.2e3, 3.65)))),
    ]  # fmt: skip
    meta = {
        "repeats": 3,
        "implementations": ["fastsio", base],
        "versions": {"git_commit": "89abcde", "git_dirty": True},
        "baselines": {base: {"commit": "1234567" + "0" * 33, "date": "2026-12-01T00:00:00Z", "description": "old"}},
    }
    assert report.impl_order(runs) == ["fastsio", base]
    text = report.markdown(meta, runs, None, None)
    assert f"| metric |  | fastsio | {base} |" in text
    section = text.split(f"## fastsio against {base}", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines() if line.startswith("| ")}
    assert "with uncommitted changes" in section and f"fastsio / {base}" in section
    assert rows["fan-out deliveries/s, 1,000 clients (deliveries/s)"].endswith("| 1.10x | within noise |")
    assert rows["connects/s (to 1,000) (connects/s)"].endswith("| worse |")
    memory = rows["memory per idle connection (1,000 held) (KB)"]
    assert "3.35 (3.3–3.4)" in memory and "3.65 (3.6–3.7)" in memory and memory.endswith("| 1.09x | worse |")
    assert "1 of 3 metrics within noise" in section
    assert "Node" not in text.split("## Targets", 1)[1]  # no reference ran: no ratio targets against it


def test_connect_cost_measures_connections_that_connect() -> None:
    """``python -m benchmarks.connect_cost`` makes its in-memory connections through the
    benchmark app (its child exits non-zero unless every one got its CONNECT reply, and
    for ``upgrade`` its 3probe and the ack over the WebSocket) and prints one figure per
    transport and tree."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.connect_cost", "--cpu", "--n", "400"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert [(r[0], r[-1]) for r in rows] == [("websocket", "1.000x"), ("polling", "1.000x"), ("upgrade", "1.000x")], proc.stdout
