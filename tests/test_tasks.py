"""The task queue, worker and scheduler against the session's real PostgreSQL and Redis."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, task
from twisted.internet.defer import CancelledError, Deferred, gatherResults, maybeDeferred

from funkwhale.context import Context
from funkwhale.db.pool import Database
from funkwhale.redis_client import Redis
from funkwhale.tasks import queue as q
from funkwhale.tasks.registry import UnknownTask
from funkwhale.tasks.registry import task as register
from funkwhale.tasks.scheduler import Job, Scheduler, cleanup, default_jobs, sweep
from funkwhale.tasks.worker import MAX_BACKOFF, Worker, backoff

calls: dict[str, list] = defaultdict(list)
gate: dict[str, Deferred] = {}


@register("test.record")
async def record(ctx: Context, *args: Any) -> None:
    calls["record"].append(list(args))


@register("test.flaky", max_retries=5)
async def flaky(ctx: Context, failures: int) -> None:
    calls["flaky"].append(1)
    if len(calls["flaky"]) <= failures:
        raise RuntimeError(f"flaky failure {len(calls['flaky'])}")


@register("test.broken", max_retries=2)
async def broken(ctx: Context) -> None:
    calls["broken"].append(1)
    raise RuntimeError("boom")


@register("test.slow", max_retries=0, timeout=0.05)
async def slow(ctx: Context) -> None:
    await Deferred()  # never fires: only the timeout ends it


@register("test.wait")
async def wait(ctx: Context, name: str) -> None:
    """Runs until the test fires gate[name]; records start, end or cancellation."""
    calls[name].append("start")
    try:
        await gate[name]
    except CancelledError:
        calls[name].append("cancelled")
        raise
    calls[name].append("end")


@register("test.hang_once")
async def hang_once(ctx: Context) -> None:
    """The first run never finishes (its worker is as good as dead); the next one does."""
    calls["hang_once"].append("start")
    if len(calls["hang_once"]) == 1:
        await Deferred()
    calls["hang_once"].append("end")


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()
    gate.clear()


@pytest_twisted.async_yield_fixture
async def ctx(settings):
    db, redis = Database(settings.database_url, 5), Redis(settings.redis_url)
    db.startService()
    redis.startService()
    yield Context(settings=settings, db=db, redis=redis, clock=reactor)
    await redis.stopService()
    db.stopService()


@pytest_twisted.async_yield_fixture
async def services(ctx):
    """Start services (workers, schedulers) for the test; stopped at teardown if still running."""
    started = []

    async def start(service):
        await maybeDeferred(service.startService)
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        if service.running:
            await service.stopService()


def worker(ctx: Context, concurrency: int = 1, shutdown_timeout: float = 5, **kw: Any) -> Worker:
    return Worker(ctx, concurrency, shutdown_timeout, backoff_base=0.01, heartbeat_interval=0.1, **kw)


async def sleep(seconds: float) -> None:
    await task.deferLater(reactor, seconds, lambda: None)


async def eventually(check, within: float = 10) -> None:
    """Poll `check()` (sync or async) until it is true; fail after `within` seconds."""
    for _ in range(int(within / 0.02)):
        result = check()
        if isinstance(result, Deferred) or hasattr(result, "__await__"):
            result = await result
        if result:
            return
        await sleep(0.02)
    raise AssertionError(f"never true: {check}")


def task_row(db_conn, task_id: str) -> dict:
    with db_conn.cursor() as cur:
        cur.execute("SELECT status, attempts, last_error FROM task WHERE id = %s", (task_id,))
        return cur.fetchone()


async def ready(ctx: Context) -> list[dict]:
    return [json.loads(m) for m in await ctx.redis.cmd.lrange(q.ready_key("default"), 0, -1)]


@pytest_twisted.ensureDeferred
async def test_enqueued_task_runs_once_and_leaves_nothing_behind(ctx, services):
    await services(worker(ctx, concurrency=2))
    await q.enqueue(ctx, "test.record", "a", 1)
    await q.enqueue(ctx, "test.record", "b", 2)
    await eventually(lambda: len(calls["record"]) == 2)
    assert sorted(calls["record"]) == [["a", 1], ["b", 2]]
    assert await ready(ctx) == []
    assert await ctx.redis.cmd.keys("fw:q:default:proc:*") == []  # every message acked


@pytest_twisted.ensureDeferred
async def test_a_message_that_is_not_a_task_is_buried_and_the_worker_goes_on(ctx, services):
    await services(worker(ctx))
    await ctx.redis.cmd.lpush(q.ready_key("default"), "not a task {")
    await q.enqueue(ctx, "test.record", "next")
    await eventually(lambda: calls["record"] == [["next"]])
    assert await ctx.redis.cmd.lrange(q.dead_key("default"), 0, -1) == ["not a task {"]


@pytest_twisted.ensureDeferred
async def test_enqueue_refuses_unknown_tasks_and_non_json_arguments(ctx):
    with pytest.raises(UnknownTask):
        await q.enqueue(ctx, "test.no_such_task")
    with pytest.raises(TypeError):
        await q.enqueue(ctx, "test.record", object())
    assert await ready(ctx) == []


@pytest_twisted.ensureDeferred
async def test_delayed_task_waits_for_promotion(ctx, services):
    await services(worker(ctx))
    await q.enqueue(ctx, "test.record", "later", delay=0.01)
    await sleep(0.1)
    assert calls["record"] == []  # still in the delayed set: nothing promoted it
    assert await q.promote_due(ctx) == 1
    await eventually(lambda: calls["record"] == [["later"]])


@pytest_twisted.ensureDeferred
async def test_failing_task_is_retried_with_backoff_until_it_succeeds(ctx, services, db_conn):
    await services(worker(ctx))
    await services(Scheduler(ctx, default_jobs(ctx, promote_every=0.05)))
    task_id = await q.enqueue_durable(ctx, "test.flaky", 2)
    await eventually(lambda: task_row(db_conn, task_id)["status"] == "done")
    assert len(calls["flaky"]) == 3
    assert task_row(db_conn, task_id) == {"status": "done", "attempts": 3, "last_error": ""}
    assert await ctx.redis.cmd.zcard(q.delayed_key("default")) == 0


@pytest_twisted.ensureDeferred
async def test_task_out_of_retries_goes_to_the_dead_letters(ctx, services, db_conn):
    await services(worker(ctx))
    await services(Scheduler(ctx, default_jobs(ctx, promote_every=0.05)))
    task_id = await q.enqueue_durable(ctx, "test.broken")
    await eventually(lambda: task_row(db_conn, task_id)["status"] == "dead")
    await eventually(lambda: ctx.redis.cmd.llen(q.dead_key("default")))  # buried right after the row is marked
    assert len(calls["broken"]) == 3  # the first run and max_retries=2 retries
    row = task_row(db_conn, task_id)
    assert row["attempts"] == 3 and row["last_error"] == "RuntimeError: boom"
    dead = [json.loads(m) for m in await ctx.redis.cmd.lrange(q.dead_key("default"), 0, -1)]
    assert [(m["task"], m["task_id"], m["attempt"]) for m in dead] == [("test.broken", task_id, 3)]


@pytest_twisted.ensureDeferred
async def test_task_past_its_timeout_is_cancelled_and_counted_as_failed(ctx, services, db_conn):
    await services(worker(ctx))
    task_id = await q.enqueue_durable(ctx, "test.slow")
    await eventually(lambda: task_row(db_conn, task_id)["status"] == "dead")
    assert task_row(db_conn, task_id)["last_error"].startswith("TimeoutError")


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempt in range(1, 20):
        nominal = min(MAX_BACKOFF, 5 * 2**attempt)
        assert 0.5 * nominal <= backoff(attempt, 5, rng) <= 1.5 * nominal
    assert len({backoff(3, 5, rng) for _ in range(5)}) == 5  # jittered


@pytest_twisted.ensureDeferred
async def test_durable_task_is_part_of_the_callers_transaction(ctx, services, db_conn):
    def write_then_fail_txn(txn):
        q.enqueue_durable_txn(txn, "test.record", "rolled back")
        raise ValueError("the caller's write failed")

    with pytest.raises(ValueError):
        await ctx.db.run(write_then_fail_txn, desc="test")
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM task")
        assert cur.fetchone()["n"] == 0

    message = await ctx.db.run(q.enqueue_durable_txn, "test.record", "committed", desc="test")
    assert task_row(db_conn, message.task_id)["status"] == "pending"
    await q.push(ctx, message)
    await services(worker(ctx))
    await eventually(lambda: task_row(db_conn, message.task_id)["status"] == "done")
    assert calls["record"] == [["committed"]]


@pytest_twisted.ensureDeferred
async def test_duplicate_of_a_finished_durable_task_is_skipped(ctx, services, db_conn):
    await services(worker(ctx))
    message = await ctx.db.run(q.enqueue_durable_txn, "test.record", "once", desc="test")
    await q.push(ctx, message)
    await eventually(lambda: task_row(db_conn, message.task_id)["status"] == "done")
    await q.push(ctx, message)  # as the sweep would, had it thought the task lost
    await q.enqueue(ctx, "test.record", "after")  # FIFO: once this ran, the duplicate was handled
    await eventually(lambda: len(calls["record"]) == 2)
    assert calls["record"] == [["once"], ["after"]]


@pytest_twisted.ensureDeferred
async def test_reaper_gives_back_the_work_of_a_consumer_whose_heartbeat_stopped(ctx, services):
    # The first worker beats once, then never again: as if its process was killed (SIGKILL) mid-task.
    doomed = await services(Worker(ctx, 1, 0.1, heartbeat_interval=3600, heartbeat_ttl=0.3))
    await q.enqueue(ctx, "test.hang_once")
    await eventually(lambda: calls["hang_once"] == ["start"])
    await eventually(lambda: q.reap(ctx))  # the heartbeat expired: the message is back on READY
    await services(worker(ctx))
    await eventually(lambda: calls["hang_once"] == ["start", "start", "end"])
    assert doomed.consumers[0].id not in await ctx.redis.cmd.hkeys(q.CONSUMERS)  # forgotten by the reaper
    await doomed.stopService()
    assert await ready(ctx) == []  # nothing left in the dead consumer's list to give back


@pytest_twisted.ensureDeferred
async def test_stopping_a_worker_mid_task_cancels_it_and_puts_the_message_back(ctx, services, db_conn):
    gate["stuck"] = Deferred()
    stopping = await services(worker(ctx, shutdown_timeout=0.2))
    task_id = await q.enqueue_durable(ctx, "test.wait", "stuck")
    await eventually(lambda: calls["stuck"] == ["start"])
    assert await q.reap(ctx) == 0  # a live consumer keeps its work
    await stopping.stopService()
    assert calls["stuck"] == ["start", "cancelled"]
    assert [(m["task"], m["task_id"]) for m in await ready(ctx)] == [("test.wait", task_id)]

    gate["stuck"] = Deferred()
    gate["stuck"].callback(None)
    await services(worker(ctx))
    await eventually(lambda: task_row(db_conn, task_id)["status"] == "done")
    assert calls["stuck"] == ["start", "cancelled", "start", "end"]


@pytest_twisted.ensureDeferred
async def test_stopping_a_worker_lets_a_running_task_finish(ctx, services, db_conn):
    gate["short"] = Deferred()
    stopping = await services(worker(ctx, shutdown_timeout=30))
    task_id = await q.enqueue_durable(ctx, "test.wait", "short")
    await eventually(lambda: calls["short"] == ["start"])
    stopped = stopping.stopService()
    await sleep(0.05)
    assert not stopped.called  # waiting for the task
    gate["short"].callback(None)
    await stopped
    assert calls["short"] == ["start", "end"]
    assert task_row(db_conn, task_id)["status"] == "done"
    assert await ready(ctx) == []


@pytest_twisted.ensureDeferred
async def test_sweep_enqueues_durable_tasks_again_after_redis_is_flushed(ctx, services, db_conn):
    task_id = await q.enqueue_durable(ctx, "test.record", "survivor")
    await ctx.redis.cmd.flushdb()
    assert await sweep(ctx, older_than=900) == 0  # too recent to be called lost
    with db_conn.cursor() as cur:
        cur.execute("UPDATE task SET update_date = now() - interval '1 hour', run_at = now() - interval '1 hour'")
    assert await sweep(ctx, older_than=900) == 1
    assert await sweep(ctx, older_than=900) == 0  # touched: left alone for another 900 s
    await services(worker(ctx))
    await eventually(lambda: task_row(db_conn, task_id)["status"] == "done")
    assert calls["record"] == [["survivor"]]


@pytest_twisted.ensureDeferred
async def test_cleanup_forgets_old_finished_tasks_only(ctx, db_conn):
    ids = {}
    for label in ("old_done", "new_done", "old_dead", "old_pending"):
        ids[label] = await q.enqueue_durable(ctx, "test.record", label)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE task SET status = 'done' WHERE id IN (%s, %s)", (ids["old_done"], ids["new_done"]))
        cur.execute("UPDATE task SET status = 'dead' WHERE id = %s", (ids["old_dead"],))
        cur.execute(
            "UPDATE task SET update_date = now() - interval '8 days' WHERE id IN (%s, %s, %s)",
            (ids["old_done"], ids["old_dead"], ids["old_pending"]),
        )
    assert await cleanup(ctx, older_than=7 * 86400) == 1
    assert task_row(db_conn, ids["old_done"]) is None
    assert all(task_row(db_conn, ids[k]) for k in ("new_done", "old_dead", "old_pending"))


async def settle(clock: task.Clock, loops: int) -> None:
    """Wait until every LoopingCall on `clock` finished its tick and scheduled the next one."""
    await eventually(lambda: len(clock.getDelayedCalls()) == loops)


@pytest_twisted.ensureDeferred
async def test_two_schedulers_run_a_job_once_per_interval(ctx, services):
    clock, runs = task.Clock(), []

    async def job() -> None:
        runs.append(clock.seconds())

    shared = Context(settings=ctx.settings, db=ctx.db, redis=ctx.redis, clock=clock)
    for _ in range(2):
        await services(Scheduler(shared, [Job("test.job", 10, job)]))
    for _ in range(3):
        clock.advance(10)
        await settle(clock, 2)
    assert runs == [10, 20, 30]


@pytest_twisted.ensureDeferred
async def test_a_failing_job_does_not_stop_its_loop(ctx, services):
    clock, runs = task.Clock(), []

    async def job() -> None:
        runs.append(clock.seconds())
        raise RuntimeError("job failed")

    await services(Scheduler(Context(ctx.settings, ctx.db, ctx.redis, clock), [Job("test.failing", 5, job)]))
    for _ in range(3):
        clock.advance(5)
        await settle(clock, 1)
    assert runs == [5, 10, 15]


async def durable_tasks_then_redis_loses_them(ctx: Context, db_conn) -> dict[str, str]:
    """A pending, a delayed and a finished durable task; then FLUSHALL takes Redis's copies and the marker."""
    await ctx.redis.cmd.set(q.MARKER, "1")  # Redis held our data until now
    ids = {
        "pending": await q.enqueue_durable(ctx, "test.record", "pending"),
        "delayed": await q.enqueue_durable(ctx, "test.record", "delayed", delay=3600),
        "done": await q.enqueue_durable(ctx, "test.record", "done"),
    }
    with db_conn.cursor() as cur:
        cur.execute("UPDATE task SET status = 'done' WHERE id = %s", (ids["done"],))
    await ctx.redis.cmd.flushall()
    return ids


