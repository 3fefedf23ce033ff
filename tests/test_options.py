"""``fastsio.options``: the frozen, validated server options (no network).

* defaults: the literal defaults of today's ``Server(...)`` / ``EngineServer(...)``
  signatures, and the stored (normalised) values;
* normalisation of every option that has one (idempotent: ``dataclasses.replace``);
* every invalid value: its exception type and message;
* unknown options: the ``TypeError`` and its suggestion;
* frozen and slotted;
* ``DeflateOptions.parse`` and ``RecoveryOptions.parse``: the semantics they had in
  ``fastsio.protocol.deflate`` and ``fastsio.adapters.base`` (expected values
  written literally);
* the documentation helpers, and the module's imports (a base module).
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import math
import pathlib
import sys
from typing import Any

import pytest

from fastsio.options import (
    TRANSPORTS,
    DeflateOptions,
    EngineOptions,
    OptionDoc,
    RecoveryOptions,
    ServerOptions,
    option_docs,
    render_options,
)
from fastsio.protection import RateLimit

# ---------------------------------------------------------------- defaults

# EngineServer.__init__'s keyword defaults, literally (plus the two caps Engine takes)
ENGINE_SIGNATURE_DEFAULTS: dict[str, Any] = {
    "path": "/engine.io/",
    "ping_interval": 25.0,
    "ping_timeout": 20.0,
    "upgrade_timeout": 10.0,
    "max_http_buffer_size": 1_000_000,
    "max_buffer_size": 1_000_000,
    "slow_consumer": "disconnect",
    "http_compression": True,
    "http_keep_alive_timeout": 5.0,
    "tls_handshake_timeout": 10.0,
    "http_request_timeout": 30.0,
    "per_message_deflate": False,
    "transports": ("polling", "websocket"),
    "allow_upgrades": True,
    "cors_allowed_origins": None,
    "shutdown_timeout": 5.0,
    "allowed_hosts": None,
    "cors_credentials": True,
    "allow_request": None,
    "cookie": None,
    "allow_eio3": False,
    "max_connections_per_ip": None,
    "max_concurrent_handshakes": None,
    "metrics": None,
}

# Server.__init__'s keyword defaults, literally; gc_freeze's is the new one (None: only
# in run(); it was True)
SERVER_SIGNATURE_DEFAULTS: dict[str, Any] = {
    **ENGINE_SIGNATURE_DEFAULTS,
    "path": "/socket.io/",
    "parser": "json",
    "connect_timeout": 45.0,
    "max_connect_queue": 32,
    "max_connect_queue_bytes": 1_000_000,
    "max_pending_acks": 10_000,
    "max_pending_handlers": 1_000,
    "max_rooms_per_socket": 10_000,
    "max_namespaces_per_connection": 100,
    "max_child_namespaces": 1_000,
    "ack_timeout": None,
    "adapter": None,
    "logger": None,
    "gc_freeze": None,
    "static_files": None,
    "app": None,
    "cleanup_empty_child_namespaces": False,
    "connection_state_recovery": None,
    "rate_limit": None,
}

# what is stored from them: the same, but per_message_deflate=False is stored as None
STORED_DEFAULTS = {"per_message_deflate": None}


def _values(options: Any) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


def test_engine_defaults() -> None:
    """Verify EngineOptions() stores EngineServer's defaults (normalised)."""
    assert _values(EngineOptions()) == {**ENGINE_SIGNATURE_DEFAULTS, **STORED_DEFAULTS}


def test_server_defaults() -> None:
    """Verify ServerOptions() stores Server's defaults, path "/socket.io/" included."""
    assert _values(ServerOptions()) == {**SERVER_SIGNATURE_DEFAULTS, **STORED_DEFAULTS}


def test_documented_defaults_are_the_signatures() -> None:
    """Verify the declared defaults (what the docs show) are the signatures' literals."""
    assert {d.name: d.default for d in option_docs(EngineOptions)} == ENGINE_SIGNATURE_DEFAULTS
    assert {d.name: d.default for d in option_docs(ServerOptions)} == SERVER_SIGNATURE_DEFAULTS
    assert list(ENGINE_SIGNATURE_DEFAULTS) == [d.name for d in option_docs(EngineOptions)]


def test_every_option_is_documented() -> None:
    """Verify every option has a doc, and path's doc is the same for both classes."""
    for cls in (EngineOptions, ServerOptions):
        for d in option_docs(cls):
            assert isinstance(d, OptionDoc)
            assert len(d.doc) > 20, d.name
            assert "\n" not in d.doc and "  " not in d.doc
    assert option_docs(EngineOptions)[0].doc == option_docs(ServerOptions)[0].doc


def test_defaults_are_hashable_and_equal() -> None:
    """Verify two default objects compare equal and hash alike."""
    assert ServerOptions() == ServerOptions()
    assert hash(EngineOptions()) == hash(EngineOptions())
    assert ServerOptions() != ServerOptions(ping_interval=1)


