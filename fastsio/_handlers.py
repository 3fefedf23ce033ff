"""Calling application handlers the way JavaScript does: extra arguments are dropped,
missing ones are None, and a coroutine function runs as a task."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable, Coroutine


class Handler:
    """A registered callable with its arity worked out once.

    Args:
        fn: the application's function (sync or async; any callable).
    """

    __slots__ = ("fn", "is_async", "max_args", "min_args")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)
        )
        max_args: int | None = 0
        min_args = 0
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):  # builtins without a signature
            max_args = None
        else:
            for p in sig.parameters.values():
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    assert max_args is not None
                    max_args += 1
                    if p.default is p.empty:
                        min_args += 1
                elif p.kind == p.VAR_POSITIONAL:
                    max_args = None
                    break
        self.max_args = max_args
        self.min_args = min_args

    def adapt(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``args`` cut or padded (with None) to what the function takes."""
        n = len(args)
        if self.max_args is not None and n > self.max_args:
            return args[: self.max_args]
        if n < self.min_args:
            return args + (None,) * (self.min_args - n)
        return args

    def __call__(self, *args: Any) -> Any:
        """Call the function with ``args`` adapted (see :meth:`adapt`)."""
        return self.fn(*self.adapt(args))


# what plain ``def`` handlers return: never awaitable, and not worth inspect.isawaitable's
# ABC check on every call (a subclass is not in here, so it is still checked)
_PLAIN_RESULTS = frozenset((type(None), bool, int, float, str, bytes, tuple, list, dict))


def is_awaitable(result: Any) -> bool:
    """``inspect.isawaitable``, quick for the values plain handlers return."""
    return type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result)


def ack_args(result: Any) -> list[Any]:
    """A handler's return value as ack arguments (a tuple is several arguments)."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start a coroutine as a task, keeping a reference until it finishes."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


_tasks: set[asyncio.Task[Any]] = set()
