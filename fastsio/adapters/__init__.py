"""Adapters: rooms and fan-out (``MemoryAdapter`` is the default)."""

from .base import Adapter
from .memory import MemoryAdapter

__all__ = ("Adapter", "MemoryAdapter")
