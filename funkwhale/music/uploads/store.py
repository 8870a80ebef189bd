"""SQL for libraries and uploads as their owners manage them (lists are one statement each)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg2.extras import Json

from funkwhale.db.params import PositionalParams
from funkwhale.music.attachments import store as attachments_store
from funkwhale.music.sql import Fragments
from funkwhale.music.visibility import Viewer, library_condition, playable_upload_condition

# A library's owner (actor_*) and statistics (s), joined to `library l` (library_json reads them).
_LIBRARY_OWNER_COLUMNS = """
       a.fid AS actor_fid, a.url AS actor_url, a.preferred_username AS actor_preferred_username,
       a.name AS actor_name, a.domain AS actor_domain, a.summary AS actor_summary, a.type AS actor_type,
       a.creation_date AS actor_creation_date, a.last_fetch_date AS actor_last_fetch_date,
       a.manually_approves_followers AS actor_manually_approves_followers"""
_LIBRARY_OWNER_JOINS = """
JOIN actor a ON a.id = l.actor_id
LEFT JOIN LATERAL (
    SELECT count(*) AS uploads_count, sum(su.size) FILTER (WHERE su.import_status = 'finished') AS size
    FROM upload su WHERE su.library_id = l.id
) s ON true"""

_LIBRARY_SELECT = f"""
SELECT l.id, l.uuid, l.fid, l.name, l.description, l.privacy_level, l.creation_date, l.actor_id,
       COALESCE(s.uploads_count, 0) AS uploads_count, COALESCE(s.size, 0)::bigint AS size,
{_LIBRARY_OWNER_COLUMNS}
FROM library l
{_LIBRARY_OWNER_JOINS}
"""

_UPLOAD_SELECT = f"""
SELECT u.id, u.uuid, u.fid, u.original_name, u.mimetype, u.size, u.duration, u.bitrate, u.import_date,
       u.import_status, u.import_details, u.import_metadata, u.import_reference, u.source, u.metadata,
       u.creation_date, u.audio_file,
       u.track_id, l.uuid AS library_uuid, l.fid AS library_fid, l.name AS library_name,
       l.description AS library_description, l.privacy_level AS library_privacy_level,
       l.creation_date AS library_creation_date, COALESCE(s.uploads_count, 0) AS library_uploads_count,
       COALESCE(s.size, 0)::bigint AS library_size,
{_LIBRARY_OWNER_COLUMNS}
FROM upload u
JOIN library l ON l.id = u.library_id
LEFT JOIN track t ON t.id = u.track_id
{_LIBRARY_OWNER_JOINS}
"""

# Orderings the upload list offers -> column (each has an index or is scoped to one owner's uploads).
UPLOAD_ORDERINGS = {
    "creation_date": "u.creation_date",
    "import_date": "u.import_date",
    "size": "u.size",
    "bitrate": "u.bitrate",
    "duration": "u.duration",
}


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (its own wildcards escaped)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _counted(rows: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    count = rows[0].pop("total") if rows else 0
    for row in rows[1:]:
        row.pop("total")
    return count, rows


# --- libraries ---


@dataclass(frozen=True)
class LibraryFilters:
    scope_all: bool = False  # every library the viewer may see, not only their own
    privacy_level: str | None = None
    q: str | None = None
    holding: tuple[str, int] | None = None  # ("track" | "album" | "artist", id): libraries with its finished uploads


# What a library holds of an object, over a finished upload `hu` of track `ht` (%s: the object's id).
_HOLDING = {
    "track": "ht.id = %s",
    "album": "ht.album_id = %s",
    "artist": "(ht.artist_id = %s OR ht.album_id IN (SELECT id FROM album WHERE artist_id = %s))",
}


def list_libraries_txn(
    txn: Any, viewer: Viewer, filters: LibraryFilters, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of libraries), newest first."""
    if filters.scope_all:
        binder = PositionalParams()
        where, params = library_condition(binder, viewer, "l"), binder.params
    else:
        where, params = "l.actor_id = %s", [viewer.actor_id]
    if filters.privacy_level:
        where += " AND l.privacy_level = %s"
        params.append(filters.privacy_level)
    if filters.q:
        where += " AND l.name ILIKE %s"
        params.append(_like(filters.q))
    if filters.holding is not None:
        kind, object_id = filters.holding
        where += (
            " AND EXISTS (SELECT 1 FROM upload hu JOIN track ht ON ht.id = hu.track_id WHERE hu.library_id = l.id"
            f" AND hu.import_status = 'finished' AND {_HOLDING[kind]})"
        )
        params.extend([object_id] * _HOLDING[kind].count("%s"))
    txn.execute(
        _LIBRARY_SELECT.replace("SELECT ", "SELECT count(*) OVER () AS total, ", 1)
        + f" WHERE {where} ORDER BY l.creation_date DESC, l.id DESC LIMIT %s OFFSET %s",
        [*params, limit, offset],
    )
    return _counted(txn.fetchall())


