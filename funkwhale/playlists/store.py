"""The playlists' SQL. Reads are one statement each; every write locks the playlist row (FOR UPDATE) and computes
positions inside its transaction, so `playlist_track.index` stays exactly 0..n-1 under concurrent edits (the
UNIQUE(playlist_id, index) is checked at commit, which lets one UPDATE shift many rows).

What a viewer sees of a playlist's entries (funkwhale.music.sql's `Fragments.entry_shown`): its owner sees them all
(a track they may no longer play as not playable), anyone else only those whose track they may play, numbered
0..k-1 among themselves; the track count follows the same rule, the duration, `is_playable` and album covers count
only playable entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale.db.rows import required
from funkwhale.music.sql import Fragments, order_by
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import ALBUM_COVERS, DEFAULT_ORDERING, ORDERINGS, PlaylistError


@dataclass(frozen=True)
class Listing:
    """One list request: filters, ordering (Funkwhale names, "-" for descending), a page window."""

    viewer: Viewer
    user: int | None = None
    mine: bool = False  # scope=me: only the viewer's own (none for an anonymous viewer)
    q: str = ""
    name: str | None = None  # the exact name
    holding: tuple[tuple[str, int], ...] = ()  # (track | album | artist, id): playlists with such an entry
    playable: bool | None = None
    ordering: tuple[str, ...] = ()
    limit: int = 50
    offset: int = 0


# What a playlist entry's track `ht` is checked against by the track, album and artist filters.
_HOLDS = {"track": "ht.id", "album": "ht.album_id", "artist": "ht.artist_id"}


def _visible(sql: Fragments) -> str:
    """True for a playlist `pls` the viewer may see: theirs, `instance` ones when logged in, `everyone` ones."""
    return sql.visible("pls.privacy_level", "pls.user_id")


def _has_playable(sql: Fragments) -> str:
    return (
        "EXISTS (SELECT 1 FROM playlist_track ppt JOIN track ptt ON ptt.id = ppt.track_id"
        f" WHERE ppt.playlist_id = pls.id AND {sql.track_playable('ptt.id')})"
    )


def _columns(sql: Fragments) -> str:
    """The playlist JSON pieces over `pls`: owner, count of the entries shown, duration and album covers of the
    playable ones."""
    return (
        "pls.id, pls.name, pls.description, pls.privacy_level, pls.creation_date, pls.modification_date,"
        f" {sql.user_json('pls.user_id')} AS user, {sql.user_actor_json('pls.user_id')} AS actor,"
        " (SELECT json_build_object('count', count(*), 'duration', coalesce(sum(d), 0), 'playable', count(d))"
        f" FROM (SELECT {sql.best_duration('spt.track_id')} AS d FROM playlist_track spt"
        f" WHERE spt.playlist_id = pls.id AND {sql.entry_shown('pls.user_id', 'spt.track_id')} OFFSET 0) s)"
        " AS stats,"
        " (SELECT coalesce(json_agg(c.cover ORDER BY c.first), '[]'::json) FROM (SELECT min(cpt.index) AS first,"
        f" {sql.album_cover('cal')} AS cover FROM playlist_track cpt"
        " JOIN track ctr ON ctr.id = cpt.track_id JOIN album cal ON cal.id = ctr.album_id"
        f" WHERE cpt.playlist_id = pls.id AND {sql.album_has_cover('cal')} AND {sql.track_playable('ctr.id')}"
        f" GROUP BY cal.id ORDER BY first LIMIT {ALBUM_COVERS}) c) AS album_covers"
    )


def _ordering(fields: tuple[str, ...]) -> str:
    return order_by(ORDERINGS, fields, DEFAULT_ORDERING, "pls.id")


def list_txn(txn: Any, listing: Listing) -> tuple[int, list[dict[str, Any]]]:
    """(total, rows of the page) of the playlists the viewer may see."""
    sql = Fragments(listing.viewer)
    where = [_visible(sql)]
    if listing.user is not None:
        where.append(f"pls.user_id = {sql.bind(listing.user, 'user')}")
    if listing.mine:
        where.append(f"pls.user_id = {sql.bind(listing.viewer.user_id, 'mine')}")
    if listing.name is not None:
        where.append(f"pls.name = {sql.bind(listing.name, 'name')}")
    for kind, object_id in listing.holding:
        where.append(
            "EXISTS (SELECT 1 FROM playlist_track hpt JOIN track ht ON ht.id = hpt.track_id"
            f" WHERE hpt.playlist_id = pls.id AND {_HOLDS[kind]} = {sql.bind(object_id, f'holds_{kind}')})"
        )
    if listing.q:
        like = "%" + listing.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(f"lower(pls.name) LIKE {sql.bind(like, 'q')}")
    if listing.playable is not None:
        where.append(_has_playable(sql) if listing.playable else f"NOT {_has_playable(sql)}")
    return sql.fetch_page(
        txn,
        f"WITH page AS (SELECT pls.*, count(*) OVER () AS total FROM playlist pls WHERE {' AND '.join(where)}"
        f" ORDER BY {_ordering(listing.ordering)} {sql.window(listing.limit, listing.offset)})"
        f" SELECT pls.total, {_columns(sql)} FROM page pls ORDER BY {_ordering(listing.ordering)}",
    )


def detail_txn(txn: Any, viewer: Viewer, playlist_id: int) -> dict[str, Any] | None:
    """One playlist the viewer may see, else None."""
    sql = Fragments(viewer)
    return sql.fetchone(
        txn, f"SELECT {_columns(sql)} FROM playlist pls WHERE pls.id = {sql.bind(playlist_id)} AND {_visible(sql)}"
    )


def tracks_txn(
    txn: Any, viewer: Viewer, playlist_id: int, start: int = 0, limit: int | None = None
) -> tuple[int, list[dict[str, Any]]] | None:
    """(count, entries from position `start`, at most `limit`) of a playlist the viewer may see, else None.

    Only the entries shown to the viewer (see the module docstring) are counted and listed; each is the catalog's
    track row plus `index` (its position among them: the real one for the owner, who sees them all) and `added`
    (when it was added). One statement; each distinct album's JSON is built once.
    """
    sql = Fragments(viewer)
    window = f"s.position >= {sql.bind(start, 'start')}"
    if limit is not None:
        window += f" AND s.position < {sql.bind(start + limit, 'end')}"
    rows = sql.fetchall(
        txn,
        "WITH found AS MATERIALIZED (SELECT pls.id, pls.user_id FROM playlist pls"
        f" WHERE pls.id = {sql.bind(playlist_id, 'id')} AND {_visible(sql)}),"
        " shown AS MATERIALIZED (SELECT pt.track_id, pt.creation_date,"
        " row_number() OVER (ORDER BY pt.index) - 1 AS position FROM found pls"
        f" JOIN playlist_track pt ON pt.playlist_id = pls.id WHERE {sql.entry_shown('pls.user_id', 'pt.track_id')}),"
        " win AS MATERIALIZED (SELECT s.position, s.creation_date, s.track_id, wt.album_id FROM shown s"
        f" JOIN track wt ON wt.id = s.track_id WHERE {window}),"
        f" page_album AS MATERIALIZED ({sql.page_albums('win')})"
        " SELECT (SELECT count(*) FROM shown) AS total, e.* FROM found f LEFT JOIN LATERAL (SELECT w.position AS index,"
        f" w.creation_date AS added, {sql.columns('track', albums='page_album')} FROM win w"
        " JOIN track p ON p.id = w.track_id) e ON true ORDER BY e.index",
    )
    if not rows:
        return None
    return rows[0]["total"], [r for r in rows if r["index"] is not None]


# -- writes ----------------------------------------------------------------------------------------------------------


def _insert_txn(txn: Any, viewer: Viewer, name: str, privacy_level: str) -> int:
    txn.execute(
        "INSERT INTO playlist (user_id, name, privacy_level) VALUES (%s, %s, %s) RETURNING id",
        (viewer.user_id, name, privacy_level),
    )
    return txn.fetchone()["id"]


def create_txn(txn: Any, viewer: Viewer, name: str, privacy_level: str) -> dict[str, Any]:
    return required(detail_txn(txn, viewer, _insert_txn(txn, viewer, name, privacy_level)), "the new playlist")


def lock_txn(txn: Any, viewer: Viewer, playlist_id: int) -> None:
    """Lock the viewer's playlist for this transaction; 404 when they cannot see it, 403 when it is not theirs."""
    txn.execute("SELECT user_id, privacy_level FROM playlist WHERE id = %s FOR UPDATE", (playlist_id,))
    row = txn.fetchone()
    if row is None or (row["user_id"] != viewer.user_id and row["privacy_level"] == "me"):
        raise PlaylistError(404, "No such playlist.", "not_found")
    if row["user_id"] != viewer.user_id:
        raise PlaylistError(403, "You do not have permission to perform this action.", "permission_denied")


