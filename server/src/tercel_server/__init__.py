"""tercel-server: the orchestration REST API (Litestar) over the core runtime.

`create_app(ServerConfig.load(...))` builds the ASGI app; `tercel server local|standalone` runs it.
"""

from ._app import create_app
from ._auth import Credentials, Principal
from ._config import ConfigError, ServerConfig

__all__ = ["ConfigError", "Credentials", "Principal", "ServerConfig", "create_app"]
