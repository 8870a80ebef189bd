"""Child processes of the daemon (worker processes, web processes): the same daemon again, supervised.

A child is `twistd -n funkwhale --role ROLE`, given every resolved setting through its environment: the server
URLs too, so that it attaches to the parent's embedded PostgreSQL and Redis and never takes the data-dir lock.
`FUNKWHALE_SUPERVISOR_PID` makes it ask for SIGTERM when its supervisor dies (`follow_supervisor`). Twisted's
ProcessMonitor starts the children, restarts one that dies, and at stop sends SIGTERM (the child drains), then
SIGKILL after its kill time. The children are told to stop at the first moment of the parent's shutdown (a
"before shutdown" trigger), so they drain while the parent does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from twisted.application.service import Service
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.runner.procmon import ProcessMonitor
from zope.interface import implementer

from funkwhale.config import Settings, to_environ

SUPERVISOR_PID = "FUNKWHALE_SUPERVISOR_PID"  # in a child's environment: the process that supervises it
TWISTD = "from twisted.scripts.twistd import run; run()"


def follow_supervisor(environ: Mapping[str, str]) -> None:
    """In a supervised child: end with the supervisor (SIGTERM when it dies, even by SIGKILL), and do not start at
    all when it is already gone."""
    supervisor = environ.get(SUPERVISOR_PID)
    if not supervisor:
        return
    from funkwhale.embedded import die_with_parent

    die_with_parent()
    if os.getppid() != int(supervisor):
        raise SystemExit("funkwhale: the daemon that started this process has exited")


def twistd_command(role: str) -> list[str]:
    """The command line of a child running `role`."""
    return [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "funkwhale", "--role", role]


def child_environ(settings: Settings, **changes: Any) -> dict[str, str]:
    """The parent's environment without its FUNKWHALE_* variables, then every resolved setting (with `changes`):
    a child needs no ini file, and attaches to the embedded servers by their URLs."""
    child = replace(settings, check_migrations=False, **changes)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNKWHALE_")}
    env.update(to_environ(child))
    env[SUPERVISOR_PID] = str(os.getpid())
    return env


@implementer(IReactorProcess, IReactorTime)
class SharedOutput:
    """The reactor as ProcessMonitor sees it: children write their log lines to our stdout and stderr themselves,
    rather than through pipes that the monitor would log again, line by line, under its own timestamp.
    `inherit` maps a child's descriptor to one of ours it gets (a listening socket)."""

    def __init__(self, reactor: Any, inherit: Mapping[int, int] | None = None) -> None:
        self._reactor = reactor
        self._fds: dict[int, Any] = {0: "w", 1: 1, 2: 2, **(inherit or {})}

    def spawnProcess(self, *args: Any, **kwargs: Any) -> Any:
        return self._reactor.spawnProcess(*args, childFDs=self._fds, **kwargs)

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        return self._reactor.callLater(*args, **kwargs)

    def seconds(self) -> float:
        return self._reactor.seconds()

    def getDelayedCalls(self) -> Any:
        return self._reactor.getDelayedCalls()


class Monitor(ProcessMonitor):
    """ProcessMonitor that records the pid of every child it starts (restarts included) until its owner is done
    with it, so that a child that dies between two looks is still known; `on_exit(name, pid, reason)`, when set,
    hears of every exit."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor=reactor)
        self.spawned: dict[int, str] = {}
        self.on_exit: Callable[[str, int, Failure], None] | None = None

    def startProcess(self, name: str) -> None:
        super().startProcess(name)
        protocol = self.protocols.get(name)
        pid = getattr(protocol.transport, "pid", None) if protocol is not None else None
        if pid:
            self.spawned[pid] = name
            if self.on_exit is not None:
                self._hear_exit(protocol, name, pid, self.on_exit)

    @staticmethod
    def _hear_exit(protocol: Any, name: str, pid: int, on_exit: Callable[[str, int, Failure], None]) -> None:
        ended = protocol.processEnded

        def process_ended(reason: Failure) -> None:
            on_exit(name, pid, reason)
            ended(reason)

        protocol.processEnded = process_ended


class Supervisor(Service):
    """Owns a Monitor of children: tells them to stop at the first moment of shutdown, and at its own stop waits
    until every one has exited (SIGKILL after `kill_time` seconds)."""

    def __init__(
        self, kill_time: int, clock: Any, reactor: Any = global_reactor, inherit: Mapping[int, int] | None = None
    ) -> None:
        self.clock = clock
        self.reactor = reactor
        self.monitor = Monitor(SharedOutput(reactor, inherit))
        self.monitor.killTime = kill_time
        self._trigger: Any = None

    def startService(self) -> None:
        super().startService()
        self.monitor.startService()
        self._trigger = self.reactor.addSystemEventTrigger("before", "shutdown", self._shutdown_begins)

    def _shutdown_begins(self) -> None:
        self._trigger = None  # fired: not to be removed
        self.stop_children()

    def pids(self) -> dict[int, str]:
        """The children alive now: pid -> name."""
        alive = {}
        for name, protocol in self.monitor.protocols.items():
            pid = getattr(protocol.transport, "pid", None)
            if pid:
                alive[pid] = name
        return alive

    def stop_children(self) -> None:
        """SIGTERM every child now (SIGKILL later, see killTime); none is restarted any more."""
        if self.monitor.running:
            self.monitor.stopService()

    def stopService(self) -> Deferred:
        super().stopService()
        return Deferred.fromCoroutine(self.stop_and_wait())

    async def stop_and_wait(self) -> None:
        """Stop the children if shutdown has not already, and wait for them to exit."""
        if self._trigger is not None:
            self.reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
        self.stop_children()
        while self.monitor.protocols:
            await deferLater(self.clock, 0.1, lambda: None)
