"""The ``fastsio`` command (``python -m fastsio`` and the console script), run for real:
each test starts it as a process on a free port and connects python-socketio's client.

``run`` (an app, its start line, SIGINT), its one-line errors (a port in use, a module
that does not import, a missing attribute, one that is not a server, a bad certificate,
``--workers`` with ``--reload``), TLS with a self-signed certificate made by ``openssl``,
``--reload`` (the reply changes after the file does), ``--workers 2`` (two processes
share the port; polling works, on a port the supervisor picks); ``version``,
``options``, ``bench`` (its help, passed through).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import socketio

import fastsio
import fastsio.speedups

ROOT = Path(__file__).resolve().parents[2]
APP = '''
import os
import fastsio

sio = fastsio.Server(transports={transports!r})

@sio.on("whoami")
def whoami(socket):
    return {{"pid": os.getpid(), "version": "{version}", "secure": socket.handshake.secure}}
'''
COMPAT_APP = '''
from fastsio import compat as socketio

sio = socketio.AsyncServer(async_mode="asgi")

@sio.event
async def hello(sid, name):
    return "hello " + name
'''


def free_port() -> int:
    """Return a TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fastsio_cmd(*args: str) -> list[str]:
    """``python -m fastsio args...`` with this interpreter."""
    return [sys.executable, "-m", "fastsio", *args]


def write_app(folder: Path, name: str = "app", version: str = "1", transports: tuple[str, ...] = ("polling", "websocket")) -> Path:
    """Write ``name.py``, a server whose ``whoami`` returns its pid and ``version``."""
    path = folder / f"{name}.py"
    path.write_text(APP.format(version=version, transports=transports), encoding="utf-8")
    return path


