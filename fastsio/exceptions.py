"""Public exceptions."""

from __future__ import annotations

from typing import Any

__all__ = ("AckTimeout", "ConnectionRefused", "DisconnectedError", "FastsioError", "ListenError")


class FastsioError(Exception):
    """Base class of fastsio's exceptions."""


class ConnectionRefused(FastsioError):
    """Raise from a middleware or connect handler to refuse a connection.

    The client gets a CONNECT_ERROR packet ``{"message": message, "data": data}``.
    """

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def payload(self) -> dict[str, Any]:
        """The CONNECT_ERROR packet's payload: ``{"message": ..., "data": ...}`` (no ``data`` when None)."""
        out: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class AckTimeout(FastsioError, TimeoutError):
    """An acknowledgement did not arrive in time.  ``replies`` holds what did arrive
    (for a broadcast, one entry per client that answered)."""

    def __init__(self, message: str = "operation has timed out", replies: Any = None) -> None:
        super().__init__(message)
        self.replies = replies if replies is not None else []


class DisconnectedError(FastsioError, ConnectionError):
    """The socket disconnected before the acknowledgement arrived."""


class ListenError(FastsioError, OSError):
    """The server could not listen on its address (in use, not permitted, no such
    address).  An :class:`OSError` with the original ``errno``; its message is one line,
    ``cannot listen on HOST:PORT: <reason>``.  ``Server.run()`` reports it as that one
    line on stderr and exits with status 1, without a traceback."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()
