"""``python -m fastsio``: the ``fastsio`` command (see :mod:`fastsio.cli`)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
