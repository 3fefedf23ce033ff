"""Implementations, scenarios, and the processes that run them: servers, the load generator, installs."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
BUILD = RESULTS / "build"
BASELINES = RESULTS / "baselines"  # git worktrees of --baseline commits (git-ignored, like all of results/)
NODE_DIR = BENCH / "servers" / "node"
LOADGEN_SRC = BENCH / "loadgen" / "loadgen.c"
LOOPBACK = "127.0.0.1"
FD_MARGIN = 250  # descriptors left to the server's own use when N = "max"


# ---------------------------------------------------------------------------------------------------
# implementations


# What a scenario may need beyond WebSocket fan-out, echo and connects with JSON: an implementation
# runs the scenarios whose needs its features cover (see Scenario.needs)
ALL_FEATURES = frozenset({"polling", "rooms", "binary", "msgpack", "tls"})
FLOOR_FEATURES = frozenset({"rooms", "binary", "tls"})  # the floors speak WebSocket and JSON only


@dataclass(frozen=True)
class Impl:
    name: str
    description: str
    runtime: str  # "python" or "node"
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    features: frozenset[str] = ALL_FEATURES
    # A baseline (--baseline REV) runs from a git worktree of that commit: its cwd and the first
    # entry of its PYTHONPATH, so that ``import fastsio`` and its server module are that tree's
    root: Path | None = None
    commit: str | None = None

    def argv(self, port: int, extra: Sequence[str] = ()) -> list[str]:
        head = [sys.executable] if self.runtime == "python" else [shutil.which("node") or "node"]
        return [*head, *self.args, "--host", LOOPBACK, "--port", str(port), *extra]

    def supports(self, scenario: Scenario) -> bool:
        """Whether this implementation can run the scenario (its features cover the needs)."""
        return scenario.needs <= self.features

    @property
    def cwd(self) -> Path:
        if self.root is not None:
            return self.root
        return NODE_DIR if self.runtime == "node" else ROOT

    def environ(self) -> dict[str, str]:
        """The server's whole environment."""
        return {**base_env(self.root or ROOT), **self.env}


IMPLEMENTATIONS: tuple[Impl, ...] = (
    Impl(
        "fastsio",
        "fastsio, compiled twins (FASTSIO_REQUIRE_EXTENSIONS=1)",
        "python",
        ("-m", "benchmarks.servers.fastsio_app"),
        {"FASTSIO_REQUIRE_EXTENSIONS": "1"},
    ),
    Impl(
        "fastsio-pure",
        "fastsio, pure-Python twins (FASTSIO_NO_EXTENSIONS=1)",
        "python",
        ("-m", "benchmarks.servers.fastsio_app"),
        {"FASTSIO_NO_EXTENSIONS": "1"},
    ),
    Impl(
        "fastsio-uvicorn",
        "fastsio inside uvicorn (fastsio.ASGIApp; uvloop, httptools, ws=auto), compiled twins",
        "python",
        ("-m", "benchmarks.servers.fastsio_uvicorn"),
        {"FASTSIO_REQUIRE_EXTENSIONS": "1"},
    ),
    Impl(
        "python-socketio-uvicorn",
        "python-socketio 5 AsyncServer(async_mode='asgi') on uvicorn (uvloop, httptools)",
        "python",
        ("-m", "benchmarks.servers.psio_uvicorn"),
    ),
    Impl("node-socketio", "Node socket.io 4.8 (ws, bufferutil when it builds)", "node", ("server.js",)),
    Impl(
        "node-socketio-uws",
        "Node socket.io 4.8 attached to uWebSockets.js (io.attachApp(uWS.App()); the "
        "@trufflesuite/uws-js-unofficial 20.30.0 binary loaded by path, the server exits when it does not "
        "load; maxBackpressure raised to 1 GiB so that nothing is dropped, its one non-default option)",
        "node",
        ("server.js", "--uws"),
    ),
    Impl(
        "floor-write",
        "minimal uvloop server, one transport.write per message",
        "python",
        ("-m", "benchmarks.servers.floor", "--mode", "write"),
        features=FLOOR_FEATURES,
    ),
    Impl(
        "floor-coalesce",
        "minimal uvloop server, writes coalesced per connection per loop iteration",
        "python",
        ("-m", "benchmarks.servers.floor", "--mode", "coalesce"),
        features=FLOOR_FEATURES,
    ),
)
# Run only when named in --impls (a full run leaves them out)
OPT_IN_IMPLEMENTATIONS: tuple[Impl, ...] = (
    Impl(
        "fastsio-metrics",
        "fastsio, compiled twins, with metrics=True (what the Prometheus counters cost)",
        "python",
        ("-m", "benchmarks.servers.fastsio_app", "--metrics"),
        {"FASTSIO_REQUIRE_EXTENSIONS": "1"},
    ),
)
IMPL_BY_NAME = {impl.name: impl for impl in (*IMPLEMENTATIONS, *OPT_IN_IMPLEMENTATIONS)}
NODE_REF = "node-socketio"
UWS_REF = "node-socketio-uws"
FLOOR_REF = "floor-coalesce"
NODE_IMPLS = (NODE_REF, UWS_REF)


