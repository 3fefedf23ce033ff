"""Table-driven tests of permessage-deflate negotiation and options (RFC 7692; no network).

* ``parse_extensions``: the ``Sec-WebSocket-Extensions`` grammar (RFC 6455 9.1).
* ``negotiate``: (offer header, server options) -> response header and the agreed
  parameters, or no extension; the offers of real clients included.
* ``DeflateOptions.parse``: the ``per_message_deflate`` option and its validation.
* ``Deflater``: what it sends inflates back (with and without context takeover),
  and wsproto's client-side extension reads it.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

import pytest
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol, Opcode

from fastsio.protocol.websocket.deflate import Deflater, DeflateOptions, DeflateParams, negotiate, parse_extensions

DEFAULT = DeflateOptions()

# ---------------------------------------------------------------- the header grammar

PARSE_CASES: list[tuple[str, list[tuple[str, list[tuple[str, str | None]]]]]] = [
    ("permessage-deflate", [("permessage-deflate", [])]),
    (
        "permessage-deflate; client_max_window_bits",
        [("permessage-deflate", [("client_max_window_bits", None)])],
    ),
    (
        "permessage-deflate;client_max_window_bits=10;server_no_context_takeover",
        [("permessage-deflate", [("client_max_window_bits", "10"), ("server_no_context_takeover", None)])],
    ),
    (
        ' permessage-deflate ; server_max_window_bits = "12" , x-webkit-deflate-frame ',
        [("permessage-deflate", [("server_max_window_bits", "12")]), ("x-webkit-deflate-frame", [])],
    ),
    ('a; b="\\1\\0"', [("a", [("b", "10")])]),
    (", ,permessage-deflate,,  foo;bar,", [("permessage-deflate", []), ("foo", [("bar", None)])]),
    ("", []),
    ("\t", []),
]

BAD_HEADERS = [
    "permessage-deflate;",
    "permessage-deflate; =1",
    "permessage-deflate; a=",
    'permessage-deflate; a="1',
    'permessage-deflate; a="1 2"',  # a quoted value must be a token once unquoted
    'permessage-deflate; a=""',
    "permessage-deflate a",
    "permessage-deflate; a=1 2",
    "per message-deflate",
    ";a",
    "p(x)",
    "permessage-deflate; a=b=c",
]


@pytest.mark.parametrize(("header", "expected"), PARSE_CASES)
def test_parse_extensions(header: str, expected: Any) -> None:
    """Verify offers, parameters, quoted values and empty list elements parse as RFC 6455 9.1 says."""
    assert parse_extensions(header) == expected


@pytest.mark.parametrize("header", BAD_HEADERS)
def test_parse_extensions_rejects(header: str) -> None:
    """Verify what breaks the grammar raises ValueError (and so negotiates nothing)."""
    with pytest.raises(ValueError):
        parse_extensions(header)
    assert negotiate(header, DEFAULT) is None


# ---------------------------------------------------------------- negotiation

NONE = None
# (id, offer header, options, expected response header or None, expected (snct, cnct, sbits, cbits))
NEGOTIATION: list[tuple[str, str | None, dict[str, Any], str | None, tuple[bool, bool, int, int] | None]] = [
    ("no header", None, {}, NONE, None),
    ("empty header", "", {}, NONE, None),
    ("another extension", "x-webkit-deflate-frame", {}, NONE, None),
    ("plain offer", "permessage-deflate", {}, "permessage-deflate", (False, False, 15, 15)),
    (
        # Node's ws and browsers
        "ws / Chrome",
        "permessage-deflate; client_max_window_bits",
        {},
        "permessage-deflate",
        (False, False, 15, 15),
    ),
    (
        # Firefox
        "Firefox",
        "permessage-deflate",
        {"client_max_window_bits": 15},
        "permessage-deflate",
        (False, False, 15, 15),
    ),
    (
        # wsproto's client offer, and websockets' (client_max_window_bits, no value + memLevel)
        "wsproto",
        "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15",
        {},
        "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
        (False, False, 15, 15),
    ),
    (
        "server_no_context_takeover asked",
        "permessage-deflate; server_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover",
        (True, False, 15, 15),
    ),
    (
        "server_no_context_takeover configured",
        "permessage-deflate",
        {"server_no_context_takeover": True},
        "permessage-deflate; server_no_context_takeover",
        (True, False, 15, 15),
    ),
    (
        "client_no_context_takeover offered is echoed",
        "permessage-deflate; client_no_context_takeover",
        {},
        "permessage-deflate; client_no_context_takeover",
        (False, True, 15, 15),
    ),
    (
        "client_no_context_takeover configured",
        "permessage-deflate; client_max_window_bits",
        {"client_no_context_takeover": True},
        "permessage-deflate; client_no_context_takeover",
        (False, True, 15, 15),
    ),
    (
        "both no_context_takeover",
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        (True, True, 15, 15),
    ),
    (
        "server_max_window_bits asked",
        "permessage-deflate; server_max_window_bits=10",
        {},
        "permessage-deflate; server_max_window_bits=10",
        (False, False, 10, 15),
    ),
    (
        "server_max_window_bits 8 is agreed (compressed with 9)",
        "permessage-deflate; server_max_window_bits=8",
        {},
        "permessage-deflate; server_max_window_bits=8",
        (False, False, 8, 15),
    ),
    (
        "server_max_window_bits: the smaller of asked and configured",
        "permessage-deflate; server_max_window_bits=12",
        {"server_max_window_bits": 10},
        "permessage-deflate; server_max_window_bits=10",
        (False, False, 10, 15),
    ),
    (
        "server_max_window_bits configured, not asked",
        "permessage-deflate",
        {"server_max_window_bits": 11},
        "permessage-deflate; server_max_window_bits=11",
        (False, False, 11, 15),
    ),
    (
        "server_max_window_bits asked under the configured value",
        "permessage-deflate; server_max_window_bits=9",
        {"server_max_window_bits": 12},
        "permessage-deflate; server_max_window_bits=9",
        (False, False, 9, 15),
    ),
    (
        "server_max_window_bits quoted",
        'permessage-deflate; server_max_window_bits="9"',
        {},
        "permessage-deflate; server_max_window_bits=9",
        (False, False, 9, 15),
    ),
    (
        "client_max_window_bits with a value",
        "permessage-deflate; client_max_window_bits=10",
        {},
        "permessage-deflate; client_max_window_bits=10",
        (False, False, 15, 10),
    ),
    (
        "client_max_window_bits limited by the server",
        "permessage-deflate; client_max_window_bits",
        {"client_max_window_bits": 9},
        "permessage-deflate; client_max_window_bits=9",
        (False, False, 15, 9),
    ),
    (
        "client_max_window_bits: the smaller of offered and configured",
        "permessage-deflate; client_max_window_bits=12",
        {"client_max_window_bits": 13},
        "permessage-deflate; client_max_window_bits=12",
        (False, False, 15, 12),
    ),
    (
        "a client that cannot be limited is declined",
        "permessage-deflate",
        {"client_max_window_bits": 12},
        NONE,
        None,
    ),
    (
        "everything",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=11; client_max_window_bits=13",
        {"level": 1, "mem_level": 4, "threshold": 0},
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=11; client_max_window_bits=13",
        (True, True, 11, 13),
    ),
    # declined offers, then the next one
    (
        "unknown parameter, next offer",
        "permessage-deflate; foo, permessage-deflate; server_max_window_bits=12",
        {},
        "permessage-deflate; server_max_window_bits=12",
        (False, False, 12, 15),
    ),
    (
        "duplicate parameter, next offer",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover, "
        "permessage-deflate",
        {},
        "permessage-deflate",
        (False, False, 15, 15),
    ),
    (
        "duplicate window bits, next offer",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits, permessage-deflate",
        {},
        "permessage-deflate",
        (False, False, 15, 15),
    ),
    (
        "first acceptable of several",
        "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10, permessage-deflate",
        {},
        "permessage-deflate; client_max_window_bits=10",
        (False, False, 15, 10),
    ),
    ("server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7", {}, NONE, None),
    ("server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16", {}, NONE, None),
    ("server_max_window_bits=010", "permessage-deflate; server_max_window_bits=010", {}, NONE, None),
    ("server_max_window_bits without value", "permessage-deflate; server_max_window_bits", {}, NONE, None),
    ("server_max_window_bits=x", "permessage-deflate; server_max_window_bits=x", {}, NONE, None),
    ("client_max_window_bits=0", "permessage-deflate; client_max_window_bits=0", {}, NONE, None),
    ("client_max_window_bits=+9", "permessage-deflate; client_max_window_bits=+9", {}, NONE, None),
    ("server_no_context_takeover=1", "permessage-deflate; server_no_context_takeover=1", {}, NONE, None),
    ("client_no_context_takeover=x", "permessage-deflate; client_no_context_takeover=x", {}, NONE, None),
    ("unknown parameter", "permessage-deflate; mux", {}, NONE, None),
    ("case of the name matters", "Permessage-Deflate", {}, NONE, None),
    ("all declined", "permessage-deflate; a, permessage-deflate; server_max_window_bits=99", {}, NONE, None),
    ("unparsable header", "permessage-deflate; client_max_window_bits=", {}, NONE, None),
]


@pytest.mark.parametrize(
    ("offer", "options", "response", "agreed"),
    [pytest.param(*case[1:], id=case[0]) for case in NEGOTIATION],
)
def test_negotiate(
    offer: str | None, options: dict[str, Any], response: str | None, agreed: tuple[bool, bool, int, int] | None
) -> None:
    """Verify the response header and the agreed parameters for each offer (RFC 7692 7.1)."""
    opts = DeflateOptions.parse(options or True)
    assert opts is not None
    result = negotiate(offer, opts)
    if response is None:
        assert result is None
        return
    assert result is not None
    assert result.response == response
    assert (
        result.server_no_context_takeover,
        result.client_no_context_takeover,
        result.server_max_window_bits,
        result.client_max_window_bits,
    ) == agreed


# wsproto takes window bits 9..15 only (it never offers 8)
@pytest.mark.parametrize(
    "case", [c for c in NEGOTIATION if c[4] is not None and 8 not in c[4][2:]], ids=lambda c: c[0]
)
def test_wsproto_client_accepts_our_response(case: Any) -> None:
    """Verify wsproto's client-side extension reads every response we give as we agreed it."""
    _, offer, options, response, agreed = case
    ext = PerMessageDeflate()
    ext.finalize(response)
    assert ext.enabled()
    assert ext.server_max_window_bits == agreed[2]
    assert ext.client_max_window_bits == agreed[3]
    assert ext.server_no_context_takeover == agreed[0]
    assert ext.client_no_context_takeover == agreed[1]


