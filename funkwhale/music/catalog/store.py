"""The catalog's SQL: lists, details and search of artists, albums, tracks and tags, for one viewer.

A page is ONE statement. A `page` CTE filters and orders: for early pages the ordering's index is walked and
each row tested until the page is full; deep pages and searches find every match once (hash joins,
MATERIALIZED), then sort them. The count of all matches is a statement apart (`count_txn`), cached in Redis by
funkwhale.music.catalog.counts. The nested JSON (artist, album, uploads, tags, covers, counts) is then built for the
rows of the page only: gathered once for the whole page and joined to its rows where a page of 20 artists or
albums or more nests it (`Fragments.gathered`), correlated subqueries per row elsewhere. What a viewer sees is what
they may play: content with at least one upload that `funkwhale.music.visibility.playable_upload_condition`
accepts. The fragments (playability, covers, tags, nested JSON) and their parameter binding are
funkwhale.music.sql's `Fragments`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from funkwhale.music.sql import GATHERED_FROM, Fragments, order_by, ordering_names
from funkwhale.music.visibility import Viewer

SEARCH_WORD_SIMILARITY = 0.45  # pg_trgm.word_similarity_threshold for `%>` while matching a query
# Pages starting before this offset are found by walking an index (cheap for early pages); later pages and
# searches find all matches first with hash joins, then sort them.
STREAMED_OFFSET = 1000


@dataclass(frozen=True)
class Filters:
    """What a list keeps. `q` is already folded (funkwhale.music.normalize.fold)."""

    q: str = ""
    tags: tuple[str, ...] = ()
    artist: int | None = None
    album: int | None = None
    library: uuid.UUID | None = None
    ids: tuple[int, ...] = ()
    scope_me: bool = False
    playable: bool = True
    content_category: str | None = None
    has_albums: bool | None = None
    content_filters: bool = True  # hide the artists the viewer filtered out (lists and search, not details)
    hidden: bool | None = None  # True: only what the viewer's content filters hide (`content_filters` ignored)
    favorites: bool | None = None  # tracks: only (True) or all but (False) the viewer's favorites
    mbid: uuid.UUID | None = None
    license: str | None = None  # tracks: a license code
    # On the name (tracks and albums: the title), as django-filter's lookups: (lookup, value) pairs, lookup one of
    # exact, iexact, icontains, startswith (case-sensitive, as Django's).
    name_lookups: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Listing:
    """One list request: filters, ordering fields (Funkwhale names, "-" for descending), a page window."""

    viewer: Viewer
    filters: Filters = field(default_factory=Filters)
    ordering: tuple[str, ...] = ()
    limit: int = 50
    offset: int = 0
    search: bool = False  # rank by match quality (exact > prefix > substring > fuzzy) instead of `ordering`


# Funkwhale ordering names -> SQL expressions over the page query's aliases, per kind. `listen_count` (ours) is
# how often the viewer listened: `-listen_count` gives their most listened tracks, albums or artists.
ORDERINGS: dict[str, dict[str, str]] = {
    "track": {
        "title": "t.title_key",
        "name": "t.title_key",
        "creation_date": "t.creation_date",
        "position": "t.position",
        "disc_number": "t.disc_number",
        "album__title": "oal.title_key",
        "album__release_date": "oal.release_date",
        "artist__name": "oar.name_key",
        "id": "t.id",
        "album_id": "t.album_id",
        "artist__modification_date": "(SELECT modification_date FROM artist WHERE id = t.artist_id)",
        "size": "(SELECT max(size) FROM upload WHERE track_id = t.id)",
        "random": "md5(%(seed)s || t.id::text)",
        "listen_count": "coalesce(lc.n, 0)",
    },
    "album": {
        "title": "al.title_key",
        "name": "al.title_key",
        "creation_date": "al.creation_date",
        "release_date": "al.release_date",
        "artist__name": "oar.name_key",
        "artist__modification_date": "(SELECT modification_date FROM artist WHERE id = al.artist_id)",
        "id": "al.id",
        "random": "md5(%(seed)s || al.id::text)",
        "listen_count": "coalesce(lc.n, 0)",
    },
    "artist": {
        "name": "a.name_key",
        "creation_date": "a.creation_date",
        "modification_date": "a.modification_date",
        "id": "a.id",
        "random": "md5(%(seed)s || a.id::text)",
        "listen_count": "coalesce(lc.n, 0)",
    },
}
DEFAULT_ORDERING = {
    "track": ("album_id", "disc_number", "position"),  # Funkwhale's Track.Meta.ordering
    "album": ("-creation_date",),
    "artist": ("-creation_date",),
}
_ALIAS = {"track": "t", "album": "al", "artist": "a"}
# The joins an ordering needs over the page query's table, by kind and ordering name.
_TRACK_JOINS = " LEFT JOIN album oal ON oal.id = t.album_id JOIN artist oar ON oar.id = t.artist_id"


def _listen_counts(column: str, alias: str) -> str:
    """The join of the viewer's listen counts `lc.n` per track, album or artist (`column` of the tracks listened,
    `alias` the page's row): the viewer's history read once, by index (listening_user_track), rather than each
    row's listenings probed (every row is counted before the first can be ordered)."""
    counted = "lc.track_id" if column == "track_id" else f"lt.{column}"
    tracks = "" if column == "track_id" else " JOIN track lt ON lt.id = lc.track_id"
    return (
        f" LEFT JOIN (SELECT {counted} AS id, count(*) AS n FROM listening lc{tracks} WHERE lc.user_id = %(me)s"
        f" GROUP BY {counted}) lc ON lc.id = {alias}.id"
    )


