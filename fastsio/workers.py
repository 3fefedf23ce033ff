"""``run(workers=N)``: N worker processes serving one port on one host, no sticky load
balancer needed (docs/workers.md).

How it works:

* This process (the supervisor) binds the address once with ``SO_REUSEPORT`` without
  listening (which reserves the port, ``port=0`` picking one), makes a private folder for
  the workers' unix sockets, and forks the workers.  It never runs an event loop (a fork
  from a process that runs one is not safe), so it can fork a worker again at any time.
* Each worker listens on the port itself (``SO_REUSEPORT``: the kernel spreads new TCP
  connections over the workers), and links up with its siblings
  (:class:`fastsio._server.mesh.Mesh`).  Its session ids name it (their first
  character); a request for a sibling's session, and the WebSocket upgrade of one, is
  handed to that sibling with its TCP connection (``SCM_RIGHTS``, with the bytes already
  read), as Node's ``@socket.io/cluster-engine`` does; so long-polling works.
* Rooms and broadcasts span the workers through the server's ``adapter`` when it has
  one (:class:`~fastsio.adapters.RedisAdapter`: each worker is a node of the Redis
  cluster), else through a :class:`~fastsio.adapters.WorkerAdapter` over the mesh (the
  ``setup`` callback of :func:`run_workers` installs it).
* A worker that exits is forked again (at once, or after a growing pause, up to
  :data:`MAX_BACKOFF` seconds, when it keeps dying within a second of its start); its
  clients lose their connection and reconnect (to any worker).  SIGTERM or SIGINT to the
  supervisor is passed to every worker, which stops as ``stop()`` does (503 to new
  sessions while draining, polling clients given what they are owed up to
  ``shutdown_timeout``); a worker still running ``shutdown_timeout`` + 10 s later is
  killed.  The supervisor then returns.

Needs ``os.fork``, ``SO_REUSEPORT`` and ``SCM_RIGHTS`` (Linux, the BSDs, macOS).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from typing import Any, Callable

from ._server.listener import Lifecycle
from ._server.mesh import ALPHABET, Mesh, WorkerRouter

__all__ = ("MAX_BACKOFF", "run_workers")

#: the longest pause (seconds) before forking again a worker that keeps dying at start
MAX_BACKOFF = 5.0
# a worker that lived less than this (seconds) died "at start"
_QUICK_DEATH = 1.0


def _check(server: Lifecycle, workers: int, kwargs: dict[str, Any]) -> None:
    if not isinstance(workers, int) or not 1 <= workers <= len(ALPHABET):
        raise ValueError(f"workers must be 1 to {len(ALPHABET)}, not {workers!r}")
    if not (hasattr(os, "fork") and hasattr(socket, "SO_REUSEPORT") and hasattr(socket, "SCM_RIGHTS")):
        raise RuntimeError("run(workers=N) needs os.fork, SO_REUSEPORT and SCM_RIGHTS (Linux, BSD, macOS)")
    if kwargs.get("sock") is not None:
        raise ValueError("run(workers=N) listens itself: no sock=")
    if kwargs.get("ssl_context") is not None and "polling" in server.engine.options.transports:
        raise ValueError(
            "run(workers=N) with TLS needs a WebSocket-only server (transports=['websocket']): a polling"
            " request reaching the wrong worker is handed to the right one with its TCP connection, which"
            " cannot be done with TLS state; terminate TLS in a proxy in front instead"
        )


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT, not listening: the port stays
    this server's while workers come and go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        print(f"fastsio: error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    return sock


def run_workers(
    server: Lifecycle,
    host: str,
    port: int,
    workers: int,
    kwargs: dict[str, Any],
    setup: Callable[[Mesh], None] | None = None,
) -> None:
    """Serve ``server`` with ``workers`` processes on ``host:port`` until SIGTERM/SIGINT
    (see the module).  Blocks; returns once every worker stopped.

    Args:
        server: the server (not started); each worker runs it (forked).
        host, port: the address (``port=0``: a free one, the same for every worker).
        workers: how many (1 to 64).
        kwargs: the rest of :meth:`~fastsio._server.listener.Lifecycle.start`'s
            arguments (``ssl_context``, ``backlog``); ``reuse_port`` is set.
        setup: called in each worker with its mesh before it starts (the server
            installs its adapter there).

    Raises:
        ValueError: a bad ``workers``, ``sock=``, or TLS with polling.
        RuntimeError: the platform lacks fork, SO_REUSEPORT or SCM_RIGHTS.
    """
    _check(server, workers, kwargs)
    log = server.engine.base_log.getChild("workers")
    reserved = _reserve(host, port)
    port = reserved.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="fastsio-workers-")
    supervisor = _Supervisor(server, host, port, workers, kwargs, setup, folder, reserved, log)
    try:
        supervisor.run()
    finally:
        reserved.close()
        shutil.rmtree(folder, ignore_errors=True)


class _Supervisor:
    def __init__(
        self,
        server: Lifecycle,
        host: str,
        port: int,
        count: int,
        kwargs: dict[str, Any],
        setup: Callable[[Mesh], None] | None,
        folder: str,
        reserved: socket.socket,
        log: logging.Logger,
    ) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.count = count
        self.kwargs = dict(kwargs, reuse_port=True)
        self.setup = setup
        self.folder = folder
        self.reserved = reserved
        self.log = log
        # pid -> worker index; index -> when it was forked; index -> when to fork it again
        self.children: dict[int, int] = {}
        self.started: dict[int, float] = {}
        self.backoff: dict[int, float] = {}
        self.due: dict[int, float] = {}
        self.signum: int | None = None

    def _signal(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def run(self) -> None:
        previous = {sig: signal.signal(sig, self._signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        timeout = float(getattr(self.server.engine.options, "shutdown_timeout", 0.0) or 0.0)
        try:
            self.log.info("starting %d workers on %s:%d", self.count, self.host, self.port)
            print(
                f"fastsio: {self.count} workers on {self.host}:{self.port} (supervisor pid {os.getpid()})",
                file=sys.stderr,
                flush=True,
            )
            for index in range(self.count):
                self._fork(index)
            deadline: float | None = None
            while self.children or (self.signum is None and self.due):
                now = time.monotonic()
                if self.signum is not None and deadline is None:
                    self.log.info("stopping %d workers", len(self.children))
                    deadline = now + timeout + 10.0
                    self.due.clear()
                    for pid in self.children:
                        _kill(pid, signal.SIGTERM)
                if deadline is not None and now > deadline:
                    for pid in self.children:
                        self.log.warning("worker pid %d did not stop in time: killed", pid)
                        _kill(pid, signal.SIGKILL)
                    deadline = now + 5.0
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    pid, status = 0, 0
                if pid:
                    self._exited(pid, status, now)
                    continue
                for index, when in list(self.due.items()):
                    if now >= when:
                        del self.due[index]
                        self._fork(index)
                time.sleep(0.05)
        finally:
            for pid in self.children:
                _kill(pid, signal.SIGKILL)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _exited(self, pid: int, status: int, now: float) -> None:
        index = self.children.pop(pid, None)
        if index is None:
            return
        code = os.waitstatus_to_exitcode(status)
        if self.signum is not None:
            return
        lived = now - self.started.get(index, now)
        pause = 0.0
        if lived < _QUICK_DEATH:
            pause = self.backoff[index] = min(MAX_BACKOFF, max(0.1, self.backoff.get(index, 0.0) * 2))
        else:
            self.backoff.pop(index, None)
        self.log.warning("worker %d (pid %d) exited (status %d): starting it again", index, pid, code)
        self.due[index] = now + pause

    def _fork(self, index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (measured by its own behaviour)
            code = 0
            try:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                self.reserved.close()
                self._serve(index)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        self.children[pid] = index
        self.started[index] = time.monotonic()

    def _serve(self, index: int) -> None:
        server = self.server
        mesh = Mesh(self.folder, index, self.count, server.engine.server_log)
        engine = server.engine
        engine.router = WorkerRouter(mesh)
        mesh.on_handoff = engine.adopt
        if self.setup is not None:
            self.setup(mesh)
        Lifecycle.run(server, self.host, self.port, **self.kwargs)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
