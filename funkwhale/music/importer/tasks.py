"""The import task run by the worker."""

from __future__ import annotations

from funkwhale.context import Context
from funkwhale.tasks.registry import task


@task("music.process_upload", max_retries=3, timeout=300)
async def process_upload(ctx: Context, upload_id: int) -> None:
    from funkwhale.music.importer.pipeline import process_upload as run

    await run(ctx, upload_id)
