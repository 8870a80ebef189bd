"""The hourly pruning of the picture cache (the durable task `music.prune_picture_cache`, run by the worker):
crops not served for a month or beyond the size budget go, and so do files whose attachment row is gone."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest_twisted

from funkwhale import storage
from funkwhale.jobs import housekeeping_jobs
from funkwhale.music import attachments
from funkwhale.music.attachments.crops import prune_picture_cache
from funkwhale.music.models import Picture

from .audio import make_cover
from .federation_helpers import eventually
from .test_attachments import attachment_uuid

DAY = 86400


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def _picture(server, color: str) -> tuple[str, Path]:
    ctx = server.ctx
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(make_cover(color), "")))
    row = await attachments.get_attachment(ctx, picture_uuid)
    return picture_uuid, storage.absolute(ctx.settings, row["file"])


async def _crop(client, picture_uuid: str, name: str) -> None:
    resp = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next={name}")
    assert resp.code == 200, resp


@pytest_twisted.ensureDeferred
async def test_the_hourly_job_prunes_stale_crops_and_orphan_files(server, db_conn):
    client = server.client()
    kept_uuid, kept = await _picture(server, "red")
    gone_uuid, gone = await _picture(server, "blue")
    for picture_uuid in (kept_uuid, gone_uuid):
        for name in ("medium_square_crop", "large_square_crop"):
            await _crop(client, picture_uuid, name)
    medium, large = kept.with_name(f"{kept.stem}-200.jpg"), kept.with_name(f"{kept.stem}-600.jpg")
    orphans = [gone, gone.with_name(f"{gone.stem}-200.jpg"), gone.with_name(f"{gone.stem}-600.jpg")]
    assert all(p.is_file() for p in [medium, large, *orphans])

    _age(medium, 40 * DAY)  # not served for 40 days
    _age(large, 40 * DAY)
    await _crop(client, kept_uuid, "large_square_crop")  # ... but this one is served again now
    with db_conn.cursor() as cur:  # a picture whose row went without its files (say, a crash in between)
        cur.execute("DELETE FROM attachment WHERE uuid = %s", (gone_uuid,))
    for path in orphans:
        _age(path, 2 * 3600)
    fresh = gone.parent / ".tmp-being-written.jpg"  # a picture being written: its row is not committed yet
    fresh.write_bytes(b"...")

    job = {j.name: j for j in housekeeping_jobs(server.ctx)}["music.prune_picture_cache"]
    await job.run()
    await eventually(lambda: not medium.exists(), what="the stale crop to be pruned by the worker")
    await eventually(lambda: not any(p.exists() for p in orphans), what="the orphan files to go")
    assert kept.is_file() and large.is_file() and fresh.is_file()
    await _crop(client, kept_uuid, "medium_square_crop")  # made again on demand
    assert medium.is_file()


@pytest_twisted.ensureDeferred
async def test_crops_beyond_the_size_budget_go_least_recently_served_first(server):
    client = server.client()
    picture_uuid, original = await _picture(server, "green")
    for name in ("small_square_crop", "medium_square_crop", "large_square_crop"):
        await _crop(client, picture_uuid, name)
    small, medium, large = (original.with_name(f"{original.stem}-{size}.jpg") for size in (50, 200, 600))
    _age(small, 3 * DAY)
    _age(medium, 2 * DAY)
    _age(large, 1 * DAY)
    budget = large.stat().st_size + medium.stat().st_size
    pruned = await prune_picture_cache(server.ctx, max_bytes=budget)
    assert (pruned.stale, pruned.orphans) == (1, 0)
    assert (small.exists(), medium.exists(), large.exists(), original.exists()) == (False, True, True, True)