# ---------------------------------------------------------------- options

GOOD_OPTIONS: list[tuple[Any, DeflateOptions | None]] = [
    (False, None),
    (None, None),
    (True, DeflateOptions()),
    ({}, DeflateOptions()),
    ({"threshold": 0}, DeflateOptions(threshold=0)),
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
    (DeflateOptions(threshold=5), DeflateOptions(threshold=5)),
]

BAD_OPTIONS: list[Any] = [
    1,
    "yes",
    [("threshold", 1)],
    {"thresold": 1},
    {"zlib_deflate_options": {}},
    {"threshold": -1},
    {"threshold": 1.5},
    {"threshold": True},
    {"threshold": "1024"},
    {"server_no_context_takeover": 1},
    {"client_no_context_takeover": "true"},
    {"server_max_window_bits": 7},
    {"server_max_window_bits": 16},
    {"client_max_window_bits": 0},
    {"client_max_window_bits": True},
    {"level": 10},
    {"level": -2},
    {"mem_level": 0},
    {"mem_level": 10},
]


@pytest.mark.parametrize(("value", "expected"), GOOD_OPTIONS)
def test_options(value: Any, expected: DeflateOptions | None) -> None:
    """Verify the accepted forms of ``per_message_deflate``."""
    assert DeflateOptions.parse(value) == expected


