"""The scheduler: periodic jobs on LoopingCalls, each run at most once per interval across all scheduler
processes (a Redis lock per job and interval), and the jobs that keep the queue reliable."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from funkwhale.context import Context
from funkwhale.tasks import store
from funkwhale.tasks.queue import durable_message, promote_due, push, reap, recover_lost_queue
from funkwhale.tasks.waiting import within

log = Logger()


@dataclass(frozen=True)
class Job:
    """`run()` every `every` seconds."""

    name: str
    every: float
    run: Callable[[], Awaitable[Any]]


def _loop_stopped(failure: Failure, job: str) -> None:
    log.failure("loop of job {job} stopped", failure, job=job)


class Scheduler(Service):
    """One LoopingCall per job on `ctx.clock`. A tick runs its job only if it takes the lock
    `fw:lock:{job}:{n}`, where n numbers the interval (clock time // every): so however many schedulers
    tick, a job runs once per interval. A job's exception is logged and the loop goes on."""

    name = "scheduler"

    def __init__(self, ctx: Context, jobs: list[Job], stop_timeout: float = 10) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.stop_timeout = stop_timeout
        self._token = uuid.uuid4().hex
        self._loops: list[tuple[LoopingCall, Deferred]] = []

    def startService(self) -> None:
        super().startService()
        for job in self.jobs:
            lc = LoopingCall(self.tick, job)
            lc.clock = self.ctx.clock
            stopped = lc.start(job.every, now=False)
            stopped.addErrback(_loop_stopped, job.name)
            self._loops.append((lc, stopped))

    def stopService(self) -> Deferred:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        """Stop the loops and give running jobs `stop_timeout` seconds to finish."""
        loops, self._loops = self._loops, []
        for lc, _ in loops:
            if lc.running:
                lc.stop()
        if not await within(DeferredList([d for _, d in loops]), self.stop_timeout, self.ctx.clock):
            log.warn("scheduler: jobs still running after {s} s", s=self.stop_timeout)

    async def tick(self, job: Job) -> bool:
        """Run `job` unless another scheduler has run it in this interval; whether it ran."""
        interval = int(self.ctx.clock.seconds() // job.every)
        try:
            locked = await self.ctx.redis.cmd.set(
                f"fw:lock:{job.name}:{interval}",
                self._token,
                pexpire=max(1, int(job.every * 1000)),
                only_if_not_exists=True,
            )
            if not locked:
                return False
            await job.run()
        except Exception:
            log.failure("job {job} failed", job=job.name)
        return True


async def sweep(ctx: Context, older_than: float, batch: int = 500) -> int:
    """Re-enqueue durable tasks left pending or running for `older_than` (> 0) seconds: Redis may have
    lost them (flushed, or a worker died). Tasks are idempotent; the worker skips ones already done."""
    total = 0
    while True:
        rows = await ctx.db.run(store.claim_stale_tasks_txn, older_than, batch, desc="tasks.sweep")
        await push(ctx, *(durable_message(r) for r in rows))
        total += len(rows)
        if len(rows) < batch:
            break
    if total:
        log.warn("sweep: {n} stale task(s) enqueued again", n=total)
    return total


async def cleanup(ctx: Context, older_than: float) -> int:
    """Delete `task` rows done more than `older_than` seconds ago."""
    return await ctx.db.run(store.delete_done_tasks_txn, older_than, desc="tasks.cleanup")


def default_jobs(
    ctx: Context,
    *,
    promote_every: float = 1,
    recover_every: float = 5,
    reap_every: float = 10,
    sweep_every: float = 60,
    sweep_age: float = 900,
    cleanup_every: float = 3600,
    keep_done: float = 7 * 86400,
) -> list[Job]:
    """The queue's own jobs: promote due delayed messages, push unfinished durable tasks again when Redis lost
    its data, reap dead consumers, sweep stale durable tasks, forget old finished ones."""
    return [
        Job("tasks.promote", promote_every, lambda: promote_due(ctx)),
        Job("tasks.recover", recover_every, lambda: recover_lost_queue(ctx)),
        Job("tasks.reap", reap_every, lambda: reap(ctx)),
        Job("tasks.sweep", sweep_every, lambda: sweep(ctx, sweep_age)),
        Job("tasks.cleanup", cleanup_every, lambda: cleanup(ctx, keep_done)),
    ]
