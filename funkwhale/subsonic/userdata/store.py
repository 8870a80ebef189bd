"""The SQL of the Subsonic write and media endpoints, over the same tables and permissions as the REST API.

Every write first checks that the caller may play what it names (`Query` of funkwhale.subsonic.store); a refusal
raises SubsonicError inside the transaction, so a call naming one unknown id writes nothing. Favorites, listenings
and playlists go through the domain stores (funkwhale.social.store, funkwhale.playlists.store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale.db.params import PositionalParams
from funkwhale.music.visibility import Viewer, privacy_condition
from funkwhale.playlists import store as playlists_store
from funkwhale.subsonic import ids
from funkwhale.subsonic.errors import not_found
from funkwhale.subsonic.store import Query, music_folders_txn, nested, song_row

TABLES = {ids.TRACK: "track", ids.ALBUM: "album", ids.ARTIST: "artist"}  # also rating.object_type
MAX_PLAYLISTS = 10_000


def _playable(q: Query, kind: str, column: str) -> str:
    if kind == ids.TRACK:
        return q.track_playable(column)
    return q.album_playable(column) if kind == ids.ALBUM else q.artist_playable(column)


def require_visible_txn(txn: Any, viewer: Viewer, kind: str, numbers: list[int]) -> None:
    """Error 70 (in the transaction) unless the viewer may play every track, album or artist named."""
    if not numbers:
        return
    q = Query(viewer)
    txn.execute(
        f"SELECT x.id FROM {TABLES[kind]} x WHERE x.id = ANY({q.bind(numbers)}) AND {_playable(q, kind, 'x.id')}",
        q.params,
    )
    missing = set(numbers) - {r["id"] for r in txn.fetchall()}
    if missing:
        raise not_found(f"Not found: {', '.join(ids.make(kind, n) or '' for n in sorted(missing))}")


# --- stars, ratings, plays ---------------------------------------------------------------------------------------


# Where album and artist stars live (a starred song is the listener's favorite: funkwhale.social.activity).
_STARS = {ids.ALBUM: ("starred_album", "album_id"), ids.ARTIST: ("starred_artist", "artist_id")}


def star_txn(txn: Any, viewer: Viewer, wanted: dict[str, list[int]]) -> None:
    """Star albums and artists, by kind; all or nothing."""
    for kind in _STARS:
        require_visible_txn(txn, viewer, kind, wanted.get(kind, []))
    for kind, (table, column) in _STARS.items():
        if wanted.get(kind):
            txn.execute(
                f"INSERT INTO {table} (user_id, {column}) SELECT %s, n FROM unnest(%s::bigint[]) n"
                f" ON CONFLICT (user_id, {column}) DO NOTHING",
                (viewer.user_id, wanted[kind]),
            )


def unstar_txn(txn: Any, viewer: Viewer, wanted: dict[str, list[int]]) -> None:
    """Remove album and artist stars; ids that were not starred are ignored."""
    for kind, (table, column) in _STARS.items():
        if wanted.get(kind):
            txn.execute(
                f"DELETE FROM {table} WHERE user_id = %s AND {column} = ANY(%s)", (viewer.user_id, wanted[kind])
            )


def rate_txn(txn: Any, viewer: Viewer, kind: str, number: int, rating: int) -> None:
    """Rate a track, album or artist 1..5; 0 removes the rating."""
    require_visible_txn(txn, viewer, kind, [number])
    if rating == 0:
        txn.execute(
            "DELETE FROM rating WHERE user_id = %s AND object_type = %s AND object_id = %s",
            (viewer.user_id, TABLES[kind], number),
        )
        return
    txn.execute(
        "INSERT INTO rating (user_id, object_type, object_id, rating) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (user_id, object_type, object_id)"
        " DO UPDATE SET rating = EXCLUDED.rating, modification_date = now()",
        (viewer.user_id, TABLES[kind], number, rating),
    )


def now_playing_txn(txn: Any, viewer: Viewer, user_ids: list[int], track_ids: list[int]) -> dict[str, Any]:
    """`users`: {id: username} of those whose activity the viewer may see; `songs`: {id: song row} they may play."""
    params = PositionalParams()
    txn.execute(
        f"SELECT u.id, u.username FROM users u WHERE u.id = ANY({params.bind(user_ids)})"
        f" AND {privacy_condition(params, viewer, 'u.privacy_level', 'u.id')}",
        params.params,
    )
    users = {r["id"]: r["username"] for r in txn.fetchall()}
    q = Query(viewer)
    songs = q.fetch_tuples(txn, q.songs([f"t.id = ANY({q.bind(track_ids)})"]))
    return {"users": users, "songs": {r[0]: r for r in songs}}  # song rows (tuples), their id first


# --- playlists ---------------------------------------------------------------------------------------------------


def _entries_txn(txn: Any, viewer: Viewer, playlist_id: int) -> list[tuple[Any, ...]]:
    """The playlist's entries the viewer may play, in order (a track listed twice comes twice)."""
    q = Query(viewer)
    table = "playlist_track ppt JOIN track t ON t.id = ppt.track_id"
    return q.fetch_tuples(txn, q.songs([f"ppt.playlist_id = {q.bind(playlist_id)}"], "ppt.index", table=table))