# ---------------------------------------------------------------------------------------------------
# scenarios


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the load; fixed for one suite run and recorded with it."""

    connect_n: tuple[str, ...] = ("1000", "10000", "max")
    fanout_n: tuple[int, ...] = (1000, 10000)
    echo_clients: int = 100
    churn_cycles: int = 20
    churn_batch: int = 500
    inflight: int = 200
    hold: float = 3.0  # connect: seconds the connections are held (answering pings)
    hold_max: float = 50.0  # connect N=max: long enough for a ping interval plus its timeout
    size: int = 100
    rounds: int = 20
    latency_budget: float = 20.0
    duration: float = 5.0
    warmup: float = 1.0
    burst_budget_mb: float = 64.0
    settle: float = 1.0
    polling_n: int = 1000  # polling-fanout clients
    polling_connect_n: int = 2000  # polling-connect and upgrade-connect connections
    rooms_clients: int = 10000
    rooms: int = 1000
    payload_n: int = 1000
    payload_sizes: tuple[int, ...] = (16384, 65536)
    payload_budget_mb: float = 256.0
    msgpack_n: int = 10000
    euf_n: int = 10000  # echo-under-fanout: the fan-out's clients (the echo clients are echo_clients)
    tls_n: int = 1000


@dataclass(frozen=True)
class Scenario:
    kind: str  # connect | fanout | echo | churn | polling-fanout | polling-connect | upgrade-connect | ...
    n: int
    label: str  # connect-1k, connect-max, fanout-10k, echo-100, churn, rooms-10k, payload-16k, ...
    loadgen_args: tuple[str, ...]
    timeout: float  # the load generator's own hard limit, seconds
    mode: str = ""  # the load generator's --mode (default: kind)
    needs: frozenset[str] = frozenset()  # features an implementation must have (Impl.features)
    server_args: tuple[str, ...] = ()  # more arguments for the server (--parser msgpack)
    tls: bool = False  # the server serves TLS with a certificate made for the run; the load generator --tls

    @property
    def loadgen_mode(self) -> str:
        return self.mode or self.kind


# every scenario kind, in the order they run
SCENARIO_KINDS = (
    "connect",
    "fanout",
    "echo",
    "churn",
    "polling-fanout",
    "polling-connect",
    "upgrade-connect",
    "rooms",
    "payload",
    "msgpack",
    "echo-under-fanout",
    "tls-fanout",
)


def n_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def max_connections() -> int:
    """Connections for N = "max": what one process may open, less a margin for the server's own use."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 65536
    return max(100, min(int(limit), 65536) - FD_MARGIN)


def _flags(**options: object) -> tuple[str, ...]:
    """``--name value`` pairs for the load generator; underscores become dashes; a value of ""
    makes a bare flag (``--binary``)."""
    out: list[str] = []
    for key, value in options.items():
        out.append(f"--{key.replace('_', '-')}")
        if value != "":
            out.append(str(value))
    return tuple(out)


def _fanout_flags(s: Settings, n: int, **more: object) -> tuple[str, ...]:
    options: dict[str, object] = {
        "clients": n,
        "size": s.size,
        "rounds": s.rounds,
        "latency_budget": s.latency_budget,
        "duration": s.duration,
        "burst_budget_mb": s.burst_budget_mb,
    }
    options.update(more)
    return _flags(**options)


def _fanout_timeout(s: Settings, n: int) -> float:
    return 60 + n / 100 + s.latency_budget + 30 + s.duration * 10 + 30


