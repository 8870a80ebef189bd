"""Web processes: FUNKWHALE_WEB_PROCESSES reactors serving HTTP on the one listening socket the daemon bound.

The daemon binds the listener before anything runs (a taken port ends the start), serves on it itself, and starts
N-1 children, `twistd funkwhale --role web` (see `funkwhale/supervision.py`), which inherit the socket as their
descriptor 3 (`FUNKWHALE_LISTEN_FD`) and adopt it (`adopt_listener`): every process accepts from the kernel's one
queue, so whichever reactor is free takes the next connection. A TLS listener (`ssl:`) is adopted as the raw TCP
socket and wrapped in each child with the same certificate options; a Unix socket too (its path belongs to the
daemon, which removes it at stop). Children never bind, start embedded servers, take the data-dir lock, run
the scheduler or tasks: they are web-only daemons attached to the parent's PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from twisted.internet import reactor as global_reactor
from twisted.internet import tcp, unix
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IReactorSocket
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from funkwhale.config import Settings, pool_size
from funkwhale.supervision import Supervisor, child_environ, twistd_command

log = Logger()

LISTEN_FD = "FUNKWHALE_LISTEN_FD"  # in a web child's environment: the descriptor of the inherited listener
CHILD_FD = 3
DRAIN_GRACE = 10  # seconds in-flight requests get at stop (WebServer's grace)
STOP_MARGIN = 8  # seconds a web child needs beyond the drain to close its pools and exit
ACCEPT_PAUSE = 0.001  # seconds a process waits before its next accept, per connection it holds
MAX_ACCEPT_PAUSE = 0.005  # so a process holding many (slow listeners) still accepts 200 connections a second


class WebProcesses(Supervisor):
    """Starts and supervises the web children of this daemon (FUNKWHALE_WEB_PROCESSES - 1 of them)."""

    name = "web-processes"

    def __init__(self, settings: Settings, port: IListeningPort, clock: Any, reactor: Any = global_reactor) -> None:
        fileno = port.fileno()  # type: ignore[attr-defined]  # tcp/unix/ssl ports are file descriptors
        super().__init__(DRAIN_GRACE + STOP_MARGIN, clock, reactor, inherit={CHILD_FD: fileno})
        self.count = max(0, settings.web_processes - 1)
        self.env = child_environ(
            settings,
            role="web",
            worker_processes=(0, 0),
            web_processes=1,
            db_pool_size=pool_size(replace(settings, role="web")),  # its share of the web processes' connections
            metrics=settings.metrics and settings.metrics_token is not None,  # served only with a token on the web
            metrics_listen=None,  # the daemon's own listener
        )
        self.env[LISTEN_FD] = str(CHILD_FD)
        self.monitor.on_exit = self._exited

    def startService(self) -> None:
        super().startService()
        log.info("web: starting {n} more web process(es) on the same listener", n=self.count)
        for n in range(1, self.count + 1):
            self.monitor.addProcess(f"web-{n}", twistd_command("web"), env=self.env, cwd=os.getcwd())

    def _exited(self, name: str, pid: int, reason: Failure) -> None:
        if self.monitor.running:
            log.warn(
                "web: {name} (pid {pid}) exited unexpectedly ({reason}); restarting it",
                name=name,
                pid=pid,
                reason=reason.getErrorMessage(),
            )


class _AdoptedUnixPort(unix.Port):
    """A Unix listener inherited from the daemon, which owns it: stopping here neither shuts the socket down for
    every process (as Twisted's adopted TCP ports do not either) nor removes its path, and starting keeps the
    path's mode."""

    _shouldShutdown = False

    def startListening(self) -> None:
        if isinstance(self._bindPath, bytes) and not self._bindPath.startswith(b"\0"):
            self.mode = stat.S_IMODE(os.stat(self._bindPath).st_mode)  # chmod-ed to what it is: unchanged
        super().startListening()

    def connectionLost(self, reason: Failure) -> None:
        tcp.Port.connectionLost(self, reason)


def take_turns(port: Any, clock: Any = global_reactor) -> None:
    """Make `port`, a listener other processes also accept from, share the connections: it accepts one per turn of
    its reactor (Twisted accepts up to 100 at once), then waits ACCEPT_PAUSE per connection it holds (at most
    MAX_ACCEPT_PAUSE) before the next, so that connections opened together (a client's or nginx's pool of
    keep-alive connections) go mostly to the processes that hold fewer, instead of to the first one awake."""
    accept, build = port.doRead, port.factory.buildProtocol
    held = [0]

    def buildProtocol(addr: Any) -> Any:
        protocol = build(addr)
        if protocol is not None:
            held[0] += 1
            lost = protocol.connectionLost

            def connectionLost(reason: Any) -> None:
                held[0] -= 1
                lost(reason)

            protocol.connectionLost = connectionLost
        return protocol

    def resume() -> None:
        if port.connected and not port.disconnecting:
            port.startReading()

    def doRead() -> Any:
        port.numberAccepts = 1
        result = accept()
        if held[0]:
            port.stopReading()
            clock.callLater(min(MAX_ACCEPT_PAUSE, held[0] * ACCEPT_PAUSE), resume)
        return result

    port.factory.buildProtocol = buildProtocol
    port.doRead = doRead


def adopt_listener(listen: str, fd: int) -> Callable[[Any], IListeningPort]:
    """In a web child, `bind(site)` serves `site` on the inherited listening socket `fd` (described by `listen`,
    the daemon's FUNKWHALE_LISTEN: an `ssl:` one is wrapped in TLS here with its certificate options)."""

    def bind(site: Any) -> IListeningPort:
        with socket.socket(fileno=os.dup(fd)) as probe:
            family = probe.family
        factory = site
        # The strports parser is what reads an ssl: description's certificate options; it keeps them on the
        # endpoint, which listenSSL would wrap the same way.
        context = getattr(serverFromString(global_reactor, listen), "_sslContextFactory", None)
        if context is not None:
            factory = TLSMemoryBIOFactory(context, False, site)
        if family == socket.AF_UNIX:
            port: Any = _AdoptedUnixPort._fromListeningDescriptor(global_reactor, fd, factory)
            port.startListening()
        else:
            port = IReactorSocket(global_reactor).adoptStreamPort(fd, family, factory)
        os.close(fd)  # the port holds its own duplicate
        return port

    return bind