@pytest_twisted.ensureDeferred
async def test_scheduler_pushes_unfinished_durable_tasks_again_as_soon_as_redis_lost_them(ctx, services, db_conn):
    ids = await durable_tasks_then_redis_loses_them(ctx, db_conn)
    await services(Scheduler(ctx, default_jobs(ctx, recover_every=0.1)))
    await eventually(lambda: ready(ctx))
    assert [m["task_id"] for m in await ready(ctx)] == [ids["pending"]]
    [(delayed, run_at)] = await ctx.redis.cmd.zrange(q.delayed_key("default"), 0, -1, withscores=True)
    assert json.loads(delayed)["task_id"] == ids["delayed"]
    assert run_at > reactor.seconds() + 3500  # still waits for its time
    await services(worker(ctx))
    await eventually(lambda: task_row(db_conn, ids["pending"])["status"] == "done")
    assert calls["record"] == [["pending"]]


@pytest_twisted.ensureDeferred
async def test_a_worker_alone_notices_that_redis_lost_its_data(ctx, services, db_conn):
    ids = await durable_tasks_then_redis_loses_them(ctx, db_conn)
    await services(worker(ctx))
    await eventually(lambda: task_row(db_conn, ids["pending"])["status"] == "done")
    assert calls["record"] == [["pending"]]


@pytest_twisted.ensureDeferred
async def test_only_one_of_several_checkers_pushes_the_lost_tasks_again(ctx, db_conn):
    ids = await durable_tasks_then_redis_loses_them(ctx, db_conn)
    checks = [Deferred.fromCoroutine(q.recover_lost_queue(ctx)) for _ in range(3)]
    assert sorted(await gatherResults(checks)) == [0, 0, 2]
    assert [m["task_id"] for m in await ready(ctx)] == [ids["pending"]]
    assert await q.recover_lost_queue(ctx) == 0  # the marker is back: nothing lost since
