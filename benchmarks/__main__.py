"""fastsio's benchmark suite: the same app on each implementation, driven by a C load generator.

    python -m benchmarks                      # the full suite (tens of minutes), writes RESULTS.md
    python -m benchmarks --quick              # small N, one repeat: a smoke test
    python -m benchmarks --impls node-socketio,floor-coalesce --scenarios fanout --fanout-n 1000
    python -m benchmarks --report benchmarks/results/<run>/results.jsonl   # tables and chart again
    python -m benchmarks --baseline HEAD      # this working tree against its last commit, side by side

Each run starts the server fresh, pinned to one CPU (taskset), and the load generator on another;
repeats are interleaved (every implementation runs once before any runs again, in a rotating
order), and the report shows medians with ratios against Node socket.io and the coalesced floor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from types import FrameType
from typing import Any

from . import chart, report
from .progress import Progress
from .runner import (
    BENCH,
    BUILD,
    IMPL_BY_NAME,
    IMPLEMENTATIONS,
    OPT_IN_IMPLEMENTATIONS,
    RESULTS,
    ROOT,
    SCENARIO_KINDS,
    Baseline,
    Impl,
    Scenario,
    Settings,
    build_loadgen,
    choose_pinning,
    cpu_busy_s,
    kill_all,
    loadgen_has_tls,
    make_certificate,
    max_connections,
    plan,
    prepare,
    proc_cpu_s,
    raise_nofile_limit,
    resolve_baseline,
    run_loadgen,
    server,
    versions,
)

SCENARIOS = SCENARIO_KINDS
BUILD_TLS = BUILD / "tls"  # the TLS scenario's self-signed certificate, made again every run

QUICK = Settings(
    connect_n=("200",),
    fanout_n=(200,),
    echo_clients=100,
    churn_cycles=4,
    churn_batch=100,
    hold=1.0,
    hold_max=5.0,
    rounds=5,
    latency_budget=5.0,
    duration=1.5,
    warmup=0.5,
    settle=0.5,
    polling_n=100,
    polling_connect_n=200,
    rooms_clients=200,
    rooms=20,
    payload_n=100,
    payload_budget_mb=64.0,
    msgpack_n=200,
    euf_n=200,
    tls_n=100,
)
FULL = Settings()
# Settings fields that a command-line option of the same name overrides
OVERRIDABLE = (
    "echo_clients",
    "churn_cycles",
    "churn_batch",
    "duration",
    "hold",
    "hold_max",
    "rounds",
    "size",
    "inflight",
)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = ",".join(i.name for i in IMPLEMENTATIONS)
    p.add_argument(
        "--scenarios",
        type=_csv,
        default=list(SCENARIOS),
        metavar="LIST",
        help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)",
    )
    p.add_argument(
        "--impls",
        type=_csv,
        default=None,
        metavar="LIST",
        help=f"comma-separated, from {names}, and fastsio@REV for a baseline "
        "(default: all; with --baseline: fastsio and the baselines)",
    )
    p.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="REV",
        help="one more implementation, fastsio@<short sha>: fastsio at git revision REV (e.g. HEAD, main~3), "
        "run from its own worktree in benchmarks/results/baselines/ with its compiled twins built there; "
        "repeatable",
    )
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats; medians are reported (3; quick: 1)")
    p.add_argument(
        "--quick", action="store_true", help="smoke test: N=200, short phases, one repeat (explicit options still win)"
    )
    g = p.add_argument_group("load (defaults: full run / --quick)")
    g.add_argument(
        "--connect-n",
        type=_csv,
        default=None,
        metavar="LIST",
        help=f"connect scenario N values, 'max' = fd limit less a margin, now {max_connections():,} "
        "(1000,10000,max / 200)",
    )
    g.add_argument("--fanout-n", type=_csv, default=None, metavar="LIST", help="fan-out clients (1000,10000 / 200)")
    g.add_argument(
        "--n",
        type=int,
        default=None,
        help="one N for every scenario: connect, fan-out and the others (rooms: N clients in rooms of 10; "
        "overrides the two above)",
    )
    g.add_argument("--echo-clients", type=int, default=None, help="closed-loop echo clients (100)")
    g.add_argument("--churn-cycles", type=int, default=None, help="connect/disconnect cycles (20 / 4)")
    g.add_argument("--churn-batch", type=int, default=None, help="connections per churn cycle (500 / 100)")
    g.add_argument("--duration", type=float, default=None, help="seconds of each measured phase (5 / 1.5)")
    g.add_argument(
        "--hold", type=float, default=None, help="seconds the connect scenario holds its connections (3 / 1)"
    )
    g.add_argument(
        "--hold-max", type=float, default=None, help="hold for N=max, longer than ping interval + ping timeout (50 / 5)"
    )
    g.add_argument("--rounds", type=int, default=None, help="single-broadcast latency rounds (20 / 5)")
    g.add_argument("--size", type=int, default=None, help="payload bytes of tick and echo (100)")
    g.add_argument("--inflight", type=int, default=None, help="handshakes in flight while connecting (200)")
    o = p.add_argument_group("output and environment")
    o.add_argument("--out", type=Path, default=None, help="run directory (default benchmarks/results/<timestamp>)")
    o.add_argument(
        "--results-md",
        dest="results_md",
        action="store_true",
        default=None,
        help="write benchmarks/RESULTS.md (default: only after a full, unfiltered run)",
    )
    o.add_argument("--no-results-md", dest="results_md", action="store_false")
    o.add_argument("--no-install", action="store_true", help="do not pip-install uvicorn if it is missing")
    o.add_argument("--no-pin", action="store_true", help="do not pin server and load generator to CPUs")
    o.add_argument("--startup-timeout", type=float, default=30.0, help="seconds a server gets to start (30)")
    o.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="RESULTS.jsonl",
        help="no run: rebuild report.md and chart.png from raw results",
    )
    o.add_argument("--list", action="store_true", help="list implementations and scenarios, then exit")
    args = p.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    baselines: dict[str, Baseline] = {}

    def baseline(rev: str) -> str:
        try:
            b = resolve_baseline(rev)
        except ValueError as exc:
            p.error(f"baseline: {exc}")
        baselines.setdefault(b.name, b)
        return b.name

    for rev in args.baseline:
        baseline(rev)
    if args.impls is None:
        impls = ["fastsio", *baselines] if baselines else [i.name for i in IMPLEMENTATIONS]
    else:
        prefix = "fastsio@"
        impls = [
            baseline(name[len(prefix) :]) if name.startswith(prefix) and name not in baselines else name
            for name in args.impls
        ]
        impls += [name for name in baselines if name not in impls]
    args.impls = list(dict.fromkeys(impls))
    args.baselines = baselines
    unknown = [i for i in args.impls if i not in IMPL_BY_NAME and i not in baselines]
    if unknown:
        p.error(f"unknown implementation(s): {', '.join(unknown)}")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    s = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.connect_n is not None:
        changes["connect_n"] = tuple(args.connect_n)
    if args.fanout_n is not None:
        changes["fanout_n"] = tuple(int(n) for n in args.fanout_n)
    if args.n is not None:  # every scenario's N (rooms: N clients in rooms of 10)
        changes["connect_n"] = (str(args.n),)
        changes["fanout_n"] = (args.n,)
        for name in ("polling_n", "polling_connect_n", "payload_n", "msgpack_n", "euf_n", "tls_n"):
            changes[name] = args.n
        changes["rooms_clients"] = max(10, args.n - args.n % 10)
        changes["rooms"] = changes["rooms_clients"] // 10
    for name in OVERRIDABLE:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    for raw in changes.get("connect_n", ()):
        if raw != "max" and not raw.isdigit():
            raise SystemExit(f"--connect-n: {raw!r} is neither a number nor 'max'")
    return replace(s, **changes)


def write_report(
    meta: dict[str, Any], runs: list[dict[str, Any]], out_dir: Path, results_md: bool, force: bool = False
) -> str:
    """report.md and chart.png in the run directory (and RESULTS.md/.png when asked); returns the markdown.

    RESULTS.md is not written from a run whose noise invalidates a target (background CPU above
    report.NOISE_LIMIT in a run it is computed from) unless ``force`` (``--results-md``); its
    targets then say "noisy, not judged" rather than PASS or FAIL."""
    renderer = "none"
    chart_name: str | None = None
    if runs:
        title = f"fastsio benchmarks, {meta.get('started', '')}" + (" (quick mode)" if meta.get("quick") else "")
        renderer = chart.render(report.panels(meta, runs), str(out_dir / "chart.png"), title, report.impl_order(runs))
        chart_name = "chart.png"
    results_file = out_dir / "results.jsonl"
    rel = results_file.relative_to(ROOT) if results_file.is_relative_to(ROOT) else results_file
    text = report.markdown(meta, runs, chart_name, str(rel))
    if chart_name:
        text += f"\nChart drawn with the {'matplotlib' if renderer == 'matplotlib' else 'built-in PNG'} renderer.\n"
    (out_dir / "report.md").write_text(text)
    noisy = report.noisy_targets(meta, runs) if results_md and runs else []
    if noisy and not force:
        print(
            f"not updating {BENCH / 'RESULTS.md'}: the background CPU of this run invalidates {len(noisy)} "
            f"target(s) ({'; '.join(dict.fromkeys(noisy))}); run on a quiet machine, or force it with --results-md",
            file=sys.stderr,
        )
        meta["results_md_refused"] = noisy
        return text
    if results_md and runs:
        shutil.copyfile(out_dir / "chart.png", BENCH / "RESULTS.png")
        md = report.markdown(meta, runs, "RESULTS.png", str(rel), title="fastsio benchmark results")
        md += (
            f"\nRaw results and logs stay in the git-ignored `{rel.parent}`. Regenerate the tables with "
            f"`python -m benchmarks --report {rel}`.\n"
        )
        (BENCH / "RESULTS.md").write_text(md)
    return text


def report_only(path: Path) -> int:
    meta, runs = report.load(path)
    text = write_report(meta, runs, path.parent, results_md=False)
    print(text)
    print(f"wrote {path.parent / 'report.md'} and {path.parent / 'chart.png'}", file=sys.stderr)
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.list:
        for impl in (*IMPLEMENTATIONS, *OPT_IN_IMPLEMENTATIONS, *(b.impl for b in args.baselines.values())):
            print(f"{impl.name:26} {impl.description}")
        print()
        for sc in plan(list(SCENARIOS), settings_from(args)):
            print(f"{sc.label:26} {sc.kind}, N={sc.n:,}")
        return 0
    if args.report:
        return report_only(args.report)

    settings = settings_from(args)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    baselines: dict[str, Baseline] = args.baselines
    full = (
        not args.quick
        and not baselines
        and set(args.scenarios) == set(SCENARIOS)
        and set(args.impls) == {impl.name for impl in IMPLEMENTATIONS}
    )
    results_md = full if args.results_md is None else args.results_md
    soft, hard = raise_nofile_limit()
    pinning = choose_pinning(not args.no_pin)
    log = sys.stderr

    try:
        loadgen = build_loadgen()
    except RuntimeError as exc:
        print(f"error: {exc}", file=log)
        return 2

    impls: list[Impl] = [IMPL_BY_NAME[name] if name in IMPL_BY_NAME else baselines[name].impl for name in args.impls]
    skipped: dict[str, str] = {}
    imports: dict[str, dict[str, Any]] = {}  # what each Python server imports, fastsio's file above all
    for impl in impls:
        facts: dict[str, Any] = {}
        why = prepare(impl, install=not args.no_install, log=log, facts=facts)
        if facts:
            imports[impl.name] = facts
        if why:
            skipped[impl.name] = why
            print(f"skipping {impl.name}: {why}", file=log)
        elif facts.get("fastsio_file") and (impl.root is not None or baselines):
            print(f"{impl.name} imports fastsio from {facts['fastsio_file']}", file=log)
    active = [impl for impl in impls if impl.name not in skipped]
    scenarios = plan(args.scenarios, settings)
    not_run: dict[str, str] = {}  # scenario label -> why it does not run at all
    tls_files: tuple[Path, Path] | None = None
    if any(sc.tls for sc in scenarios):
        made = make_certificate(BUILD_TLS) if loadgen_has_tls(loadgen) else (
            "the load generator was built without OpenSSL (install libssl-dev)"
        )
        if isinstance(made, str):
            for sc in scenarios:
                if sc.tls:
                    not_run[sc.label] = made
                    print(f"not running {sc.label}: {made}", file=log)
            scenarios = [sc for sc in scenarios if not sc.tls]
        else:
            tls_files = made
    if not active or not scenarios:
        print("error: nothing to run", file=log)
        return 2

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    out_dir = args.out or RESULTS / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "logs").mkdir(exist_ok=True)
    results_path = out_dir / "results.jsonl"
    meta: dict[str, Any] = {
        "type": "meta",
        "started": started,
        "command": "python -m benchmarks" + ("" if not argv else " " + " ".join(argv)),
        "quick": args.quick,
        "repeats": repeats,
        "pinning": pinning.note,
        "nofile": [soft, hard],
        "settings": asdict(settings),
        "scenarios": [sc.label for sc in scenarios],
        "implementations": [i.name for i in impls],
        "skipped": skipped,
        "not_run": not_run,
        "versions": versions(),
        "baselines": {name: b.record() for name, b in baselines.items()},
        "imports": imports,
    }
    runs: list[dict[str, Any]] = []
    units: list[tuple[int, Scenario, Impl]] = []
    for rep in range(repeats):
        for sc in scenarios:
            k = rep % len(active)  # rotate the order so no implementation always runs first
            for impl in active[k:] + active[:k]:
                if impl.supports(sc):  # e.g. no polling or msgpack on the floors
                    units.append((rep + 1, sc, impl))

    print(
        f"{len(units)} runs: {len(scenarios)} scenario(s) x {len(active)} implementation(s) x {repeats} repeat(s); "
        f"{pinning.note}; results in {out_dir}",
        file=log,
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    progress = Progress(len(units), log)
    interrupted = False
    seq = 0
    try:
        with results_path.open("w") as sink:
            sink.write(json.dumps(meta) + "\n")
            sink.flush()
            for index, (rep, sc, impl) in enumerate(units):
                if impl.name in skipped or _skip_key(impl, sc) in skipped:
                    continue
                seq += 1
                progress.start(f"{sc.label} · {impl.name} · repeat {rep}/{repeats}")
                try:
                    record = run_unit(
                        impl,
                        sc,
                        rep,
                        seq,
                        loadgen,
                        pinning.server,
                        pinning.client,
                        out_dir,
                        args.startup_timeout,
                        tls_files,
                    )
                except StartFailed as exc:  # skip the implementation (in this scenario) from here on
                    key = _skip_key(impl, sc)
                    skipped[key] = str(exc)
                    left = sum(
                        1
                        for _, other_sc, other in units[index + 1 :]
                        if other.name == impl.name and (key == impl.name or _skip_key(other, other_sc) == key)
                    )
                    progress.log(
                        f"skipping {key} from now on: {exc} (log: {out_dir / 'logs' / (impl.name + '.log')})"
                    )
                    progress.finish_step()
                    progress.skip(left)
                    continue
                runs.append(record)
                sink.write(json.dumps(record) + "\n")
                sink.flush()
                progress.log(f"{sc.label:12} {impl.name:24} {report.summary(record)}")
                progress.finish_step()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        kill_all()
        progress.close()
        signal.signal(signal.SIGTERM, previous)

    meta["skipped"] = skipped
    meta["interrupted"] = interrupted
    if interrupted:
        print("interrupted: the report covers the runs that finished", file=log)
    text = write_report(
        meta, runs, out_dir, results_md=results_md and not interrupted, force=args.results_md is True
    )
    print(text)
    print(f"report: {out_dir / 'report.md'}, chart: {out_dir / 'chart.png'}, raw: {results_path}", file=log)
    if results_md and not interrupted and not meta.get("results_md_refused"):
        print(f"updated {BENCH / 'RESULTS.md'} and {BENCH / 'RESULTS.png'}", file=log)
    return 130 if interrupted else 0


def _skip_key(impl: Impl, sc: Scenario) -> str:
    """What a failed start skips: the implementation, or only its runs of this scenario kind when
    the scenario starts the server differently (--parser msgpack, TLS)."""
    return f"{impl.name} in {sc.kind}" if sc.server_args or sc.tls else impl.name


class StartFailed(Exception):
    """The server of an implementation could not be started (twice in a row)."""


def run_unit(
    impl: Impl,
    sc: Scenario,
    rep: int,
    seq: int,
    loadgen: Path,
    server_cpu: str | None,
    client_cpu: str | None,
    out_dir: Path,
    startup_timeout: float,
    tls_files: tuple[Path, Path] | None = None,
) -> dict[str, Any]:
    """One fresh server, one load-generator run, one record; raises StartFailed."""
    log_path = out_dir / "logs" / f"{impl.name}.log"
    t0 = time.monotonic()
    extra = list(sc.server_args)
    if sc.tls:
        if tls_files is None:
            raise StartFailed("a TLS scenario without a certificate")
        extra += ["--tls-cert", str(tls_files[0]), "--tls-key", str(tls_files[1])]
    with log_path.open("a") as server_log:
        for attempt in (1, 2):
            try:
                with server(impl, server_log, server_cpu, startup_timeout, extra, sc.tls) as srv:
                    busy0, srv0, self0, w0 = cpu_busy_s(), proc_cpu_s(srv.pid), time.process_time(), time.monotonic()
                    lg = run_loadgen(loadgen, sc, srv.port, srv.pid, client_cpu)
                    busy1, srv1, self1, w1 = cpu_busy_s(), proc_cpu_s(srv.pid), time.process_time(), time.monotonic()
                    alive = srv.proc is not None and srv.proc.poll() is None
                    # CPU that neither the server, the load generator nor this harness used: other
                    # processes on the machine, i.e. noise in the measurement
                    background = None
                    lg_cpu = (lg.data or {}).get("loadgen_cpu_s")
                    if srv0 is not None and srv1 is not None and isinstance(lg_cpu, (int, float)) and w1 > w0:
                        foreign = (busy1 - busy0) - (srv1 - srv0) - lg_cpu - (self1 - self0)
                        background = round(max(0.0, foreign) / (w1 - w0), 3)
                    srv.stop()
                    if lg.stderr.strip():
                        server_log.write(f"---- load generator stderr ({sc.label}):\n{lg.stderr[-4000:]}\n")
                    error = lg.error
                    if not alive and error is None:
                        error = f"server exited with code {srv.exit_code} during the run"
                    return {
                        "type": "run",
                        "seq": seq,
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        "repeat": rep,
                        "scenario": sc.kind,
                        "label": sc.label,
                        "n": sc.n,
                        "impl": impl.name,
                        "ok": error is None,
                        "error": error,
                        "result": lg.data,
                        "server": {
                            "startup_s": srv.startup_s,
                            "vmhwm_kb": srv.vmhwm_kb,
                            "exit_code": srv.exit_code,
                            "alive_at_end": alive,
                        },
                        "wall_s": round(time.monotonic() - t0, 3),
                        "background_cpu": background,
                    }
            except RuntimeError as exc:
                server_log.write(f"---- start failed: {exc}\n")
                server_log.flush()
                if attempt == 2:
                    tail = _log_tail(log_path)
                    raise StartFailed(f"{exc}" + (f"; last log line: {tail}" if tail else "")) from exc
    raise AssertionError("unreachable")


def _log_tail(path: Path) -> str:
    lines = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if line.strip() and not line.startswith(("====", "----"))
    ]
    return lines[-1].strip()[:300] if lines else ""


if __name__ == "__main__":
    raise SystemExit(main())