def playlists_txn(txn: Any, viewer: Viewer, username: str | None) -> list[dict[str, Any]]:
    """The playlists the viewer may see (only `username`'s when given: error 70 for an unknown user)."""
    owner = None
    if username:
        txn.execute("SELECT id FROM users WHERE lower(username) = lower(%s)", (username,))
        row = txn.fetchone()
        if row is None:
            raise not_found(f"No such user: {username}")
        owner = row["id"]
    listing = playlists_store.Listing(viewer, user=owner, ordering=("name",), limit=MAX_PLAYLISTS)
    return playlists_store.list_txn(txn, listing)[1]


def playlist_txn(txn: Any, viewer: Viewer, playlist_id: int) -> dict[str, Any]:
    """A playlist the viewer may see with its playable `entries`; error 70 otherwise."""
    row = playlists_store.detail_txn(txn, viewer, playlist_id)
    if row is None:
        raise not_found("Playlist not found.")
    return {**row, "entries": _entries_txn(txn, viewer, playlist_id)}


def _positions_txn(txn: Any, viewer: Viewer, playlist_id: int) -> list[int]:
    """The real positions of the entries the viewer sees (getPlaylist skips tracks they may not play)."""
    q = Query(viewer)
    txn.execute(
        f"SELECT ppt.index FROM playlist_track ppt WHERE ppt.playlist_id = {q.bind(playlist_id)}"
        f" AND {q.track_playable('ppt.track_id')} ORDER BY ppt.index",
        q.params,
    )
    return [r["index"] for r in txn.fetchall()]


def create_playlist_txn(
    txn: Any, viewer: Viewer, name: str | None, track_ids: list[int], max_tracks: int, replace: int | None = None
) -> dict[str, Any]:
    """A new playlist of `track_ids` or, with `replace`, that playlist's tracks replaced (and renamed when `name`)."""
    if replace is None:
        playlist_id = playlists_store.create_txn(txn, viewer, name or "", "instance")["id"]
    else:
        playlist_id = replace
        playlists_store.clear_txn(txn, viewer, playlist_id)
        if name:
            playlists_store.update_txn(txn, viewer, playlist_id, {"name": name})
    if track_ids:
        playlists_store.add_txn(txn, viewer, playlist_id, track_ids, True, max_tracks)
    return playlist_txn(txn, viewer, playlist_id)


@dataclass(frozen=True)
class PlaylistEdit:
    """updatePlaylist's request: column changes (name, description), `public` (None: unchanged), the visible
    positions to remove, the tracks to append."""

    changes: dict[str, str]
    public: bool | None
    remove: list[int]
    add: list[int]


def update_playlist_txn(txn: Any, viewer: Viewer, playlist_id: int, edit: PlaylistEdit, max_tracks: int) -> None:
    """Apply an edit of the viewer's playlist, all or nothing. Making it public turns `me` into `instance` and
    leaves a public level as it is; making it private is `me`."""
    playlists_store.lock_txn(txn, viewer, playlist_id)  # 70 / 50 before anything else
    changes = dict(edit.changes)
    if edit.public is not None:
        txn.execute("SELECT privacy_level FROM playlist WHERE id = %s", (playlist_id,))
        if (txn.fetchone()["privacy_level"] == "me") == edit.public:
            changes["privacy_level"] = "instance" if edit.public else "me"
    if changes:
        playlists_store.update_txn(txn, viewer, playlist_id, changes)
    if edit.remove:
        positions = _positions_txn(txn, viewer, playlist_id)
        wrong = [i for i in edit.remove if not 0 <= i < len(positions)]
        if wrong:
            raise not_found(f"No entry at index {wrong[0]}.")
        for position in sorted({positions[i] for i in edit.remove}, reverse=True):
            playlists_store.remove_txn(txn, viewer, playlist_id, position)
    if edit.add:
        playlists_store.add_txn(txn, viewer, playlist_id, edit.add, True, max_tracks)