def plan(scenarios: Sequence[str], s: Settings) -> list[Scenario]:
    out: list[Scenario] = []
    common = _flags(inflight=s.inflight, settle=s.settle)
    for kind in scenarios:
        if kind == "polling-fanout":
            n = s.polling_n
            args = (*common, *_fanout_flags(s, n, transport="polling"))
            out.append(
                Scenario(kind, n, f"{kind}-{n_label(n)}", args, _fanout_timeout(s, n), "fanout", frozenset({"polling"}))
            )
            continue
        if kind in ("polling-connect", "upgrade-connect"):
            n = s.polling_connect_n
            transport = "polling" if kind == "polling-connect" else "upgrade"
            args = (*common, *_flags(clients=n, hold=s.hold, warmup_conns=10, transport=transport))
            timeout = 60 + n / 50 + s.hold + 2 * s.settle
            out.append(Scenario(kind, n, f"{kind}-{n_label(n)}", args, timeout, "connect", frozenset({"polling"})))
            continue
        if kind == "rooms":
            n = s.rooms_clients
            args = (*common, *_fanout_flags(s, n, rooms=s.rooms))
            out.append(Scenario(kind, n, f"rooms-{n_label(n)}", args, _fanout_timeout(s, n), "fanout", frozenset({kind})))
            continue
        if kind == "payload":
            n = s.payload_n
            for size in s.payload_sizes:
                args = (*common, *_fanout_flags(s, n, size=size, binary="", burst_budget_mb=s.payload_budget_mb))
                label = f"payload-{size // 1024}k" if size % 1024 == 0 else f"payload-{size}"
                out.append(Scenario(kind, n, label, args, _fanout_timeout(s, n), "fanout", frozenset({"binary"})))
            continue
        if kind == "msgpack":
            n = s.msgpack_n
            args = (*common, *_fanout_flags(s, n, parser="msgpack"))
            out.append(
                Scenario(
                    kind, n, f"msgpack-{n_label(n)}", args, _fanout_timeout(s, n), "fanout",
                    frozenset({"msgpack"}), ("--parser", "msgpack"),
                )  # fmt: skip
            )
            continue
        if kind == "echo-under-fanout":
            # one broadcast per burst (count 1, two in flight): every implementation gets the same
            # work between two echoes, whatever its speed
            n = s.euf_n
            args = (
                *common,
                *_fanout_flags(s, n, echo_clients=s.echo_clients, count=1, warmup=s.warmup, rounds=3),
            )
            out.append(
                Scenario(kind, n, f"{kind}-{n_label(n)}", args, _fanout_timeout(s, n), "echofan", frozenset({"rooms"}))
            )
            continue
        if kind == "tls-fanout":
            n = s.tls_n
            args = (*common, *_fanout_flags(s, n, tls=""))
            timeout = _fanout_timeout(s, n) + n / 50  # TLS handshakes
            out.append(Scenario(kind, n, f"{kind}-{n_label(n)}", args, timeout, "fanout", frozenset({"tls"}), tls=True))
            continue
        if kind == "connect":
            for raw in s.connect_n:
                is_max = raw == "max"
                n = max_connections() if is_max else int(raw)
                hold = s.hold_max if is_max else s.hold
                args = (*common, *_flags(clients=n, hold=hold, warmup_conns=10))
                label = "connect-max" if is_max else f"connect-{n_label(n)}"
                out.append(Scenario("connect", n, label, args, 60 + n / 100 + hold + 2 * s.settle))
        elif kind == "fanout":
            for n in s.fanout_n:
                args = (
                    *common,
                    *_flags(
                        clients=n,
                        size=s.size,
                        rounds=s.rounds,
                        latency_budget=s.latency_budget,
                        duration=s.duration,
                        burst_budget_mb=s.burst_budget_mb,
                    ),
                )
                timeout = 60 + n / 100 + s.latency_budget + 30 + s.duration * 10 + 30
                out.append(Scenario("fanout", n, f"fanout-{n_label(n)}", args, timeout))
        elif kind == "echo":
            n = s.echo_clients
            args = (*common, *_flags(clients=n, size=s.size, duration=s.duration, warmup=s.warmup))
            out.append(Scenario("echo", n, f"echo-{n_label(n)}", args, 60 + s.warmup + s.duration))
        elif kind == "churn":
            n = s.churn_batch
            args = (*common, *_flags(cycles=s.churn_cycles, batch=n))
            out.append(Scenario("churn", n, "churn", args, 60 + s.churn_cycles * n / 100))
        else:
            raise ValueError(f"unknown scenario {kind!r}")
    return out


# ---------------------------------------------------------------------------------------------------
# CPU pinning


@dataclass(frozen=True)
class Pinning:
    server: str | None  # CPU list for taskset, None = not pinned
    client: str | None
    note: str


