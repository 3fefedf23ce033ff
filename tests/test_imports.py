"""The public surface, and which twins a fresh interpreter actually loads.

The subprocess tests run ``python -I`` (no ``PYTHONPATH``, no current
directory on ``sys.path``), so they import the *installed* fastsio, as a user
would: an editable install built in place, or a wheel.  When extensions are
expected (``FASTSIO_NO_EXTENSIONS`` unset, CPython, ``--c-extensions`` not
turned off) every twin must be the compiled one, so a broken or missing build
never hides behind the pure fallback (STYLE 2.8).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fastsio
from fastsio import _speedups

PACKAGE = Path(fastsio.__file__).parent
ROOT = PACKAGE.parent
# Every twin has a selector beside its pure twin, registered with the loader at import.
TWINS = tuple(sorted(_speedups.SOURCES))
# The pure twins' and selectors' files, as their selectors registered them.
PURE_FILES = {name: ROOT / (module.replace(".", "/") + ".py") for name, module in _speedups.SOURCES.items()}
SELECTOR_FILES = {name: path.with_name(path.name[: -len("_py.py")] + ".py") for name, path in PURE_FILES.items()}

# Run in a child: print {"impl": IMPLEMENTATIONS, "reasons": REASONS} as JSON.
REPORT = (
    "import json, fastsio, fastsio._speedups as s; "
    "print(json.dumps({'impl': dict(fastsio.speedups), 'reasons': dict(fastsio.speedups.reasons)}))"
)

# Run in a child: make one compiled twin unimportable, then import fastsio.
BLOCK_EIO_C = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "fastsio._speedups.eio_c":
            raise ImportError("blocked for the test")
        return None
sys.meta_path.insert(0, Block())
"""


def child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Return the finished ``python -I -c code`` with ``env`` on top of a clean FASTSIO_* environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTSIO_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-I", "-c", code], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def report(prefix: str = "", **env: str) -> dict[str, Any]:
    """Return the IMPLEMENTATIONS and REASONS a fresh interpreter ends up with."""
    proc = child(prefix + REPORT, **env)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def extensions_expected(config: pytest.Config) -> bool:
    """Return whether this run expects the compiled twins."""
    return not _speedups.NO_EXTENSIONS and config.getoption("--c-extensions", default=True) is not False


# ---------------------------------------------------------------- public surface


def test_all_names_exist() -> None:
    """Verify every name in ``fastsio.__all__`` exists and ``__all__`` is a sorted-free tuple of str."""
    assert isinstance(fastsio.__all__, tuple)
    for name in fastsio.__all__:
        assert hasattr(fastsio, name), name