def get_library_txn(txn: Any, library_uuid: uuid.UUID, viewer: Viewer, owner_only: bool) -> dict[str, Any] | None:
    """One library the viewer may see (or, with owner_only, one they own)."""
    if owner_only:
        where, params = "l.actor_id = %s", [viewer.actor_id]
    else:
        binder = PositionalParams()
        where, params = library_condition(binder, viewer, "l"), binder.params
    txn.execute(_LIBRARY_SELECT + f" WHERE l.uuid = %s AND {where}", [library_uuid, *params])
    return txn.fetchone()


def insert_library_txn(txn: Any, actor_id: int, library_uuid: uuid.UUID, fid: str, values: dict[str, Any]) -> None:
    txn.execute(
        "INSERT INTO library (uuid, fid, actor_id, name, description, privacy_level) VALUES (%s, %s, %s, %s, %s, %s)",
        (library_uuid, fid, actor_id, values["name"], values.get("description", ""), values.get("privacy_level", "me")),
    )


def update_library_txn(txn: Any, library_id: int, values: dict[str, Any]) -> None:
    """Set name, description and/or privacy_level (keys of `values`, already validated)."""
    if not values:
        return
    assignments = ", ".join(f"{name} = %s" for name in values)
    txn.execute(
        f"UPDATE library SET {assignments}, modification_date = now() WHERE id = %s", [*values.values(), library_id]
    )


def delete_library_txn(txn: Any, library_id: int) -> list[str]:
    """Delete a library and its uploads; the media files (relative names) to remove once committed."""
    txn.execute("SELECT id FROM library WHERE id = %s FOR UPDATE", (library_id,))  # no upload races in
    _, files = delete_uploads_txn(txn, "library_id = %s", [library_id])
    txn.execute("DELETE FROM library WHERE id = %s", (library_id,))
    return files


# --- uploads ---


@dataclass(frozen=True)
class UploadFilters:
    library: uuid.UUID | None = None
    import_status: tuple[str, ...] = ()
    import_reference: str | None = None
    track: int | uuid.UUID | None = None  # a track's id, or its uuid as 1.4's filter takes it
    mimetype: str | None = None
    track_artist: uuid.UUID | None = None
    album_artist: uuid.UUID | None = None
    q: str | None = None  # matched against the original file name and the folded track title
    q_key: str | None = None
    playable: bool | None = None