def choose_pinning(enabled: bool) -> Pinning:
    if not enabled:
        return Pinning(None, None, "not pinned (--no-pin)")
    if not shutil.which("taskset"):
        return Pinning(None, None, "not pinned: taskset not found (util-linux)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Pinning(None, None, f"not pinned: only {len(cpus)} CPU available")
    return Pinning(str(cpus[0]), str(cpus[1]), f"server on CPU {cpus[0]}, load generator on CPU {cpus[1]}")


def pinned(cpu: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if cpu is not None else argv


# ---------------------------------------------------------------------------------------------------
# process bookkeeping: every child runs in its own process group and is killed on the way out

_live: set[subprocess.Popen[Any]] = set()


def kill_group(proc: subprocess.Popen[Any], grace: float = 3.0) -> int | None:
    """SIGTERM the child's process group, SIGKILL it after ``grace`` seconds; returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    else:  # the leader is gone; make sure nothing it started lingers
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    _live.discard(proc)
    return proc.returncode


def kill_all() -> None:
    for proc in list(_live):
        kill_group(proc, grace=1.0)


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGKILL the child when this process dies (Linux), so a
    harness killed with SIGKILL leaves no server behind.  Resolved here, in the parent, so the
    child only makes one foreign call between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return set_pdeathsig


_PREEXEC = _parent_death_signal()


def spawn(
    argv: list[str], cwd: Path, env: dict[str, str], stdout: IO[Any] | int, stderr: IO[Any] | int
) -> subprocess.Popen[Any]:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_PREEXEC,  # noqa: PLW1509 - spawned from the main thread only
    )
    _live.add(proc)
    return proc


def raise_nofile_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit, for this process and the children it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def base_env(first: Path = ROOT) -> dict[str, str]:
    """This environment less FASTSIO_*, with ``first`` (the source tree to import from) first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTSIO_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(first), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.setdefault("NODE_ENV", "production")
    return env


# ---------------------------------------------------------------------------------------------------
# preparation: build the load generator, install what the peers need


def c_compiler() -> str | None:
    """The C compiler the load generator is built with: $CC, else cc, gcc or clang."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def build_loadgen(force: bool = False) -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    binary = BUILD / "loadgen"
    if not force and binary.exists() and binary.stat().st_mtime >= LOADGEN_SRC.stat().st_mtime:
        return binary
    cc = c_compiler()
    if not cc:
        raise RuntimeError("no C compiler found (set CC): the load generator is written in C")
    tmp = binary.with_suffix(".tmp")
    # with OpenSSL (the tls-fanout scenario) when its headers and libraries are there, else without
    cmd = [cc, "-O2", "-Wall", "-o", str(tmp), str(LOADGEN_SRC), "-lssl", "-lcrypto"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        plain = [cc, "-O2", "-Wall", "-DLOADGEN_NO_TLS", "-o", str(tmp), str(LOADGEN_SRC)]
        again = subprocess.run(plain, capture_output=True, text=True, timeout=120, check=False)
        if again.returncode != 0:
            raise RuntimeError(f"building the load generator failed:\n{' '.join(plain)}\n{again.stderr}")
    tmp.replace(binary)
    return binary


def loadgen_has_tls(binary: Path) -> bool:
    """Whether the load generator was built with OpenSSL (``--tls``)."""
    return b"built without OpenSSL" not in binary.read_bytes()


def make_certificate(directory: Path) -> tuple[Path, Path] | str:
    """A self-signed certificate and its key (EC P-256, one day) for the TLS scenario, made with
    the openssl command; returns (cert, key) or why it cannot be made."""
    openssl = shutil.which("openssl")
    if not openssl:
        return "the openssl command is needed to make the TLS scenario's certificate"
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    cmd = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return "openssl req timed out"
    if done.returncode != 0 or not cert.exists():
        return f"openssl req failed: {done.stderr.strip()[-300:]}"
    return cert, key


def prepare_node(log: IO[str]) -> str | None:
    """npm install the Node server on first use; returns why it cannot run, or None."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node and npm are needed for node-socketio (install Node.js 18+)"
    stamp = NODE_DIR / "node_modules" / ".installed"
    lock = NODE_DIR / "package-lock.json"
    inputs = [NODE_DIR / "package.json", *([lock] if lock.exists() else [])]
    if stamp.exists() and all(stamp.stat().st_mtime >= f.stat().st_mtime for f in inputs):
        return None
    # the committed lock pins every package (registry tarballs only): npm ci installs exactly it
    how = "npm ci" if lock.exists() else "npm install"
    log.write(f"installing socket.io, uWebSockets.js and the msgpack parser for the Node server ({how})...\n")
    log.flush()
    cmd = [npm, "ci" if lock.exists() else "install", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return "npm install timed out"
    if done.returncode != 0:
        return f"npm install failed: {done.stderr.strip()[-500:]}"
    stamp.touch()
    return None


def prepare_python_socketio(install: bool, log: IO[str], socketio: bool = True) -> str | None:
    """uvicorn (and python-socketio) in this interpreter's environment; pip-installs them if allowed."""
    wanted = [("uvicorn", "uvicorn>=0.30")]
    if socketio:
        wanted.append(("socketio", "python-socketio>=5.11,<6"))
    missing = [pkg for mod, pkg in wanted if importlib.util.find_spec(mod) is None]
    if not missing:
        return None
    if not install:
        return f"missing {', '.join(missing)} (pip install them, or drop --no-install)"
    log.write(f"installing {' '.join(missing)} into {sys.prefix} (pip)...\n")
    log.flush()
    cmd = [sys.executable, "-m", "pip", "install", "-q", *missing]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return "pip install timed out"
    if done.returncode != 0:
        return f"pip install failed: {done.stderr.strip()[-500:]}"
    importlib.invalidate_caches()
    return None


_CHECK = """\
import importlib, json, sys
importlib.import_module(sys.argv[1])
m = sys.modules.get("fastsio")
twins = getattr(m, "speedups", None)
print(json.dumps({
    "fastsio_file": getattr(m, "__file__", None),
    "fastsio_version": getattr(m, "__version__", None),
    "speedups": dict(twins) if hasattr(twins, "keys") else None,  # a dict, a Mapping, or the module
}))
"""


def check_python_server(impl: Impl, facts: dict[str, Any] | None = None) -> str | None:
    """Import the server module the way the run will (same cwd and environment); returns the error
    or None.  Where the module imports fastsio, that must be the implementation's own source tree
    (a baseline's worktree, else this one); ``facts`` gets the file, version and twins imported."""
    module = impl.args[1]
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHECK, module],
            cwd=impl.cwd,
            env=impl.environ(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"importing {module} timed out"
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"importing {module} failed"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    info: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    if facts is not None:
        facts.update(info)
    path = info.get("fastsio_file")
    tree = (impl.root or ROOT).resolve()
    if path and not Path(path).resolve().is_relative_to(tree):
        return f"{module} imported fastsio from {path}, not from {tree}"
    return None


def prepare(impl: Impl, install: bool, log: IO[str], facts: dict[str, Any] | None = None) -> str | None:
    """Make the implementation runnable (installs, a baseline's worktree and build); returns why it
    cannot run, or None.  ``facts`` gets what the import check found (see check_python_server)."""
    if impl.runtime == "node":
        return prepare_node(log)
    if impl.name in ("python-socketio-uvicorn", "fastsio-uvicorn"):
        why = prepare_python_socketio(install, log, socketio=impl.name == "python-socketio-uvicorn")
        if why:
            return why
    if impl.commit is not None and impl.root is not None:
        why = prepare_baseline(impl.commit, impl.root, install, log)
        if why:
            return why
        precompile(impl.root)
        why = check_python_server(impl, facts)
        if why and _build_stamp(impl.root).exists():  # a stale or broken build: once more from scratch
            _build_stamp(impl.root).unlink()
            why = prepare_baseline(impl.commit, impl.root, install, log) or check_python_server(impl, facts)
        return why
    if impl.runtime == "python":
        precompile(impl.root or ROOT)
    why = check_python_server(impl, facts)
    if why and impl.env.get("FASTSIO_REQUIRE_EXTENSIONS"):
        why += " (build the compiled twins with `make install`, i.e. `pip install -e .`)"
    return why


def precompile(tree: Path) -> None:
    """Byte-compile ``tree``'s ``fastsio`` and the benchmark servers (``compileall``), as an
    installed package is.

    A server that compiles its modules from source at start-up frees the compiler's memory before
    the clients come, and their connections reuse it: its memory per idle connection (an RSS
    delta) reads lower than the same code's with the byte-code cached (3.14 against 3.31 KB at
    10,000 connections here).  A new baseline worktree has no ``__pycache__`` where
    PYTHONDONTWRITEBYTECODE is set, so without this a baseline looked 0.2 KB per connection
    smaller than the same commit run from this tree."""
    paths = [str(p) for p in (tree / "fastsio", tree / "benchmarks" / "__init__.py", tree / "benchmarks" / "servers") if p.exists()]
    if paths:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j", "0", *paths],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )


# ---------------------------------------------------------------------------------------------------
# baselines: an older commit of fastsio, from its own git worktree, built in place


@dataclass(frozen=True)
class Baseline:
    rev: str  # as given on the command line
    commit: str  # full sha
    short: str
    date: str  # committer date, ISO 8601
    subject: str
    worktree: Path

    @property
    def name(self) -> str:
        return f"fastsio@{self.short}"

    @property
    def impl(self) -> Impl:
        return Impl(
            self.name,
            f"fastsio at git {self.short} ({self.date[:10]}, \"{_shorten(self.subject, 72)}\"), its own "
            "benchmarks/servers/fastsio_app.py, compiled twins (FASTSIO_REQUIRE_EXTENSIONS=1), "
            f"from the worktree {_display(self.worktree)}",
            "python",
            ("-m", "benchmarks.servers.fastsio_app"),
            {"FASTSIO_REQUIRE_EXTENSIONS": "1"},
            root=self.worktree,
            commit=self.commit,
        )

    def record(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "commit": self.commit,
            "date": self.date,
            "subject": self.subject,
            "worktree": str(self.worktree),
            "description": self.impl.description,
        }


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _git(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def resolve_baseline(rev: str, home: Path = BASELINES) -> Baseline:
    """The commit ``rev`` names in this repository; raises ValueError when it names none."""
    if not rev or rev.startswith("-"):
        raise ValueError(f"not a revision: {rev!r}")
    try:
        done = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"git rev-parse {rev}: {exc}") from exc
    if done.returncode != 0 or not done.stdout.strip():
        raise ValueError(f"{rev!r} names no commit of {ROOT}")
    commit = done.stdout.strip()
    info = _git("log", "-1", "--format=%h%x00%cI%x00%s", commit)
    short, date, subject = (info.stdout.strip().split("\0") + ["", "", ""])[:3]
    if _git("cat-file", "-e", f"{commit}:benchmarks/servers/fastsio_app.py").returncode != 0:
        raise ValueError(f"{rev!r} ({short}) has no benchmarks/servers/fastsio_app.py to run")
    return Baseline(rev, commit, short or commit[:7], date, subject, home / commit)


def _worktree_head(path: Path) -> str | None:
    """The commit checked out in the git worktree at ``path``; None if it is none (or another
    repository's subdirectory: the baselines live inside this repository's tree)."""
    if not (path / ".git").is_file():
        return None
    top = _git("rev-parse", "--show-toplevel", cwd=path)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != path.resolve():
        return None
    head = _git("rev-parse", "HEAD", cwd=path)
    return head.stdout.strip() if head.returncode == 0 else None


def ensure_worktree(commit: str, path: Path, log: IO[str]) -> str | None:
    """A detached git worktree of ``commit`` at ``path``, reused when it already holds that commit
    (tracked files put back as committed); returns why it cannot be had, or None."""
    try:
        if _worktree_head(path) == commit:
            dirty = _git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no", cwd=path)
            if dirty.stdout.strip():
                log.write(f"{_display(path)}: tracked files changed, resetting them to {commit[:12]}\n")
                reset = _git("reset", "--quiet", "--hard", commit, cwd=path)
                if reset.returncode != 0:
                    return f"git reset in {path} failed: {reset.stderr.strip()[-300:]}"
                _build_stamp(path).unlink(missing_ok=True)  # built from the changed files: build again
            return None
        if path.exists():
            shutil.rmtree(path)
        _git("worktree", "prune")  # forget worktrees whose directory is gone (this one's, say)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.write(f"git worktree add --detach {_display(path)} {commit[:12]}\n")
        log.flush()
        done = _git("worktree", "add", "--force", "--detach", str(path), commit, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"git worktree add {path}: {exc}"
    if done.returncode != 0 or _worktree_head(path) != commit:
        return f"git worktree add {path} {commit[:12]} failed: {done.stderr.strip()[-300:]}"
    return None


def _build_stamp(tree: Path) -> Path:
    """Written after a build with this interpreter succeeded (extension suffixes are per interpreter)."""
    key = hashlib.sha256(f"{sys.executable}\0{sys.version}".encode()).hexdigest()[:12]
    return tree / "build" / f"benchmarks-built-{sys.implementation.cache_tag}-{key}"


def _cython_requirement(tree: Path) -> str:
    """The Cython the tree pins for its builds (requirements/cython.txt), else pyproject's range."""
    for pin in (tree / "requirements" / "cython.txt", ROOT / "requirements" / "cython.txt"):
        with contextlib.suppress(OSError):
            for line in pin.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    return line
    return "Cython>=3.1,<4"


def cython_path(tree: Path, install: bool, log: IO[str]) -> tuple[str | None, str | None]:
    """(directory to put on the build's PYTHONPATH or None, why Cython cannot be had or None).

    This interpreter's Cython when it has one; else the pinned Cython, pip-installed once into
    benchmarks/results/build/ (``--target``), so that the shared environment is left as it is."""
    if importlib.util.find_spec("Cython") is not None:
        return None, None
    requirement = _cython_requirement(tree)
    slug = "".join(c if c.isalnum() or c in ".-" else "_" for c in requirement.lower().replace("==", "-"))
    target = BUILD / f"{slug}-{sys.implementation.cache_tag}"
    if (target / "Cython" / "__init__.py").exists():
        return str(target), None
    if not install:
        return None, f"Cython is needed to build the baseline (pip install {requirement!r}, or drop --no-install)"
    log.write(f"installing {requirement} into {_display(target)} (pip --target) to build the baseline...\n")
    log.flush()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(tmp)]
    try:
        done = subprocess.run([*cmd, requirement], capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return None, "pip install of Cython timed out"
    if done.returncode != 0:
        return None, f"pip install {requirement} failed: {done.stderr.strip()[-500:]}"
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return str(target), None


def build_in_place(tree: Path, install: bool, log: IO[str]) -> str | None:
    """``python setup.py build_ext --inplace`` in ``tree`` with this interpreter, extensions
    required; skipped when this interpreter built it before.  Returns why it failed, or None."""
    stamp = _build_stamp(tree)
    if stamp.exists():
        return None
    extra, why = cython_path(tree, install, log)
    if why:
        return why
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTSIO_")}
    env["FASTSIO_REQUIRE_EXTENSIONS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra, os.environ.get("PYTHONPATH")]))
    if not env["PYTHONPATH"]:
        del env["PYTHONPATH"]
    (tree / "build").mkdir(exist_ok=True)
    build_log = tree / "build" / "benchmarks-build.log"
    cmd = [sys.executable, "setup.py", "build_ext", "--inplace"]
    log.write(f"building the compiled twins in {_display(tree)}: {' '.join(cmd)} (log: {_display(build_log)})...\n")
    log.flush()
    t0 = time.monotonic()
    with build_log.open("w") as out:
        try:
            done = subprocess.run(
                cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False
            )
        except subprocess.TimeoutExpired:
            return f"building the compiled twins timed out (log: {build_log})"
    if done.returncode != 0:
        tail = [line for line in build_log.read_text(errors="replace").splitlines() if line.strip()][-1:]
        return f"building the compiled twins failed: {tail[0] if tail else done.returncode} (log: {build_log})"
    stamp.write_text(f"{sys.executable}\n{sys.version}\nbuilt in {time.monotonic() - t0:.0f} s\n")
    return None


def prepare_baseline(commit: str, tree: Path, install: bool, log: IO[str]) -> str | None:
    return ensure_worktree(commit, tree, log) or build_in_place(tree, install, log)


# ---------------------------------------------------------------------------------------------------
# versions


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _run_text(argv: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def versions() -> dict[str, Any]:
    v: dict[str, Any] = {
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
    }
    fastsio_version = _run_text([sys.executable, "-c", "import fastsio._version as v; print(v.__version__)"], ROOT)
    v["fastsio"] = fastsio_version
    v["git_commit"] = _run_text(["git", "rev-parse", "--short", "HEAD"], ROOT)
    # uncommitted changes in the tree the fastsio implementations run (--no-optional-locks: no index refresh)
    status = _run_text(["git", "--no-optional-locks", "status", "--porcelain"], ROOT)
    v["git_dirty"] = bool(status) if v["git_commit"] else None
    for dist in ("python-socketio", "python-engineio", "uvicorn", "websockets", "wsproto", "uvloop", "httptools"):
        v[dist] = _dist_version(dist)
    v["uvicorn_ws"] = ("websockets" if importlib.util.find_spec("websockets") else "wsproto") if v["uvicorn"] else None
    v["node"] = _run_text(["node", "--version"])
    pkg = NODE_DIR / "node_modules" / "socket.io" / "package.json"
    if pkg.exists():
        v["socket.io"] = json.loads(pkg.read_text()).get("version")
    v["bufferutil"] = (NODE_DIR / "node_modules" / "bufferutil").exists() or None
    uws = NODE_DIR / "node_modules" / "@trufflesuite" / "uws-js-unofficial" / "package.json"
    if uws.exists():
        v["uws"] = json.loads(uws.read_text()).get("version")
    cc = os.environ.get("CC") or "cc"
    out = _run_text([cc, "--version"])
    v["cc"] = out.splitlines()[0] if out else None
    return v


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


# ---------------------------------------------------------------------------------------------------
# servers


def cpu_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (payloads under 126 bytes), text by default."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + body


# socket.io-msgpack-parser's CONNECT to "/": {"type": 0, "nsp": "/"}
MSGPACK_CONNECT = b"\x82\xa4type\x00\xa3nsp\xa1/"
MSGPACK_DISCONNECT = b"\x82\xa4type\x01\xa3nsp\xa1/"


def _read_frame(sock: socket.socket, buf: bytearray) -> bytes:
    """The payload of the next (unmasked, server) frame, text or binary; reads more as needed."""
    while True:
        if len(buf) >= 2:
            length = buf[1] & 0x7F
            head = 4 if length == 126 else 10 if length == 127 else 2
            if len(buf) >= head:
                if head > 2:
                    length = int.from_bytes(buf[2:head], "big")
                if len(buf) >= head + length:
                    payload = bytes(buf[head : head + length])
                    del buf[: head + length]
                    return payload
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        buf += chunk


def probe(port: int, timeout: float = 3.0, tls: bool = False, msgpack: bool = False) -> None:
    """One full Socket.IO connection over WebSocket (upgrade, open, CONNECT); raises on failure.
    ``tls``: over TLS, the certificate not checked; ``msgpack``: the server's parser is msgpack."""
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((LOOPBACK, port), timeout=timeout))
        if tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = stack.enter_context(ctx.wrap_socket(sock))
        sock.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n" % port
        )
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            buf += chunk
        end = buf.index(b"\r\n\r\n")
        status = bytes(buf[: buf.index(b"\r\n")])
        if not status.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"upgrade refused: {status.decode(errors='replace')}")
        del buf[: end + 4]
        first = _read_frame(sock, buf)
        if not first.startswith(b"0"):
            raise ConnectionError(f"expected the Engine.IO open packet, got {first[:60]!r}")
        sock.sendall(_ws_frame(MSGPACK_CONNECT, 0x2) if msgpack else _ws_frame(b"40"))
        for _ in range(20):
            packet = _read_frame(sock, buf)
            if msgpack and b"\xa4type\x00" in packet:
                break
            if not msgpack and packet.startswith(b"40"):
                break
            if packet.startswith(b"44") or (msgpack and b"\xa4type\x04" in packet):
                raise ConnectionError(f"CONNECT refused: {packet[:100]!r}")
        else:
            raise ConnectionError("no CONNECT reply")
        sock.sendall(_ws_frame(MSGPACK_DISCONNECT, 0x2) if msgpack else _ws_frame(b"41"))


class ServerProcess:
    """One server under test: started pinned, probed until it serves, stopped with its whole group."""

    def __init__(
        self, impl: Impl, log: IO[str], cpu: str | None, extra: Sequence[str] = (), tls: bool = False
    ) -> None:
        self.impl = impl
        self.log = log
        self.cpu = cpu
        self.extra = tuple(extra)  # scenario arguments: --parser msgpack, --tls-cert F --tls-key F
        self.tls = tls
        self.port = free_port()
        self.proc: subprocess.Popen[Any] | None = None
        self.startup_s: float | None = None
        self.vmhwm_kb: int | None = None
        self.exit_code: int | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until a Socket.IO connection succeeds; raises RuntimeError with the reason."""
        argv = pinned(self.cpu, self.impl.argv(self.port, self.extra))
        msgpack = "msgpack" in self.extra
        self.log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n")
        self.log.flush()
        t0 = time.monotonic()
        self.proc = spawn(argv, self.impl.cwd, self.impl.environ(), self.log, subprocess.STDOUT)
        last_error = "no answer"
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with code {self.proc.returncode} during start-up")
            try:
                probe(self.port, tls=self.tls, msgpack=msgpack)
            except (OSError, ConnectionError) as exc:
                last_error = str(exc) or type(exc).__name__
                time.sleep(0.1)
                continue
            self.startup_s = time.monotonic() - t0
            return
        raise RuntimeError(f"server not ready after {timeout:.0f} s: {last_error}")

    def rss_kb(self, key: str = "VmRSS") -> int | None:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.vmhwm_kb = self.rss_kb("VmHWM")
        self.exit_code = kill_group(self.proc)


@contextlib.contextmanager
def server(
    impl: Impl, log: IO[str], cpu: str | None, timeout: float = 30.0, extra: Sequence[str] = (), tls: bool = False
) -> Iterator[ServerProcess]:
    srv = ServerProcess(impl, log, cpu, extra, tls)
    try:
        srv.start(timeout)
        yield srv
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------------------------
# the load generator


@dataclass
class LoadgenResult:
    data: dict[str, Any] | None
    error: str | None
    stderr: str
    wall_s: float


# Every run connects from its own loopback source address.  A run that closes 19,750
# connections leaves as many client ports in TIME_WAIT for 60 s, of the 28k ephemeral
# ports: the next run would then measure the kernel's search for a free port (connects
# stalled for a second at a time), whichever server it is.  A fresh source address
# gives each run the whole port range again.
#
# Past ~14k connections from one address, Linux's search for a free port in connect()
# costs the load generator more than any server's accept (it hands out even ports first,
# then walks the whole range on every connect): each run connects from SOURCES
# consecutive addresses in turn.
_SOURCE_NET = random.randrange(64, 192)
_source_runs = itertools.count()
SOURCES = 8


def next_source_address() -> str:
    """The first of SOURCES consecutive loopback addresses no earlier run has used."""
    k = next(_source_runs)
    per_octet = 240 // SOURCES
    return f"127.{_SOURCE_NET}.{(k // per_octet) % 256}.{(k % per_octet) * SOURCES + 1}"


def run_loadgen(binary: Path, scenario: Scenario, port: int, server_pid: int, cpu: str | None) -> LoadgenResult:
    argv = pinned(
        cpu,
        [
            str(binary),
            "--mode",
            scenario.loadgen_mode,
            "--port",
            str(port),
            "--source",
            next_source_address(),
            "--sources",
            str(SOURCES),
            "--server-pid",
            str(server_pid),
            "--timeout",
            f"{scenario.timeout:.0f}",
            *scenario.loadgen_args,
        ],
    )
    t0 = time.monotonic()
    proc = spawn(argv, ROOT, base_env(), subprocess.PIPE, subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=scenario.timeout + 30)
    except subprocess.TimeoutExpired:
        kill_group(proc, grace=1.0)
        out, err = proc.communicate()
        return LoadgenResult(
            None, "load generator overran its time limit", err.decode(errors="replace"), time.monotonic() - t0
        )
    finally:
        kill_group(proc, grace=1.0)
    wall = time.monotonic() - t0
    text_err = err.decode(errors="replace")
    lines = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
    if not lines:
        tail = text_err.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return LoadgenResult(None, f"load generator produced no result: {tail[0]}", text_err, wall)
    data = json.loads(lines[-1])
    return LoadgenResult(data, None if data.get("ok") else data.get("error", "failed"), text_err, wall)