@pytest.mark.parametrize("value", BAD_OPTIONS)
def test_bad_options(value: Any) -> None:
    """Verify unknown keys and bad values raise ValueError."""
    with pytest.raises(ValueError, match="per_message_deflate"):
        DeflateOptions.parse(value)


def test_servers_validate_the_option() -> None:
    """Verify Server and EngineServer take the option and refuse a bad one at construction."""
    import fastsio

    assert fastsio.Server().options.per_message_deflate is None
    assert fastsio.Server(per_message_deflate=True).options.per_message_deflate == DeflateOptions()
    eio = fastsio.EngineServer(per_message_deflate={"threshold": 5})
    assert eio.options.per_message_deflate == DeflateOptions(threshold=5)
    with pytest.raises(ValueError):
        fastsio.Server(per_message_deflate={"nope": 1})
    with pytest.raises(ValueError):
        fastsio.EngineServer(per_message_deflate={"server_max_window_bits": 20})


# ---------------------------------------------------------------- the compressor


def params(snct: bool = False, cnct: bool = False, sbits: int = 15, cbits: int = 15) -> DeflateParams:
    """Return agreed parameters (the response header is not used by the Deflater)."""
    return DeflateParams("permessage-deflate", snct, cnct, sbits, cbits)


MESSAGES = [b"", b"a", b"hello " * 300, bytes(range(256)) * 40, "é€😀".encode() * 500, b"hello " * 300]


