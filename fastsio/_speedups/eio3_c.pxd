# cython-source: fastsio/protocol/engineio/v3_py.py
# Compiled as ``fastsio._speedups.eio3_c`` from its pure twin, untyped (no declarations
# are needed: the module is compiled for the interpreter overhead it saves).
