"""The reliable Redis queue: enqueue, durable enqueue (a `task` row committed with the caller's writes),
delayed messages, and the atomic moves (retry, bury, promote, requeue) done by Lua scripts.

Keys, per queue `q`: `fw:q:{q}` READY list (LPUSH, consumers BRPOPLPUSH: FIFO), `fw:q:{q}:proc:{consumer}`
in-flight list of one consumer, `fw:q:{q}:delayed` ZSET scored by run-at time, `fw:q:{q}:dead` dead letters.
Consumers: heartbeat key `fw:consumer:{id}` (with a TTL) and the hash `fw:consumers` {id: queue}.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure

from funkwhale.context import Context
from funkwhale.tasks import registry, store

log = Logger()

CONSUMERS = "fw:consumers"
MARKER = "fw:marker"  # exists while Redis holds our data: gone after a FLUSHALL or a restart without persistence
DEAD_LETTERS_KEPT = 10000


def ready_key(queue: str) -> str:
    return f"fw:q:{queue}"


def proc_key(queue: str, consumer: str) -> str:
    return f"fw:q:{queue}:proc:{consumer}"


def delayed_key(queue: str) -> str:
    return f"fw:q:{queue}:delayed"


def dead_key(queue: str) -> str:
    return f"fw:q:{queue}:dead"


def heartbeat_key(consumer: str) -> str:
    return f"fw:consumer:{consumer}"


@dataclass(frozen=True)
class Message:
    """One unit of work on a queue. `id` is unique per message; `task_id` names the durable `task` row."""

    task: str
    args: list
    queue: str = registry.DEFAULT_QUEUE
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempt: int = 0
    task_id: str | None = None
    delay: float = 0  # seconds from push to run; not part of the message itself

    def encode(self) -> str:
        body = {"id": self.id, "task": self.task, "args": self.args, "queue": self.queue, "attempt": self.attempt}
        if self.task_id:
            body["task_id"] = self.task_id
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> Message:
        """Parse a message; ValueError (or KeyError/TypeError) when it is not one of ours."""
        body = json.loads(raw)
        return cls(
            task=str(body["task"]),
            args=list(body["args"]),
            queue=str(body["queue"]),
            id=str(body["id"]),
            attempt=int(body["attempt"]),
            task_id=body.get("task_id"),
        )

    def retried(self) -> Message:
        """The same message, one failed attempt later."""
        return replace(self, attempt=self.attempt + 1)


def durable_message(row: dict) -> Message:
    """The message of a `task` row (id, name, queue, args, attempts, and optionally delay)."""
    return Message(
        row["name"],
        row["args"],
        row["queue"],
        attempt=row["attempts"],
        task_id=str(row["id"]),
        delay=row.get("delay", 0),
    )


def new_message(name: str, args: tuple | list, delay: float = 0, task_id: str | None = None) -> Message:
    """A message for registered task `name` (UnknownTask otherwise); args must be JSON values."""
    definition = registry.lookup(name)
    message = Message(name, list(args), definition.queue, task_id=task_id, delay=delay)
    message.encode()  # TypeError now, in the caller, rather than in the worker
    return message


async def push(ctx: Context, *messages: Message) -> None:
    """Put messages on Redis (delayed ones in the ZSET; ready ones of a queue in one LPUSH, first message first
    out). A durable message is already safe in PostgreSQL: a Redis error is then logged and the sweep re-enqueues
    it later; for a plain message it is raised."""
    ready: dict[str, list[Message]] = {}
    for message in messages:
        if message.delay <= 0:
            ready.setdefault(message.queue, []).append(message)
            continue
        try:
            await ctx.redis.cmd.zadd(delayed_key(message.queue), ctx.clock.seconds() + message.delay, message.encode())
        except Exception as e:
            _push_failed([message], e)
    for queue, batch in ready.items():
        try:
            await ctx.redis.cmd.lpush(ready_key(queue), [m.encode() for m in batch])
        except Exception as e:
            _push_failed(batch, e)


def _push_failed(messages: list[Message], error: Exception) -> None:
    """Raise `error` if a plain message was lost; else log each durable one (the sweep pushes it later)."""
    if any(not m.task_id for m in messages):
        raise error
    for m in messages:
        log.failure(
            "could not push task {task} {task_id}; the sweep will", Failure(error), task=m.task, task_id=m.task_id
        )


async def enqueue(ctx: Context, name: str, *args: Any, delay: float = 0) -> str:
    """Queue task `name(*args)` on Redis only (fire-and-forget work); returns the message id."""
    message = new_message(name, args, delay)
    await push(ctx, message)
    return message.id


def enqueue_durable_txn(txn: Any, name: str, *args: Any, delay: float = 0) -> Message:
    """Record task `name(*args)` as a pending `task` row inside the caller's transaction.

    Return the message from the interaction and `await push(ctx, message)` once it has committed."""
    task_id = uuid.uuid4()
    message = new_message(name, args, delay, task_id=str(task_id))
    store.insert_task_txn(txn, task_id, name, message.queue, message.args, delay)
    return message


def enqueue_durable_many_txn(txn: Any, name: str, args_list: list[tuple | list]) -> list[Message]:
    """Record one pending task `name(*args)` per entry of `args_list`, due now, in one statement; push the
    messages once the transaction has committed."""
    messages = [new_message(name, args, task_id=str(uuid.uuid4())) for args in args_list]
    store.insert_tasks_txn(txn, [(uuid.UUID(m.task_id or ""), name, m.queue, m.args) for m in messages])
    return messages


async def enqueue_durable(ctx: Context, name: str, *args: Any, delay: float = 0) -> str:
    """Record then queue task `name(*args)` (its own transaction); returns the `task` row id."""
    message = await ctx.db.run(partial(enqueue_durable_txn, delay=delay), name, *args, desc=f"enqueue {name}")
    await push(ctx, message)
    return message.task_id  # type: ignore[return-value]


async def recover_lost_queue(ctx: Context, batch: int = 500) -> int:
    """When Redis has lost its data, push every unfinished durable task again; how many (0 when nothing was lost).

    The loss shows as MARKER missing. Whoever sets it again (SET NX: one process among all schedulers and
    workers that check) does the push; if that fails, the marker is dropped so that the next check tries again.
    Tasks are idempotent and the worker skips finished ones, so a task still running elsewhere may run twice."""
    if not await ctx.redis.cmd.set(MARKER, repr(ctx.clock.seconds()), only_if_not_exists=True):
        return 0
    total = 0
    after = None
    try:
        while True:
            rows = await ctx.db.run(store.unfinished_tasks_txn, after, batch, desc="tasks.recover")
            await push(ctx, *(durable_message(r) for r in rows))
            total += len(rows)
            if len(rows) < batch:
                break
            after = rows[-1]["id"]
    except BaseException:
        await ctx.redis.cmd.delete(MARKER)
        raise
    if total:
        log.warn("Redis lost its data: {n} unfinished task(s) enqueued again", n=total)
    return total


# KEYS: proc, delayed, dead. ARGV: raw, new message, run-at, "1" to bury, dead letters kept.
# Returns 0 when the message is no longer ours (the reaper gave it back to READY): nothing to do then.
RETRY_LUA = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[4] == '1' then
  redis.call('LPUSH', KEYS[3], ARGV[2])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
end
return 1
"""

