# C helper of the compiled Socket.IO codec: see _jsonenc.pyx.  sio_c.pxd
# cimports ``json_dumps`` under the name that sio_py.py imports from _helpers.py.

cpdef str json_dumps(object obj)
