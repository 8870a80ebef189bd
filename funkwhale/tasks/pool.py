"""The worker pool: the worker role supervises worker processes between FUNKWHALE_WORKER_PROCESSES' MIN and MAX.

Each child is this daemon again, `twistd funkwhale --role worker` with FUNKWHALE_WORKER_PROCESSES=0 (so it runs
the consumers itself), given every resolved setting through its environment: the server URLs too, so that a child
attaches to the parent's embedded PostgreSQL and Redis and never takes the data-dir lock. The children share
nothing but PostgreSQL and Redis. Twisted's ProcessMonitor starts them, restarts one that dies, and at stop sends
SIGTERM (the worker drains and gives back unfinished messages), then SIGKILL after FUNKWHALE_SHUTDOWN_TIMEOUT
+ STOP_MARGIN seconds.

Every SAMPLE_EVERY seconds the pool reads the queues: it adds a process when the ready messages exceed
FUNKWHALE_WORKER_CONCURRENCY per process, or when the message a consumer takes next has waited there MAX_WAIT
seconds (every consumer is busy); it retires a process that held no message for FUNKWHALE_WORKER_IDLE_TIMEOUT
seconds while nothing waits. A child that died (not retired) has its in-flight messages given back at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from twisted.application.service import Service
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.runner.procmon import ProcessMonitor
from zope.interface import implementer

from funkwhale.config import Settings, to_environ
from funkwhale.context import Context
from funkwhale.tasks.queue import CONSUMERS, proc_key, ready_heads, requeue
from funkwhale.tasks.worker import consumer_prefix

log = Logger()

SAMPLE_EVERY = 2.0  # seconds between two looks at the queues
MAX_WAIT = 10.0  # seconds the next message may wait at the head of its queue before a process is added
SUPERVISOR_PID = "FUNKWHALE_SUPERVISOR_PID"  # in a child's environment: the pool it belongs to
STOP_MARGIN = 8  # seconds a child needs beyond FUNKWHALE_SHUTDOWN_TIMEOUT to give back its messages and exit
TWISTD = "from twisted.scripts.twistd import run; run()"


def follow_supervisor(environ: Mapping[str, str]) -> None:
    """In a supervised worker: end with the pool (SIGTERM when it dies, even by SIGKILL), and do not start at all
    when it is already gone."""
    supervisor = environ.get(SUPERVISOR_PID)
    if not supervisor:
        return
    from funkwhale.embedded import die_with_parent

    die_with_parent()
    if os.getppid() != int(supervisor):
        raise SystemExit("funkwhale: the worker pool that started this worker has exited")


@implementer(IReactorProcess, IReactorTime)
class _SharedOutput:
    """The reactor as ProcessMonitor sees it: children write their log lines to our stdout and stderr themselves,
    rather than through pipes that the monitor would log again, line by line, under its own timestamp."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def spawnProcess(self, *args: Any, **kwargs: Any) -> Any:
        return self._reactor.spawnProcess(*args, childFDs={0: "w", 1: 1, 2: 2}, **kwargs)

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        return self._reactor.callLater(*args, **kwargs)

    def seconds(self) -> float:
        return self._reactor.seconds()

    def getDelayedCalls(self) -> Any:
        return self._reactor.getDelayedCalls()