def _upload_where(viewer: Viewer, filters: UploadFilters) -> tuple[str, list[Any]]:
    where = "l.actor_id = %s"
    params: list[Any] = [viewer.actor_id]
    if filters.library is not None:
        where += " AND l.uuid = %s"
        params.append(filters.library)
    if filters.import_status:
        where += " AND u.import_status = ANY(%s)"
        params.append(list(filters.import_status))
    if filters.import_reference is not None:
        where += " AND u.import_reference = %s"
        params.append(filters.import_reference)
    if isinstance(filters.track, int):
        where += " AND u.track_id = %s"
        params.append(filters.track)
    elif filters.track is not None:
        where += " AND t.uuid = %s"
        params.append(filters.track)
    if filters.mimetype:
        where += " AND u.mimetype = %s"
        params.append(filters.mimetype)
    if filters.track_artist is not None:
        where += " AND t.artist_id = (SELECT id FROM artist WHERE uuid = %s)"
        params.append(filters.track_artist)
    if filters.album_artist is not None:
        where += " AND t.album_id IN (SELECT id FROM album WHERE artist_id = (SELECT id FROM artist WHERE uuid = %s))"
        params.append(filters.album_artist)
    if filters.q:
        where += " AND (u.original_name ILIKE %s OR t.title_key LIKE %s)"
        params += [_like(filters.q), _like(filters.q_key or filters.q)]
    if filters.playable is not None:
        binder = PositionalParams()
        where += f" AND {'' if filters.playable else 'NOT '}{playable_upload_condition(binder, viewer, 'u', 'l')}"
        params += binder.params
    return where, params


