"""Importing one upload: read its tags in a thread, find or create artist / album / track in one transaction,
store its cover, then mark it finished, skipped (already in the owner's libraries) or errored with a code.

Artist, album and track rows are shared by every upload that matches them, so what comes from the file (its
cover, its genres, the track's license, copyright and comment) is recorded on the upload
(`upload.attachment_cover_id`, `tagged_item.upload_id`, `upload.metadata`), never on the shared rows: the catalog
shows a viewer only what the uploads they may play contributed.

A broken file is the upload's error, never the worker's: only transient failures (the database going away)
raise, so that the queue retries them.
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
from funkwhale.music.importer import store
from funkwhale.music.metadata import find_folder_cover, read_metadata
from funkwhale.music.models import (
    ALREADY_IMPORTED,
    FILE_NOT_FOUND,
    STORAGE_UNAVAILABLE,
    TRACK_UUID_NOT_FOUND,
    UNKNOWN_ERROR,
    Metadata,
    MetadataError,
)
from funkwhale.music.normalize import fold
from funkwhale.music.uploads import remove_media
from funkwhale.storage.base import StorageError, StoredFile
from funkwhale.tasks import queue
from funkwhale.threads import run_cpu

log = Logger()

UNKNOWN_ALBUM = "[Unknown Album]"
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


def _lock_keys(meta: Metadata) -> list[str]:
    """Every name or id the import may create a row for: artists, the album (tracks are made under its lock),
    MusicBrainz ids (unique) and tags."""
    keys = [f"artist:{fold(n)}" for n in (*meta.artists, *meta.album_artists)]
    album_artist = (meta.album_artists or meta.artists)[0]
    keys.append(f"album:{fold(album_artist)}:{fold(meta.album or UNKNOWN_ALBUM)}")
    keys += [f"mbid:{m}" for m in (*meta.artist_mbids, *meta.album_artist_mbids, meta.album_mbid) if m]
    keys += [f"tag:{g.lower()}" for g in meta.genres]
    return keys


def import_txn(txn: Any, row: dict[str, Any], meta: Metadata, cover_id: int | None, base_url: str) -> str:
    """Everything the upload makes, in one transaction; returns the outcome (finished or skipped)."""
    store.lock_names_txn(txn, _lock_keys(meta))
    owner = row["actor_id"]  # what the upload creates is attributed to its library's actor, as Funkwhale does
    track_artist_id = store.artist_txn(
        txn, meta.artists[0], meta.artist_mbids[0] if meta.artist_mbids else None, base_url, owner
    )
    if meta.album_artists:
        album_artist_id = store.artist_txn(
            txn, meta.album_artists[0], meta.album_artist_mbids[0] if meta.album_artist_mbids else None, base_url,
            owner,
        )
    else:
        album_artist_id = track_artist_id
    album_id = store.album_txn(
        txn, meta.album or UNKNOWN_ALBUM, album_artist_id, meta.album_mbid, meta.release_date, base_url, owner
    )
    track_id = store.track_txn(
        txn,
        {
            "title": meta.title,
            "artist_id": track_artist_id,
            "album_id": album_id,
            "position": meta.track_number,
            "disc_number": meta.disc_number,
            "mbid": meta.mbid,
        },
        base_url,
        owner,
    )
    store.forget_contributions_txn(txn, row["id"])
    genres = list(meta.genres)
    if genres:
        store.tag_txn(txn, genres, "track", track_id, row["id"])
        store.tag_txn(txn, genres, "album", album_id, row["id"])
    duplicates = store.owned_duplicates_txn(txn, track_id, row["actor_id"], row["id"])
    status = "skipped" if duplicates else "finished"
    details = {"code": ALREADY_IMPORTED, "duplicates": duplicates} if duplicates else {}
    audio = {
        "duration": round(meta.duration) if meta.duration is not None else None,
        "bitrate": meta.bitrate,
        "sample_rate": meta.sample_rate,
        "mimetype": meta.mimetype,
    }
    from_file = {
        "lyrics": meta.lyrics,
        "replaygain": meta.replaygain or None,
        "license": meta.license,
        "copyright": meta.copyright,
        "description": meta.comment,
    }
    extra = {k: v for k, v in from_file.items() if v}
    cover_id = store.kept_attachment_txn(txn, cover_id)
    store.finish_upload_txn(txn, row["id"], status, track_id, album_id, cover_id, details, audio, extra)
    return status


async def _cover(ctx: Context, meta: Metadata, path: StoredFile, in_place: bool, actor_id: int) -> int | None:
    """The embedded picture, else (in-place files) a cover.jpg / folder.jpg beside the file."""
    try:
        if meta.cover is not None:
            return await attachments.store_picture(ctx, meta.cover, actor_id)
        if in_place:
            folder_cover = await run_cpu(find_folder_cover, path)
            if folder_cover is not None:
                return await attachments.store_picture_file(ctx, folder_cover, actor_id)
    except attachments.InvalidImage:
        log.info("ignoring an unreadable cover in {path}", path=str(path))
    return None


def forget_previous_txn(txn: Any, row: dict[str, Any], base_url: str) -> list[str]:
    """After a re-import (changed tags, a new cover): prune the local track, album and artists the upload had
    before when it left them with nothing, and its previous cover when nothing uses it; the files to remove."""
    tracks = [row["track_id"]] if row["track_id"] else []
    albums = [row["album_id"]] if row["album_id"] else []
    covers = (row["attachment_cover_id"],) if row["attachment_cover_id"] else ()
    return store.prune_orphans_txn(txn, store.lock_catalog_txn(txn, tracks, albums), base_url, covers)


async def process_upload(ctx: Context, upload_id: int) -> str | None:
    """Import a pending upload; returns its final status (None when there was nothing to do)."""
    row = await ctx.db.run(store.upload_for_import_txn, upload_id, desc="import.load")
    if row is None or row["import_status"] != "pending":
        return None
    try:
        path = upload_path(ctx, row)
        meta = apply_overrides(await run_cpu(read_metadata, path), row["import_metadata"] or {})
        if (row["import_metadata"] or {}).get("funkwhale", {}).get("track", {}).get("uuid"):
            raise MetadataError(TRACK_UUID_NOT_FOUND, "Importing onto an existing track is not supported.")
        in_place = not row["audio_file"]
        cover_id = await _cover(ctx, meta, path, in_place, row["actor_id"])
        status = await ctx.db.run(import_txn, row, meta, cover_id, ctx.settings.base_url, desc="import.upload")
    except MetadataError as e:
        await ctx.db.run(store.fail_upload_txn, upload_id, e.code, e.detail, desc="import.fail")
        log.info("upload {upload_id} errored: {code} ({detail})", upload_id=upload_id, code=e.code, detail=e.detail)
        return "errored"
    except StorageError as e:  # the bucket is down or refuses us: the upload says so, relaunch_import retries it
        await ctx.db.run(store.fail_upload_txn, upload_id, STORAGE_UNAVAILABLE, str(e)[:500], desc="import.fail")
        log.warn("upload {upload_id} errored: {error}", upload_id=upload_id, error=str(e))
        return "errored"
    except (ConnectionLost, DatabaseUnavailable, psycopg2.OperationalError, psycopg2.InterfaceError):
        raise  # the database went away, a deadlock, a timeout: the queue retries the task
    except Exception as e:
        log.failure("upload {upload_id} failed", upload_id=upload_id)
        detail = f"{type(e).__name__}: {e}"[:500]
        await ctx.db.run(store.fail_upload_txn, upload_id, UNKNOWN_ERROR, detail, desc="import.fail")
        return "errored"
    if row["track_id"] or row["attachment_cover_id"]:
        files = await ctx.db.run(forget_previous_txn, row, ctx.settings.base_url, desc="import.forget_previous")
        await remove_media(ctx, files)
    if status == "finished":
        await cache.invalidate(ctx, cache.CATALOG)
        if await ctx.db.run(store.has_remote_followers_txn, row["library_id"], desc="import.followed"):
            await queue.enqueue_durable(ctx, PUBLISH_UPLOAD, upload_id)  # activitypub/music_outbox.py
    log.info(
        "upload {upload_id} {status}: {title} ({path})",
        upload_id=upload_id,
        status=status,
        title=meta.title,
        path=os.path.basename(str(path)),
    )
    return status
