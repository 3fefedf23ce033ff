"""The ``fastsio`` command (also ``python -m fastsio``): run an app, benchmark, report.

::

    fastsio run app:sio [--host 127.0.0.1] [--port 8000] [--log-level info]
                        [--reload [--reload-dir DIR]] [--workers N]
                        [--certfile cert.pem [--keyfile key.pem]] [--app-dir DIR]
    fastsio bench [benchmark suite options ...]     # python -m benchmarks, in a source checkout
    fastsio version [--json]                        # version, and which twins are compiled and why
    fastsio options [--engine] [--markdown]         # every option of Server (EngineServer), documented

How it works:

* ``run`` imports ``module`` (from ``--app-dir``, default the current folder, put first
  on ``sys.path``), takes its attribute ``attr`` (dotted; default ``sio``, then ``app``),
  which must be a :class:`fastsio.Server`, a :class:`fastsio.EngineServer` or a
  :class:`fastsio.compat.AsyncServer`, and calls its ``run()`` (uvloop, SIGINT/SIGTERM
  stop it cleanly).  A module that does not import, an attribute that is missing or is
  not a server, an address in use, an unreadable certificate: one line on stderr
  starting ``fastsio: error:``, exit status 1, no traceback (``--log-level debug`` adds
  the traceback of an import that raised).
* ``--reload``: this process only watches; the server runs in a child process
  (``python -m fastsio run`` with the same arguments), restarted when a ``.py`` file
  under the ``--reload-dir`` folders (default: ``--app-dir``) changes.  The watcher
  polls modification times twice a second (standard library only).
* ``--workers N`` (N > 1): ``server.run(workers=N)`` (:mod:`fastsio.workers`,
  docs/workers.md): this process supervises N forked workers that each listen on the
  port (``SO_REUSEPORT``); a polling request or an upgrade that reaches a worker other
  than its session's is handed to the right one with its connection, so no sticky load
  balancer is needed; rooms and broadcasts span the workers (the server's ``adapter``,
  else a local inter-process one); a worker that dies is started again.
* ``--certfile``/``--keyfile``: TLS (``https://``, ``wss://``), through the
  ``ssl_context`` of :meth:`fastsio.Server.start`.
* ``bench`` runs ``python -m benchmarks`` with the arguments given, in the source
  checkout that holds this package (the suite is not part of the wheel).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import speedups
from ._version import __version__
from .compat import AsyncServer
from .engine_server import EngineServer
from .options import EngineOptions, ServerOptions, option_docs
from .server import Server

__all__ = ("CLIError", "load_target", "main", "render_options_markdown", "version_report")

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
DEFAULT_ATTRS = ("sio", "app")
# the watcher's period (seconds) of --reload
RELOAD_PERIOD = 0.5


class CLIError(Exception):
    """A problem the command reports as one line (``fastsio: error: ...``), exit status 1."""


# ---------------------------------------------------------------------- loading the app


def load_target(spec: str, app_dir: str = ".") -> Server | EngineServer:
    """Import ``"module:attr"`` and return the fastsio server it names.

    ``attr`` may be dotted (``app:chat.sio``); without it, ``sio`` then ``app`` are
    tried.  A :class:`fastsio.compat.AsyncServer` gives the :class:`fastsio.Server`
    under it.

    Raises:
        CLIError: the module does not import, the attribute is missing, or it is not a
            server (the message is one line).
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or (":" in attr):
        raise CLIError(f"{spec!r} is not module:attribute (e.g. app:sio)")
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise CLIError(
                f"cannot import {module_name!r}: no module named {exc.name!r} in {path} or on sys.path"
                " (run from the folder that holds it, or give --app-dir)"
            ) from exc
        raise CLIError(f"importing {module_name!r} failed: {_one_line(exc)}") from exc
    except BaseException as exc:  # the module's own code raised (SyntaxError, SystemExit ...)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CLIError(f"importing {module_name!r} failed: {_one_line(exc)}") from exc
    names = [attr] if attr else list(DEFAULT_ATTRS)
    for name in names:
        obj: Any = module
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if isinstance(obj, AsyncServer):
            return obj.server
        if isinstance(obj, (Server, EngineServer)):
            return obj
        raise CLIError(
            f"{module_name}:{name} is {_describe(obj)}, not a fastsio.Server, fastsio.EngineServer"
            " or fastsio.compat.AsyncServer"
        )
    raise CLIError(f"module {module_name!r} has no attribute {' or '.join(repr(n) for n in names)}")


def _describe(obj: Any) -> str:
    kind = type(obj)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"a {name}"


