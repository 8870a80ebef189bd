"""One-at-a-time task locks in Redis: a key naming the task (a token) that holds it.

Asking for the task takes the lock for `queued_seconds` (time for a worker to pick the task up); the running task
keeps it for HELD_SECONDS, renewed every RENEW_SECONDS, so a lock whose holder died expires within HELD_SECONDS
and the next request can start another run.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from funkwhale.context import Context

log = Logger()
HELD_SECONDS = 30
RENEW_SECONDS = 10
T = TypeVar("T")

# Deletes the lock only when `token` still holds it.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


async def take(ctx: Context, key: str, queued_seconds: int) -> str | None:
    """A new token holding `key` for `queued_seconds`, or None when a run is already queued or running."""
    token = uuid.uuid4().hex
    if not await ctx.redis.cmd.set(key, token, expire=queued_seconds, only_if_not_exists=True):
        return None
    return token


async def run_holding(ctx: Context, key: str, token: str, work: Callable[[], Awaitable[T]]) -> T | None:
    """Run `work` holding `key` (renewed every RENEW_SECONDS), then release it; None without running it when
    another token holds the lock."""
    redis = ctx.redis.cmd
    holder = await redis.get(key)
    if holder not in (None, token):
        log.info("{key} {token} skipped: {holder} holds the lock", key=key, token=token, holder=holder)
        return None
    await redis.set(key, token, expire=HELD_SECONDS)

    loop = LoopingCall(lambda: redis.set(key, token, expire=HELD_SECONDS, only_if_exists=True))
    loop.clock = ctx.clock
    loop.start(RENEW_SECONDS, now=False).addErrback(lambda f: log.failure("{key} lock not renewed", f, key=key))
    try:
        return await work()
    finally:
        loop.stop()
        await redis.eval(_RELEASE, [key], [token])
