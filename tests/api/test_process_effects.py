"""No process-wide side effects from a library: ``gc.freeze()`` only where fastsio owns
the process (``run()``), opt-in at ``start()``, never with ``gc_freeze=False``; and a
logger per server, leaving every other logger alone."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import textwrap

import fastsio


async def test_start_leaves_the_collector_alone() -> None:
    """Verify ``await sio.start()`` (a guest in someone else's process) does not freeze the GC."""
    gc.unfreeze()
    sio = fastsio.Server()
    await sio.start("127.0.0.1", 0)
    try:
        assert gc.get_freeze_count() == 0
    finally:
        await sio.stop()


async def test_start_freezes_when_asked() -> None:
    """Verify ``gc_freeze=True`` freezes at ``start()`` too."""
    gc.unfreeze()
    sio = fastsio.Server(gc_freeze=True)
    await sio.start("127.0.0.1", 0)
    try:
        assert gc.get_freeze_count() > 0
    finally:
        await sio.stop()
        gc.unfreeze()


RUN_CHILD = textwrap.dedent(
    """
    import gc, os, signal, sys
    import fastsio

    class Probe(fastsio.Server):
        def on_starting(self, loop, owns_process):
            super().on_starting(loop, owns_process)
            print(owns_process, gc.get_freeze_count() > 0, flush=True)
            loop.call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)

    Probe(**eval(sys.argv[1])).run("127.0.0.1", 0)
    """
)


def run_child(options: str) -> str:
    """Return what a child running ``Server(**options).run()`` printed at start-up."""
    proc = subprocess.run(
        [sys.executable, "-c", RUN_CHILD, options], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_run_owns_the_process_and_freezes() -> None:
    """Verify ``run()`` says it owns the process and freezes the GC by default."""
    assert run_child("{}") == "True True"


def test_run_never_freezes_with_gc_freeze_false() -> None:
    """Verify ``gc_freeze=False`` keeps ``run()`` from freezing."""
    assert run_child("{'gc_freeze': False}") == "True False"


def test_each_server_logs_to_its_own_logger() -> None:
    """Verify ``logger=`` gives one server its logger without rebinding anyone else's."""
    mine = logging.getLogger("tests.mine")
    a = fastsio.Server(logger=mine)
    b = fastsio.Server()
    assert a.log is mine
    assert b.log is logging.getLogger("fastsio")
    assert a.engine.log.name == "tests.mine.engine"
    assert b.engine.log.name == "fastsio.engine"