def test_transports_constant() -> None:
    assert TRANSPORTS == ("polling", "websocket")


# ---------------------------------------------------------------- normalisation

PATHS = [
    ("/engine.io/", "/engine.io/"),
    ("/engine.io", "/engine.io/"),
    ("engine.io", "/engine.io/"),
    ("engine.io/", "/engine.io/"),
    ("//a/b//", "/a/b/"),
    ("", "/"),
    ("/", "/"),
    ("//", "/"),
]


@pytest.mark.parametrize(("given", "stored"), PATHS)
def test_path(given: str, stored: str) -> None:
    """Verify the path is stored in Engine's "/x/" form."""
    options = EngineOptions(path=given)
    assert options.path == stored
    assert options.path_noslash == (stored.rstrip("/") or "/")


NORMALISED: list[tuple[dict[str, Any], str, Any]] = [
    # timeouts as float; 0 or None turns the HTTP ones and connect_timeout off (0.0)
    ({"ping_interval": 1}, "ping_interval", 1.0),
    ({"ping_timeout": 0}, "ping_timeout", 0.0),
    ({"upgrade_timeout": 3}, "upgrade_timeout", 3.0),
    ({"http_keep_alive_timeout": 0}, "http_keep_alive_timeout", 0.0),
    ({"http_keep_alive_timeout": None}, "http_keep_alive_timeout", 0.0),
    ({"http_request_timeout": 0}, "http_request_timeout", 0.0),
    ({"http_request_timeout": None}, "http_request_timeout", 0.0),
    ({"http_request_timeout": 7}, "http_request_timeout", 7.0),
    ({"connect_timeout": 0}, "connect_timeout", 0.0),
    ({"allowed_hosts": ["LocalHost", "[::1]", ".Example.com", "localhost"]}, "allowed_hosts", ("localhost", "::1", ".example.com")),
    ({"allowed_hosts": ["a", "*"]}, "allowed_hosts", None),
    ({"max_connect_queue": None}, "max_connect_queue", 0),
    ({"connect_timeout": None}, "connect_timeout", 0.0),
    ({"connect_timeout": 1}, "connect_timeout", 1.0),
    ({"ack_timeout": 0}, "ack_timeout", 0.0),
    ({"ack_timeout": 2}, "ack_timeout", 2.0),
    ({"ack_timeout": math.inf}, "ack_timeout", math.inf),
    # sizes: 0 (or None for max_buffer_size) is no limit
    ({"max_buffer_size": 0}, "max_buffer_size", 0),
    ({"max_buffer_size": None}, "max_buffer_size", 0),
    ({"max_buffer_size": 2**31 - 1}, "max_buffer_size", 2**31 - 1),
    ({"max_http_buffer_size": 0}, "max_http_buffer_size", 0),
    ({"max_http_buffer_size": 10}, "max_http_buffer_size", 10),
    # the caps: 0 is None (no cap)
    ({"max_connections_per_ip": 0}, "max_connections_per_ip", None),
    ({"max_connections_per_ip": 3}, "max_connections_per_ip", 3),
    ({"max_concurrent_handshakes": 0}, "max_concurrent_handshakes", None),
    ({"max_concurrent_handshakes": 100}, "max_concurrent_handshakes", 100),
    ({"metrics": True}, "metrics", "/metrics"),
    ({"metrics": False}, "metrics", None),
    ({"metrics": "/ops/metrics"}, "metrics", "/ops/metrics"),
    # transports: a tuple without repeats, in the given order
    ({"transports": ["websocket"]}, "transports", ("websocket",)),
    ({"transports": ["websocket", "polling"]}, "transports", ("websocket", "polling")),
    ({"transports": ("polling", "polling")}, "transports", ("polling",)),
    ({"transports": {"polling": 1}.keys()}, "transports", ("polling",)),
    # cors: "*" as is, an origin or a list as a tuple
    ({"cors_allowed_origins": "*"}, "cors_allowed_origins", "*"),
    ({"cors_allowed_origins": "http://a"}, "cors_allowed_origins", ("http://a",)),
    ({"cors_allowed_origins": ["http://a", "http://b"]}, "cors_allowed_origins", ("http://a", "http://b")),
    ({"cors_allowed_origins": []}, "cors_allowed_origins", ()),
    # cookie: a name as {"name": name}; None, False and {} are no cookie
    ({"cookie": "io"}, "cookie", {"name": "io"}),
    ({"cookie": {"name": "sid", "path": "/x"}}, "cookie", {"name": "sid", "path": "/x"}),
    ({"cookie": {}}, "cookie", None),
    ({"cookie": False}, "cookie", None),
    # per_message_deflate
    ({"per_message_deflate": True}, "per_message_deflate", DeflateOptions()),
    ({"per_message_deflate": None}, "per_message_deflate", None),
    ({"per_message_deflate": {"threshold": 5}}, "per_message_deflate", DeflateOptions(threshold=5)),
    # connection_state_recovery
    ({"connection_state_recovery": True}, "connection_state_recovery", RecoveryOptions()),
    ({"connection_state_recovery": False}, "connection_state_recovery", None),
    (
        {"connection_state_recovery": {"max_disconnection_duration": 30}},
        "connection_state_recovery",
        RecoveryOptions(30.0, True),
    ),
    # logger: anything but a Logger is None (the fastsio hierarchy)
    ({"logger": True}, "logger", None),
    ({"logger": False}, "logger", None),
    ({"logger": "mylogger"}, "logger", None),
    # gc_freeze
    ({"gc_freeze": True}, "gc_freeze", True),
    ({"gc_freeze": False}, "gc_freeze", False),
    # static files: {} is None
    ({"static_files": {}}, "static_files", None),
    ({"static_files": {"/": "index.html"}}, "static_files", {"/": "index.html"}),
    ({"static_files": {"/s/": {"filename": "static"}}}, "static_files", {"/s/": {"filename": "static"}}),
    ({"static_files": {"/p": pathlib.Path("x")}}, "static_files", {"/p": pathlib.Path("x")}),
    # parser strings
    ({"parser": "msgpack"}, "parser", "msgpack"),
]


