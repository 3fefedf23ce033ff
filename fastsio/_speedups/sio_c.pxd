# cython-source: fastsio/protocol/socketio/packets_py.py
# Augmenting declarations for packets_py.py compiled as ``sio_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  ``_dumps`` is bound to the C JSON
# writer of _jsonenc.pyx in place of the stdlib encoder that packets_py.py imports
# from protocol/socketio/jsonenc_py.py under that name.  Public names stay undeclared so that they
# remain module attributes.

import cython

from fastsio._speedups._jsonenc cimport json_dumps as _dumps

cdef object _scan_once


cpdef bint has_binary(object data) except -1


cdef object _deconstruct(object data, list buffers)


@cython.locals(buffers=list)
cpdef tuple deconstruct(object data)


cpdef object reconstruct(object data, object buffers)


@cython.locals(s=str, attachments=list)
cpdef list encode(object type, object nsp=*, object data=*, object id=*, object dumps=*)


@cython.locals(data=list)
cpdef list encode_event(object nsp, object event, object args, object id=*)


cdef bint _payload_valid(int type, object payload) except -1


@cython.locals(n=Py_ssize_t, end=Py_ssize_t)
cdef object _json_loads(str s, Py_ssize_t i)


@cython.locals(n=Py_ssize_t, type=int, i=Py_ssize_t, j=Py_ssize_t, nsp=str)
cpdef object decode(str s, object loads=*)


cdef class Packet:
    cdef public object type
    cdef public object nsp
    cdef public object data
    cdef public object id
    cdef public object attachments
