"""What an observer of a server's Socket.IO side is told (the Admin UI's instrumentation,
``fastsio.admin``, is one; any tool that watches sockets and rooms can be another).

A server keeps its observers in one list, :attr:`fastsio.Server.observers` (empty by
default: nothing is called, and the code that would call it costs one empty-list test
per connection, join, leave or broadcast, never per packet).  Every namespace, socket
and broadcast of the server reads that same list, so an observer added late sees the
namespaces made before it too.  An observer's methods run inline, on the loop, in the
middle of the server's own work: they must be quick, must not raise (an exception is
logged and the server goes on), and must not disconnect the socket they are told about.

The callers use :func:`notify`.  This module imports nothing of the package (the base layer).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

__all__ = ("Observer", "notify")


class Observer(Protocol):
    """The calls an observer of a :class:`fastsio.Server` gets (``sock`` is a
    :class:`fastsio.Socket`, ``ns`` a :class:`fastsio.Namespace`)."""

    def socket_connected(self, sock: Any) -> None:
        """``sock`` is connected (its CONNECT reply went out; its rooms, joined in
        middleware or the connect handler, are already set)."""
        ...

    def socket_disconnected(self, sock: Any, reason: str) -> None:
        """``sock`` disconnected for ``reason``, after its disconnect handler ran and
        before it leaves its rooms (``sock.rooms`` still lists them)."""
        ...

    def room_joined(self, sock: Any, room: str) -> None:
        """The connected socket ``sock`` joined ``room`` (once per room it was not in)."""
        ...

    def room_left(self, sock: Any, room: str) -> None:
        """The connected socket ``sock`` left ``room`` (a room it was in)."""
        ...

    def broadcast(self, ns: Any, parts: list[str | bytes], count: int) -> None:
        """A broadcast on ``ns`` went to ``count`` local connections, each sent the
        encoded packet ``parts`` (text, then binary attachments)."""
        ...

    def namespace_created(self, ns: Any) -> None:
        """``sio.of(name)`` made the namespace (or dynamic namespace) ``ns``."""
        ...


def notify(observers: list[Observer], log: logging.Logger, call: str, *args: Any) -> None:
    """Call ``observer.<call>(*args)`` on each of ``observers`` (a copy of the list is
    walked: an observer may remove itself); one that raises is logged on ``log``, the
    others still run."""
    for observer in list(observers):
        try:
            getattr(observer, call)(*args)
        except Exception:
            log.exception("observer %r raised in %s", observer, call)