@pytest.mark.parametrize(("kwargs", "name", "stored"), NORMALISED)
def test_normalised(kwargs: dict[str, Any], name: str, stored: Any) -> None:
    """Verify each accepted form is stored normalised, and normalising again is a no-op."""
    options = ServerOptions.from_kwargs(**kwargs)
    value = getattr(options, name)
    assert value == stored
    assert type(value) is type(stored) or isinstance(stored, dict)
    again = dataclasses.replace(options)
    assert getattr(again, name) == stored
    assert again == options
    if name in {f.name for f in dataclasses.fields(EngineOptions)}:
        assert getattr(EngineOptions.from_kwargs(**kwargs), name) == stored


def test_cookie_is_a_read_only_copy() -> None:
    """Verify the cookie dict is copied and cannot be changed through the options."""
    given = {"name": "io"}
    options = EngineOptions(cookie=given)
    given["name"] = "changed"
    assert options.cookie == {"name": "io"}
    assert options.cookie is not None
    with pytest.raises(TypeError):
        options.cookie["name"] = "x"  # type: ignore[index]


def test_static_files_is_a_read_only_copy() -> None:
    given = {"/": "index.html"}
    options = ServerOptions(static_files=given)
    given["/x"] = "y"
    assert options.static_files == {"/": "index.html"}


def test_logger_instance_kept() -> None:
    """Verify a Logger is kept, and get_logger gives it or its children."""
    mine = logging.getLogger("myapp.sio")
    options = ServerOptions(logger=mine)
    assert options.logger is mine
    assert options.get_logger() is mine
    assert options.get_logger("engine") is logging.getLogger("myapp.sio.engine")
    default = ServerOptions()
    assert default.get_logger() is logging.getLogger("fastsio")
    assert default.get_logger("engine") is logging.getLogger("fastsio.engine")


def test_objects_kept_as_given() -> None:
    """Verify callables, parser objects and parsed option objects are kept as given."""

    class Parser:
        binary = False

        def encode(self) -> None: ...

        def encode_event(self) -> None: ...

        def decode(self) -> None: ...

    def allow(req: Any) -> bool:
        return True

    def adapter(ns: Any) -> Any:
        return None

    parser = Parser()
    deflate = DeflateOptions(threshold=1)
    recovery = RecoveryOptions(5)
    limit = RateLimit(10)
    options = ServerOptions(
        parser=parser,
        allow_request=allow,
        adapter=adapter,
        per_message_deflate=deflate,
        connection_state_recovery=recovery,
        rate_limit=limit,
    )
    assert options.parser is parser
    assert options.allow_request is allow
    assert options.adapter is adapter
    assert options.per_message_deflate is deflate
    assert options.connection_state_recovery is recovery
    assert options.rate_limit is limit


def test_rate_limit_dict() -> None:
    limit = ServerOptions.from_kwargs(rate_limit={"events_per_second": 5, "action": "disconnect"}).rate_limit
    assert isinstance(limit, RateLimit)
    assert (limit.rate, limit.burst, limit.disconnect) == (5.0, 5.0, True)


def test_derived_values() -> None:
    """Verify the helpers: milliseconds, EIO versions, offered upgrades."""
    options = EngineOptions(ping_interval=0.0015, ping_timeout=2.5)
    assert (options.ping_interval_ms, options.ping_timeout_ms) == (1, 2500)
    assert EngineOptions().versions == ("4",)
    assert EngineOptions(allow_eio3=True).versions == ("4", "3")
    assert EngineOptions().upgrades == ("websocket",)
    assert EngineOptions(allow_upgrades=False).upgrades == ()
    assert EngineOptions.from_kwargs(transports=["polling"]).upgrades == ()


