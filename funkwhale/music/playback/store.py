"""SQL for playback: the uploads a viewer may play, listen-token users, transcoded versions and their cache."""

from __future__ import annotations

import uuid
from typing import Any

from funkwhale.db.params import PositionalParams
from funkwhale.music.visibility import Viewer, playable_upload_condition

# At most this many uploads of one track are considered when choosing what to play.
CANDIDATES = 20


def playable_uploads_txn(
    txn: Any, viewer: Viewer, track: uuid.UUID | int, upload_uuid: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The uploads of a track (by uuid or id) the viewer may play (only `upload_uuid` when given), those with
    a local file first, newest first; each with the track, album and artist names a download filename needs."""
    params = PositionalParams()
    column = "t.id" if isinstance(track, int) else "t.uuid"
    where = f"{column} = {params.bind(track)} AND {playable_upload_condition(params, viewer, 'u', 'l')}"
    if upload_uuid is not None:
        where += f" AND u.uuid = {params.bind(upload_uuid)}"
    txn.execute(
        f"""
        SELECT u.id, u.uuid, u.audio_file, u.source, u.mimetype, u.bitrate, u.size, u.duration,
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


def save_version_txn(
    txn: Any, upload_id: int, mimetype: str, bitrate: int, audio_file: str, size: int
) -> None:
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
