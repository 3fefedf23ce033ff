"""mkdocs hooks of fastsio's documentation site (``mkdocs.yml`` names this file).

Two pages live outside ``docs/`` because their place is elsewhere: ``SECURITY.md`` at the
repository's root (where GitHub and security reviewers look for it) and the benchmark results,
``benchmarks/RESULTS.md`` with its chart ``RESULTS.png``, which the benchmark suite writes. The
``on_files`` hook adds them to the site as ``security.md``, ``results.md`` and ``RESULTS.png``,
read from where they are at build time, so the site never holds a stale copy.
``tests/test_first_hour.py`` reads ``EXTRA`` to check the pages' links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: site path -> the repository file it is made from
EXTRA = {
    "security.md": ROOT / "SECURITY.md",
    "results.md": ROOT / "benchmarks" / "RESULTS.md",
    "RESULTS.png": ROOT / "benchmarks" / "RESULTS.png",
}


def on_files(files: Any, config: Any) -> Any:
    """Add the pages of ``EXTRA`` to the site's files (mkdocs' ``Files``)."""
    from mkdocs.structure.files import File  # here: tests read EXTRA without mkdocs installed

    for name, source in EXTRA.items():
        if source.exists():
            files.append(File.generated(config, name, abs_src_path=str(source)))
    return files
