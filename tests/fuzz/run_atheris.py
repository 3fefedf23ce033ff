"""Run every atheris harness of this folder for a while and print what each did
(``make fuzz DURATION=600``).

Each harness runs ``--duration`` seconds (at most ``--jobs`` at a time, under
``nice``), with its corpus kept in ``build/fuzz/corpus-<target>`` (a later run starts
from it) and its crashes in ``build/fuzz/artifacts/``.  The summary gives, per
harness, the inputs run (execs), atheris's coverage and features (``cov``/``ft``:
counters of the instrumented Python code and, in a native build, of the compiled
twins' C), the corpus size and the crashes found; the exit status is 1 when any
harness crashed.

``--native`` (the default where ``clang`` and atheris's ``asan_with_fuzzer.so`` are
found; ``--no-native`` to skip): the compiled twins are first built again with
``clang -fsanitize=address,fuzzer-no-link`` from a copy of the package in
``build/fuzz/native`` (``pip wheel``, unpacked there; the working tree's own build
is left alone; rebuilt only when the package's sources changed), and the harnesses import that build and run with
``LD_PRELOAD=asan_with_fuzzer.so``: libFuzzer then sees the C code's edges too (so
its mutations are guided by the compiled twins, not only by the pure ones) and
AddressSanitizer checks its memory accesses.  Without it the compiled twins run
uninstrumented: compared with the pure twins, but not guiding the fuzzer.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "build" / "fuzz"
TARGETS = ("wsframe", "eio", "eio3", "sio", "http")
MAX_LEN = {"http": 8192}
_STATUS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)")


def asan_runtime() -> Path | None:
    """atheris's ASan runtime with libFuzzer linked in, if this install has it."""
    try:
        import atheris
    except ImportError:
        return None
    path = Path(atheris.path()) / "asan_with_fuzzer.so"
    return path if path.exists() else None


def build_native() -> Path:
    """Build the compiled twins with ASan and libFuzzer's coverage; return the directory
    to put first on ``PYTHONPATH``."""
    native = OUT / "native"
    src, site = native / "src", native / "site"
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "fastsio").rglob("*.py"), *(ROOT / "fastsio").rglob("*.p[yx][xd]"), ROOT / "setup.py"]):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    stamp = native / "sources.sha256"
    if stamp.exists() and stamp.read_text() == digest.hexdigest() and site.is_dir():
        print("==> [fuzz] the instrumented build in build/fuzz/native is up to date", flush=True)
        return site
    shutil.rmtree(native, ignore_errors=True)
    src.mkdir(parents=True)
    shutil.copytree(ROOT / "fastsio", src / "fastsio", ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.c"))
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    flags = "-fsanitize=address,fuzzer-no-link -g -O1"
    env = dict(os.environ, CC="clang", CFLAGS=flags, LDSHARED=f"clang -shared {flags}", FASTSIO_REQUIRE_EXTENSIONS="1")
    env.pop("FASTSIO_NO_EXTENSIONS", None)
    print("==> [fuzz] building the compiled twins with clang -fsanitize=address,fuzzer-no-link", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(native / "wheel"), str(src)],
        env=env,
        check=True,
    )
    (wheel,) = (native / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    stamp.write_text(digest.hexdigest())
    return site


def start(target: str, duration: int, env: dict[str, str], extra: list[str]) -> subprocess.Popen[bytes]:
    """Start one harness (niced) for ``duration`` seconds; its output goes to a log file."""
    corpus = OUT / f"corpus-{target}"
    corpus.mkdir(parents=True, exist_ok=True)
    (OUT / "artifacts").mkdir(parents=True, exist_ok=True)
    log = open(OUT / f"{target}.log", "wb")
    cmd = [
        "nice", "-n", "15", sys.executable, str(HERE / f"fuzz_{target}.py"), str(corpus),
        f"-max_total_time={duration}", f"-max_len={MAX_LEN.get(target, 4096)}", "-print_final_stats=1",
        "-rss_limit_mb=4096", f"-artifact_prefix={OUT / 'artifacts'}/{target}-", *extra,
    ]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(OUT))


