"""The server options: one frozen, validated object per server, built once.

What it is for
==============

``Server(...)`` and ``EngineServer(...)`` take many keyword options.  This module
is the one place where each of them is declared, with its name, its default, its
documentation and its validation:

* :class:`EngineOptions`: the Engine.IO and HTTP options (what
  ``EngineServer(...)`` takes, and what the Engine.IO layer reads).
* :class:`ServerOptions`: an :class:`EngineOptions` plus the Socket.IO options
  (what ``Server(...)`` takes).  :attr:`ServerOptions.engine` is its Engine.IO
  part, as a plain :class:`EngineOptions`, for the layer below.
* :class:`DeflateOptions` (``per_message_deflate``) and :class:`RecoveryOptions`
  (``connection_state_recovery``): the validated forms of the two options that
  take a dict.  ``rate_limit`` is parsed into :class:`fastsio.protection.RateLimit`.

The servers build their options object once, at construction
(``ServerOptions.from_kwargs(**kwargs)``), and pass it down: nothing below them
re-reads or re-validates a keyword argument.  This is a base module: it imports the
standard library and :mod:`fastsio.protection` only, so that the sans-I/O protocol
layer and the I/O layer can both import it.

How it works
============

Both classes are frozen, slotted, keyword-only dataclasses.  Each field is declared
with :func:`_option`, which keeps its documentation in the field's metadata
(``metadata["doc"]``); :func:`option_docs` lists them and :func:`render_options`
renders that list as text (the servers' docstrings are built from it, so every
option is documented once, here).

``__post_init__`` validates every value and stores its normalised form (with
``object.__setattr__``, the dataclass being frozen):

* an invalid value raises :class:`TypeError` (wrong type) or :class:`ValueError`
  (wrong value), at construction, with a message naming the option;
* values are stored normalised: the path in its ``/x/`` form, timeouts as
  ``float``, ``transports`` as a tuple, a ``cors_allowed_origins`` string (other
  than ``"*"``) as a one-element tuple, a ``cookie`` string as ``{"name": ...}``,
  ``per_message_deflate`` as a :class:`DeflateOptions` or ``None``, and so on (see
  each field);
* an option that may be turned off with ``0`` (as the Engine.IO layer has always
  accepted) stores "off" in the type of its default: ``0``/``0.0`` for an option
  whose default is a number (``http_keep_alive_timeout``, ``max_buffer_size``,
  ``connect_timeout``: ``None`` is accepted there too), ``None`` for an option whose
  default is ``None`` (``max_connections_per_ip``, ``max_concurrent_handshakes``:
  ``0`` is accepted there too).

Normalising twice gives the same value, so :func:`dataclasses.replace` works.

The fields are typed with their *normalised* types (what a reader of the options
gets).  The other accepted input forms (``True`` or a dict for
``per_message_deflate``, a list for ``transports``, ...) are documented on each
field and accepted at run time; :meth:`EngineOptions.from_kwargs` takes ``**kwargs:
Any`` and is what the servers call.

An unknown option raises :class:`TypeError`: the dataclass constructor names it,
and :meth:`~EngineOptions.from_kwargs` also suggests the closest option
(``unknown option 'ping_intervall' (did you mean 'ping_interval'?)``), a camelCase
name's snake_case spelling (Node's ``pingInterval``), or says that an option is
one of ``Server`` only.

Objects of these classes compare equal when their values do; they are hashable
unless they hold an unhashable value (a ``cookie`` or ``static_files`` mapping).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import numbers
import os
import re
import textwrap
import types
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, NamedTuple, TypeVar

from .protection import RateLimit

__all__ = (
    "DeflateOptions",
    "EngineOptions",
    "OptionDoc",
    "RecoveryOptions",
    "ServerOptions",
    "TRANSPORTS",
    "option_docs",
    "render_options",
)

#: The transport names, in the order of the default ``transports``.
TRANSPORTS = ("polling", "websocket")

_T = TypeVar("_T", bound="EngineOptions")


def _option(default: Any, doc: str) -> Any:
    """A dataclass field with a default and its documentation (``metadata["doc"]``)."""
    return field(default=default, metadata={"doc": " ".join(doc.split())})


# --------------------------------------------------------------------------- checks
def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {_type_name(value)} {value!r}")
    return value


def _check_seconds(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    finite: bool = True,
) -> float:
    """A duration in seconds: a real number (not a bool), >= 0 (or > 0), not NaN;
    finite unless ``finite=False`` (``inf`` then allowed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, not {_type_name(value)} {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or (finite and math.isinf(seconds)):
        raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")
    if positive and not seconds > 0:
        raise ValueError(f"{name} must be > 0, not {value!r}")
    if seconds < 0:
        raise ValueError(f"{name} must be >= 0, not {value!r}")
    return seconds


#: the largest ``max_buffer_size``: it becomes the transport's high-water mark, which
#: uvloop holds in a C int (a larger one fails every connection in ``connection_made``)
_MAX_BUFFER_SIZE = 2**31 - 1


def _check_size(name: str, value: Any) -> int:
    """A count or a size in bytes: an int (not a bool), >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {_type_name(value)} {value!r}")
    size = int(value)
    if size < 0:
        raise ValueError(f"{name} must be >= 0, not {value!r}")
    return size


def _check_callable(name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable or None, not {_type_name(value)} {value!r}")
    return value


def _check_path(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"path must be a str, not {_type_name(value)} {value!r}")
    path = "/" + value.strip("/")
    return path if path == "/" else path + "/"


def _check_metrics(value: Any, path: str) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        value = "/metrics"
    if not isinstance(value, str):
        raise TypeError(f"metrics must be a bool or a URL path, not {_type_name(value)} {value!r}")
    if not value.startswith("/") or value == "/" or any(c in value for c in "?# "):
        raise ValueError(f"metrics must be a URL path like '/metrics', not {value!r}")
    if value.rstrip("/") == path.rstrip("/") or value.startswith(path):
        raise ValueError(f"metrics: {value!r} is inside the Engine.IO path {path!r}")
    return value


def _check_transports(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"transports must be a sequence of transport names, not a {_type_name(value)} "
            f"(write ({value!r},))"
        )
    try:
        names = tuple(value)
    except TypeError:
        raise TypeError(
            f"transports must be a sequence of transport names, not {_type_name(value)} {value!r}"
        ) from None
    for t in names:
        if t not in TRANSPORTS:
            raise ValueError(f"unknown transport {t!r} (transports: 'polling', 'websocket')")
    if not names:
        raise ValueError("transports must name at least one transport ('polling', 'websocket')")
    return tuple(dict.fromkeys(names))


def _check_origins(value: Any) -> str | tuple[str, ...] | None:
    if value is None or value == "*":
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (bytes, Mapping)):
        raise TypeError(
            "cors_allowed_origins must be None, '*', an origin or a list of origins, "
            f"not {_type_name(value)} {value!r}"
        )
    try:
        origins = tuple(value)
    except TypeError:
        raise TypeError(
            "cors_allowed_origins must be None, '*', an origin or a list of origins, "
            f"not {_type_name(value)} {value!r}"
        ) from None
    for origin in origins:
        if not isinstance(origin, str):
            raise TypeError(f"cors_allowed_origins: an origin must be a str, not {_type_name(origin)} {origin!r}")
    return origins


def _check_hosts(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)):
        raise TypeError(f"allowed_hosts must be None or a list of host names, not {_type_name(value)} {value!r}")
    try:
        hosts = tuple(value)
    except TypeError:
        raise TypeError(f"allowed_hosts must be None or a list of host names, not {_type_name(value)} {value!r}") from None
    normalised = []
    for host in hosts:
        if not isinstance(host, str):
            raise TypeError(f"allowed_hosts: a host must be a str, not {_type_name(host)} {host!r}")
        name = host.strip().lower()
        if name.startswith("[") and name.endswith("]"):
            name = name[1:-1]
        # one colon: a port (an IPv6 address has several); a slash: a scheme or a path
        if not name or name.count(":") == 1 or "/" in name:
            raise ValueError(f"allowed_hosts: {host!r} is not a host name (no scheme, no port)")
        normalised.append(name)
    if "*" in normalised:
        return None
    return tuple(dict.fromkeys(normalised))


def _check_cookie(value: Any) -> Mapping[str, Any] | None:
    if value is None or value is False:
        return None
    if isinstance(value, str):
        if not value:
            raise ValueError("cookie: the cookie name must not be empty")
        return types.MappingProxyType({"name": value})
    if not isinstance(value, Mapping):
        raise TypeError(f"cookie must be a cookie name (str), a dict or None, not {_type_name(value)} {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"cookie: option names must be str, not {_type_name(key)} {key!r}")
    if not value:
        return None  # an empty dict has always meant no cookie
    return types.MappingProxyType(dict(value))


def _check_static_files(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"static_files must be a dict of URL paths to files, not {_type_name(value)} {value!r}")
    for url, target in value.items():
        if not isinstance(url, str):
            raise TypeError(f"static_files: a URL path must be a str, not {_type_name(url)} {url!r}")
        if not url.startswith("/"):
            raise ValueError(f"static_files: the URL path {url!r} must start with '/'")
        filename = target.get("filename") if isinstance(target, dict) else target
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(
                f"static_files[{url!r}] must be a file or directory path, or a dict with "
                f"'filename', not {target!r}"
            )
    if not value:
        return None
    return types.MappingProxyType(dict(value))


def _check_parser(value: Any) -> Any:
    # the same rules as fastsio.protocol.socketio.parsers.get_parser, which resolves it
    if isinstance(value, str):
        if value not in ("json", "msgpack"):
            raise ValueError(f"unsupported parser {value!r} (supported: 'json', 'msgpack')")
        return value
    for attr in ("encode", "encode_event", "decode"):
        if not callable(getattr(value, attr, None)):
            raise TypeError(f"parser object lacks {attr}()")
    return value


def _is_binary_parser(parser: Any) -> bool:
    if isinstance(parser, str):
        return parser == "msgpack"
    return getattr(parser, "binary", False) is True


# --------------------------------------------------------------------------- unknown names
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _unknown_option(cls: type[EngineOptions], name: str) -> str:
    api = cls._api_name
    names = _field_names(cls)
    snake = _CAMEL.sub(r"_\1", name).lower()
    if snake != name and snake in names:
        return f"{api}: unknown option {name!r} (did you mean {snake!r}?)"
    if cls is EngineOptions and name in _field_names(ServerOptions):
        return f"{api}: unknown option {name!r} (an option of Server, not of EngineServer)"
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"{api}: unknown option {name!r} (did you mean {close[0]!r}?)"
    return f"{api}: unknown option {name!r}"


# --------------------------------------------------------------------------- per_message_deflate
_OPTION_DEFAULTS: dict[str, Any] = {
    "threshold": 1024,
    "server_no_context_takeover": False,
    "client_no_context_takeover": False,
    "server_max_window_bits": 15,
    "client_max_window_bits": 15,
    "level": zlib.Z_DEFAULT_COMPRESSION,
    "mem_level": 8,
}


@dataclass(frozen=True, slots=True)
class DeflateOptions:
    """The server's ``per_message_deflate`` option, validated.

    Attributes:
        threshold: messages (Engine.IO packets, in bytes) shorter than this are
            sent uncompressed.
        server_no_context_takeover: reset the compressor after every message.
        client_no_context_takeover: ask the client to reset its compressor
            after every message.
        server_max_window_bits: the largest window the server compresses with
            (8..15; less memory, worse ratio).
        client_max_window_bits: the largest window the client may compress
            with (8..15); under 15, clients that cannot be limited get no
            compression.
        level: zlib compression level (-1..9; -1 is zlib's default, 6).
        mem_level: zlib memory level (1..9).

    The constructor does not validate (it is the result of :meth:`parse`, which
    does); build one with :meth:`parse`.
    """

    threshold: int = 1024
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    level: int = zlib.Z_DEFAULT_COMPRESSION
    mem_level: int = 8

    @classmethod
    def parse(cls, value: bool | dict[str, Any] | DeflateOptions | None) -> DeflateOptions | None:
        """Return the options for ``per_message_deflate``, or ``None`` when off.

        Args:
            value: ``False``/``None`` (off), ``True`` (the defaults), a dict of
                some of the attributes, or a :class:`DeflateOptions`.

        Raises:
            ValueError: an unknown key, or a value of the wrong type or range
                (also a ``value`` of another type: ``1`` is not ``True``).
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, DeflateOptions):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"per_message_deflate must be a bool or a dict, not {type(value).__name__}")
        unknown = sorted(set(value) - set(_OPTION_DEFAULTS))
        if unknown:
            raise ValueError(f"per_message_deflate: unknown option(s) {', '.join(map(repr, unknown))}")
        merged = {**_OPTION_DEFAULTS, **value}
        for key in ("server_no_context_takeover", "client_no_context_takeover"):
            if not isinstance(merged[key], bool):
                raise ValueError(f"per_message_deflate: {key} must be a bool, not {merged[key]!r}")
        limits: dict[str, tuple[int, int | None]] = {
            "threshold": (0, None),
            "server_max_window_bits": (8, 15),
            "client_max_window_bits": (8, 15),
            "level": (-1, 9),
            "mem_level": (1, 9),
        }
        for key, (low, high) in limits.items():
            v = merged[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < low or (high is not None and v > high):
                span = f"an int >= {low}" if high is None else f"an int from {low} to {high}"
                raise ValueError(f"per_message_deflate: {key} must be {span}, not {v!r}")
        return cls(**merged)


# --------------------------------------------------------------------------- connection_state_recovery
@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """``Server(connection_state_recovery={...})``: ``max_disconnection_duration``
    (seconds a disconnected session is kept, default 120) and ``skip_middlewares``
    (a recovered socket skips the connect middleware, default True).

    The constructor stores ``float(max_disconnection_duration)`` and
    ``bool(skip_middlewares)``; a negative duration raises :class:`ValueError`
    (``"max_disconnection_duration must be >= 0"``), one that does not compare with
    ``0`` (a str, None) the :class:`TypeError` of that comparison.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True

    def __post_init__(self) -> None:
        if self.max_disconnection_duration < 0:
            raise ValueError("max_disconnection_duration must be >= 0")
        object.__setattr__(self, "max_disconnection_duration", float(self.max_disconnection_duration))
        object.__setattr__(self, "skip_middlewares", bool(self.skip_middlewares))

    @classmethod
    def parse(cls, value: Any) -> RecoveryOptions | None:
        """Return the options for ``connection_state_recovery``, or ``None`` when off.

        Args:
            value: ``None``/``False`` (off), ``True`` (the defaults), a dict of some
                of the attributes, or a :class:`RecoveryOptions`.

        Raises:
            ValueError: an unknown key (``"unknown connection_state_recovery
                options: [...]"``), or a negative duration.
            TypeError: ``value`` of another type (``"connection_state_recovery: a
                dict, True or None"``).
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"max_disconnection_duration", "skip_middlewares"}
            if unknown:
                raise ValueError(f"unknown connection_state_recovery options: {sorted(unknown)}")
            return cls(**value)
        raise TypeError("connection_state_recovery: a dict, True or None")


# --------------------------------------------------------------------------- Engine.IO options
@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    """The Engine.IO and HTTP options of a server (``EngineServer(...)``'s options),
    validated and normalised; see the module docstring and :func:`render_options`.

    Build it with :meth:`from_kwargs` (clear errors for unknown options) or the
    constructor (keyword arguments only).  Frozen: assigning an attribute raises
    :class:`dataclasses.FrozenInstanceError`.
    """

    #: The public constructor these options are for, in error messages.
    _api_name: ClassVar[str] = "EngineServer"

    path: str = _option(
        "/engine.io/",
        """The URL path served (with or without its trailing slash), stored in its
        ``/x/`` form (``"socket.io"`` and ``"/socket.io"`` are ``"/socket.io/"``; ``""``
        is ``"/"``).  ``"/engine.io/"`` for EngineServer, ``"/socket.io/"`` for
        Server.""",
    )
    ping_interval: float = _option(
        25.0,
        """Seconds between heartbeats: the server pings every ``ping_interval``
        (Engine.IO v3: the client does).  > 0; sent to clients as ``pingInterval`` in
        milliseconds.""",
    )
    ping_timeout: float = _option(
        20.0,
        """Seconds a client has to answer a ping (v3: after ``ping_interval``, to
        send its own) before the session closes with ``"ping timeout"``.  >= 0; sent
        as ``pingTimeout`` in milliseconds.""",
    )
    upgrade_timeout: float = _option(
        10.0,
        """Seconds a WebSocket upgrade of a polling session may take before its
        probe is dropped.  >= 0.""",
    )
    max_http_buffer_size: int = _option(
        1_000_000,
        """The largest HTTP request body and WebSocket message, in bytes (sent as
        ``maxPayload``): a polling POST over it gets 413 and ends its session.
        An int >= 0.""",
    )
    max_buffer_size: int = _option(
        1_000_000,
        """Bytes a slow client may have waiting to be sent before it is
        disconnected.  An int from 0 to 2**31 - 1 (2 GiB); ``0`` (or ``None``): no limit.""",
    )
    slow_consumer: str = _option(
        "disconnect",
        """What happens to a client over ``max_buffer_size`` (a slow consumer: its
        WebSocket's transport still holds more than that, or more than that is queued
        for its next long-polling GET): ``"disconnect"`` (reason ``"send buffer
        full"``, logged), or ``"drop"``: it stays connected and the Socket.IO packets
        sent to it are dropped, whole, until it has drained (a warning when that
        starts; the heartbeat still goes, so a client that stopped reading is closed
        by the ping timeout).  ``"drop"`` suits tickers, whose next packet replaces
        the last; a dropped packet is not retried, and an ack it asked for never
        comes.""",
    )
    http_compression: bool = _option(
        True,
        """gzip or deflate long-polling responses of 1024 bytes or more to clients
        that accept it.""",
    )
    http_keep_alive_timeout: float = _option(
        5.0,
        """Seconds an idle keep-alive HTTP connection is kept open.  >= 0; ``0``
        (or ``None``): never closed for being idle.""",
    )
    tls_handshake_timeout: float = _option(
        10.0,
        """Seconds a TLS client (``start(ssl_context=...)``) has to complete its
        handshake once connected; then its connection is closed.  Connections whose
        handshake did not complete (plain HTTP to the TLS port, a client that does not
        trust the certificate, a stalled handshake) are logged, at most once a second.
        > 0.""",
    )
    http_request_timeout: float = _option(
        30.0,
        """Seconds a request may take to arrive, from its first byte, before it is
        answered 408 and its connection closed.  >= 0; ``0`` (or ``None``): no
        limit.""",
    )
    per_message_deflate: DeflateOptions | None = _option(
        False,
        """WebSocket compression (RFC 7692), off by default like Node's socket.io 4:
        ``False``/``None`` (off), ``True`` (the defaults), a dict of
        :class:`DeflateOptions` fields (``threshold``, ``server_no_context_takeover``,
        ``client_no_context_takeover``, ``server_max_window_bits``,
        ``client_max_window_bits``, ``level``, ``mem_level``; a bad key or value
        raises ValueError) or a :class:`DeflateOptions`.  Stored as a
        :class:`DeflateOptions` or ``None``.  Packets of ``threshold`` bytes (1024)
        or more go compressed to the clients that negotiated it.""",
    )
    transports: tuple[str, ...] = _option(
        TRANSPORTS,
        """The transports served: a non-empty sequence of ``"polling"`` and
        ``"websocket"``, stored as a tuple without repeats.""",
    )
    allow_upgrades: bool = _option(
        True,
        """Let polling sessions upgrade to WebSocket.""",
    )
    cors_allowed_origins: str | tuple[str, ...] | None = _option(
        None,
        """The origins cross-origin requests may come from: ``None`` (same origin
        only), ``"*"`` (any), an origin (``"https://example.com"``) or a list of
        them, stored as a tuple.  A same-origin request is always served.""",
    )
    shutdown_timeout: float = _option(
        5.0,
        """Seconds ``stop()`` (and SIGTERM/SIGINT under ``run()``) waits for polling
        clients to take, with their next GET, the packets queued for them before
        the server closed their sessions, and for WebSocket clients to answer their
        close frame (what was emitted before it has then left); then every
        connection is closed.  A second signal under ``run()`` cuts the wait short.
        >= 0; ``0`` (or ``None``): close at once.""",
    )
    allowed_hosts: tuple[str, ...] | None = _option(
        None,
        """The host names this server answers to, as Django's ``ALLOWED_HOSTS``: a
        request whose ``Host`` header (port aside) is not one of them gets 400 and a
        log line, whatever its path.  ``"example.com"`` is that name only,
        ``".example.com"`` the name and its subdomains, ``"*"`` any; IPv6 addresses
        without brackets or with.  Stored lowercase as a tuple; ``None`` (or a list
        holding ``"*"``): any host.  The same-origin check compares ``Origin`` with
        ``Host``, which a DNS-rebinding page controls: a server on a private address
        should list its names here.""",
    )
    cors_credentials: bool = _option(
        True,
        """Send ``Access-Control-Allow-Credentials: true`` to allowed origins.""",
    )
    allow_request: Callable[[Any], Any] | None = _option(
        None,
        """``fn(request) -> bool`` (or awaitable): accept a handshake (polling or
        WebSocket); a refusal (or an exception) gets 403 and
        ``{"code":4,"message":"Forbidden"}``.""",
    )
    cookie: Mapping[str, Any] | None = _option(
        None,
        """Set a cookie holding the session id on the handshake: a cookie name, or a
        dict of ``name`` (``"io"``), ``path`` (``"/"``), ``httpOnly``/``http_only``
        (True), ``sameSite``/``same_site`` (``"Lax"``), ``secure`` (False),
        ``maxAge``/``max_age`` (seconds); ``None``, ``False`` or ``{}``: no cookie.
        Stored as a read-only mapping (a name as ``{"name": name}``) or ``None``.""",
    )
    allow_eio3: bool = _option(
        False,
        """Serve Engine.IO v3 clients too (``EIO=3``: socket.io-client 1.x and
        2.x).""",
    )
    max_connections_per_ip: int | None = _option(
        None,
        """At most this many sessions per client address (the TCP peer); a
        handshake over it gets 403 and ``{"code":4,"message":"Forbidden"}``.  An int
        >= 0; ``None`` (or ``0``, stored as ``None``): no cap.""",
    )
    max_concurrent_handshakes: int | None = _option(
        None,
        """At most this many sessions whose layer above has not completed its
        handshake (Socket.IO: no namespace CONNECT yet); a handshake over it gets 503,
        ``Retry-After: 1`` and ``{"code":503,"message":"Too many handshakes in
        progress"}``.  An int >= 0; ``None`` (or ``0``, stored as ``None``): no
        cap.""",
    )
    metrics: str | None = _option(
        None,
        """Serve Prometheus metrics (text exposition format 0.0.4) on this URL path
        of the server's own port (and under :class:`fastsio.ASGIApp`): ``True``:
        ``"/metrics"``; a path (starting with ``/``, outside ``path``); ``None`` or
        ``False``: off, and nothing is counted.  See docs/operations.md for the
        metrics and what counting costs.  Stored as the path or ``None``.""",
    )

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "path", _check_path(self.path))
        set_(self, "ping_interval", _check_seconds("ping_interval", self.ping_interval, positive=True))
        set_(self, "ping_timeout", _check_seconds("ping_timeout", self.ping_timeout))
        set_(self, "upgrade_timeout", _check_seconds("upgrade_timeout", self.upgrade_timeout))
        set_(self, "max_http_buffer_size", _check_size("max_http_buffer_size", self.max_http_buffer_size))
        buffer_size = self.max_buffer_size
        buffer_size = 0 if buffer_size is None else _check_size("max_buffer_size", buffer_size)
        if buffer_size > _MAX_BUFFER_SIZE:
            raise ValueError(f"max_buffer_size must be at most 2**31 - 1 (2 GiB), not {buffer_size!r}")
        set_(self, "max_buffer_size", buffer_size)
        set_(self, "http_compression", _check_bool("http_compression", self.http_compression))
        if self.slow_consumer not in ("disconnect", "drop"):
            raise ValueError(f"slow_consumer must be 'disconnect' or 'drop', not {self.slow_consumer!r}")
        for name in ("http_keep_alive_timeout", "http_request_timeout", "shutdown_timeout"):
            seconds = getattr(self, name)
            set_(self, name, 0.0 if seconds is None else _check_seconds(name, seconds))
        set_(
            self,
            "tls_handshake_timeout",
            _check_seconds("tls_handshake_timeout", self.tls_handshake_timeout, positive=True),
        )
        set_(self, "per_message_deflate", DeflateOptions.parse(self.per_message_deflate))
        set_(self, "transports", _check_transports(self.transports))
        set_(self, "allow_upgrades", _check_bool("allow_upgrades", self.allow_upgrades))
        set_(self, "cors_allowed_origins", _check_origins(self.cors_allowed_origins))
        set_(self, "cors_credentials", _check_bool("cors_credentials", self.cors_credentials))
        set_(self, "allowed_hosts", _check_hosts(self.allowed_hosts))
        set_(self, "allow_request", _check_callable("allow_request", self.allow_request))
        set_(self, "cookie", _check_cookie(self.cookie))
        set_(self, "allow_eio3", _check_bool("allow_eio3", self.allow_eio3))
        for name in ("max_connections_per_ip", "max_concurrent_handshakes"):
            cap = getattr(self, name)
            set_(self, name, None if cap is None else (_check_size(name, cap) or None))
        set_(self, "metrics", _check_metrics(self.metrics, self.path))

    @classmethod
    def from_kwargs(cls: type[_T], /, **kwargs: Any) -> _T:
        """The options from the servers' keyword arguments (absent ones take their
        default).

        Raises:
            TypeError: an unknown option (named, with the closest known one when
                there is one), or a value of the wrong type.
            ValueError: a value out of range or otherwise invalid.
        """
        known = set(_field_names(cls))
        unknown = [name for name in kwargs if name not in known]
        if unknown:
            raise TypeError("; ".join(_unknown_option(cls, name) for name in unknown))
        return cls(**kwargs)

    # ------------------------------------------------------------ derived values
    @property
    def path_noslash(self) -> str:
        """:attr:`path` without its trailing slash (``"/"`` stays ``"/"``)."""
        return self.path.rstrip("/") or "/"

    @property
    def ping_interval_ms(self) -> int:
        """:attr:`ping_interval` in whole milliseconds (the OPEN packet's ``pingInterval``)."""
        return int(self.ping_interval * 1000)

    @property
    def ping_timeout_ms(self) -> int:
        """:attr:`ping_timeout` in whole milliseconds (the OPEN packet's ``pingTimeout``)."""
        return int(self.ping_timeout * 1000)

    @property
    def versions(self) -> tuple[str, ...]:
        """The ``EIO`` query values served: ``("4",)``, or ``("4", "3")`` with
        :attr:`allow_eio3`."""
        return ("4", "3") if self.allow_eio3 else ("4",)

    @property
    def upgrades(self) -> tuple[str, ...]:
        """The upgrades a polling session is offered: ``("websocket",)`` when
        upgrades are allowed and WebSocket is served, else ``()``."""
        return ("websocket",) if self.allow_upgrades and "websocket" in self.transports else ()


# --------------------------------------------------------------------------- Socket.IO options
@dataclass(frozen=True, slots=True, kw_only=True)
class ServerOptions(EngineOptions):
    """The options of a Socket.IO server (``Server(...)``'s options): every
    :class:`EngineOptions` field (with ``path`` defaulting to ``"/socket.io/"``)
    plus the Socket.IO ones, validated and normalised.

    A subclass rather than a holder of an :class:`EngineOptions`: ``Server(...)``
    takes all the options flat, so one flat object keeps one name per option (no
    ``options.engine.ping_interval`` beside ``options.ack_timeout``), and a
    :class:`ServerOptions` can be passed wherever an :class:`EngineOptions` is
    expected.  :attr:`engine` gives the Engine.IO part alone, for the layer that
    should not see the rest.

    Cross-option rule: a binary parser (``"msgpack"``, or a parser object whose
    ``binary`` is True) with ``allow_eio3`` raises :class:`ValueError`.
    """

    _api_name: ClassVar[str] = "Server"

    # the same option, documented once (above), with Server's default
    path: str = field(default="/socket.io/", metadata=EngineOptions.__dataclass_fields__["path"].metadata)
    parser: Any = _option(
        "json",
        """``"json"`` (socket.io-parser's format), ``"msgpack"`` (the npm
        socket.io-msgpack-parser's format; needs the ``msgpack`` extra, and not with
        ``allow_eio3``), or a parser object with ``encode``, ``encode_event`` and
        ``decode`` (see :mod:`fastsio.protocol.socketio.parsers`).  Clients must use
        the same parser.  Stored as given; the server resolves it.""",
    )
    connect_timeout: float = _option(
        45.0,
        """Seconds a new connection has to connect to a namespace before it is
        closed.  >= 0; ``0`` (or ``None``): no limit.""",
    )
    max_connect_queue: int = _option(
        32,
        """Packets a client may send to namespaces whose connection is still being
        set up (a middleware or connect handler still running); they wait and are
        delivered once connected.  One more closes the connection (logged).  A
        well-behaved client sends none (socket.io-client buffers its emits until
        the CONNECT reply).  An int >= 0; ``0`` (or ``None``): no limit.""",
    )
    max_connect_queue_bytes: int = _option(
        1_000_000,
        """The bytes (Engine.IO messages, attachments included) those waiting packets
        may hold together; more closes the connection (logged).  An int >= 0;
        ``0`` (or ``None``): no limit.""",
    )
    max_pending_acks: int = _option(
        10_000,
        """Acknowledgements one socket may owe the server at once: emits with a
        ``callback``, ``emit_with_ack`` calls and broadcasts with acknowledgements sent
        to it that its client has not answered (and that have not timed out).  One
        more closes the connection (logged): a client that never answers would
        otherwise make the server keep them until it disconnects.  An int >= 0;
        ``0`` (or ``None``): no limit.""",
    )
    max_pending_handlers: int = _option(
        1_000,
        """Events of one socket whose handler is still running: async handlers and
        async middlewares, a task each (a plain ``def`` handler returns at once).
        One more closes the connection (logged): a client that sends events faster
        than its handlers finish would otherwise make the server hold a task per
        event.  An int >= 0; ``0`` (or ``None``): no limit.""",
    )
    max_rooms_per_socket: int = _option(
        10_000,
        """Rooms one socket may be in through ``socket.join`` (its own id's room not
        counted): a join that would go over it raises :class:`ValueError` and joins
        nothing, which matters when an app joins rooms its clients name.  Joins
        through a broadcast operator (``sio.in_(...).sockets_join``) are not
        counted against it.  An int >= 0; ``0`` (or ``None``): no limit.""",
    )
    max_namespaces_per_connection: int = _option(
        100,
        """Namespaces one connection may be connected to (or connecting to) at once; a
        CONNECT to one more gets CONNECT_ERROR ``Too many namespaces`` (logged,
        throttled).  A client uses a handful; with dynamic namespaces, each one is a
        socket (and maybe a child namespace) kept for that client.  An int >= 0;
        ``0`` (or ``None``): no limit.""",
    )
    max_child_namespaces: int = _option(
        1_000,
        """With ``cleanup_empty_child_namespaces`` off: once a dynamic namespace has
        more than this many children, a child whose last socket leaves is removed
        (as with cleanup on), so the children that clients create with names of
        their choosing and leave behind stay bounded (a child kept empty costs about
        a kilobyte).  Children with sockets are never removed.  An int >= 0; ``0``
        (or ``None``): no limit (every child is kept, as in Node).""",
    )
    ack_timeout: float | None = _option(
        None,
        """Default seconds ``emit_with_ack`` waits for acknowledgements before
        raising :class:`~fastsio.AckTimeout` (``timeout(s)`` overrides it).  >= 0
        (``inf`` allowed); ``None``: wait forever.""",
    )
    adapter: Callable[[Any], Any] | None = _option(
        None,
        """``factory(namespace) -> adapter``: the rooms and fan-out of each
        namespace; ``None``: :class:`~fastsio.adapters.MemoryAdapter`.""",
    )
    logger: logging.Logger | None = _option(
        None,
        """The server's logger: a :class:`logging.Logger` (its layers log to its
        children, e.g. ``<logger>.engine``), or ``None``: the ``fastsio`` logger
        hierarchy.  For backward compatibility any other value (``True``,
        ``False``) is accepted and means ``None``: to silence fastsio, configure
        the ``fastsio`` logger.""",
    )
    gc_freeze: bool | None = _option(
        None,
        """Move the objects alive at start-up out of the garbage collector's
        generations (``gc.collect(); gc.freeze()``), which makes later collections
        cheaper.  This is process-wide, so by default (``None``) it is done only by
        ``run()``, where fastsio owns the process; ``True``: also by ``start()``;
        ``False``: never.""",
    )
    static_files: Mapping[str, Any] | None = _option(
        None,
        """URL paths mapped to files or directories served beside the endpoint
        (``{"/": "index.html", "/static/": "static"}``; a key ending in ``/`` maps a
        directory; a value may also be ``{"filename": path}``).  Keys start with
        ``/``.  Stored as a read-only mapping; ``{}`` is ``None``.""",
    )
    app: Any = _option(
        None,
        """An ASGI 3 application (FastAPI, Starlette ...) answering the HTTP requests
        outside ``path`` and ``static_files`` on the same port (see docs/asgi.md;
        :class:`fastsio.ASGIApp` is the other way round).  Its ``lifespan`` startup
        runs when the server starts, its shutdown when it stops.  Its request bodies
        are bounded by ``max_http_buffer_size`` (413 beyond); a streamed response goes
        out as it comes (chunked); its WebSocket routes
        are served with fastsio's own WebSocket framing (messages bounded by
        ``max_http_buffer_size``).  An exception from it is logged and answered 500
        (closed with 1011 on a WebSocket).""",
    )
    cleanup_empty_child_namespaces: bool = _option(
        False,
        """Remove a child namespace of a dynamic namespace when its last socket
        leaves.""",
    )
    connection_state_recovery: RecoveryOptions | None = _option(
        None,
        """As Node's ``connectionStateRecovery``: ``None``/``False`` (off),
        ``True`` (the defaults), a dict of ``max_disconnection_duration`` (seconds,
        120) and ``skip_middlewares`` (True), or a :class:`RecoveryOptions`.  Stored
        as a :class:`RecoveryOptions` or ``None``.""",
    )
    rate_limit: RateLimit | None = _option(
        None,
        """A per-socket token bucket on incoming events: ``None`` (off), a dict of
        ``events_per_second``, ``burst`` and ``action`` (``"drop"`` or
        ``"disconnect"``), or a :class:`~fastsio.protection.RateLimit`.  Stored as a
        :class:`~fastsio.protection.RateLimit` or ``None``.""",
    )

    def __post_init__(self) -> None:
        # zero-argument super() does not work in a slotted dataclass (the class is
        # re-created), hence the explicit base class
        EngineOptions.__post_init__(self)
        set_ = object.__setattr__
        set_(self, "parser", _check_parser(self.parser))
        # The rule of Server: a binary parser serves v5 clients only.  Checked here for
        # "msgpack" and for parser objects that say binary = True; the server checks the
        # resolved parser again (an object may only know once built).
        if self.allow_eio3 and _is_binary_parser(self.parser):
            raise ValueError("a binary parser (msgpack) serves Socket.IO v5 clients only: not with allow_eio3")
        timeout = self.connect_timeout
        set_(self, "connect_timeout", 0.0 if timeout is None else _check_seconds("connect_timeout", timeout))
        for name in (
            "max_connect_queue",
            "max_connect_queue_bytes",
            "max_pending_acks",
            "max_pending_handlers",
            "max_rooms_per_socket",
            "max_namespaces_per_connection",
            "max_child_namespaces",
        ):
            value = getattr(self, name)
            set_(self, name, 0 if value is None else _check_size(name, value))
        if self.ack_timeout is not None:
            set_(self, "ack_timeout", _check_seconds("ack_timeout", self.ack_timeout, finite=False))
        set_(self, "adapter", _check_callable("adapter", self.adapter))
        if not isinstance(self.logger, logging.Logger):
            set_(self, "logger", None)
        if self.gc_freeze is not None:
            set_(self, "gc_freeze", _check_bool("gc_freeze", self.gc_freeze))
        set_(self, "static_files", _check_static_files(self.static_files))
        set_(self, "app", _check_callable("app", self.app))
        set_(
            self,
            "cleanup_empty_child_namespaces",
            _check_bool("cleanup_empty_child_namespaces", self.cleanup_empty_child_namespaces),
        )
        set_(self, "connection_state_recovery", RecoveryOptions.parse(self.connection_state_recovery))
        set_(self, "rate_limit", RateLimit.parse(self.rate_limit))

    @property
    def engine(self) -> EngineOptions:
        """The Engine.IO part of these options, as a plain :class:`EngineOptions`
        (a new object each time; its values are already validated)."""
        part = object.__new__(EngineOptions)
        for name in _field_names(EngineOptions):
            object.__setattr__(part, name, getattr(self, name))
        return part

    def get_logger(self, child: str = "") -> logging.Logger:
        """The logger to log to: :attr:`logger` (or the ``fastsio`` logger), or its
        ``child`` (``get_logger("engine")``: ``<logger>.engine``)."""
        base = self.logger if self.logger is not None else logging.getLogger("fastsio")
        return base.getChild(child) if child else base

    def should_freeze_gc(self, *, owns_process: bool) -> bool:
        """Whether to ``gc.freeze()`` at start-up: ``owns_process`` is True in
        ``run()`` (and the CLI), False in ``start()``; see :attr:`gc_freeze`."""
        return owns_process if self.gc_freeze is None else self.gc_freeze


# --------------------------------------------------------------------------- documentation
class OptionDoc(NamedTuple):
    """One option as documented: its name, its default (as the constructors take
    it, before normalisation) and its documentation."""

    name: str
    default: Any
    doc: str


def option_docs(cls: type[EngineOptions] = ServerOptions) -> tuple[OptionDoc, ...]:
    """The options of ``cls`` (:class:`ServerOptions` or :class:`EngineOptions`), in
    declaration order: the Engine.IO ones first."""
    return tuple(OptionDoc(f.name, f.default, f.metadata.get("doc", "")) for f in dataclasses.fields(cls))


def render_options(
    cls: type[EngineOptions] = ServerOptions,
    *,
    indent: str = "",
    width: int = 88,
    names: tuple[str, ...] | None = None,
) -> str:
    """The options of ``cls`` as text (reStructuredText), one paragraph each::

        ``ping_interval`` (default ``25.0``): Seconds between heartbeats: ...

    Args:
        cls: :class:`ServerOptions` (``Server``'s options) or :class:`EngineOptions`.
        indent: the prefix of every line (to embed the text in a docstring).
        width: the line width the paragraphs are wrapped to, indent included.
        names: only these options, in this order (default: all, in declaration
            order).

    Raises:
        KeyError: a name in ``names`` is not an option of ``cls``.
    """
    docs = {d.name: d for d in option_docs(cls)}
    selected = [docs[name] for name in names] if names is not None else list(docs.values())
    paragraphs = []
    for d in selected:
        head = f"``{d.name}`` (default ``{d.default!r}``): {d.doc}"
        paragraphs.append(
            textwrap.fill(
                head,
                width=width,
                initial_indent=indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n\n".join(paragraphs)
