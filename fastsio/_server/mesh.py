"""The links between the worker processes of ``run(workers=N)``: messages, and
connections handed to the worker that owns their session.

Each worker ``i`` of ``N`` listens on a unix socket ``<folder>/<i>.sock`` and connects
to every sibling's (``N - 1`` outgoing links, written only; ``N - 1`` incoming ones,
read only).  What goes over a link is frames: a 4-byte big-endian length, a kind byte,
a body:

* ``HELLO`` (the sender's index), then ``SUB``/``UNSUB`` (a channel name): the channels
  the sender listens on (what :meth:`Mesh.numsub` counts, as Redis's ``PUBSUB NUMSUB``);
* ``PUBLISH``: a channel (2-byte length, name) and a payload, handed to
  :attr:`Mesh.on_publish` in every sibling (:class:`fastsio.adapters.WorkerAdapter`
  speaks the Redis adapter's format over it): one frame per sibling per message;
* ``HANDOFF``: a TCP connection passed with ``SCM_RIGHTS`` (the file descriptor rides
  with the frame's first byte), the body being the bytes already read from it (the
  request serialized again, then whatever followed it).  The receiver adopts the socket
  on its loop (:meth:`fastsio._server.engine.Engine.adopt`) and feeds it those bytes
  first.

Routing (:class:`WorkerRouter`, the engine's :class:`~fastsio._server.engine.SessionRouter`):
worker ``i``'s session ids begin with the ``i``-th character of the URL-safe base64
alphabet (:attr:`Mesh.prefix`; the other 19 stay random).  A request or WebSocket
upgrade naming a session this worker does not have, whose first character names a
sibling, is handed to that sibling with its connection; the connection then belongs to
it (and is handed back if a later request on it names another worker).  A sibling that
is not reachable (restarting) is not handed anything: the request is answered here
("Session ID unknown"), and the client starts a new session.  TLS connections are not
handed off (their TLS state lives in this process): answered here too.

No task per message: the sockets are non-blocking, read and written from the loop's
reader and writer callbacks; a link that cannot take more queues (up to
:data:`MAX_QUEUED` bytes, beyond which its messages are dropped and counted in
:attr:`Mesh.dropped`).  A link that breaks (a sibling died) is retried every
:data:`RETRY` seconds until the restarted sibling listens again; what was sent to it
meanwhile is dropped and counted.
"""

from __future__ import annotations

import array
import asyncio
import errno
import logging
import os
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from .request import Request

__all__ = (
    "ALPHABET",
    "MAX_QUEUED",
    "Mesh",
    "RETRY",
    "WorkerRouter",
    "request_bytes",
)

#: worker ``i``'s session ids begin with ``ALPHABET[i]`` (so at most 64 workers)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: seconds between two attempts to reach a sibling that is not listening
RETRY = 0.1
#: bytes a link may have queued (its sibling not reading) before messages are dropped
MAX_QUEUED = 64 * 1024 * 1024

HELLO = 0
SUB = 1
UNSUB = 2
PUBLISH = 3
HANDOFF = 4

_HEAD = struct.Struct(">IB")
_CHANNEL = struct.Struct(">H")
_READ = 256 * 1024
_MAX_FRAME = 256 * 1024 * 1024
_FDS = socket.CMSG_SPACE(16 * 4) if hasattr(socket, "CMSG_SPACE") else 0


def _frame(kind: int, body: bytes) -> bytes:
    return _HEAD.pack(len(body) + 1, kind) + body


