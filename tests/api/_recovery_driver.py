"""Runs ``tests/recovery/driver.mjs`` (the real socket.io-client 4.8, optionally with
socket.io-msgpack-parser) and collects what it saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _nodedriver import Run, node_marks as _node_marks, run_driver

NODE_DIR = Path(__file__).resolve().parents[1] / "recovery"
DRIVER = NODE_DIR / "driver.mjs"

node_marks = _node_marks(NODE_DIR)


def node_test(fn: Any) -> Any:
    """Mark one test as driving Node (for modules that also hold tests that do not)."""
    for mark in reversed(node_marks):
        fn = mark(fn)
    return fn


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
    run = await run_driver(DRIVER, scenario, timeout)
    if check:
        assert run.returncode == 0 and run.of("done"), run
    return run
