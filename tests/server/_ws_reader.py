"""A fast, separate-process WebSocket reader for the slow-consumer tests.

``python _ws_reader.py HOST PORT EXPECTED``: opens a Socket.IO connection over
WebSocket (Engine.IO v4, namespace ``/``), prints ``ready`` once connected, then
reads as fast as it can, counting the bytes that follow the CONNECT reply, until
``EXPECTED`` bytes have come or the server closes; prints the count and exits.
It parses nothing after the CONNECT reply (so it reads at the kernel's pace), which
is what a healthy, fast-reading client looks like to the server.
"""

from __future__ import annotations

import base64
import os
import socket
import sys


def main() -> None:
    host, port, expected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    buf = buf.split(b"\r\n\r\n", 1)[1]

    def frame() -> bytes:
        nonlocal buf
        while True:
            if len(buf) >= 2:
                n = buf[1] & 0x7F
                start = 2
                if n == 126:
                    n, start = int.from_bytes(buf[2:4], "big"), 4
                elif n == 127:
                    n, start = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) >= start + n:
                    payload, buf = buf[start : start + n], buf[start + n :]
                    return payload
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk

    assert frame().startswith(b"0")  # the Engine.IO OPEN packet
    mask = b"\x00\x00\x00\x00"
    connect = b"40"
    sock.sendall(bytes([0x81, 0x80 | len(connect)]) + mask + connect)
    assert frame().startswith(b"40")
    print("ready", flush=True)
    total = len(buf)
    view = bytearray(1 << 20)
    while total < expected:
        n = sock.recv_into(view)
        if not n:
            break
        total += n
    print(total, flush=True)


if __name__ == "__main__":
    main()