ORDERING_JOINS: dict[str, dict[str, str]] = {
    "track": {
        "album__title": _TRACK_JOINS,
        "album__release_date": _TRACK_JOINS,
        "artist__name": _TRACK_JOINS,
        "listen_count": _listen_counts("track_id", "t"),
    },
    "album": {
        "artist__name": " JOIN artist oar ON oar.id = al.artist_id",
        "listen_count": _listen_counts("album_id", "al"),
    },
    "artist": {"listen_count": _listen_counts("artist_id", "a")},
}


def _bind_query(sql: Fragments, folded: str) -> None:
    sql.bind(folded, "q")
    sql.bind(folded + "%", "q_prefix")
    sql.bind("%" + folded + "%", "q_like")


def _matches(key: str) -> str:
    return f"({key} LIKE %(q_like)s OR {key} %%> %(q)s)"


def _rank(key: str) -> str:
    return (
        f"CASE WHEN {key} = %(q)s THEN 0 WHEN {key} LIKE %(q_prefix)s THEN 1"
        f" WHEN {key} LIKE %(q_like)s THEN 2 ELSE 3 END"
    )


def _ordering_sql(kind: str, fields: tuple[str, ...]) -> str:
    return order_by(ORDERINGS[kind], fields, DEFAULT_ORDERING[kind], f"{_ALIAS[kind]}.id")


def _ordering_joins(kind: str, fields: tuple[str, ...]) -> str:
    """The joins the ordering `fields` of `kind` needs (ORDERING_JOINS), each once."""
    names = ordering_names(ORDERINGS[kind], fields, DEFAULT_ORDERING[kind])
    needed = (ORDERING_JOINS[kind].get(name.lstrip("-"), "") for name in names)
    return "".join(dict.fromkeys(needed))


def _search_order(kind: str) -> str:
    """A search's ORDER BY over its `matched` rows: the best tier of the row's own key and (tracks, albums) of its
    artist's or album's key (`search_tier`, see `_search_source`), then how close its own key is."""
    key = {"track": "t.title_key", "album": "al.title_key", "artist": "a.name_key"}[kind]
    tier = _rank(key) if kind == "artist" else f"LEAST({_rank(key)}, {_ALIAS[kind]}.search_tier)"
    return f"{tier}, word_similarity(%(q)s, {key}) DESC, length({key}), {_ALIAS[kind]}.id"


