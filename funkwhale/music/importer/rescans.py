"""Re-scans of the folders imported in place, as durable tasks run by a worker (never in the web process or the
scheduler): asked for by the hourly job and by Subsonic's startScan.

One scan at a time: a Redis lock (LOCK) names the scan that holds it. Asking for a scan takes it for
QUEUED_SECONDS (time for a worker to pick the task up); the running scan keeps it for HELD_SECONDS, renewed every
RENEW_SECONDS, so a lock whose holder died expires within HELD_SECONDS and the next request starts a new scan.
COUNT is the number of files gone through by the current or last scan (Subsonic's scanStatus count).
"""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from funkwhale.context import Context
from funkwhale.music.importer.fsimport import Summary, rescan
from funkwhale.tasks.queue import enqueue_durable
from funkwhale.tasks.registry import task

log = Logger()
LOCK = "fw:rescan:lock"
COUNT = "fw:rescan:count"
QUEUED_SECONDS = 600
HELD_SECONDS = 30
RENEW_SECONDS = 10

# Deletes the lock only when `token` still holds it.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


async def request(ctx: Context) -> bool:
    """Queue a scan unless one is queued or running; True when this call queued it."""
    token = uuid.uuid4().hex
    if not await ctx.redis.cmd.set(LOCK, token, expire=QUEUED_SECONDS, only_if_not_exists=True):
        return False
    await ctx.redis.cmd.set(COUNT, 0)
    await enqueue_durable(ctx, "music.rescan_folders", token)
    return True


async def status(ctx: Context) -> dict[str, Any]:
    """{scanning, count} as Subsonic's getScanStatus reports it."""
    redis = ctx.redis.cmd
    return {"scanning": bool(await redis.exists(LOCK)), "count": int(await redis.get(COUNT) or 0)}


@task("music.rescan_folders", max_retries=2, timeout=6 * 3600)
async def rescan_folders(ctx: Context, token: str) -> int:
    """Run the scan `token` names, holding the lock while it runs; a scan whose lock another took is skipped."""
    redis = ctx.redis.cmd
    holder = await redis.get(LOCK)
    if holder not in (None, token):
        log.info("rescan {token} skipped: scan {holder} holds the lock", token=token, holder=holder)
        return 0
    await redis.set(LOCK, token, expire=HELD_SECONDS)
    renew = LoopingCall(lambda: redis.set(LOCK, token, expire=HELD_SECONDS, only_if_exists=True))
    renew.clock = ctx.clock
    renew.start(RENEW_SECONDS, now=False).addErrback(lambda f: log.failure("rescan lock not renewed", f))
    summaries: list[Summary] = []

    def counted() -> int:
        return sum(s.done for s in summaries)

    def progress(summary: Summary) -> None:
        if not any(s is summary for s in summaries):
            summaries.append(summary)
        redis.set(COUNT, counted()).addErrback(lambda f: log.failure("scan count not saved", f))

    try:
        return await rescan(ctx, progress)
    finally:
        renew.stop()
        await redis.set(COUNT, counted())
        await redis.eval(_RELEASE, [LOCK], [token])
