"""The documentation site's API reference covers every public name.

``make docs`` builds the site (``mkdocs build --strict``: a warning fails it) from ``docs/``;
its reference pages (``docs/reference/*.md``) render each public name from its docstring
with a ``::: dotted.name`` line. This test checks that every name the package exports
(``fastsio.__all__``, ``fastsio.adapters.__all__``, ``fastsio.compat.__all__``, the
exceptions) has such a line, and that every such line names something that exists, so the
reference cannot fall behind the code. The build itself is ``make docs``, which CI runs.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import fastsio
import fastsio.adapters
import fastsio.compat
import fastsio.exceptions

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference"
#: exported names that are modules or data, not documented objects of their own
NOT_OBJECTS = {"fastsio.__version__", "fastsio.adapters", "fastsio.speedups"}


def documented() -> set[str]:
    """The dotted names of the reference pages' ``:::`` lines."""
    names = set()
    for page in REFERENCE.glob("*.md"):
        names.update(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M))
    return names


def resolve(dotted: str) -> object:
    """Import ``dotted`` (a module, or an attribute of one)."""
    module, _, attr = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return getattr(importlib.import_module(module), attr)


def test_every_public_name_is_in_the_reference() -> None:
    """Verify each exported name is rendered by a reference page, under the name it is
    exported as or under the module that defines it."""
    pages = documented()
    missing = []
    for module in (fastsio, fastsio.adapters, fastsio.compat, fastsio.exceptions):
        for name in module.__all__:
            dotted = f"{module.__name__}.{name}"
            if dotted in NOT_OBJECTS:
                continue
            obj = getattr(module, name)
            home = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            if not ({dotted, home} & pages or any(resolve(p) is obj for p in pages)):
                missing.append(dotted)
    assert not missing, f"add a '::: name' line to a page of docs/reference for: {missing}"


def test_every_reference_line_names_something() -> None:
    """Verify no ``:::`` line names an object that does not exist."""
    for dotted in documented():
        resolve(dotted)
