"""SQL of the import: find-or-create artists, albums and tracks, tags, and the upload's outcome.

Matching follows Funkwhale: MusicBrainz ids first, then folded names (`*_key`, see music/normalize.py).
Concurrent imports of the same new names are serialised by transaction-scoped advisory locks on those keys.
"""

from __future__ import annotations

import datetime
import json
import uuid as uuid_module
from typing import Any

from psycopg2.extras import Json, execute_values

from funkwhale.music.attachments import store as attachments_store


def uploads_for_import_txn(txn: Any, upload_ids: list[int]) -> list[dict[str, Any]]:
    """The uploads (by id, in that order) with their library's id and owner."""
    txn.execute(
        """
        SELECT u.id, u.uuid, u.audio_file, u.source, u.import_status, u.import_metadata, u.metadata,
               u.track_id, u.album_id, u.attachment_cover_id, l.id AS library_id, l.actor_id
        FROM upload u JOIN library l ON l.id = u.library_id
        WHERE u.id = ANY(%s) ORDER BY u.id
        """,
        (upload_ids,),
    )
    return txn.fetchall()


def take_queued_uploads_txn(txn: Any, task: str, but: int, limit: int) -> list[int]:
    """Up to `limit` other pending uploads (not `but`) whose `task` (the import task) waits in the durable queue,
    their task rows marked running so that no other run takes them too: what one run of the task imports together
    with its own upload. Their own runs still come (and find them imported); if this run dies, the sweep of stale
    tasks pushes them again."""
    txn.execute(
        """
        UPDATE task SET status = 'running', update_date = now() WHERE id IN (
            SELECT t.id FROM task t
            JOIN upload u ON u.id = CASE WHEN jsonb_typeof(t.args -> 0) = 'number' THEN (t.args ->> 0)::bigint END
            WHERE t.name = %s AND t.status = 'pending' AND u.id <> %s AND u.import_status = 'pending'
            ORDER BY t.creation_date LIMIT %s FOR UPDATE OF t SKIP LOCKED
        ) RETURNING (args ->> 0)::bigint AS id
        """,
        (task, but, limit),
    )
    return sorted(row["id"] for row in txn.fetchall())


