"""Hostile requests for static files (``static_files`` with a directory): path
traversal through ``..``, absolute parts, encoded dots and a symbolic link out of the
directory.  Each is answered 404 (no oracle: as a missing file) and logged; the file
outside is never served.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from _hostile import Case, Conn, assert_logged, params

OUTSIDE = "outside the static directory"
SECRET = b"the secret outside the static directory"

CASES = [
    Case("dotdot", "/static/../secret.txt", 404, OUTSIDE),
    Case("dotdot-deep", "/static/a/../../secret.txt", 404, OUTSIDE),
    Case("dotdot-many", "/static/" + "../" * 30 + "etc/passwd", 404, OUTSIDE),
    Case("absolute", "/static//etc/passwd", 404, OUTSIDE),
    Case("absolute-secret", "/static//{root}/secret.txt", 404, OUTSIDE),
    Case("symlink-out", "/static/link.txt", 404, OUTSIDE),
    Case("symlink-dir-out", "/static/linkdir/secret.txt", 404, OUTSIDE),
    Case("dotdot-prefix-sibling", "/static/../public-evil/x.txt", 404, OUTSIDE),
    # not decoded, so not traversal: a file of that literal name, missing
    Case("encoded-dots", "/static/%2e%2e/secret.txt", 404, ""),
    Case("backslashes", "/static/..\\secret.txt", 404, ""),
]


@pytest.fixture
async def static_server(serve: Any, tmp_path: Path) -> Any:
    public = tmp_path / "public"
    public.mkdir()
    (public / "index.html").write_text("<p>hi</p>")
    (public / "a").mkdir()
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "public-evil").mkdir()
    (tmp_path / "public-evil" / "x.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", public / "link.txt")
    os.symlink(tmp_path, public / "linkdir")
    served = await serve(static_files={"/static/": str(public)})
    served.root = str(tmp_path).lstrip("/")  # type: ignore[attr-defined]
    return served


@pytest.mark.parametrize("case", params(CASES))
async def test_static_traversal(static_server: Any, logs: pytest.LogCaptureFixture, case: Case) -> None:
    """Verify the row is answered 404, never with the file outside, and (for a path
    that resolves outside the directory) logged."""
    conn = await Conn.open(static_server.url)
    try:
        r = await conn.request("GET", case.data.replace("{root}", static_server.root))
        assert r.status == case.expect and SECRET not in r.body, r
        ok = await conn.request("GET", "/static/")
        assert ok.status == 200 and ok.body == b"<p>hi</p>"
    finally:
        conn.close()
    if case.log:
        assert_logged(logs, case.log)
    else:
        assert OUTSIDE not in logs.text
