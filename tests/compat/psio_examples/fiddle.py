#!/usr/bin/env python
# Ported from python-socketio's examples/server/asgi/fiddle.py
# (https://github.com/miguelgrinberg/python-socketio at 2d21903008b1; MIT License,
# Copyright (c) 2015 Miguel Grinberg) to fastsio.compat, for tests/compat/test_psio_examples.py.
# What changed, and nothing else:
#  - `import socketio` -> `from fastsio import compat as socketio`; `import uvicorn` removed
#  - `app = socketio.ASGIApp(sio, static_files={...})` removed: the same `static_files`
#    go to `socketio.AsyncServer(...)` (fastsio serves them itself; it has no ASGI app yet)
#  - `uvicorn.run(app, host=..., port=...)` -> `sio.run(host=..., port=...)`

from fastsio import compat as socketio

sio = socketio.AsyncServer(async_mode='asgi', static_files={
    '/': 'fiddle.html',
    '/static': 'static',
})


@sio.event
async def connect(sid, environ, auth):
    print(f'connected auth={auth} sid={sid}')
    await sio.emit('hello', (1, 2, {'hello': 'you'}), to=sid)


@sio.event
def disconnect(sid, reason):
    print('disconnected', sid, reason)


if __name__ == '__main__':
    sio.run(host='127.0.0.1', port=5000)
