"""Twin equivalence of the server's extension types: ``socket`` (``Socket``, ``Client``),
``engine`` (``Engine``), the connections: ``flow_control`` (``FlowControl``, a
subtype of the compiled ``Outbox``), ``http`` (``Connection``) and ``websocket``
(``WebSocketConnection``), subtypes of the compiled ``FlowControl``, and
``request`` (``Request``) and ``timers`` (``TimerWheel``).

``setup.py`` compiles their pure twins (``fastsio/socket_py.py``,
``fastsio/_server/engine_py.py``, ``flow_control_py.py``, ``http_py.py``,
``websocket_py.py``, ``request_py.py``, ``timers_py.py``) with a ``.pxd`` (``socket_c.pxd`` ...) that makes these classes
extension types with C fields.  Their behaviour is the pure source's, tested on both
twins by the whole suite (``make test`` runs it once per twin).  What a ``.pxd`` can
get wrong is the fields: one that the pure twin has and the compiled type lacks is an
AttributeError only on the path that uses it, and one typed as a C number refuses a
value the pure twin accepts.  So here the compiled type's fields are the pure twin's
``__slots__``, the same names in the same order; its other descriptors are the pure
twin's properties; and a Python subclass overrides a method of the compiled type as
it does the pure one's (the Admin UI's counting client does).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

Twins = Callable[[str], tuple[ModuleType, ModuleType]]

#: (twin, class) pairs whose compiled class is an extension type
CLASSES = [
    ("socket", "Socket"),
    ("socket", "Client"),
    ("engine", "Engine"),
    ("flow_control", "FlowControl"),
    ("http", "Connection"),
    ("websocket", "WebSocketConnection"),
    ("request", "Request"),
    ("timers", "TimerWheel"),
]


def slots(cls: type) -> tuple[str, ...]:
    """The pure class's fields, its own ``__slots__`` without ``__weakref__``."""
    return tuple(name for name in cls.__dict__["__slots__"] if name != "__weakref__")


def descriptors(cls: type) -> list[str]:
    """The C-level data descriptors of an extension type, in the order it lists them."""
    return [
        name
        for name, attr in vars(cls).items()
        if type(attr).__name__ in ("getset_descriptor", "member_descriptor") and not name.startswith("__")
    ]


@pytest.mark.parametrize(("twin", "name"), CLASSES, ids=[f"{t}.{n}" for t, n in CLASSES])
def test_compiled_fields_are_the_pure_slots(twins: Twins, twin: str, name: str) -> None:
    """The compiled type has a field for each of the pure twin's slots, in the same
    order, and no other data descriptor than those and the pure twin's properties."""
    py, c = twins(twin)
    pure, compiled = getattr(py, name), getattr(c, name)
    assert type(compiled) is type and compiled.__module__ == c.__name__
    fields = [n for n in descriptors(compiled) if n in slots(pure)]
    assert tuple(fields) == slots(pure)
    properties = {n for n, attr in vars(pure).items() if isinstance(attr, property)}
    assert set(descriptors(compiled)) - set(slots(pure)) <= properties
    if "__weakref__" in pure.__dict__["__slots__"]:  # weak references, as to the pure twin's
        obj = compiled.__new__(compiled)
        ref = weakref.ref(obj)
        assert ref() is obj
        del obj
        assert ref() is None


def test_socket_fields_take_what_the_pure_twin_puts_there(twins: Twins) -> None:
    """The fields typed as C numbers and flags in ``socket_c.pxd`` read back the values
    the pure twin's code writes to them (bools, counts, the connection time)."""
    py, c = twins("socket")
    values: dict[str, Any] = {
        "_issued": 1765000000.25,
        "connected": True,
        "recovered": False,
        "_volatile": True,
        "_compress": False,
        "pending_handlers": 3,
    }
    sock = c.Socket.__new__(c.Socket)
    for field, value in values.items():
        setattr(sock, field, value)
        assert getattr(sock, field) == value and type(getattr(sock, field)) is type(value), field
    client = c.Client.__new__(c.Client)
    for field in ("queued", "queued_bytes", "partial_bytes"):
        setattr(client, field, 7)
        assert getattr(client, field) == 7
    client.others = {}
    with pytest.raises(TypeError):
        client.others = []  # the pure twin only ever puts a dict there


def test_request_and_timer_wheel_fields_take_what_the_pure_twin_puts_there(twins: Twins) -> None:
    """``Request``'s fields are all objects (the ASGI adapter and the application put
    what the pure twin takes there: read back as the same object); the wheel's bucket
    width is a C double and reads back the number the pure twin keeps, its armed bucket
    a Python int (a deadline far ahead is a large index, as in the pure twin)."""
    py, c = twins("request")
    req = c.Request("GET", "/x?a=1", "/x", "a=1", {"host": "h"}, ("127.0.0.1", 1), False)
    marker = object()
    for field in slots(py.Request):
        setattr(req, field, marker)
        assert getattr(req, field) is marker, field
    py, c = twins("timers")
    loop = asyncio.new_event_loop()
    try:
        pure, compiled = py.TimerWheel(loop, 0.25), c.TimerWheel(loop, 0.25)
        assert compiled.resolution == pure.resolution == 0.25 and type(compiled.resolution) is float
        assert compiled.armed == pure.armed == -1
        compiled.armed = pure.armed = 10**30
        assert compiled.armed == pure.armed
    finally:
        loop.close()


def test_a_python_subclass_overrides_a_method(twins: Twins) -> None:
    """A Python subclass of the compiled ``Client`` (the Admin UI's counting client)
    gets its own ``send_parts`` called, from Python and from the compiled code."""
    _, c = twins("socket")
    calls: list[list[str | bytes]] = []

    class Counting(c.Client):  # type: ignore[misc, name-defined]
        __slots__ = ()

        def send_parts(self, parts: list[str | bytes], compress: bool = True) -> None:
            calls.append(parts)

    client = Counting.__new__(Counting)
    client.send_parts(["0"])
    assert calls == [["0"]]