# The ids of the artists and of the albums whose name matches the query (SELECTs), found where they are used
_MATCHING = {
    "artist": f"SELECT id FROM artist WHERE {_matches('name_key')}",
    "album": f"SELECT id FROM album WHERE {_matches('title_key')}",
}
# The same, as CTEs of `search_txn`'s statement, which finds them once for all of its kinds, each with the tier it
# gives the tracks and albums it brings (1 + the rank of its key: a track titled like the query comes first)
_SEARCH_MATCHED = ", ".join(
    f"search_{kind} AS MATERIALIZED (SELECT id, 1 + {_rank(key)} AS tier FROM {kind} WHERE {_matches(key)})"
    for kind, key in (("artist", "name_key"), ("album", "title_key"))
)
# What else brings a search's tracks and albums: their artist's or album's key (the search CTE, the column)
_SEARCH_RELATED = {
    "track": (("search_artist", "artist_id"), ("search_album", "album_id")),
    "album": (("search_artist", "artist_id"),),
}


def _search_matches(kind: str) -> str:
    """A SELECT of a search's tracks or albums (`id`) matching the query by their own key or by their artist's or
    album's, each with the best tier those give it (`tier`, NULL for its own key only): each match's tier read
    from the search CTEs, rather than the artist and album of every match looked up to rank them (7,000 tracks of
    20,000 match "ka")."""
    table = _TABLE[kind].split()[0]
    own = f"SELECT id FROM track WHERE {_matches('title_key')}" if kind == "track" else "SELECT id FROM search_album"
    branches = [f"SELECT id, NULL::int AS tier FROM ({own}) o"] + [
        f"SELECT r.id, m.tier FROM {cte} m JOIN {table} r ON r.{column} = m.id" for cte, column in _SEARCH_RELATED[kind]
    ]
    return f"SELECT id, min(tier) AS tier FROM ({' UNION ALL '.join(branches)}) b GROUP BY id"


# Up to this many tracks matching a search, each probes its visibility facts; beyond (a query of one letter matches
# most of a library), the facts of the libraries the viewer sees are hashed once, which costs less than probing
# thousands of tracks one by one ("a" on 20,000 tracks: 78 -> 95 ms for an anonymous viewer when probed)
SEARCH_PROBED_TRACKS = 2000


def _search_source(kind: str) -> str:
    """FROM of a search's tracks or albums (`t`, `al`, `_search_matches`' rows joined as `sm`)."""
    table, alias = _TABLE[kind].split()
    matches = "search_track" if kind == "track" else f"({_search_matches(kind)})"
    # OFFSET 0: each match read by its key, never every row merged with them (a generic plan guesses 200 matches)
    return f"{matches} sm CROSS JOIN LATERAL (SELECT * FROM {table} WHERE id = sm.id OFFSET 0) {alias}"