def request_bytes(req: Request) -> bytes:
    """``req`` written again as HTTP/1.1 bytes (head and body): what a sibling parses
    as if it had read it from the connection.  The body goes with a Content-Length (a
    chunked body was already decoded); a request that ended the keep-alive says so."""
    lines = [f"{req.method} {req.url} HTTP/1.1\r\n"]
    for name, value in req.headers.items():
        if name != "content-length" and name != "transfer-encoding":
            lines.append(f"{name}: {value}\r\n")
    body = req.body
    if body or req.method not in ("GET", "HEAD", "OPTIONS"):
        lines.append(f"content-length: {len(body)}\r\n")
    if not req.keep_alive and "connection" not in req.headers:
        lines.append("connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


class _Link:
    """A non-blocking unix stream socket of the mesh, written from a queue (frames and
    file descriptors in order) or read into frames."""

    __slots__ = ("mesh", "peer", "sock", "queue", "queued", "writing", "rbuf", "fds", "outgoing")

    def __init__(self, mesh: Mesh, sock: socket.socket, peer: int | None, outgoing: bool) -> None:
        self.mesh = mesh
        self.peer = peer
        self.sock = sock
        self.outgoing = outgoing
        # [bytes, fd or -1]: the fd goes with the first byte of its bytes
        self.queue: deque[list[Any]] = deque()
        self.queued = 0
        self.writing = False
        self.rbuf = bytearray()
        self.fds: deque[int] = deque()

    # ------------------------------------------------------------ writing
    def send(self, data: bytes, fd: int = -1) -> bool:
        if self.queued > MAX_QUEUED:
            if fd >= 0:
                os.close(fd)
            return False
        self.queue.append([data, fd])
        self.queued += len(data)
        if not self.writing:
            self.flush()
        return True

    def flush(self) -> None:
        queue = self.queue
        sock = self.sock
        try:
            while queue:
                entry = queue[0]
                data, fd = entry
                if fd >= 0:
                    n = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
                    os.close(fd)
                    entry[1] = -1
                else:
                    if len(queue) > 1 and queue[1][1] < 0:
                        # coalesce what follows (no descriptor among it)
                        chunks = [data]
                        while len(queue) > 1 and queue[1][1] < 0 and len(chunks) < 256:
                            chunks.append(queue[1][0])
                            del queue[1]
                        data = entry[0] = b"".join(chunks)
                    n = sock.send(data)
                self.queued -= n
                if n < len(data):
                    entry[0] = data[n:]
                    break
                queue.popleft()
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self.mesh.lost(self, exc)
            return
        loop = self.mesh.loop
        if queue and not self.writing:
            self.writing = True
            loop.add_writer(sock.fileno(), self.flush)
        elif not queue and self.writing:
            self.writing = False
            loop.remove_writer(sock.fileno())

    # ------------------------------------------------------------ reading
    def readable(self) -> None:
        try:
            if _FDS:
                data, ancdata, _, _ = self.sock.recvmsg(_READ, _FDS)
                for level, kind, cdata in ancdata:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds = array.array("i")
                        fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])
                        self.fds.extend(fds)
            else:  # pragma: no cover - no SCM_RIGHTS
                data = self.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.mesh.lost(self, exc)
            return
        if not data:
            self.mesh.lost(self, None)
            return
        if self.outgoing:
            return  # nothing is sent back on an outgoing link
        buf = self.rbuf
        buf += data
        pos = 0
        end = len(buf)
        head = _HEAD.size
        try:
            while end - pos >= head:
                length, kind = _HEAD.unpack_from(buf, pos)
                if length < 1 or length > _MAX_FRAME:
                    raise ValueError(f"bad frame length {length}")
                if end - pos < 4 + length:
                    break
                body = bytes(buf[pos + head : pos + 4 + length])
                pos += 4 + length
                self.mesh.frame(self, kind, body)
        except Exception as exc:
            self.mesh.log.warning("workers: bad frame from worker %s: %r; dropping the link", self.peer, exc)
            self.mesh.lost(self, None)
            return
        del buf[:pos]

    def close(self) -> None:
        loop = self.mesh.loop
        try:
            fileno = self.sock.fileno()
            if fileno >= 0:
                loop.remove_reader(fileno)
                if self.writing:
                    loop.remove_writer(fileno)
        except (ValueError, OSError):  # pragma: no cover
            pass
        self.writing = False
        for entry in self.queue:
            if entry[1] >= 0:
                os.close(entry[1])
        self.queue.clear()
        self.queued = 0
        while self.fds:
            os.close(self.fds.popleft())
        self.sock.close()


