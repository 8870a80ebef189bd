"""SQL of remote music: remote libraries, and an Audio's artist, album, track, cover, tags and upload.

Rows are found by fid first, then by MusicBrainz id. A found row is updated only when the document comes from the
row's own server (`origin`); a new row keeps the fid it came with, never one of our own server.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from funkwhale.activitypub.remote_actors import same_origin
from funkwhale.errors import Invalid
from funkwhale.music.importer import store as importer_store
from funkwhale.music.normalize import fold
from funkwhale.music.uploads import store as uploads_store

if TYPE_CHECKING:
    from funkwhale.activitypub.ingest import RemoteAlbum, RemoteArtist, RemoteAudio, RemoteLibrary, RemoteTrack

_LIBRARY_COLUMNS = "id, uuid, fid, actor_id, name, privacy_level, uploads_count"


def upsert_library_txn(txn: Any, library: RemoteLibrary, actor_id: int) -> dict[str, Any]:
    """Insert or refresh a remote library of the actor `actor_id`; one of another actor is refused."""
    txn.execute(
        f"""
        INSERT INTO library (fid, actor_id, name, description, privacy_level, followers_url, uploads_count)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (fid) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
            privacy_level = EXCLUDED.privacy_level, followers_url = EXCLUDED.followers_url,
            uploads_count = EXCLUDED.uploads_count, modification_date = now()
        WHERE library.actor_id = EXCLUDED.actor_id
        RETURNING {_LIBRARY_COLUMNS}
        """,
        (
            library.fid,
            actor_id,
            library.name,
            library.description,
            library.privacy_level,
            library.followers_url,
            library.uploads_count,
        ),
    )
    row = txn.fetchone()
    if row is None:
        raise Invalid(f"{library.fid} belongs to another actor", code="invalid_document")
    return row


def remote_library_txn(txn: Any, library_id: int) -> dict[str, Any] | None:
    """A library with its actor's fid (for scans and inbound activities)."""
    txn.execute(
        f"""
        SELECT {", ".join("l." + c for c in _LIBRARY_COLUMNS.split(", "))}, a.fid AS actor_fid,
               a.private_key IS NOT NULL AS is_local
        FROM library l JOIN actor a ON a.id = l.actor_id WHERE l.id = %s
        """,
        (library_id,),
    )
    return txn.fetchone()


def library_by_fid_txn(txn: Any, fid: str) -> dict[str, Any] | None:
    txn.execute("SELECT id FROM library WHERE fid = %s", (fid,))
    row = txn.fetchone()
    return remote_library_txn(txn, row["id"]) if row else None


def _found(txn: Any, table: str, fid: str, mbid: str | None, origin: str, local: str) -> tuple[int | None, bool]:
    """(the id of the row of that fid, else of that MusicBrainz id; whether the document may change it)."""
    txn.execute(f"SELECT id FROM {table} WHERE fid = %s", (fid,))
    row = txn.fetchone()
    if row:
        return row["id"], same_origin(fid, origin)
    if same_origin(fid, local):
        raise Invalid(fields={"id": [f"unknown local {table} {fid}"]}, code="invalid_document")
    if mbid:
        txn.execute(f"SELECT id FROM {table} WHERE mbid = %s ORDER BY id LIMIT 1", (mbid,))
        row = txn.fetchone()
        if row:
            return row["id"], False
    return None, False


def _artist_txn(
    txn: Any, artist: RemoteArtist, origin: str, local: str, actor_id: int, done: dict[str, int] | None = None
) -> int:
    if done is not None and artist.fid in done:
        return done[artist.fid]
    artist_id = _write_artist_txn(txn, artist, origin, local, actor_id)
    if done is not None:
        done[artist.fid] = artist_id
    return artist_id


def _write_artist_txn(txn: Any, artist: RemoteArtist, origin: str, local: str, actor_id: int) -> int:
    found, mine = _found(txn, "artist", artist.fid, artist.mbid, origin, local)
    if found is not None:
        if mine:
            txn.execute(
                "UPDATE artist SET name = %s, name_key = %s, mbid = coalesce(%s, mbid), modification_date = now()"
                " WHERE id = %s",
                (artist.name, fold(artist.name), artist.mbid, found),
            )
        return found
    txn.execute(
        """
        INSERT INTO artist (uuid, fid, mbid, name, name_key, attributed_to_id) VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (fid) DO UPDATE SET fid = EXCLUDED.fid RETURNING id
        """,
        (uuid.uuid4(), artist.fid, artist.mbid, artist.name, fold(artist.name), actor_id),
    )
    return txn.fetchone()["id"]