def _one_line(exc: BaseException) -> str:
    """``Type: message (file:line)``, the innermost frame of the traceback, on one line."""
    where = ""
    tb = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    elif tb:
        where = f" ({tb[-1].filename}:{tb[-1].lineno})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"


def ssl_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """A server TLS context from a PEM certificate (chain) and key, or None without ``certfile``.

    Raises:
        CLIError: ``keyfile`` without ``certfile``, or a file that does not load.
    """
    if certfile is None:
        if keyfile is not None:
            raise CLIError("--keyfile needs --certfile")
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise CLIError(f"cannot load the certificate {certfile!r}" + (f" and key {keyfile!r}" if keyfile else "")
                       + f": {exc.strerror or exc}") from exc
    return ctx


# ---------------------------------------------------------------------- run


def _run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="module:attribute of the server (a fastsio.Server, EngineServer or compat.AsyncServer)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (run(workers=N): polling routed to its worker, no sticky balancer needed)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="logging level (default info)")
    parser.add_argument("--reload", action="store_true", help="restart the server when a .py file changes (development)")
    parser.add_argument("--reload-dir", action="append", default=None, metavar="DIR",
                        help="folder to watch with --reload (repeatable; default --app-dir)")
    parser.add_argument("--certfile", help="TLS certificate chain (PEM): serve https:// and wss://")
    parser.add_argument("--keyfile", help="TLS private key (PEM), if not in --certfile")
    parser.add_argument("--app-dir", default=".", help="folder put first on sys.path to import the module (default .)")
    # a worker of --workers: listen with SO_REUSEPORT
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_run(args: argparse.Namespace) -> int:
    """``fastsio run``: serve the app (one process, a reloading child, or workers)."""
    _configure_logging(args.log_level)
    if args.workers < 1:
        raise CLIError("--workers must be 1 or more")
    if args.reload and args.workers > 1:
        raise CLIError("--reload and --workers do not go together (reload is for development: one process)")
    ctx = ssl_context(args.certfile, args.keyfile)  # checked here, once, before any child starts
    if args.reload:
        return _reloader(args)
    try:
        server = load_target(args.target, args.app_dir)
    except CLIError:
        if args.log_level == "debug":
            traceback.print_exc()
        raise
    if args.workers > 1:
        return _supervise_workers(args, server, ctx)
    server.run(args.host, args.port, ssl_context=ctx, reuse_port=args.reuse_port)
    return 0


