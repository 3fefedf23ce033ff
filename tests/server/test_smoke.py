import aiohttp, fastsio, pytest, socketio

async def test_smoke(start_server):
    sio = fastsio.Server()
    @sio.on("echo")
    def echo(socket, *args):
        return args
    url = await start_server(sio)
    c = socketio.AsyncClient()
    await c.connect(url, transports=["websocket"])
    r = await c.call("echo", {"a": 1}, timeout=5)
    assert r == {"a": 1}
    await c.disconnect()