def _album_txn(
    txn: Any, album: RemoteAlbum, origin: str, local: str, actor_id: int, done: dict[str, int] | None = None
) -> int:
    if done is not None and album.fid in done:
        return done[album.fid]
    artist_id = _artist_txn(txn, album.artist, origin, local, actor_id, done)
    album_id = _write_album_txn(txn, album, artist_id, origin, local, actor_id)
    if done is not None:
        done[album.fid] = album_id
    return album_id


def _write_album_txn(txn: Any, album: RemoteAlbum, artist_id: int, origin: str, local: str, actor_id: int) -> int:
    found, mine = _found(txn, "album", album.fid, album.mbid, origin, local)
    if found is not None:
        if mine:
            txn.execute(
                "UPDATE album SET title = %s, title_key = %s, mbid = coalesce(%s, mbid), release_date = %s,"
                " artist_id = %s, modification_date = now() WHERE id = %s",
                (album.title, fold(album.title), album.mbid, album.release_date, artist_id, found),
            )
        return found
    txn.execute(
        """
        INSERT INTO album (uuid, fid, mbid, title, title_key, artist_id, release_date, attributed_to_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (fid) DO UPDATE SET fid = EXCLUDED.fid RETURNING id
        """,
        (uuid.uuid4(), album.fid, album.mbid, album.title, fold(album.title), artist_id, album.release_date, actor_id),
    )
    return txn.fetchone()["id"]


def _track_txn(
    txn: Any, track: RemoteTrack, artist_id: int, album_id: int | None, origin: str, local: str, actor_id: int
) -> int:
    found, mine = _found(txn, "track", track.fid, track.mbid, origin, local)
    values = (track.title, fold(track.title), track.mbid, artist_id, album_id, track.position, track.disc_number)
    if found is not None:
        if mine:
            txn.execute(
                "UPDATE track SET title = %s, title_key = %s, mbid = coalesce(%s, mbid), artist_id = %s,"
                " album_id = %s, position = %s, disc_number = %s, modification_date = now() WHERE id = %s",
                (*values, found),
            )
        return found
    txn.execute(
        """
        INSERT INTO track (title, title_key, mbid, artist_id, album_id, position, disc_number, uuid, fid,
                           attributed_to_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (fid) DO UPDATE SET fid = EXCLUDED.fid RETURNING id
        """,
        (*values, uuid.uuid4(), track.fid, actor_id),
    )
    return txn.fetchone()["id"]


def _cover_txn(txn: Any, cover: tuple[str, str] | None, actor_id: int) -> int | None:
    """A remote picture by its URL (stored, not downloaded)."""
    if cover is None:
        return None
    url, mimetype = cover
    txn.execute("SELECT id FROM attachment WHERE url = %s AND file IS NULL ORDER BY id LIMIT 1", (url,))
    row = txn.fetchone()
    if row:
        return row["id"]
    txn.execute(
        "INSERT INTO attachment (url, mimetype, actor_id) VALUES (%s, %s, %s) RETURNING id", (url, mimetype, actor_id)
    )
    return txn.fetchone()["id"]


def upsert_catalog_txn(
    txn: Any, track: RemoteTrack, origin: str, local: str, actor_id: int, done: dict[str, int] | None = None
) -> dict[str, Any]:
    """The artist, album and track rows of a remote track (created or updated): their ids. `done` keeps the ids
    of the artists and albums already written in this transaction (by fid), so a page writes each once."""
    artist_id = _artist_txn(txn, track.artist, origin, local, actor_id, done)
    album_id = _album_txn(txn, track.album, origin, local, actor_id, done) if track.album else None
    track_id = _track_txn(txn, track, artist_id, album_id, origin, local, actor_id)
    return {"artist_id": artist_id, "album_id": album_id, "track_id": track_id}