@pytest.mark.parametrize(
    ("gc_freeze", "in_run", "in_start"),
    [(None, True, False), (True, True, True), (False, False, False)],
)
def test_gc_freeze(gc_freeze: bool | None, in_run: bool, in_start: bool) -> None:
    """Verify None freezes only where fastsio owns the process (run), True also at start."""
    options = ServerOptions(gc_freeze=gc_freeze)
    assert options.should_freeze_gc(owns_process=True) is in_run
    assert options.should_freeze_gc(owns_process=False) is in_start


def test_engine_part() -> None:
    """Verify ServerOptions.engine is a plain EngineOptions with the same Engine.IO values."""
    options = ServerOptions.from_kwargs(
        ping_interval=3, cookie="io", per_message_deflate=True, cors_allowed_origins="http://a", ack_timeout=1
    )
    part = options.engine
    assert type(part) is EngineOptions
    assert isinstance(options, EngineOptions)
    assert part == EngineOptions.from_kwargs(
        path="/socket.io/", ping_interval=3, cookie="io", per_message_deflate=True, cors_allowed_origins="http://a"
    )
    assert part.cookie is options.cookie and part.per_message_deflate is options.per_message_deflate
    assert not hasattr(part, "ack_timeout")
    with pytest.raises(dataclasses.FrozenInstanceError):
        part.ping_interval = 1  # type: ignore[misc]


# ---------------------------------------------------------------- invalid values

INVALID: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"path": None}, TypeError, "path must be a str"),
    ({"path": b"/x/"}, TypeError, "path must be a str"),
    ({"ping_interval": 0}, ValueError, "ping_interval must be > 0"),
    ({"ping_interval": -1}, ValueError, "ping_interval must be > 0"),
    ({"ping_interval": "25"}, TypeError, "ping_interval must be a number"),
    ({"ping_interval": None}, TypeError, "ping_interval must be a number"),
    ({"ping_interval": True}, TypeError, "ping_interval must be a number"),
    ({"ping_interval": math.inf}, ValueError, "ping_interval must be a finite number"),
    ({"ping_interval": math.nan}, ValueError, "ping_interval must be a finite number"),
    ({"ping_timeout": -0.5}, ValueError, "ping_timeout must be >= 0"),
    ({"ping_timeout": math.inf}, ValueError, "ping_timeout must be a finite"),
    ({"upgrade_timeout": -1}, ValueError, "upgrade_timeout must be >= 0"),
    ({"upgrade_timeout": "10"}, TypeError, "upgrade_timeout must be a number"),
    ({"http_keep_alive_timeout": -1}, ValueError, "http_keep_alive_timeout must be >= 0"),
    ({"http_keep_alive_timeout": "5"}, TypeError, "http_keep_alive_timeout must be a number"),
    ({"http_request_timeout": -1}, ValueError, "http_request_timeout must be >= 0"),
    ({"http_request_timeout": math.inf}, ValueError, "http_request_timeout must be a finite"),
    ({"max_http_buffer_size": -1}, ValueError, "max_http_buffer_size must be >= 0"),
    ({"max_http_buffer_size": 1e6}, TypeError, "max_http_buffer_size must be an int"),
    ({"max_http_buffer_size": None}, TypeError, "max_http_buffer_size must be an int"),
    ({"max_http_buffer_size": True}, TypeError, "max_http_buffer_size must be an int"),
    ({"max_buffer_size": -1}, ValueError, "max_buffer_size must be >= 0"),
    ({"max_buffer_size": 2**31}, ValueError, "max_buffer_size must be at most 2\\*\\*31 - 1"),
    ({"max_buffer_size": "1M"}, TypeError, "max_buffer_size must be an int"),
    ({"max_connections_per_ip": -1}, ValueError, "max_connections_per_ip must be >= 0"),
    ({"max_connections_per_ip": 1.5}, TypeError, "max_connections_per_ip must be an int"),
    ({"max_concurrent_handshakes": -5}, ValueError, "max_concurrent_handshakes must be >= 0"),
    ({"max_concurrent_handshakes": "9"}, TypeError, "max_concurrent_handshakes must be an int"),
    ({"metrics": 1}, TypeError, "metrics must be a bool or a URL path"),
    ({"metrics": "metrics"}, ValueError, "metrics must be a URL path"),
    ({"path": "/rt", "metrics": "/rt/metrics"}, ValueError, "inside the Engine.IO path"),
    ({"http_compression": 1}, TypeError, "http_compression must be a bool"),
    ({"allow_upgrades": "false"}, TypeError, "allow_upgrades must be a bool"),
    ({"cors_credentials": None}, TypeError, "cors_credentials must be a bool"),
    ({"allow_eio3": 1}, TypeError, "allow_eio3 must be a bool"),
    ({"transports": ["polling", "xhr"]}, ValueError, "unknown transport 'xhr'"),
    ({"transports": ["Polling"]}, ValueError, "unknown transport 'Polling'"),
    ({"transports": []}, ValueError, "at least one transport"),
    ({"transports": "websocket"}, TypeError, r"not a str \(write \('websocket',\)\)"),
    ({"transports": None}, TypeError, "transports must be a sequence"),
    ({"transports": 3}, TypeError, "transports must be a sequence"),
    ({"cors_allowed_origins": 1}, TypeError, "cors_allowed_origins must be None"),
    ({"cors_allowed_origins": True}, TypeError, "cors_allowed_origins must be None"),
    ({"cors_allowed_origins": {"http://a": 1}}, TypeError, "cors_allowed_origins must be None"),
    ({"cors_allowed_origins": b"http://a"}, TypeError, "cors_allowed_origins must be None"),
    ({"cors_allowed_origins": ["http://a", 2]}, TypeError, "an origin must be a str"),
    ({"cookie": 1}, TypeError, "cookie must be a cookie name"),
    ({"cookie": True}, TypeError, "cookie must be a cookie name"),
    ({"cookie": ["io"]}, TypeError, "cookie must be a cookie name"),
    ({"cookie": ""}, ValueError, "cookie name must not be empty"),
    ({"cookie": {1: "x"}}, TypeError, "cookie: option names must be str"),
    ({"allow_request": "yes"}, TypeError, "allow_request must be a callable or None"),
    ({"per_message_deflate": 1}, ValueError, "per_message_deflate must be a bool or a dict, not int"),
    ({"per_message_deflate": {"level": 10}}, ValueError, "per_message_deflate: level must be an int from -1 to 9"),
]