# --- bookmarks and the play queue --------------------------------------------------------------------------------


def bookmarks_txn(txn: Any, viewer: Viewer) -> list[dict[str, Any]]:
    """The viewer's bookmarks of tracks they may still play, latest change first, each with its `song` row."""
    q = Query(viewer)
    songs = q.songs(["t.id IN (SELECT track_id FROM bookmark WHERE user_id = %(me)s)"])
    rows = q.fetchall(
        txn,
        "SELECT b.position, b.comment, b.creation_date, b.modification_date, row_to_json(s) AS song"
        f" FROM bookmark b JOIN ({songs}) s ON s.id = b.track_id WHERE b.user_id = %(me)s"
        " ORDER BY b.modification_date DESC, b.id DESC",
    )
    return [{**r, "song": song_row(r["song"])} for r in rows]


def save_bookmark_txn(txn: Any, viewer: Viewer, track_id: int, position: int, comment: str) -> None:
    require_visible_txn(txn, viewer, ids.TRACK, [track_id])
    txn.execute(
        "INSERT INTO bookmark (user_id, track_id, position, comment) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (user_id, track_id) DO UPDATE SET position = EXCLUDED.position,"
        " comment = EXCLUDED.comment, modification_date = now()",
        (viewer.user_id, track_id, position, comment),
    )


def delete_bookmark_txn(txn: Any, viewer: Viewer, track_id: int) -> bool:
    txn.execute("DELETE FROM bookmark WHERE user_id = %s AND track_id = %s RETURNING id", (viewer.user_id, track_id))
    return txn.fetchone() is not None


def play_queue_txn(txn: Any, viewer: Viewer) -> dict[str, Any] | None:
    """The viewer's saved queue with its playable `songs` (song rows) in order, or None. One statement."""
    q = Query(viewer)
    table = "unnest(pq.track_ids) WITH ORDINALITY AS qi (id, n) JOIN track t ON t.id = qi.id"
    songs = nested(q.songs([], "qi.n", table=table))
    queue = q.fetchone(txn, f"SELECT pq.*, {songs} AS songs FROM play_queue pq WHERE pq.user_id = %(me)s")
    return queue and {**queue, "songs": [song_row(s) for s in queue["songs"]]}


def save_play_queue_txn(
    txn: Any, viewer: Viewer, track_ids: list[int], current: int | None, position: int, client: str
) -> None:
    """Replace the viewer's queue (tracks they may play, duplicates kept); an empty list clears it."""
    if not track_ids:
        txn.execute("DELETE FROM play_queue WHERE user_id = %s", (viewer.user_id,))
        return
    require_visible_txn(txn, viewer, ids.TRACK, sorted(set(track_ids) | ({current} if current else set())))
    txn.execute(
        "INSERT INTO play_queue (user_id, current_track_id, position, track_ids, changed, changed_by)"
        " VALUES (%s, %s, %s, %s, now(), %s) ON CONFLICT (user_id) DO UPDATE SET"
        " current_track_id = EXCLUDED.current_track_id, position = EXCLUDED.position,"
        " track_ids = EXCLUDED.track_ids, changed = now(), changed_by = EXCLUDED.changed_by",
        (viewer.user_id, current, position, track_ids, client),
    )


# --- media -------------------------------------------------------------------------------------------------------

_ATTACHMENT = "SELECT a.id, a.uuid, a.file, a.mimetype FROM attachment a"


