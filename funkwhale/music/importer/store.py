"""SQL of the import: find-or-create artists, albums and tracks, tags, and the upload's outcome.

Matching follows Funkwhale: MusicBrainz ids first, then folded names (`*_key`, see music/normalize.py).
Concurrent imports of the same new names are serialised by transaction-scoped advisory locks on those keys.
"""

from __future__ import annotations

import datetime
import json
import uuid as uuid_module
from typing import Any

from funkwhale.music.attachments import store as attachments_store
from funkwhale.music.normalize import fold


def upload_for_import_txn(txn: Any, upload_id: int) -> dict[str, Any] | None:
    txn.execute(
        """
        SELECT u.id, u.uuid, u.audio_file, u.source, u.import_status, u.import_metadata, u.metadata,
               u.track_id, u.album_id, u.attachment_cover_id, l.id AS library_id, l.actor_id
        FROM upload u JOIN library l ON l.id = u.library_id
        WHERE u.id = %s
        """,
        (upload_id,),
    )
    return txn.fetchone()


def lock_names_txn(txn: Any, keys: list[str]) -> None:
    """Serialise imports that may create the same artists or albums (locks end with the transaction)."""
    for key in sorted(set(keys)):
        txn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("music-import:" + key,))


def _fid(base_url: str, kind: str, uuid: uuid_module.UUID) -> str:
    return f"{base_url}/federation/music/{kind}/{uuid}"


def artist_txn(txn: Any, name: str, mbid: str | None, base_url: str, attributed_to: int | None = None) -> int:
    """The artist of that name (or MusicBrainz id), created (attributed to the actor `attributed_to`) if new."""
    if mbid:
        txn.execute("SELECT id FROM artist WHERE mbid = %s", (mbid,))
        row = txn.fetchone()
        if row:
            return row["id"]
    txn.execute(
        "SELECT id FROM artist WHERE name_key = %s ORDER BY (mbid IS NULL) DESC, id LIMIT 1"
        if not mbid
        else "SELECT id FROM artist WHERE name_key = %s AND mbid IS NULL ORDER BY id LIMIT 1",
        (fold(name),),
    )
    row = txn.fetchone()
    if row:
        if mbid:
            txn.execute("UPDATE artist SET mbid = %s WHERE id = %s", (mbid, row["id"]))
        return row["id"]
    new = uuid_module.uuid4()
    txn.execute(
        "INSERT INTO artist (uuid, fid, mbid, name, name_key, attributed_to_id) VALUES (%s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (new, _fid(base_url, "artists", new), mbid, name, fold(name), attributed_to),
    )
    return txn.fetchone()["id"]


