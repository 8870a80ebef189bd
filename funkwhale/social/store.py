"""The SQL of favorites, listenings and content filters. A favorite or a listen is only written for a track the
caller may play; lists nest the catalog's track JSON. A user's own entries stay listed when their track is no
longer playable (no uploads); another user's are listed only when the viewer may play their track."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funkwhale.music.sql import Fragments, order_by
from funkwhale.music.visibility import Viewer
from funkwhale.social import Refused

# The tables of a user's track activity, as the API names them.
ACTIVITY_TABLES = {"favorites": "track_favorite", "listenings": "listening"}
ORDERINGS = {"creation_date": "e.creation_date", "id": "e.id"}


@dataclass(frozen=True)
class Listing:
    """One list of favorites or listenings: whose (`user`, or only the viewer's when `mine`), a folded `q` on
    track, artist or album names, ordering (Funkwhale names, "-" for descending), a page window."""

    viewer: Viewer
    mine: bool = True
    user: int | None = None
    q: str = ""
    ordering: tuple[str, ...] = ()
    entry: int | None = None  # only this entry (by id)
    username: str | None = None  # only this user's (1.4's `username` filter)
    domain: str | None = None  # only the entries of users whose actor is on this domain
    limit: int = 50
    offset: int = 0
    counted: bool = True  # False: the total is not counted (0), for who wants the latest entries only


def _owner_visible(sql: Fragments) -> str:
    """True for an activity row `e` of user `u` the viewer may see (see the package docstring)."""
    return sql.visible("u.privacy_level", "e.user_id")


def _ordering(fields: tuple[str, ...]) -> str:
    return order_by(ORDERINGS, fields, ("-creation_date",), "e.id")


def _entries(kind: str, listing: Listing, page: bool) -> tuple[Fragments, str]:
    """The statement's fragments and the FROM and WHERE of the entries `e` (of users `u`) the listing shows; for a
    `page` (walked by index until full), each entry probes the visibility facts, where a count hashes them all."""
    sql = Fragments(listing.viewer)
    where = [sql.track_id_not_filtered("e.track_id")]
    if listing.mine:  # the viewer sees all their own entries
        where.append(f"e.user_id = {sql.bind(listing.viewer.user_id, 'mine')}")
    else:
        where += [_owner_visible(sql), sql.entry_shown("e.user_id", "e.track_id", probe=page)]
    if listing.user is not None:
        where.append(f"e.user_id = {sql.bind(listing.user, 'user')}")
    if listing.entry is not None:
        where.append(f"e.id = {sql.bind(listing.entry, 'entry')}")
    if listing.username is not None:
        where.append(f"u.username = {sql.bind(listing.username, 'username')}")
    if listing.domain is not None:
        where.append(f"u.actor_id IN (SELECT id FROM actor WHERE domain = {sql.bind(listing.domain, 'domain')})")
    if listing.q:
        sql.bind("%" + listing.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", "q_like")
        where.append(
            "EXISTS (SELECT 1 FROM track qt LEFT JOIN album qal ON qal.id = qt.album_id"
            " JOIN artist qar ON qar.id = qt.artist_id WHERE qt.id = e.track_id AND (qt.title_key LIKE %(q_like)s"
            " OR qar.name_key LIKE %(q_like)s OR qal.title_key LIKE %(q_like)s))"
        )
    return sql, f"{ACTIVITY_TABLES[kind]} e JOIN users u ON u.id = e.user_id WHERE {' AND '.join(where)}"


def list_txn(txn: Any, kind: str, listing: Listing) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of favorites or listenings (`kind`) the viewer may see (others' only for tracks the viewer
    may play, and the total counts only those); each row is the catalog's track row plus `entry_id`, `entry_date`
    and `owner` (json). One statement."""
    sql, entries = _entries(kind, listing, page=not listing.counted)
    # A page walks an index whoever's entries it lists: planned once (a custom plan was made at every page, ~1.2 ms
    # of its 4-5). Not with `q`, whose generic plan guesses the words' selectivity wrong (160 ms on a year of plays).
    sql.generic_plan = not listing.counted and not listing.q
    order = _ordering(listing.ordering)
    # The total is counted apart (once, by index), so that the page walks the entries in order by index and stops
    # when full, rather than sorting every match to number them all (a year's history: 50,000 listenings); neither
    # reads the entries' tracks.
    return sql.fetch_page(
        txn,
        f"WITH page AS (SELECT e.id, e.user_id, e.track_id, e.creation_date, row_number() OVER (ORDER BY {order})"
        f" AS ord FROM {entries} ORDER BY {order} {sql.window(listing.limit, listing.offset)})"
        f" SELECT {f'(SELECT count(*) FROM {entries})' if listing.counted else '0'} AS total, e.id AS entry_id,"
        " e.creation_date AS entry_date,"
        f" {sql.user_json('e.user_id')} AS owner, {sql.user_actor_json('e.user_id')} AS owner_actor,"
        f" {sql.columns('track')} FROM page e JOIN track p ON p.id = e.track_id ORDER BY e.ord",
    )


def counts_txn(txn: Any, kind: str, listing: Listing, users: list[int] | None) -> dict[int, int]:
    """How many entries the listing has of each user (of `users` only, unless None); a user with none is left out
    (funkwhale.social.counts caches them)."""
    sql, entries = _entries(kind, listing, page=False)
    if users is not None:
        entries += f" AND e.user_id = ANY({sql.bind(users)}::bigint[])"
    rows = sql.fetchall(txn, f"SELECT e.user_id, count(*) AS n FROM {entries} GROUP BY e.user_id")
    return {row["user_id"]: row["n"] for row in rows}


def activity_versions_txn(txn: Any, users: list[int] | None = None) -> dict[int, int]:
    """The version of each user's activity (of `users` only, unless None: their listenings, favorites, privacy:
    one more at each change; migration 0016); a user who has none has not changed since the migration (version 0)."""
    if users is None:
        txn.execute("SELECT user_id, version FROM activity_version")
    else:
        txn.execute("SELECT user_id, version FROM activity_version WHERE user_id = ANY(%s)", (users,))
    return {row["user_id"]: row["version"] for row in txn.fetchall()}


def _playable_insert_txn(txn: Any, viewer: Viewer, table: str, track_id: int, tail: str) -> dict[str, Any] | None:
    """Insert a row of the viewer's into `table` (track_favorite or listening) for a track they may play, then
    `tail` (ON CONFLICT ..., RETURNING ...); None (and nothing written) when the track is unknown or not playable."""
    sql = Fragments(viewer)
    return sql.fetchone(
        txn,
        f"INSERT INTO {table} (user_id, track_id) SELECT %(me)s, t.id FROM track t"
        f" WHERE t.id = {sql.bind(track_id)} AND {sql.track_playable('t.id')} {tail}",
    )


def add_favorite_txn(txn: Any, viewer: Viewer, track_id: int) -> dict[str, Any] | None:
    """Favorite a track the viewer may play (again is fine: the existing favorite is returned), else None."""
    return _playable_insert_txn(
        txn,
        viewer,
        "track_favorite",
        track_id,
        "ON CONFLICT (user_id, track_id) DO UPDATE SET source = track_favorite.source"
        " RETURNING id, track_id AS track, creation_date",
    )


def remove_favorite_txn(txn: Any, viewer: Viewer, track_id: int) -> bool:
    """Unfavorite a track; False when it was not a favorite."""
    txn.execute(
        "DELETE FROM track_favorite WHERE user_id = %s AND track_id = %s RETURNING id", (viewer.user_id, track_id)
    )
    return txn.fetchone() is not None


def remove_favorite_entry_txn(txn: Any, viewer: Viewer, favorite_id: int) -> bool:
    """Delete one of the viewer's favorites by its id; False when they have no such favorite."""
    txn.execute("DELETE FROM track_favorite WHERE user_id = %s AND id = %s RETURNING id", (viewer.user_id, favorite_id))
    return txn.fetchone() is not None


def favorite_ids_txn(txn: Any, viewer: Viewer) -> list[dict[str, Any]]:
    """Every favorite of the viewer as {id, track}, newest first."""
    txn.execute(
        "SELECT id, track_id AS track FROM track_favorite WHERE user_id = %s ORDER BY creation_date DESC, id DESC",
        (viewer.user_id,),
    )
    return txn.fetchall()


def add_listening_txn(txn: Any, viewer: Viewer, track_id: int) -> dict[str, Any] | None:
    """Record a listen of a track the viewer may play, else None."""
    return _playable_insert_txn(
        txn, viewer, "listening", track_id, "RETURNING id, user_id AS user, track_id AS track, creation_date"
    )


# -- content filters -------------------------------------------------------------------------------------------------

_FILTER_COLUMNS = (
    "f.uuid, f.creation_date, json_build_object('type', 'artist', 'id', a.id, 'name', a.name) AS target"
    " FROM user_filter f JOIN artist a ON a.id = f.target_artist_id"
)


def list_filters_txn(txn: Any, viewer: Viewer, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of the viewer's content filters, newest first."""
    txn.execute(
        f"SELECT count(*) OVER () AS total, {_FILTER_COLUMNS} WHERE f.user_id = %s"
        " ORDER BY f.creation_date DESC, f.id DESC LIMIT %s OFFSET %s",
        (viewer.user_id, limit, offset),
    )
    rows = txn.fetchall()
    return (rows[0]["total"] if rows else 0), [{k: v for k, v in row.items() if k != "total"} for row in rows]


def add_filter_txn(txn: Any, viewer: Viewer, artist_id: int) -> dict[str, Any]:
    """Hide an artist for the viewer; Refused for an unknown artist or one already hidden."""
    txn.execute("SELECT id FROM artist WHERE id = %s", (artist_id,))
    if txn.fetchone() is None:
        raise Refused(400, "target", f'Invalid pk "{artist_id}" - object does not exist.')
    txn.execute(
        "INSERT INTO user_filter (user_id, target_artist_id) VALUES (%s, %s)"
        " ON CONFLICT (user_id, target_artist_id) DO NOTHING RETURNING uuid",
        (viewer.user_id, artist_id),
    )
    created = txn.fetchone()
    if created is None:
        raise Refused(400, "target", "You already have a filter for this artist.")
    txn.execute(f"SELECT {_FILTER_COLUMNS} WHERE f.uuid = %s", (created["uuid"],))
    return txn.fetchone()


def get_filter_txn(txn: Any, viewer: Viewer, filter_uuid: str) -> dict[str, Any] | None:
    """One of the viewer's content filters, or None."""
    txn.execute(f"SELECT {_FILTER_COLUMNS} WHERE f.user_id = %s AND f.uuid = %s::uuid", (viewer.user_id, filter_uuid))
    return txn.fetchone()


def delete_filter_txn(txn: Any, viewer: Viewer, filter_uuid: str) -> bool:
    """Remove one of the viewer's content filters; False when they have no such filter."""
    txn.execute(
        "DELETE FROM user_filter WHERE user_id = %s AND uuid = %s::uuid RETURNING id", (viewer.user_id, filter_uuid)
    )
    return txn.fetchone() is not None


# -- bulk writes (funkwhale.social.activity) -------------------------------------------------------------------------


def add_favorites_txn(txn: Any, viewer: Viewer, track_ids: list[int], source: str) -> list[int]:
    """Favorite the tracks the viewer may play (one already a favorite keeps its source); the ids written."""
    sql = Fragments(viewer)
    rows = sql.fetchall(
        txn,
        f"INSERT INTO track_favorite (user_id, track_id, source) SELECT {sql.bind(viewer.user_id)}, t.id,"
        f" {sql.bind(source)} FROM track t WHERE t.id = ANY({sql.bind(track_ids)}::bigint[])"
        f" AND {sql.track_playable('t.id')}"
        " ON CONFLICT (user_id, track_id) DO UPDATE SET source = track_favorite.source RETURNING track_id",
    )
    return [row["track_id"] for row in rows]


def remove_favorites_txn(txn: Any, viewer: Viewer, track_ids: list[int]) -> None:
    txn.execute("DELETE FROM track_favorite WHERE user_id = %s AND track_id = ANY(%s)", (viewer.user_id, track_ids))


def add_listenings_txn(txn: Any, viewer: Viewer, plays: list[tuple[int, datetime | None]], source: str) -> list[int]:
    """Listenings (at the time given, else now) of the tracks the viewer may play; the track ids written."""
    sql = Fragments(viewer)
    tracks, times = [track for track, _ in plays], [when for _, when in plays]
    rows = sql.fetchall(
        txn,
        "INSERT INTO listening (user_id, track_id, creation_date, source)"
        f" SELECT {sql.bind(viewer.user_id)}, p.track, coalesce(p.at, now()), {sql.bind(source)}"
        f" FROM unnest({sql.bind(tracks)}::bigint[], {sql.bind(times)}::timestamptz[]) p(track, at)"
        f" WHERE {sql.track_playable('p.track')} RETURNING track_id",
    )
    return [row["track_id"] for row in rows]
