"""Selector for the broadcast fan-out twins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import NO_EXTENSIONS, load

if TYPE_CHECKING or NO_EXTENSIONS:
    from .fanout_py import Flusher, Outbox, fanout  # noqa: F401

if not TYPE_CHECKING:
    _impl = load("fanout")
    fanout = _impl.fanout
    Outbox = _impl.Outbox
    Flusher = _impl.Flusher
