"""socket.io-client 1.2.0, 1.7.4 and 2.5.0, and the chat demo (1.2.0 and 4.8), in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by playwright-core: ``driver.mjs``).

* ``legacy.html`` runs one scenario per page: the implicit "/" connection and "/chat",
  acks both ways with non-ASCII text and binary, a broadcast, binary from the server,
  an invalid namespace, disconnects both ways; for each client, same-origin and
  cross-origin (the page on another port: CORS with credentials, which these clients
  always ask for), over polling (binary payloads: what socket.io-client 1.2.0 in a
  browser reads), WebSocket, the upgrade, and JSONP polling.
* The chat demo of examples/chat: a message (non-ASCII) typed and sent on the 4.8 page
  (``/``) and on the article's 1.2.0 page (``/v1``); the replies appear on the page.
  Once more with ``per_message_deflate`` (threshold 0), over Chromium's own
  permessage-deflate.

The pages of a test share one browser, three at a time (Chromium opens at most six
connections per host; a long-polling page holds one).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import fastsio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LEGACY = ROOT / "tests" / "legacy" / "node_modules"
CHROMIUM = os.environ.get("FASTSIO_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (`make browser`, as root)",
    ),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "playwright-core").is_dir(),
        reason="tests/browser/node_modules is missing: run `npm ci` in tests/browser (make test does)",
    ),
]

TEXT = "héllo 世界 🎉 \u2028 ✓"
BUNDLES = {
    "sioc12": LEGACY / "sioc12" / "socket.io.js",  # the browser bundle at the package root
    "sioc17": LEGACY / "sioc17" / "dist" / "socket.io.js",
    "sioc25": LEGACY / "sioc25" / "dist" / "socket.io.js",
}


def b(data: bytes) -> dict[str, str]:
    import base64

    return {"$bin": base64.b64encode(data).decode()}


async def run_browser(jobs: list[dict[str, Any]], timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    """Run ``jobs`` in one headless Chromium; return the results by job name."""
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(HERE / "driver.mjs"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(HERE),
        limit=1 << 24,
    )
    payload = {"chromium": CHROMIUM, "timeout": int(timeout * 1000), "jobs": jobs}
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(payload).encode() + b"\n"), timeout + 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    fatal = [line for line in lines if "fatal" in line]
    assert not fatal and lines and lines[-1] == {"done": True}, (lines, err.decode(errors="replace"))
    return {line["name"]: line for line in lines[:-1]}


# ---------------------------------------------------------------------- socket.io-client 1.2.0 / 2.5.0


def static_files() -> dict[str, str]:
    files = {"/legacy.html": str(HERE / "legacy.html")}
    for name, path in BUNDLES.items():
        files[f"/static/{name}.js"] = str(path)
    return files


@pytest.mark.skipif(
    not all(p.is_file() for p in BUNDLES.values()),
    reason="tests/legacy/node_modules is missing: run `npm ci` in tests/legacy (make test does)",
)
async def test_legacy_clients_in_chromium(start_server: Any) -> None:
    """Verify socket.io-client 1.2.0, 1.7.4 and 2.5.0 in Chromium, same- and cross-origin,
    over polling, WebSocket, the upgrade and JSONP."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "conformance"))
    from _interop import build_server

    # the page's origin for the cross-origin runs: another server, another port
    pages = fastsio.Server(static_files=static_files())
    page_url = await start_server(pages)
    sio, seen = build_server(allow_eio3=True, cors_allowed_origins=[page_url], static_files=static_files())
    url = await start_server(sio)
    modes = {
        "polling": "transports=polling",
        "websocket": "transports=websocket",
        "upgrade": "transports=polling,websocket",
        "jsonp": "transports=polling&jsonp=1",
    }
    jobs = []
    for client in BUNDLES:
        for origin, base, server in (("same", url, ""), ("cross", page_url, url)):
            for mode, query in modes.items():
                jobs.append(
                    {
                        "name": f"{client}-{origin}-{mode}",
                        "url": f"{base}/legacy.html?client={client}&server={server}&{query}",
                        "steps": [
                            {"op": "wait", "js": "window.__result"},
                            {"op": "eval", "js": "window.__result", "as": "result"},
                        ],
                    }
                )
    results = await run_browser(jobs)
    failures = {}
    for job in jobs:
        r = results[job["name"]]
        res = r["values"].get("result") or {}
        if not r["ok"] or "error" in res:
            failures[job["name"]] = r
            continue
        try:
            check_legacy_result(job["name"], res)
        except AssertionError as exc:
            failures[job["name"]] = {"assertion": str(exc), "result": res, "console": r["console"]}
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)
    # every page connected "/" and "/chat" (and left)
    assert len([1 for nsp, _ in seen.of("connect") if nsp == "/chat"]) == len(jobs)


