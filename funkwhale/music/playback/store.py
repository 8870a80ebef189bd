"""SQL for playback: the uploads a viewer (or a remote actor) may play, listen-token users, transcoded versions,
the cached copies of remote audio, and their caches' pruning."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from funkwhale.activitypub import store as activitypub_store
from funkwhale.db.params import PositionalParams
from funkwhale.music.visibility import Viewer, playable_upload_condition

# At most this many uploads of one track are considered when choosing what to play.
CANDIDATES = 20


# A library of another server: its actor has no key here.
REMOTE_LIBRARY = "EXISTS (SELECT 1 FROM actor la WHERE la.id = l.actor_id AND la.private_key IS NULL)"


def playable_uploads_txn(
    txn: Any, viewer: Viewer, track: uuid.UUID | int, upload_uuid: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The uploads of a track (by uuid or id) the viewer may play (only `upload_uuid` when given), those with
    a local file first, newest first; each with the track, album and artist names a download filename needs,
    and whether it is a remote upload (`remote`: its audio comes from its `source` URL until cached)."""
    return _uploads_txn(
        txn, track, upload_uuid, lambda params: playable_upload_condition(params, viewer, "u", "l")
    )


def readable_uploads_txn(
    txn: Any, actor_id: int, track: uuid.UUID | int, upload_uuid: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The finished uploads of a track in this server's own libraries that actor `actor_id` (a remote actor who
    signed the request) may read (activitypub.store.may_read_library_txn), as playable_uploads_txn lists them."""
    uploads = _uploads_txn(
        txn, track, upload_uuid, lambda _: f"u.import_status = 'finished' AND NOT {REMOTE_LIBRARY}"
    )
    allowed = {
        library: activitypub_store.may_read_library_txn(txn, library, actor_id)
        for library in {upload["library_id"] for upload in uploads}
    }
    return [upload for upload in uploads if allowed[upload["library_id"]]]


def _uploads_txn(
    txn: Any,
    track: uuid.UUID | int,
    upload_uuid: uuid.UUID | None,
    condition: Callable[[PositionalParams], str],
) -> list[dict[str, Any]]:
    """The uploads of a track matching `condition` (built with the statement's positional parameters)."""
    params = PositionalParams()
    column = "t.id" if isinstance(track, int) else "t.uuid"
    where = f"{column} = {params.bind(track)}"
    where += f" AND {condition(params)}"
    if upload_uuid is not None:
        where += f" AND u.uuid = {params.bind(upload_uuid)}"
    txn.execute(
        f"""
        SELECT u.id, u.uuid, u.audio_file, u.source, u.mimetype, u.bitrate, u.size, u.duration, u.library_id,
               {REMOTE_LIBRARY} AS remote,
               t.id AS track_id, t.title, al.title AS album_title, ar.name AS artist_name
        FROM track t
        JOIN upload u ON u.track_id = t.id
        JOIN library l ON l.id = u.library_id
        JOIN artist ar ON ar.id = t.artist_id
        LEFT JOIN album al ON al.id = t.album_id
        WHERE {where}
        ORDER BY (u.audio_file IS NOT NULL OR u.source LIKE 'file://%%') DESC, u.creation_date DESC, u.id DESC
        LIMIT {params.bind(CANDIDATES)}
        """,
        params.params,
    )
    return txn.fetchall()


def media_rejected_txn(txn: Any, upload_id: int, source_domain: str) -> bool:
    """Whether an active instance policy rejects the media of a remote upload: one on its library's actor, its
    domain, or the domain its audio comes from."""
    txn.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM upload u
            JOIN library l ON l.id = u.library_id
            JOIN actor a ON a.id = l.actor_id
            JOIN instance_policy p ON p.target_actor_id = a.id OR p.target_domain IN (a.domain, %s)
            WHERE u.id = %s AND p.is_active AND (p.reject_media OR p.block_all)
        ) AS rejected
        """,
        (source_domain, upload_id),
    )
    return bool(txn.fetchone()["rejected"])


def audio_file_txn(txn: Any, upload_id: int) -> str | None:
    """An upload's file under MEDIA_ROOT (None while a remote upload is not cached)."""
    txn.execute("SELECT audio_file FROM upload WHERE id = %s", (upload_id,))
    row = txn.fetchone()
    return row["audio_file"] if row else None


