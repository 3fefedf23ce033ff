"""One shared timer for every session: a bucketed timer wheel on ``loop.call_at``.

Sessions never own a timer handle.  ``schedule(obj, when)`` files ``obj`` in the
bucket of ``when`` (``resolution`` seconds wide; a deadline may fire up to one
bucket early, and the object is told the bucket's end as the time); one ``call_at``
is armed for the earliest bucket; when it fires, every object of every due bucket
gets ``on_timer(now)`` and may reschedule itself.  The object keeps its bucket in
``obj.timer_slot``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from typing import Any

__all__ = ("TimerWheel",)


class TimerWheel:
    """The timer wheel (see the module docstring).

    Args:
        loop: the event loop.
        resolution: the width of a bucket, in seconds.
        logger: where a failing ``on_timer`` is logged (default: the ``fastsio.server``
            logger).
    """

    __slots__ = ("loop", "resolution", "buckets", "heap", "handle", "armed", "log")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        resolution: float = 0.01,
        logger: logging.Logger | None = None,
    ) -> None:
        self.loop = loop
        self.log = logger if logger is not None else logging.getLogger("fastsio.server")
        # 10 ms: heartbeats and HTTP deadlines need no finer, and at 10k sessions
        # a bucket is shared by several of them
        self.resolution = resolution
        # bucket index -> the bucket: a list ``[index, obj, obj, ...]``.  An object is in
        # one bucket at most and keeps the bucket itself in ``obj.timer_slot`` (no int
        # per object); moving or cancelling it takes it out (a list.remove over a
        # handful), so a closed session is not kept alive until its old deadline --
        # under churn that was tens of seconds of closed sessions, with their handshake
        # requests.  A bucket emptied that way stays until its time comes: its index is
        # in the heap once, however many objects come and go through it (an HTTP
        # connection files itself and leaves on every request), so the heap and the
        # buckets are bounded by the time span / resolution, not by the objects.
        self.buckets: dict[int, list[Any]] = {}
        # indices of the buckets, earliest first (each once)
        self.heap: list[int] = []
        self.handle: asyncio.TimerHandle | None = None
        self.armed = -1

    def schedule(self, obj: Any, when: float) -> None:
        """File ``obj`` (it has ``timer_slot`` and ``on_timer(now)``) for ``when``."""
        idx = int(when / self.resolution)
        old = obj.timer_slot
        if old is not None:
            if old[0] == idx:
                return
            old.remove(obj)
        bucket = self.buckets.get(idx)
        if bucket is None:
            self.buckets[idx] = bucket = [idx, obj]
            heapq.heappush(self.heap, idx)
            if self.handle is None or idx < self.armed:
                self._arm(idx)
        else:
            bucket.append(obj)
        obj.timer_slot = bucket

    def file_by(self, obj: Any, when: float) -> None:
        """Make sure ``obj`` is told no later than ``when``: filed for ``when``, unless it
        is filed for that bucket or an earlier one already.  For an object that keeps
        its own deadline and moves it often (an HTTP connection: a request's, then the
        keep-alive's): when told early, it checks that deadline and files itself again,
        so that moving the deadline later costs no bucket change."""
        old = obj.timer_slot
        if old is None or int(when / self.resolution) < old[0]:
            self.schedule(obj, when)

    def cancel(self, obj: Any) -> None:
        """Take ``obj`` off the wheel (nothing if it is not on it)."""
        old = obj.timer_slot
        if old is not None:
            obj.timer_slot = None
            old.remove(obj)

    def _arm(self, idx: int) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.armed = idx
        self.handle = self.loop.call_at(idx * self.resolution, self._fire)

    def _fire(self) -> None:
        self.handle = None
        now = self.loop.time()
        res = self.resolution
        # loops round timers to the millisecond and may fire up to 1 ms early
        current = int((now + 0.001) / res)
        heap = self.heap
        buckets = self.buckets
        due: list[list[Any]] = []
        while heap and heap[0] <= current:
            bucket = buckets.pop(heapq.heappop(heap), None)
            if bucket is not None and len(bucket) > 1:
                due.append(bucket)
        # objects rescheduled into a past bucket now wait for the next firing
        for bucket in due:
            # everything in the bucket counts as due (a deadline fires < 1 bucket early)
            when = max(now, (bucket[0] + 1) * res)
            for obj in bucket[1:]:
                if obj.timer_slot is not bucket:
                    continue  # moved or cancelled by an earlier callback
                obj.timer_slot = None
                try:
                    obj.on_timer(when)
                except Exception:  # a bug in one session must not stop the wheel
                    self.log.exception("timer callback failed")
        if heap and (self.handle is None or heap[0] < self.armed):
            self._arm(heap[0])

    def close(self) -> None:
        """Disarm the wheel and forget everything on it."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        self.buckets.clear()
        self.heap.clear()