def store_audio_txn(
    txn: Any, audio: RemoteAudio, library: dict[str, Any], local: str, done: dict[str, int] | None = None
) -> int:
    """Insert or update the remote upload of an Audio in `library` (id, fid, actor_id) with its catalog rows,
    tags and cover; its id. An upload of that fid in another library is refused."""
    actor_id = library["actor_id"]
    ids = upsert_catalog_txn(txn, audio.track, library["fid"], local, actor_id, done)
    cover_id = _cover_txn(txn, audio.track.album.cover if audio.track.album else None, actor_id)
    txn.execute(
        """
        INSERT INTO upload (fid, library_id, track_id, album_id, attachment_cover_id, source, mimetype, size,
                            duration, bitrate, import_status, import_date, metadata)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'finished', now(), %s)
        ON CONFLICT (fid) DO UPDATE SET track_id = EXCLUDED.track_id, album_id = EXCLUDED.album_id,
            attachment_cover_id = EXCLUDED.attachment_cover_id, source = EXCLUDED.source,
            mimetype = EXCLUDED.mimetype, size = EXCLUDED.size, duration = EXCLUDED.duration,
            bitrate = EXCLUDED.bitrate, metadata = EXCLUDED.metadata, modification_date = now(),
            audio_file = CASE WHEN upload.source = EXCLUDED.source THEN upload.audio_file END
        WHERE upload.library_id = EXCLUDED.library_id
        RETURNING id
        """,
        (
            audio.fid,
            library["id"],
            ids["track_id"],
            ids["album_id"],
            cover_id,
            audio.source,
            audio.mimetype,
            audio.size,
            audio.duration,
            audio.bitrate,
            json.dumps(audio.track.file_fields),
        ),
    )
    row = txn.fetchone()
    if row is None:
        raise Invalid(fields={"id": [f"{audio.fid} is in another library"]}, code="invalid_document")
    upload_id = row["id"]
    importer_store.forget_contributions_txn(txn, [upload_id])
    importer_store.tag_txn(txn, audio.track.tags, "track", ids["track_id"], upload_id)
    if audio.track.album is not None:
        importer_store.tag_txn(txn, audio.track.album.tags, "album", ids["album_id"], upload_id)
    importer_store.tag_txn(txn, audio.track.artist.tags, "artist", ids["artist_id"], upload_id)
    return upload_id


def store_audios_txn(txn: Any, audios: list[RemoteAudio], library: dict[str, Any], local: str) -> list[str]:
    """Store several Audio of one library (a page), each under a savepoint: the reasons of those refused."""
    refused: list[str] = []
    done: dict[str, int] = {}
    for audio in audios:
        txn.execute("SAVEPOINT audio")
        written = dict(done)
        try:
            store_audio_txn(txn, audio, library, local, done)
        except Invalid as e:
            txn.execute("ROLLBACK TO SAVEPOINT audio")
            done = written  # what the rolled back Audio wrote is gone
            refused.append(f"{audio.fid}: {e.detail}")
        else:
            txn.execute("RELEASE SAVEPOINT audio")
    return refused


def delete_remote_uploads_txn(txn: Any, library_id: int, fids: list[str]) -> tuple[int, list[str]]:
    """Delete the uploads of these fids in the library: (how many, the cached files to remove)."""
    return uploads_store.delete_uploads_txn(txn, "library_id = %s AND fid = ANY(%s)", [library_id, fids])


def delete_unseen_uploads_txn(txn: Any, library_id: int, seen_since: Any) -> tuple[int, list[str]]:
    """Delete the library's uploads no scan or activity touched since `seen_since` (they left the library)."""
    return uploads_store.delete_uploads_txn(txn, "library_id = %s AND modification_date < %s", [library_id, seen_since])


def delete_library_txn(txn: Any, library_id: int) -> list[str]:
    return uploads_store.delete_library_txn(txn, library_id)


def delete_uploads_of_domain_txn(txn: Any, fids: list[str], domain: str) -> tuple[int, list[str]]:
    """Delete the uploads of these fids that are in remote libraries of actors of `domain`."""
    return uploads_store.delete_uploads_txn(
        txn,
        "fid = ANY(%s) AND library_id IN (SELECT l.id FROM library l JOIN actor a ON a.id = l.actor_id"
        " WHERE a.domain = %s AND a.private_key IS NULL)",
        [fids, domain],
    )


def update_catalog_object_txn(txn: Any, kind: str, parsed: Any, origin: str, local: str, actor_id: int) -> bool:
    """Update a known track, album or artist (`kind`) from its own server's document; False when unknown."""
    txn.execute(f"SELECT id FROM {kind} WHERE fid = %s", (parsed.fid,))
    if txn.fetchone() is None:
        return False
    if kind == "track":
        upsert_catalog_txn(txn, parsed, origin, local, actor_id)
    elif kind == "album":
        _album_txn(txn, parsed, origin, local, actor_id)
    else:
        _artist_txn(txn, parsed, origin, local, actor_id)
    return True