class Mesh:
    """This worker's links to its siblings (see the module).

    Args:
        folder: the folder of the workers' unix sockets (made by the supervisor).
        index: this worker's number, ``0 <= index < count``.
        count: how many workers there are (at most 64).
        log: where link changes are logged.

    Attributes:
        on_publish: ``on_publish(channel, payload)`` for each ``PUBLISH`` of a sibling.
        on_handoff: ``on_handoff(fd, data)`` for each connection a sibling hands over
            (this function owns ``fd``).
        dropped: messages not delivered to a sibling (unreachable, or not reading).
    """

    def __init__(self, folder: str, index: int, count: int, log: logging.Logger | None = None) -> None:
        if not 0 <= index < count <= len(ALPHABET):
            raise ValueError(f"worker {index} of {count}: at most {len(ALPHABET)} workers")
        self.folder = folder
        self.index = index
        self.count = count
        self.log = log if log is not None else logging.getLogger("fastsio")
        #: the first character of this worker's session ids
        self.prefix = ALPHABET[index]
        self.on_publish: Callable[[bytes, bytes], None] | None = None
        self.on_handoff: Callable[[int, bytes], None] | None = None
        self.dropped = 0
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._listener: socket.socket | None = None
        # sibling index -> its outgoing link (None: not connected now)
        self._out: dict[int, _Link | None] = {}
        self._in: set[_Link] = set()
        # what this worker listens on, and what each sibling said it listens on
        self._subs: set[bytes] = set()
        self._peer_subs: dict[int, set[bytes]] = {}
        self._retries: dict[int, asyncio.TimerHandle] = {}
        self._closed = False

    def path(self, index: int) -> str:
        """The unix socket of worker ``index``."""
        return os.path.join(self.folder, f"{index}.sock")

    # ------------------------------------------------------------ lifecycle
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen for the siblings and start reaching them (on ``loop``; once)."""
        if self.loop is not None:
            return
        self.loop = loop
        path = self.path(self.index)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        loop.add_reader(listener.fileno(), self._accept)
        for peer in range(self.count):
            if peer != self.index:
                self._out[peer] = None
                self._connect(peer)

    def close(self) -> None:
        """Close every link (the worker stops)."""
        if self._closed or self.loop is None:
            return
        self._closed = True
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        for link in [*(lk for lk in self._out.values() if lk is not None), *self._in]:
            link.close()
        self._out.clear()
        self._in.clear()
        listener = self._listener
        if listener is not None:
            self.loop.remove_reader(listener.fileno())
            listener.close()
            try:
                os.unlink(self.path(self.index))
            except OSError:
                pass

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # pragma: no cover - EMFILE...
                self.log.warning("workers: accepting a sibling's link failed: %s", exc)
                return
            sock.setblocking(False)
            link = _Link(self, sock, None, outgoing=False)
            self._in.add(link)
            self.loop.add_reader(sock.fileno(), link.readable)

    def _connect(self, peer: int) -> None:
        self._retries.pop(peer, None)
        if self._closed:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(self.path(peer))
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN):
                self.log.debug("workers: reaching worker %d: %s", peer, exc)
            self._retries[peer] = self.loop.call_later(RETRY, self._connect, peer)
            return
        link = _Link(self, sock, peer, outgoing=True)
        self._out[peer] = link
        # readable only when the sibling goes away
        self.loop.add_reader(sock.fileno(), link.readable)
        hello = [_frame(HELLO, str(self.index).encode())]
        hello.extend(_frame(SUB, channel) for channel in self._subs)
        link.send(b"".join(hello))
        self.log.debug("workers: worker %d linked to worker %d", self.index, peer)

    def lost(self, link: _Link, exc: BaseException | None) -> None:
        """A link broke (its sibling stopped or died): forget it; reach the sibling
        again (outgoing links)."""
        link.close()
        if link.outgoing:
            peer = link.peer
            assert peer is not None
            if self._out.get(peer) is link:
                self._out[peer] = None
                if not self._closed:
                    self.log.debug("workers: link to worker %d lost (%s); retrying", peer, exc)
                    self._retries[peer] = self.loop.call_later(RETRY, self._connect, peer)
        else:
            self._in.discard(link)
            if link.peer is not None:
                self._peer_subs.pop(link.peer, None)

    # ------------------------------------------------------------ frames
    def frame(self, link: _Link, kind: int, body: bytes) -> None:
        """One frame from a sibling's link."""
        if kind == PUBLISH:
            (n,) = _CHANNEL.unpack_from(body)
            if self.on_publish is not None:
                self.on_publish(body[2 : 2 + n], body[2 + n :])
        elif kind == HANDOFF:
            if not link.fds:
                raise ValueError("a hand-off without its socket")
            fd = link.fds.popleft()
            if self.on_handoff is None:
                os.close(fd)
            else:
                self.on_handoff(fd, body)
        elif kind == HELLO:
            peer = int(body)
            link.peer = peer
            self._peer_subs[peer] = set()
        elif kind == SUB:
            self._peer_subs.setdefault(link.peer if link.peer is not None else -1, set()).add(body)
        elif kind == UNSUB:
            self._peer_subs.get(link.peer if link.peer is not None else -1, set()).discard(body)
        else:
            raise ValueError(f"unknown frame kind {kind}")

    # ------------------------------------------------------------ the adapter's side
    def subscribe(self, channel: bytes) -> None:
        """Listen on ``channel`` (the siblings count it in :meth:`numsub`)."""
        if channel not in self._subs:
            self._subs.add(channel)
            self._to_all(_frame(SUB, channel))

    def unsubscribe(self, channel: bytes) -> None:
        """Stop listening on ``channel``."""
        if channel in self._subs:
            self._subs.discard(channel)
            self._to_all(_frame(UNSUB, channel))

    def numsub(self, channel: bytes) -> int:
        """How many workers (this one included) listen on ``channel`` now and can be
        reached (a sibling counts once both links with it are up: it said it listens,
        and what is published here gets to it)."""
        out = self._out
        return (channel in self._subs) + sum(
            1 for peer, subs in self._peer_subs.items() if channel in subs and out.get(peer) is not None
        )

    def publish(self, channel: bytes, payload: bytes) -> int:
        """Send ``payload`` on ``channel`` to every sibling (one frame each); returns how
        many got it."""
        frame = _HEAD.pack(len(channel) + len(payload) + 3, PUBLISH) + _CHANNEL.pack(len(channel)) + channel + payload
        return self._to_all(frame)

    def _to_all(self, frame: bytes) -> int:
        sent = 0
        for link in self._out.values():
            if link is not None and link.send(frame):
                sent += 1
            else:
                self.dropped += 1
        return sent

    def reach(self, peer: int) -> bool:
        """Whether sibling ``peer`` can be sent to now, trying to link up at once if it is
        not (a unix connect succeeds at once when the sibling listens: a sibling that just
        started, or started again, need not wait for the next retry)."""
        if self._out.get(peer) is not None:
            return True
        if self._closed or peer not in self._out:
            return False
        handle = self._retries.pop(peer, None)
        if handle is not None:
            handle.cancel()
        self._connect(peer)
        return self._out.get(peer) is not None

    def linked(self) -> list[int]:
        """The siblings reachable now."""
        return [peer for peer, link in self._out.items() if link is not None]

    # ------------------------------------------------------------ hand-offs
    def owner(self, sid: str) -> int | None:
        """The sibling whose session id ``sid`` is (None: this worker's, or nobody's)."""
        index = ALPHABET.find(sid[:1]) if sid else -1
        if index < 0 or index >= self.count or index == self.index:
            return None
        return index

    def hand_off(self, peer: int, fd: int, data: bytes) -> bool:
        """Pass the socket ``fd`` (this function owns it) and the bytes read from it to
        worker ``peer``; False (``fd`` closed) when ``peer`` is not reachable."""
        link = self._out.get(peer)
        if link is None:
            os.close(fd)
            return False
        return link.send(_frame(HANDOFF, data), fd)


