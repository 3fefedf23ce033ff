"""fastsio: a fast, complete Socket.IO server for Python."""

from . import adapters, speedups
from ._version import __version__
from .adapters import Emitter
from .asgi import ASGIApp
from .broadcast import BroadcastOperator
from .engine_server import EngineServer, EngineSocket
from .exceptions import AckTimeout, ConnectionRefused, DisconnectedError, FastsioError
from .namespace import Namespace
from .options import EngineOptions, ServerOptions
from .server import Server
from .socket import Handshake, Socket

__all__ = (
    "ASGIApp",
    "AckTimeout",
    "BroadcastOperator",
    "ConnectionRefused",
    "DisconnectedError",
    "Emitter",
    "EngineOptions",
    "EngineServer",
    "EngineSocket",
    "FastsioError",
    "Handshake",
    "Namespace",
    "Server",
    "ServerOptions",
    "Socket",
    "__version__",
    "adapters",
    "speedups",
)