# KEYS: delayed, ready. ARGV: now, batch size. Moves due messages to READY; returns how many.
PROMOTE_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('LPUSH', KEYS[2], m)
end
return #due
"""

# KEYS: proc, ready, heartbeat, consumers. ARGV: consumer, mode. Gives a consumer's in-flight messages back
# to the consuming end of READY. mode "reap": only if its heartbeat is gone (else -1), then forget it;
# "stop": the consumer is stopping, drop its heartbeat (the reaper forgets it later); "own": just requeue.
REQUEUE_LUA = """
if ARGV[2] == 'reap' and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local n = 0
local m = redis.call('RPOP', KEYS[1])
while m do
  redis.call('RPUSH', KEYS[2], m)
  n = n + 1
  m = redis.call('RPOP', KEYS[1])
end
if ARGV[2] == 'reap' then redis.call('HDEL', KEYS[4], ARGV[1]) end
if ARGV[2] == 'stop' then redis.call('DEL', KEYS[3]) end
return n
"""


async def retry_or_bury(ctx: Context, queue: str, consumer: str, raw: str, new: str, delay: float | None) -> bool:
    """Atomically take `raw` off the consumer's in-flight list and put `new` in the delayed set to run in
    `delay` seconds, or in the dead letters when `delay` is None. False when `raw` was no longer the
    consumer's (the reaper gave it back to the queue)."""
    run_at = ctx.clock.seconds() + (delay or 0)
    done = await ctx.redis.cmd.eval(
        RETRY_LUA,
        [proc_key(queue, consumer), delayed_key(queue), dead_key(queue)],
        [raw, new, repr(run_at), "1" if delay is None else "0", DEAD_LETTERS_KEPT],
    )
    return int(done) == 1


async def requeue(ctx: Context, queue: str, consumer: str, mode: str) -> int:
    """Give a consumer's in-flight messages back to READY (see REQUEUE_LUA); how many, -1 if still alive."""
    keys = [proc_key(queue, consumer), ready_key(queue), heartbeat_key(consumer), CONSUMERS]
    return int(await ctx.redis.cmd.eval(REQUEUE_LUA, keys, [consumer, mode]))


async def ready_heads(ctx: Context) -> dict[str, tuple[int, str | None]]:
    """Per queue, how many messages are ready and the one a consumer takes next (None when there is none)."""
    heads = {}
    for queue in registry.queues():
        length = int(await ctx.redis.cmd.llen(ready_key(queue)))
        heads[queue] = (length, await ctx.redis.cmd.lindex(ready_key(queue), -1) if length else None)
    return heads


async def promote_due(ctx: Context, batch: int = 100) -> int:
    """Move delayed messages whose time has come to READY, on every queue; how many."""
    moved = 0
    now = repr(ctx.clock.seconds())
    for queue in registry.queues():
        while True:
            n = int(await ctx.redis.cmd.eval(PROMOTE_LUA, [delayed_key(queue), ready_key(queue)], [now, batch]))
            moved += n
            if n < batch:
                break
    return moved


async def reap(ctx: Context) -> int:
    """Give the in-flight messages of consumers whose heartbeat expired back to READY; how many."""
    consumers = await ctx.redis.cmd.hgetall(CONSUMERS)
    moved = 0
    for consumer, queue in consumers.items():
        n = await requeue(ctx, queue, consumer, "reap")
        if n > 0:
            log.warn(
                "consumer {consumer} died: {n} message(s) back on queue {queue}", consumer=consumer, n=n, queue=queue
            )
            moved += n
    return moved
