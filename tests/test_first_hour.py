"""What a new user meets in the first hour (issue 12, item 9), checked as they would meet it:

* the README's example, run as written (but on a free port): it prints its start line and
  serves a real client; a port in use is one line, exit status 1, no traceback;
* ``import fastsio.speedups`` (a real submodule) in a fresh interpreter;
* the README and docs/: the options page lists what fastsio/options.py documents (``make readme``),
  it points at nothing users do not have (``../shared``, DESIGN.md), it shows the venv's
  python for the benchmark suite;
* ``make demo`` binds 127.0.0.1 unless told otherwise, with ``HOST=``/``PORT=``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import socketio

import readme_options

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def readme_example() -> str:
    """The README's first Python example."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"```python\n(.*?)```", text, re.S)
    assert found, "no python example in the README"
    return found.group(1)


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def example_on(port: int) -> str:
    """The README's example, listening on ``port`` instead of 8000."""
    code = readme_example()
    assert 'sio.run("127.0.0.1", 8000)' in code
    return code.replace('sio.run("127.0.0.1", 8000)', f'sio.run("127.0.0.1", {port})')


async def test_readme_example_prints_its_start_line_and_serves() -> None:
    """Verify the README's example, as written: without any logging set up it prints
    ``fastsio <version> (...) listening on http://127.0.0.1:PORT/socket.io/``, then
    answers ``notice`` and ``/chat``'s ``msg`` as its comments say; SIGINT stops it (0)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", example_on(port)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert re.fullmatch(rf"fastsio \S+ \((compiled|pure)\) listening on http://127\.0\.0\.1:{port}/socket\.io/\n",
                            line), line
        client = socketio.AsyncClient(reconnection=False)
        replies: list[str] = []
        client.on("reply", replies.append)
        await client.connect(f"http://127.0.0.1:{port}", namespaces=["/", "/chat"], wait_timeout=5)
        assert await client.call("msg", "x", namespace="/chat", timeout=5) == "recv x"
        await client.emit("notice", "y")
        for _ in range(500):
            if replies:
                break
            await client.sleep(0.01)
        assert replies == ["have y"]
        await client.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=15)
    assert rc == 0


def test_port_in_use_is_one_line() -> None:
    """Verify ``sio.run()`` on an address in use: one line on stderr, exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", example_on(port)], capture_output=True, text=True,
                                timeout=30, check=False)
    assert result.returncode == 1, result
    assert result.stderr.strip() == (
        f"fastsio: error: cannot listen on 127.0.0.1:{port}: address already in use (another server is running there?)"
    ), result.stderr


async def test_start_raises_listen_error() -> None:
    """Verify ``await sio.start()`` on an address in use raises ListenError, an OSError with
    the original errno and a one-line message (and the server can start elsewhere after)."""
    import errno

    import fastsio
    from fastsio.exceptions import ListenError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sio = fastsio.Server()
        with pytest.raises(ListenError) as caught:
            await sio.start("127.0.0.1", port)
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.EADDRINUSE
    assert str(caught.value).startswith(f"cannot listen on 127.0.0.1:{port}: address already in use")
    await sio.start("127.0.0.1", 0)
    await sio.stop()


def test_import_fastsio_speedups_in_a_fresh_interpreter() -> None:
    """Verify ``import fastsio.speedups`` (a real submodule), its mapping, ``reasons``,
    ``implementations`` and ``compiled``, also through ``from fastsio.speedups import``."""
    code = (
        "import fastsio.speedups, json\n"
        "from fastsio.speedups import reasons, implementations, compiled\n"
        "import fastsio\n"
        "assert fastsio.speedups is __import__('sys').modules['fastsio.speedups']\n"
        "print(json.dumps([dict(fastsio.speedups), dict(reasons), dict(implementations), compiled,"
        " fastsio.speedups['wsframe']]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    import json

    twins, reasons, implementations, compiled, wsframe = json.loads(out)
    assert sorted(twins) == [
        "eio", "eio3", "engine", "fanout", "flow_control", "http", "request", "session", "sio", "socket", "timers", "websocket", "wsframe",
    ] and twins == implementations
    assert sorted(reasons) == sorted(twins) and all(reasons.values())
    assert compiled == all(v == "cython" for v in twins.values()) and wsframe == twins["wsframe"]


def test_options_page_is_generated() -> None:
    """Verify docs/options.md's options list is exactly what fastsio/options.py documents
    (every option of Server; `make readme` rewrites it), and the README links to it."""
    assert "(docs/options.md)" in README.read_text(encoding="utf-8")
    text = readme_options.OPTIONS_PAGE.read_text(encoding="utf-8")
    assert readme_options.current_block(text) == readme_options.expected_block(), "run `make readme`"
    import fastsio

    for name in fastsio.ServerOptions.__dataclass_fields__:
        if not name.startswith("_"):
            assert f"- `{name}` (default " in text, name
    for name in ("upgrade_timeout", "allow_upgrades", "adapter", "logger", "cleanup_empty_child_namespaces", "gc_freeze"):
        assert f"- `{name}` (default " in text, name


def test_readme_points_at_what_users_have() -> None:
    """Verify the README and docs name no internal file (../shared, DESIGN.md), link only
    to files in the repository, and show the venv's python for the benchmark suite."""
    docs = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    for path in docs:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "DESIGN.md" not in text, path
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if "://" not in target:
                # the site's pages made from files elsewhere (SECURITY.md, the results)
                added = (path.parent / target).resolve().relative_to(ROOT / "docs").as_posix() in hooks.EXTRA \
                    if (path.parent / target).resolve().is_relative_to(ROOT / "docs") else False
                assert added or (path.parent / target).exists(), (path, target)
    text = README.read_text(encoding="utf-8")
    assert re.search(r"(?<![./\w])python -m benchmarks", text) is None
    assert ".venv/bin/python -m benchmarks" in text and "about 3 hours on a 2-core machine" in text


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_binds_localhost_with_host_and_port_variables() -> None:
    """Verify ``make demo`` serves 127.0.0.1:8000 by default, ``HOST=``/``PORT=`` on the
    command line change it, and a HOST in the environment (some shells export one) does not."""

    def demo_line(*args: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(["make", "-n", "demo", *args], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={**os.environ, **(env or {})}).stdout
        lines = [line for line in out.splitlines() if "examples.chat.app" in line]
        assert len(lines) == 1, out
        return lines[0]

    assert demo_line().endswith("-m examples.chat.app --host 127.0.0.1 --port 8000")
    assert demo_line("HOST=0.0.0.0", "PORT=9001").endswith("--host 0.0.0.0 --port 9001")
    assert demo_line(env={"HOST": "myhostname", "PORT": "1"}).endswith("--host 127.0.0.1 --port 8000")


def test_chat_demo_main_binds_localhost() -> None:
    """Verify ``python -m examples.chat.app`` defaults to 127.0.0.1 (its --help says so)."""
    out = subprocess.run([sys.executable, "-m", "examples.chat.app", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=30).stdout
    assert "default 127.0.0.1" in out