def _touch_txn(txn: Any, playlist_id: int) -> None:
    txn.execute("UPDATE playlist SET modification_date = now() WHERE id = %s", (playlist_id,))


def _count_txn(txn: Any, playlist_id: int) -> int:
    txn.execute("SELECT count(*) AS n FROM playlist_track WHERE playlist_id = %s", (playlist_id,))
    return txn.fetchone()["n"]


def update_txn(txn: Any, viewer: Viewer, playlist_id: int, changes: dict[str, str]) -> dict[str, Any]:
    """Set `name` and/or `privacy_level` of the viewer's playlist."""
    lock_txn(txn, viewer, playlist_id)
    assignments = ", ".join(f"{column} = %s" for column in changes)
    txn.execute(
        f"UPDATE playlist SET {assignments}, modification_date = now() WHERE id = %s",
        [*changes.values(), playlist_id],
    )
    return required(detail_txn(txn, viewer, playlist_id), "the playlist just changed")


def delete_txn(txn: Any, viewer: Viewer, playlist_id: int) -> None:
    lock_txn(txn, viewer, playlist_id)
    txn.execute("DELETE FROM playlist WHERE id = %s", (playlist_id,))


def add_txn(
    txn: Any, viewer: Viewer, playlist_id: int, track_ids: list[int], allow_duplicates: bool, max_tracks: int
) -> tuple[int, list[dict[str, Any]]]:
    """Append tracks (which the owner may play) in order; returns the new entries like `tracks_txn`."""
    lock_txn(txn, viewer, playlist_id)
    sql = Fragments(viewer)
    statement = f"SELECT t.id FROM track t WHERE t.id = ANY({sql.bind(track_ids)}) AND {sql.track_playable('t.id')}"
    found = {r["id"] for r in sql.fetchall(txn, statement)}
    missing = sorted(set(track_ids) - found)
    if missing:
        names = ", ".join(str(i) for i in missing)
        raise PlaylistError(400, f"Unknown or unplayable tracks: {names}.", "does_not_exist", "tracks")
    count = _count_txn(txn, playlist_id)
    if count + len(track_ids) > max_tracks:
        raise PlaylistError(400, f"Playlist would reach the maximum of {max_tracks} tracks.", "max_tracks")
    if not allow_duplicates:
        txn.execute(
            "SELECT DISTINCT track_id FROM playlist_track WHERE playlist_id = %s AND track_id = ANY(%s)",
            (playlist_id, track_ids),
        )
        duplicates = {r["track_id"] for r in txn.fetchall()} | {i for i in track_ids if track_ids.count(i) > 1}
        if duplicates:
            names = ", ".join(str(i) for i in sorted(duplicates))
            raise PlaylistError(
                400, f"Tracks already in the playlist: {names}.", "tracks_already_exist_in_playlist", "tracks"
            )
    _append_txn(txn, playlist_id, count, track_ids)
    return required(tracks_txn(txn, viewer, playlist_id, count), "the tracks just added")


