"""The service tree: database, Redis, then the roles (web, worker, scheduler), started in order."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IListeningPort
from twisted.logger import ILogObserver, Logger
from twisted.python.failure import Failure

from funkwhale import storage, threads
from funkwhale.config import Settings, pool_size
from funkwhale.context import Context
from funkwhale.db.pool import Database
from funkwhale.redis_client import Redis
from funkwhale.shutdown import STOP_BUDGET
from funkwhale.tasks.waiting import within

log = Logger()

exit_status = {"code": 0}


def fatal(message: str) -> None:
    """Log one line, exit with status 1 once the reactor has stopped the services."""
    log.critical("{message}", message=message)
    exit_status["code"] = 1
    if global_reactor.running:
        global_reactor.stop()


STEP_RESERVE = 2.0  # seconds of the stop budget kept for each service still to stop after the current one


class Ordered(MultiService):
    """Start children in order, each awaited; stop them in reverse order, one at a time, each within its share
    of `stop_budget` seconds: one that does not stop in time is logged and left behind (`gave_up`)."""

    log_observer: ILogObserver | None = None

    def __init__(self, clock: Any = global_reactor, stop_budget: float = STOP_BUDGET) -> None:
        super().__init__()
        self.clock = clock
        self.stop_budget = stop_budget
        self.stopping: list[str] = []  # the services being stopped, or given up on
        self.gave_up: list[str] = []

    def setServiceParent(self, parent: Any) -> None:
        """Under twistd the parent is the Application: give it our log observer before logging begins."""
        super().setServiceParent(parent)
        if self.log_observer is not None and hasattr(parent, "setComponent"):
            parent.setComponent(ILogObserver, self.log_observer)

    def startService(self) -> Deferred:
        Service.startService(self)
        self.ready: Deferred = Deferred.fromCoroutine(self._start())
        self.ready.addErrback(self._failed)
        return self.ready

    async def _start(self) -> None:
        for svc in self:
            await maybeDeferred(svc.startService)

    def _failed(self, failure: Failure) -> None:
        log.failure("start failed", failure)
        fatal(f"funkwhale: start failed: {failure.getErrorMessage()}")

    def stopService(self) -> Deferred:
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        deadline = self.clock.seconds() + self.stop_budget
        services = [svc for svc in reversed(list(self)) if svc.running]
        for n, svc in enumerate(services):
            later = len(services) - 1 - n
            limit = max(1.0, deadline - self.clock.seconds() - STEP_RESERVE * later)
            self.stopping.append(svc.name)
            stopped = maybeDeferred(svc.stopService)
            stopped.addErrback(lambda f, name: log.failure("stopping {name} failed", f, name=name), svc.name)
            if await within(stopped, limit, self.clock):
                self.stopping.remove(svc.name)
            else:
                self.gave_up.append(svc.name)
                log.error("shutdown: gave up waiting for {name} to stop after {s:.1f} s", name=svc.name, s=limit)


class WebServer(Service):
    """Serves a Site on a port bound beforehand; at stop, stops listening and lets requests finish. A web child
    (`adopted`: its port is the daemon's) says which process it is rather than the daemon's ready line."""

    name = "web"

    def __init__(
        self, port: IListeningPort, site: Any, clock: Any = global_reactor, grace: float = 10, adopted: bool = False
    ) -> None:
        self.port = port
        self.site = site
        self.clock = clock
        self.grace = grace
        self.adopted = adopted

    def startService(self) -> None:
        super().startService()
        self.site.ready = True  # the last service to start: everything before it has
        if self.name == "metrics":
            log.info("metrics: serving /metrics on {address}", address=self.port.getHost())
            return
        if self.adopted:
            log.info("web process {pid} is ready: serving the daemon's listener", pid=os.getpid())
            return
        host = self.port.getHost()
        address = getattr(host, "host", "") or "127.0.0.1"
        address = "127.0.0.1" if address in ("0.0.0.0", "::") else address
        log.info(
            "funkwhale is ready: open http://{address}:{port}/ (first account: sign up in the web app, or run "
            "`funkwhale createuser NAME --email EMAIL --superuser`)",
            address=address,
            port=getattr(host, "port", "?"),
        )

    def stopService(self) -> Deferred:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        await maybeDeferred(self.port.stopListening)
        await self.site.drain(self.grace, self.clock)


class MediaCheck(Service):
    """Says at start where media live and, for a bucket, whether it answers (a HEAD of the bucket in a thread,
    not awaited: a bucket that is down is an error line, and uploads are refused until it is back)."""

    name = "media-check"

    def __init__(self, settings: Settings) -> None:
        self.store = storage.media(settings)
        if self.store.remote:
            self.store.url(storage.TRACKS)  # signing (no request) makes the client now, not on the reactor later

    def startService(self) -> None:
        super().startService()
        store = self.store
        if not store.remote:
            return
        checked = Deferred.fromCoroutine(threads.run_io(store.check))
        checked.addCallbacks(
            lambda _: log.info("media storage: {where}", where=store.describe()),
            lambda failure: log.error("media storage unusable: {error}", error=failure.getErrorMessage()),
        )


def bind_now(listen: str) -> Callable[[Any], IListeningPort]:
    """`bind(site)` listens on the strports description `listen` at once, or raises ConfigError."""
    from twisted.internet.endpoints import serverFromString

    from funkwhale.config import ConfigError

    def bind(site: Any) -> IListeningPort:
        result: list[Any] = []
        serverFromString(global_reactor, listen).listen(site).addBoth(result.append)
        if not result:
            raise ConfigError(f"cannot listen on {listen}: the endpoint did not bind at once")
        if hasattr(result[0], "getErrorMessage"):
            raise ConfigError(f"cannot listen on {listen}: {result[0].getErrorMessage()}")
        return result[0]

    return bind


def make_service(
    settings: Settings,
    bind: Callable[[Any], IListeningPort] | None = None,
    clock: Any = global_reactor,
    first: Iterable[IService] = (),
    adopted: bool = False,
) -> tuple[Ordered, Context]:
    """Build the tree for `settings.role`.

    `bind(site)` binds the web listener at once, so a taken port is reported before anything runs (so is
    FUNKWHALE_METRICS_LISTEN's); `first` are services to start before all others and stop after them (the
    embedded servers). With FUNKWHALE_WEB_PROCESSES above 1 the web role also starts web children on that
    listener; `adopted`: this is one (its `bind` adopts the daemon's socket).
    """
    from funkwhale.activitypub.actors import ServiceActorSetup
    from funkwhale.jobs import housekeeping_jobs
    from funkwhale.metrics.http import RequestMetrics, share_between_processes
    from funkwhale.tasks.pool import WorkerPool
    from funkwhale.tasks.scheduler import Scheduler, default_jobs
    from funkwhale.tasks.worker import Worker
    from funkwhale.web.app import make_site
    from funkwhale.web.metrics import metrics_site
    from funkwhale.web.processes import WebProcesses, take_turns

    assert settings.database_url and settings.redis_url, "embedded servers must be started first"
    threads.configure(settings)
    top = Ordered(clock)
    for svc in first:
        svc.setServiceParent(top)
    db = Database(settings.database_url, pool_size(settings), clock, settings.db_prepared_statements)
    redis = Redis(settings.redis_url)
    ctx = Context(settings=settings, db=db, redis=redis, clock=clock)
    db.setServiceParent(top)
    redis.setServiceParent(top)
    ServiceActorSetup(ctx).setServiceParent(top)
    MediaCheck(settings).setServiceParent(top)
    if settings.role in ("all", "worker") and settings.worker_processes[1] > 0:
        WorkerPool(ctx, settings).setServiceParent(top)
    elif settings.role in ("all", "worker"):
        beat = settings.worker_heartbeat_ttl
        Worker(
            ctx, settings.worker_concurrency, settings.shutdown_timeout, heartbeat_interval=beat / 3, heartbeat_ttl=beat
        ).setServiceParent(top)
    if settings.role in ("all", "scheduler"):
        jobs = default_jobs(ctx, reap_every=settings.worker_heartbeat_ttl / 3)
        Scheduler(ctx, [*jobs, *housekeeping_jobs(ctx)]).setServiceParent(top)
    if settings.role in ("all", "web"):
        assert bind is not None, "the web role needs a listener"
        if settings.metrics and settings.web_processes > 1 and not adopted:
            share_between_processes(Path(settings.data_dir) / "metrics")
        metrics = RequestMetrics() if settings.metrics else None
        site = make_site(ctx, metrics)
        if metrics is not None and settings.metrics_listen:
            scrape = metrics_site(ctx, metrics)
            metrics_server = WebServer(bind_now(settings.metrics_listen)(scrape), scrape, clock)
            metrics_server.name = "metrics"
            metrics_server.setServiceParent(top)
        port = bind(site)
        if settings.web_processes > 1 or adopted:
            take_turns(port)
        if settings.web_processes > 1 and not adopted:
            WebProcesses(settings, port, clock).setServiceParent(top)
        WebServer(port, site, clock, adopted=adopted).setServiceParent(top)
    return top, ctx
