"""Flow control and the slow-consumer policy of a connection's write side.

:class:`FlowControl` is the :class:`~fastsio._server.outbox.Outbox` of an asyncio
protocol (the HTTP connection, the WebSocket connection):

* flow control: the transport's write buffer limit is ``max_buffer_size`` (the
  outbox's ``limit``); asyncio calls :meth:`~FlowControl.pause_writing` when the
  buffer goes over it and :meth:`~FlowControl.resume_writing` when it drains, which
  set ``paused`` (read by ``writable()`` and by the outbox's flush);
* the slow-consumer policy: a connection whose waiting bytes go over the limit
  (queued this iteration, or still in the transport's buffer when a WebSocket is
  written to while paused) is dropped: :meth:`~FlowControl.overflow` logs a
  warning, aborts the TCP connection and calls :meth:`~FlowControl.on_overflow`
  (the WebSocket connection tells its session: ``"send buffer full"``);
* closing: :meth:`~FlowControl.shutdown` (flush, then close) and
  :meth:`~FlowControl.abort` (drop what is queued).
"""

from __future__ import annotations

import logging

from .outbox import Outbox

__all__ = ("FlowControl",)


class FlowControl(Outbox):
    """The write side of a connection: flow control, slow-consumer policy, closing.

    Subclasses set ``client`` (the peer, for log lines) and provide :attr:`log`."""

    __slots__ = ("client",)

    client: tuple[str, int] | None

    @property
    def log(self) -> logging.Logger:
        """The logger of the connection's log lines (the subclass's)."""
        raise NotImplementedError

    def pause_writing(self) -> None:
        """asyncio: the transport's buffer is over the high-water mark (``limit``)."""
        self.paused = True

    def resume_writing(self) -> None:
        """asyncio: the transport's buffer drained under the low-water mark."""
        self.paused = False

    def overflow(self) -> None:
        """A slow consumer went over ``max_buffer_size``: drop it (see the module docstring)."""
        if self.closed:
            return
        transport = self.transport
        waiting = self.wbytes + (transport.get_write_buffer_size() if transport is not None else 0)
        self.log.warning(
            "connection from %s: %d bytes waiting, over max_buffer_size (%d); disconnecting",
            self.client,
            waiting,
            self.limit,
        )
        self.on_overflow()

    def on_overflow(self) -> None:
        """What dropping a slow consumer does: abort the connection (subclasses also
        tell whoever uses it)."""
        self.abort()

    def shutdown(self) -> None:
        """Flush what is queued, then close the TCP connection."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close the TCP connection now, dropping what is queued."""
        self.closed = True
        self.wbuf = None
        if self.transport is not None:
            self.transport.abort()