def _append_txn(txn: Any, playlist_id: int, count: int, track_ids: list[int]) -> None:
    """Insert tracks at positions count, count + 1, ... of a locked playlist holding `count` entries."""
    txn.execute(
        "INSERT INTO playlist_track (playlist_id, track_id, index)"
        " SELECT %s, x.id, %s + x.ord - 1 FROM unnest(%s::bigint[]) WITH ORDINALITY AS x (id, ord)",
        (playlist_id, count, track_ids),
    )
    _touch_txn(txn, playlist_id)


def match_txn(txn: Any, viewer: Viewer, wanted: list[tuple[str | None, str]]) -> list[int | None]:
    """For each folded (artist name or None, title), the first track the viewer may play that matches, else None."""
    sql = Fragments(viewer)
    artists, titles = sql.bind([artist for artist, _ in wanted]), sql.bind([title for _, title in wanted])
    statement = (
        "SELECT (SELECT t.id FROM track t WHERE t.title_key = w.title"
        " AND (w.artist IS NULL OR t.artist_id IN (SELECT a.id FROM artist a WHERE a.name_key = w.artist))"
        f" AND {sql.track_playable('t.id')} ORDER BY t.id LIMIT 1) AS id"
        f" FROM unnest({artists}::text[], {titles}::text[]) WITH ORDINALITY AS w (artist, title, ord) ORDER BY w.ord"
    )
    return [r["id"] for r in sql.fetchall(txn, statement)]


