"""From raw JSON-lines records to the markdown report, the chart panels and the target check."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chart import Panel, human
from .runner import FLOOR_REF, IMPL_BY_NAME, IMPLEMENTATIONS, NODE_IMPLS, NODE_REF, UWS_REF


@dataclass(frozen=True)
class Metric:
    kind: str  # scenario kind the metric belongs to
    field: str  # key in the load generator's JSON (or a derived key, see value_of)
    title: str  # {n} is replaced by the scenario's N
    unit: str
    higher_is_better: bool
    ratio: bool = True  # False: an absolute check, ratios mean nothing (counts, growth)
    labels: tuple[str, ...] | None = None  # restrict to these scenario labels


METRICS: tuple[Metric, ...] = (
    Metric("fanout", "deliveries_per_s", "fan-out deliveries/s, {n} clients", "deliveries/s", True),
    Metric("fanout", "lat_p50_ms", "one broadcast reaching all {n} clients, p50", "ms", False),
    Metric("fanout", "lat_p99_ms", "one broadcast reaching all {n} clients, p99", "ms", False),
    Metric("echo", "acks_per_s", "echo acks/s, {n} clients", "acks/s", True),
    Metric("echo", "rtt_p50_ms", "echo RTT p50, {n} clients", "ms", False),
    Metric("echo", "rtt_p99_ms", "echo RTT p99, {n} clients", "ms", False),
    Metric("connect", "connects_per_s", "connects/s (to {n})", "connects/s", True),
    Metric("connect", "rss_per_conn_kb", "memory per idle connection ({n} held)", "KB", False),
    Metric("connect", "ready", "connections held (of {n})", "connections", True, ratio=False, labels=("connect-max",)),
    Metric(
        "connect",
        "closed_during_hold",
        "held connections the server closed ({n}, {hold} s hold)",
        "connections",
        False,
        ratio=False,
        labels=("connect-max",),
    ),
    Metric("churn", "connects_per_s", "churn connects/s ({cycles} x {n} connect/disconnect)", "connects/s", True),
    Metric(
        "churn", "rss_growth_kb", "server RSS growth over {cycles} x {n} connect/disconnect", "KB", False, ratio=False
    ),
    Metric("polling-fanout", "deliveries_per_s", "polling fan-out deliveries/s, {n} long-polling clients", "deliveries/s", True),
    Metric("polling-fanout", "lat_p99_ms", "polling: one broadcast reaching all {n} clients, p99", "ms", False),
    Metric("polling-connect", "connects_per_s", "polling connects/s (handshake + CONNECT, to {n})", "connects/s", True),
    Metric("upgrade-connect", "connects_per_s", "upgrade connects/s (polling, then WebSocket, to {n})", "connects/s", True),
    Metric("rooms", "deliveries_per_s", "rooms deliveries/s, {n} clients in rooms of {room}, random rooms", "deliveries/s", True),
    Metric("rooms", "lat_p99_ms", "one emit reaching its room of {room} ({n} clients), p99", "ms", False),
    Metric("payload", "bytes_per_s", "fan-out of {kib} binary attachments to {n} clients, bytes/s", "bytes/s", True),
    Metric("msgpack", "deliveries_per_s", "msgpack fan-out deliveries/s, {n} clients", "deliveries/s", True),
    Metric("echo-under-fanout", "rtt_p50_ms", "echo RTT p50, {echo} clients, during a fan-out to {n}", "ms", False),
    Metric("echo-under-fanout", "rtt_p99_ms", "echo RTT p99, {echo} clients, during a fan-out to {n}", "ms", False),
    Metric("echo-under-fanout", "deliveries_per_s", "fan-out deliveries/s to {n} beside {echo} echo clients", "deliveries/s", True),
    Metric("tls-fanout", "deliveries_per_s", "TLS fan-out deliveries/s, {n} clients (wss://)", "deliveries/s", True),
    Metric("tls-fanout", "lat_p99_ms", "TLS: one broadcast reaching all {n} clients, p99", "ms", False),
)
# scenario kinds whose load generator phase is a fan-out (for the load generator cost table)
FANOUT_KINDS = ("fanout", "polling-fanout", "rooms", "payload", "msgpack", "echo-under-fanout", "tls-fanout")
# a run whose background CPU (other processes, in cores) is above this is noise: the targets it
# feeds are not judged, and such a run does not rewrite RESULTS.md
NOISE_LIMIT = 0.10


VERSION_LABELS: tuple[tuple[str, str], ...] = (
    ("fastsio", "fastsio"),
    ("python", "Python"),
    ("python-socketio", "python-socketio"),
    ("python-engineio", "python-engineio"),
    ("uvicorn", "uvicorn"),
    ("uvicorn_ws", "with WebSocket library"),
    ("uvloop", "uvloop"),
    ("httptools", "httptools"),
    ("node", "Node"),
    ("socket.io", "socket.io"),
)


def value_of(result: dict[str, Any], field: str) -> float | None:
    if field == "rss_growth_kb":
        before, after = result.get("rss_before_kb"), result.get("rss_after_kb")
        return float(after - before) if isinstance(before, int) and isinstance(after, int) and before > 0 else None
    v = result.get(field)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def load(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    meta: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    with path.open() as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("type") == "meta":
                meta = rec
            elif rec.get("type") == "run":
                runs.append(rec)
    return meta, runs


# ---------------------------------------------------------------------------------------------------
# aggregation


@dataclass
class Cell:
    values: list[float]
    runs: int  # runs with a result
    failed: int  # runs not ok

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def spread(self) -> float | None:
        """Half the range over the median (0.18 = ±18 %)."""
        m = self.median
        if not m or len(self.values) < 2:
            return None
        return (max(self.values) - min(self.values)) / 2 / abs(m)


@dataclass(frozen=True)
class Row:
    label: str  # scenario label
    n: int
    metric: Metric
    title: str


def _title(metric: Metric, n: int, settings: dict[str, Any], label: str = "") -> str:
    rooms = settings.get("rooms") or 0
    kib = label.rsplit("-", 1)[-1]
    return metric.title.format(
        n=f"{n:,}",
        hold=settings.get("hold_max", "?"),
        cycles=settings.get("churn_cycles", "?"),
        room=f"{n // rooms:,}" if rooms else "?",
        kib=f"{kib[:-1]} KiB" if kib.endswith("k") else f"{kib}-byte",
        echo=settings.get("echo_clients", "?"),
    )


def scenario_order(runs: Sequence[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(kind, label, n) in the order the suite first ran them."""
    seen: dict[str, tuple[str, str, int]] = {}
    for r in runs:
        seen.setdefault(r["label"], (r["scenario"], r["label"], int(r["n"])))
    return list(seen.values())