def check_legacy_result(name: str, res: dict[str, Any]) -> None:
    mode = name.rsplit("-", 1)[1]
    engine_id = res["engineId"]
    assert res["welcome"] == [{"id": engine_id, "auth": {}}]
    assert res["echo"] == [1, TEXT, {"bin": b(b"\x01\x02\x03")}]
    assert res["ask"] == ["answer", ["yes", TEXT, b(b"\x09\x08\x07")]]
    assert res["msg"] == ["recv " + TEXT]
    assert res["refused"] == ["Invalid namespace"]  # socket.io 2.x sends the string to v4 clients
    assert res["news"] == [TEXT]
    assert res["burst"] == [4]
    assert res["items"] == [[0, {"i": 0, "bin": b(b"\x00")}], [1, "é✓"], [2, "é✓é✓"], [3, {"i": 3, "bin": b(b"\x03")}]]
    assert res["transport"] == ("websocket" if mode in ("websocket", "upgrade") else "polling")
    assert res["disconnect"] == ["io server disconnect"]


# ---------------------------------------------------------------------- the chat demo


async def test_chat_demo_in_chromium(start_server: Any) -> None:
    """Verify the chat demo's pages: 4.8 on ``/``, the article's socket.io-client 1.2.0
    page on ``/v1``; a typed message (non-ASCII) gets its ack and its reply on the page."""
    from examples.chat import app as chat_app

    files = chat_app.static_files()
    missing = [u for u in ("/static/socket.io.js", "/static/socket.io-1.2.0.js", "/static/jquery.js") if u not in files]
    if missing:
        pytest.skip(f"examples/chat/node_modules lacks {missing}: run `make demo-assets`")
    url = await start_server(chat_app.create_app())
    jobs = []
    for page in ("/", "/v1"):
        steps: list[dict[str, Any]] = []
        for text in ("hello", TEXT):
            steps += [
                {"op": "fill", "sel": "#m", "text": text},
                {"op": "click", "sel": "form button"},
                {"op": "waitText", "sel": "#messages li", "text": "ACK CALLBACK: recv " + text},
                {"op": "waitText", "sel": "#messages li", "text": "have " + text},
            ]
        steps.append({"op": "eval", "js": "[...document.querySelectorAll('#messages li')].map(e => e.textContent)",
                      "as": "messages"})
        steps.append({"op": "eval", "js": "window.io && (io.version || (io.protocol === 3 ? '1.x' : '4.x'))",
                      "as": "client"})
        jobs.append({"name": page, "url": url + page, "steps": steps})
    results = await run_browser(jobs)
    for page in ("/", "/v1"):
        r = results[page]
        assert r["ok"], json.dumps(r, indent=1, ensure_ascii=False)
        messages = r["values"]["messages"]
        for text in ("hello", TEXT):
            assert "ACK CALLBACK: recv " + text in messages and "have " + text in messages, messages