class _Monitor(ProcessMonitor):
    """ProcessMonitor that records the pid of every child it starts (restarts included) until the pool is done
    with it, so that a child that dies between two samples is still known."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor=reactor)
        self.spawned: dict[int, str] = {}

    def startProcess(self, name: str) -> None:
        super().startProcess(name)
        protocol = self.protocols.get(name)
        pid = getattr(protocol.transport, "pid", None) if protocol is not None else None
        if pid:
            self.spawned[pid] = name


@dataclass(frozen=True)
class Load:
    """What the pool saw at one sample."""

    processes: int
    backlog: int  # ready messages, all queues
    waited: float  # seconds the longest-waiting next message has been next
    idle: dict[str, float]  # process name -> seconds since it last held a message


def decide(load: Load, low: int, high: int, per_process: int, idle_timeout: float) -> tuple[str, str, str] | None:
    """("add", "", reason), ("retire", name, reason), or None: at most one step per sample."""
    if load.processes < high:
        if load.backlog > per_process * load.processes:
            return "add", "", f"{load.backlog} message(s) ready, over {per_process} per process"
        if load.waited >= MAX_WAIT:
            return "add", "", f"the next message waited {load.waited:.0f} s"
    if load.processes > low and load.backlog == 0 and load.idle:
        name, idle = max(load.idle.items(), key=lambda item: item[1])
        if idle >= idle_timeout:
            return "retire", name, f"{name} idle for {idle:.0f} s"
    return None


class WorkerPool(Service):
    """Supervises the worker processes of this daemon (see the module's docstring)."""

    name = "worker-pool"

    def __init__(self, ctx: Context, settings: Settings, reactor: Any = global_reactor) -> None:
        self.ctx = ctx
        self.low, self.high = settings.worker_processes
        self.per_process = settings.worker_concurrency
        self.idle_timeout = settings.worker_idle_timeout
        self.command = [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "funkwhale", "--role", "worker"]
        self.env = self._child_environ(settings)
        self.reactor = reactor
        self.monitor = _Monitor(_SharedOutput(reactor))
        self.monitor.killTime = settings.shutdown_timeout + STOP_MARGIN  # then SIGKILL
        self.names: list[str] = []  # the processes the pool keeps (retired ones are no longer listed)
        self.retired: set[int] = set()  # pids told to stop: their exit is not a death
        self.idle_since: dict[str, float] = {}
        self.heads: dict[str, tuple[str, float]] = {}  # queue -> (next message, seen next since)
        self._trigger: Any = None
        self._loop = LoopingCall(lambda: Deferred.fromCoroutine(self._sample()))
        self._loop.clock = ctx.clock

    @staticmethod
    def _child_environ(settings: Settings) -> dict[str, str]:
        """The parent's environment without its FUNKWHALE_* variables, then every resolved setting: a child needs
        no ini file, and attaches to the embedded servers by their URLs."""
        child = replace(settings, role="worker", worker_processes=(0, 0), check_migrations=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FUNKWHALE_")}
        env.update(to_environ(child))
        env[SUPERVISOR_PID] = str(os.getpid())
        return env

    def startService(self) -> None:
        super().startService()
        self.monitor.startService()
        log.info("worker pool: starting {n} process(es), up to {high}", n=self.low, high=self.high)
        for _ in range(self.low):
            self._add()
        self._loop.start(SAMPLE_EVERY, now=False).addErrback(lambda f: log.failure("worker pool loop stopped", f))
        # The children drain from the first moment of shutdown, while the web role drains its requests.
        self._trigger = self.reactor.addSystemEventTrigger("before", "shutdown", self._shutdown_begins)

    def _shutdown_begins(self) -> None:
        self._trigger = None  # fired: not to be removed
        self._stop_children()

    def pids(self) -> dict[int, str]:
        """The children alive now: pid -> name."""
        alive = {}
        for name, protocol in self.monitor.protocols.items():
            pid = getattr(protocol.transport, "pid", None)
            if pid:
                alive[pid] = name
        return alive

    def _add(self) -> None:
        n = 1
        while f"worker-{n}" in self.names:
            n += 1
        name = f"worker-{n}"
        self.names.append(name)
        self.monitor.addProcess(name, self.command, env=self.env, cwd=os.getcwd())

    def _retire(self, name: str) -> None:
        self.retired.update(pid for pid, child in self.pids().items() if child == name)
        self.names.remove(name)
        self.idle_since.pop(name, None)
        self.monitor.removeProcess(name)

    async def _sample(self) -> None:
        try:
            await self._step()
        except Exception:
            log.failure("worker pool: sampling the queues failed")

    async def _step(self) -> None:
        now = self.ctx.clock.seconds()
        await self._give_back_dead()
        heads = await ready_heads(self.ctx)
        busy = await self._busy_pids()
        for pid, name in self.pids().items():
            if pid in busy:
                self.idle_since.pop(name, None)
            else:
                self.idle_since.setdefault(name, now)
        load = Load(
            processes=len(self.names),
            backlog=sum(length for length, _ in heads.values()),
            waited=self._waited(heads, now),
            idle={name: now - since for name, since in self.idle_since.items() if name in self.pids().values()},
        )
        step = decide(load, self.low, self.high, self.per_process, self.idle_timeout)
        if step is None:
            return
        action, name, reason = step
        if action == "add":
            self._add()
            self.heads = {queue: (head, now) for queue, (head, _) in self.heads.items()}  # give it time to start
        else:
            self._retire(name)
        log.info(
            "worker pool: {before} -> {after} process(es): {reason}",
            before=load.processes,
            after=len(self.names),
            reason=reason,
        )

    def _waited(self, heads: dict[str, tuple[int, str | None]], now: float) -> float:
        """How long the longest-waiting next message has been next (every consumer busy all that time)."""
        waited = 0.0
        for queue, (_, head) in heads.items():
            if head is None:
                self.heads.pop(queue, None)
                continue
            seen = self.heads.get(queue)
            if seen is None or seen[0] != head:
                self.heads[queue] = (head, now)
            else:
                waited = max(waited, now - seen[1])
        return waited

    async def _consumers(self, pids: set[int]) -> list[tuple[int, str, str]]:
        """(pid, consumer id, queue) of the consumers the processes `pids` registered."""
        found = []
        for consumer, queue in (await self.ctx.redis.cmd.hgetall(CONSUMERS)).items():
            for pid in pids:
                if consumer.startswith(consumer_prefix(pid)):
                    found.append((pid, consumer, queue))
        return found

    async def _busy_pids(self) -> set[int]:
        """The live children holding at least one message."""
        busy = set()
        for pid, consumer, queue in await self._consumers(set(self.pids())):
            if pid not in busy and int(await self.ctx.redis.cmd.llen(proc_key(queue, consumer))):
                busy.add(pid)
        return busy

    async def _give_back_dead(self) -> None:
        """Put the in-flight messages of children that exited back on their queue now, rather than once their
        heartbeat expires; log those that died without being retired (ProcessMonitor restarts them)."""
        alive = self.pids()
        dead = {pid: name for pid, name in self.monitor.spawned.items() if pid not in alive}
        if not dead:
            return
        given_back = dict.fromkeys(dead, 0)
        for pid, consumer, queue in await self._consumers(set(dead)):
            given_back[pid] += max(0, await requeue(self.ctx, queue, consumer, "stop"))
        for pid, name in dead.items():
            del self.monitor.spawned[pid]
            if pid in self.retired:
                self.retired.discard(pid)
                continue
            log.warn(
                "worker pool: {name} (pid {pid}) exited unexpectedly; {n} message(s) back on the queue; restarting it",
                name=name,
                pid=pid,
                n=given_back[pid],
            )

    def stopService(self) -> Deferred:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    def _stop_children(self) -> None:
        """SIGTERM every child now (SIGKILL later, see killTime); none is restarted or added any more."""
        if self._loop.running:
            self._loop.stop()
        if self.monitor.running:
            self.retired.update(self.pids())
            self.monitor.stopService()

    async def _stop(self) -> None:
        """Stop the children if shutdown has not already, wait for them to exit, give back what killed ones held."""
        if self._trigger is not None:
            self.reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
        self._stop_children()
        while self.monitor.protocols:
            await deferLater(self.ctx.clock, 0.1, lambda: None)
        try:
            await self._give_back_dead()
        except Exception:
            log.failure("worker pool: could not give back the messages of killed workers; the reaper will")
