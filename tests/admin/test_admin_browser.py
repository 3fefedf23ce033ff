"""The real Admin UI in headless Chromium, against ``sio.instrument()``.

The UI is the one ``@socket.io/admin-ui`` 0.5.1 ships built (``ui/dist``, installed by npm
into ``tests/admin/node_modules``, never committed), served by a fastsio server of its own
on another port: a cross-origin page, as the hosted https://admin.socket.io is, so the
server's CORS with credentials is what lets it in.  Chromium is Debian's, driven by
playwright-core through ``tests/browser/driver.mjs`` (see tests/browser for the set-up and
why it skips).  The UI is used as a person would: the login form (a wrong password first,
then the right one), the sockets page listing the connected python-socketio clients, the
rooms page, a socket's "join a room" form and the disconnect button of its row, which the
server carries out, the events page showing that disconnection, and the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import socketio as psio

import fastsio
from browser.test_browser import CHROMIUM, run_browser

HERE = Path(__file__).resolve().parent
DIST = HERE / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
PLAYWRIGHT = HERE.parent / "browser" / "node_modules" / "playwright-core"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (`make browser`, as root)",
    ),
    pytest.mark.skipif(
        not PLAYWRIGHT.is_dir(), reason="tests/browser/node_modules is missing: run `make node` (make test does)"
    ),
    pytest.mark.skipif(
        not (DIST / "index.html").is_file(), reason="tests/admin/node_modules is missing: run `make node` (make test does)"
    ),
]

LOGIN = {"username": "admin", "password": "correct horse"}


def ui_files() -> dict[str, str]:
    """The built UI as ``static_files``: its page and its folders."""
    files = {"/": str(DIST / "index.html"), "/favicon.png": str(DIST / "favicon.png")}
    for folder in ("js", "css", "img"):
        files[f"/{folder}/"] = str(DIST / folder)
    return files


def text_js(*needles: str) -> str:
    """A page expression: the page's text contains every one of ``needles``."""
    return " && ".join(f"document.body.innerText.includes({json.dumps(n)})" for n in needles)


async def test_admin_ui_in_chromium(start_server: Any) -> None:
    """Verify the UI logs in (after refusing a wrong password), lists the connected
    sockets with their namespace's rooms, and that its disconnect button disconnects
    the socket on the server."""
    pages = fastsio.Server(static_files=ui_files())
    page_url = await start_server(pages)
    sio = fastsio.Server(cors_allowed_origins=[page_url])

    @sio.on("connect")
    def connect(sock: fastsio.Socket, auth: dict[str, Any]) -> None:
        sock.join("watched-room")

    sio.of("/chat").on("connect", lambda sock, auth: None)
    sio.instrument(auth=LOGIN, server_stats_interval=0.5)
    url = await start_server(sio)

    clients = [psio.AsyncClient(reconnection=False) for _ in range(2)]
    for client in clients:
        await client.connect(url, namespaces=["/", "/chat"], wait_timeout=5)
    keep, kick = (client.get_sid("/") for client in clients)
    joined: list[str] = []

    class RoomLog:
        """An observer (fastsio.observers) recording who joins ``ui-room``."""

        def room_joined(self, sock: fastsio.Socket, room: str) -> None:
            if room == "ui-room":
                joined.append(sock.id)

        def __getattr__(self, name: str) -> Any:
            return lambda *args: None

    sio.observe(RoomLog())
    disconnected = asyncio.Event()
    clients[1].on("disconnect", lambda *args: disconnected.set())

    dialog_input = ".v-dialog input"
    steps = [
        {"op": "wait", "js": "document.querySelectorAll('.v-dialog input').length >= 3"},
        {"op": "fill", "sel": f"{dialog_input} >> nth=0", "text": url},
        {"op": "fill", "sel": f"{dialog_input} >> nth=1", "text": LOGIN["username"]},
        {"op": "fill", "sel": ".v-dialog input[type=password]", "text": "wrong"},
        {"op": "click", "sel": ".v-dialog button[type=submit]"},
        {"op": "wait", "js": "document.querySelector('.v-dialog .red--text') !== null"},
        {"op": "eval", "js": "document.querySelector('.v-dialog .red--text').innerText", "as": "refused"},
        {"op": "fill", "sel": ".v-dialog input[type=password]", "text": LOGIN["password"]},
        {"op": "click", "sel": ".v-dialog button[type=submit]"},
        # the sockets page of "/" lists both clients' sockets
        {"op": "wait", "js": text_js(keep, kick), "timeout": 15000},
        {"op": "eval", "js": "localStorage.getItem('session_id')", "as": "session"},
        {"op": "eval", "js": "document.querySelector('tbody').innerText", "as": "sockets"},
        # its details page (a click on its row), and its "join a room" form
        {"op": "click", "sel": f"tbody tr:has-text({json.dumps(kick)}) td >> nth=0"},
        {"op": "wait", "js": "document.querySelector('.select-room') !== null"},
        {"op": "fill", "sel": ".select-room input[type=text]", "text": "ui-room"},
        {"op": "click", "sel": "form:has(.select-room) button[type=submit]"},
        {"op": "waitText", "sel": "td", "text": "ui-room", "timeout": 15000},
        # back to the list, and the disconnect button of its row
        {"op": "eval", "js": "location.hash = '#/sockets/'", "as": "back"},
        {"op": "wait", "js": text_js(keep, kick), "timeout": 15000},
        {"op": "click", "sel": f"tbody tr:has-text({json.dumps(kick)}) button"},
        {"op": "eval", "js": "location.hash = '#/sockets/'", "as": "again"},
        {"op": "wait", "js": f"{text_js(keep)} && !({text_js(kick)})", "timeout": 15000},
        # the events page of "/": the disconnection, with the socket's id
        {"op": "eval", "js": "location.hash = '#/events/'", "as": "events"},
        {"op": "wait", "js": text_js(kick), "timeout": 15000},
        # the rooms page: the application's room
        {"op": "eval", "js": "location.hash = '#/rooms/'", "as": "nav"},
        {"op": "wait", "js": text_js("watched-room"), "timeout": 15000},
        # the dashboard: this server and its namespaces
        {"op": "eval", "js": "location.hash = '#/'", "as": "nav2"},
        {"op": "wait", "js": text_js("/chat"), "timeout": 15000},
    ]
    job = {"name": "admin", "url": f"{page_url}/#/sockets/", "steps": steps}
    results = await run_browser([job], timeout=40)
    result = results["admin"]
    assert result["ok"], json.dumps(result, indent=1)
    values = result["values"]
    assert "credentials" in values["refused"].lower(), values["refused"]
    assert isinstance(values["session"], str) and len(values["session"]) == 16
    assert keep in values["sockets"] and kick in values["sockets"]
    assert joined == [kick]  # the form's join, carried out by the server
    await asyncio.wait_for(disconnected.wait(), 10)
    assert kick not in sio.sockets.sockets and keep in sio.sockets.sockets
    for client in clients:
        await client.disconnect()