def _child_argv(args: argparse.Namespace, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "fastsio", "run", args.target, "--host", args.host, "--port", str(args.port),
            "--log-level", args.log_level, "--app-dir", args.app_dir]
    if args.certfile:
        argv += ["--certfile", args.certfile]
    if args.keyfile:
        argv += ["--keyfile", args.keyfile]
    return argv + list(extra)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class _Stopping:
    """SIGINT/SIGTERM in a supervising process: set a flag (the loop stops the children)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._set)

    def _set(self, signum: int, frame: Any) -> None:
        self.signum = signum


def _snapshot(folders: Iterable[str]) -> dict[str, float]:
    """``.py`` file -> modification time, under ``folders`` (hidden folders and virtualenvs skipped)."""
    seen: dict[str, float] = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules", "venv")]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    try:
                        seen[path] = os.stat(path).st_mtime_ns
                    except OSError:
                        pass
    return seen


def _reloader(args: argparse.Namespace) -> int:
    folders = [os.path.abspath(d) for d in (args.reload_dir or [args.app_dir])]
    log = logging.getLogger("fastsio.cli")
    log.info("reload: watching .py files under %s", ", ".join(folders))
    stopping = _Stopping()
    argv = _child_argv(args)
    before = _snapshot(folders)
    proc: subprocess.Popen[bytes] | None = subprocess.Popen(argv)
    try:
        while stopping.signum is None:
            time.sleep(RELOAD_PERIOD)
            now = _snapshot(folders)
            if now != before:
                changed = sorted(set(now.items()) ^ set(before.items()))
                before = now
                log.info("reload: %s changed, restarting", os.path.relpath(changed[0][0]) if changed else "a file")
                if proc is not None:
                    _stop(proc)
                proc = subprocess.Popen(argv)
            elif proc is not None and proc.poll() is not None:
                log.warning("reload: the server exited (status %d); waiting for a change", proc.returncode)
                proc = None
    finally:
        if proc is not None:
            _stop(proc)
    return 0


def _supervise_workers(args: argparse.Namespace, server: Server | EngineServer, ctx: ssl.SSLContext | None) -> int:
    try:
        server.run(args.host, args.port, workers=args.workers, ssl_context=ctx)
    except (ValueError, RuntimeError) as exc:  # TLS with polling, no msgpack, no fork ...
        raise CLIError(str(exc)) from exc
    return 0


# ---------------------------------------------------------------------- version, options, bench


def version_report() -> dict[str, Any]:
    """The version, the Python, and per twin the implementation in use and why."""
    return {
        "version": __version__,
        "build": "compiled" if speedups.compiled else "pure",
        "python": f"{sys.version.split()[0]} ({sys.implementation.name}, {sys.platform})",
        "twins": {name: {"implementation": impl, "reason": speedups.reasons.get(name, "")}
                  for name, impl in sorted(speedups.implementations.items())},
    }


def cmd_version(args: argparse.Namespace) -> int:
    """``fastsio version``: print :func:`version_report` (``--json``: as JSON)."""
    report = version_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"fastsio {report['version']} ({report['build']}) on Python {report['python']}")
    width = max(len(n) for n in report["twins"]) if report["twins"] else 0
    for name, twin in report["twins"].items():
        print(f"  {name:<{width}}  {twin['implementation']:<6}  {twin['reason']}")
    if any(t["reason"].startswith("compiled twin not importable") for t in report["twins"].values()):
        print("hint: the compiled twins were not built: reinstall fastsio where a C compiler is available"
              " (FASTSIO_REQUIRE_EXTENSIONS=1 makes a failed build an error)")
    return 0


def render_options_markdown(cls: type[EngineOptions] = ServerOptions) -> str:
    """The options of ``cls`` as a Markdown list, one item per option: its name,
    default and documentation, as written once in :mod:`fastsio.options`."""
    lines = []
    for d in option_docs(cls):
        doc = " ".join(d.doc.split())
        # reStructuredText to Markdown: :class:`~a.B` -> `B`, :mod:`a.b` -> `a.b`, ``x`` -> `x`
        doc = re.sub(r":\w+:`~([^`]+)`", lambda m: "`" + m.group(1).rsplit(".", 1)[-1] + "`", doc)
        doc = re.sub(r":\w+:`([^`]+)`", r"`\1`", doc).replace("``", "`")
        lines.append(f"- `{d.name}` (default `{d.default!r}`): {doc}")
    return "\n".join(lines)


def cmd_options(args: argparse.Namespace) -> int:
    """``fastsio options``: every option, its default and documentation."""
    cls = EngineOptions if args.engine else ServerOptions
    if args.markdown:
        print(render_options_markdown(cls))
    else:
        from .options import render_options

        print(render_options(cls))
    return 0


def _source_root() -> Path | None:
    """The source checkout holding this package and ``benchmarks/``, if any."""
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (root / "benchmarks" / "__main__.py").is_file():
            return root
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    """``fastsio bench ...``: ``python -m benchmarks ...`` in the source checkout."""
    root = _source_root()
    if root is None:
        raise CLIError(
            "the benchmark suite is in fastsio's source tree (benchmarks/), not in the installed package:"
            " run it from a clone (make bench)"
        )
    rest = list(args.bench_args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    try:
        return subprocess.call([sys.executable, "-m", "benchmarks", *rest], cwd=str(root))
    except KeyboardInterrupt:  # the suite got the same SIGINT and stopped its servers
        return 130


# ---------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastsio`` command."""
    parser = argparse.ArgumentParser(prog="fastsio", description="fastsio: a fast Socket.IO server for Python")
    parser.add_argument("-V", "--version", action="version", version=f"fastsio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{run,bench,version,options}")
    sub.required = True
    run = sub.add_parser("run", help="serve module:attribute (a fastsio server)")
    _run_args(run)
    run.set_defaults(func=cmd_run)
    bench = sub.add_parser("bench", help="the benchmark suite (python -m benchmarks; source checkout)",
                           add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    version = sub.add_parser("version", help="version, and which twins are compiled and why")
    version.add_argument("--json", action="store_true", help="as JSON")
    version.set_defaults(func=cmd_version)
    options = sub.add_parser("options", help="every option of fastsio.Server, with its default")
    options.add_argument("--engine", action="store_true", help="fastsio.EngineServer's instead")
    options.add_argument("--markdown", action="store_true", help="as a Markdown list (the README's)")
    options.set_defaults(func=cmd_options)
    return parser


def _fail(message: str) -> NoReturn:
    print(f"fastsio: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastsio`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # everything after "bench" is the suite's, --help included (argparse's REMAINDER
        # does not take a leading option)
        args = argparse.Namespace(func=cmd_bench, bench_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except CLIError as exc:
        _fail(str(exc))
    return status
