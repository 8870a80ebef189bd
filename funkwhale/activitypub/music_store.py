"""SQL of the music documents peers fetch: a local library, a page of its Audio items, one upload, track, album
or artist. Each answer is one statement; nested objects come back as JSON columns (see music_documents.py).

A row is found by its exact fid (`<base>/federation/music/<kind>/<uuid>`), so remote rows are never served.
What a file brought (tags, an album's cover, a track's license, copyright and comment) is, for an Audio, what
that upload recorded; for a track, album or artist alone, what the caller may play (`Fragments`).
"""

from __future__ import annotations

from typing import Any

from funkwhale.music.importer.store import has_remote_followers_txn
from funkwhale.music.sql import Fragments
from funkwhale.music.visibility import Viewer


def _fid_of(id_expr: str) -> str:
    return f"(SELECT fa.fid FROM actor fa WHERE fa.id = {id_expr})"


def _image(id_expr: str) -> str:
    """json {uuid, url, mimetype} of an attachment (NULL for none)."""
    return (
        "(SELECT json_build_object('uuid', im.uuid, 'url', im.url, 'mimetype', im.mimetype)"
        f" FROM attachment im WHERE im.id = {id_expr})"
    )


class _DocumentSql:
    """The SQL expressions of a document's nested objects, in the scope of one upload `u` (an Audio) or of the
    caller's playable uploads (a Track, Album or Artist alone)."""

    def __init__(self, sql: Fragments, upload: str | None) -> None:
        self.sql = sql
        self.upload = upload

    def tags(self, kind: str, id_expr: str) -> str:
        if self.upload is None:
            return self.sql.tag_names(kind, id_expr)
        return (
            "ARRAY(SELECT DISTINCT g.name FROM tag g JOIN tagged_item ti ON ti.tag_id = g.id"
            f" WHERE ti.object_type = '{kind}' AND ti.object_id = {id_expr}"
            f" AND (ti.upload_id IS NULL OR ti.upload_id = {self.upload}.id) ORDER BY g.name)"
        )

    def album_cover(self, album: str) -> str:
        if self.upload is None:
            return _image(self.sql.album_cover_id(album))
        return _image(f"coalesce({album}.attachment_cover_id, {self.upload}.attachment_cover_id)")

    def file_fields(self, track: str) -> str:
        if self.upload is None:
            return self.sql.file_fields(track)
        m = f"{self.upload}.metadata"
        return (
            f"json_build_object('license', coalesce({track}.license, {m} ->> 'license'),"
            f" 'copyright', coalesce(nullif({track}.copyright, ''), {m} ->> 'copyright'),"
            f" 'description', coalesce(nullif({track}.description, ''), {m} ->> 'description'))"
        )

    def artist(self, id_expr: str) -> str:
        return (
            "(SELECT json_build_object('id', ar.id, 'fid', ar.fid, 'name', ar.name, 'creation_date', ar.creation_date,"
            f" 'mbid', ar.mbid, 'attributed_to', {_fid_of('ar.attributed_to_id')},"
            f" 'tags', {self.tags('artist', 'ar.id')}, 'cover', {_image('ar.attachment_cover_id')})"
            f" FROM artist ar WHERE ar.id = {id_expr})"
        )

    def album(self, id_expr: str) -> str:
        return (
            "(SELECT json_build_object('id', al.id, 'fid', al.fid, 'title', al.title,"
            " 'creation_date', al.creation_date, 'mbid', al.mbid, 'release_date', al.release_date,"
            f" 'attributed_to', {_fid_of('al.attributed_to_id')},"
            f" 'tags', {self.tags('album', 'al.id')}, 'artist', {self.artist('al.artist_id')},"
            f" 'cover', {self.album_cover('al')})"
            f" FROM album al WHERE al.id = {id_expr})"
        )

    def track(self, id_expr: str) -> str:
        return (
            "(SELECT json_build_object('id', tr.id, 'uuid', tr.uuid, 'fid', tr.fid, 'title', tr.title,"
            " 'creation_date', tr.creation_date, 'mbid', tr.mbid, 'position', tr.position,"
            f" 'disc_number', tr.disc_number, 'file_fields', {self.file_fields('tr')},"
            f" 'attributed_to', {_fid_of('tr.attributed_to_id')}, 'tags', {self.tags('track', 'tr.id')},"
            f" 'artist', {self.artist('tr.artist_id')}, 'album', {self.album('tr.album_id')},"
            f" 'cover', {_image('tr.attachment_cover_id')})"
            f" FROM track tr WHERE tr.id = {id_expr})"
        )


