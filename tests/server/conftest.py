"""Fixtures of the server tests (which run on uvloop and on asyncio, see tests/conftest.py).

* ``no_asyncio_errors`` (autouse): fails a test during which asyncio logged an error
  ("Exception in callback ...", "Task exception was never retrieved", a protocol's
  ``data_received`` that raised): the server must handle bad input itself.
* ``logs``: caplog at INFO for the fastsio loggers.
"""

from __future__ import annotations

import gc
import logging
from typing import Iterator

import pytest


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_asyncio_errors() -> Iterator[_Collect]:
    """Fail the test if asyncio logged an error while it ran."""
    handler = _Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler
        gc.collect()  # "Task exception was never retrieved" is logged when the task dies
    finally:
        logger.removeHandler(handler)
    if handler.records:
        lines = [r.getMessage() for r in handler.records]
        pytest.fail("asyncio logged errors:\n" + "\n".join(lines))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Return caplog recording the fastsio loggers at INFO."""
    caplog.set_level(logging.INFO, logger="fastsio")
    return caplog
