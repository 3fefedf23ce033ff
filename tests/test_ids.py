"""Random ids come from a pooled urandom block: unique, 20 URL-safe characters, and a forked
child never repeats its parent's ids.  The OPEN packet is what json.dumps would give."""

from __future__ import annotations

import json
import os
import re

import pytest

from fastsio import _ids
from fastsio.protocol.engineio import open_packet


def test_ids_unique_and_url_safe() -> None:
    ids = [_ids.random_id() for _ in range(3000)]  # crosses several pool blocks
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", i) for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_draws_new_ids() -> None:
    _ids.random_id()  # the parent has a block in use
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        os.write(w, " ".join(_ids.random_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(w)
    child = b""
    while chunk := os.read(r, 4096):
        child += chunk
    os.close(r)
    os.waitpid(pid, 0)
    parent = [_ids.random_id() for _ in range(5)]
    assert not set(child.decode().split()) & set(parent)


@pytest.mark.parametrize(
    "args",
    [
        ("abcdefghij0123456789", ["websocket"], 25000, 20000, 1000000),
        ("ünï\"code\\", [], 0, 1, 2),
        ("x", ["websocket", "polling"], 10**12, 5, 0),
    ],
)
def test_open_packet_is_json_dumps(args: tuple) -> None:
    keys = ("sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")
    assert open_packet(*args) == "0" + json.dumps(dict(zip(keys, args)), separators=(",", ":"))
