"""Flow control and the slow-consumer policy of a connection's write side.

:class:`FlowControl` is the :class:`~fastsio._server.outbox.Outbox` of an asyncio
protocol (the HTTP connection, the WebSocket connection):

* flow control: the transport's write buffer limit is ``max_buffer_size`` (the
  outbox's ``limit``); asyncio calls :meth:`~FlowControl.pause_writing` when the
  buffer goes over it and :meth:`~FlowControl.resume_writing` when it drains, which
  set ``paused`` (read by ``writable()`` and by the outbox's flush);
* the slow-consumer policy (``slow_consumer``): a connection whose waiting bytes
  go over the limit (for a WebSocket: still in the transport's buffer, paused,
  when it is written to; for HTTP: queued this iteration) is a slow consumer.
  ``"disconnect"`` (the default): :meth:`~FlowControl.overflow` logs a warning,
  aborts the TCP connection and calls :meth:`~FlowControl.on_overflow` (the
  WebSocket connection tells its session: ``"send buffer full"``).  ``"drop"``: a
  WebSocket stays connected and is :attr:`~FlowControl.congested` until the
  transport drains; the layers above drop whole packets for it meanwhile (one
  warning when it starts, one line when it drains);
* closing: :meth:`~FlowControl.shutdown` (flush, then close) and
  :meth:`~FlowControl.abort` (drop what is queued).
"""

from __future__ import annotations

import logging

from fastsio._server.outbox import Outbox

__all__ = ("FlowControl",)


class FlowControl(Outbox):
    """The write side of a connection: flow control, slow-consumer policy, closing.

    Subclasses set ``client`` (the peer, for log lines) and provide :attr:`log`."""

    __slots__ = ("client", "dropping")

    client: tuple[str, int] | None
    #: packets are being dropped now (between an overflow and the transport draining)
    dropping: bool

    def init_flow_control(self, slow_consumer: str) -> None:
        """Set the slow-consumer policy (``"disconnect"`` or ``"drop"``)."""
        self.drop_slow = slow_consumer == "drop"
        self.dropping = False

    @property
    def congested(self) -> bool:
        """A WebSocket whose packets are dropped now: its transport holds more than
        the limit (paused) and the policy is ``"drop"``."""
        return self.paused and self.drop_slow

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
        if self.dropping:
            self.dropping = False
            self.log.info("connection from %s drained: sending to it again", self.client)

    def overflow(self) -> None:
        """A slow consumer went over ``max_buffer_size``: drop it, or with
        ``slow_consumer="drop"`` its packets until it drains (see the module docstring)."""
        if self.closed:
            return
        transport = self.transport
        waiting = self.wbytes + (transport.get_write_buffer_size() if transport is not None else 0)
        if self.drop_slow and self.ws_mode:
            if not self.dropping:
                self.dropping = True
                self.log.warning(
                    "connection from %s: %d bytes waiting, over max_buffer_size (%d); dropping "
                    "what is sent to it until it drains (slow_consumer='drop')",
                    self.client,
                    waiting,
                    self.limit,
                )
            return
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
