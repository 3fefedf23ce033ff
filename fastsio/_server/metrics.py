"""Prometheus metrics: the counters a server keeps, and their text exposition.

What it is for
==============

With the ``metrics`` option (``Server(metrics=True)`` or a path), the engine keeps one
:class:`Metrics` object, counts into it where the work is done already, and answers
``GET /metrics`` (or the path given) with :func:`render`'s text: the Prometheus text
exposition format, version 0.0.4 (``text/plain; version=0.0.4``).  Without it the
engine has no :class:`Metrics` (``engine.metrics is None``) and nothing is counted.

How it works
============

Counting is plain integer increments, in the places that run once per read, per
packet or per broadcast anyway, behind one ``is not None`` test where metrics may be
off; nothing is allocated for it but the integers themselves:

* bytes in: the connections' ``data_received`` (one addition per read);
* bytes out and writes: the outbox twins, in ``flush``/``handoff`` (one per
  ``transport.write``), into the :class:`~fastsio._server.outbox.Flusher`'s
  ``bytes_out``/``writes`` (C fields in the compiled twin), when its ``counting`` is set;
* Engine.IO packets in and out: the session (``receive_ws``/``receive_payload``,
  ``send``), into its ``metrics``;
* broadcasts: once per broadcast, in the memory adapter: the recipients' count is
  added (not counted one by one), and the packets written straight to WebSocket
  outboxes are that count, minus what the fan-out reports it sent through sessions or
  skipped (slow consumers), times the packet's parts;
* handshakes, refusals, disconnections (by reason), ack timeouts: where they happen.

Gauges (connections by transport and Engine.IO version, send-buffer depth, sockets per
namespace, the Redis adapter's backlog and the age of its last message, process
basics) are read when the metrics are scraped, not kept.  The layers above add their
own families through :attr:`Metrics.sources` (callables that write into an
:class:`Exposition`).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Iterable, Protocol

from .._speedups import IMPLEMENTATIONS
from .._version import __version__
from ..protocol.engineio.session import OPEN as _OPEN

__all__ = ("CONTENT_TYPE", "Exposition", "Metrics", "MetricsEngine", "process_samples", "render")

#: The Content-Type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_START = time.time()


class Metrics:
    """The counters of one server (the engine's ``metrics``), plain integers.

    Counters keyed by a label (``handshakes``, ``refused``, ``disconnects``) are
    dicts, added to once per handshake, refusal or disconnection."""

    __slots__ = (
        "bytes_in",
        "packets_in",
        "packets_out",
        "broadcasts",
        "broadcast_recipients",
        "dropped",
        "ack_timeouts",
        "handshakes",
        "refused",
        "disconnects",
        "connects",
        "sources",
    )

    def __init__(self) -> None:
        #: bytes read from clients (fastsio's own connections)
        self.bytes_in = 0
        #: Engine.IO packets received (WebSocket messages, packets of polling POSTs)
        self.packets_in = 0
        #: Engine.IO packets sent (through sessions, and broadcast frames written to
        #: WebSocket connections)
        self.packets_out = 0
        #: broadcasts fanned out (with at least one recipient on this node)
        self.broadcasts = 0
        #: their recipients, summed
        self.broadcast_recipients = 0
        #: broadcast deliveries skipped for slow consumers (``slow_consumer="drop"``)
        #: and packets for a socket whose connection was congested
        self.dropped = 0
        #: acknowledgements not received in time (``timeout(s)``/``ack_timeout``)
        self.ack_timeouts = 0
        #: (transport, Engine.IO version) -> sessions opened
        self.handshakes: dict[tuple[str, int], int] = {}
        #: reason -> requests and upgrades refused (``unknown_sid``, ``forbidden``...)
        self.refused: dict[str, int] = {}
        #: reason -> sessions closed (``transport close``, ``ping timeout``,
        #: ``send buffer full`` (a slow consumer dropped) ...)
        self.disconnects: dict[str, int] = {}
        #: (namespace, "accepted" | "refused" | "invalid_namespace") -> Socket.IO CONNECTs
        self.connects: dict[tuple[str, str], int] = {}
        #: ``fn(exposition)`` for each layer above that adds families at scrape time
        self.sources: list[Callable[[Exposition], None]] = []

    def count(self, table: dict[Any, int], key: Any) -> None:
        """Add one to ``table[key]``."""
        table[key] = table.get(key, 0) + 1


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """A text exposition being written: one :meth:`family` at a time."""

    __slots__ = ("lines", "names")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: set[str] = set()

    def family(
        self,
        name: str,
        kind: str,
        doc: str,
        samples: Iterable[tuple[str, dict[str, str] | None, float]],
    ) -> None:
        """Write one metric family: ``# HELP``, ``# TYPE`` and its samples, each
        ``(suffix, labels, value)`` (``suffix``: ``"_total"`` for a counter's sample,
        ``"_sum"``/``"_count"`` for a summary's, ``""`` for a gauge's).  A family
        already written is skipped (two sources must not repeat one)."""
        if name in self.names:
            return
        self.names.add(name)
        head = name + "_total" if kind == "counter" else name
        lines = self.lines
        lines.append(f"# HELP {head} {doc}")
        lines.append(f"# TYPE {head} {kind}")
        for suffix, labels, value in samples:
            if labels:
                text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
                lines.append(f"{name}{suffix}{{{text}}} {_number(value)}")
            else:
                lines.append(f"{name}{suffix} {_number(value)}")

    def counter(self, name: str, doc: str, value: float) -> None:
        """A counter without labels (``name`` without ``_total``)."""
        self.family(name, "counter", doc, [("_total", None, value)])

    def gauge(self, name: str, doc: str, value: float) -> None:
        """A gauge without labels."""
        self.family(name, "gauge", doc, [("", None, value)])

    def text(self) -> str:
        """The exposition (ends with a newline)."""
        return "\n".join(self.lines) + "\n"


class MetricsEngine(Protocol):
    """What :func:`render` reads of the engine (the Engine satisfies it)."""

    @property
    def metrics(self) -> Metrics | None:
        """The counters (None: metrics off)."""

    @property
    def sessions(self) -> dict[str, Any]:
        """The open sessions, by sid."""

    @property
    def connections(self) -> Any:
        """The live TCP connections (outboxes)."""

    @property
    def flusher(self) -> Any:
        """The write flusher (``bytes_out``, ``writes``)."""

    @property
    def transport_changes(self) -> int:
        """Upgrades to WebSocket completed."""


def process_samples(out: Exposition) -> None:
    """The usual ``process_*`` families (CPU seconds, resident memory, open file
    descriptors, start time), where the platform tells them cheaply (Linux ``/proc``)."""
    times = os.times()
    out.counter("process_cpu_seconds", "User and system CPU time spent, in seconds.", times.user + times.system)
    try:
        with open("/proc/self/statm", "rb") as f:
            rss_pages = int(f.read().split()[1])
        out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss_pages * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        out.gauge("process_open_fds", "Number of open file descriptors.", len(os.listdir("/proc/self/fd")))
    except OSError:
        pass
    out.gauge("process_start_time_seconds", "When fastsio was imported, in seconds since the epoch.", _START)


def render(engine: MetricsEngine) -> str:
    """The text exposition of ``engine``'s metrics (its counters, the gauges read now,
    what the layers above add through ``metrics.sources``, and ``process_*``)."""
    m = engine.metrics
    assert m is not None
    out = Exposition()
    build = "compiled" if IMPLEMENTATIONS and all(v == "cython" for v in IMPLEMENTATIONS.values()) else "pure"
    out.family("fastsio_info", "gauge", "The fastsio version and build (compiled or pure twins).",
               [("", {"version": __version__, "build": build}, 1)])
    # connections, read now
    by_transport: dict[tuple[str, int], int] = {}
    polling_queued = 0
    for session in engine.sessions.values():
        if session.state != _OPEN:
            continue
        key = (session.transport, session.eio)
        by_transport[key] = by_transport.get(key, 0) + 1
        polling_queued += len(session.queue)
    for transport in ("polling", "websocket"):
        for eio in (3, 4):
            by_transport.setdefault((transport, eio), 0)
    out.family(
        "fastsio_connections",
        "gauge",
        "Open Engine.IO sessions, by transport and Engine.IO version.",
        [("", {"transport": t, "eio": str(v)}, n) for (t, v), n in sorted(by_transport.items())],
    )
    out.family(
        "fastsio_handshakes",
        "counter",
        "Engine.IO sessions opened, by transport and Engine.IO version.",
        [("_total", {"transport": t, "eio": str(v)}, n) for (t, v), n in sorted(m.handshakes.items())],
    )
    out.family(
        "fastsio_refused",
        "counter",
        "HTTP requests and WebSocket upgrades refused, by reason.",
        [("_total", {"reason": r}, n) for r, n in sorted(m.refused.items())],
    )
    out.family(
        "fastsio_disconnects",
        "counter",
        "Engine.IO sessions closed, by reason ('send buffer full': a slow consumer dropped).",
        [("_total", {"reason": r}, n) for r, n in sorted(m.disconnects.items())],
    )
    out.counter("fastsio_upgrades", "Polling sessions upgraded to WebSocket.", engine.transport_changes)
    # traffic
    flusher = engine.flusher
    out.counter("fastsio_bytes_received", "Bytes read from clients (fastsio's own HTTP server).", m.bytes_in)
    out.counter("fastsio_bytes_sent", "Bytes written to clients (fastsio's own HTTP server).",
                flusher.bytes_out if flusher is not None else 0)
    out.counter("fastsio_writes", "Socket writes (each carries what one loop iteration sent a connection).",
                flusher.writes if flusher is not None else 0)
    out.counter("fastsio_packets_received", "Engine.IO packets received.", m.packets_in)
    out.counter("fastsio_packets_sent", "Engine.IO packets sent (broadcast copies included).", m.packets_out)
    out.family(
        "fastsio_broadcast_recipients",
        "summary",
        "Broadcasts fanned out on this node (count) and their recipients (sum).",
        [("_count", None, m.broadcasts), ("_sum", None, m.broadcast_recipients)],
    )
    out.counter("fastsio_dropped_packets",
                "Packets not sent to slow consumers (slow_consumer='drop') while they drained.", m.dropped)
    out.counter("fastsio_ack_timeouts", "Acknowledgements not received in time.", m.ack_timeouts)
    # send buffers, read now
    total = 0
    deepest = 0
    paused = 0
    for conn in engine.connections:
        transport = conn.transport
        depth = conn.wbytes + (transport.get_write_buffer_size() if transport is not None and not conn.closed else 0)
        total += depth
        if depth > deepest:
            deepest = depth
        if conn.paused:
            paused += 1
    out.gauge("fastsio_send_buffer_bytes", "Bytes waiting to be sent on the connections (in fastsio's "
              "buffers and the transports').", total)
    out.gauge("fastsio_polling_queued_packets", "Packets queued for polling clients' next GET.", polling_queued)
    out.gauge("fastsio_send_buffer_max_bytes", "Bytes waiting on the connection with the most.", deepest)
    out.gauge("fastsio_congested_connections", "Connections over max_buffer_size (writes paused).", paused)
    for source in m.sources:
        source(out)
    process_samples(out)
    return out.text()
