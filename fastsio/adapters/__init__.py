"""Adapters: rooms and fan-out (``MemoryAdapter`` is the default)."""

from .base import Adapter, RecoveryOptions, RecoverySession
from .memory import MemoryAdapter

__all__ = ("Adapter", "MemoryAdapter", "RecoveryOptions", "RecoverySession")