def test_star_import() -> None:
    """Verify ``from fastsio import *`` binds exactly ``__all__``."""
    namespace: dict[str, Any] = {}
    exec("from fastsio import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(fastsio.__all__)


def test_dir_lists_the_public_names() -> None:
    """Verify ``dir(fastsio)`` shows the public names."""
    assert set(fastsio.__all__) <= set(dir(fastsio))


def test_speedups_report() -> None:
    """Verify ``fastsio.speedups`` says, per twin, "cython" or "python", with a reason for each."""
    assert TWINS == (
        "eio", "eio3", "engine", "fanout", "flow_control", "http", "request", "session", "sio", "socket", "timers", "websocket", "wsframe",
    )
    for name in TWINS:
        assert PURE_FILES[name].is_file(), f"twin {name}: no pure twin at {PURE_FILES[name]}"
        assert SELECTOR_FILES[name].is_file(), f"twin {name} has no selector beside its pure twin"
        pxd_or_pyx = [PACKAGE / "_speedups" / f"{name}_c.pxd", PACKAGE / "_speedups" / f"{name}_c.pyx"]
        assert any(p.is_file() for p in pxd_or_pyx), f"twin {name} has no compiled side"
    assert sorted(fastsio.speedups) == list(TWINS)
    assert dict(fastsio.speedups) == _speedups.IMPLEMENTATIONS
    assert set(fastsio.speedups.values()) <= {"cython", "python"}
    assert sorted(fastsio.speedups.reasons) == list(TWINS)
    assert all(fastsio.speedups.reasons.values())


def test_selectors_bind_the_reported_twin() -> None:
    """Verify each selector's names come from the twin that ``speedups`` reports."""
    from fastsio import socket
    from fastsio._server import engine, flow_control, http, outbox, request, timers, websocket
    from fastsio.protocol.engineio import packets, session, v3
    from fastsio.protocol.socketio import packets as sio_packets
    from fastsio.protocol.websocket import frames

    picked = {
        "eio": packets.decode_packet,
        "eio3": v3.decode_packet,
        "engine": engine.Engine,
        "fanout": outbox.fanout,
        "flow_control": flow_control.FlowControl,
        "http": http.Connection,
        "request": request.parse_query,
        "session": session.Session,
        "sio": sio_packets.decode,
        "socket": socket.Socket,
        "timers": timers.TimerWheel,
        "websocket": websocket.WebSocketConnection,
        "wsframe": frames.build_frame,
    }
    assert set(picked) == set(TWINS)
    for name, function in picked.items():
        if fastsio.speedups[name] == "cython":
            assert function.__module__ == _speedups.compiled_module(name), name
        else:
            assert function.__module__ == _speedups.SOURCES[name], name


def test_only_selectors_name_twins() -> None:
    """Verify no module outside the selectors imports a ``_c`` or ``_py`` twin (STYLE 2.3)."""
    twin_modules = {_speedups.compiled_module(name).rpartition(".")[2] for name in TWINS}
    twin_modules |= {module.rpartition(".")[2] for module in _speedups.SOURCES.values()}
    allowed = set(SELECTOR_FILES.values())
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [alias.name for alias in node.names]
            if any(part in twin_modules for name in names for part in name.split(".")):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


#: what the sans-I/O protocol package must not import (STYLE: time is passed in)
IO_MODULES = frozenset(("asyncio", "socket", "time", "selectors", "ssl", "threading", "uvloop"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Return ``(line, absolute top-level module)`` of every absolute import in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.partition(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.partition(".")[0]))
    return found


def test_protocol_is_sans_io() -> None:
    """Verify nothing under ``fastsio/protocol/`` imports an I/O or clock module (type-checking imports included)."""
    offenders = []
    for path in sorted((PACKAGE / "protocol").rglob("*.py")):
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            if module in IO_MODULES:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert offenders == []


def test_the_sans_io_check_sees_an_import() -> None:
    """Verify the check above catches ``import time``, ``from asyncio import x`` and ``import socket as s``."""
    tree = ast.parse("import json\nimport time\nfrom asyncio import sleep\nimport socket as s\nfrom . import frames\n")
    assert [m for _, m in imported_modules(tree) if m in IO_MODULES] == ["time", "asyncio", "socket"]


def test_speedups_holds_only_the_compiled_side() -> None:
    """Verify ``fastsio/_speedups/`` holds only ``__init__.py`` (the loader), ``.pyx``, ``.pxd`` and ``.pxi``.

    Build outputs (``.so``/``.pyd``, generated ``.c``, ``__pycache__``) are ignored;
    pure twins and selectors live beside their features.
    """
    speedups = PACKAGE / "_speedups"
    ignored = (".so", ".pyd", ".c", ".pyc")
    unexpected = []
    for path in sorted(speedups.iterdir()):
        if path.name == "__pycache__" or path.name.endswith(ignored):
            continue
        if path.name == "__init__.py" or (path.is_file() and path.suffix in (".pyx", ".pxd", ".pxi")):
            continue
        unexpected.append(path.name)
    assert unexpected == []


def test_speedups_reasons_is_a_mapping() -> None:
    """Verify ``fastsio.speedups.reasons`` is a read-only mapping with one non-empty reason per twin."""
    from collections.abc import Mapping

    reasons = fastsio.speedups.reasons
    assert isinstance(reasons, Mapping)
    assert sorted(reasons) == list(TWINS) == sorted(fastsio.speedups)
    for name, reason in reasons.items():
        assert isinstance(reason, str) and reason, name
    with pytest.raises(TypeError):
        reasons["wsframe"] = "changed"  # type: ignore[index]


def test_no_compiled_twin_source_in_the_package() -> None:
    """Verify the package holds no importable ``x_c.py`` (compiled twins are built from the pure twins)."""
    assert sorted(p.name for p in (PACKAGE / "_speedups").glob("*_c.py")) == []


def test_py_typed_is_shipped() -> None:
    """Verify the package is marked typed (PEP 561)."""
    assert (PACKAGE / "py.typed").is_file()


def test_import_time_budget() -> None:
    """Verify ``import fastsio`` stays cheap in a fresh interpreter (generous budget: 2 s)."""
    proc = child("import time; t = time.perf_counter(); import fastsio; print(time.perf_counter() - t)")
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) < 2.0


# ---------------------------------------------------------------- which twin loads


def test_compiled_twins_load_by_default(request: pytest.FixtureRequest) -> None:
    """Verify a fresh interpreter uses every compiled twin when extensions are expected."""
    if not extensions_expected(request.config):
        pytest.skip("pure run: FASTSIO_NO_EXTENSIONS is set (or --no-c-extensions, or not CPython)")
    result = report()
    assert result["impl"] == dict.fromkeys(TWINS, "cython"), result["reasons"]
    assert set(result["reasons"].values()) == {"compiled twin loaded"}


def test_no_extensions_forces_pure() -> None:
    """Verify FASTSIO_NO_EXTENSIONS=1 gives every twin "python", and says why."""
    result = report(FASTSIO_NO_EXTENSIONS="1")
    assert result["impl"] == dict.fromkeys(TWINS, "python")
    assert set(result["reasons"].values()) == {"FASTSIO_NO_EXTENSIONS is set"}


def test_missing_twin_falls_back_and_says_why(request: pytest.FixtureRequest) -> None:
    """Verify a compiled twin that cannot be imported falls back to pure, with the reason recorded."""
    result = report(BLOCK_EIO_C)
    assert result["impl"]["eio"] == "python"
    assert "compiled twin not importable" in result["reasons"]["eio"]
    assert "blocked for the test" in result["reasons"]["eio"]
    if extensions_expected(request.config):
        assert result["impl"]["wsframe"] == "cython"


# Run in a child: make the compiled fan-out twin (the base of the compiled connections) unimportable.
BLOCK_FANOUT_C = BLOCK_EIO_C.replace("fastsio._speedups.eio_c", "fastsio._speedups.fanout_c")


def test_compiled_subtypes_fall_back_with_their_base(request: pytest.FixtureRequest) -> None:
    """Verify the compiled connection types, subtypes of the compiled ``Outbox``, fall
    back to their pure twins when the fan-out twin is pure (a compiled subtype of a pure
    class cannot be made), each with its reason, and the server still starts."""
    if not extensions_expected(request.config):
        pytest.skip("pure run")
    result = report(BLOCK_FANOUT_C)
    assert result["impl"]["fanout"] == "python"
    assert "compiled twin not importable" in result["reasons"]["fanout"]
    for name in ("flow_control", "http", "websocket"):
        assert result["impl"][name] == "python", name
        assert "is the pure one" in result["reasons"][name], name
    assert result["impl"]["socket"] == result["impl"]["engine"] == "cython"
    proc = child(BLOCK_FANOUT_C + "import asyncio, fastsio\n"
                 "async def main():\n"
                 "    sio = fastsio.Server()\n"
                 "    await sio.start('127.0.0.1', 0)\n"
                 "    await sio.stop()\n"
                 "asyncio.run(main())\nprint('ok')")
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


def test_require_extensions_makes_a_missing_twin_an_error(request: pytest.FixtureRequest) -> None:
    """Verify FASTSIO_REQUIRE_EXTENSIONS=1 turns a missing compiled twin into an ImportError."""
    proc = child(BLOCK_EIO_C + "import fastsio", FASTSIO_REQUIRE_EXTENSIONS="1")
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "is missing and FASTSIO_REQUIRE_EXTENSIONS is set" in proc.stderr
    if extensions_expected(request.config):
        # the others are built: the blocked one is the one reported
        assert "compiled twin 'eio' is missing" in proc.stderr


def test_require_extensions_loads_everything(request: pytest.FixtureRequest) -> None:
    """Verify FASTSIO_REQUIRE_EXTENSIONS=1 imports cleanly when the build is complete."""
    if not extensions_expected(request.config):
        pytest.skip("pure run")
    result = report(FASTSIO_REQUIRE_EXTENSIONS="1")
    assert result["impl"] == dict.fromkeys(TWINS, "cython")


def test_no_extensions_wins_over_require() -> None:
    """Verify asking for pure Python and for required extensions at once gives pure Python."""
    result = report(FASTSIO_NO_EXTENSIONS="1", FASTSIO_REQUIRE_EXTENSIONS="1")
    assert result["impl"] == dict.fromkeys(TWINS, "python")


def test_compiled_twins_are_fresh(request: pytest.FixtureRequest) -> None:
    """Verify every compiled module was built from the source beside it (no stale in-place build).

    setup.py stamps each compiled module with the SHA-256 of its source (the pure
    twin, or the ``.pyx``).  After editing a pure twin, rebuild:
    ``make install`` or ``pip install -e .``.
    """
    if not extensions_expected(request.config):
        pytest.skip("pure run")
    speedups = PACKAGE / "_speedups"
    sources = {f"{name}_c": PURE_FILES[name] for name in TWINS}
    sources.update({path.stem: path for path in speedups.glob("*.pyx")})
    stale = []
    for module_name, source in sorted(sources.items()):
        if not source.exists():
            continue  # a twin with a hand-written .pyx: checked under the .pyx's name
        try:
            module = importlib.import_module(f"fastsio._speedups.{module_name}")
        except ImportError:
            continue  # not built: test_compiled_twins_load_by_default reports it
        if module.__file__ == str(source) or module.__file__.endswith(".py"):
            continue
        if getattr(module, "SOURCE_SHA256", None) != hashlib.sha256(source.read_bytes()).hexdigest():
            stale.append(module_name)
    assert stale == [], f"compiled from an older source, rebuild (pip install -e .): {stale}"
