"""The README's options list, generated from fastsio/options.py (``make readme`` rewrites it).

``python tests/readme_options.py`` puts ``fastsio.cli.render_options_markdown()`` between the
README's ``<!-- options:begin -->`` and ``<!-- options:end -->`` markers;
``tests/test_first_hour.py`` checks that the README holds exactly that.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- options:begin -->\n"
END = "\n<!-- options:end -->"


def current_block(text: str) -> str:
    """Return the README's options list (between the markers)."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END, start)]


def expected_block() -> str:
    """Return the options list as fastsio.options documents it."""
    from fastsio.cli import render_options_markdown

    return render_options_markdown()


def rewrite(path: Path = README) -> bool:
    """Rewrite the README's options list; return whether it changed."""
    text = path.read_text(encoding="utf-8")
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    new = text[:start] + expected_block() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    changed = rewrite()
    print(f"README.md options list {'updated' if changed else 'already up to date'}")
    sys.exit(0)
