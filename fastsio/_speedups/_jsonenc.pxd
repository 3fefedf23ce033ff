# C helper of the compiled Socket.IO codec: see _jsonenc.pyx.  sio_c.pxd
# cimports ``json_dumps`` under the name that packets_py.py imports from protocol/socketio/jsonenc_py.py.

cpdef str json_dumps(object obj)