class PassingExchange(Protocol):
    """What :class:`WorkerRouter` needs of a connection (fastsio's own
    :class:`~fastsio._server.http.Connection` has it; an ASGI exchange does not)."""

    @property
    def secure(self) -> bool:
        """It came over TLS."""
        ...

    def pass_on(self, send: Callable[[int, bytes], bool], first: bytes) -> None:
        """Hand the connection to another process once the bytes read so far are
        parsed: ``send(fd, first + what followed)``."""
        ...


class WorkerRouter:
    """The engine's :class:`~fastsio._server.engine.SessionRouter` in a worker: hands a
    request for a sibling's session, with its connection, to that sibling (see the
    module).

    Args:
        mesh: this worker's links.
    """

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        #: connections handed to siblings so far
        self.handed_off = 0

    @property
    def sid_prefix(self) -> str:
        """The first character of this worker's session ids."""
        return self.mesh.prefix

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The server starts on ``loop``: link up with the siblings."""
        self.mesh.bind(loop)

    def close(self) -> None:
        """The server stopped: close the links."""
        self.mesh.close()

    def route(self, conn: Any, req: Request, sid: str) -> bool:
        """Hand ``req`` (naming the unknown session ``sid``) and ``conn`` to the worker
        that owns ``sid``; False: not another worker's, not reachable, or a connection
        that cannot be passed (TLS, ASGI): answer it here."""
        peer = self.mesh.owner(sid)
        if peer is None or not self.mesh.reach(peer):
            return False
        pass_on = getattr(conn, "pass_on", None)
        if pass_on is None or conn.secure:
            return False
        mesh = self.mesh

        def send(fd: int, data: bytes) -> bool:
            return mesh.hand_off(peer, fd, data)

        self.handed_off += 1
        pass_on(send, request_bytes(req))
        return True