class Running:
    """A ``fastsio run`` process and what it printed on stderr."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []

    def wait_line(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Read stderr until a line matches ``pattern``; return the match."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r}: {self.lines}")

    def stop(self) -> tuple[int, str]:
        """SIGINT, then wait; return the status and the rest of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Any]:
    """Start ``fastsio ...`` in ``tmp_path``; every process is stopped afterwards."""
    started: list[Running] = []

    def go(*args: str, cwd: Path = tmp_path, env: dict[str, str] | None = None) -> Running:
        proc = subprocess.Popen(
            fastsio_cmd(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        running = Running(proc)
        started.append(running)
        return running

    yield go
    for running in started:
        running.stop()


def run_once(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``fastsio args...`` to completion."""
    return subprocess.run(fastsio_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


async def whoami(url: str, transports: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Connect python-socketio's client, ask ``whoami``, disconnect; return the answer."""
    client = socketio.AsyncClient(reconnection=False, **kwargs)
    await client.connect(url, transports=transports or ["polling", "websocket"], wait_timeout=5)
    try:
        answer: dict[str, Any] = await client.call("whoami", timeout=5)
        return answer
    finally:
        await client.disconnect()


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 1, stderr one line ``fastsio: error: ...`` containing ``fragments``, no traceback."""
    err = result.stderr.strip()
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("fastsio: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ---------------------------------------------------------------------- run


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]], ids=["polling", "websocket"])
async def test_run_serves_the_app_and_stops_on_sigint(launch: Any, tmp_path: Path, transports: list[str]) -> None:
    """Verify ``fastsio run app:sio`` prints its start line, serves a real client, and
    exits 0 on SIGINT."""
    write_app(tmp_path)
    port = free_port()
    running = launch("run", "app:sio", "--port", str(port), "--log-level", "warning")
    line = running.wait_line(r"fastsio \S+ \((compiled|pure)\) listening on http://127\.0\.0\.1:(\d+)/socket\.io/")
    assert int(line.group(2)) == port
    answer = await whoami(f"http://127.0.0.1:{port}", transports)
    assert answer["pid"] == running.proc.pid and answer["version"] == "1" and answer["secure"] is False
    status, _ = running.stop()
    assert status == 0


async def test_run_a_compat_server_module_default_attribute(launch: Any, tmp_path: Path) -> None:
    """Verify ``fastsio run module`` (no attribute: ``sio``) takes a fastsio.compat.AsyncServer."""
    (tmp_path / "legacy_app.py").write_text(COMPAT_APP, encoding="utf-8")
    port = free_port()
    running = launch("run", "legacy_app", "--port", str(port))
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(f"http://127.0.0.1:{port}", wait_timeout=5)
    assert await client.call("hello", "you", timeout=5) == "hello you"
    await client.disconnect()


def test_run_errors_are_one_line(tmp_path: Path) -> None:
    """Verify a module that does not import, one whose code raises, a missing attribute, an
    attribute that is not a server, a bad target, and a certificate that does not load are
    each one line on stderr and exit status 1."""
    write_app(tmp_path)
    (tmp_path / "broken.py").write_text("import fastsio\nraise RuntimeError('boom at import')\n", encoding="utf-8")
    (tmp_path / "notserver.py").write_text("sio = 42\n", encoding="utf-8")
    assert_one_line_error(run_once("run", "nosuchmodule:sio", cwd=tmp_path), "cannot import 'nosuchmodule'")
    assert_one_line_error(run_once("run", "broken:sio", cwd=tmp_path), "RuntimeError: boom at import", "broken.py:2")
    assert_one_line_error(run_once("run", "app:nope", cwd=tmp_path), "has no attribute 'nope'")
    assert_one_line_error(run_once("run", "notserver:sio", cwd=tmp_path), "notserver:sio is a int, not a fastsio.Server")
    assert_one_line_error(run_once("run", ":sio", cwd=tmp_path), "not module:attribute")
    (tmp_path / "bad.pem").write_text("not a certificate\n", encoding="utf-8")
    assert_one_line_error(run_once("run", "app:sio", "--certfile", "bad.pem", cwd=tmp_path), "cannot load the certificate")
    assert_one_line_error(run_once("run", "app:sio", "--keyfile", "bad.pem", cwd=tmp_path), "--keyfile needs --certfile")


def test_run_port_in_use_is_one_line(tmp_path: Path) -> None:
    """Verify an address already in use is one line (from Server.run), exit status 1."""
    write_app(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_once("run", "app:sio", "--port", str(port), cwd=tmp_path)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}", "address already in use")


# ---------------------------------------------------------------------- TLS


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made by ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]],
                         ids=["polling", "websocket", "upgrade"])
async def test_run_with_tls(launch: Any, tmp_path: Path, certificate: tuple[Path, Path], transports: list[str]) -> None:
    """Verify ``--certfile/--keyfile``: https:// and wss:// with a real client (which checks
    nothing of the self-signed certificate but its use), and the start line says https."""
    write_app(tmp_path)
    cert, key = certificate
    port = free_port()
    running = launch("run", "app:sio", "--port", str(port), "--certfile", str(cert), "--keyfile", str(key))
    running.wait_line(r"listening on https://127\.0\.0\.1:\d+/socket\.io/")
    answer = await whoami(f"https://127.0.0.1:{port}", transports, ssl_verify=False)
    assert answer["pid"] == running.proc.pid and answer["secure"] is True
    # plain HTTP to the TLS port is not served
    with pytest.raises(Exception):
        await whoami(f"http://127.0.0.1:{port}", ["polling"])


# ---------------------------------------------------------------------- --reload


async def test_reload_restarts_on_change(launch: Any, tmp_path: Path) -> None:
    """Verify ``--reload``: the server runs in a child process, restarted (a new pid, the
    new code) when a .py file changes."""
    path = write_app(tmp_path, version="1")
    port = free_port()
    running = launch("run", "app:sio", "--port", str(port), "--reload")
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    url = f"http://127.0.0.1:{port}"
    first = await whoami(url)
    assert first["version"] == "1" and first["pid"] != running.proc.pid
    stat = path.stat()
    write_app(tmp_path, version="2")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # a visible change on any filesystem
    running.wait_line(r"reload: app\.py changed, restarting")
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    second = await whoami(url)
    assert second["version"] == "2" and second["pid"] != first["pid"]
    status, _ = running.stop()
    assert status == 0


async def test_reload_survives_a_broken_edit(launch: Any, tmp_path: Path) -> None:
    """Verify ``--reload`` when an edit breaks the module: the child says why in one line and
    exits, the watcher waits, and the next edit that fixes it serves again."""
    path = tmp_path / "app.py"
    path.write_text("import fastsio\nsio = fastsio.Server(\n", encoding="utf-8")  # a SyntaxError
    port = free_port()
    running = launch("run", "app:sio", "--port", str(port), "--reload")
    running.wait_line(r"fastsio: error: importing 'app' failed: SyntaxError")
    running.wait_line(r"reload: the server exited \(status 1\); waiting for a change")
    stat = path.stat()
    write_app(tmp_path, version="fixed")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    assert (await whoami(f"http://127.0.0.1:{port}"))["version"] == "fixed"


# ---------------------------------------------------------------------- --workers


async def test_workers_share_the_port(launch: Any, tmp_path: Path) -> None:
    """Verify ``--workers 2``: two processes listen on one port (SO_REUSEPORT) and the
    kernel spreads connections over both (24 connections all landing on one of two
    workers would have a chance of 2**-23)."""
    write_app(tmp_path, transports=("websocket",))
    port = free_port()
    running = launch("run", "app:sio", "--port", str(port), "--workers", "2")
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    url = f"http://127.0.0.1:{port}"
    pids = set()
    for _ in range(24):
        pids.add((await whoami(url, ["websocket"]))["pid"])
    assert len(pids) == 2 and running.proc.pid not in pids
    status, _ = running.stop()
    assert status == 0


async def test_workers_serve_polling_on_any_port(launch: Any, tmp_path: Path) -> None:
    """Verify ``--workers 2 --port 0`` on a server that allows polling: the supervisor
    says the port it got, polling-only clients are served (their requests reach the
    worker of their session whichever one the kernel gives the connection to), and
    SIGINT stops it with status 0."""
    write_app(tmp_path)
    running = launch("run", "app:sio", "--port", "0", "--workers", "2")
    port = int(running.wait_line(r"fastsio: 2 workers on 127\.0\.0\.1:(\d+)").group(1))
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    running.wait_line(r"listening on http://127\.0\.0\.1:")
    url = f"http://127.0.0.1:{port}"
    for _ in range(6):
        assert (await whoami(url, ["polling"]))["pid"] != running.proc.pid
    status, _ = running.stop()
    assert status == 0


def test_workers_refuse_reload(tmp_path: Path) -> None:
    """Verify ``--workers`` with ``--reload`` is refused in one line."""
    write_app(tmp_path)
    assert_one_line_error(run_once("run", "app:sio", "--workers", "2", "--reload", cwd=tmp_path), "do not go together")


# ---------------------------------------------------------------------- version, options, bench


@pytest.mark.parametrize("pure", [False, True], ids=["as-is", "FASTSIO_NO_EXTENSIONS"])
def test_version_reports_the_twins(tmp_path: Path, pure: bool) -> None:
    """Verify ``fastsio version`` (and ``--json``): the version, and per twin its
    implementation and the reason, as ``fastsio.speedups`` has them."""
    env = {**os.environ}
    env.pop("FASTSIO_NO_EXTENSIONS", None)
    if pure:
        env["FASTSIO_NO_EXTENSIONS"] = "1"
    result = subprocess.run(fastsio_cmd("version", "--json"), capture_output=True, text=True, env=env, check=True)
    report = json.loads(result.stdout)
    assert report["version"] == fastsio.__version__
    assert sorted(report["twins"]) == sorted(fastsio.speedups)
    if pure:
        assert report["build"] == "pure"
        assert {t["reason"] for t in report["twins"].values()} == {"FASTSIO_NO_EXTENSIONS is set"}
    text = subprocess.run(fastsio_cmd("version"), capture_output=True, text=True, env=env, check=True).stdout
    assert text.startswith(f"fastsio {fastsio.__version__} ({report['build']})")
    for name, twin in report["twins"].items():
        assert re.search(rf"^  {name}\s+{twin['implementation']}\s+{re.escape(twin['reason'])}$", text, re.M), text


def test_console_script_and_options(tmp_path: Path) -> None:
    """Verify the ``fastsio`` console script is installed beside this interpreter and
    runs, and ``fastsio options`` lists every option of Server."""
    script = Path(sys.executable).parent / "fastsio"
    if not script.exists():
        pytest.skip(f"{script} is not installed (pip install -e . makes it)")
    out = subprocess.run([str(script), "options"], capture_output=True, text=True, check=True).stdout
    for name in fastsio.ServerOptions.__dataclass_fields__:
        if not name.startswith("_"):
            assert f"``{name}``" in out, name
    assert subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True).stdout.strip() == (
        f"fastsio {fastsio.__version__}")


def test_bench_passes_its_arguments_to_the_suite(tmp_path: Path) -> None:
    """Verify ``fastsio bench --help`` is the benchmark suite's own help (``python -m
    benchmarks``, run in the source checkout)."""
    if not (ROOT / "benchmarks" / "__main__.py").is_file():
        pytest.skip("not a source checkout")
    result = run_once("bench", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout and "--impls" in result.stdout


def test_version_says_why_a_twin_is_pure(tmp_path: Path) -> None:
    """Verify ``fastsio version`` on a copy of the package without its compiled twins: each
    twin says it is not importable, and a hint says how to build them."""
    package = Path(fastsio.__file__).resolve().parent
    shutil.copytree(package, tmp_path / "fastsio", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTSIO_")}
    out = subprocess.run(fastsio_cmd("version"), cwd=tmp_path, capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.startswith(f"fastsio {fastsio.__version__} (pure)"), out
    for name in fastsio.speedups:
        assert re.search(rf"^  {name}\s+python\s+compiled twin not importable: ", out, re.M), out
    assert "hint: the compiled twins were not built" in out
