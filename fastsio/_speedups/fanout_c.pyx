# cython: language_level=3, boundscheck=False, wraparound=False
"""Broadcast fan-out and coalesced output, compiled twin of ``fastsio/_server/outbox_py.py``.

Same classes, same behaviour; the difference is where the per-recipient work
happens.  ``Outbox`` is an extension type, so ``Connection`` (a Python subclass)
keeps its output state in C fields, and the fan-out loop appends a reference to
the shared frame to a recipient's list of chunks, counts its bytes and registers
it with the ``Flusher`` without a Python-level call or attribute lookup.  The Engine.IO packets are built
once and the WebSocket frames once, on the first WebSocket recipient.  When
``compress`` is true (the broadcast may be compressed and the server has
permessage-deflate on), a WebSocket with the extension negotiated (``deflate``
not None) gets its packets of ``deflate.threshold`` bytes or more through its
own compressing ``send(packet)`` instead.  A long-polling recipient that is the
compiled Engine.IO ``Session`` (``session_c``, cimported) gets the encoded packets
through its cpdef ``send_packets`` (all of them, or none when it is congested), a C
call; any other session object through its Python ``congested`` and ``send``, as in
the pure twin.
"""

from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM
from cpython.bytes cimport PyBytes_GET_SIZE, PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy

from cpython.ref cimport PyObject

# the compiled Engine.IO session (an extension type): a long-polling recipient's
# packets are queued through its cpdef ``send_packets``, a C call
from fastsio._speedups.session_c cimport Session as _Session

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)
    # borrowed-pointer access to a list's chunks at the flush (no reference counting
    # in the join loops)
    ctypedef struct _TypeObject "PyTypeObject":
        pass
    _TypeObject _BYTES_TYPE "PyBytes_Type"
    _TypeObject *_type_of "Py_TYPE" (PyObject *o)
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE" (PyObject *o)
    char *_bytes_data "PyBytes_AS_STRING" (PyObject *o)

# The compiled twin's buffer of one loop iteration is the first chunk (bytes), then a
# list of references to the chunks, untracked by the cyclic GC (it holds only bytes,
# so it can be part of no cycle: a burst to thousands of connections makes no work
# for the collector).  Nothing is copied per recipient during a fan-out: a delivery
# is a pointer appended.  At flush the chunks of one connection are joined into one
# bytes and written (connection-major, as the floor: one buffer alive at a time, so
# the heap is reused from connection to connection), or, when one of them is
# DIRECT_BYTES or longer, handed to ``transport.writelines`` as they are.

from fastsio.protocol.engineio.wire import MESSAGE_PREFIX
from fastsio.protocol.websocket.frames import OP_BINARY, OP_TEXT, build_frame

__all__ = ("DIRECT_BYTES", "HANDOFF_BYTES", "NOTHING_ASIDE", "Flusher", "Outbox", "fanout")

#: see the pure twin: what ``fanout`` returns when nothing went aside
NOTHING_ASIDE = (0, 0)
cdef tuple _NOTHING_ASIDE = NOTHING_ASIDE

#: see the pure twin: a WebSocket's buffer over this within one iteration goes to
#: the transport at once, and ``limit`` counts only what the transport holds
HANDOFF_BYTES = 256 * 1024
cdef Py_ssize_t _HANDOFF_BYTES = HANDOFF_BYTES

#: see the pure twin: a chunk this long or longer is not copied at the flush: the
#: connection's chunks go to ``transport.writelines`` as they are
DIRECT_BYTES = 8 * 1024
cdef Py_ssize_t _DIRECT_BYTES = DIRECT_BYTES

# module-level C copies of the wire constants (no per-recipient lookup)
cdef str _MESSAGE_PREFIX = MESSAGE_PREFIX
cdef int _OP_TEXT = OP_TEXT
cdef int _OP_BINARY = OP_BINARY


cdef class Flusher:
    """Coalesces writes: outboxes written to during one loop iteration are flushed
    together, each with a single transport call (``write``, or ``writelines`` with a
    large chunk), by one ``call_soon`` callback.

    With ``counting`` set (the server's ``metrics`` option), the outboxes add what
    they write to ``bytes_out`` and count their transport calls in ``writes``."""

    def __init__(self, loop, counting=False):
        self.loop = loop
        self.pending = []
        self.scheduled = False
        self.counting = counting
        self.bytes_out = 0
        self.writes = 0
        self._run = self.run
        self.last_chunks = None
        self.last_joined = None

    cdef void _add(self, object conn) except *:
        self.pending.append(conn)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._run)

    def add(self, conn):
        """Flush ``conn`` at the end of this loop iteration."""
        self._add(conn)

    def run(self):
        """Flush every outbox written to (the ``call_soon`` callback)."""
        cdef list pending = self.pending
        cdef Py_ssize_t i, n
        cdef object conn
        self.scheduled = False
        self.pending = []
        n = PyList_GET_SIZE(pending)
        for i in range(n):
            conn = <object>PyList_GET_ITEM(pending, i)
            if isinstance(conn, Outbox):
                (<Outbox>conn)._flush()
            else:
                conn.flush()
        self.last_chunks = None
        self.last_joined = None


