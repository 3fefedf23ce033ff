"""Bounded fuzzing in the test suite, and the replay of seeds and past crashes.

* ``test_replay``: every harness's seeds and the regression inputs below go
  through its ``test_one_input`` in this process (no atheris needed).
* ``test_short_run``: a short atheris session per harness in a subprocess
  (5000 inputs or 10 s, fixed seed); skipped where atheris is not installed.

A crash found by a longer run by hand (README.md) is fixed in the code and its
input added to ``REGRESSIONS`` here, under the harness that found it.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).parent
TARGETS = ("wsframe", "eio", "eio3", "sio", "http")

# Inputs that once broke something, per harness (see the harness docstring for the layout).
REGRESSIONS: dict[str, list[bytes]] = {
    "wsframe": [
        # a 64-bit length of 2**63 - 1 and no size limit: the compiled twin must not overflow
        b"\x00\x00\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04",
    ],
    "eio": [],
    "eio3": [],
    "sio": [
        # JSON nested deeper than the interpreter's recursion limit: SocketIOError, not RecursionError
        b"\x002" + b"[" * 5000 + b"]" * 5000,
        b"\x2051-" + b"[" * 3000 + b"]" * 3000,
    ],
    "http": [],
}


def harness(target: str, config: pytest.Config) -> ModuleType:
    """Return the harness module of ``target``, set up (pure twins alone under ``--no-c-extensions``).

    Where the compiled twins are expected, a compiled twin that does not import
    makes ``setup()`` raise: the test fails, it does not fuzz the pure twin alone.
    """
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import fuzzlib

    fuzzlib.PURE_ONLY = config.getoption("c_extensions") is False
    module = importlib.import_module(f"fuzz_{target}")
    module.setup()
    return module


@pytest.mark.parametrize("target", TARGETS)
def test_replay(target: str, request: pytest.FixtureRequest) -> None:
    """Verify the seeds and the past crashes of a harness run clean."""
    module = harness(target, request.config)
    for data in [*module.SEEDS, *REGRESSIONS[target]]:
        module.test_one_input(data)


@pytest.mark.parametrize("target", TARGETS)
def test_short_run(target: str, tmp_path: Path) -> None:
    """Verify a short atheris run of a harness finds nothing."""
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed")
    corpus = tmp_path / "corpus"
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / f"fuzz_{target}.py"),
            str(corpus),
            "-runs=5000",
            "-max_total_time=10",
            "-max_len=4096",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
