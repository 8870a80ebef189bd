"""Library scans: getScanStatus and startScan (a re-scan of the folders imported in place, as the hourly job
does; administrators and library moderators only). While a scan runs, Redis holds a lock (SCAN_LOCK, expiring
in case the daemon dies mid-scan) and the number of files gone through (SCAN_COUNT, kept after the scan)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from funkwhale.context import Context
from funkwhale.music.importer.fsimport import Summary, rescan
from funkwhale.subsonic.registry import Call, endpoint

log = Logger()
SCAN_LOCK = "fw:subsonic:scan:running"
SCAN_COUNT = "fw:subsonic:scan:count"
SCAN_LOCK_SECONDS = 6 * 3600


async def status(ctx: Context) -> dict[str, Any]:
    redis = ctx.redis.cmd
    return {"scanning": bool(await redis.exists(SCAN_LOCK)), "count": int(await redis.get(SCAN_COUNT) or 0)}


async def scan(ctx: Context) -> None:
    """Re-scan, counting the files gone through in every folder; release the lock at the end."""
    summaries: list[Summary] = []

    def counted() -> int:
        return sum(s.done for s in summaries)

    def progress(summary: Summary) -> None:
        if not any(s is summary for s in summaries):
            summaries.append(summary)
        ctx.redis.cmd.set(SCAN_COUNT, counted()).addErrback(lambda f: log.failure("scan count not saved", f))

    try:
        await rescan(ctx, progress)
    finally:
        await ctx.redis.cmd.set(SCAN_COUNT, counted())
        await ctx.redis.cmd.delete(SCAN_LOCK)


@endpoint("getScanStatus")
async def get_scan_status(ctx: Context, call: Call) -> dict[str, Any]:
    return {"scanStatus": await status(ctx)}


@endpoint("startScan", scope="write:instance:libraries")  # the "library" permission (superusers have it)
async def start_scan(ctx: Context, call: Call) -> dict[str, Any]:
    """Start a scan unless one runs already; answers the status."""
    if await ctx.redis.cmd.set(SCAN_LOCK, "1", expire=SCAN_LOCK_SECONDS, only_if_not_exists=True):
        await ctx.redis.cmd.set(SCAN_COUNT, 0)
        Deferred.fromCoroutine(scan(ctx)).addErrback(lambda f: log.failure("Subsonic scan failed", f))
    return {"scanStatus": await status(ctx)}