def _where(sql: Fragments, kind: str, f: Filters, viewer: Viewer, searching: bool = False) -> list[str]:
    """The WHERE conditions of a list of `kind` (alias t, al or a); `searching` (in `search_txn`'s statement): the
    query's matches are the search CTEs' (artists) or `_search_source`'s (tracks, albums), not tested here."""
    alias = _ALIAS[kind]
    extra = ""
    if f.library is not None:
        extra += f" AND pl.uuid = {sql.bind(f.library, 'library')}"
    if f.scope_me:
        extra += f" AND pl.actor_id = {sql.bind(viewer.actor_id, 'scope_actor')}"
    if not f.playable:
        shown = "false"
    elif searching and kind == "track" and not extra:
        facts = f"SELECT xtl.track_id FROM track_library xtl WHERE xtl.library_id = ANY({sql.libraries})"
        shown = (
            f"CASE WHEN (SELECT count(*) FROM search_track) <= {SEARCH_PROBED_TRACKS} THEN {sql.track_probed('t.id')}"
            f" ELSE t.id IN ({facts}) END"
        )  # a CASE: only the branch taken is run (the hash built at its first test)
    else:
        playable = {"track": sql.track_playable, "album": sql.album_playable, "artist": sql.artist_playable}[kind]
        shown = playable(f"{alias}.id", extra)
    where = [shown]
    if f.q:
        _bind_query(sql, f.q)
        # The ids matching, gathered by index (one trigram or foreign-key scan per branch) rather than an OR that
        # would test the trigram condition on every row.
        artists, albums = _MATCHING["artist"], _MATCHING["album"]
        if searching:
            if kind == "artist":
                where.append("a.id = ANY(ARRAY(SELECT id FROM search_artist))")
        elif kind == "track":
            where.append(
                f"t.id = ANY(ARRAY(SELECT id FROM track WHERE {_matches('title_key')}"
                f" UNION ALL SELECT id FROM track WHERE artist_id = ANY(ARRAY({artists}))"
                f" UNION ALL SELECT id FROM track WHERE album_id = ANY(ARRAY({albums}))))"
            )
        elif kind == "album":
            where.append(
                f"al.id = ANY(ARRAY({albums} UNION ALL SELECT id FROM album WHERE artist_id = ANY(ARRAY({artists}))))"
            )
        else:
            where.append(_matches("a.name_key"))
    for i, tag in enumerate(f.tags):
        where.append(
            f"{alias}.id IN (SELECT ti.object_id FROM tagged_item ti JOIN tag g ON g.id = ti.tag_id"
            f" WHERE lower(g.name) = lower({sql.bind(tag, f'tag_{i}')}) AND ti.object_type = '{kind}'"
            f" AND {sql.tag_shown('ti')})"
        )
    if len(f.ids) == 1:  # a detail: `= ANY` of an array parameter would have a generic plan priced for 10 ids
        where.append(f"{alias}.id = {sql.bind(f.ids[0], 'id')}")
    elif f.ids:
        where.append(f"{alias}.id = ANY({sql.bind(list(f.ids), 'ids')})")
    if f.artist is not None:
        artist = sql.bind(f.artist, "artist")
        if kind == "track":
            where.append(
                f"(t.artist_id = {artist} OR t.album_id = ANY(ARRAY(SELECT id FROM album WHERE artist_id = {artist})))"
            )
        elif kind == "album":
            where.append(f"al.artist_id = {artist}")
    if f.album is not None and kind == "track":
        where.append(f"t.album_id = {sql.bind(f.album, 'album')}")
    if f.content_category:
        category = sql.bind(f.content_category, "content_category")
        artist_id = {"track": "t.artist_id", "album": "al.artist_id", "artist": "a.id"}[kind]
        where.append(f"{artist_id} IN (SELECT id FROM artist WHERE content_category = {category})")
    where.extend(_more_where(sql, kind, f, viewer))
    if f.content_filters and not f.hidden and viewer.authenticated:
        if kind == "track":
            where.append(sql.track_not_filtered("t"))
        else:
            column = "al.artist_id" if kind == "album" else "a.id"
            where.append(sql.artist_not_filtered(column))
    if kind == "artist":
        if f.has_albums is not None:
            has = f"EXISTS (SELECT 1 FROM album hal WHERE hal.artist_id = a.id AND {sql.album_playable('hal.id')})"
            where.append(has if f.has_albums else f"NOT {has}")
    return where


_TABLE = {"track": "track t", "album": "album al", "artist": "artist a"}
_NAME = {"track": "t.title", "album": "al.title", "artist": "a.name"}
_ARTIST_OF = {"track": "t.artist_id", "album": "al.artist_id", "artist": "a.id"}
_NAME_LOOKUPS = {
    "exact": "{col} = {value}",
    "iexact": "lower({col}) = lower({value})",
    "icontains": "{col} ILIKE '%%' || {value} || '%%'",
    "startswith": "{col} LIKE {value} || '%%'",
}