def cover_txn(txn: Any, viewer: Viewer, kind: str, number: int) -> dict[str, Any] | None:
    """The attachment a cover art id names, when the viewer may see its owner: a track's own picture else its
    album's, an album's cover, an artist's picture else the cover of their first album, a playlist's first album
    cover; album covers as the viewer sees them (from uploads they may play). None when there is none."""
    q = Query(viewer)
    n = q.bind(number)

    def album_cover(album_id: str) -> str:
        return f"(SELECT {q.album_cover_id('cal')} FROM album cal WHERE cal.id = {album_id})"

    if kind == ids.TRACK:
        source = (
            f"SELECT coalesce(t.attachment_cover_id, {album_cover('t.album_id')}) FROM track t"
            f" WHERE t.id = {n} AND {q.track_playable('t.id')}"
        )
    elif kind == ids.ALBUM:
        source = f"SELECT {album_cover(n)} WHERE {q.album_playable(n)}"
    elif kind == ids.ARTIST:
        source = (
            f"SELECT coalesce(ar.attachment_cover_id, (SELECT {q.album_cover_id('cal')} FROM album cal"
            f" WHERE cal.artist_id = ar.id AND {q.album_has_cover('cal')}"
            " ORDER BY cal.release_date NULLS LAST, cal.id LIMIT 1))"
            f" FROM artist ar WHERE ar.id = {n} AND {q.artist_playable('ar.id')}"
        )
    else:
        source = (
            f"SELECT {album_cover('ct.album_id')} FROM playlist pls JOIN playlist_track cpt"
            " ON cpt.playlist_id = pls.id JOIN track ct ON ct.id = cpt.track_id"
            f" WHERE pls.id = {n} AND {q.visible('pls.privacy_level', 'pls.user_id')}"
            f" AND {album_cover('ct.album_id')} IS NOT NULL"
            f" AND {q.track_playable('ct.id')} ORDER BY cpt.index LIMIT 1"
        )
    return q.fetchone(txn, f"{_ATTACHMENT} WHERE a.id = ({source})")


def _with_lyrics(q: Query, where: list[str]) -> str:
    """The tracks `t` meeting `where` that the viewer may play, each with the embedded `lyrics` of the first of
    their uploads that has some (NULL when none has)."""
    lyrics = (
        f"(SELECT pu.metadata ->> 'lyrics' {q.playable_uploads('t.id')} AND pu.metadata ? 'lyrics'"
        " ORDER BY pu.creation_date, pu.id LIMIT 1)"
    )
    return (
        f"SELECT t.id, t.title, (SELECT name FROM artist WHERE id = t.artist_id) AS artist_name, {lyrics} AS lyrics"
        f" FROM track t WHERE {' AND '.join([*where, q.track_playable('t.id')])}"
    )


def song_lyrics_txn(txn: Any, viewer: Viewer, track_id: int) -> dict[str, Any] | None:
    """A track the viewer may play, with the embedded `lyrics` of its uploads (None when it has none)."""
    q = Query(viewer)
    return q.fetchone(txn, _with_lyrics(q, [f"t.id = {q.bind(track_id)}"]))


def lyrics_txn(txn: Any, viewer: Viewer, artist: str | None, title: str) -> dict[str, Any] | None:
    """The first playable track with lyrics titled `title` (folded) by `artist` (folded, optional)."""
    q = Query(viewer)
    where = [f"t.title_key = {q.bind(title)}"]
    if artist:
        where.append(f"t.artist_id IN (SELECT id FROM artist WHERE name_key = {q.bind(artist)})")
    statement = f"SELECT * FROM ({_with_lyrics(q, where)}) x WHERE x.lyrics IS NOT NULL ORDER BY x.id LIMIT 1"
    return q.fetchone(txn, statement)


# --- accounts ----------------------------------------------------------------------------------------------------

_USER = (
    "SELECT u.id, u.username, u.email, u.actor_id, u.is_superuser, u.is_staff, u.permission_library,"
    " av.creation_date AS avatar_date FROM users u LEFT JOIN attachment av ON av.id = u.avatar_id"
)


def avatar_txn(txn: Any, username: str) -> dict[str, Any] | None:
    """The avatar attachment of an active account, if it has one."""
    txn.execute(
        f"{_ATTACHMENT} JOIN users u ON u.avatar_id = a.id WHERE lower(u.username) = lower(%s) AND u.is_active",
        (username,),
    )
    return txn.fetchone()


def accounts_txn(txn: Any, username: str | None) -> list[dict[str, Any]]:
    """The active account named `username` (every one when None), each with the music `folders` it may see."""
    if username is None:
        txn.execute(f"{_USER} WHERE u.is_active ORDER BY lower(u.username)")
    else:
        txn.execute(f"{_USER} WHERE lower(u.username) = lower(%s) AND u.is_active", (username,))
    rows = txn.fetchall()
    for row in rows:
        viewer = Viewer(user_id=row["id"], actor_id=row["actor_id"])
        row["folders"] = [f["id"] for f in music_folders_txn(txn, viewer)]
    return rows