def cache_remote_file_txn(txn: Any, upload_id: int, audio_file: str) -> None:
    """Record the cached copy of a remote upload's audio (just accessed)."""
    txn.execute("UPDATE upload SET audio_file = %s, accessed_date = now() WHERE id = %s", (audio_file, upload_id))


def drop_stale_remote_files_txn(txn: Any, max_age_seconds: float, cache_prefix: str) -> list[str]:
    """Forget the cached copies of remote uploads (files named under `cache_prefix`) not played for
    `max_age_seconds`, and the transcodes of remote uploads not played for as long; their files (for the caller
    to delete). The uploads' audio is fetched again on their next play."""
    txn.execute(
        f"""
        WITH stale AS (
            SELECT id, audio_file FROM upload
            WHERE audio_file LIKE %(prefix)s
              AND (accessed_date IS NULL OR accessed_date < now() - make_interval(secs => %(age)s))
            FOR UPDATE SKIP LOCKED
        ), cleared AS (
            UPDATE upload u SET audio_file = NULL FROM stale WHERE u.id = stale.id RETURNING stale.audio_file
        ), versions AS (
            DELETE FROM upload_version v USING upload u, library l
            WHERE v.upload_id = u.id AND l.id = u.library_id AND {REMOTE_LIBRARY}
              AND v.accessed_date < now() - make_interval(secs => %(age)s)
            RETURNING v.audio_file
        )
        SELECT audio_file FROM cleared UNION ALL SELECT audio_file FROM versions
        """,
        {"prefix": cache_prefix.replace("%", r"\%").replace("_", r"\_") + "/%", "age": max_age_seconds},
    )
    return [row["audio_file"] for row in txn.fetchall()]


def token_user_txn(txn: Any, user_id: int) -> dict[str, Any] | None:
    """id, actor_id and secret_key of an active user (a listen token names them)."""
    txn.execute(
        "SELECT id, actor_id, secret_key::text AS secret_key FROM users WHERE id = %s AND is_active",
        (user_id,),
    )
    return txn.fetchone()


def touch_upload_txn(txn: Any, upload_id: int) -> None:
    """Record a play (the key of remote-file cache eviction), at most once a minute per upload."""
    txn.execute(
        "UPDATE upload SET accessed_date = now()"
        " WHERE id = %s AND (accessed_date IS NULL OR accessed_date < now() - interval '1 minute')",
        (upload_id,),
    )


def count_download_txn(txn: Any, track_id: int) -> None:
    txn.execute("UPDATE track SET downloads_count = downloads_count + 1 WHERE id = %s", (track_id,))


def use_version_txn(txn: Any, upload_id: int, mimetype: str, bitrate: int) -> dict[str, Any] | None:
    """The cached transcode of an upload (audio_file, size), marked as just accessed; None if there is none."""
    txn.execute(
        "UPDATE upload_version SET accessed_date = now()"
        " WHERE upload_id = %s AND mimetype = %s AND bitrate = %s RETURNING audio_file, size",
        (upload_id, mimetype, bitrate),
    )
    return txn.fetchone()


def save_version_txn(txn: Any, upload_id: int, mimetype: str, bitrate: int, audio_file: str, size: int) -> None:
    """Record a finished transcode; a concurrent one for the same key simply replaces it."""
    txn.execute(
        """
        INSERT INTO upload_version (upload_id, mimetype, bitrate, audio_file, size)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (upload_id, mimetype, bitrate)
        DO UPDATE SET audio_file = EXCLUDED.audio_file, size = EXCLUDED.size, accessed_date = now()
        """,
        (upload_id, mimetype, bitrate, audio_file, size),
    )


def delete_stale_versions_txn(txn: Any, max_age_seconds: float, max_bytes: int) -> list[str]:
    """Forget the transcodes not accessed for `max_age_seconds`, and the least recently accessed ones beyond
    `max_bytes` in total; returns their files (for the caller to delete)."""
    txn.execute(
        """
        WITH ranked AS (
            SELECT id, accessed_date,
                   sum(size) OVER (ORDER BY accessed_date DESC, id DESC) AS kept_bytes
            FROM upload_version
        )
        DELETE FROM upload_version v USING ranked r
        WHERE v.id = r.id AND (r.accessed_date < now() - make_interval(secs => %s) OR r.kept_bytes > %s)
        RETURNING v.audio_file
        """,
        (max_age_seconds, max_bytes),
    )
    return [row["audio_file"] for row in txn.fetchall()]