def _like_text(value: str) -> str:
    """`value` with LIKE's wildcards escaped."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _more_where(sql: Fragments, kind: str, f: Filters, viewer: Viewer) -> list[str]:
    """The conditions of the less common filters: favorites, mbid, license, hidden, name lookups."""
    alias = _ALIAS[kind]
    where = []
    if f.favorites is not None and kind == "track":
        favorite = "t.id IN (SELECT track_id FROM track_favorite WHERE user_id = %(me)s)"
        where.append(favorite if f.favorites else f"NOT {favorite}")
    if f.mbid is not None:
        where.append(f"{alias}.mbid = {sql.bind(str(f.mbid), 'mbid')}::uuid")
    if f.license and kind == "track":
        where.append(f"t.license = {sql.bind(f.license, 'license')}")
    if f.hidden and viewer.authenticated:
        shown = sql.track_not_filtered("t") if kind == "track" else sql.artist_not_filtered(_ARTIST_OF[kind])
        where.append(f"NOT {shown}")
    where.extend(
        _name_condition(sql, _NAME[kind], lookup, value, f"name_{i}")
        for i, (lookup, value) in enumerate(f.name_lookups)
    )
    return where


def _name_condition(sql: Fragments, column: str, lookup: str, value: str, key: str) -> str:
    """`column` passes the django-filter `lookup` (a key of _NAME_LOOKUPS) with `value`, bound as `key`."""
    if lookup in ("icontains", "startswith"):
        value = _like_text(value)
    return _NAME_LOOKUPS[lookup].format(col=column, value=sql.bind(value, key))


def _prepared(sql: Fragments, kind: str, filters: Filters, viewer: Viewer, searching: bool = False) -> str:
    """The WHERE of a list of `kind` with these filters, its parameters bound into `sql` (`searching`: `_where`)."""
    return " AND ".join(_where(sql, kind, filters, viewer, searching))


# While matching a query: the planner prices trigram operators like `=`, so it would rather test every row than
# read the GIN indexes; matches are few, so make it take the indexes. The statement runs on its generic plan
# (prepared: the query is a parameter), which runs as fast as a custom one for any query, from "a" to no match,
# but the planner would keep planning one per request, the trigram conditions' selectivity being unknown in it.
SEARCH_SETTINGS = (("pg_trgm.word_similarity_threshold", str(SEARCH_WORD_SIMILARITY)), ("enable_seqscan", "off"))


def _run(txn: Any, sql: Fragments, statement: str, searching: bool) -> list[dict[str, Any]]:
    """Run a catalog statement; a query's statement runs with SEARCH_SETTINGS, for this statement only."""
    if searching:
        sql.settings, sql.generic_plan = SEARCH_SETTINGS, True
    return sql.fetchall(txn, statement)


def page_txn(txn: Any, kind: str, listing: Listing) -> list[dict[str, Any]]:
    """The rows of one page of `kind` ("track", "album" or "artist"), in one statement that touches the page only
    (the count of all matches is `count_txn`'s, cached by funkwhale.music.catalog.counts)."""
    sql = Fragments(listing.viewer)
    return _run(txn, sql, _page_statement(sql, kind, listing), bool(listing.filters.q))


def _page_statement(sql: Fragments, kind: str, listing: Listing) -> str:
    """The statement of `page_txn`, its parameters bound into `sql`; a `search` listing's is a piece of
    `search_txn`'s statement, over its CTEs."""
    where = _prepared(sql, kind, listing.filters, listing.viewer, listing.search)
    if listing.search:
        order, joins = _search_order(kind), ""
    else:
        order, joins = _ordering_sql(kind, listing.ordering), _ordering_joins(kind, listing.ordering)
    names = ordering_names(ORDERINGS[kind], listing.ordering, DEFAULT_ORDERING[kind])
    if any(name.lstrip("-") == "random" for name in names):  # a seed only for the `random` ordering
        sql.bind(secrets.token_hex(8), "seed")
    alias, table = _ALIAS[kind], _TABLE[kind]
    window = f"ORDER BY {order} {sql.window(listing.limit, listing.offset)}"
    if not listing.search and listing.offset < STREAMED_OFFSET:
        # Walk the ordering's index and test each row until the page is full.
        matched, source = "", f"{table}{joins} WHERE {where}"
    else:
        # Find every match once (hash joins), then sort them.
        found, selected = table, f"{alias}.*"
        if listing.search and kind in _SEARCH_RELATED:
            found, selected = _search_source(kind), f"{alias}.*, sm.tier AS search_tier"
        matched = f"matched AS MATERIALIZED (SELECT {selected} FROM {found} WHERE {where}),"
        source = f"matched {alias}{joins}"
    gathered, joins = sql.gathered(kind, "page", listing.limit)
    artists = "page_artist" if listing.limit >= GATHERED_FROM else None  # as `gathered` gathers them
    columns = sql.columns(kind, "page_album", artists) if kind == "track" else sql.columns(kind)
    return (
        f"WITH {matched} page AS (SELECT s.*, row_number() OVER () AS ord"
        f" FROM (SELECT {alias}.* FROM {source} {window}) s){gathered}"
        f" SELECT {columns} FROM page p{joins} ORDER BY p.ord"
    )