cdef class Outbox:
    """The coalesced output of one connection (base class of ``Connection``).

    Its fields and C methods are declared in ``fanout_types.pxi`` (through
    ``fanout_c.pxd``), where the compiled connection types that subclass it see them."""

    def __init__(self, flusher, limit):
        self.transport = None
        self.flusher = flusher
        self.wbuf = None
        self.wbytes = 0
        self.limit = limit
        self.closed = False
        self.paused = False
        self.ws_mode = False
        self.ws_closing = False
        self.eio3 = False
        self.deflate = None
        self.drop_slow = False

    cdef int _write(self, bytes data) except -1:
        # None, then the first chunk (bytes), then an untracked list of the chunks:
        # nothing is copied, nothing the cyclic GC tracks is allocated
        cdef object buf = self.wbuf
        cdef object flusher
        cdef list chunks
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        if buf is None:
            if self.closed:
                return 0
            self.wbuf = data
            self.wbytes = n
            flusher = self.flusher
            if type(flusher) is Flusher:
                (<Flusher>flusher)._add(self)
            else:
                flusher.add(self)
            return 0
        if type(buf) is list:
            (<list>buf).append(data)
        elif PyBytes_GET_SIZE(buf) == 0:
            self.wbuf = data  # writes held (hold_writes): nothing before it
        else:
            chunks = [buf, data]
            PyObject_GC_UnTrack(<void*>chunks)
            self.wbuf = chunks
        self.wbytes += n
        if self.ws_mode:
            if self.wbytes > _HANDOFF_BYTES:
                self._flush()  # the handoff: what was queued goes now
        elif self.limit and self.wbytes > self.limit:
            self.overflow()
        return 0

    cdef int _emit(self, object buf) except -1:
        # one transport call for what was queued: the chunk, the chunks joined, or
        # (one of DIRECT_BYTES or more among them) the chunks as they are
        cdef object flusher = self.flusher
        cdef Flusher f = None
        cdef Py_ssize_t i, k, n, size
        cdef bytes joined
        cdef list last
        cdef PyObject *item
        cdef char *out
        if type(flusher) is Flusher:
            f = <Flusher>flusher
            if f.counting:
                f.bytes_out += self.wbytes
                f.writes += 1
        if type(buf) is not list:
            self.transport.write(buf)
            return 0
        # the joined size from the chunks themselves (not trusting wbytes with the
        # memcpy); anything but exact bytes (a subclass may queue other buffers)
        # goes through writelines too
        n = PyList_GET_SIZE(buf)
        size = 0
        for i in range(n):
            item = PyList_GET_ITEM(buf, i)
            if _type_of(item) is not &_BYTES_TYPE or _bytes_size(item) >= _DIRECT_BYTES:
                self.transport.writelines(buf)
                return 0
            size += _bytes_size(item)
        if f is not None:
            # a broadcast leaves its recipients the same chunks: the previous join is
            # written again when this list holds the very same objects (the Flusher
            # keeps that list, so its chunks are alive and their addresses not reused)
            last = f.last_chunks
            if last is not None and PyList_GET_SIZE(last) == n:
                i = 0
                while i < n and PyList_GET_ITEM(buf, i) == PyList_GET_ITEM(last, i):
                    i += 1
                if i == n:
                    self.transport.write(f.last_joined)
                    return 0
        joined = PyBytes_FromStringAndSize(NULL, size)
        out = PyBytes_AS_STRING(joined)
        for i in range(n):
            item = PyList_GET_ITEM(buf, i)
            k = _bytes_size(item)
            memcpy(out, _bytes_data(item), k)
            out += k
        if f is not None:
            f.last_chunks = <list>buf
            f.last_joined = joined
        self.transport.write(joined)
        return 0

    cdef int _flush(self) except -1:
        cdef object buf = self.wbuf
        if buf is None:
            return 0
        self.wbuf = None
        if self.closed:
            self.wbytes = 0
            return 0
        if self.wbytes:
            self._emit(buf)
        self.wbytes = 0
        if self.paused and self.limit and self.ws_mode:
            self.overflow()
        return 0

    def write(self, data):
        """Queue bytes; they leave with everything else written this loop iteration."""
        self._write(data if type(data) is bytes else bytes(data))

    def flush(self):
        """Write what was queued (one transport call)."""
        self._flush()

    def handoff(self):
        """Hand what was queued to the transport now (a WebSocket's buffer passed
        ``HANDOFF_BYTES`` within one iteration); still over ``limit`` in the
        transport (paused): a slow consumer, ``overflow()``.  The flush, mid-iteration."""
        self._flush()

    def overflow(self):
        """The bytes waiting went over ``limit`` (the subclass drops the connection)."""
        raise NotImplementedError

    def send_frame(self, frame):
        """Send a pre-built frame (broadcast fan-out)."""
        if not self.ws_closing:
            self._write(frame if type(frame) is bytes else bytes(frame))