def album_txn(
    txn: Any,
    title: str,
    artist_id: int,
    mbid: str | None,
    release_date: datetime.date | None,
    base_url: str,
    attributed_to: int | None = None,
) -> int:
    """The album of that title by that artist (or MusicBrainz id), created (attributed to the actor
    `attributed_to`) if new."""
    if mbid:
        txn.execute("SELECT id FROM album WHERE mbid = %s", (mbid,))
        row = txn.fetchone()
        if row:
            return row["id"]
    txn.execute(
        "SELECT id, release_date FROM album WHERE artist_id = %s AND title_key = %s ORDER BY id LIMIT 1",
        (artist_id, fold(title)),
    )
    row = txn.fetchone()
    if row:
        if release_date and row["release_date"] is None:
            txn.execute("UPDATE album SET release_date = %s WHERE id = %s", (release_date, row["id"]))
        return row["id"]
    new = uuid_module.uuid4()
    txn.execute(
        """
        INSERT INTO album (uuid, fid, mbid, title, title_key, artist_id, release_date, attributed_to_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (new, _fid(base_url, "albums", new), mbid, title, fold(title), artist_id, release_date, attributed_to),
    )
    return txn.fetchone()["id"]


def track_txn(txn: Any, fields: dict[str, Any], base_url: str, attributed_to: int | None = None) -> int:
    """`fields`: title, artist_id, album_id, position, disc_number, mbid (what a file brings beyond its names is
    kept on its upload); a new track is attributed to the actor `attributed_to`."""
    if fields["mbid"]:
        txn.execute(
            "SELECT id FROM track WHERE mbid = %s AND album_id IS NOT DISTINCT FROM %s ORDER BY id LIMIT 1",
            (fields["mbid"], fields["album_id"]),
        )
        row = txn.fetchone()
        if row:
            return row["id"]
    txn.execute(
        """
        SELECT id FROM track
        WHERE title_key = %s AND artist_id = %s AND album_id IS NOT DISTINCT FROM %s
          AND position IS NOT DISTINCT FROM %s AND disc_number IS NOT DISTINCT FROM %s
        ORDER BY id LIMIT 1
        """,
        (fold(fields["title"]), fields["artist_id"], fields["album_id"], fields["position"], fields["disc_number"]),
    )
    row = txn.fetchone()
    if row:
        return row["id"]
    new = uuid_module.uuid4()
    txn.execute(
        """
        INSERT INTO track (uuid, fid, mbid, title, title_key, artist_id, album_id, position, disc_number,
                           attributed_to_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (
            new,
            _fid(base_url, "tracks", new),
            fields["mbid"],
            fields["title"],
            fold(fields["title"]),
            fields["artist_id"],
            fields["album_id"],
            fields["position"],
            fields["disc_number"],
            attributed_to,
        ),
    )
    return txn.fetchone()["id"]


def tag_txn(txn: Any, names: list[str], object_type: str, object_id: int, upload_id: int) -> None:
    """Record the tags read from the upload's file (created when new, matched case-insensitively) on an album or
    track: viewers see them while they may play that upload."""
    for name in names:
        txn.execute(
            """
            WITH found AS (SELECT id FROM tag WHERE lower(name) = lower(%s)),
                 made AS (INSERT INTO tag (name) SELECT %s WHERE NOT EXISTS (SELECT 1 FROM found)
                          ON CONFLICT DO NOTHING RETURNING id)
            INSERT INTO tagged_item (tag_id, object_type, object_id, upload_id)
            SELECT id, %s, %s, %s FROM (SELECT id FROM found UNION ALL SELECT id FROM made) t
            ON CONFLICT DO NOTHING
            """,
            (name, name, object_type, object_id, upload_id),
        )


def forget_contributions_txn(txn: Any, upload_id: int) -> None:
    """Drop what an earlier import of the upload recorded (its tags), before it is imported again."""
    txn.execute("DELETE FROM tagged_item WHERE upload_id = %s", (upload_id,))


def kept_attachment_txn(txn: Any, attachment_id: int | None) -> int | None:
    """The attachment id if the row still exists, locked until commit so that the clean-up of unused pictures
    (music/uploads/store.py) cannot remove it meanwhile; None when it is gone."""
    if attachment_id is None:
        return None
    txn.execute("SELECT id FROM attachment WHERE id = %s FOR KEY SHARE", (attachment_id,))
    row = txn.fetchone()
    return row["id"] if row else None


def owned_duplicates_txn(txn: Any, track_id: int, actor_id: int, upload_id: int) -> list[str]:
    """Uuids of other finished uploads of the track in libraries of the same owner."""
    txn.execute(
        """
        SELECT u.uuid FROM upload u JOIN library l ON l.id = u.library_id
        WHERE u.track_id = %s AND l.actor_id = %s AND u.id <> %s AND u.import_status = 'finished'
        ORDER BY u.id
        """,
        (track_id, actor_id, upload_id),
    )
    return [str(r["uuid"]) for r in txn.fetchall()]


def finish_upload_txn(
    txn: Any,
    upload_id: int,
    status: str,
    track_id: int | None,
    album_id: int | None,
    cover_id: int | None,
    details: dict[str, Any],
    audio: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    txn.execute(
        """
        UPDATE upload SET import_status = %s, track_id = %s, album_id = %s, attachment_cover_id = %s,
               import_details = %s, import_date = now(),
               duration = %s, bitrate = %s, sample_rate = %s, mimetype = %s,
               metadata = metadata || %s, modification_date = now()
        WHERE id = %s
        """,
        (
            status,
            track_id,
            album_id,
            cover_id,
            json.dumps(details),
            audio["duration"],
            audio["bitrate"],
            audio["sample_rate"],
            audio["mimetype"],
            json.dumps(metadata),
            upload_id,
        ),
    )


def fail_upload_txn(txn: Any, upload_id: int, code: str, detail: str) -> None:
    txn.execute(
        """
        UPDATE upload SET import_status = 'errored', import_date = now(), modification_date = now(),
               import_details = %s
        WHERE id = %s
        """,
        (json.dumps({"error_code": code, "detail": detail}), upload_id),
    )


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


def create_folder_upload_txn(txn: Any, library_id: int, fields: dict[str, Any], base_url: str) -> int:
    """A pending upload for a file of a server folder. `fields`: source, audio_file, original_name, size,
    mimetype, fs ({path, size, mtime}), import_reference."""
    new = uuid_module.uuid4()
    txn.execute(
        """
        INSERT INTO upload (uuid, fid, library_id, source, audio_file, original_name, size, mimetype,
                            metadata, import_reference, import_status)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending') RETURNING id
        """,
        (
            new,
            _fid(base_url, "uploads", new),
            library_id,
            fields["source"],
            fields["audio_file"],
            fields["original_name"],
            fields["size"],
            fields["mimetype"],
            json.dumps({"fs": fields["fs"]}),
            fields["import_reference"],
        ),
    )
    return txn.fetchone()["id"]


def reset_folder_upload_txn(txn: Any, upload_id: int, size: int, fs: dict[str, Any]) -> None:
    """A changed file: import it again."""
    txn.execute(
        """
        UPDATE upload SET import_status = 'pending', import_details = '{}', size = %s,
               metadata = jsonb_set(metadata, '{fs}', %s), modification_date = now()
        WHERE id = %s
        """,
        (size, json.dumps(fs), upload_id),
    )


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
    txn.execute(f"SELECT {remote_followers_condition('l')} AS followed FROM library l WHERE l.id = %s", (library_id,))
    row = txn.fetchone()
    return bool(row and row["followed"])


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
