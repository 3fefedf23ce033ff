"""The chat demo's second page, ``/v1``: the article's page on socket.io-client 1.2.0
(Engine.IO v3); the browser test of both pages lives in tests/browser."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import pytest

_app = pytest.importorskip(
    "examples.chat.app", reason="the demo lives in the source tree, not in the wheel"
)
NODE_MODULES, create_app = _app.NODE_MODULES, _app.create_app


async def test_v1_page_and_eio3(start_server: Any) -> None:
    """Verify /v1 loads the locally served socket.io-client 1.2.0, and the demo serves EIO3."""
    url = await start_server(create_app())
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/v1") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert '<script src="/static/socket.io-1.2.0.js"></script>' in page
        assert "ACK CALLBACK: " in page
        async with http.get(url + "/socket.io/?EIO=3&transport=polling&b64=1") as resp:
            assert resp.status == 200
            body = await resp.text()
        n, _, packet = body.partition(":")
        assert int(n) == len(packet) and packet.startswith('0{"sid":')
        bundle = os.path.join(NODE_MODULES, "socket.io-client-1.2.0", "socket.io.js")
        if not os.path.isfile(bundle):
            pytest.skip("examples/chat/node_modules lacks socket.io-client 1.2.0: run `make demo-assets`")
        async with http.get(url + "/static/socket.io-1.2.0.js") as resp:
            assert resp.status == 200
            assert "engine.io-client" in await resp.text()