cdef inline Py_ssize_t _payload_size(bytes frame):
    # the payload length of an unmasked server frame, from its total length
    cdef Py_ssize_t n = len(frame)
    return n - (2 if n < 128 else 4 if n < 0x10004 else 10)


cdef _send_deflated(object ws, object deflate, list packets, list frames):
    # a connection with permessage-deflate: its own compressing send() for the
    # packets at or over its threshold, the shared frames for the others
    cdef Py_ssize_t i
    cdef object threshold = deflate.threshold
    for i in range(len(frames)):
        if _payload_size(<bytes>frames[i]) >= threshold:
            ws.send(packets[i])
        else:
            ws.send_frame(frames[i])


def fanout(targets, parts, bint compress=True):
    """Hand one encoded Socket.IO packet (``parts``: text, then attachments) to every
    target: a connection (an ``Outbox``: a WebSocket session's) or an Engine.IO
    session (``ws`` set: its WebSocket gets the frames; else ``send`` each packet).

    Returns ``(sent, skipped)``: the recipients given the packets through their
    session's ``send`` (polling sessions), and those skipped as slow consumers
    (``slow_consumer="drop"``); the others got the frames written directly."""
    cdef Py_ssize_t sent = 0, skipped = 0
    cdef list packets = []
    cdef list frames = None
    cdef bytes frame0 = None
    cdef Py_ssize_t n_frames = 0
    cdef object target, ws, part, p, frame, deflate
    cdef Outbox out
    for part in parts:
        if isinstance(part, str):
            packets.append(_MESSAGE_PREFIX + part)
        else:
            packets.append(part)
    # Cython iterates an exact list or tuple by index (re-reading its size at
    # each step, as the list iterator does), anything else as an iterator.
    for target in targets:
        if isinstance(target, Outbox):
            ws = target
            if (<Outbox>ws).paused and (<Outbox>ws).drop_slow:
                skipped += 1
                continue  # slow_consumer="drop": its transport is over the limit
        else:
            # an Engine.IO session: long-polling (``ws`` None) gets the packets
            if isinstance(target, _Session):
                ws = (<_Session>target).ws
                if ws is None:
                    # the compiled session: all the packets queued by a C call, or
                    # none (slow_consumer="drop")
                    if (<_Session>target).send_packets(packets):
                        sent += 1
                    else:
                        skipped += 1
                    continue
            else:
                ws = target.ws
                if ws is None:
                    if target.congested:
                        skipped += 1
                        continue  # slow_consumer="drop": over its queue's limit
                    for p in packets:
                        target.send(p)
                    sent += 1
                    continue
            if isinstance(ws, Outbox) and (<Outbox>ws).paused and (<Outbox>ws).drop_slow:
                skipped += 1
                continue
        if frames is None:
            frames = [build_frame(_OP_TEXT, p) if isinstance(p, str) else build_frame(_OP_BINARY, p) for p in packets]
            n_frames = len(frames)
            if n_frames == 1:
                frame0 = frames[0]
        if compress:
            deflate = (<Outbox>ws).deflate if isinstance(ws, Outbox) else ws.deflate
            if deflate is not None:
                _send_deflated(ws, deflate, packets, frames)
                continue
        if isinstance(ws, Outbox) and not (<Outbox>ws).eio3:
            out = <Outbox>ws
            if out.ws_closing or out.closed:
                continue
            if n_frames == 1:
                # The common case: one text packet, one frame.
                out._write(frame0)
            else:
                for frame in frames:
                    out._write(frame)
        else:
            for frame in frames:
                ws.send_frame(frame)
    if sent or skipped:
        return (sent, skipped)
    return _NOTHING_ASIDE
