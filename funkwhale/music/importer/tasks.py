"""The import task run by the worker: its upload, and with it up to BATCH - 1 other uploads whose import task is
queued and not taken by another run (their own runs then find them imported, and do nothing), imported together
(music/importer/batch.py)."""

from __future__ import annotations

from funkwhale.context import Context
from funkwhale.tasks.registry import task

PROCESS_UPLOAD = "music.process_upload"
BATCH = 50


@task(PROCESS_UPLOAD, max_retries=3, timeout=300)
async def process_upload(ctx: Context, upload_id: int) -> None:
    from funkwhale.music.importer import store
    from funkwhale.music.importer.pipeline import process_uploads

    others = await ctx.db.run(store.take_queued_uploads_txn, PROCESS_UPLOAD, upload_id, BATCH - 1, desc="import.queued")
    await process_uploads(ctx, [upload_id, *others])
