"""The task that walks a remote library (see scan.py); registered through tasks.registry.TASK_MODULES."""

from __future__ import annotations

from funkwhale.activitypub.scan_store import SCAN_TASK
from funkwhale.context import Context
from funkwhale.tasks.registry import task


@task(SCAN_TASK, max_retries=5, timeout=3600)
async def scan_library(ctx: Context, scan_id: int) -> None:
    from funkwhale.activitypub.scan import run_scan

    await run_scan(ctx, scan_id)