def rows_for(runs: Sequence[dict[str, Any]], settings: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    order = scenario_order(runs)
    for metric in METRICS:
        for kind, label, n in order:
            if kind == metric.kind and (metric.labels is None or label in metric.labels):
                rows.append(Row(label, n, metric, _title(metric, n, settings, label)))
    return rows


BASELINE_PREFIX = "fastsio@"  # fastsio at an older commit (--baseline REV): fastsio@<short sha>


def impl_order(runs: Sequence[dict[str, Any]]) -> list[str]:
    """The suite's own order, each baseline (in the order first run) right after ``fastsio``."""
    present = {r["impl"] for r in runs}
    baselines = list(dict.fromkeys(r["impl"] for r in runs if r["impl"].startswith(BASELINE_PREFIX)))
    known: list[str] = []
    for impl in IMPLEMENTATIONS:
        if impl.name in present:
            known.append(impl.name)
        if impl.name == "fastsio":
            known += baselines
    return known + sorted(present - set(known))


def baselines_of(impls: Sequence[str]) -> list[str]:
    return [name for name in impls if name.startswith(BASELINE_PREFIX)]


def cells(
    runs: Sequence[dict[str, Any]], rows: Sequence[Row], impls: Sequence[str]
) -> dict[tuple[str, str, str], Cell]:
    out: dict[tuple[str, str, str], Cell] = {}
    for row in rows:
        for impl in impls:
            mine = [r for r in runs if r["label"] == row.label and r["impl"] == impl]
            values = [v for r in mine if r.get("result") and (v := value_of(r["result"], row.metric.field)) is not None]
            out[(row.label, row.metric.field, impl)] = Cell(
                values, sum(1 for r in mine if r.get("result")), sum(1 for r in mine if not r.get("ok"))
            )
    return out


def ratio_text(r: float | None) -> str:
    if r is None:
        return "—"
    if r >= 100:
        return f"{r:.0f}x"
    if r >= 10:
        return f"{r:.1f}x"
    if r >= 0.01:
        return f"{r:.2f}x"
    return f"{r:.2g}x"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a < 0 or b <= 0:
        return None
    return a / b


# ---------------------------------------------------------------------------------------------------
# markdown


def _table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return lines


def _cell_text(cell: Cell | None) -> str:
    if cell is None or cell.median is None:
        return "failed" if cell is not None and cell.failed else "—"
    text = human(cell.median)
    if cell.spread is not None and cell.spread >= 0.10:
        text += f" ±{cell.spread * 100:.0f}%"
    if cell.failed:
        text += " (!)"
    return text


def arrow(metric: Metric) -> str:
    return "↑" if metric.higher_is_better else "↓"


@dataclass(frozen=True)
class Target:
    """One row of issue 14's targets, checked on one run's medians."""

    what: str
    measured: str
    wanted: str
    ok: bool | None  # None: not measured in this run
    noisy: bool  # a run it is computed from had background CPU above NOISE_LIMIT

    @property
    def verdict(self) -> str:
        if self.ok is None:
            return "n/a"
        mark = "PASS" if self.ok else "FAIL"
        return f"noisy, not judged ({mark} as measured)" if self.noisy else mark


def _noisy(runs: Sequence[dict[str, Any]], labels: Iterable[str], impls: Iterable[str]) -> bool:
    labels, impls = set(labels), set(impls)
    return any(
        isinstance(r.get("background_cpu"), (int, float)) and r["background_cpu"] > NOISE_LIMIT
        for r in runs
        if r["label"] in labels and r["impl"] in impls
    )


def check_targets(
    table: dict[tuple[str, str, str], Cell],
    requested: Sequence[str],
    rows: Sequence[Row],
    runs: Sequence[dict[str, Any]],
) -> list[Target]:
    """Issue 14's targets on this run's medians (fastsio compiled; the pure twin against
    python-socketio).  A row whose reference did not run is left out; one whose scenario did not
    run, or failed, is n/a."""
    out: list[Target] = []

    def med(label: str, field: str, impl: str) -> float | None:
        c = table.get((label, field, impl))
        return c.median if c else None

    def ratio(label: str, field: str, ref: str, want: float, what: str, higher: bool = True,
              mine_label: str | None = None, impl: str = "fastsio") -> None:  # fmt: skip
        if ref not in requested and ref != "fastsio":
            return
        mine_label = mine_label or label
        mine, theirs = med(mine_label, field, impl), med(label, field, ref)
        r = _ratio(mine, theirs)
        wanted = f"{'>=' if higher else '<='} {want:g}x {ref}" if want != 1.0 or higher else f"lower than {ref}"
        noisy = _noisy(runs, {label, mine_label}, {impl, ref})
        if r is None:
            out.append(Target(what, "missing results", wanted, None, noisy))
            return
        if want == 1.0 and not higher:  # "lower than": strictly
            ok = r < 1.0
        else:
            ok = r >= want if higher else r <= want
        out.append(Target(what, f"{human(mine or 0)} vs {human(theirs or 0)}: {ratio_text(r)}", wanted, ok, noisy))

    if "fastsio" in requested:
        ratio("fanout-10k", "deliveries_per_s", UWS_REF, 4, "fan-out deliveries/s, 10,000 clients")
        ratio("fanout-10k", "deliveries_per_s", FLOOR_REF, 1.0, "fan-out deliveries/s, 10,000 clients")
        ratio("fanout-1k", "deliveries_per_s", UWS_REF, 3, "fan-out deliveries/s, 1,000 clients")
        ratio("fanout-1k", "deliveries_per_s", FLOOR_REF, 0.8, "fan-out deliveries/s, 1,000 clients")
        ratio("fanout-10k", "lat_p99_ms", FLOOR_REF, 1.1, "one broadcast to all 10,000, p99", higher=False)
        ratio("echo-100", "acks_per_s", UWS_REF, 1.5, "echo acks/s, 100 clients")
        ratio("echo-100", "rtt_p99_ms", UWS_REF, 1.0, "echo RTT p99, 100 clients", higher=False)
        ratio("connect-10k", "connects_per_s", FLOOR_REF, 0.5, "connects/s to 10,000")
        ratio("connect-10k", "connects_per_s", NODE_REF, 3, "connects/s to 10,000")
        kb = med("connect-10k", "rss_per_conn_kb", "fastsio")
        out.append(
            Target(
                "memory per idle WebSocket connection at 10,000",
                "missing results" if kb is None else f"{kb:.2f} KB",
                "<= 2.0 KB",
                None if kb is None else kb <= 2.0,
                _noisy(runs, {"connect-10k"}, {"fastsio"}),
            )
        )
        for label, what in (
            ("polling-fanout-1k", "polling fan-out deliveries/s, 1,000 clients"),
            ("polling-connect-2k", "polling connects/s"),
            ("upgrade-connect-2k", "upgrade connects/s"),
        ):
            kind = label.rsplit("-", 1)[0]
            found = [row.label for row in rows if row.metric.kind == kind] or [label]
            field = "deliveries_per_s" if kind == "polling-fanout" else "connects_per_s"
            ratio(found[0], field, NODE_REF, 5, what)
        for row in [r for r in rows if r.metric.kind == "rooms" and r.metric.field == "deliveries_per_s"] or []:
            ratio(row.label, "deliveries_per_s", UWS_REF, 3, "rooms deliveries/s")
        for row in [r for r in rows if r.metric.kind == "payload"]:
            ratio(row.label, "bytes_per_s", FLOOR_REF, 0.8, f"payload bytes/s ({row.label})")
        for row in [r for r in rows if r.metric.kind == "msgpack"]:
            json_label = f"fanout-{row.label.split('-', 1)[1]}"
            ratio(json_label, "deliveries_per_s", "fastsio", 0.9, "msgpack fan-out against fastsio's JSON fan-out",
                  mine_label=row.label)  # fmt: skip
        for row in [r for r in rows if r.metric.kind == "echo-under-fanout" and r.metric.field == "rtt_p99_ms"]:
            for node in NODE_IMPLS:
                ratio(row.label, "rtt_p99_ms", node, 1.0, "echo-under-fanout RTT p99", higher=False)
    if "fastsio-pure" in requested and "python-socketio-uvicorn" in requested:
        worse: list[str] = []
        compared = 0
        for row in rows:
            if not row.metric.ratio:
                continue
            r = _ratio(
                med(row.label, row.metric.field, "fastsio-pure"),
                med(row.label, row.metric.field, "python-socketio-uvicorn"),
            )
            if r is None:
                continue
            compared += 1
            better = r if row.metric.higher_is_better else (1 / r if r else 0)
            if better < 2:
                worse.append(f"{row.title}: {better:.2f}x")
        detail = f"{compared} metrics compared" + ("; below 2x: " + "; ".join(worse) if worse else "")
        out.append(
            Target(
                "pure twin against python-socketio, every scenario",
                detail,
                ">= 2x python-socketio-uvicorn",
                None if compared == 0 else not worse,
                _noisy(runs, {r["label"] for r in runs}, {"fastsio-pure", "python-socketio-uvicorn"}),
            )
        )
    return out


def noisy_targets(meta: dict[str, Any], runs: Sequence[dict[str, Any]]) -> list[str]:
    """The targets this run's noise invalidates (what RESULTS.md must not be written from)."""
    impls = impl_order(runs)
    rows = rows_for(runs, meta.get("settings", {}))
    table = cells(runs, rows, impls)
    return [t.what for t in check_targets(table, meta.get("implementations") or impls, rows, runs) if t.noisy]


def targets(
    table: dict[tuple[str, str, str], Cell],
    requested: Sequence[str],
    rows: Sequence[Row],
    runs: Sequence[dict[str, Any]],
) -> list[str]:
    """The targets as a markdown table: measured, target, result."""
    checked = check_targets(table, requested, rows, runs)
    if not checked:
        return []
    body = [[t.what, t.measured, t.wanted, t.verdict] for t in checked]
    return _table(["target", "measured", "target", "result"], body)


def _range_text(cell: Cell | None) -> str:
    """Median, and the range of the repeats when there are several: 3.37 (3.31-3.42)."""
    if cell is None or cell.median is None:
        return "failed" if cell is not None and cell.failed else "—"
    text = human(cell.median)
    if len(cell.values) > 1:
        text += f" ({human(min(cell.values))}–{human(max(cell.values))})"
    return text + (" (!)" if cell.failed else "")


def noise_verdict(metric: Metric, old: Cell, new: Cell) -> str:
    """``within noise`` when the ranges of the two sets of repeats overlap, else ``better`` or
    ``worse`` for the new one; no verdict from a single repeat."""
    if not old.values or not new.values:
        return "—"
    if len(old.values) < 2 or len(new.values) < 2:
        return "one repeat, no noise estimate"
    if min(new.values) <= max(old.values) and min(old.values) <= max(new.values):
        return "within noise"
    new_higher = min(new.values) > max(old.values)
    return "better" if new_higher == metric.higher_is_better else "worse"


def against_baseline(
    table: dict[tuple[str, str, str], Cell], rows: Sequence[Row], base: str, meta: dict[str, Any]
) -> list[str]:
    """fastsio (this tree) against one baseline: both medians with their ranges, the ratio, a verdict."""
    info = (meta.get("baselines") or {}).get(base) or {}
    v = meta.get("versions", {})
    head = v.get("git_commit") or "?"
    new_label = f"this working tree, git {head}{' with uncommitted changes' if v.get('git_dirty') else ''}"
    lines = [f"## fastsio against {base}", ""]
    lines.append(
        f"`fastsio` ({new_label}) against `{base}` (git {info.get('commit', base)[:12]}"
        + (f", {info['date'][:10]}" if info.get("date") else "")
        + "), same run, interleaved. Medians, the range of the repeats in brackets; the ratio is fastsio's "
        "median over the baseline's (↓ rows want at most 1x); **within noise**: the two ranges overlap."
    )
    lines.append("")
    body: list[list[str]] = []
    verdicts: list[tuple[str, str]] = []
    for row in rows:
        if not row.metric.ratio:
            continue
        old, new = table[(row.label, row.metric.field, base)], table[(row.label, row.metric.field, "fastsio")]
        verdict = noise_verdict(row.metric, old, new)
        verdicts.append((row.title, verdict))
        body.append(
            [
                f"{row.title} ({row.metric.unit})",
                arrow(row.metric),
                _range_text(old),
                _range_text(new),
                ratio_text(_ratio(new.median, old.median)),
                verdict,
            ]
        )
    lines += _table(["metric", "", base, "fastsio", f"fastsio / {base}", "verdict"], body)
    judged = [(t, x) for t, x in verdicts if x in ("within noise", "better", "worse")]
    if judged:
        off = [f"{t}: {x}" for t, x in judged if x != "within noise"]
        lines.append("")
        lines.append(
            f"{sum(1 for _, x in judged if x == 'within noise')} of {len(judged)} metrics within noise"
            + ("." if not off else "; outside it: " + "; ".join(off) + ".")
        )
    return lines


def loadgen_cost(runs: Sequence[dict[str, Any]], impls: Sequence[str]) -> list[str]:
    """CPU the server and the load generator used in each throughput phase (medians)."""
    body: list[list[str]] = []
    for kind, label, _n in scenario_order(runs):
        if kind not in (*FANOUT_KINDS, "echo"):
            continue
        for impl in impls:
            mine = [r["result"] for r in runs if r["label"] == label and r["impl"] == impl and r.get("result")]
            phase = "tput_time_s" if kind in FANOUT_KINDS else "duration_s"
            rate_key = "deliveries_per_s" if kind in FANOUT_KINDS else "acks_per_s"
            srv, cli, ceiling, rate, per_op = [], [], [], [], []
            for res in mine:
                t, s, c, v = (value_of(res, k) for k in (phase, "server_cpu_s", "client_cpu_s", rate_key))
                if not t or c is None or v is None:
                    continue
                cli.append(c / t)
                rate.append(v)
                if s is not None:
                    srv.append(s / t)
                    if v > 0:  # server CPU per delivery (or ack): what noise from other processes moves least
                        per_op.append(s / (v * t) * 1e6)
                if c > 0:
                    ceiling.append(v * t / c)
            if not cli:
                continue
            body.append(
                [
                    label,
                    impl,
                    human(statistics.median(rate)),
                    f"{statistics.median(srv) * 100:.0f}%" if srv else "—",
                    f"{statistics.median(per_op):.3g}" if per_op else "—",
                    f"{statistics.median(cli) * 100:.0f}%",
                    human(statistics.median(ceiling)) if ceiling else "—",
                ]
            )
    if not body:
        return []
    header = [
        "scenario",
        "implementation",
        "rate (/s)",
        "server CPU",
        "server CPU per delivery or ack (µs)",
        "load generator CPU",
        "load generator ceiling (/s per CPU-second)",
    ]
    return _table(header, body)


def problems(runs: Sequence[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in runs:
        if not r.get("ok"):
            res = r.get("result") or {}
            errs = {k: v for k, v in (res.get("errors") or {}).items() if v}
            extra = f" (connection errors: {errs})" if errs else ""
            out.append(f"- {r['label']} / {r['impl']} / repeat {r['repeat']}: {r.get('error')}{extra}")
    return out


def markdown(
    meta: dict[str, Any],
    runs: Sequence[dict[str, Any]],
    chart_name: str | None,
    results_path: str | None,
    title: str = "fastsio benchmarks",
) -> str:
    settings = meta.get("settings", {})
    impls = impl_order(runs)
    rows = rows_for(runs, settings)
    table = cells(runs, rows, impls)
    v = meta.get("versions", {})
    lines = [f"# {title}", ""]
    lines.append(
        f"Run {meta.get('started', '?')} with `{meta.get('command', 'python -m benchmarks')}`: "
        f"{meta.get('repeats', '?')} interleaved repeat(s), medians shown"
        f"{' (±: half the range, shown from 10 %)' if (meta.get('repeats') or 1) > 1 else ''}; "
        f"{meta.get('pinning', '')}. WebSocket transport, {settings.get('size', 100)}-byte events."
    )
    if meta.get("quick"):
        lines.append("")
        lines.append("**Quick mode** (small N, one repeat): a smoke test, not a measurement.")
    if meta.get("interrupted"):
        lines.append("")
        lines.append("**Interrupted**: only the runs that finished are shown.")
    lines.append("")
    versions_txt = ", ".join(f"{label} {v[key]}" for key, label in VERSION_LABELS if v.get(key))
    lines.append(
        f"Versions: {versions_txt}. Machine: {v.get('cpu', '?')}, {v.get('cpus', '?')} CPUs, "
        f"Linux {v.get('kernel', '?')}; git {v.get('git_commit') or '(no commit)'}"
        f"{' with uncommitted changes' if v.get('git_dirty') else ''}."
    )
    background = [float(r["background_cpu"]) for r in runs if isinstance(r.get("background_cpu"), (int, float))]
    if background:
        worst = max(background)
        lines.append("")
        lines.append(
            f"Background CPU (other processes) during the runs: median {statistics.median(background):.2f}, "
            f"max {worst:.2f} of a core"
            + (" — **the machine was not quiet: these numbers are noisy**." if worst > 0.10 else ".")
        )
    lines.append("")
    lines.append("## Results")
    lines.append("")
    lines += _table(
        ["metric", "", *impls],
        (
            [
                row.title + f" ({row.metric.unit})",
                arrow(row.metric),
                *(_cell_text(table.get((row.label, row.metric.field, i))) for i in impls),
            ]
            for row in rows
        ),
    )
    lines.append("")
    lines.append(
        "↑ higher is better, ↓ lower is better; (!) a run of this cell failed or was cut short (see Problems)."
    )
    for ref, name in (
        (NODE_REF, "Node socket.io"),
        (UWS_REF, "Node socket.io on uWebSockets.js"),
        (FLOOR_REF, "the coalesced floor"),
    ):
        if ref not in impls:
            continue
        lines += ["", f"## Ratio to {name} ({ref})", ""]
        lines.append("Each implementation's median over the reference's, as measured (so ↓ rows want less than 1x).")
        lines.append("")
        body = []
        for row in rows:
            if not row.metric.ratio:
                continue
            ref_med = table[(row.label, row.metric.field, ref)].median
            if ref_med is None:  # the reference does not run this scenario (the floors: no polling)
                continue
            body.append(
                [
                    row.title,
                    arrow(row.metric),
                    *(ratio_text(_ratio(table[(row.label, row.metric.field, i)].median, ref_med)) for i in impls),
                ]
            )
        lines += _table(["metric", "", *impls], body)
    for base in baselines_of(impls):
        if "fastsio" in impls:
            lines += ["", *against_baseline(table, rows, base, meta)]
    tgt = targets(table, meta.get("implementations") or impls, rows, runs)
    if tgt:
        lines += ["", "## Targets (issue 14)", ""]
        lines.append(
            "Each row from this run's medians, fastsio against the reference named. A row computed from a run "
            f"whose background CPU was above {NOISE_LIMIT:.2f} of a core is not judged (the run's noise "
            "invalidates it), and such a run does not rewrite benchmarks/RESULTS.md."
        )
        lines += ["", *tgt]
    cost = loadgen_cost(runs, impls)
    if cost:
        lines += ["", "## Load generator cost", ""]
        lines.append(
            "CPU used during the measured phase, as a share of one core. The ceiling is what the load "
            "generator would absorb at 100 % of its core (rate / its CPU share): it must stay far above "
            "every server, including the coalesced floor. Server CPU per delivery (or ack) is the server's CPU "
            "time over what it delivered: unlike the rates, it moves little when other processes take the CPU "
            "(uWebSockets.js writes with sendto, so CPU time, not write counts, is what compares it)."
        )
        lines.append("")
        lines += cost
    probs = problems(runs)
    if probs:
        lines += ["", "## Problems", "", *probs]
    skipped = meta.get("skipped") or {}
    if skipped:
        lines += ["", "## Not run", ""]
        lines += [f"- {name}: {why}" for name, why in skipped.items()]
    lines += ["", "## Implementations", ""]
    recorded = meta.get("baselines") or {}
    imports = meta.get("imports") or {}
    for name in impls:
        impl = IMPL_BY_NAME.get(name)
        text = impl.description if impl else (recorded.get(name) or {}).get("description") or name
        if name == "fastsio" and recorded:
            text += f"; this working tree (git {v.get('git_commit') or '?'}"
            text += " with uncommitted changes)" if v.get("git_dirty") else ")"
        where = (imports.get(name) or {}).get("fastsio_file")
        if where and (recorded or name.startswith(BASELINE_PREFIX)):
            text += f"; imports fastsio from `{where}`"
        lines.append(f"- **{name}**: {text}")
    if chart_name:
        lines += ["", f"![benchmark chart]({chart_name})"]
    if results_path:
        lines += ["", f"Raw results: `{results_path}`."]
    lines.append("")
    return "\n".join(lines)


def panels(meta: dict[str, Any], runs: Sequence[dict[str, Any]]) -> list[Panel]:
    settings = meta.get("settings", {})
    impls = impl_order(runs)
    rows = rows_for(runs, settings)
    table = cells(runs, rows, impls)
    return [
        Panel(
            row.title,
            row.metric.unit,
            row.metric.higher_is_better,
            [(i, table[(row.label, row.metric.field, i)].median) for i in impls],
        )
        for row in rows
        if row.metric.ratio
    ]


def summary(record: dict[str, Any]) -> str:
    """One line about one run, for the log above the progress bar."""
    res = record.get("result") or {}
    kind = record["scenario"]
    mode = res.get("mode") or kind

    def h(key: str, suffix: str = "") -> str:
        v = value_of(res, key)
        return "?" if v is None else human(v) + suffix

    if mode == "echofan":
        text = (
            f"echo RTT p50 {h('rtt_p50_ms', ' ms')} p99 {h('rtt_p99_ms', ' ms')} during "
            f"{h('deliveries_per_s')} deliveries/s"
        )
    elif mode == "connect":
        text = (
            f"{h('connects_per_s')} connects/s, {h('rss_per_conn_kb', ' KB')}/conn, "
            f"{res.get('ready', '?')}/{record['n']} held, {res.get('closed_during_hold', '?')} closed in hold"
        )
    elif mode == "fanout":
        text = (
            f"{h('deliveries_per_s')} deliveries/s (burst {res.get('count', '?')} x {res.get('bursts', '?')}), "
            f"one broadcast p50 {h('lat_p50_ms', ' ms')} p99 {h('lat_p99_ms', ' ms')}"
        )
        if res.get("bytes_per_s"):
            text += f", {h('bytes_per_s')} bytes/s"
    elif mode == "echo":
        text = f"{h('acks_per_s')} acks/s, RTT p50 {h('rtt_p50_ms', ' ms')} p99 {h('rtt_p99_ms', ' ms')}"
    else:
        text = (
            f"{h('connects_per_s')} connects/s, RSS {res.get('rss_before_kb', '?')} -> "
            f"{res.get('rss_after_kb', '?')} KB"
        )
    if not record.get("ok"):
        text += f"  [FAILED: {record.get('error')}]"
    return text
