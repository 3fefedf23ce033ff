"""Running one Node driver script (a real npm client) per scenario, shared by the interop
tests: ``tests/node`` (socket.io-client 4.8), ``tests/recovery`` (4.8 with the msgpack
parser) and ``tests/legacy`` (socket.io-client 1.x/2.x).

A driver reads one JSON scenario line on stdin and prints what its client saw as JSON
lines on stdout, a record ``{"t": ...}`` each.  At a ``sync`` record it waits for a
``go`` line, so the test can act on the server in between.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

NODE = shutil.which("node")
TESTS = Path(__file__).resolve().parent


def node_marks(
    node_dir: Path, package: str = "socket.io-client", install: str = "run `make node`"
) -> list[Any]:
    """The marks of a test that drives Node with the packages in ``node_dir``."""
    return [
        pytest.mark.node,
        pytest.mark.skipif(NODE is None, reason="node is not installed"),
        pytest.mark.skipif(
            not (node_dir / "node_modules" / package).is_dir(),
            reason=f"{node_dir.relative_to(TESTS.parent)}/node_modules is missing: "
            f"{install} (make test does)",
        ),
    ]


class Run:
    """What the client saw: the driver's records, and its exit status."""

    def __init__(self, records: list[dict[str, Any]], returncode: int | None, stderr: str) -> None:
        self.records = records
        self.returncode = returncode
        self.stderr = stderr

    def __repr__(self) -> str:
        lines = "\n".join(json.dumps(r) for r in self.records)
        return f"<Run rc={self.returncode}\n{lines}\nstderr: {self.stderr}>"

    def of(self, t: str, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.records if r["t"] == t and all(r.get(k) == v for k, v in match.items())]

    def one(self, t: str, **match: Any) -> dict[str, Any]:
        found = self.of(t, **match)
        assert len(found) == 1, (t, match, self)
        return found[0]

    def index(self, t: str, **match: Any) -> int:
        for i, r in enumerate(self.records):
            if r["t"] == t and all(r.get(k) == v for k, v in match.items()):
                return i
        raise AssertionError(f"no {t} {match} in {self!r}")

    def events(self, event: str) -> list[list[Any]]:
        return [r["args"] for r in self.of("event", event=event)]


async def run_driver(
    driver: Path,
    scenario: dict[str, Any],
    timeout: float,
    on_sync: Callable[[str], Awaitable[None]] | None = None,
    run_type: type[Run] = Run,
) -> Any:
    """Run ``driver`` (in its own directory) on one scenario; a ``run_type`` (``Run`` or
    a subclass) holds what it printed.

    A driver still running ``timeout`` + 5 s later is killed: its run has the records so
    far and a negative return code, so the caller's check shows what it got to."""
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(driver),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(driver.parent),
        limit=1 << 24,  # one record per line, large payloads included
    )
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    records: list[dict[str, Any]] = []
    proc.stdin.write(json.dumps(scenario).encode() + b"\n")

    async def read() -> None:
        assert proc.stdout is not None and proc.stdin is not None
        async for line in proc.stdout:
            if not line.strip():
                continue
            rec = json.loads(line)
            records.append(rec)
            if rec["t"] == "sync":
                if on_sync is not None:
                    await on_sync(rec["name"])
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()

    stderr = asyncio.ensure_future(proc.stderr.read())
    err = b""
    try:
        await asyncio.wait_for(asyncio.gather(read(), proc.wait()), timeout + 5)
    except asyncio.TimeoutError:
        pass
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        err = await asyncio.wait_for(stderr, 5)  # the pipe is closed now
    return run_type(records, proc.returncode, err.decode(errors="replace"))
