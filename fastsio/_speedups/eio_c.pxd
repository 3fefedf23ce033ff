# cython-source: fastsio/protocol/engineio/packets_py.py
# Augmenting declarations for packets_py.py compiled as ``eio_c`` (STYLE 2.2; see
# wsframe_c.pxd for how setup.py builds it).  Public names stay undeclared so
# that they remain module attributes.

import cython

cdef tuple _DIGITS


@cython.locals(digit=str)
cpdef object encode_packet(object ptype, object data=*)


@cython.locals(text=str, c=int)
cpdef tuple decode_packet(object data)


@cython.locals(parts=list)
cpdef str encode_payload(object packets)


@cython.locals(out=list, part=str, c=int)
cpdef list decode_payload(str body)