SERVER_INVALID: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"parser": "pickle"}, ValueError, r"unsupported parser 'pickle' \(supported: 'json', 'msgpack'\)"),
    ({"parser": "JSON"}, ValueError, "unsupported parser 'JSON'"),
    ({"parser": None}, TypeError, r"parser object lacks encode\(\)"),
    ({"parser": object()}, TypeError, r"parser object lacks encode\(\)"),
    (
        {"parser": "msgpack", "allow_eio3": True},
        ValueError,
        r"a binary parser \(msgpack\) serves Socket.IO v5 clients only: not with allow_eio3",
    ),
    ({"connect_timeout": -1}, ValueError, "connect_timeout must be >= 0"),
    ({"allowed_hosts": "localhost"}, TypeError, "allowed_hosts must be None or a list"),
    ({"slow_consumer": "raise"}, ValueError, "slow_consumer must be 'disconnect' or 'drop'"),
    ({"allowed_hosts": ["localhost:8000"]}, ValueError, "is not a host name"),
    ({"allowed_hosts": ["http://localhost"]}, ValueError, "is not a host name"),
    ({"allowed_hosts": [1]}, TypeError, "a host must be a str"),
    ({"max_connect_queue": -1}, ValueError, "max_connect_queue must be >= 0"),
    ({"max_connect_queue_bytes": 1.5}, TypeError, "max_connect_queue_bytes must be an int"),
    ({"connect_timeout": "45"}, TypeError, "connect_timeout must be a number"),
    ({"connect_timeout": math.inf}, ValueError, "connect_timeout must be a finite"),
    ({"ack_timeout": -1}, ValueError, "ack_timeout must be >= 0"),
    ({"ack_timeout": math.nan}, ValueError, "ack_timeout must be a finite"),
    ({"ack_timeout": "1"}, TypeError, "ack_timeout must be a number"),
    ({"adapter": 3}, TypeError, "adapter must be a callable or None"),
    ({"gc_freeze": 1}, TypeError, "gc_freeze must be a bool"),
    ({"gc_freeze": "run"}, TypeError, "gc_freeze must be a bool"),
    ({"cleanup_empty_child_namespaces": None}, TypeError, "cleanup_empty_child_namespaces must be a bool"),
    ({"static_files": "index.html"}, TypeError, "static_files must be a dict"),
    ({"app": "main:app"}, TypeError, "app must be a callable or None"),
    ({"static_files": {1: "x"}}, TypeError, "static_files: a URL path must be a str"),
    ({"static_files": {"index": "index.html"}}, ValueError, "must start with '/'"),
    ({"static_files": {"/": 3}}, TypeError, r"static_files\['/'\] must be a file or directory path"),
    ({"static_files": {"/": {"file": "x"}}}, TypeError, r"static_files\['/'\] must be"),
    ({"connection_state_recovery": 1}, TypeError, "connection_state_recovery: a dict, True or None"),
    (
        {"connection_state_recovery": {"maxDisconnectionDuration": 1}},
        ValueError,
        "unknown connection_state_recovery options",
    ),
    ({"connection_state_recovery": {"max_disconnection_duration": -1}}, ValueError, "must be >= 0"),
    ({"rate_limit": True}, TypeError, "rate_limit: a dict or a RateLimit"),
    ({"rate_limit": {"events_per_second": 0}}, ValueError, "events_per_second must be > 0"),
    ({"rate_limit": {"rate": 1}}, ValueError, "unknown rate_limit options"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), INVALID)
