"""Runs ``tests/recovery/driver.mjs`` (the real socket.io-client 4.8, optionally with
socket.io-msgpack-parser) and collects what it saw."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "recovery"
DRIVER = NODE_DIR / "driver.mjs"
NODE = shutil.which("node")

node_marks = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "socket.io-client").is_dir(),
        reason="tests/recovery/node_modules is missing: run `make node` (make test does)",
    ),
]


def node_test(fn: Any) -> Any:
    """Mark one test as driving Node (for modules that also hold tests that do not)."""
    for mark in reversed(node_marks):
        fn = mark(fn)
    return fn


class Run:
    def __init__(self, records: list[dict[str, Any]], returncode: int | None, stderr: str) -> None:
        self.records = records
        self.returncode = returncode
        self.stderr = stderr

    def __repr__(self) -> str:
        lines = "\n".join(json.dumps(r) for r in self.records[-60:])
        return f"<Run rc={self.returncode} (last records)\n{lines}\nstderr: {self.stderr}>"

    def of(self, t: str, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.records if r["t"] == t and all(r.get(k) == v for k, v in match.items())]

    def events(self, event: str) -> list[list[Any]]:
        return [r["args"] for r in self.of("event", event=event)]


async def drive(
    url: str,
    steps: list[dict[str, Any]],
    *,
    options: dict[str, Any] | None = None,
    msgpack: bool = False,
    nsp: str = "/",
    timeout: float = 10.0,
    check: bool = True,
) -> Run:
    scenario = {
        "url": url,
        "nsp": nsp,
        "options": options or {},
        "msgpack": msgpack,
        "timeout": int(timeout * 1000),
        "steps": steps,
    }
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(DRIVER),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(NODE_DIR),
        limit=1 << 24,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(json.dumps(scenario).encode() + b"\n")
    await proc.stdin.drain()
    records: list[dict[str, Any]] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            records.append(json.loads(line))

    try:
        await asyncio.wait_for(read(), timeout + 5)
        await asyncio.wait_for(proc.wait(), 5)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
    stderr = (await proc.stderr.read()).decode(errors="replace")
    run = Run(records, proc.returncode, stderr)
    if check:
        assert proc.returncode == 0 and run.of("done"), run
    return run
