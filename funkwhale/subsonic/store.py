"""The Subsonic API's SQL: credentials, and ONE statement per read call.

What a viewer sees is what the REST API shows them: content with at least one upload that
`funkwhale.music.visibility.playable_upload_condition` accepts (optionally in one music folder = library), and of
it only the covers and genres those uploads brought (funkwhale.music.sql's `Fragments`: `album_cover_id`,
`tag_names`, `tag_shown`). Lists
and searches also hide the artists the viewer filtered out (`user_filter`); details stay reachable.

`Query.songs`, `Query.albums` and `Query.artists` build a complete SELECT: the ids of the page are chosen first
(filter, order, window), then only those rows get their per-viewer columns (best upload, genres, starred, rating,
plays). `nested()` turns such a SELECT into a JSON array column, so an album with its songs, an artist with its
albums, or the three parts of a search come back from one statement. Rows keep the same keys either way (JSON
timestamps are strings; funkwhale.subsonic.render.iso reads both).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from funkwhale.db.params import PositionalParams
from funkwhale.db.rows import required
from funkwhale.music.normalize import fold
from funkwhale.music.sql import Fragments
from funkwhale.music.visibility import Viewer, library_condition
from funkwhale.users.models import Principal
from funkwhale.users.oauth import store as oauth_store

# --- credentials -------------------------------------------------------------------------------------------------

_ENABLED = "(SELECT value FROM instance_setting WHERE name = 'subsonic__enabled')"


def credentials_txn(txn: Any, username: str) -> dict[str, Any]:
    """The account named `username` (any case; all None when there is none) with its Subsonic API token, and
    the stored subsonic__enabled preference (None when unset) as `enabled`."""
    txn.execute(
        f"SELECT {_ENABLED} AS enabled, u.* FROM (SELECT 1) one LEFT JOIN users u ON lower(u.username) = lower(%s)",
        (username,),
    )
    return txn.fetchone()


def enabled_txn(txn: Any) -> Any:
    """The stored subsonic__enabled preference, None when unset."""
    txn.execute(f"SELECT {_ENABLED} AS enabled")
    return txn.fetchone()["enabled"]


def api_key_txn(txn: Any, token_hash: str) -> tuple[Principal | None, Any]:
    """(who the application or OAuth token speaks for, the stored subsonic__enabled preference)."""
    return oauth_store.principal_for_bearer_txn(txn, token_hash), enabled_txn(txn)


# --- statement building ------------------------------------------------------------------------------------------


def iso_sql(timestamp: str) -> str:
    """SQL text of the timestamp `timestamp` as Subsonic writes dates (funkwhale.subsonic.render.iso, which passes
    it on as it is): ISO-8601 in UTC, milliseconds cut, a Z. PostgreSQL writes it faster than Python would read
    and format a datetime (~5 us each)."""
    return f"""to_char({timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def nested(select: str) -> str:
    """A SELECT built by Query (it has an `ord` column) as a JSON array, in order."""
    return f"(SELECT coalesce(json_agg(x ORDER BY x.ord), '[]'::json) FROM ({select}) x)"


def arrays(selects: dict[str, str], rows: str | None = None) -> str:
    """A statement of the columns of `rows` (a SELECT; none: one row), then each SELECT built by Query as a JSON
    array (`nested`) in a column named by its key. The arrays are subqueries of its FROM, not of its SELECT list:
    PostgreSQL copies a prepared statement's SELECT list at each EXECUTE (to describe its columns), and with it every
    subquery it holds (search3 "kalo": 0.90 -> 0.81 ms of PostgreSQL's CPU)."""
    joined = " CROSS JOIN ".join(
        f"(SELECT {nested(select)} AS {name}) array_{i}" for i, (name, select) in enumerate(selects.items())
    )
    return f"SELECT * FROM {'' if rows is None else f'({rows}) x CROSS JOIN '}{joined}"


# The columns of a song row, in order. Song rows are tuples (read with `fetch_tuples`: no dict per row), which
# funkwhale.subsonic.serializers.song unpacks in this order; one read from JSON (an album's songs) is a dict with
# these keys, made a tuple by `song_row`.
SONG_FIELDS = (
    "id", "title", "position", "disc_number", "mbid", "creation_date", "album_id", "artist_id", "own_cover",
    "artist_name", "album_title", "album_artist_id", "album_artist_name", "album_cover", "year", "mimetype", "size",
    "duration", "bitrate", "sample_rate", "audio_file", "source", "original_name", "replaygain", "genres", "starred",
    "rating", "played", "play_count", "ord",
)  # fmt: skip
song_row = operator.itemgetter(*SONG_FIELDS)  # a song row read from JSON (a dict) as the tuple a song row is
_TRACK_COLUMNS = (
    "t.id, t.title, t.position, t.disc_number, t.mbid, t.creation_date, t.album_id, t.artist_id, t.attachment_cover_id"
)
_ALBUM_COLUMNS = (
    "al.id, al.title, al.mbid, al.creation_date, al.artist_id, al.description, al.attachment_cover_id, al.release_date"
)
_ARTIST_COLUMNS = "a.id, a.name, a.mbid, a.description, a.attachment_cover_id"
_UPLOAD_FIELDS = ("mimetype", "size", "duration", "bitrate", "sample_rate", "audio_file", "source", "original_name")


class Query(Fragments):
    """One Subsonic statement: the shared fragments (funkwhale.music.sql) and the Subsonic rows of songs, albums
    and artists, for a viewer and optionally one music folder."""

    # -- selects ------------------------------------------------------------------------------------------------
    @staticmethod
    def _numbered(ids: str) -> str:
        """The page `pg`: the ids that the SELECT `ids` gives, numbered in its order (`ord`)."""
        return f"(SELECT s.id, row_number() OVER () AS ord FROM ({ids}) s) pg"

    def _picked(
        self, table: str, alias: str, columns: str, where: list[str], order: str, limit: int | None, offset: int
    ) -> str:
        """The rows `alias` of the page: `columns` of those `table` gives meeting `where`, in `order`, numbered in
        it (`ord`). The rows carry the columns the statement reads (read once, not looked up again by id)."""
        window = "" if limit is None else f" {self.window(limit, offset)}"
        picked = f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} ORDER BY {order}{window}"
        return f"(SELECT s.*, row_number() OVER () AS ord FROM ({picked}) s) {alias}"

    @staticmethod
    def _rating(kind: str, id_expr: str) -> str:
        return (
            "(SELECT r.rating FROM rating r"
            f" WHERE r.user_id = %(me)s AND r.object_type = '{kind}' AND r.object_id = {id_expr})"
        )

    @staticmethod
    def _plays(source: str) -> str:
        """The viewer's last play and play count (`lp`) over the listenings `l` that `source` keeps."""
        return (
            f"CROSS JOIN LATERAL (SELECT {iso_sql('max(l.creation_date)')} AS played, count(*) AS play_count"
            f" FROM listening l{source}) lp"
        )

    def songs(
        self,
        where: list[str],
        order: str = "t.id",
        limit: int | None = None,
        offset: int = 0,
        table: str = "track t",
        page: str | None = None,
        probe: bool = False,
    ) -> str:
        """Songs `t` (from `table`, which may join more) meeting `where`, playable by the viewer, in `order`; or
        the songs of `page` (ids and `ord`, as `every_song` writes it). Its columns are SONG_FIELDS, in that order. The
        page's track rows are read once: the rows it picks carry the columns the songs need. `probe`: each track
        picked probes the visibility facts (`Fragments._held`)."""
        if page is None:
            playable = self._held("track_id", "t.id", probe) if probe else self.track_playable("t.id")
            rows = self._picked(table, "t", _TRACK_COLUMNS, [playable, *where], order, limit, offset)
        else:
            rows = f"(SELECT {_TRACK_COLUMNS}, pg.ord FROM {page} JOIN track t ON t.id = pg.id) t"
        columns = {
            "id": "t.id",
            "title": "t.title",
            "position": "t.position",
            "disc_number": "t.disc_number",
            "mbid": "t.mbid",
            "creation_date": iso_sql("t.creation_date"),
            "album_id": "t.album_id",
            "artist_id": "t.artist_id",
            "own_cover": "t.attachment_cover_id IS NOT NULL",
            "artist_name": "sar.name",
            "album_title": "sal.title",
            "album_artist_id": "sal.artist_id",
            # most often the album artist is the track's: read once
            "album_artist_name": "CASE WHEN sal.artist_id = t.artist_id THEN sar.name"
            " ELSE (SELECT name FROM artist WHERE id = sal.artist_id) END",
            "album_cover": self.album_has_cover("sal", shown_upload="up"),
            "year": "extract(year FROM sal.release_date)::int",
            **{name: f"up.{name}" for name in _UPLOAD_FIELDS},
            "replaygain": "up.metadata -> 'replaygain'",
            "genres": self.tag_names("track", "t.id", shown_upload="up.id"),
            "starred": f"(SELECT {iso_sql('f.creation_date')} FROM track_favorite f"
            " WHERE f.user_id = %(me)s AND f.track_id = t.id)",
            "rating": self._rating("track", "t.id"),
            "played": "lp.played",
            "play_count": "lp.play_count",
            "ord": "t.ord",
        }
        return (
            f"SELECT {', '.join(f'{columns[name]} AS {name}' for name in SONG_FIELDS)}"
            f" FROM {rows} JOIN artist sar ON sar.id = t.artist_id"
            " LEFT JOIN album sal ON sal.id = t.album_id"
            f" CROSS JOIN LATERAL (SELECT pu.id, {', '.join(f'pu.{name}' for name in _UPLOAD_FIELDS)}, pu.metadata,"
            " pu.album_id, pu.attachment_cover_id"
            f" {self.playable_uploads('t.id')} ORDER BY pu.creation_date, pu.id LIMIT 1) up"
            f" {self._plays(' WHERE l.user_id = %(me)s AND l.track_id = t.id')} ORDER BY t.ord"
        )

    def every_song(self, limit: int, offset: int) -> str:
        """The page of every song the viewer may play and did not filter out, in id order, read from the
        visibility facts alone (`track_library` keeps each track's album and artist): a deep page walks the
        facts, not the tracks."""
        return self._numbered(
            f"SELECT DISTINCT xtl.track_id AS id FROM track_library xtl WHERE xtl.library_id = ANY({self.libraries})"
            f" AND {self.track_not_filtered('xtl')} ORDER BY xtl.track_id {self.window(limit, offset)}"
        )

    def albums(
        self, where: list[str], order: str, limit: int | None = None, offset: int = 0, table: str = "album al"
    ) -> str:
        """Albums `al` (from `table`) meeting `where` with at least one song the viewer may play, in `order`."""
        rows = self._picked(table, "al", _ALBUM_COLUMNS, [self.album_playable("al.id"), *where], order, limit, offset)
        return (
            f"SELECT al.id, al.title, al.mbid, {iso_sql('al.creation_date')} AS creation_date, al.artist_id,"
            " al.description,"
            " (SELECT name FROM artist WHERE id = al.artist_id) AS artist_name,"
            f" {self.album_has_cover('al')} AS has_cover,"
            " extract(year FROM al.release_date)::int AS year,"
            f" st.song_count, st.duration, {self.tag_names('album', 'al.id')} AS genres,"
            f" {iso_sql('sa.creation_date')} AS starred, {self._rating('album', 'al.id')} AS rating,"
            f" {iso_sql('ap.last_played')} AS played,"
            " coalesce(ap.plays, 0) AS play_count, al.ord"
            f" FROM {rows}"
            " CROSS JOIN LATERAL (SELECT count(d) AS song_count, coalesce(sum(d), 0)::bigint AS duration"
            f" FROM {self.album_durations('al.id')} s) st"
            " LEFT JOIN album_play ap ON ap.user_id = %(me)s AND ap.album_id = al.id"  # kept by the database
            # a join, not a subquery per album: its plan scanned the viewer's stars for each (300 stars: 9 us each)
            " LEFT JOIN starred_album sa ON sa.user_id = %(me)s AND sa.album_id = al.id"
            " ORDER BY al.ord"
        )

    def artists(
        self, where: list[str], order: str, limit: int | None = None, offset: int = 0, table: str = "artist a"
    ) -> str:
        """Artists `a` (from `table`) meeting `where` with something the viewer may play, in `order`."""
        rows = self._picked(table, "a", _ARTIST_COLUMNS, [self.artist_playable("a.id"), *where], order, limit, offset)
        return (
            "SELECT a.id, a.name, a.mbid, a.description, a.attachment_cover_id IS NOT NULL AS has_cover,"
            f" (SELECT count(*) FROM album cal WHERE cal.artist_id = a.id AND {self.album_playable('cal.id')})"
            " AS album_count,"
            f" (SELECT {iso_sql('sa.creation_date')} FROM starred_artist sa"
            " WHERE sa.user_id = %(me)s AND sa.artist_id = a.id)"
            f" AS starred, {self._rating('artist', 'a.id')} AS rating, a.ord"
            f" FROM {rows} ORDER BY a.ord"
        )


ALBUM_ORDER = "t.disc_number NULLS LAST, t.position NULLS LAST, t.title_key, t.id"
ARTIST_ALBUMS_ORDER = "al.release_date NULLS LAST, al.title_key, al.id"


# --- browsing ----------------------------------------------------------------------------------------------------


def music_folders_txn(txn: Any, viewer: Viewer) -> list[dict[str, Any]]:
    """The libraries the viewer may see, with their owner's name."""
    params = PositionalParams()
    txn.execute(
        "SELECT l.id, l.name, l.actor_id AS owner_actor_id, ac.preferred_username AS owner"
        f" FROM library l JOIN actor ac ON ac.id = l.actor_id WHERE {library_condition(params, viewer, 'l')}"
        " ORDER BY l.id",
        params.params,
    )
    return txn.fetchall()


def artists_txn(txn: Any, viewer: Viewer, folder: int | None, changes: bool = False) -> list[dict[str, Any]]:
    """Every artist the viewer may play (content filters apply). With `changes`, each row also has
    `last_modified`: the latest change of an upload they may play (getIndexes' ifModifiedSince)."""
    q = Query(viewer, folder)
    artists = q.artists([q.artist_not_filtered("a.id")], "a.name_key, a.id")
    if not changes:
        return q.fetchall(txn, artists)
    last = (
        f"(SELECT max(pu.modification_date) FROM upload pu JOIN library pl ON pl.id = pu.library_id WHERE {q.playable})"
    )
    return q.fetchall(txn, f"SELECT x.*, {last} AS last_modified FROM ({artists}) x")


def artist_txn(txn: Any, viewer: Viewer, artist_id: int) -> dict[str, Any] | None:
    """One artist with its albums (`albums`), or None when the viewer may play nothing of theirs."""
    q = Query(viewer)
    albums = q.albums([f"al.artist_id = {q.bind(artist_id)}"], ARTIST_ALBUMS_ORDER)
    return q.fetchone(txn, arrays({"albums": albums}, q.artists([f"a.id = {q.bind(artist_id)}"], "a.id")))


def album_txn(txn: Any, viewer: Viewer, album_id: int) -> dict[str, Any] | None:
    """One album with its song rows (`songs`), or None when the viewer may play none of them."""
    q = Query(viewer)
    songs = q.songs([f"t.album_id = {q.bind(album_id)}"], ALBUM_ORDER)
    album = q.fetchone(txn, arrays({"songs": songs}, q.albums([f"al.id = {q.bind(album_id)}"], "al.id")))
    return album and {**album, "songs": [song_row(s) for s in album["songs"]]}


def song_txn(txn: Any, viewer: Viewer, track_id: int) -> tuple[Any, ...] | None:
    q = Query(viewer)
    rows = q.fetch_tuples(txn, q.songs([f"t.id = {q.bind(track_id)}"]))
    return rows[0] if rows else None


def genres_txn(txn: Any, viewer: Viewer) -> list[dict[str, Any]]:
    """Tags with how many songs and albums the viewer may play carry them."""
    q = Query(viewer)
    return q.fetchall(
        txn,
        "SELECT g.name, count(DISTINCT ti.object_id) FILTER (WHERE ti.object_type = 'track') AS song_count,"
        " count(DISTINCT ti.object_id) FILTER (WHERE ti.object_type = 'album') AS album_count"
        " FROM tag g JOIN tagged_item ti ON ti.tag_id = g.id"
        f" WHERE ((ti.object_type = 'track' AND {q.track_playable('ti.object_id')})"
        f" OR (ti.object_type = 'album' AND {q.album_playable('ti.object_id')})) AND {q.tag_shown('ti')}"
        " GROUP BY g.id, g.name ORDER BY lower(g.name)",
    )


# --- lists -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlbumList:
    """getAlbumList(2)'s request: `kind` is its `type`; years and genre only for byYear / byGenre."""

    kind: str
    size: int = 10
    offset: int = 0
    folder: int | None = None
    from_year: int | None = None
    to_year: int | None = None
    genre: str | None = None


IGNORED_ARTICLES = "The El La Los Las Le Les Os As O A An Die Das Der"
ARTICLES_PATTERN = "^(" + "|".join(IGNORED_ARTICLES.lower().split()) + ") +(?=.)"  # over folded names
ALBUM_LIST_TYPES = (
    "random", "newest", "frequent", "recent", "starred", "alphabeticalByName", "alphabeticalByArtist", "byYear",
    "byGenre", "highest",
)  # fmt: skip
# The viewer's play count and last play per album (frequent, recent), as the database keeps them (album_play).
_PLAYS = " JOIN album_play pc ON pc.user_id = %(me)s AND pc.album_id = al.id"


def _tagged(q: Query, kind: str, alias: str, genre: str) -> str:
    return (
        f"{alias}.id IN (SELECT ti.object_id FROM tagged_item ti JOIN tag g ON g.id = ti.tag_id"
        f" WHERE ti.object_type = '{kind}' AND lower(g.name) = lower({q.bind(genre)})"
        f" AND {q.tag_shown('ti')})"
    )


def album_list_txn(txn: Any, viewer: Viewer, request: AlbumList) -> list[dict[str, Any]]:
    q = Query(viewer, request.folder)
    where, table, order = [q.artist_not_filtered("al.artist_id")], "album al", "al.title_key, al.id"
    kind = request.kind
    if kind == "random":
        order = "random()"
    elif kind == "newest":
        order = "al.creation_date DESC, al.id DESC"
    elif kind == "alphabeticalByArtist":
        table = "album al JOIN artist oar ON oar.id = al.artist_id"
        order = f"regexp_replace(oar.name_key, {q.bind(ARTICLES_PATTERN)}, ''), al.title_key, al.id"
    elif kind == "byYear":
        low, high = sorted((request.from_year or 0, request.to_year or 9999))
        where.append(f"extract(year FROM al.release_date) BETWEEN {q.bind(low)} AND {q.bind(high)}")
        descending = (request.from_year or 0) > (request.to_year or 9999)
        order = "al.release_date DESC, al.id DESC" if descending else "al.release_date, al.id"
    elif kind == "byGenre":
        where.append(_tagged(q, "album", "al", request.genre or ""))
    elif kind == "starred":
        table = "album al JOIN starred_album sa ON sa.album_id = al.id AND sa.user_id = %(me)s"
        order = "sa.creation_date DESC, al.id"
    elif kind == "highest":
        table = "album al JOIN rating r ON r.object_type = 'album' AND r.object_id = al.id AND r.user_id = %(me)s"
        order = "r.rating DESC, r.modification_date DESC, al.id"
    elif kind in ("frequent", "recent"):
        table = "album al" + _PLAYS
        order = "pc.plays DESC, pc.last_played DESC, al.id" if kind == "frequent" else "pc.last_played DESC, al.id"
    return q.fetchall(txn, q.albums(where, order, request.size, request.offset, table))


def _year_range(q: Query, from_year: int | None, to_year: int | None) -> list[str]:
    if from_year is None and to_year is None:
        return []
    low, high = sorted((from_year or 0, to_year or 9999))
    return [
        f"t.album_id IN (SELECT id FROM album WHERE extract(year FROM release_date)"
        f" BETWEEN {q.bind(low)} AND {q.bind(high)})"
    ]


def random_songs_txn(
    txn: Any,
    viewer: Viewer,
    size: int,
    folder: int | None = None,
    genre: str | None = None,
    from_year: int | None = None,
    to_year: int | None = None,
) -> list[tuple[Any, ...]]:
    q = Query(viewer, folder)
    where = [q.track_not_filtered("t"), *_year_range(q, from_year, to_year)]
    if genre:
        where.append(_tagged(q, "track", "t", genre))
    return q.fetch_tuples(txn, q.songs(where, "random()", size))


def songs_by_genre_txn(
    txn: Any, viewer: Viewer, genre: str, count: int, offset: int, folder: int | None = None
) -> list[tuple[Any, ...]]:
    q = Query(viewer, folder)
    return q.fetch_tuples(
        txn, q.songs([q.track_not_filtered("t"), _tagged(q, "track", "t", genre)], "t.id", count, offset)
    )


STARRED_KINDS = ("artists", "albums", "songs")


def starred_part_txn(txn: Any, viewer: Viewer, kind: str) -> list[Any]:
    """One list (`kind`, of STARRED_KINDS) of the viewer's starred artists, albums or songs (favorites) that they
    may play, latest first: rows, songs as song rows (tuples), where PostgreSQL built each list as a JSON array at
    ~5 us a row. The lists walk the viewer's stars (a join, ordered by their date) and probe each one's visibility
    facts, rather than hash every track and every fact; each is its own statement, so that the three can be read
    at once on three connections. Each runs its generic plan: a custom one was planned anew at every call (~1 ms
    for each list, most of what a listener with few stars waits for), priced higher for a list of unknown size."""
    q = Query(viewer)
    q.generic_plan = True
    if kind in ("artists", "albums"):
        build, alias, artist, star = {
            "artists": (q.artists, "a", "a.id", "artist a JOIN starred_artist sa ON sa.artist_id = a.id"),
            "albums": (q.albums, "al", "al.artist_id", "album al JOIN starred_album sa ON sa.album_id = al.id"),
        }[kind]
        order, table = f"sa.creation_date DESC, {alias}.id", f"{star} AND sa.user_id = %(me)s"
        return q.fetchall(txn, build([q.artist_not_filtered(artist)], order, table=table))
    songs = q.songs(
        [q.track_not_filtered("t")],
        "sf.creation_date DESC, t.id",
        table="track t JOIN track_favorite sf ON sf.track_id = t.id AND sf.user_id = %(me)s",
        probe=True,
    )
    return q.fetch_tuples(txn, songs)


def starred_txn(txn: Any, viewer: Viewer) -> dict[str, list[Any]]:
    """The viewer's starred artists, albums and songs (`starred_part_txn`), by kind."""
    return {kind: starred_part_txn(txn, viewer, kind) for kind in STARRED_KINDS}


# --- search ------------------------------------------------------------------------------------------------------

# An empty query's page by offset (no cursor) walks the tracks by id, a probe of the visibility facts each, up to
# this offset; from it on, it sorts the viewer's facts instead (a 500-song page: 6 ms against 9 at offset 0, even
# at 5,000, 11 against 9 at 19,500).
FACTS_FROM = 5000


@dataclass(frozen=True)
class Search:
    """search2/search3's request: the raw query and a (count, offset) window per kind (count 0 skips it)."""

    query: str
    artists: tuple[int, int] = (20, 0)
    albums: tuple[int, int] = (20, 0)
    songs: tuple[int, int] = (20, 0)
    folder: int | None = None
    # Keyset cursors of an empty query's sync, per kind ("artists", "albums", "songs"): (id, offset), the row `id`
    # is the one just before `offset` (funkwhale.subsonic.cursors); a window at offset N then starts N - offset rows
    # after that row, walking the primary key from it rather than skipping N rows.
    after: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def folded(self) -> str:
        """The query folded; "" (everything) for an empty query or `""`, as Symfonium's sync sends it."""
        return fold(self.query.strip().strip('"'))


def search_txn(txn: Any, viewer: Viewer, search: Search) -> dict[str, Any]:
    """Artists, albums and songs matching the query (all of them, by id, for an empty query), one statement: a
    JSON array per kind, or the rows themselves when one kind is asked for (a sync's pages: 500 songs come back
    ~2 ms sooner without the array). Songs are song rows (tuples, SONG_FIELDS)."""
    q = Query(viewer, search.folder)
    text = search.folded
    ahead = ""
    if text:
        # the viewer's libraries read once (a CTE) by every fragment of the three pages, rather than one InitPlan
        # each (21)
        ahead = f"WITH {q.libraries_once('search_library')} "
        exact, prefix, like = q.bind(text), q.bind(text + "%"), q.bind("%" + text + "%")

        def matches(key: str) -> str:
            return f"{key} LIKE {like}"

        def closeness(key: str) -> str:
            return f"CASE WHEN {key} = {exact} THEN 0 WHEN {key} LIKE {prefix} THEN 1 ELSE 2 END"

        def rank(key: str, alias: str) -> str:
            return f"{closeness(key)}, {key}, {alias}.id"

        matching_artists = f"ARRAY(SELECT id FROM artist WHERE {matches('name_key')})"
        matching_albums = f"ARRAY(SELECT id FROM album WHERE {matches('title_key')})"
        artist_where, artist_order = [matches("a.name_key")], rank("a.name_key", "a")
        # The ids matching, gathered by index (one scan per branch), so the page tests a few rows, not every one.
        album_where = [
            f"al.id = ANY(ARRAY(SELECT id FROM album WHERE {matches('title_key')}"
            f" UNION ALL SELECT id FROM album WHERE artist_id = ANY({matching_artists})))"
        ]
        album_order = rank("al.title_key", "al")
        # The ids matching, gathered by index as above; their tracks ranked first (OFFSET 0 keeps the tests out of
        # that subquery), then tested in that order until the page is full: ~20 visibility probes, not one a match.
        song_table = (
            f"(SELECT t.*, {closeness('t.title_key')} AS closeness FROM track t"
            f" WHERE t.id = ANY(ARRAY(SELECT id FROM track WHERE {matches('title_key')}"
            f" UNION ALL SELECT id FROM track WHERE artist_id = ANY({matching_artists})"
            f" UNION ALL SELECT id FROM track WHERE album_id = ANY({matching_albums})))"
            " ORDER BY closeness, t.title_key, t.id OFFSET 0) t"
        )
        song_where: list[str] = []
        song_order = "t.closeness, t.title_key, t.id"
    else:  # everything in id order; a window with a cursor walks the primary key from it, with no offset
        artist_where, album_where, song_where = [], [], []
        artist_order, album_order, song_order = "a.id", "al.id", "t.id"
        song_table = "track t"
    windows = {}
    parts = (("artists", "a", artist_where), ("albums", "al", album_where), ("songs", "t", song_where))
    for kind, alias, where in parts:
        count, offset = getattr(search, kind)
        if not text and kind in search.after:
            cursor, position = search.after[kind]
            where.append(f"{alias}.id > {q.bind(cursor)}")
            offset -= position
            # The cursor changes with every page: PostgreSQL would plan each page anew (~1.3 ms for 500 songs), a
            # generic plan being priced higher than a custom one for an unknown bound, while it runs as fast.
            q.generic_plan = True
        windows[kind] = (count, offset)
    selects = {}
    if search.artists[0] > 0:
        where = [q.artist_not_filtered("a.id"), *artist_where]
        selects["artists"] = q.artists(where, artist_order, *windows["artists"])
    if search.albums[0] > 0:
        where = [q.artist_not_filtered("al.artist_id"), *album_where]
        selects["albums"] = q.albums(where, album_order, *windows["albums"])
    if search.songs[0] > 0:
        if text or "songs" in search.after or windows["songs"][1] < FACTS_FROM:
            where = [q.track_not_filtered("t"), *song_where]
            selects["songs"] = q.songs(
                where, song_order, *windows["songs"], table=song_table, probe="songs" in search.after
            )
        else:  # everything, deep by offset: the page sorts the visibility facts rather than walk the tracks
            selects["songs"] = q.songs([], page=q.every_song(*windows["songs"]))
    if len(selects) == 1:  # one kind (a sync's pages): its rows as they are, without building a JSON array of them
        [(kind, select)] = selects.items()
        select = ahead + select
        return {kind: q.fetch_tuples(txn, select) if kind == "songs" else q.fetchall(txn, select)}
    if not selects:
        return {}
    found = required(q.fetchone(txn, ahead + arrays(selects)), "search")
    if "songs" in found:
        found["songs"] = [song_row(s) for s in found["songs"]]
    return found


# --- discovery: similar artists and songs, top songs ---------------------------------------------------------------
# "Similar" is judged from this instance's own tags (no outside service is asked): artists and songs that share tags
# with the seed, on themselves, their albums or their artists.


def _artist_tag_ids(q: Query, artist: str) -> str:
    """Ids of the tags the viewer sees on the artist `artist`, on its albums and on its tracks."""
    return (
        f"SELECT ti.tag_id FROM tagged_item ti WHERE ((ti.object_type = 'artist' AND ti.object_id = {artist})"
        f" OR (ti.object_type = 'album' AND ti.object_id IN (SELECT id FROM album WHERE artist_id = {artist}))"
        f" OR (ti.object_type = 'track' AND ti.object_id IN (SELECT id FROM track WHERE artist_id = {artist})))"
        f" AND {q.tag_shown('ti')}"
    )


def _similar_artists(q: Query, artist: str, count: int) -> str:
    """Artists sharing the most tags with `artist`, best first (not the artist itself)."""
    seed = _artist_tag_ids(q, artist)
    scores = (
        "(SELECT h.artist_id, count(DISTINCT h.tag_id) AS score FROM (SELECT ti.tag_id, CASE ti.object_type"
        " WHEN 'artist' THEN ti.object_id WHEN 'album' THEN (SELECT artist_id FROM album WHERE id = ti.object_id)"
        " ELSE (SELECT artist_id FROM track WHERE id = ti.object_id) END AS artist_id"
        f" FROM tagged_item ti WHERE ti.tag_id IN ({seed}) AND {q.tag_shown('ti')}) h"
        " GROUP BY h.artist_id) sim"
    )
    return q.artists(
        [q.artist_not_filtered("a.id"), f"a.id <> {artist}"],
        "sim.score DESC, a.name_key, a.id",
        count,
        table=f"artist a JOIN {scores} ON sim.artist_id = a.id",
    )


def artist_info_txn(txn: Any, viewer: Viewer, artist_id: int, count: int) -> dict[str, Any] | None:
    """An artist the viewer may play, with up to `count` similar artists (`similar`), else None."""
    q = Query(viewer)
    artist = q.bind(artist_id)
    similar = _similar_artists(q, artist, count)
    return q.fetchone(txn, arrays({"similar": similar}, q.artists([f"a.id = {artist}"], "a.id")))


def similar_songs_txn(txn: Any, viewer: Viewer, kind: str, number: int, count: int) -> list[tuple[Any, ...]] | None:
    """Up to `count` songs, at random, by the seed's artist or sharing its tags: the seed is an artist ("ar"), an
    album ("al") or a song ("tr"), which is left out. None when the viewer may play nothing of the seed."""
    q = Query(viewer)
    seed = q.bind(number)
    if kind == "ar":
        artist, exists = seed, q.artist_playable(seed)
    elif kind == "al":
        artist, exists = f"(SELECT artist_id FROM album WHERE id = {seed})", q.album_playable(seed)
    else:
        artist, exists = f"(SELECT artist_id FROM track WHERE id = {seed})", q.track_playable(seed)
    where = [q.track_not_filtered("t"), f"(t.artist_id = {artist} OR {q.track_tagged(_artist_tag_ids(q, artist))})"]
    if kind == "tr":
        where.append(f"t.id <> {seed}")
    row = q.fetchall(txn, arrays({"songs": q.songs(where, "random()", count)}, f"SELECT {exists} AS found"))[0]
    return [song_row(s) for s in row["songs"]] if row["found"] else None


def top_songs_txn(txn: Any, viewer: Viewer, artist_name: str, count: int) -> list[tuple[Any, ...]]:
    """The artist's songs (by name, any case or accent) the most listened on this instance first; a listener
    whose profile is private (`me`) counts only for themselves."""
    q = Query(viewer)
    named = f"SELECT id FROM artist WHERE name_key = {q.bind(fold(artist_name))}"
    listens = (
        "(SELECT count(*) FROM listening l JOIN users lu ON lu.id = l.user_id"
        " WHERE l.track_id = t.id AND (lu.privacy_level <> 'me' OR lu.id = %(me)s))"
    )
    where = [
        q.track_not_filtered("t"),
        f"(t.artist_id IN ({named}) OR t.album_id IN (SELECT id FROM album WHERE artist_id IN ({named})))",
    ]
    return q.fetch_tuples(txn, q.songs(where, f"{listens} DESC, t.title_key, t.id", count))
