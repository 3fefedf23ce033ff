"""Socket.IO parsers: how packets become Engine.IO messages and back.

A parser is chosen once, when the :class:`~fastsio.Server` is built
(``parser="json"``, ``"msgpack"``, or a parser object), and every packet the server
sends or receives goes through it.  A parser has:

* ``name``;
* ``binary``: False when packets are text messages with binary attachments after
  them (the default JSON format), True when each packet is one binary message
  (``msgpack``);
* ``encode(type, nsp, data=None, id=None) -> list[str | bytes]``: one packet as the
  messages that carry it;
* ``encode_event(nsp, event, args, id=None) -> list[str | bytes]``: an EVENT with
  ``[event, *args]`` as its data;
* ``decode(message) -> Packet``: one text message (JSON) or one binary message
  (msgpack); raises :class:`~fastsio.protocol.socketio.SocketIOError`;
* ``reconstruct(data, buffers)``: the JSON format's attachment step.

Broadcasts encode once per packet whatever the parser, and the default JSON parser's
functions are the codec twin's own (no wrapper in between).

:class:`JsonParser` can write JSON with `orjson <https://pypi.org/project/orjson/>`_
when it is installed (it is not a dependency).  Its output is identical to the
codec's standard-library writer's (``jsonenc_py.json_dumps``: compact
separators, non-ASCII characters unescaped, NaN and Infinity refused): any value
orjson writes differently or refuses (floats written with a negative exponent,
integers beyond 64 bits, NaN, non-string keys, lone surrogates, subclasses of the
built-in types) is written again by that writer.  The one difference: ``enum.Enum`` and ``uuid.UUID`` values, which the
standard encoder refuses with TypeError, orjson writes (as their value and as a
string).  ``backend="auto"`` (the default) uses orjson only where it is faster: when
the pure-Python codec twin is in use (the compiled twin's own C writer is faster for
the small payloads most events carry; ``backend="orjson"`` forces it, which pays off
for large nested payloads).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable

from ..._speedups import IMPLEMENTATIONS
from .jsonenc_py import json_dumps as _std_dumps
from . import packets as sio

__all__ = ("JsonParser", "get_parser", "orjson_dumps")

class JsonParser:
    """The default parser: Socket.IO's own text format (socket.io-parser), JSON payloads.

    ``backend``: ``"auto"``, ``"orjson"`` (ImportError when it is not installed) or
    ``"builtin"`` (the codec twin's writer).  See the module docstring.
    """

    binary = False

    def __init__(self, backend: str = "auto") -> None:
        if backend not in ("auto", "orjson", "builtin"):
            raise ValueError(f"unknown JSON backend {backend!r}")
        dumps: Callable[[Any], str] | None = None
        if backend == "orjson":
            dumps = orjson_dumps()
            if dumps is None:
                raise ImportError("orjson is not installed (or does not write JSON as expected)")
        elif backend == "auto" and IMPLEMENTATIONS.get("sio") == "python":
            dumps = orjson_dumps()
        self.name = "json"
        self.backend = "builtin" if dumps is None else "orjson"
        self.decode = sio.decode
        self.reconstruct = sio.reconstruct
        if dumps is None:
            # the codec's own functions, called directly
            self.encode: Callable[..., list[str | bytes]] = sio.encode
            self.encode_event = sio.encode_event
        else:
            encode = sio.encode
            EVENT = sio.EVENT

            def encode_with(
                type: int, nsp: str = "/", data: Any = None, id: int | None = None
            ) -> list[str | bytes]:
                return encode(type, nsp, data, id, dumps)

            def encode_event(nsp: str, event: str, args: tuple[Any, ...], id: int | None = None) -> list[str | bytes]:
                data = [event]
                data.extend(args)
                return encode(EVENT, nsp, data, id, dumps)

            self.encode = encode_with
            self.encode_event = encode_event

    def __repr__(self) -> str:
        return f"<JsonParser backend={self.backend}>"


# --------------------------------------------------------------------------- orjson
_ORJSON: Any = None  # the dumps function once built, False when unusable


def orjson_dumps() -> Callable[[Any], str] | None:
    """A ``dumps(obj) -> str`` on orjson whose output equals the standard encoder's
    (see the module docstring), or None when orjson is missing or fails the check."""
    global _ORJSON
    if _ORJSON is None:
        _ORJSON = _build_orjson() or False
    return _ORJSON or None


def _build_orjson() -> Callable[[Any], str] | None:
    try:
        import orjson
    except ImportError:
        return None
    odumps = orjson.dumps
    option = (
        orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
    )
    std = _std_dumps

    def refuse(obj: Any) -> Any:
        raise TypeError  # anything orjson does not write natively: the standard encoder decides

    def dumps(obj: Any) -> str:
        try:
            out = odumps(obj, refuse, option)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return std(obj)
        # NaN/Infinity come out as null, small floats other than the standard way;
        # checked on the decoded str (a bytes ``in`` costs a raised TypeError on CPython)
        text = out.decode()
        if "null" in text or "e-" in text or "0.0000" in text:
            return std(obj)
        return text

    if not _orjson_agrees(dumps, std):
        # a process-wide, once-only check (the codec is shared by every server): the
        # package's logger, looked up here (no module-level logger)
        logging.getLogger("fastsio").info(
            "orjson %s writes floats differently than expected; not using it", orjson.__version__
        )
        return None
    return dumps


def _orjson_agrees(dumps: Callable[[Any], str], std: Callable[[Any], str]) -> bool:
    """Check, once, that ``dumps`` equals the standard encoder on floats of every decade
    (the orjson versions differ in how they write some; the check above must catch those)."""
    samples: list[Any] = [0.0, -0.0, 1.0, 0.5, 100.0, 2**53 + 0.0, 1 / 3, 5e-324, 1.7976931348623157e308]
    for e in range(-324, 309):
        for m in (1.0, 1.5, 3.141592653589793, 9.999999999999998):
            try:
                f = float(f"{m}e{e}")
            except OverflowError:  # pragma: no cover
                continue
            if math.isfinite(f):
                samples.append(f)
                samples.append(-f)
    samples.extend(["é😀\u2028", "\x00\x1f\x7f\"\\", [1, "a", {"k": [True, False, None]}], 2**63, -(2**63)])
    for value in samples:
        try:
            if dumps(value) != std(value):
                return False
        except Exception:
            return False
    return True


# --------------------------------------------------------------------------- choosing
def get_parser(parser: Any) -> Any:
    """The parser object for ``Server(parser=...)``: ``"json"``, ``"msgpack"``, or an
    object with the interface above."""
    if isinstance(parser, str):
        if parser == "json":
            return JsonParser()
        if parser == "msgpack":
            from .msgpack_parser import MsgpackParser

            return MsgpackParser()
        raise ValueError(f"unsupported parser {parser!r} (supported: 'json', 'msgpack')")
    for attr in ("encode", "encode_event", "decode"):
        if not callable(getattr(parser, attr, None)):
            raise TypeError(f"parser object lacks {attr}()")
    return parser
