"""Redis through txredisapi: one pool for commands, a dedicated connection per blocking consumer."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import txredisapi
from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from funkwhale.tasks.waiting import within

log = Logger()

DISCONNECT_TIMEOUT = 3  # seconds


def _parse(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    options: dict[str, Any] = {
        "password": unquote(parts.password) if parts.password else None,
        "dbid": int(query.get("db", parts.path.strip("/") if parts.scheme != "unix" else 0) or 0),
    }
    if parts.scheme == "unix":
        options["path"] = parts.path
    else:
        options["host"] = parts.hostname or "localhost"
        options["port"] = parts.port or 6379
    return options


def _connect(url: str, pool_size: int | None) -> Any:
    options = _parse(url)
    common = {"dbid": options["dbid"], "password": options["password"], "convertNumbers": False,
              "replyTimeout": 60, "connectTimeout": 10}
    if "path" in options:
        if pool_size is None:
            return txredisapi.lazyUnixConnection(options["path"], **common)
        return txredisapi.lazyUnixConnectionPool(options["path"], poolsize=pool_size, **common)
    if pool_size is None:
        return txredisapi.lazyConnection(options["host"], options["port"], **common)
    return txredisapi.lazyConnectionPool(options["host"], options["port"], poolsize=pool_size, **common)


class Redis(Service):
    """`cmd` is the shared command pool; `blocking()` opens a connection a consumer keeps for itself."""

    name = "redis"

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self.url = url
        self.pool_size = pool_size
        self.cmd: Any = None
        self._blocking: list[Any] = []

    def startService(self) -> None:
        super().startService()
        self.cmd = _connect(self.url, self.pool_size)

    def blocking(self) -> Any:
        """A new connection of its own, for BRPOPLPUSH; closed when the service stops."""
        conn = _connect(self.url, None)
        self._blocking.append(conn)
        return conn

    async def ping(self) -> bool:
        return (await self.cmd.ping()) in ("PONG", b"PONG")

    def stopService(self) -> Deferred:
        """Disconnect everything, giving up after DISCONNECT_TIMEOUT seconds (a Redis that is gone may never
        answer a QUIT)."""
        super().stopService()
        conns, self._blocking = [self.cmd, *self._blocking], []
        self.cmd = None
        return Deferred.fromCoroutine(_disconnect_all(conns))


async def _disconnect_all(conns: list[Any]) -> None:
    closing = DeferredList([c.disconnect() for c in conns if c is not None], consumeErrors=True)
    if not await within(closing, DISCONNECT_TIMEOUT, reactor):
        log.warn("shutdown: gave up disconnecting from Redis after {s} s", s=DISCONNECT_TIMEOUT)
