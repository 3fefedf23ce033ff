# cython-source: fastsio/_server/request_py.py
# Augmenting declarations for request_py.py compiled as ``request_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public module names stay undeclared so
# that they remain module attributes.
#
# ``Request`` becomes an extension type: its fields are C fields, the pure twin's
# ``__slots__`` in the same order and with the same names, all objects (the HTTP layer,
# the ASGI adapter and the application set them to what the pure twin takes), readable
# and writable from Python (a test compares the twins' fields).  The string tables are
# C-level dicts of the module, and the functions that fill and read them are ``cpdef``,
# so that ``add_header`` and ``parse_query``, called per header and per request, reach
# them with C calls.

cimport cython

cdef Py_ssize_t _SHARED_MAX
cdef Py_ssize_t _SHARED_LEN
cdef dict _names
cdef dict _values
cdef dict _strings
cdef frozenset _UNSHARED
cdef frozenset _UNIQUE_PARAMS

cpdef header_name(object raw)
cpdef header_value(object key, object raw)
cpdef add_header(dict headers, object name, object value)
cpdef shared(object text)

@cython.locals(query=dict, strings=dict)
cpdef parse_query(object qs)


cdef class Request:
    cdef public object passed
    cdef public object method
    cdef public object url
    cdef public object path
    cdef public object query_string
    cdef public object _query
    cdef public object headers
    cdef public object body
    cdef public object client
    cdef public object secure
    cdef public object upgrade
    cdef public object keep_alive