def summarise(target: str, seconds: float, returncode: int) -> dict[str, object]:
    """Read a harness's log: its last status line, final stats and crash files."""
    row: dict[str, object] = {"target": target, "seconds": round(seconds), "rc": returncode}
    text = (OUT / f"{target}.log").read_text("utf-8", "replace")
    for line in text.splitlines():
        m = _STATUS.match(line)
        if m:
            row.update(execs=int(m.group(1)), cov=int(m.group(3)), ft=int(m.group(4)), corpus_units=int(m.group(5)))
        s = _STAT.match(line)
        if s:
            row[s.group(1)] = int(s.group(2))
    if "number_of_executed_units" in row:
        row["execs"] = row["number_of_executed_units"]
    row["corpus_files"] = len(list((OUT / f"corpus-{target}").iterdir()))
    row["crashes"] = sorted(p.name for p in (OUT / "artifacts").glob(f"{target}-*"))
    return row


def main() -> None:
    """Parse the options, run the harnesses, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds per harness (default 600)")
    parser.add_argument("--jobs", type=int, default=2, help="harnesses at a time (default 2)")
    parser.add_argument("--native", action=argparse.BooleanOptionalAction, default=None,
                        help="instrument the compiled twins (default: where clang and atheris's ASan runtime are)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated (default: all)")
    parser.add_argument("libfuzzer", nargs="*", help="more libFuzzer options (after --)")
    args = parser.parse_args()
    runtime = asan_runtime()
    native = args.native if args.native is not None else bool(shutil.which("clang") and runtime)
    env = dict(os.environ)
    if native:
        if runtime is None or not shutil.which("clang"):
            sys.exit("--native needs clang on PATH and atheris's asan_with_fuzzer.so")
        env["PYTHONPATH"] = os.pathsep.join([str(build_native()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["LD_PRELOAD"] = str(runtime)
        env["ASAN_OPTIONS"] = "detect_leaks=0:allocator_may_return_null=1"
    twins = "pure twins only" if env.get("FASTSIO_NO_EXTENSIONS") else (
        "compiled twins instrumented (ASan + coverage)" if native else "compiled twins not instrumented")
    print(f"==> [fuzz] {args.duration} s per harness, {args.jobs} at a time; {twins}", flush=True)
    pending = [t for t in args.targets.split(",") if t]
    running: list[tuple[str, float, subprocess.Popen[bytes]]] = []
    rows = []
    while pending or running:
        while pending and len(running) < args.jobs:
            target = pending.pop(0)
            print(f"==> [fuzz] {target} started", flush=True)
            running.append((target, time.monotonic(), start(target, args.duration, env, args.libfuzzer)))
        time.sleep(1)
        for item in list(running):
            target, began, proc = item
            if proc.poll() is not None:
                running.remove(item)
                rows.append(summarise(target, time.monotonic() - began, proc.returncode))
                print(f"==> [fuzz] {target} done", flush=True)
    print(f"\n{'harness':8} {'seconds':>7} {'execs':>9} {'exec/s':>7} {'cov':>6} {'ft':>6} {'corpus':>6} {'peak MB':>7}  crashes")
    for r in rows:
        print(
            f"{r['target']!s:8} {r['seconds']!s:>7} {r.get('execs', '?')!s:>9} {r.get('average_exec_per_sec', '?')!s:>7} "
            f"{r.get('cov', '?')!s:>6} {r.get('ft', '?')!s:>6} {r['corpus_files']!s:>6} {r.get('peak_rss_mb', '?')!s:>7}  "
            f"{len(r['crashes'])} {' '.join(r['crashes'])}"  # type: ignore[arg-type]
        )
    sys.exit(1 if any(r["crashes"] or r["rc"] for r in rows) else 0)


if __name__ == "__main__":
    main()