def count_txn(txn: Any, kind: str, viewer: Viewer, filters: Filters) -> int:
    """How many `kind` rows pass `filters` for the viewer (a list's `count`)."""
    sql = Fragments(viewer)
    statement = f"SELECT count(*) AS n FROM {_TABLE[kind]} WHERE {_prepared(sql, kind, filters, viewer)}"
    return _run(txn, sql, statement, bool(filters.q))[0]["n"]


def detail_txn(txn: Any, kind: str, viewer: Viewer, object_id: int) -> dict[str, Any] | None:
    """One artist, album or track the viewer may see, else None."""
    rows = page_txn(txn, kind, Listing(viewer, Filters(ids=(object_id,), content_filters=False), limit=1))
    return rows[0] if rows else None


SEARCH_KINDS = ("artist", "album", "track")


def search_txn(txn: Any, viewer: Viewer, folded: str, limit: int, tag_text: str) -> dict[str, list[dict[str, Any]]]:
    """The best `limit` artists, albums and tracks matching `folded`, and tags whose name contains `tag_text`: one
    statement (`_search_statement`), each kind's page as a JSON array of its rows."""
    sql = Fragments(viewer)  # the viewer's parameters, as the statement's text was built with
    _bind_query(sql, folded)
    _bind_tag_text(sql, tag_text)
    statement, names = _search_statement(viewer.authenticated, viewer.actor_id is not None, limit, bool(tag_text))
    if names != sql.params.keys():  # a fragment bound a value of its own while the text was built
        raise RuntimeError(f"search statement parameters {sorted(names ^ sql.params.keys())}")
    found = _run(txn, sql, statement, True)[0]
    for rows in found.values():
        for row in rows:  # a datetime, as psycopg2 reads a column: PostgreSQL's JSON cuts the trailing zeros of its
            row["creation_date"] = datetime.fromisoformat(row["creation_date"])  # microseconds, isoformat() not
    return found


@lru_cache(maxsize=16)
def _search_statement(authenticated: bool, follows: bool, limit: int, tagged: bool) -> tuple[str, frozenset[str]]:
    """The text of `search_txn`'s statement and the names of its parameters, for a viewer authenticated or not,
    with an actor (whose follows show libraries) or not: the text depends on nothing else (the viewer's ids and
    the query are parameters), so it is built once, not at each search (~40 us). Each kind's page
    (`_page_statement`'s, `_tags_statement`'s) is aggregated into a JSON array, beside CTEs that find the viewer's
    libraries and the artists and albums matching the query once for all kinds."""
    sql = Fragments(Viewer(user_id=0 if authenticated else None, actor_id=0 if follows else None))
    libraries = sql.libraries_once("search_library")
    listing = Listing(sql.viewer, Filters(q="-"), limit=limit, search=True)  # stand-ins: the query is a parameter
    pieces = {kind: _page_statement(sql, kind, listing) for kind in SEARCH_KINDS}
    pieces["tag"] = _tags_statement(sql, "-" if tagged else "", ("__search",), limit, 0)
    # each array a subquery of FROM, not of the SELECT list: PostgreSQL copies the SELECT list of a prepared
    # statement at each EXECUTE (to describe its columns), and with it every subquery it holds
    arrays = " CROSS JOIN ".join(
        f"(SELECT coalesce(json_agg(r), '[]') AS {kind} FROM ({piece}) r) {kind}" for kind, piece in pieces.items()
    )
    # the tracks matching, found once beside the artists and albums: how many tells how to test them (`_where`)
    tracks = f"search_track AS MATERIALIZED ({_search_matches('track')})"
    return f"WITH {libraries}, {_SEARCH_MATCHED}, {tracks} SELECT * FROM {arrays}", frozenset(sql.params)