async def test_chat_demo_with_permessage_deflate_in_chromium(start_server: Any) -> None:
    """Verify Chromium's own permessage-deflate against ``per_message_deflate`` (threshold 0:
    every packet compressed both ways): the 4.8 page over WebSocket and the 1.2.0 page
    (Engine.IO v3) get their acks and replies, and the server saw the extension in use."""
    from examples.chat import app as chat_app

    files = chat_app.static_files()
    if "/static/socket.io.js" not in files or "/static/socket.io-1.2.0.js" not in files:
        pytest.skip("examples/chat/node_modules lacks the clients: run `make demo-assets`")
    sio = chat_app.create_app(per_message_deflate={"threshold": 0})
    offers: list[str | None] = []
    deflating: list[tuple[int, bool]] = []

    @sio.engine.use
    def record(request: Any) -> None:
        if request.upgrade:
            offers.append(request.headers.get("sec-websocket-extensions"))

    @sio.on_any
    def seen(socket: fastsio.Socket, event: str, *args: Any) -> None:
        ws = socket.client.session.ws
        deflating.append((socket.client.session.eio, ws is not None and ws.deflate is not None))

    url = await start_server(sio)
    jobs = []
    for page in ("/", "/v1"):
        steps: list[dict[str, Any]] = [
            # the 4.8 page upgrades to WebSocket; type once it has, so the message goes over it
            {"op": "wait", "js": "window.socket && socket.io && socket.io.engine && socket.io.engine.transport"
             " && socket.io.engine.transport.name === 'websocket'"},
        ]
        for text in ("hello", TEXT, "long-" * 400):
            steps += [
                {"op": "fill", "sel": "#m", "text": text},
                {"op": "click", "sel": "form button"},
                {"op": "waitText", "sel": "#messages li", "text": "ACK CALLBACK: recv " + text},
                {"op": "waitText", "sel": "#messages li", "text": "have " + text},
            ]
        jobs.append({"name": page, "url": url + page, "steps": steps})
    results = await run_browser(jobs)
    for page in ("/", "/v1"):
        assert results[page]["ok"], json.dumps(results[page], indent=1, ensure_ascii=False)
    assert offers and all(o is not None and "permessage-deflate" in o for o in offers), offers
    # events that came over a WebSocket came over one with the extension, for both protocols
    over_ws = [(eio, on) for eio, on in deflating if on]
    assert {eio for eio, _ in over_ws} == {3, 4}, deflating


async def test_chat_demo_is_a_chat_in_chromium(start_server: Any) -> None:
    """Verify the chat demo's pages as a chat: what the 4.8 page (``/``) and the article's
    1.2.0 page (``/v1``) type reaches another participant (python-socketio's client in
    ``/chat``), and what it types appears on both pages; on ``/``, ``/bye`` makes the status
    say "disconnected (io server disconnect)", and typing again joins again ("connected")."""
    import socketio

    from examples.chat import app as chat_app

    files = chat_app.static_files()
    if "/static/socket.io.js" not in files or "/static/socket.io-1.2.0.js" not in files:
        pytest.skip("examples/chat/node_modules lacks the clients: run `make demo-assets`")
    url = await start_server(chat_app.create_app())
    other = socketio.AsyncClient(reconnection=False)
    heard: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    other.on("said", lambda who, text: heard.put_nowait((who, text)), namespace="/chat")
    await other.connect(url, namespaces=["/chat"], transports=["websocket"])
    from_python = "[...document.querySelectorAll('#messages li')].some(e => e.textContent.endsWith(': from python'))"
    jobs = [
        {"name": "/", "url": url + "/", "steps": [
            {"op": "wait", "js": "document.getElementById('status').textContent === 'connected'"},
            {"op": "fill", "sel": "#m", "text": "hello"},
            {"op": "click", "sel": "form button"},
            {"op": "waitText", "sel": "#messages li", "text": "ACK CALLBACK: recv hello"},
            {"op": "wait", "js": from_python},
            {"op": "fill", "sel": "#m", "text": "/bye"},
            {"op": "click", "sel": "form button"},
            {"op": "waitText", "sel": "#messages li", "text": "BYE: hello"},
            {"op": "waitText", "sel": "#status", "text": "disconnected (io server disconnect)"},
            {"op": "fill", "sel": "#m", "text": "again"},
            {"op": "click", "sel": "form button"},
            {"op": "waitText", "sel": "#messages li", "text": "ACK CALLBACK: recv again"},
            {"op": "waitText", "sel": "#status", "text": "connected"},
        ]},
        {"name": "/v1", "url": url + "/v1", "steps": [
            {"op": "fill", "sel": "#m", "text": "old client"},
            {"op": "click", "sel": "form button"},
            {"op": "waitText", "sel": "#messages li", "text": "ACK CALLBACK: recv old client"},
            {"op": "wait", "js": from_python},
        ]},
    ]

    async def participate() -> list[tuple[str, str]]:
        got = [await asyncio.wait_for(heard.get(), 30) for _ in range(2)]
        assert await other.call("msg", "from python", namespace="/chat", timeout=5) == "recv from python"
        got.append(await asyncio.wait_for(heard.get(), 30))
        return got

    results, got = await asyncio.gather(run_browser(jobs), participate())
    for page in ("/", "/v1"):
        assert results[page]["ok"], json.dumps(results[page], indent=1, ensure_ascii=False)
    assert sorted(text for _, text in got) == ["again", "hello", "old client"]
    assert all(len(who) == 6 for who, _ in got)
    await other.disconnect()
