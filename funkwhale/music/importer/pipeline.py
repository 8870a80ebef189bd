"""Importing uploads, many at once: read their tags (music/importer/readers.py), store their covers, find or
create their artists / albums / tracks in one transaction (music/importer/batch.py), then mark each finished,
skipped (already in the owner's libraries) or errored with its own code.

Artist, album and track rows are shared by every upload that matches them, so what comes from the file (its
cover, its genres, the track's license, copyright and comment) is recorded on the upload
(`upload.attachment_cover_id`, `tagged_item.upload_id`, `upload.metadata`), never on the shared rows: the catalog
shows a viewer only what the uploads they may play contributed.

A broken file is the upload's error, never the worker's nor its batch's: only transient failures (the database
going away) raise, so that the queue retries them; a batch whose transaction fails otherwise is imported again
one upload at a time, so that the upload at fault fails alone.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import psycopg2
from twisted.enterprise.adbapi import ConnectionLost
from twisted.logger import Logger

from funkwhale import cache, storage
from funkwhale.context import Context
from funkwhale.db.pool import DatabaseUnavailable
from funkwhale.music import attachments, sources
from funkwhale.music.importer import batch, readers, store
from funkwhale.music.models import (
    FILE_NOT_FOUND,
    STORAGE_UNAVAILABLE,
    TRACK_UUID_NOT_FOUND,
    UNKNOWN_ERROR,
    Metadata,
    MetadataError,
)
from funkwhale.music.uploads import remove_media
from funkwhale.storage.base import StorageError, StoredFile
from funkwhale.tasks import queue

log = Logger()

# The task that tells the remote followers of the upload's library (activitypub/music_outbox.py registers it
# under this name; the importer names it without importing federation code).
PUBLISH_UPLOAD = "federation.publish_upload"


def upload_path(ctx: Context, row: dict[str, Any]) -> StoredFile:
    """The file of an upload: its media file (in a bucket: an object read by ranges), or the referenced file of an
    in-place import."""
    if row["audio_file"]:
        return storage.media(ctx.settings).file(row["audio_file"])
    path = sources.local_path(row["source"])
    if path is not None:
        return path
    raise MetadataError(FILE_NOT_FOUND, "The upload has no file.")


def apply_overrides(meta: Metadata, overrides: dict[str, Any]) -> Metadata:
    """Funkwhale's import_metadata: values given with the upload win over the file's tags."""
    changes: dict[str, Any] = {}
    if isinstance(overrides.get("title"), str) and overrides["title"].strip():
        changes["title"] = overrides["title"].strip()
    if isinstance(overrides.get("position"), int):
        changes["track_number"] = overrides["position"]
    if isinstance(overrides.get("album"), str) and overrides["album"].strip():
        changes["album"] = overrides["album"].strip()
    if isinstance(overrides.get("tags"), list):
        changes["genres"] = tuple(str(t) for t in overrides["tags"] if str(t).strip())
    if isinstance(overrides.get("mbid"), str):
        changes["mbid"] = overrides["mbid"]
    return dataclasses.replace(meta, **changes) if changes else meta


def forget_previous_txn(txn: Any, rows: list[dict[str, Any]], base_url: str) -> list[str]:
    """After a re-import (changed tags, a new cover): prune the local tracks, albums and artists the uploads had
    before when they left them with nothing, and their previous covers when nothing uses them; the files to
    remove."""
    tracks = sorted({r["track_id"] for r in rows if r["track_id"]})
    albums = sorted({r["album_id"] for r in rows if r["album_id"]})
    covers = tuple(sorted({r["attachment_cover_id"] for r in rows if r["attachment_cover_id"]}))
    return store.prune_orphans_txn(txn, store.lock_catalog_txn(txn, tracks, albums), base_url, covers)


def import_txn(
    txn: Any, items: list[batch.Item], failures: dict[int, tuple[str, str]], base_url: str
) -> tuple[dict[int, str], list[queue.Message]]:
    """Import the items and mark the `failures` errored ({upload id: (code, detail)}), in one transaction that
    also records the publication of the finished uploads whose library has remote followers; their statuses by
    upload id, and the messages to push once committed."""
    statuses = batch.import_batch_txn(txn, items, base_url) if items else {}
    if failures:
        statuses.update(dict.fromkeys(store.fail_uploads_txn(txn, failures), "errored"))
    finished = [i.row for i in items if statuses.get(i.row["id"]) == "finished"]
    followed = store.followed_libraries_txn(txn, sorted({r["library_id"] for r in finished})) if finished else set()
    published: list[tuple[Any, ...] | list[Any]] = [[r["id"]] for r in finished if r["library_id"] in followed]
    return statuses, queue.enqueue_durable_many_txn(txn, PUBLISH_UPLOAD, published) if published else []


async def _covers(ctx: Context, reads: list[tuple[dict[str, Any], Metadata, str | None]]) -> dict[int, int | None]:
    """The cover of each upload (by id): its embedded picture, else (in-place files) the cover.jpg / folder.jpg
    beside it; each distinct picture is stored once."""
    stored: dict[Any, int | None] = {}
    covers: dict[int, int | None] = {}
    for row, meta, folder_cover in reads:
        key: Any = meta.cover.data if meta.cover is not None else folder_cover
        if key is not None and key not in stored:
            try:
                if meta.cover is not None:
                    stored[key] = await attachments.store_picture(ctx, meta.cover, row["actor_id"])
                else:
                    stored[key] = await attachments.store_picture_file(ctx, key, row["actor_id"])
            except (attachments.InvalidImage, OSError):
                log.info("ignoring a cover of upload {upload_id} that could not be read", upload_id=row["id"])
                stored[key] = None
        covers[row["id"]] = stored.get(key)
    return covers


_TRANSIENT = (ConnectionLost, DatabaseUnavailable, psycopg2.OperationalError, psycopg2.InterfaceError)


async def _import(ctx: Context, items: list[batch.Item], failures: dict[int, tuple[str, str]]) -> dict[int, str]:
    """Run import_txn; when it fails other than transiently, import each item alone (the one at fault is marked
    errored with UNKNOWN_ERROR), then record the failures."""
    try:
        statuses, messages = await ctx.db.run(import_txn, items, failures, ctx.settings.base_url, desc="import.batch")
    except _TRANSIENT:
        raise  # the database went away, a deadlock, a timeout: the queue retries the task
    except Exception as e:
        if len(items) > 1 or (items and failures):
            statuses = {}
            for item in items:
                statuses.update(await _import(ctx, [item], {}))
            return {**statuses, **(await _import(ctx, [], failures) if failures else {})}
        if not items:
            raise
        upload_id = items[0].row["id"]
        log.failure("upload {upload_id} failed", upload_id=upload_id)
        return await _import(ctx, [], {upload_id: (UNKNOWN_ERROR, f"{type(e).__name__}: {e}"[:500])})
    await queue.push(ctx, *messages)
    return statuses


async def process_uploads(ctx: Context, upload_ids: list[int]) -> dict[int, str]:
    """Import the pending ones of the uploads; their final status by id (an upload that was not pending, or that
    another run imported meanwhile, is left out)."""
    return await import_rows(ctx, await ctx.db.run(store.uploads_for_import_txn, upload_ids, desc="import.load"))


async def import_rows(ctx: Context, rows: list[dict[str, Any]]) -> dict[int, str]:
    """process_uploads of the uploads' rows (store.uploads_for_import_txn)."""
    rows = [r for r in rows if r["import_status"] == "pending"]
    failures: dict[int, tuple[str, str]] = {}
    jobs: list[tuple[dict[str, Any], StoredFile]] = []
    for row in rows:
        try:
            if (row["import_metadata"] or {}).get("funkwhale", {}).get("track", {}).get("uuid"):
                raise MetadataError(TRACK_UUID_NOT_FOUND, "Importing onto an existing track is not supported.")
            jobs.append((row, upload_path(ctx, row)))
        except MetadataError as e:
            failures[row["id"]] = (e.code, e.detail)
    reads = await readers.read_many([(path, not row["audio_file"]) for row, path in jobs])
    found: list[tuple[dict[str, Any], Metadata, str | None]] = []
    for (row, _), read in zip(jobs, reads, strict=True):
        if read.meta is None:
            failures[row["id"]] = read.error or (UNKNOWN_ERROR, "")
        else:
            found.append((row, apply_overrides(read.meta, row["import_metadata"] or {}), read.folder_cover))
    try:
        covers = await _covers(ctx, found)
    except StorageError as e:  # the bucket is down or refuses us: the uploads say so, relaunch_import retries them
        log.warn("uploads errored: {error}", error=str(e))
        failures.update({row["id"]: (STORAGE_UNAVAILABLE, str(e)[:500]) for row, _, _ in found})
        found = []
    if not found and not failures:
        return {}
    statuses = await _import(ctx, [batch.Item(row, meta, covers[row["id"]]) for row, meta, _ in found], failures)
    for upload_id, (code, detail) in failures.items():
        log.info("upload {upload_id} errored: {code} ({detail})", upload_id=upload_id, code=code, detail=detail)
    await _after(ctx, [(row, meta) for row, meta, _ in found], statuses)
    return statuses


async def _after(ctx: Context, imported: list[tuple[dict[str, Any], Metadata]], statuses: dict[int, str]) -> None:
    """What follows an import: the catalog rows the uploads had before pruned, caches invalidated."""
    done = [row for row, _ in imported if statuses.get(row["id"]) in ("finished", "skipped")]
    previous = [row for row in done if row["track_id"] or row["attachment_cover_id"]]
    if previous:
        files = await ctx.db.run(forget_previous_txn, previous, ctx.settings.base_url, desc="import.forget_previous")
        await remove_media(ctx, files)
    if any(statuses[row["id"]] == "finished" for row in done):
        await cache.invalidate(ctx, cache.CATALOG)
    for row, meta in imported:
        if row["id"] in statuses:
            log.info(
                "upload {upload_id} {status}: {title} ({path})",
                upload_id=row["id"],
                status=statuses[row["id"]],
                title=meta.title,
                path=os.path.basename(row["source"] or row["audio_file"] or ""),
            )


async def process_upload(ctx: Context, upload_id: int) -> str | None:
    """Import a pending upload; returns its final status (None when there was nothing to do)."""
    return (await process_uploads(ctx, [upload_id])).get(upload_id)
