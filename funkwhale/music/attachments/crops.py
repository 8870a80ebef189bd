"""The cache of square crops (`<checksum>-<size>.jpg` beside each original under attachments/, in MEDIA_ROOT or the
bucket) and its pruning, the durable task `music.prune_picture_cache` the scheduler queues every hour.

A crop's modification time says when it was last served (touch_served refreshes it at most once a day; in a
bucket an object's date is when it was made, so a crop there is remade on demand after MAX_AGE_DAYS), so the
pruning removes the crops not served for MAX_AGE_DAYS, then the least recently served beyond MAX_BYTES, and the
files that no attachment row names any more (originals and crops whose picture was deleted, temporary files an
interrupted write left): those only once they are ORPHAN_GRACE old, since a picture's file is written before its
row is committed."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from twisted.logger import Logger

from funkwhale import storage
from funkwhale.context import Context
from funkwhale.music.attachments import store
from funkwhale.storage import MediaStore
from funkwhale.tasks.registry import task
from funkwhale.threads import run_io

log = Logger()

PRUNE_TASK = "music.prune_picture_cache"
MAX_AGE_DAYS = 30.0
MAX_BYTES = 1024**3
ORPHAN_GRACE = 3600
TOUCH_EVERY = 86400
_CROP = re.compile(r"^(?P<original>[0-9a-f]{64})-\d+\.jpg$")


def crop_name(original: str, size: int) -> str:
    """The name of a crop of the picture `original` (a media name): beside it, `<checksum>-<size>.jpg`."""
    return f"{original.rsplit('.', 1)[0]}-{size}.jpg"


def touch_served(crop: Path, now: float | None = None) -> None:
    """Record that a cached crop was served (its mtime), when the last record is more than TOUCH_EVERY old."""
    now = time.time() if now is None else now
    if crop.stat().st_mtime < now - TOUCH_EVERY:
        os.utime(crop, (now, now))


@dataclass
class Pruned:
    stale: int = 0  # crops not served for the maximum age, or beyond the size budget
    orphans: int = 0  # files no attachment names


def _prune(store: MediaStore, known: set[str], max_age_days: float, max_bytes: int, now: float) -> Pruned:
    """Delete what the picture cache should not keep; `known` is every attachment's file name."""
    known_stems = {name.rsplit(".", 1)[0] for name in known}
    pruned = Pruned()
    doomed: list[str] = []
    crops: list[tuple[float, int, str]] = []
    for entry in store.listing(storage.ATTACHMENTS + "/"):
        folder, _, file_name = entry.name.rpartition("/")
        crop = _CROP.match(file_name)
        owner = f"{folder}/{crop['original']}" if crop else None
        if entry.name in known or owner in known_stems:
            if crop:
                crops.append((entry.modified, entry.size, entry.name))
        elif entry.modified < now - ORPHAN_GRACE:
            doomed.append(entry.name)
            pruned.orphans += 1
    kept = 0
    for modified, size, name in sorted(crops, reverse=True):  # most recently served first
        if modified < now - max_age_days * 86400 or kept + size > max_bytes:
            doomed.append(name)
            pruned.stale += 1
        else:
            kept += size
    store.delete(doomed)
    return pruned


async def prune_picture_cache(ctx: Context, max_age_days: float = MAX_AGE_DAYS, max_bytes: int = MAX_BYTES) -> Pruned:
    """Delete stale crops and orphan picture files (see the module); what was removed."""
    known = set(await ctx.db.run(store.attachment_files_txn, desc="attachments.files"))
    pruned = await run_io(_prune, storage.media(ctx.settings), known, max_age_days, max_bytes, time.time())
    if pruned.stale or pruned.orphans:
        log.info("picture cache: removed {stale} crop(s), {orphans} orphan file(s)", **vars(pruned))
    return pruned


@task(PRUNE_TASK, max_retries=2, timeout=3600)
async def prune_picture_cache_task(ctx: Context) -> None:
    await prune_picture_cache(ctx)