def _audio_columns(sql: Fragments) -> str:
    """The columns of an Audio over `upload u JOIN library l JOIN actor la` (the library's owner)."""
    return (
        "u.uuid, u.fid, u.creation_date, u.modification_date, u.bitrate, u.size, u.duration, u.mimetype,"
        " l.fid AS library_fid, l.privacy_level AS library_privacy_level, la.fid AS actor_fid,"
        f" {_DocumentSql(sql, 'u').track('u.track_id')} AS track"
    )


_AUDIO_FROM = """
FROM upload u JOIN library l ON l.id = u.library_id JOIN actor la ON la.id = l.actor_id
WHERE u.import_status = 'finished' AND u.track_id IS NOT NULL"""


def local_library_txn(txn: Any, fid: str) -> dict[str, Any] | None:
    """A local library by its fid, with its owner's fid and how many uploads it shares."""
    txn.execute(
        """
        SELECT l.id, l.uuid, l.fid, l.name, l.description, l.privacy_level, l.followers_url, a.fid AS actor_fid,
               (SELECT count(*) FROM upload u WHERE u.library_id = l.id AND u.import_status = 'finished'
                  AND u.track_id IS NOT NULL) AS total
        FROM library l JOIN actor a ON a.id = l.actor_id
        WHERE l.fid = %s AND a.private_key IS NOT NULL
        """,
        (fid,),
    )
    return txn.fetchone()


def library_page_txn(txn: Any, library_id: int, limit: int, offset: int) -> list[dict[str, Any]]:
    """A page of a library's Audio rows, newest first (the page's uploads are chosen before their documents are
    built, so a deep page costs what the first does)."""
    sql = Fragments(Viewer())
    page = (
        f"SELECT pu.id FROM upload pu WHERE pu.library_id = {sql.bind(library_id)} AND pu.import_status = 'finished'"
        " AND pu.track_id IS NOT NULL ORDER BY pu.creation_date DESC, pu.id DESC"
        f" {sql.window(limit, offset)}"
    )
    statement = (
        f"SELECT {_audio_columns(sql)} {_AUDIO_FROM} AND u.id IN ({page}) ORDER BY u.creation_date DESC, u.id DESC"
    )
    return sql.fetchall(txn, statement)


def local_upload_txn(txn: Any, fid: str) -> dict[str, Any] | None:
    """A finished local upload's Audio row by its fid, with its library's id."""
    sql = Fragments(Viewer())
    statement = (
        f"SELECT {_audio_columns(sql)}, l.id AS library_id {_AUDIO_FROM}"
        f" AND u.fid = {sql.bind(fid)} AND la.private_key IS NOT NULL"
    )
    return sql.fetchone(txn, statement)


def upload_by_id_txn(txn: Any, upload_id: int) -> dict[str, Any] | None:
    """A finished upload's Audio row by its id, with its library's id (what is published when it changes)."""
    sql = Fragments(Viewer())
    return sql.fetchone(
        txn, f"SELECT {_audio_columns(sql)}, l.id AS library_id {_AUDIO_FROM} AND u.id = {sql.bind(upload_id)}"
    )


def local_object_txn(txn: Any, kind: str, fid: str, viewer: Viewer) -> dict[str, Any] | None:
    """A local track, album or artist (`kind`) by its fid, as `viewer` may see it (one they may play)."""
    sql = Fragments(viewer)
    documents = _DocumentSql(sql, None)
    table, render, playable = {
        "track": ("track", documents.track, sql.track_playable),
        "album": ("album", documents.album, sql.album_playable),
        "artist": ("artist", documents.artist, sql.artist_playable),
    }[kind]
    statement = f"SELECT {render('o.id')} AS doc FROM {table} o WHERE o.fid = {sql.bind(fid)} AND {playable('o.id')}"
    row = sql.fetchone(txn, statement)
    return row["doc"] if row else None


def followed_library_txn(txn: Any, actor_id: int, library_uuid: Any) -> dict[str, Any] | None:
    """The actor's library of that uuid as a document needs it, when it has remote followers."""
    txn.execute("SELECT fid FROM library WHERE uuid = %s AND actor_id = %s", (library_uuid, actor_id))
    row = txn.fetchone()
    library = local_library_txn(txn, row["fid"]) if row else None
    if library is None or not has_remote_followers_txn(txn, library["id"]):
        return None
    return library
