"""The worker pool: the worker role supervises worker processes between FUNKWHALE_WORKER_PROCESSES' MIN and MAX.

Each child is this daemon again (`funkwhale/supervision.py`), `twistd funkwhale --role worker` with
FUNKWHALE_WORKER_PROCESSES=0 (so it runs the consumers itself), attached to the parent's PostgreSQL and Redis. The
children share nothing but PostgreSQL and Redis. Twisted's ProcessMonitor starts them, restarts one that dies, and
at stop sends SIGTERM (the worker drains and gives back unfinished messages), then SIGKILL after
FUNKWHALE_SHUTDOWN_TIMEOUT + STOP_MARGIN seconds.

Every SAMPLE_EVERY seconds the pool reads the queues: it adds a process when the ready messages exceed
FUNKWHALE_WORKER_CONCURRENCY per process, or when the message a consumer takes next has waited there MAX_WAIT
seconds (every consumer is busy); it retires a process that held no message for FUNKWHALE_WORKER_IDLE_TIMEOUT
seconds while nothing waits. A child that died (not retired) has its in-flight messages given back at once.

MIN may be 0 (the default of `--role all`): an idle instance then runs no worker process at all. While the pool
has none, it waits on Redis for a ready message (`_watch`) and samples at once when one comes, so the first task
queued on an idle instance starts a process without waiting for the next sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.supervision import Supervisor, child_environ, twistd_command
from funkwhale.tasks import registry
from funkwhale.tasks.queue import CONSUMERS, proc_key, ready_heads, ready_key, requeue
from funkwhale.tasks.worker import consumer_prefix

log = Logger()

SAMPLE_EVERY = 2.0  # seconds between two looks at the queues
MAX_WAIT = 10.0  # seconds the next message may wait at the head of its queue before a process is added
STOP_MARGIN = 8  # seconds a child needs beyond FUNKWHALE_SHUTDOWN_TIMEOUT to give back its messages and exit
WATCH_TIMEOUT = 2  # seconds the watch of an empty pool blocks on Redis before it checks whether it should stop


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
        if load.backlog and not load.processes:
            return "add", "", f"{load.backlog} message(s) ready, no process running"
        if load.backlog > per_process * load.processes:
            return "add", "", f"{load.backlog} message(s) ready, over {per_process} per process"
        if load.waited >= MAX_WAIT:
            return "add", "", f"the next message waited {load.waited:.0f} s"
    if load.processes > low and load.backlog == 0 and load.idle:
        name, idle = max(load.idle.items(), key=lambda item: item[1])
        if idle >= idle_timeout:
            return "retire", name, f"{name} idle for {idle:.0f} s"
    return None


class WorkerPool(Supervisor):
    """Supervises the worker processes of this daemon (see the module's docstring)."""

    name = "worker-pool"

    def __init__(self, ctx: Context, settings: Settings, reactor: Any = global_reactor) -> None:
        super().__init__(settings.shutdown_timeout + STOP_MARGIN, ctx.clock, reactor)  # then SIGKILL
        self.ctx = ctx
        self.low, self.high = settings.worker_processes
        self.per_process = settings.worker_concurrency
        self.idle_timeout = settings.worker_idle_timeout
        self.command = twistd_command("worker")
        self.env = child_environ(settings, role="worker", worker_processes=(0, 0), web_processes=1)
        self.names: list[str] = []  # the processes the pool keeps (retired ones are no longer listed)
        self.retired: set[int] = set()  # pids told to stop: their exit is not a death
        self.idle_since: dict[str, float] = {}
        self.heads: dict[str, tuple[str, float]] = {}  # queue -> (next message, seen next since)
        self._loop = LoopingCall(lambda: Deferred.fromCoroutine(self._sample()))
        self._loop.clock = ctx.clock
        self._sampling = False
        self._watches: list[tuple[Any, Deferred]] = []  # (blocking connection, its loop) per queue

    def startService(self) -> None:
        super().startService()  # the children drain from the first moment of shutdown, while the web role drains
        log.info("worker pool: starting {n} process(es), up to {high}", n=self.low, high=self.high)
        for _ in range(self.low):
            self._add()
        self._loop.start(SAMPLE_EVERY, now=False).addErrback(lambda f: log.failure("worker pool loop stopped", f))
        if self.low == 0:
            for queue in registry.queues():
                conn = self.ctx.redis.blocking()
                self._watches.append((conn, Deferred.fromCoroutine(self._watch(conn, queue))))

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
        if self._sampling:  # the loop and a watch may both ask: one step at a time
            return
        self._sampling = True
        try:
            await self._step()
        except Exception:
            log.failure("worker pool: sampling the queues failed")
        finally:
            self._sampling = False

    async def _watch(self, conn: Any, queue: str) -> None:
        """While the pool has no process, block until `queue` has a ready message (BLMOVE of its next message onto
        the same end of the same list: it stays where it is), then sample at once."""
        key = ready_key(queue)
        while self._loop.running:
            try:
                if self.names:
                    await deferLater(self.ctx.clock, SAMPLE_EVERY, lambda: None)
                    continue
                head = await conn.execute_command("BLMOVE", key, key, "RIGHT", "RIGHT", WATCH_TIMEOUT)
                if head is not None and self._loop.running and not self.names:
                    await self._sample()
                    if not self.names:  # another sample was running, or this one failed: not a busy loop
                        await deferLater(self.ctx.clock, SAMPLE_EVERY, lambda: None)
            except Exception as e:
                if not self._loop.running:
                    break
                if "unknown command" in str(e).lower():  # BLMOVE came with Redis 6.2
                    log.info(
                        "worker pool: Redis has no BLMOVE (6.2): a task queued while no worker process runs "
                        "starts one at the next look at the queues (every {s:.0f} s)",
                        s=SAMPLE_EVERY,
                    )
                    return
                log.failure("worker pool: watching queue {queue} failed", queue=queue)
                await deferLater(self.ctx.clock, SAMPLE_EVERY, lambda: None)

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

    def stop_children(self) -> None:
        """SIGTERM every child now (SIGKILL later, see killTime); none is restarted or added any more."""
        if self._loop.running:
            self._loop.stop()
        for conn, _ in self._watches:
            conn.disconnect().addErrback(lambda f: log.failure("worker pool: closing a watch", f))
        if self.monitor.running:
            self.retired.update(self.pids())
        super().stop_children()

    async def stop_and_wait(self) -> None:
        """Stop the children if shutdown has not already, wait for them to exit, give back what killed ones held."""
        await super().stop_and_wait()
        try:
            await self._give_back_dead()
        except Exception:
            log.failure("worker pool: could not give back the messages of killed workers; the reaper will")