def test_invalid_engine_option(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    """Verify an invalid Engine.IO value raises at construction, for both classes."""
    with pytest.raises(error, match=message):
        EngineOptions.from_kwargs(**kwargs)
    with pytest.raises(error, match=message):
        ServerOptions(**kwargs)


@pytest.mark.parametrize(("kwargs", "error", "message"), SERVER_INVALID)
def test_invalid_server_option(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    """Verify an invalid Socket.IO value raises at construction."""
    with pytest.raises(error, match=message):
        ServerOptions.from_kwargs(**kwargs)


def test_binary_parser_object_with_eio3() -> None:
    """Verify a parser object that says binary = True is refused with allow_eio3 too,
    and a binary parser without allow_eio3 (or a text one with it) is accepted."""

    class Parser:
        def __init__(self, binary: bool) -> None:
            self.binary = binary

        def encode(self) -> None: ...

        def encode_event(self) -> None: ...

        def decode(self) -> None: ...

    with pytest.raises(ValueError, match="not with allow_eio3"):
        ServerOptions(parser=Parser(True), allow_eio3=True)
    ServerOptions(parser=Parser(False), allow_eio3=True)
    ServerOptions(parser=Parser(True))
    ServerOptions(parser="msgpack")
    ServerOptions(parser="json", allow_eio3=True)


def test_bad_value_checked_again_by_replace() -> None:
    """Verify dataclasses.replace validates the new values too."""
    with pytest.raises(ValueError, match="ping_interval must be > 0"):
        dataclasses.replace(ServerOptions(), ping_interval=0)


# ---------------------------------------------------------------- unknown options

UNKNOWN: list[tuple[type[EngineOptions], dict[str, Any], str]] = [
    (ServerOptions, {"ping_intervall": 1}, "Server: unknown option 'ping_intervall' (did you mean 'ping_interval'?)"),
    (ServerOptions, {"pingInterval": 1}, "Server: unknown option 'pingInterval' (did you mean 'ping_interval'?)"),
    (
        ServerOptions,
        {"maxHttpBufferSize": 1},
        "Server: unknown option 'maxHttpBufferSize' (did you mean 'max_http_buffer_size'?)",
    ),
    (ServerOptions, {"cors_allowed_origin": "*"}, "did you mean 'cors_allowed_origins'?"),
    (ServerOptions, {"xyzzy": 1}, "Server: unknown option 'xyzzy'"),
    (EngineOptions, {"transport": ["polling"]}, "EngineServer: unknown option 'transport' (did you mean 'transports'?)"),
    (
        EngineOptions,
        {"parser": "json"},
        "EngineServer: unknown option 'parser' (an option of Server, not of EngineServer)",
    ),
    (
        EngineOptions,
        {"ack_timeout": 1},
        "EngineServer: unknown option 'ack_timeout' (an option of Server, not of EngineServer)",
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), UNKNOWN)
def test_unknown_option(cls: type[EngineOptions], kwargs: dict[str, Any], message: str) -> None:
    """Verify from_kwargs names an unknown option and suggests the closest one."""
    with pytest.raises(TypeError) as info:
        cls.from_kwargs(**kwargs)
    assert message in str(info.value)


def test_unknown_options_all_named() -> None:
    with pytest.raises(TypeError) as info:
        ServerOptions.from_kwargs(ping_intervall=1, foo=2)
    assert str(info.value) == (
        "Server: unknown option 'ping_intervall' (did you mean 'ping_interval'?); Server: unknown option 'foo'"
    )


def test_xyzzy_has_no_suggestion() -> None:
    with pytest.raises(TypeError) as info:
        ServerOptions.from_kwargs(xyzzy=1)
    assert str(info.value) == "Server: unknown option 'xyzzy'"


def test_constructor_names_unknown_option() -> None:
    """Verify the constructor itself refuses unknown and positional arguments."""
    with pytest.raises(TypeError, match="foo"):
        ServerOptions(foo=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="foo"):
        EngineOptions(foo=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        EngineOptions("/x/")  # type: ignore[call-arg]


def test_from_kwargs_takes_every_option() -> None:
    """Verify from_kwargs accepts every option name, including 'cls'-like names not clashing."""
    kwargs = dict(SERVER_SIGNATURE_DEFAULTS)
    assert ServerOptions.from_kwargs(**kwargs) == ServerOptions()
    engine_kwargs = dict(ENGINE_SIGNATURE_DEFAULTS)
    assert EngineOptions.from_kwargs(**engine_kwargs) == EngineOptions()
    with pytest.raises(TypeError, match="unknown option 'cls'"):
        ServerOptions.from_kwargs(cls=1)


# ---------------------------------------------------------------- frozen

def test_frozen_and_slotted() -> None:
    """Verify assignment raises and there is no instance __dict__."""
    for options in (EngineOptions(), ServerOptions(), DeflateOptions(), RecoveryOptions()):
        name = dataclasses.fields(options)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(options, name, 1)
        with pytest.raises((AttributeError, TypeError)):
            options.new_attribute = 1  # type: ignore[union-attr]
        assert not hasattr(options, "__dict__")


# ---------------------------------------------------------------- DeflateOptions.parse

DEFLATE_GOOD: list[tuple[Any, DeflateOptions | None]] = [
    (False, None),
    (None, None),
    (True, DeflateOptions(1024, False, False, 15, 15, -1, 8)),
    ({}, DeflateOptions(1024, False, False, 15, 15, -1, 8)),
    ({"threshold": 0}, DeflateOptions(0, False, False, 15, 15, -1, 8)),
    (
        {
            "threshold": 10,
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 8,
            "client_max_window_bits": 9,
            "level": 9,
            "mem_level": 1,
        },
        DeflateOptions(10, True, True, 8, 9, 9, 1),
    ),
    ({"level": -1, "mem_level": 9}, DeflateOptions(level=-1, mem_level=9)),
    ({"threshold": 10**9}, DeflateOptions(threshold=10**9)),
]

DEFLATE_BAD: list[tuple[Any, str]] = [
    (1, "per_message_deflate must be a bool or a dict, not int"),
    (0, "per_message_deflate must be a bool or a dict, not int"),
    ("yes", "per_message_deflate must be a bool or a dict, not str"),
    ([("threshold", 1)], "per_message_deflate must be a bool or a dict, not list"),
    ({"thresold": 1}, "per_message_deflate: unknown option(s) 'thresold'"),
    ({"b": 1, "a": 2}, "per_message_deflate: unknown option(s) 'a', 'b'"),
    ({"zlib_deflate_options": {}}, "per_message_deflate: unknown option(s) 'zlib_deflate_options'"),
    ({"threshold": -1}, "per_message_deflate: threshold must be an int >= 0, not -1"),
    ({"threshold": 1.5}, "per_message_deflate: threshold must be an int >= 0, not 1.5"),
    ({"threshold": True}, "per_message_deflate: threshold must be an int >= 0, not True"),
    ({"threshold": "1024"}, "per_message_deflate: threshold must be an int >= 0, not '1024'"),
    ({"server_no_context_takeover": 1}, "per_message_deflate: server_no_context_takeover must be a bool, not 1"),
    (
        {"client_no_context_takeover": "true"},
        "per_message_deflate: client_no_context_takeover must be a bool, not 'true'",
    ),
    ({"server_max_window_bits": 7}, "per_message_deflate: server_max_window_bits must be an int from 8 to 15, not 7"),
    (
        {"server_max_window_bits": 16},
        "per_message_deflate: server_max_window_bits must be an int from 8 to 15, not 16",
    ),
    ({"client_max_window_bits": 0}, "per_message_deflate: client_max_window_bits must be an int from 8 to 15, not 0"),
    (
        {"client_max_window_bits": True},
        "per_message_deflate: client_max_window_bits must be an int from 8 to 15, not True",
    ),
    ({"level": 10}, "per_message_deflate: level must be an int from -1 to 9, not 10"),
    ({"level": -2}, "per_message_deflate: level must be an int from -1 to 9, not -2"),
    ({"mem_level": 0}, "per_message_deflate: mem_level must be an int from 1 to 9, not 0"),
    ({"mem_level": 10}, "per_message_deflate: mem_level must be an int from 1 to 9, not 10"),
    # the bools are checked before the ints
    ({"level": 10, "server_no_context_takeover": 0}, "server_no_context_takeover must be a bool"),
    # the ints in declaration order
    ({"mem_level": 0, "threshold": -1}, "threshold must be an int >= 0"),
]


@pytest.mark.parametrize(("value", "expected"), DEFLATE_GOOD)
def test_deflate_parse(value: Any, expected: DeflateOptions | None) -> None:
    """Verify the accepted forms of per_message_deflate."""
    assert DeflateOptions.parse(value) == expected


@pytest.mark.parametrize(("value", "message"), DEFLATE_BAD)
def test_deflate_parse_bad(value: Any, message: str) -> None:
    """Verify bad forms raise ValueError (never TypeError) with the old messages."""
    with pytest.raises(ValueError) as info:
        DeflateOptions.parse(value)
    assert type(info.value) is ValueError
    assert message in str(info.value)


def test_deflate_defaults_and_instance() -> None:
    """Verify the field defaults and that an instance is returned as is (unvalidated)."""
    assert [(f.name, f.default) for f in dataclasses.fields(DeflateOptions)] == [
        ("threshold", 1024),
        ("server_no_context_takeover", False),
        ("client_no_context_takeover", False),
        ("server_max_window_bits", 15),
        ("client_max_window_bits", 15),
        ("level", -1),
        ("mem_level", 8),
    ]
    odd = DeflateOptions(level=42)
    assert DeflateOptions.parse(odd) is odd
    assert DeflateOptions.parse(True) is not DeflateOptions.parse(True)


# ---------------------------------------------------------------- RecoveryOptions.parse

def test_recovery_parse() -> None:
    """Verify the accepted forms of connection_state_recovery and the stored types."""
    assert RecoveryOptions.parse(None) is None
    assert RecoveryOptions.parse(False) is None
    default = RecoveryOptions.parse(True)
    assert default is not None
    assert (default.max_disconnection_duration, default.skip_middlewares) == (120.0, True)
    assert type(default.max_disconnection_duration) is float
    parsed = RecoveryOptions.parse({"skip_middlewares": False})
    assert parsed is not None and parsed.skip_middlewares is False and parsed.max_disconnection_duration == 120.0
    parsed = RecoveryOptions.parse({"max_disconnection_duration": 30, "skip_middlewares": 0})
    assert parsed is not None
    assert (parsed.max_disconnection_duration, parsed.skip_middlewares) == (30.0, False)
    assert type(parsed.max_disconnection_duration) is float and type(parsed.skip_middlewares) is bool
    assert RecoveryOptions.parse({"max_disconnection_duration": 0}) == RecoveryOptions(0.0, True)
    mine = RecoveryOptions(5, False)
    assert RecoveryOptions.parse(mine) is mine
    # positional arguments, as the old constructor took them
    odd = RecoveryOptions(7, "yes")  # type: ignore[arg-type]
    assert odd == RecoveryOptions(max_disconnection_duration=7.0, skip_middlewares=True)


def test_recovery_parse_bad() -> None:
    """Verify the old exceptions and messages."""
    with pytest.raises(ValueError) as info:
        RecoveryOptions.parse({"maxDisconnectionDuration": 1, "b": 2})
    assert str(info.value) == "unknown connection_state_recovery options: ['b', 'maxDisconnectionDuration']"
    with pytest.raises(ValueError) as info:
        RecoveryOptions.parse({"max_disconnection_duration": -1})
    assert str(info.value) == "max_disconnection_duration must be >= 0"
    with pytest.raises(ValueError, match="max_disconnection_duration must be >= 0"):
        RecoveryOptions(-0.5)
    for value in (1, 0, "yes", [("skip_middlewares", True)]):
        with pytest.raises(TypeError) as tinfo:
            RecoveryOptions.parse(value)
        assert str(tinfo.value) == "connection_state_recovery: a dict, True or None"
    # a duration that does not compare with 0: the comparison's TypeError
    with pytest.raises(TypeError, match="'<' not supported"):
        RecoveryOptions.parse({"max_disconnection_duration": "120"})
    with pytest.raises(TypeError, match="'<' not supported"):
        RecoveryOptions.parse({"max_disconnection_duration": None})


# ---------------------------------------------------------------- documentation

def test_render_options() -> None:
    """Verify the rendered text has every option once, its default, wrapped and indented."""
    text = render_options(ServerOptions, indent="    ", width=80)
    for d in option_docs(ServerOptions):
        assert text.count(f"``{d.name}`` (default ``{d.default!r}``): ") == 1
    assert "``path`` (default ``'/socket.io/'``)" in text
    assert "``path`` (default ``'/engine.io/'``)" in render_options(EngineOptions)
    assert "parser" not in render_options(EngineOptions).split("``")[1::2]
    for line in text.splitlines():
        assert line == "" or line.startswith("    ")
        assert len(line) <= 80 or " " not in line.strip()
    assert len(text.split("\n\n")) == len(option_docs(ServerOptions))


def test_render_selected_options() -> None:
    text = render_options(names=("rate_limit", "ping_interval"))
    assert text.index("``rate_limit``") < text.index("``ping_interval``")
    assert "``path``" not in text
    with pytest.raises(KeyError):
        render_options(EngineOptions, names=("parser",))


def test_every_public_name_documented() -> None:
    """Verify the module, and every public name, has a docstring."""
    import fastsio.options as module

    assert module.__doc__ and len(module.__doc__) > 500
    for name in module.__all__:
        obj = getattr(module, name)
        if not isinstance(obj, tuple):
            assert obj.__doc__, name
    for cls in (EngineOptions, ServerOptions, DeflateOptions, RecoveryOptions):
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and (callable(value) or isinstance(value, (property, classmethod))):
                assert getattr(cls, attr).__doc__, f"{cls.__name__}.{attr}"


# ---------------------------------------------------------------- layering

def test_imports_base_modules_only() -> None:
    """Verify fastsio.options imports the standard library and the base modules only."""
    import fastsio.options as module

    assert module.__file__ is not None
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    allowed_local = {"exceptions", "protection"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                assert node.level == 1 and node.module in allowed_local, ast.dump(node)
            else:
                assert node.module is not None
                assert node.module.split(".")[0] in sys.stdlib_module_names or node.module == "__future__"
                assert not node.module.startswith("fastsio")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] in sys.stdlib_module_names, alias.name
