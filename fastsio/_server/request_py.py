"""The HTTP request object, and the strings requests share.

:class:`Request` is what the HTTP layer (:mod:`fastsio._server.http`) hands to the
application: method, target, path, query, lower-cased headers, body, peer.

A held connection keeps its handshake request (``socket.handshake``) for its whole
life.  The strings that repeat from one request to the next -- header names, most
header values, query keys and values, paths, methods -- are shared instead of one
copy per connection (a few hundred bytes each): :func:`header_name`,
:func:`header_value` (and :func:`add_header` and :func:`header_dict`, which make a
request head's headers with both),
:func:`shared` (and :func:`parse_query`, which leaves out the values that differ per
request: ``sid``, ``t``).  Bounded: a table that fills up starts over.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

__all__ = (
    "Request",
    "add_header",
    "header_dict",
    "header_name",
    "header_value",
    "parse_query",
    "shareable_target",
    "shared",
    "split_target",
)

_SHARED_MAX = 4096
_SHARED_LEN = 64
_names: dict[bytes, str] = {}
_values: dict[bytes, str] = {}
_strings: dict[str, str] = {}
# header values that differ per connection: not worth a table entry
_UNSHARED = frozenset(("sec-websocket-key", "cookie", "authorization", "content-length"))
# query parameters whose values differ per request: not worth a table entry
_UNIQUE_PARAMS = frozenset(("sid", "t"))


def header_name(raw: bytes) -> str:
    """A header name as received, lower-cased, as a shared string."""
    name = _names.get(raw)
    if name is None:
        name = raw.decode("latin-1").lower()
        if len(_names) >= _SHARED_MAX:
            _names.clear()
        _names[raw] = name
    return name


def header_value(key: str, raw: bytes) -> str:
    """The value of header ``key``: a shared string unless it is long or differs
    per connection (``sec-websocket-key``, ``cookie``, ...)."""
    if len(raw) > _SHARED_LEN or key in _UNSHARED:
        return raw.decode("latin-1")
    value = _values.get(raw)
    if value is None:
        value = raw.decode("latin-1")
        if len(_values) >= _SHARED_MAX:
            _values.clear()
        _values[raw] = value
    return value


def add_header(headers: dict[str, str], name: bytes, value: bytes) -> None:
    """Add one header as received to ``headers``: the name lower-cased, a repeated
    header joined to the earlier value by ", ", strings shared as :func:`header_name`
    and :func:`header_value` share them.  The HTTP parser's header callback: the
    request's dict is made as its headers arrive."""
    key = _names.get(name)
    if key is None:
        key = header_name(name)
    val = _values.get(value)
    if val is None or key in _UNSHARED:
        val = header_value(key, value)
    if key in headers:
        headers[key] += ", " + val
    else:
        headers[key] = val


def header_dict(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers of a request head, ``(name, value)`` pairs as received, as
    :func:`add_header` adds them."""
    headers: dict[str, str] = {}
    for name, value in raw:
        add_header(headers, name, value)
    return headers


def shared(text: str) -> str:
    """``text``, or the equal string already shared (short strings only)."""
    if len(text) > _SHARED_LEN:
        return text
    found = _strings.get(text)
    if found is None:
        if len(_strings) >= _SHARED_MAX:
            _strings.clear()
        _strings[text] = found = text
    return found


def parse_query(qs: str) -> dict[str, str]:
    """``dict(parse_qsl(qs))`` with shared strings; a query with nothing to unquote (an
    Engine.IO handshake's ``EIO=4&transport=websocket``) is split directly.  The values
    of ``sid`` and ``t`` (a session id, a cache-busting timestamp) differ per request
    and are not put in the table."""
    query = {}
    if "%" in qs or "+" in qs:
        for name, value in parse_qsl(qs):
            key = shared(name)
            query[key] = value if key in _UNIQUE_PARAMS else shared(value)
        return query
    strings = _strings
    for part in qs.split("&"):
        name, _, value = part.partition("=")
        if value:  # parse_qsl drops blank values
            key = strings.get(name) or shared(name)
            query[key] = value if key in _UNIQUE_PARAMS else (strings.get(value) or shared(value))
    return query


def split_target(target: str) -> tuple[str, str] | None:
    """The path and the query string of an origin-form request target
    (``/socket.io/?EIO=4&...``), as ``httptools.parse_url`` would give them, or None
    for any other form (absolute-form, ``*``, a fragment): parse it with ``parse_url``.

    The request line was validated by the HTTP parser; what is left to do for the
    usual target is one split at the first ``?`` (a tenth of ``parse_url``'s cost,
    with its URL object, per request)."""
    if target[:1] != "/" or "#" in target:
        return None
    path, _, query = target.partition("?")
    return path, query


def shareable_target(target: str) -> bool:
    """Whether a request target (decoded) is likely to repeat (worth a shared string): no
    session id and no cache-busting timestamp, which are unique per request.

    It takes the decoded ``str``: CPython's ``bytes.__contains__`` first tries its
    argument as an int, and a bytes argument costs it a raised and cleared TypeError
    (about 1,900 instructions per test on 3.11, three tests per request)."""
    return len(target) <= _SHARED_LEN and "sid=" not in target and "&t=" not in target and "?t=" not in target


class Request:
    """A parsed HTTP request (headers lower-cased; repeated headers joined by ", ").

    Attributes:
        passed: the engine's request hooks have accepted this request.
        method, url, path, query_string, headers, body: the request.
        client: the TCP peer ``(host, port)``, or None.
        secure: it came over TLS.
        upgrade: it asks for a protocol upgrade.
        keep_alive: the connection stays open after the answer (HTTP/1.1 default,
            ``Connection``).
    """

    __slots__ = (
        "passed",
        "method",
        "url",
        "path",
        "query_string",
        "_query",
        "headers",
        "body",
        "client",
        "secure",
        "upgrade",
        "keep_alive",
    )

    def __init__(
        self,
        method: str,
        url: str,
        path: str,
        query_string: str,
        headers: dict[str, str],
        client: tuple[str, int] | None,
        secure: bool,
    ) -> None:
        self.passed = False
        self.method = method
        self.url = url
        self.path = path
        self.query_string = query_string
        # the parsed query, made on first use (see ``compact``)
        self._query: dict[str, str] | None = None
        self.headers = headers
        self.body = b""
        self.client = client
        self.secure = secure
        self.upgrade = False
        self.keep_alive = True

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the last of a repeated name), parsed on first use."""
        query = self._query
        if query is None:
            qs = self.query_string
            query = self._query = parse_query(qs) if qs else {}
        return query

    @property
    def query_parsed(self) -> bool:
        """Whether :attr:`query` holds a parsed dict now (False after :meth:`compact`,
        until :attr:`query` is read again)."""
        return self._query is not None

    def compact(self) -> None:
        """Drop the parsed query (``query`` parses ``query_string`` again if asked).

        A session keeps its handshake request for its lifetime, and the query dict was
        most of its size.  The engine calls this when no application code has seen the
        request yet (so nothing it changed in the dict is lost)."""
        self._query = None
