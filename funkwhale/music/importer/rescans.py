"""Re-scans of the folders imported in place, as durable tasks run by a worker (never in the web process or the
scheduler): asked for by the hourly job and by Subsonic's startScan.

One scan at a time: a Redis lock (LOCK, funkwhale/tasks/locks.py) names the scan that holds it, taken for
QUEUED_SECONDS until a worker picks the task up. COUNT is the number of files gone through by the current or last
scan (Subsonic's scanStatus count).
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from funkwhale.context import Context
from funkwhale.music.importer.fsimport import Summary, rescan
from funkwhale.tasks import locks
from funkwhale.tasks.queue import enqueue_durable
from funkwhale.tasks.registry import task

log = Logger()
LOCK = "fw:rescan:lock"
COUNT = "fw:rescan:count"
QUEUED_SECONDS = 600


async def request(ctx: Context) -> bool:
    """Queue a scan unless one is queued or running; True when this call queued it."""
    token = await locks.take(ctx, LOCK, QUEUED_SECONDS)
    if token is None:
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
    summaries: list[Summary] = []

    def counted() -> int:
        return sum(s.done for s in summaries)

    def progress(summary: Summary) -> None:
        if not any(s is summary for s in summaries):
            summaries.append(summary)
        redis.set(COUNT, counted()).addErrback(lambda f: log.failure("scan count not saved", f))

    async def scan() -> int:
        try:
            return await rescan(ctx, progress)
        finally:
            await redis.set(COUNT, counted())

    return await locks.run_holding(ctx, LOCK, token, scan) or 0