def list_uploads_txn(
    txn: Any, viewer: Viewer, filters: UploadFilters, ordering: tuple[str, bool], limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of the viewer's own uploads); ordering is (a key of UPLOAD_ORDERINGS, descending)."""
    where, params = _upload_where(viewer, filters)
    column, descending = UPLOAD_ORDERINGS[ordering[0]], ordering[1]
    direction = "DESC NULLS LAST" if descending else "ASC NULLS LAST"
    txn.execute(
        _UPLOAD_SELECT.replace("SELECT ", "SELECT count(*) OVER () AS total, ", 1)
        + f" WHERE {where} ORDER BY {column} {direction}, u.id {direction} LIMIT %s OFFSET %s",
        [*params, limit, offset],
    )
    count, rows = _counted(txn.fetchall())
    return count, _with_tracks_txn(txn, viewer, rows)


def get_upload_txn(txn: Any, viewer: Viewer, upload_uuid: uuid.UUID) -> dict[str, Any] | None:
    """One of the viewer's own uploads."""
    txn.execute(_UPLOAD_SELECT + " WHERE u.uuid = %s AND l.actor_id = %s", (upload_uuid, viewer.actor_id))
    row = txn.fetchone()
    return None if row is None else _with_tracks_txn(txn, viewer, [row])[0]


def _with_tracks_txn(txn: Any, viewer: Viewer, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The upload rows, each with its track as the catalog shows it to the viewer (`track`, None before import)."""
    ids = [row["track_id"] for row in rows if row["track_id"] is not None]
    tracks: dict[int, dict[str, Any]] = {}
    if ids:
        sql = Fragments(viewer)
        found = sql.fetchall(txn, f"SELECT {sql.columns('track')} FROM track p WHERE p.id = ANY({sql.bind(ids)})")
        tracks = {track["id"]: track for track in found}
    return [{**row, "track": tracks.get(row["track_id"])} for row in rows]


def uploader_txn(txn: Any, user_id: int, lock: bool = False) -> dict[str, Any] | None:
    """The user's quota override and actor. With `lock`, the user row stays locked until the transaction
    ends, so that concurrent uploads of one user are checked against the quota one at a time."""
    txn.execute("SELECT upload_quota, actor_id FROM users WHERE id = %s" + (" FOR UPDATE" if lock else ""), (user_id,))
    return txn.fetchone()


def usage_txn(txn: Any, actor_id: int | None) -> dict[str, int]:
    """Bytes of the actor's uploads per import status (every status present, 0 when none)."""
    txn.execute(
        "SELECT u.import_status, sum(u.size)::bigint AS size FROM upload u JOIN library l ON l.id = u.library_id"
        " WHERE l.actor_id = %s GROUP BY u.import_status",
        (actor_id,),
    )
    usage = dict.fromkeys(("draft", "pending", "finished", "errored", "skipped"), 0)
    usage.update({row["import_status"]: int(row["size"] or 0) for row in txn.fetchall()})
    return usage


def usage_of_user_txn(txn: Any, user_id: int) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """(the user's quota override and actor, or None; their usage per import status)."""
    user = uploader_txn(txn, user_id)
    return user, usage_txn(txn, user["actor_id"] if user else None)


def owned_library_id_txn(txn: Any, actor_id: int, library_uuid: uuid.UUID) -> int | None:
    txn.execute("SELECT id FROM library WHERE uuid = %s AND actor_id = %s", (library_uuid, actor_id))
    row = txn.fetchone()
    return row["id"] if row else None


def insert_upload_txn(txn: Any, values: dict[str, Any]) -> int:
    """Insert an upload row (`values`: column -> value; JSON columns as dicts); its id."""
    values = {k: Json(v) if isinstance(v, dict) else v for k, v in values.items()}
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    txn.execute(f"INSERT INTO upload ({columns}) VALUES ({marks}) RETURNING id", list(values.values()))
    return txn.fetchone()["id"]


def update_draft_txn(txn: Any, upload_id: int, values: dict[str, Any]) -> bool:
    """Set import fields (import_status, import_reference, import_metadata) of a draft upload; False when
    the upload is not a draft (any more)."""
    values = {k: Json(v) if isinstance(v, dict) else v for k, v in values.items()}
    assignments = "".join(f"{name} = %s, " for name in values)
    txn.execute(
        f"UPDATE upload SET {assignments}modification_date = now() WHERE id = %s AND import_status = 'draft'"
        " RETURNING id",
        [*values.values(), upload_id],
    )
    return txn.fetchone() is not None


def get_upload_by_id_txn(txn: Any, upload_id: int) -> dict[str, Any] | None:
    """An upload just received (so not imported yet: no track)."""
    txn.execute(_UPLOAD_SELECT + " WHERE u.id = %s", (upload_id,))
    row = txn.fetchone()
    return None if row is None else {**row, "track": None}


def _owned(actor_id: int, uuids: list[uuid.UUID] | None) -> tuple[str, list[Any]]:
    """SQL selecting the actor's uploads: all of them, or those among `uuids`."""
    where = "library_id IN (SELECT id FROM library WHERE actor_id = %s)"
    params: list[Any] = [actor_id]
    if uuids is not None:
        where += " AND uuid = ANY(%s)"
        params.append(uuids)
    return where, params


def requeue_uploads_txn(
    txn: Any, actor_id: int, uuids: list[uuid.UUID] | None, from_statuses: tuple[str, ...]
) -> list[int]:
    """Set the actor's selected uploads that are in `from_statuses` back to pending; their ids."""
    where, params = _owned(actor_id, uuids)
    txn.execute(
        "UPDATE upload SET import_status = 'pending', import_details = '{}', modification_date = now()"
        f" WHERE {where} AND import_status = ANY(%s) RETURNING id",
        [*params, list(from_statuses)],
    )
    return [row["id"] for row in txn.fetchall()]


def delete_owned_uploads_txn(txn: Any, actor_id: int, uuids: list[uuid.UUID] | None) -> tuple[int, list[str]]:
    """Delete the actor's selected uploads: (how many, media files to remove once committed)."""
    where, params = _owned(actor_id, uuids)
    return delete_uploads_txn(txn, where, params)


def delete_uploads_txn(txn: Any, where: str, params: list[Any]) -> tuple[int, list[str]]:
    """Delete the uploads matching `where` (on table upload) and their transcodes: (how many, the media
    files they leave behind). The uploads are locked first, so no transcode is added meanwhile. Their tags go with
    them (`tagged_item.upload_id` cascades), and so do the covers that nothing else uses any more."""
    txn.execute(
        f"SELECT audio_file FROM upload_version WHERE upload_id IN (SELECT id FROM upload WHERE {where} FOR UPDATE)",
        params,
    )
    files = [row["audio_file"] for row in txn.fetchall()]
    txn.execute(f"DELETE FROM upload WHERE {where} RETURNING audio_file, attachment_cover_id", params)
    deleted = txn.fetchall()
    covers = sorted({row["attachment_cover_id"] for row in deleted if row["attachment_cover_id"] is not None})
    pictures = attachments_store.delete_unused_txn(txn, covers) if covers else []
    return len(deleted), files + [row["audio_file"] for row in deleted if row["audio_file"]] + pictures
