"""The JSON encoder of the compiled Socket.IO codec.

``json_dumps(obj)`` returns exactly what ``fastsio.protocol.socketio.jsonenc_py.json_dumps`` returns (the
stdlib encoder with ``separators=(",", ":")``, ``ensure_ascii=False``,
``allow_nan=False``), faster for the payloads Socket.IO carries: it writes
exact ``str``, ``int``, finite ``float``, ``bool``, ``None``, ``list``,
``tuple`` and ``dict`` with ``str`` keys straight into a list of pieces,
without the per-call setup of :meth:`json.JSONEncoder.encode`.  Anything else
(subclasses, other key types, NaN, strings holding a surrogate, nesting deeper than ``MAX_DEPTH``, which
also covers circular data) makes it hand the whole value to the stdlib
encoder, so every result and every error comes from the same place as in the
pure twin.
"""

from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.dict cimport PyDict_Next
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport isfinite

from json.encoder import encode_basestring as _quote  # '"' + escaped + '"', as ensure_ascii=False does

from fastsio.protocol.socketio.jsonenc_py import json_dumps as _reference

# Deeper values go to the stdlib encoder (which also detects cycles).
cdef enum:
    MAX_DEPTH = 32


cdef inline int _plain(str s) noexcept:
    """0 if ``s`` needs no escaping; 1 if it holds ``"``, ``\\`` or a control
    character; 2 if it holds a surrogate (which only the reference encoder escapes)."""
    cdef Py_UCS4 c
    cdef int r = 0
    for c in s:
        if c < 0x20 or c == 0x22 or c == 0x5C:
            r = 1
        elif 0xD800 <= c <= 0xDFFF:
            return 2
    return r


cdef int _write(list out, object obj, int depth) except -1:
    """Append the JSON of ``obj`` to ``out``; return 1 if the stdlib encoder must do it."""
    cdef type t = type(obj)
    cdef Py_ssize_t i, n
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef int plain
    if t is str:
        plain = _plain(<str>obj)
        if plain == 0:
            out.append('"')
            out.append(obj)
            out.append('"')
        elif plain == 1:
            out.append(_quote(obj))
        else:
            return 1
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif t is int:
        out.append(repr(obj))  # exact int: int.__repr__, as the stdlib encoder writes it
    elif t is float:
        if not isfinite(PyFloat_AS_DOUBLE(obj)):
            return 1
        out.append(repr(obj))  # exact finite float: float.__repr__
    elif t is list:
        if depth >= MAX_DEPTH:
            return 1
        n = PyList_GET_SIZE(obj)
        if n == 0:
            out.append("[]")
            return 0
        out.append("[")
        for i in range(n):
            if i:
                out.append(",")
            # The list cannot change under us: only exact builtins are
            # visited and none of them runs Python code.
            if _write(out, <object>PyList_GET_ITEM(obj, i), depth + 1):
                return 1
        out.append("]")
    elif t is tuple:
        if depth >= MAX_DEPTH:
            return 1
        n = PyTuple_GET_SIZE(obj)
        if n == 0:
            out.append("[]")
            return 0
        out.append("[")
        for i in range(n):
            if i:
                out.append(",")
            if _write(out, <object>PyTuple_GET_ITEM(obj, i), depth + 1):
                return 1
        out.append("]")
    elif t is dict:
        if depth >= MAX_DEPTH:
            return 1
        if not obj:
            out.append("{}")
            return 0
        out.append("{")
        i = 0
        while PyDict_Next(obj, &pos, &key, &value):
            if type(<object>key) is not str:
                return 1
            if i:
                out.append(",")
            i = 1
            plain = _plain(<str>key)
            if plain == 0:
                out.append('"')
                out.append(<object>key)
                out.append('":')
            elif plain == 1:
                out.append(_quote(<object>key))
                out.append(":")
            else:
                return 1
            if _write(out, <object>value, depth + 1):
                return 1
        out.append("}")
    else:
        return 1
    return 0


cpdef str json_dumps(object obj):
    """Return ``obj`` as compact JSON, exactly as ``fastsio.protocol.socketio.jsonenc_py.json_dumps`` does."""
    cdef list out = []
    if _write(out, obj, 0):
        return _reference(obj)
    return "".join(out)
