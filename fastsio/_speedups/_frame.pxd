# C helpers of the compiled frame codec: see _frame.pyx.  wsframe_c.pxd cimports
# them under the names that frames_py.py imports from protocol/websocket/mask_py.py.

cpdef bytes unmask(object src, Py_ssize_t start, Py_ssize_t end)

cpdef bytes frame(int b0, object payload)
