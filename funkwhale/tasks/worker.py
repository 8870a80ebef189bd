"""The worker: consumers that take messages off the Redis queues, run their tasks, and ack, retry or bury.

Each consumer owns a blocking Redis connection (BRPOPLPUSH into its in-flight list), so a message is always
either on a queue or in exactly one consumer's list. A heartbeat key per consumer lets the scheduler's reaper
give back the messages of a consumer whose process died.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, DeferredList
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from funkwhale.context import Context
from funkwhale.metrics import counters
from funkwhale.tasks import registry, store
from funkwhale.tasks.queue import (
    CONSUMERS,
    Message,
    heartbeat_key,
    proc_key,
    ready_key,
    recover_lost_queue,
    requeue,
    retry_or_bury,
)
from funkwhale.tasks.waiting import within

log = Logger()

MAX_BACKOFF = 3600
POLL_TIMEOUT = 2  # seconds a consumer blocks on BRPOPLPUSH before it checks whether it should stop
CLOSE_TIMEOUT = 3  # seconds the stopping consumers have to close and give back their messages


def backoff(attempt: int, base: float, rng: random.Random | Any = random) -> float:
    """Seconds before retry number `attempt`: exponential, capped at an hour, with +-50 % jitter."""
    return min(MAX_BACKOFF, base * 2**attempt) * rng.uniform(0.5, 1.5)


def consumer_prefix(pid: int) -> str:
    """How the ids of the consumers of process `pid` on this host begin (the worker pool finds a dead child's)."""
    return f"{socket.gethostname()}:{pid}:"


def _describe(failure: Failure, timeout: float | None) -> str:
    """The `last_error` of a durable task."""
    if failure.check(DeferredTimeout):
        return f"TimeoutError: still running after {timeout} s"
    kind = "Error" if failure.type is None else failure.type.__name__
    return f"{kind}: {failure.getErrorMessage()}"[:2000]


class Consumer:
    """One concurrency slot on one queue: takes a message, runs it, acks it; never stops on an error."""

    def __init__(self, ctx: Context, queue: str, consumer_id: str, backoff_base: float) -> None:
        self.ctx = ctx
        self.queue = queue
        self.id = consumer_id
        self.backoff_base = backoff_base
        self.proc = proc_key(queue, consumer_id)
        self.running = False
        self.busy = False  # between taking a message and acking (or retrying) it
        self.done: Deferred = Deferred()
        self._conn: Any = None

    def start(self) -> None:
        self._conn = self.ctx.redis.blocking()
        self.running = True
        self.done = Deferred.fromCoroutine(self._run())

    async def _run(self) -> None:
        dirty = False  # a message may be left in our in-flight list: give it back before taking another
        while self.running:
            try:
                if dirty:
                    await requeue(self.ctx, self.queue, self.id, "own")
                    dirty = False
                raw = await self._conn.brpoplpush(ready_key(self.queue), self.proc, POLL_TIMEOUT)
                if raw is None or not self.running:
                    continue  # when stopping, the worker gives the message back
                self.busy = dirty = True
                await self._handle(raw)
                dirty = False
            except Exception as e:
                if not self.running:
                    if isinstance(e, CancelledError):
                        raise
                    break
                log.failure("consumer {consumer} failed; going on", consumer=self.id)
                await deferLater(self.ctx.clock, 1, lambda: None)
            finally:
                self.busy = False

    async def _handle(self, raw: str) -> None:
        try:
            message = Message.decode(raw)
        except (ValueError, KeyError, TypeError):
            log.error("not a task message, buried: {raw}", raw=raw[:500])
            await retry_or_bury(self.ctx, self.queue, self.id, raw, raw, None)
            return
        if message.task_id and not await self.ctx.db.run(store.start_task_txn, message.task_id, desc="tasks.start"):
            await self.ctx.redis.cmd.lrem(self.proc, 1, raw)  # done, dead or forgotten already: a duplicate
            return
        started = self.ctx.clock.seconds()
        try:
            definition = registry.lookup(message.task)
            call = Deferred.fromCoroutine(definition.fn(self.ctx, *message.args))
            call.addTimeout(definition.timeout, self.ctx.clock)
            await call
        except Exception as e:
            if isinstance(e, CancelledError) and not self.running:
                raise  # shutdown deadline: the worker gives the message back
            await self._failed(raw, message, Failure(), started)
        else:
            if message.task_id:
                await self.ctx.db.run(store.finish_task_txn, message.task_id, desc="tasks.finish")
            await self.ctx.redis.cmd.lrem(self.proc, 1, raw)
            await self._count(message.task, "success", started)

    async def _failed(self, raw: str, message: Message, failure: Failure, started: float) -> None:
        try:
            definition = registry.lookup(message.task)
            max_retries, timeout, name = definition.max_retries, definition.timeout, message.task
        except registry.UnknownTask:
            max_retries, timeout, name = registry.DEFAULT_MAX_RETRIES, None, "unknown"
        attempt = message.attempt + 1
        delay = None if attempt > max_retries else backoff(attempt, self.backoff_base)
        log.failure(
            "task {task} {id} failed (attempt {attempt}); {outcome}",
            failure,
            task=message.task,
            id=message.id,
            attempt=attempt,
            outcome="dead letter" if delay is None else f"retry in {delay:.1f} s",
        )
        if message.task_id:
            await self.ctx.db.run(
                store.fail_task_txn, message.task_id, _describe(failure, timeout), delay, desc="tasks.fail"
            )
        await retry_or_bury(self.ctx, self.queue, self.id, raw, message.retried().encode(), delay)
        await self._count(name, "dead" if delay is None else "retry", started)

    async def _count(self, task: str, outcome: str, started: float) -> None:
        """Add this run to the instance's task metrics (in Redis: see metrics.counters), when metrics are on."""
        if not self.ctx.settings.metrics:
            return
        try:
            await counters.record_task(self.ctx, task, outcome, self.ctx.clock.seconds() - started)
        except Exception:
            log.failure("counting a run of task {task} failed", task=task)

    def interrupt(self) -> None:
        """Stop waiting for a message now (closing the blocking connection ends BRPOPLPUSH)."""
        self._conn.disconnect().addErrback(lambda f: log.failure("closing consumer {consumer}", f, consumer=self.id))

    async def close(self) -> None:
        """Close the connection and give back what this consumer still holds."""
        try:
            await self._conn.disconnect()
        except Exception:
            log.failure("closing consumer {consumer}", consumer=self.id)
        try:
            n = await requeue(self.ctx, self.queue, self.id, "stop")
        except Exception:
            log.failure("consumer {consumer} could not give back its messages; the reaper will", consumer=self.id)
        else:
            if n:
                log.info("{n} unfinished message(s) back on queue {queue}", n=n, queue=self.queue)


class Worker(Service):
    """Runs `concurrency` consumers per queue; at stop, lets running tasks finish for `shutdown_timeout`
    seconds, then cancels them and puts their messages back on the queue."""

    name = "worker"

    def __init__(
        self,
        ctx: Context,
        concurrency: int,
        shutdown_timeout: float,
        *,
        backoff_base: float = 5,
        heartbeat_interval: float = 10,
        heartbeat_ttl: float = 30,
    ) -> None:
        self.ctx = ctx
        self.concurrency = concurrency
        self.shutdown_timeout = shutdown_timeout
        self.backoff_base = backoff_base
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_ttl = heartbeat_ttl
        self.consumers: list[Consumer] = []
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = ctx.clock

    def startService(self) -> Deferred:
        super().startService()
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        prefix = f"{consumer_prefix(os.getpid())}{uuid.uuid4().hex[:8]}"
        self.consumers = [
            Consumer(self.ctx, queue, f"{prefix}:{queue}:{n}", self.backoff_base)
            for queue in registry.queues()
            for n in range(self.concurrency)
        ]
        await self._beat()  # registered and alive before the first message is taken
        self._heartbeat.start(self.heartbeat_interval, now=False).addErrback(
            lambda f: log.failure("heartbeat loop stopped", f)
        )
        for consumer in self.consumers:
            consumer.start()
        log.info(
            "worker: {n} consumer(s) on {queues} (pid {pid})",
            n=len(self.consumers),
            queues=", ".join(registry.queues()),
            pid=os.getpid(),
        )

    async def _beat(self) -> None:
        """Refresh the consumers' heartbeats, and check that Redis still holds our data (a worker-only process
        notices a flushed or restarted Redis without waiting for a scheduler)."""
        ttl = int(self.heartbeat_ttl * 1000)
        for consumer in self.consumers:
            try:
                await self.ctx.redis.cmd.set(heartbeat_key(consumer.id), "1", pexpire=ttl)
                await self.ctx.redis.cmd.hset(CONSUMERS, consumer.id, consumer.queue)
            except Exception:
                log.failure("heartbeat of consumer {consumer} failed", consumer=consumer.id)
        try:
            await recover_lost_queue(self.ctx)
        except Exception:
            log.failure("checking whether Redis lost its data failed")

    def stopService(self) -> Deferred:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        """Interrupt idle consumers, let busy ones finish for `shutdown_timeout`, then give back what they hold.
        With Redis unreachable, every step that talks to it is cut short (and logged): the reaper and the
        durable tasks' recovery cover what could not be given back."""
        if self._heartbeat.running:
            self._heartbeat.stop()
        idle = [c for c in self.consumers if not c.busy]
        for consumer in self.consumers:
            consumer.running = False
        for consumer in idle:
            consumer.interrupt()
        # An idle consumer ends within its poll timeout, unless its connection hangs (Redis gone).
        await self._cancel_unfinished(idle, POLL_TIMEOUT + 1, "idle consumer(s) stuck on Redis")
        await self._cancel_unfinished(self.consumers, self.shutdown_timeout, "task(s) still running")
        closing = DeferredList([Deferred.fromCoroutine(c.close()) for c in self.consumers], consumeErrors=True)
        if not await within(closing, CLOSE_TIMEOUT, self.ctx.clock):
            log.warn(
                "shutdown: gave up giving back in-flight messages after {s} s (Redis unreachable?); "
                "the reaper will once Redis answers",
                s=CLOSE_TIMEOUT,
            )

    async def _cancel_unfinished(self, consumers: list[Consumer], seconds: float, what: str) -> None:
        finished = DeferredList([c.done for c in consumers], consumeErrors=True)
        if not await within(finished, seconds, self.ctx.clock):
            stuck = [c for c in consumers if not c.done.called]
            log.warn("shutdown: gave up on {n} {what} after {s} s: cancelled", n=len(stuck), what=what, s=seconds)
            for consumer in stuck:
                consumer.done.cancel()
