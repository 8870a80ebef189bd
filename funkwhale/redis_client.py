"""Redis through txredisapi: one pool for commands, a dedicated connection per blocking consumer."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import txredisapi
from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from funkwhale import cache_mirror
from funkwhale.tasks.waiting import within

log = Logger()

DISCONNECT_TIMEOUT = 3  # seconds
CONNECT_TIMEOUT = 10  # seconds


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


def _endpoint(options: dict[str, Any]) -> Any:
    if "path" in options:
        return UNIXClientEndpoint(reactor, options["path"], timeout=CONNECT_TIMEOUT)
    return HostnameEndpoint(reactor, options["host"], options["port"], timeout=CONNECT_TIMEOUT)


def _connect(url: str, pool_size: int | None) -> Any:
    options = _parse(url)
    common = {"dbid": options["dbid"], "password": options["password"], "convertNumbers": False,
              "replyTimeout": 60, "connectTimeout": CONNECT_TIMEOUT}
    if "path" in options:
        if pool_size is None:
            return txredisapi.lazyUnixConnection(options["path"], **common)
        return txredisapi.lazyUnixConnectionPool(options["path"], poolsize=pool_size, **common)
    if pool_size is None:
        return txredisapi.lazyConnection(options["host"], options["port"], **common)
    return txredisapi.lazyConnectionPool(options["host"], options["port"], poolsize=pool_size, **common)


class Redis(Service):
    """`cmd` is the shared command pool; `blocking()` opens a connection a consumer keeps for itself; `mirror`
    holds this process's copies of cached values (funkwhale.cache_mirror), fed by a connection of its own."""

    name = "redis"

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self.url = url
        self.pool_size = pool_size
        self.cmd: Any = None
        self.mirror = cache_mirror.Mirror()
        self._blocking: list[Any] = []
        self._listener: Service | None = None
        self._flushing = LoopingCall(lambda: Deferred.fromCoroutine(self._flush_hits()))

    def startService(self) -> None:
        super().startService()
        self.cmd = _connect(self.url, self.pool_size)
        options = _parse(self.url)
        self._listener = cache_mirror.listen(_endpoint(options), self.mirror, options["password"], options["dbid"])
        self._flushing.start(cache_mirror.FLUSH_EVERY, now=False)

    async def _flush_hits(self) -> None:
        try:
            await self.mirror.flush_hits(self.cmd)
        except Exception as e:  # Redis away: these hits go uncounted
            log.debug("cache mirror: hits not counted ({e})", e=e)

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
        if self._flushing.running:
            self._flushing.stop()
        self.mirror.stop()
        conns, self._blocking = [self.cmd, *self._blocking], []
        self.cmd = None
        listener, self._listener = self._listener, None
        return Deferred.fromCoroutine(_disconnect_all(conns, *([listener] if listener else [])))


async def _disconnect_all(conns: list[Any], *services: Service) -> None:
    stopping = [c.disconnect() for c in conns if c is not None] + [s.stopService() for s in services]
    closing = DeferredList(stopping, consumeErrors=True)
    if not await within(closing, DISCONNECT_TIMEOUT, reactor):
        log.warn("shutdown: gave up disconnecting from Redis after {s} s", s=DISCONNECT_TIMEOUT)
