"""Removing the in-place uploads whose file vanished: the durable task the re-scan (fsimport.rescan) queues for
each batch of them. The removal is an owner's deletion (uploads, their transcodes and the pictures nothing else
uses; Delete Audio to the library's remote followers, through the durable task `federation.send_upload_deletes`
queued in the same transaction), then the local tracks, albums and artists it left with nothing are pruned.

Idempotent: a file that is back (or an upload already gone) is left alone, so a retried or repeated task is
harmless."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from twisted.logger import Logger

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.music import sources
from funkwhale.music.importer import store
from funkwhale.music.importer.fsimport import REMOVE_VANISHED
from funkwhale.music.uploads import remove_media
from funkwhale.music.uploads import store as uploads_store
from funkwhale.tasks import queue
from funkwhale.tasks.registry import task
from funkwhale.threads import run_cpu

log = Logger()
# Sends Delete Audio (the task is activitypub's music_outbox, named here, not imported).
SEND_UPLOAD_DELETES = "federation.send_upload_deletes"


def _gone(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose referenced file is not on the disk (a dangling symlink counts as there)."""
    gone = []
    for row in rows:
        path = sources.local_path(row["source"])
        if path is not None and not os.path.lexists(path):
            gone.append(row)
    return gone


def _remove_txn(txn: Any, rows: list[dict[str, Any]], base_url: str) -> tuple[list[queue.Message], list[str]]:
    """Announce, delete and prune in one transaction: (the announce tasks to push, media files to remove)."""
    ids = [row["id"] for row in rows]
    messages = []
    by_actor: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_actor[row["actor_id"]].append(row["uuid"])
    for actor_id, uuids in by_actor.items():
        for group in store.followed_uploads_txn(txn, actor_id, uuids):
            args = (group["library_id"], group["actor_fid"], group["fids"])
            messages.append(queue.enqueue_durable_txn(txn, SEND_UPLOAD_DELETES, *args))
    catalog = store.lock_catalog_txn(txn, **store.catalog_of_uploads_txn(txn, ids))
    _, files = uploads_store.delete_uploads_txn(txn, "id = ANY(%s)", [ids])
    return messages, files + store.prune_orphans_txn(txn, catalog, base_url)


@task(REMOVE_VANISHED, max_retries=3, timeout=600)
async def remove_vanished_uploads(ctx: Context, upload_ids: list[int]) -> int:
    """Remove those of the in-place uploads whose file is still missing; how many."""
    rows = await ctx.db.run(store.in_place_uploads_txn, upload_ids, desc="refresh.vanished")
    gone = await run_cpu(_gone, rows)
    if not gone:
        return 0
    messages, files = await ctx.db.run(_remove_txn, gone, ctx.settings.base_url, desc="refresh.remove")
    await queue.push(ctx, *messages)
    await cache.invalidate(ctx, cache.CATALOG)
    await remove_media(ctx, files)
    log.info("removed {count} upload(s) whose file vanished", count=len(gone))
    return len(gone)