TAG_ORDERINGS = {"name": "lower(g.name)", "creation_date": "g.creation_date", "length": "length(g.name)"}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tag_used(sql: Fragments) -> str:
    """SQL true for a tag `g` on something the viewer may play: read from the file of an upload they may play,
    or set on an artist, album or track row they may play something of."""
    row_playable = {
        "track": f"EXISTS (SELECT 1 FROM track ut WHERE ut.id = ti.object_id AND {sql.track_playable('ut.id')})",
        "album": f"EXISTS (SELECT 1 FROM album ual WHERE ual.id = ti.object_id AND {sql.album_playable('ual.id')})",
        "artist": f"EXISTS (SELECT 1 FROM artist ua WHERE ua.id = ti.object_id AND {sql.artist_playable('ua.id')})",
    }
    return (
        "EXISTS (SELECT 1 FROM tagged_item ti WHERE ti.tag_id = g.id AND CASE"
        f" WHEN ti.upload_id IS NOT NULL THEN {sql.upload_playable('ti.upload_id')}"
        + "".join(f" WHEN ti.object_type = '{kind}' THEN {cond}" for kind, cond in row_playable.items())
        + " END)"
    )


def list_tags_txn(
    txn: Any,
    viewer: Viewer,
    text: str,
    ordering: tuple[str, ...],
    limit: int,
    offset: int,
    name_lookups: tuple[tuple[str, str], ...] = (),
) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of the tags on content the viewer may play whose name contains `text` (any case) and passes
    the `name_lookups` (exact, startswith); ordering "__search" ranks like search."""
    sql = Fragments(viewer)
    return sql.fetch_page(txn, _tags_statement(sql, text, ordering, limit, offset, name_lookups))


def _bind_tag_text(sql: Fragments, text: str) -> None:
    """Bind what `_tags_statement` reads of its `text` (none for an empty one)."""
    if text:
        lowered = text.lower()
        sql.params.update(text=lowered, like="%" + _like_escape(lowered) + "%", prefix=_like_escape(lowered) + "%")


def _tags_statement(
    sql: Fragments,
    text: str,
    ordering: tuple[str, ...],
    limit: int,
    offset: int,
    name_lookups: tuple[tuple[str, str], ...] = (),
) -> str:
    """The statement of `list_tags_txn`, its parameters bound into `sql`."""
    where = _tag_used(sql)
    for i, (lookup, value) in enumerate(name_lookups):
        where += " AND " + _name_condition(sql, "g.name", lookup, value, f"tag_name_{i}")
    if text:
        _bind_tag_text(sql, text)
        where += " AND lower(g.name) LIKE %(like)s"
    if ordering == ("__search",):
        order = "lower(g.name) = %(text)s DESC, lower(g.name) LIKE %(prefix)s DESC, length(g.name), g.id"
    else:
        parts = [
            f"{TAG_ORDERINGS[name.lstrip('-')]} {'DESC' if name.startswith('-') else 'ASC'}"
            for name in ordering
            if name.lstrip("-") in TAG_ORDERINGS
        ]
        order = ", ".join(parts or ["g.creation_date DESC"]) + ", g.id"
    return (
        f"SELECT g.name, g.creation_date, count(*) OVER () AS total FROM tag g WHERE {where}"
        f" ORDER BY {order} {sql.window(limit, offset)}"
    )


def tag_txn(txn: Any, viewer: Viewer, name: str) -> dict[str, Any] | None:
    """The tag named `name` (any case) when it is on content the viewer may play, else None."""
    sql = Fragments(viewer)
    return sql.fetchone(
        txn,
        f"SELECT g.name, g.creation_date FROM tag g WHERE lower(g.name) = lower({sql.bind(name, 'name')})"
        f" AND {_tag_used(sql)}",
    )