@pytest.mark.parametrize("snct", [False, True])
@pytest.mark.parametrize("bits", [8, 9, 12, 15])
def test_deflater_round_trip(snct: bool, bits: int) -> None:
    """Verify each compressed message inflates back (RFC 7692 7.2.2) with the peer's window."""
    deflater = Deflater(params(snct=snct, sbits=bits), DeflateOptions())
    # the peer inflates with the agreed window; 8 as zlib's smallest raw inflate window
    inflater = zlib.decompressobj(-bits)
    for data in MESSAGES:
        payload = deflater.compress(data)
        assert not payload.endswith(b"\x00\x00\xff\xff") or not data
        if snct:
            # no context takeover: every message inflates on its own
            assert zlib.decompressobj(-bits).decompress(payload + b"\x00\x00\xff\xff") == data
        assert inflater.decompress(payload + b"\x00\x00\xff\xff") == data


def test_deflater_context_takeover_shrinks_repeats() -> None:
    """Verify context takeover makes a repeated message smaller, and no context takeover does not."""
    data = bytes(range(256)) * 8
    keep = Deflater(params(), DeflateOptions())
    first, second = keep.compress(data), keep.compress(data)
    assert len(second) < len(first) // 4
    fresh = Deflater(params(snct=True), DeflateOptions())
    assert fresh.compress(data) == fresh.compress(data) == first


def test_deflater_level_and_mem_level() -> None:
    """Verify level 0 stores (no smaller) and the options reach zlib."""
    data = b"x" * 5000
    stored = Deflater(params(), DeflateOptions(level=0)).compress(data)
    best = Deflater(params(), DeflateOptions(level=9, mem_level=1)).compress(data)
    assert len(stored) > len(data) > 10 * len(best)


def test_deflater_output_read_by_wsproto(wsframe: ModuleType) -> None:
    """Verify wsproto's client-side PerMessageDeflate reads our compressed frames (context kept, then reset)."""
    build_frame = wsframe.build_frame
    for snct in (False, True):
        ext = PerMessageDeflate()
        ext.finalize("permessage-deflate" + ("; server_no_context_takeover" if snct else ""))
        client = FrameProtocol(client=True, extensions=[ext])
        deflater = Deflater(params(snct=snct), DeflateOptions())
        texts = ["{}".format("hello world " * 100), "é" * 3000, "x", "hello world " * 100]
        for text in texts:
            client.receive_bytes(build_frame(1, deflater.compress(text.encode()), rsv1=True))
        got = [f.payload for f in client.received_frames() if f.opcode is Opcode.TEXT]
        assert got == texts
