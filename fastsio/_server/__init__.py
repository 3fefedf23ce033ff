"""The I/O layer: listener, HTTP/1.1, long-polling, WebSocket transport, outbox, timers, Engine.IO routing.

See docs/architecture.md; nothing here knows Socket.IO.
"""
