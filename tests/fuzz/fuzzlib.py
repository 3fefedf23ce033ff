"""Shared pieces of the fuzz harnesses in this folder.

Each harness ``fuzz_<target>.py`` defines:

* ``setup()``: import what it fuzzes (under atheris, inside
  ``atheris.instrument_imports`` so the pure twins feed coverage back);
* ``test_one_input(data: bytes)``: one run; it raises (a crash) when a twin
  fails in a way it must not, or when the two twins disagree;
* ``SEEDS``: a few interesting inputs to start a corpus from.

``test_one_input`` needs no atheris, so ``test_fuzz.py`` replays the seeds and
the regression inputs everywhere, and runs a short atheris session per target
where atheris is installed.  Longer runs by hand: see README.md.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


#: Set by ``test_fuzz.py`` under ``pytest --no-c-extensions``: fuzz the pure twins alone.
PURE_ONLY = False


def twins(name: str) -> tuple[ModuleType, ModuleType | None]:
    """Return ``(pure, compiled)`` twins of ``name``; compiled is None only in a pure run.

    A pure run is ``FASTSIO_NO_EXTENSIONS`` set (or not CPython), or :data:`PURE_ONLY`.
    Otherwise the compiled twin is expected: when it does not import, this raises
    ImportError (a broken build fails the harness, it is not fuzzed as pure alone).

    Raises:
        ImportError: the compiled twin is expected but does not import.
    """
    import fastsio  # noqa: F401  (runs the selectors: SOURCES is complete)
    from fastsio._speedups import NO_EXTENSIONS, SOURCES, compiled_module

    pure = importlib.import_module(SOURCES[name])
    if NO_EXTENSIONS or PURE_ONLY:
        return pure, None
    try:
        return pure, importlib.import_module(compiled_module(name))
    except ImportError as exc:
        raise ImportError(
            f"compiled twin {compiled_module(name)} does not import ({exc}); rebuild (pip install -e .), "
            "or set FASTSIO_NO_EXTENSIONS=1 to fuzz the pure twin alone"
        ) from exc


def outcome(fn: Callable[..., Any], *args: Any, allowed: tuple[type[BaseException], ...] = ()) -> Any:
    """Return ``("ok", result)`` or ``("raises", class name, code)``; re-raise what is not ``allowed``.

    ``allowed`` holds exception classes *by name*, since each twin has its own.
    """
    try:
        return ("ok", fn(*args))
    except Exception as exc:
        if type(exc).__name__ not in {cls.__name__ for cls in allowed}:
            raise
        return ("raises", type(exc).__name__, getattr(exc, "code", None))


def same(py: Any, c: Any, what: str) -> None:
    """Raise AssertionError (a fuzzer crash) when the twins disagree."""
    if py != c:
        raise AssertionError(f"twins disagree on {what}:\n  py: {py!r}\n  c:  {c!r}")


def main(setup: Callable[[], None], test_one_input: Callable[[bytes], None], seeds: list[bytes]) -> None:
    """Run atheris on ``test_one_input`` with the command line's libFuzzer options.

    A corpus directory given on the command line that is empty or missing is
    first filled with ``seeds``.
    """
    import atheris

    for arg in sys.argv[1:]:
        if not arg.startswith("-"):
            corpus = Path(arg)
            if not corpus.exists() or not any(corpus.iterdir()):
                corpus.mkdir(parents=True, exist_ok=True)
                for i, seed in enumerate(seeds):
                    (corpus / f"seed-{i:03d}").write_bytes(seed)
    with atheris.instrument_imports(include=["fastsio"]):
        setup()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
