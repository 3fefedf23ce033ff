"""Protection against misbehaving clients (all opt-in): the per-socket event rate limit,
and a log throttle for the refusals of the connection caps (``max_connections_per_ip``
and ``max_concurrent_handshakes``, enforced by the Engine.IO layer).

Sans-I/O: time is passed in; there is no timer, per socket or otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ("RATE_LIMIT_EVENT", "RATE_LIMIT_REASON", "LogThrottle", "RateLimit")

#: the event a client is sent when its events start being dropped (``action="drop"``)
RATE_LIMIT_EVENT = "error"
#: the server-side disconnect reason with ``action="disconnect"``
RATE_LIMIT_REASON = "rate limit exceeded"


class RateLimit:
    """``Server(rate_limit={"events_per_second": 50, "burst": 100, "action": "drop"})``.

    A token bucket per socket: it holds at most ``burst`` tokens (default: one second's
    worth, at least 1), refills at ``events_per_second``, and each incoming event
    (EVENT or BINARY_EVENT packet; acks are not counted) takes one.  An event that
    finds the bucket empty is over the limit:

    * ``action="drop"`` (default): the event is dropped (its handler does not run, its
      ack is never sent).  The first one dropped after an accepted event sends the
      client an ``error`` event with ``{"message": "rate limit exceeded", "data":
      {"event": name, "events_per_second": r, "burst": b}}`` and logs a warning; the
      next accepted event logs how many were dropped.
    * ``action="disconnect"``: the socket is disconnected with the reason
      ``"rate limit exceeded"`` (what its ``disconnect`` handler sees; the client gets
      a DISCONNECT packet, "io server disconnect", and does not reconnect by itself),
      and the connection it came on is closed; a warning is logged.
    """

    __slots__ = ("rate", "burst", "disconnect")

    def __init__(self, events_per_second: float, burst: float | None = None, action: str = "drop") -> None:
        if not events_per_second > 0:
            raise ValueError("rate_limit: events_per_second must be > 0")
        if action not in ("drop", "disconnect"):
            raise ValueError("rate_limit: action must be 'drop' or 'disconnect'")
        self.rate = float(events_per_second)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        if self.burst < 1:
            raise ValueError("rate_limit: burst must be >= 1")
        self.disconnect = action == "disconnect"

    @classmethod
    def parse(cls, value: Any) -> RateLimit | None:
        """``rate_limit=``: None, a RateLimit, or a dict of its arguments.

        Raises:
            ValueError: an unknown key or a bad value.
            TypeError: anything else.
        """
        if value is None:
            return None
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"events_per_second", "burst", "action"}
            if unknown:
                raise ValueError(f"unknown rate_limit options: {sorted(unknown)}")
            return cls(**value)
        raise TypeError("rate_limit: a dict or a RateLimit")

    def new_bucket(self, now: float) -> list[float]:
        """A socket's state: [tokens, last time, events dropped in a row]."""
        return [self.burst, now, 0]

    def allow(self, bucket: list[float], now: float) -> bool:
        """Take a token for one event at time ``now``; False: over the limit."""
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        return False


class LogThrottle:
    """Log a warning (or ``level``) at most once per ``interval`` seconds per key,
    saying how many were not logged in between (a flood of refusals must not flood
    the log too)."""

    __slots__ = ("logger", "interval", "level", "last", "suppressed")

    def __init__(self, logger: logging.Logger, interval: float = 1.0, level: int = logging.WARNING) -> None:
        self.logger = logger
        self.interval = interval
        self.level = level
        self.last: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}

    def warn(self, key: str, msg: str, *args: Any, now: float) -> None:
        """Log ``msg % args`` as a warning, unless ``key`` was logged less than
        ``interval`` seconds before ``now`` (a monotonic clock reading, passed in)."""
        last = self.last.get(key)
        if last is not None and now - last < self.interval:
            self.suppressed[key] = self.suppressed.get(key, 0) + 1
            return
        self.last[key] = now
        skipped = self.suppressed.pop(key, 0)
        if skipped:
            self.logger.log(self.level, msg + " (and %d more not logged)", *args, skipped)
        else:
            self.logger.log(self.level, msg, *args)