def claim_pending_txn(txn: Any, upload_ids: list[int]) -> set[int]:
    """Those of the uploads still pending, locked until commit: an upload two runs both picked is imported by the
    first to get there (the other finds it no longer pending)."""
    txn.execute("SELECT id, import_status FROM upload WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (upload_ids,))
    return {row["id"] for row in txn.fetchall() if row["import_status"] == "pending"}


def lock_names_txn(txn: Any, keys: list[str]) -> None:
    """Serialise imports that may create the same artists or albums (locks end with the transaction). All in one
    statement, in the order of the lock numbers, so that two imports of overlapping sets never deadlock."""
    if keys:
        txn.execute(
            """
            SELECT count(pg_advisory_xact_lock(h)) FROM (
                SELECT DISTINCT hashtext('music-import:' || k) AS h FROM unnest(%s::text[]) k ORDER BY 1
            ) s
            """,
            (sorted(set(keys)),),
        )


def _fid(base_url: str, kind: str, uuid: uuid_module.UUID) -> str:
    return f"{base_url}/federation/music/{kind}/{uuid}"


def new_row(base_url: str, kind: str) -> dict[str, Any]:
    """The uuid and fid of a row about to be created (kind: artists, albums, tracks, uploads)."""
    new = uuid_module.uuid4()
    return {"uuid": str(new), "fid": _fid(base_url, kind, new)}


def artists_matching_txn(txn: Any, mbids: list[str], name_keys: list[str]) -> list[dict[str, Any]]:
    """The artists with one of these MusicBrainz ids or folded names: {id, mbid, name_key}."""
    txn.execute(
        "SELECT id, mbid::text, name_key FROM artist WHERE mbid = ANY(%s::uuid[]) OR name_key = ANY(%s) ORDER BY id",
        (mbids, name_keys),
    )
    return txn.fetchall()


def albums_matching_txn(txn: Any, mbids: list[str], artist_ids: list[int], title_keys: list[str]) -> list[dict]:
    """The albums with one of these MusicBrainz ids, or by one of the artists with one of the folded titles:
    {id, mbid, artist_id, title_key, release_date}."""
    txn.execute(
        """
        SELECT id, mbid::text, artist_id, title_key, release_date FROM album
        WHERE mbid = ANY(%s::uuid[]) OR (artist_id = ANY(%s) AND title_key = ANY(%s)) ORDER BY id
        """,
        (mbids, artist_ids, title_keys),
    )
    return txn.fetchall()


def tracks_of_albums_txn(txn: Any, album_ids: list[int]) -> list[dict[str, Any]]:
    """The tracks of the albums: {id, mbid, title_key, artist_id, album_id, position, disc_number}."""
    txn.execute(
        """
        SELECT id, mbid::text, title_key, artist_id, album_id, position, disc_number FROM track
        WHERE album_id = ANY(%s) ORDER BY id
        """,
        (album_ids,),
    )
    return txn.fetchall()


# Multi-row inserts and updates take their rows as one JSON array (jsonb_to_recordset): one statement, typed.
_INSERTS = {
    "artist": ("uuid uuid, fid text, mbid uuid, name text, name_key text, attributed_to_id bigint"),
    "album": (
        "uuid uuid, fid text, mbid uuid, title text, title_key text, artist_id bigint, release_date date,"
        " attributed_to_id bigint"
    ),
    "track": (
        "uuid uuid, fid text, mbid uuid, title text, title_key text, artist_id bigint, album_id bigint,"
        " position integer, disc_number integer, attributed_to_id bigint"
    ),
}


def insert_rows_txn(txn: Any, table: str, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Create artists, albums or tracks (`table`) from rows with the columns of _INSERTS; {uuid: id}."""
    if not rows:
        return {}
    columns = _INSERTS[table]
    names = ", ".join(c.split()[0] for c in columns.split(","))
    txn.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM jsonb_to_recordset(%s) AS r({columns})"
        " RETURNING id, uuid::text",
        (Json(rows, dumps=_dumps),),
    )
    return {row["uuid"]: row["id"] for row in txn.fetchall()}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def set_artist_mbids_txn(txn: Any, mbids: dict[int, str]) -> None:
    """Record the MusicBrainz id of artists found by name: {artist id: mbid}."""
    if mbids:
        txn.execute(
            "UPDATE artist a SET mbid = r.mbid FROM jsonb_to_recordset(%s) AS r(id bigint, mbid uuid)"
            " WHERE a.id = r.id",
            (Json([{"id": k, "mbid": v} for k, v in mbids.items()]),),
        )


def set_album_dates_txn(txn: Any, dates: dict[int, datetime.date]) -> None:
    """Fill in the release date of albums that had none: {album id: date}."""
    if dates:
        txn.execute(
            "UPDATE album a SET release_date = r.release_date"
            " FROM jsonb_to_recordset(%s) AS r(id bigint, release_date date) WHERE a.id = r.id",
            (Json([{"id": k, "release_date": v.isoformat()} for k, v in dates.items()]),),
        )


def tag_ids_txn(txn: Any, names: list[str]) -> dict[str, list[int]]:
    """The tags of these names (matched case-insensitively, created when new): {lower name: [ids]}."""
    if not names:
        return {}
    firsts: dict[str, str] = {}
    for name in names:
        firsts.setdefault(name.lower(), name)
    txn.execute(
        """
        INSERT INTO tag (name) SELECT n FROM unnest(%s::text[]) n
        WHERE NOT EXISTS (SELECT 1 FROM tag WHERE lower(name) = lower(n)) ON CONFLICT DO NOTHING
        """,
        (list(firsts.values()),),
    )
    txn.execute("SELECT id, lower(name) AS key FROM tag WHERE lower(name) = ANY(%s) ORDER BY id", (list(firsts),))
    found: dict[str, list[int]] = {}
    for row in txn.fetchall():
        found.setdefault(row["key"], []).append(row["id"])
    return found


def tag_txn(txn: Any, names: list[str], object_type: str, object_id: int, upload_id: int) -> None:
    """Record the tags read from the upload's file (created when new, matched case-insensitively) on an album or
    track: viewers see them while they may play that upload."""
    ids = tag_ids_txn(txn, names)
    tag_items_txn(txn, [(i, object_type, object_id, upload_id) for n in names for i in ids.get(n.lower(), [])])


def tag_items_txn(txn: Any, items: list[tuple[int, str, int, int]]) -> None:
    """Tag objects: (tag id, object type, object id, upload id) each."""
    if items:
        execute_values(
            txn,
            "INSERT INTO tagged_item (tag_id, object_type, object_id, upload_id) VALUES %s ON CONFLICT DO NOTHING",
            items,
            page_size=1000,
        )


def forget_contributions_txn(txn: Any, upload_ids: list[int]) -> None:
    """Drop what an earlier import of the uploads recorded (their tags), before they are imported again."""
    txn.execute("DELETE FROM tagged_item WHERE upload_id = ANY(%s)", (upload_ids,))


def kept_attachments_txn(txn: Any, attachment_ids: list[int]) -> set[int]:
    """Those of the attachments that still exist, locked until commit so that the clean-up of unused pictures
    (music/uploads/store.py) cannot remove them meanwhile."""
    if not attachment_ids:
        return set()
    txn.execute("SELECT id FROM attachment WHERE id = ANY(%s) FOR KEY SHARE", (sorted(set(attachment_ids)),))
    return {row["id"] for row in txn.fetchall()}


def owned_finished_txn(txn: Any, track_ids: list[int], actor_ids: list[int], but: list[int]) -> list[dict]:
    """Finished uploads (other than `but`) of the tracks in libraries of the actors: {id, uuid, track_id,
    actor_id}, by id."""
    txn.execute(
        """
        SELECT u.id, u.uuid::text, u.track_id, l.actor_id FROM upload u JOIN library l ON l.id = u.library_id
        WHERE u.track_id = ANY(%s) AND l.actor_id = ANY(%s) AND u.import_status = 'finished' AND u.id <> ALL(%s)
        ORDER BY u.id
        """,
        (track_ids, actor_ids, but),
    )
    return txn.fetchall()


def finish_uploads_txn(txn: Any, outcomes: list[dict[str, Any]]) -> None:
    """Record imported uploads. Each outcome: id, status, track_id, album_id, cover_id, details, duration,
    bitrate, sample_rate, mimetype, metadata (merged into the upload's). The visibility facts (`track_library`) of
    the (track, library) pairs they finish are refreshed here, all in one statement, instead of one upload at a
    time at commit (migration 0011): under the same lock, and after it, as a new statement sees what others
    committed meanwhile."""
    txn.execute(
        """
        SELECT set_config('funkwhale.facts_by_statement', 'on', true);
        UPDATE upload u SET import_status = r.status, track_id = r.track_id, album_id = r.album_id,
               attachment_cover_id = r.cover_id, import_details = r.details, import_date = now(),
               duration = r.duration, bitrate = r.bitrate, sample_rate = r.sample_rate, mimetype = r.mimetype,
               metadata = u.metadata || r.metadata, modification_date = now()
        FROM jsonb_to_recordset(%(rows)s) AS r(id bigint, status text, track_id bigint, album_id bigint,
             cover_id bigint, details jsonb, duration integer, bitrate integer, sample_rate integer, mimetype text,
             metadata jsonb)
        WHERE u.id = r.id;
        SELECT set_config('funkwhale.facts_by_statement', 'off', true);
        SELECT pg_advisory_xact_lock(hashtext('track_library'), 0);
        INSERT INTO track_library (track_id, library_id, album_id, artist_id, duration)
        SELECT t.id, p.library_id, t.album_id, t.artist_id,
               (SELECT max(duration) FROM upload
                WHERE track_id = t.id AND library_id = p.library_id AND import_status = 'finished')
        FROM (SELECT DISTINCT track_id, library_id FROM upload
              WHERE id = ANY(%(ids)s) AND import_status = 'finished') p
        JOIN track t ON t.id = p.track_id
        ON CONFLICT (track_id, library_id) DO UPDATE SET duration = EXCLUDED.duration
        """,
        {"rows": Json(outcomes, dumps=_dumps), "ids": [o["id"] for o in outcomes]},
    )


def fail_uploads_txn(txn: Any, failures: dict[int, tuple[str, str]]) -> list[int]:
    """Mark those of the uploads still pending errored ({upload id: (error code, detail)}); their ids."""
    txn.execute(
        """
        UPDATE upload u SET import_status = 'errored', import_date = now(), modification_date = now(),
               import_details = jsonb_build_object('error_code', r.code, 'detail', r.detail)
        FROM jsonb_to_recordset(%s) AS r(id bigint, code text, detail text)
        WHERE u.id = r.id AND u.import_status = 'pending' RETURNING u.id
        """,
        (Json([{"id": k, "code": c, "detail": d} for k, (c, d) in failures.items()]),),
    )
    return [row["id"] for row in txn.fetchall()]


def library_by_uuid_txn(txn: Any, library_uuid: str) -> dict[str, Any] | None:
    txn.execute("SELECT id, actor_id, name FROM library WHERE uuid::text = %s", (library_uuid,))
    return txn.fetchone()


def folder_uploads_txn(txn: Any, library_id: int) -> dict[str, dict[str, Any]]:
    """The library's uploads that came from a server folder, by file path (what a re-run compares against)."""
    txn.execute(
        """
        SELECT id, audio_file, import_status, metadata -> 'fs' AS fs FROM upload
        WHERE library_id = %s AND metadata ? 'fs'
        """,
        (library_id,),
    )
    return {row["fs"]["path"]: row for row in txn.fetchall()}


def register_folder_uploads_txn(
    txn: Any, library_id: int, new: list[dict[str, Any]], changed: dict[int, dict[str, Any]], base_url: str
) -> list[int]:
    """Pending uploads for files of a server folder: `new` ones (each: source, audio_file, original_name, size,
    mimetype, fs ({path, size, mtime, ...}), import_reference) created, the `changed` ones ({upload id: fs}) reset
    to be imported again; the ids of the new ones, in order."""
    if changed:
        txn.execute(
            """
            UPDATE upload u SET import_status = 'pending', import_details = '{}', size = (r.fs ->> 'size')::bigint,
                   metadata = jsonb_set(u.metadata, '{fs}', r.fs), modification_date = now()
            FROM jsonb_to_recordset(%s) AS r(id bigint, fs jsonb) WHERE u.id = r.id
            """,
            (Json([{"id": k, "fs": fs} for k, fs in changed.items()]),),
        )
    if not new:
        return []
    rows = [{**new_row(base_url, "uploads"), **f, "metadata": {"fs": f["fs"]}} for f in new]
    txn.execute(
        """
        INSERT INTO upload (uuid, fid, library_id, source, audio_file, original_name, size, mimetype,
                            metadata, import_reference, import_status)
        SELECT uuid, fid, %s, source, audio_file, original_name, size, mimetype, metadata, import_reference, 'pending'
        FROM jsonb_to_recordset(%s) AS r(uuid uuid, fid text, source text, audio_file text, original_name text,
             size bigint, mimetype text, metadata jsonb, import_reference text)
        RETURNING id, uuid::text
        """,
        (library_id, Json(rows)),
    )
    ids = {row["uuid"]: row["id"] for row in txn.fetchall()}
    return [ids[row["uuid"]] for row in rows]


def in_place_scopes_txn(txn: Any) -> list[dict[str, Any]]:
    """Each (library uuid, folder, recursive) that in-place imports came from: what the rescan job covers."""
    txn.execute(
        """
        SELECT DISTINCT l.uuid::text AS library, u.metadata -> 'fs' ->> 'root' AS root,
               coalesce((u.metadata -> 'fs' ->> 'recursive')::boolean, false) AS recursive
        FROM upload u JOIN library l ON l.id = u.library_id
        WHERE u.source LIKE 'file://%' AND u.metadata -> 'fs' ? 'root'
        ORDER BY 1, 2
        """
    )
    return txn.fetchall()


def remote_followers_condition(library: str) -> str:
    """SQL true when the library row `library` has an approved follower on another server (who is told of its
    uploads)."""
    return (
        "EXISTS (SELECT 1 FROM library_follow rf JOIN actor rfa ON rfa.id = rf.actor_id"
        f" WHERE rf.target_id = {library}.id AND rf.approved AND rfa.private_key IS NULL)"
    )


def has_remote_followers_txn(txn: Any, library_id: int) -> bool:
    return library_id in followed_libraries_txn(txn, [library_id])


def followed_libraries_txn(txn: Any, library_ids: list[int]) -> set[int]:
    """Those of the libraries with a remote follower."""
    txn.execute(
        f"SELECT l.id FROM library l WHERE l.id = ANY(%s) AND {remote_followers_condition('l')}", (library_ids,)
    )
    return {row["id"] for row in txn.fetchall()}


def followed_uploads_txn(txn: Any, actor_id: int, uuids: list[Any] | None) -> list[dict[str, Any]]:
    """The actor's finished uploads (among `uuids`, None: all) in libraries with remote followers, by library:
    rows {library_id, actor_fid, fids}."""
    txn.execute(
        f"""
        SELECT l.id AS library_id, a.fid AS actor_fid, array_agg(u.fid ORDER BY u.id) AS fids
        FROM upload u JOIN library l ON l.id = u.library_id JOIN actor a ON a.id = l.actor_id
        WHERE l.actor_id = %s AND (%s::uuid[] IS NULL OR u.uuid = ANY(%s::uuid[])) AND u.import_status = 'finished'
          AND {remote_followers_condition("l")}
        GROUP BY l.id, a.fid
        """,
        (actor_id, uuids, uuids),
    )
    return txn.fetchall()


def in_place_uploads_txn(txn: Any, upload_ids: list[int]) -> list[dict[str, Any]]:
    """Those of the uploads that reference a file in place: {id, uuid, source, actor_id}."""
    txn.execute(
        """
        SELECT u.id, u.uuid, u.source, l.actor_id FROM upload u JOIN library l ON l.id = u.library_id
        WHERE u.id = ANY(%s) AND u.audio_file IS NULL AND u.source LIKE 'file://%%'
        ORDER BY u.id
        """,
        (upload_ids,),
    )
    return txn.fetchall()


def catalog_of_uploads_txn(txn: Any, upload_ids: list[int]) -> dict[str, list[int]]:
    """The tracks and albums of the uploads: {tracks, albums} (for lock_catalog_txn)."""
    txn.execute(
        """
        SELECT coalesce(array_agg(DISTINCT t.id) FILTER (WHERE t.id IS NOT NULL), '{}') AS tracks,
               coalesce(array_agg(DISTINCT al.id) FILTER (WHERE al.id IS NOT NULL), '{}') AS albums
        FROM upload u LEFT JOIN track t ON t.id = u.track_id
        LEFT JOIN album al ON al.id = t.album_id OR al.id = u.album_id
        WHERE u.id = ANY(%s)
        """,
        (upload_ids,),
    )
    return dict(txn.fetchone())


def lock_catalog_txn(txn: Any, tracks: list[int], albums: list[int]) -> dict[str, list[int]]:
    """Take the import's locks (lock_names_txn) on the names of the tracks' and albums' artists and albums, so
    that no import picks one of them while a prune removes it; {tracks, albums, artists} for prune_orphans_txn."""
    txn.execute(
        """
        SELECT 'artist:' || ar.name_key AS key, ar.mbid, ar.id FROM artist ar
        WHERE ar.id IN (SELECT artist_id FROM track WHERE id = ANY(%(tracks)s)
                        UNION SELECT artist_id FROM album WHERE id = ANY(%(albums)s))
        UNION ALL
        SELECT 'album:' || ar.name_key || ':' || al.title_key, al.mbid, NULL FROM album al
        JOIN artist ar ON ar.id = al.artist_id WHERE al.id = ANY(%(albums)s)
        """,
        {"tracks": tracks, "albums": albums},
    )
    rows = txn.fetchall()
    lock_names_txn(txn, [r["key"] for r in rows] + [f"mbid:{r['mbid']}" for r in rows if r["mbid"]])
    return {"tracks": tracks, "albums": albums, "artists": sorted(r["id"] for r in rows if r["id"] is not None)}


_KEPT_TRACK = """
    NOT EXISTS (SELECT 1 FROM upload WHERE track_id = t.id)
    AND NOT EXISTS (SELECT 1 FROM track_favorite WHERE track_id = t.id)
    AND NOT EXISTS (SELECT 1 FROM listening WHERE track_id = t.id)
    AND NOT EXISTS (SELECT 1 FROM playlist_track WHERE track_id = t.id)
    AND NOT EXISTS (SELECT 1 FROM bookmark WHERE track_id = t.id)
    AND NOT EXISTS (SELECT 1 FROM rating WHERE object_type = 'track' AND object_id = t.id)
"""
_KEPT_ALBUM = """
    NOT EXISTS (SELECT 1 FROM track WHERE album_id = al.id)
    AND NOT EXISTS (SELECT 1 FROM upload WHERE album_id = al.id)
    AND NOT EXISTS (SELECT 1 FROM starred_album WHERE album_id = al.id)
    AND NOT EXISTS (SELECT 1 FROM rating WHERE object_type = 'album' AND object_id = al.id)
"""
_KEPT_ARTIST = """
    NOT EXISTS (SELECT 1 FROM track WHERE artist_id = ar.id)
    AND NOT EXISTS (SELECT 1 FROM album WHERE artist_id = ar.id)
    AND NOT EXISTS (SELECT 1 FROM starred_artist WHERE artist_id = ar.id)
    AND NOT EXISTS (SELECT 1 FROM rating WHERE object_type = 'artist' AND object_id = ar.id)
    AND NOT EXISTS (SELECT 1 FROM user_filter WHERE target_artist_id = ar.id)
"""


def prune_orphans_txn(
    txn: Any, catalog: dict[str, list[int]], base_url: str, covers: tuple[int, ...] = ()
) -> list[str]:
    """Delete the local tracks, then albums, then artists among `catalog` (lock_catalog_txn) that are
    left with nothing: no upload, and nothing a listener made points at them (favorites, listenings, playlist
    entries, bookmarks, stars, ratings, content filters). Remote rows (ids not under `base_url`) stay. Then the
    pictures they or `covers` used that nothing uses any more go too: their files, to remove once committed."""
    local = {"prefix": base_url + "/"}
    pruned: dict[str, list[int]] = {}
    unused = list(covers)
    for kind, table, alias, kept in (
        ("track", "track", "t", _KEPT_TRACK),
        ("album", "album", "al", _KEPT_ALBUM),
        ("artist", "artist", "ar", _KEPT_ARTIST),
    ):
        txn.execute(
            f"DELETE FROM {table} {alias} WHERE {alias}.id = ANY(%(ids)s)"
            f" AND left({alias}.fid, length(%(prefix)s)) = %(prefix)s AND {kept}"
            f" RETURNING {alias}.id, {alias}.attachment_cover_id",
            {**local, "ids": catalog[f"{kind}s"]},
        )
        rows = txn.fetchall()
        pruned[kind] = [r["id"] for r in rows]
        unused += [r["attachment_cover_id"] for r in rows if r["attachment_cover_id"] is not None]
    txn.execute(
        "DELETE FROM tagged_item WHERE (object_type = 'track' AND object_id = ANY(%s))"
        " OR (object_type = 'album' AND object_id = ANY(%s)) OR (object_type = 'artist' AND object_id = ANY(%s))",
        (pruned["track"], pruned["album"], pruned["artist"]),
    )
    return attachments_store.delete_unused_txn(txn, unused) if unused else []
