"""python-socketio's exception names, for code migrating to :mod:`fastsio.compat`.

``from fastsio.compat.exceptions import ConnectionRefusedError`` where the code had
``from socketio.exceptions import ConnectionRefusedError``.  Each is also a fastsio
exception: :class:`ConnectionRefusedError` is a :class:`fastsio.ConnectionRefused`
(the core refuses the connection with its payload), :class:`TimeoutError` an
:class:`fastsio.AckTimeout`.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import AckTimeout, ConnectionRefused, FastsioError

__all__ = (
    "BadNamespaceError",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "SocketIOError",
    "TimeoutError",
)


class SocketIOError(FastsioError):
    """Base class of python-socketio's exceptions (here: a :class:`fastsio.FastsioError`)."""


class ConnectionError(SocketIOError):  # noqa: A001 - python-socketio's name
    """A connection problem (python-socketio's ``socketio.exceptions.ConnectionError``)."""


class ConnectionRefusedError(ConnectionError, ConnectionRefused):  # noqa: A001
    """Raise from a connect handler to refuse the connection, as in python-socketio.

    ``ConnectionRefusedError()``: message "Connection rejected by server";
    ``ConnectionRefusedError(msg)``: that message; ``ConnectionRefusedError(msg, data)``:
    and ``data``; more arguments: ``data`` is the tuple of all but the first.  The
    client's ``connect_error`` gets ``{"message": msg, "data": data}``.
    """

    def __init__(self, *args: Any) -> None:
        message = str(args[0]) if args else "Connection rejected by server"
        data: Any = None
        if len(args) == 2:
            data = args[1]
        elif len(args) > 2:
            data = args[1:]
        ConnectionRefused.__init__(self, message, data)
        #: the CONNECT_ERROR payload, as python-socketio names it
        self.error_args: dict[str, Any] = self.payload()


class TimeoutError(SocketIOError, AckTimeout):  # noqa: A001
    """``call()`` got no acknowledgement in time."""

    def __init__(self, message: str = "operation has timed out") -> None:
        AckTimeout.__init__(self, message)


class BadNamespaceError(SocketIOError):
    """An operation named a namespace that is not there."""


class DisconnectedError(SocketIOError):
    """The client is not connected."""
