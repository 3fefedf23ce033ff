"""The options list of docs/options.md, generated from fastsio/options.py (``make readme``
rewrites it; the list lived in the README before the documentation site, hence the name).

``python tests/readme_options.py`` puts ``fastsio.cli.render_options_markdown()`` between the
page's ``<!-- options:begin -->`` and ``<!-- options:end -->`` markers;
``tests/test_first_hour.py`` checks that the page holds exactly that.
"""

from __future__ import annotations

import sys
from pathlib import Path

OPTIONS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "options.md"
BEGIN = "<!-- options:begin -->\n"
END = "\n<!-- options:end -->"


def current_block(text: str) -> str:
    """Return the page's options list (between the markers)."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END, start)]


def expected_block() -> str:
    """Return the options list as fastsio.options documents it."""
    from fastsio.cli import render_options_markdown

    return render_options_markdown()


def rewrite(path: Path = OPTIONS_PAGE) -> bool:
    """Rewrite the page's options list; return whether it changed."""
    text = path.read_text(encoding="utf-8")
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    new = text[:start] + expected_block() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    changed = rewrite()
    print(f"docs/options.md options list {'updated' if changed else 'already up to date'}")
    sys.exit(0)