def import_txn(
    txn: Any, viewer: Viewer, name: str, privacy_level: str, wanted: list[tuple[str | None, str]], max_tracks: int
) -> tuple[dict[str, Any], list[int]]:
    """A new playlist of the tracks `wanted` names (folded artist, title) that the viewer may play;
    returns it and the positions in `wanted` that matched nothing."""
    found = match_txn(txn, viewer, wanted)
    track_ids = [i for i in found if i is not None]
    if len(track_ids) > max_tracks:
        raise PlaylistError(400, f"Playlist would reach the maximum of {max_tracks} tracks.", "max_tracks")
    playlist_id = _insert_txn(txn, viewer, name, privacy_level)
    _append_txn(txn, playlist_id, 0, track_ids)
    playlist = required(detail_txn(txn, viewer, playlist_id), "the imported playlist")
    return playlist, [n for n, i in enumerate(found) if i is None]


def remove_txn(txn: Any, viewer: Viewer, playlist_id: int, index: int) -> None:
    """Remove the entry at `index`; the ones after it move up."""
    lock_txn(txn, viewer, playlist_id)
    txn.execute("DELETE FROM playlist_track WHERE playlist_id = %s AND index = %s RETURNING id", (playlist_id, index))
    if txn.fetchone() is None:
        raise PlaylistError(400, "Index out of range.", "invalid", "index")
    txn.execute(
        "UPDATE playlist_track SET index = index - 1 WHERE playlist_id = %s AND index > %s", (playlist_id, index)
    )
    _touch_txn(txn, playlist_id)


def move_txn(txn: Any, viewer: Viewer, playlist_id: int, source: int, target: int) -> None:
    """Move the entry at `source` to `target`; the ones between shift by one."""
    lock_txn(txn, viewer, playlist_id)
    count = _count_txn(txn, playlist_id)
    for field, value in (("from", source), ("to", target)):
        if not 0 <= value < count:
            raise PlaylistError(400, "Index out of range.", "invalid", field)
    txn.execute(
        "UPDATE playlist_track SET index = CASE WHEN index = %(from)s THEN %(to)s"
        " WHEN %(from)s < %(to)s THEN index - 1 ELSE index + 1 END"
        " WHERE playlist_id = %(id)s AND index BETWEEN least(%(from)s, %(to)s) AND greatest(%(from)s, %(to)s)",
        {"from": source, "to": target, "id": playlist_id},
    )
    _touch_txn(txn, playlist_id)


def clear_txn(txn: Any, viewer: Viewer, playlist_id: int) -> None:
    lock_txn(txn, viewer, playlist_id)
    txn.execute("DELETE FROM playlist_track WHERE playlist_id = %s", (playlist_id,))
    _touch_txn(txn, playlist_id)


def stamp_txn(txn: Any, viewer: Viewer, playlist_id: int) -> str | None:
    """The version of a playlist the viewer may see (None when they cannot): its row's xmin, which every write
    of the playlist or of its entries changes (each touches the row), in the same transaction."""
    sql = Fragments(viewer)
    row = sql.fetchone(
        txn, f"SELECT pls.xmin::text AS v FROM playlist pls WHERE pls.id = {sql.bind(playlist_id)} AND {_visible(sql)}"
    )
    return None if row is None else row["v"]
