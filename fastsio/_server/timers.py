"""One shared timer for every session: a bucketed timer wheel on ``loop.call_at``.

Sessions never own a timer handle.  ``schedule(obj, when)`` files ``obj`` in the
bucket of ``when`` (``resolution`` seconds wide; a deadline may fire up to one
bucket early, and the object is told the bucket's end as the time); one ``call_at`` is armed for the earliest non-empty bucket; when it
fires, every object of every due bucket gets ``on_timer(now)`` and may reschedule
itself.  The object keeps its bucket index in ``obj.timer_slot``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from typing import Any

log = logging.getLogger("fastsio.server")


class TimerWheel:
    __slots__ = ("loop", "resolution", "buckets", "heap", "handle", "armed")

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = 0.002) -> None:
        self.loop = loop
        self.resolution = resolution
        # bucket index -> objects filed in it.  Lists, not sets (a few bytes per entry
        # instead of a set per bucket; a bucket is 2 ms wide and holds a handful).  An
        # object is in one bucket at most: moving or cancelling it takes it out of its
        # bucket (a list.remove over a handful), so a closed session is not kept alive
        # until its old deadline -- under churn that was tens of seconds of closed
        # sessions, with their handshake requests.
        self.buckets: dict[int, list[Any]] = {}
        # indices of the buckets, earliest first
        self.heap: list[int] = []
        self.handle: asyncio.TimerHandle | None = None
        self.armed = -1

    def schedule(self, obj: Any, when: float) -> None:
        idx = math.floor(when / self.resolution)
        old = obj.timer_slot
        if old == idx:
            return
        if old is not None:
            self._unfile(obj, old)
        bucket = self.buckets.get(idx)
        if bucket is None:
            self.buckets[idx] = [obj]
            heapq.heappush(self.heap, idx)
        else:
            bucket.append(obj)
        obj.timer_slot = idx
        if self.handle is None or idx < self.armed:
            self._arm(idx)

    def cancel(self, obj: Any) -> None:
        old = obj.timer_slot
        if old is not None:
            obj.timer_slot = None
            self._unfile(obj, old)

    def _unfile(self, obj: Any, idx: int) -> None:
        bucket = self.buckets.get(idx)
        if bucket is not None:  # (None: the bucket is being fired)
            try:
                bucket.remove(obj)
            except ValueError:  # pragma: no cover - filed objects are in their bucket
                pass
            if not bucket:
                # (its index stays in the heap: _fire skips an index with no bucket, and
                # a bucket filed there again pushes the index again, harmlessly)
                del self.buckets[idx]

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
        current = math.floor((now + 0.001) / res)
        heap = self.heap
        buckets = self.buckets
        due: list[tuple[int, list[Any]]] = []
        while heap and heap[0] <= current:
            idx = heapq.heappop(heap)
            bucket = buckets.pop(idx, None)
            if bucket:
                due.append((idx, bucket))
        # objects rescheduled into a past bucket now wait for the next firing
        for idx, bucket in due:
            # everything in the bucket counts as due (a deadline fires < 1 bucket early)
            when = max(now, (idx + 1) * res)
            for obj in bucket:
                if obj.timer_slot != idx:
                    continue  # moved or cancelled since it was filed here
                obj.timer_slot = None
                try:
                    obj.on_timer(when)
                except Exception:  # a bug in one session must not stop the wheel
                    log.exception("timer callback failed")
        if heap and (self.handle is None or heap[0] < self.armed):
            self._arm(heap[0])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        self.buckets.clear()
        self.heap.clear()


# Write coalescing lives with the fan-out (compiled twin): see fastsio._speedups.fanout.
from .._speedups.fanout import Flusher  # noqa: E402,F401
