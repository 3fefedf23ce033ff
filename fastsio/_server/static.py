"""Serving a few static files beside the Socket.IO endpoint (demo pages, client bundles).

``static_files`` maps URL paths to files or directories::

    {"/": "examples/chat/index.html", "/static/": "examples/chat/static"}

A key ending in ``/`` maps a directory (no listing; a path that resolves outside it,
through ``..``, an absolute part or a symbolic link, is refused: 404, logged on the
connection's logger).  GET and HEAD only.
"""

from __future__ import annotations

import mimetypes
import os
from typing import TYPE_CHECKING, Any, Mapping

from .request import Request

if TYPE_CHECKING:
    from .engine import Exchange

__all__ = ("StaticFiles",)


class StaticFiles:
    """The ``static_files`` option as an HTTP fallback: ``static(conn, req)`` answers
    a GET or HEAD of a mapped path (404 otherwise).

    Args:
        mapping: URL paths to files or directories (a key ending in ``/`` maps a
            directory; a value may be ``{"filename": path}``).
    """

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self.files: dict[str, str] = {}
        self.dirs: list[tuple[str, str]] = []
        for url, target in mapping.items():
            path = target["filename"] if isinstance(target, dict) else target
            if url.endswith("/") and os.path.isdir(path):
                self.dirs.append((url, os.path.realpath(path)))
            else:
                self.files[url] = path
        self.dirs.sort(key=lambda d: -len(d[0]))

    def resolve(self, url_path: str) -> str | None:
        """The file served at ``url_path``, or None (``..`` outside a directory: None)."""
        if url_path in self.files:
            return self.files[url_path]
        for prefix, root in self.dirs:
            if url_path.startswith(prefix):
                rel = url_path[len(prefix) :] or "index.html"
                full = os.path.realpath(os.path.join(root, rel))
                if full.startswith(root + os.sep) and os.path.isfile(full):
                    return full
                return None
        return None

    def outside(self, url_path: str) -> bool:
        """Whether ``url_path`` falls under a mapped directory but resolves outside it
        (what :meth:`resolve` refuses; a missing file inside is not outside)."""
        for prefix, root in self.dirs:
            if url_path.startswith(prefix):
                full = os.path.realpath(os.path.join(root, url_path[len(prefix) :] or "index.html"))
                return not full.startswith(root + os.sep)
        return False

    def __call__(self, conn: Exchange, req: Request, next_: Any = None) -> None:
        path = self.resolve(req.path)
        if path is None and self.outside(req.path):
            conn.log.info("request from %s for %.200r refused: outside the static directory", conn.client, req.path)
        if path is None or req.method not in ("GET", "HEAD"):
            if next_ is not None:
                next_(conn, req)
                return
            conn.send_response(404, [("Content-Type", "text/plain")], b"Not Found")
            return
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            conn.send_response(404, [("Content-Type", "text/plain")], b"Not Found")
            return
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        headers = [("Content-Type", ctype), ("Cache-Control", "no-cache")]
        if req.method == "HEAD":
            conn.send_response(200, headers, b"", length=len(body))
            return
        conn.send_response(200, headers, body)
