"""The sans-I/O protocol layer: ``websocket/``, ``engineio/`` and ``socketio/``.

Bytes and packets in, bytes and packets out, time passed in; nothing here imports
asyncio, sockets or clocks (see docs/architecture.md).
"""
