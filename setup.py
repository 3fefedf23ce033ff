"""Extension modules only; all metadata lives in pyproject.toml.

The compiled twins of ``fastsio/_speedups``:

* "One source, two builds" (STYLE 2.2): every twin without a hand-written
  ``x_c.pyx`` (``wsframe``, ``eio``, ``eio3``, ``sio``) is its pure twin, which
  lives with its feature (the first line of ``_speedups/x_c.pxd`` names it),
  compiled as ``fastsio._speedups.x_c`` with that augmenting ``.pxd``.  The
  source is copied to ``build/cython/fastsio/_speedups/x_c.py`` beside copies of
  the ``.pxd`` files and cythonized there, so the package never holds an
  importable ``x_c.py``: an unbuilt tree imports the pure twin or nothing.
* Declarations shared by a compiled type and its compiled subtypes (``fanout_types.pxi``,
  ``flow_control_types.pxi``) are included both by the implementing module's ``.pxd``
  and by its selector's (``fastsio/_server/outbox.pxd``, ``flow_control.pxd``), which
  are staged under ``build/cython/fastsio/_server``: the subtypes' pure twins import
  their base from the selector.
* Hand-written Cython for pointer-level code: ``_frame.pyx`` (unmasking, frame assembly),
  ``_jsonenc.pyx`` (the JSON writer of the Socket.IO codec), ``fanout_c.pyx``.

Switches (environment):

* ``FASTSIO_NO_EXTENSIONS=1``: build nothing (a pure ``py3-none-any`` wheel);
  also automatic off CPython.
* ``FASTSIO_REQUIRE_EXTENSIONS=1``: a failed extension build fails the install.
  Otherwise each extension is ``optional``: without a C compiler the install
  warns and leaves a working pure-Python package.
* ``FASTSIO_CYTHON_TRACE=1``: line tracing for coverage of the compiled code.
* ``FASTSIO_DEBUG_BUILD=1``: ``-O0 -g3`` and assertions on.

Generated C lives under ``build/cython`` and is never committed or shipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
os.chdir(HERE)
SPEEDUPS = Path("fastsio", "_speedups")
SERVER = Path("fastsio", "_server")
STAGE = Path("build", "cython")

NO_EXTENSIONS = bool(os.environ.get("FASTSIO_NO_EXTENSIONS")) or sys.implementation.name != "cpython"
REQUIRE_EXTENSIONS = bool(os.environ.get("FASTSIO_REQUIRE_EXTENSIONS"))
TRACE = bool(os.environ.get("FASTSIO_CYTHON_TRACE"))
DEBUG = bool(os.environ.get("FASTSIO_DEBUG_BUILD"))

# Hand-written Cython modules (pointer-level code).  Every other compiled twin
# is declared by a ``<name>_c.pxd`` whose first line names its pure source
# (``# cython-source: fastsio/protocol/websocket/frames_py.py``): that source is
# compiled as ``fastsio._speedups.<name>_c``, typed by the .pxd, so that a new
# twin gets its compiled build without a change here.
HAND_WRITTEN = ("_frame", "_jsonenc", "fanout_c")
SOURCE_TAG = "# cython-source:"


def _shared_sources() -> dict[str, Path]:
    """Return compiled module name (``wsframe_c``) -> the pure source it is built from."""
    found: dict[str, Path] = {}
    for pxd in sorted(SPEEDUPS.glob("*_c.pxd")):
        first = pxd.read_text().splitlines()[0] if pxd.read_text() else ""
        if first.startswith(SOURCE_TAG):
            found[pxd.stem] = Path(first[len(SOURCE_TAG) :].strip())
    return found


SHARED_SOURCE = _shared_sources()

DIRECTIVES = {
    "language_level": 3,
    "embedsignature": True,
    "freethreading_compatible": True,
    # Types come from the .pxd files only; the annotations of the pure twins
    # are for type checkers (``str | bytes`` and friends).
    "annotation_typing": False,
}
MACROS: list[tuple[str, str | None]] = []
if TRACE:
    DIRECTIVES["linetrace"] = True
    MACROS.append(("CYTHON_TRACE_NOGIL", "1"))
CFLAGS = ["-O0", "-g3", "-UNDEBUG"] if DEBUG else []


def _missing_compiler() -> str | None:
    """Return the C compiler (or linker) command when it is not on PATH, else None.

    ``optional=True`` turns a failed compilation into a warning, but setuptools
    lets the "No such file" of a compiler that is not installed escape, failing
    the install; so a missing compiler is detected here and the build goes pure.
    """
    if sys.platform == "win32":
        return None  # MSVC is found by setuptools itself
    import shlex
    import sysconfig

    for var in ("CC", "LDSHARED"):
        command = os.environ.get(var) or sysconfig.get_config_var(var)
        if command:
            exe = shlex.split(command)[0]
            if shutil.which(exe) is None:
                return exe
    return None


def _sync(source: Path, target: Path, stamp: bool = False) -> bool:
    """Copy ``source`` to ``target`` unless it already holds the same bytes; return whether it changed.

    ``stamp`` appends ``SOURCE_SHA256``, the hash of ``source``, so that the tests
    can tell a compiled twin built from an older source (a stale in-place build).
    """
    data = source.read_bytes()
    if stamp:
        digest = hashlib.sha256(data).hexdigest()
        data += f"\n\n# Appended by setup.py: the source this module was compiled from.\nSOURCE_SHA256 = {digest!r}\n".encode()
    if target.exists() and target.read_bytes() == data:
        return False
    target.write_bytes(data)
    return True


def _stage() -> list[Path]:
    """Copy the Cython sources to STAGE; return the module sources to cythonize there.

    Staleness is decided by content, not by mtimes (a source can change without
    its mtime moving past the generated C): the C of a changed source, or of
    every source when a ``.pxd`` changed, is deleted so that cythonize makes it again.
    """
    package = STAGE / SPEEDUPS
    package.mkdir(parents=True, exist_ok=True)
    # the selectors' declarations too (fastsio/_server/outbox.pxd, flow_control.pxd: the
    # extension types that compiled twins subclass, as the selectors export them), and
    # the .pxi files that both kinds include
    server = STAGE / SERVER
    server.mkdir(parents=True, exist_ok=True)
    # Empty package markers so that Cython names the modules fastsio._speedups.*.
    for marker in (STAGE / "fastsio" / "__init__.py", package / "__init__.py", server / "__init__.py"):
        if not marker.exists():
            marker.write_text("")
    declarations = [(pxd, package / pxd.name) for pxd in sorted([*SPEEDUPS.glob("*.pxd"), *SPEEDUPS.glob("*.pxi")])]
    declarations += [(pxd, server / pxd.name) for pxd in sorted(SERVER.glob("*.pxd"))]
    pxd_changed = [_sync(source, target) for source, target in declarations]
    pairs = [(source, package / f"{module}.py") for module, source in SHARED_SOURCE.items()]
    pairs += [(SPEEDUPS / f"{name}.pyx", package / f"{name}.pyx") for name in HAND_WRITTEN]
    for source, target in pairs:
        if _sync(source, target, stamp=True) or any(pxd_changed):
            target.with_suffix(".c").unlink(missing_ok=True)
    return [target for _, target in pairs]


def _extensions() -> list[Extension]:
    from Cython.Build import cythonize
    from Cython.Compiler import Options

    Options.warning_errors = True  # like aiohttp's `cython -Werror`
    extensions = [
        Extension(
            ".".join((*SPEEDUPS.parts, source.stem)),
            [str(source)],
            define_macros=MACROS,
            extra_compile_args=CFLAGS,
            optional=not REQUIRE_EXTENSIONS,
        )
        for source in _stage()
    ]
    compiled = cythonize(extensions, compiler_directives=DIRECTIVES, include_path=[str(STAGE)], quiet=True)
    for extension in compiled:
        # cythonize() builds new Extension objects and drops ``optional``.
        extension.optional = not REQUIRE_EXTENSIONS
    return compiled


MISSING = None if NO_EXTENSIONS or REQUIRE_EXTENSIONS else _missing_compiler()
if NO_EXTENSIONS:
    print("*** fastsio: Pure Python build (FASTSIO_NO_EXTENSIONS or not CPython) ***")
    ext_modules: list[Extension] = []
elif MISSING is not None:
    print(
        f"*** fastsio: Pure Python build: WARNING: no C compiler ({MISSING!r} is not on PATH); "
        "installing the pure-Python twins, which are slower. Install a C compiler and "
        "reinstall for the compiled ones (FASTSIO_REQUIRE_EXTENSIONS=1 makes this an error). ***",
        file=sys.stderr,
    )
    ext_modules = []
else:
    print("*** fastsio: Accelerated build (Cython twins; optional unless FASTSIO_REQUIRE_EXTENSIONS) ***")
    ext_modules = _extensions()

setup(ext_modules=ext_modules)
