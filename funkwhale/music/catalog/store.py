"""The catalog's SQL: lists, details and search of artists, albums, tracks and tags, for one viewer.

Each list is ONE statement. A `page` CTE filters and orders: either every match is found once (hash joins,
MATERIALIZED) then counted and sorted, or, for early track pages, the ordering's index is walked and the count
runs as an InitPlan. Correlated subqueries then build the nested JSON (artist, album, uploads, tags, covers,
counts) for the rows of the page only. What a viewer sees is what they may play: content with at least one
upload that `funkwhale.music.visibility.playable_upload_condition` accepts. Rows are shared by every upload of the
same names, so what came from a file (an album's cover, genres, a track's license, copyright and comment) is read
from the uploads the viewer may play only (`upload.attachment_cover_id`, `tagged_item.upload_id`, `upload.metadata`:
`album_cover_id`, `tag_shown`, `tag_names`, `_Sql.file_fields`).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from funkwhale.music.visibility import Viewer, artist_not_filtered, playable_upload_condition

SEARCH_WORD_SIMILARITY = 0.45  # pg_trgm.word_similarity_threshold for `%>` while matching a query
# Track pages starting before this offset are found by walking an index (cheap for early pages); later
# pages, other kinds and searches find all matches first with hash joins, then sort them.
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
        "random": "md5(%(seed)s || t.id::text)",
        "listen_count": "(SELECT count(*) FROM listening lc WHERE lc.track_id = t.id AND lc.user_id = %(me)s)",
    },
    "album": {
        "title": "al.title_key",
        "name": "al.title_key",
        "creation_date": "al.creation_date",
        "release_date": "al.release_date",
        "artist__name": "oar.name_key",
        "id": "al.id",
        "random": "md5(%(seed)s || al.id::text)",
        "listen_count": "(SELECT count(*) FROM listening lc JOIN track lt ON lt.id = lc.track_id"
        " WHERE lt.album_id = al.id AND lc.user_id = %(me)s)",
    },
    "artist": {
        "name": "a.name_key",
        "creation_date": "a.creation_date",
        "modification_date": "a.modification_date",
        "id": "a.id",
        "random": "md5(%(seed)s || a.id::text)",
        "listen_count": "(SELECT count(*) FROM listening lc JOIN track lt ON lt.id = lc.track_id"
        " WHERE lt.artist_id = a.id AND lc.user_id = %(me)s)",
    },
}
DEFAULT_ORDERING = {
    "track": ("album_id", "disc_number", "position"),  # Funkwhale's Track.Meta.ordering
    "album": ("-creation_date",),
    "artist": ("-creation_date",),
}
_ALIAS = {"track": "t", "album": "al", "artist": "a"}


def upload_playable(upload_id: str, playable: str) -> str:
    """SQL true when the upload `upload_id` meets `playable` (a playable_upload_condition over `pu` / `pl`)."""
    return (
        "EXISTS (SELECT 1 FROM upload pu JOIN library pl ON pl.id = pu.library_id"
        f" WHERE pu.id = {upload_id} AND {playable})"
    )


def tag_shown(item: str, playable: str) -> str:
    """SQL true for a tagged_item row `item` the viewer may see: set on the row itself (no upload), or read from
    the file of an upload meeting `playable`."""
    return f"({item}.upload_id IS NULL OR {upload_playable(item + '.upload_id', playable)})"


def tag_names(kind: str, id_expr: str, playable: str) -> str:
    """SQL array of the names of the tags shown on the artist, album or track `id_expr`, sorted. Each distinct tag
    looks for one shown item only (an album has its genres once per upload of each of its tracks)."""
    on_it = f"ti.object_type = '{kind}' AND ti.object_id = {id_expr}"
    return (
        f"ARRAY(SELECT g.name FROM tag g WHERE g.id IN (SELECT ti.tag_id FROM tagged_item ti WHERE {on_it})"
        f" AND (SELECT 1 FROM tagged_item ti WHERE {on_it} AND ti.tag_id = g.id AND {tag_shown('ti', playable)}"
        " LIMIT 1) IS NOT NULL ORDER BY g.name)"  # a subplan per tag that stops at the first shown item
    )


def album_cover_id(album: str, playable: str) -> str:
    """SQL attachment id of the cover of the album row `album` (may be NULL) as the viewer sees it: a picture set
    on the album itself, else the cover of the first upload of its tracks that meets `playable`."""
    return (
        f"coalesce({album}.attachment_cover_id, (SELECT pu.attachment_cover_id FROM upload pu"
        f" JOIN library pl ON pl.id = pu.library_id WHERE pu.album_id = {album}.id"
        f" AND pu.attachment_cover_id IS NOT NULL AND {playable} ORDER BY pu.id LIMIT 1))"
    )  # walks upload_album_cover


class _Sql:
    """Builds one statement's SQL fragments and its named parameters for a viewer."""

    def __init__(self, viewer: Viewer) -> None:
        self.params: dict[str, Any] = {"me": viewer.user_id}
        self.playable = self.inline("vis", *playable_upload_condition(viewer, "pu", "pl"))

    def inline(self, prefix: str, condition: str, values: list[Any]) -> str:
        """A condition with positional %s parameters, rewritten with named ones bound here."""
        pieces = condition.split("%s")
        if len(pieces) != len(values) + 1:
            raise ValueError("unexpected placeholders in a visibility condition")
        sql = pieces[0]
        for i, value in enumerate(values):
            sql += self.bind(f"{prefix}_{i}", value) + pieces[i + 1]
        return sql

    def bind(self, name: str, value: Any) -> str:
        self.params[name] = value
        return f"%({name})s"

    # -- playability -------------------------------------------------------------------------------------------
    def track_playable(self, track: str, extra: str = "") -> str:
        return (
            "EXISTS (SELECT 1 FROM upload pu JOIN library pl ON pl.id = pu.library_id"
            f" WHERE pu.track_id = {track}.id AND {self.playable}{extra})"
        )

    def album_playable(self, album: str, extra: str = "") -> str:
        return f"EXISTS (SELECT 1 FROM track xt WHERE xt.album_id = {album}.id AND {self.track_playable('xt', extra)})"

    def artist_playable(self, artist: str, extra: str = "") -> str:
        return (
            f"(EXISTS (SELECT 1 FROM track xt WHERE xt.artist_id = {artist}.id AND {self.track_playable('xt', extra)})"
            f" OR EXISTS (SELECT 1 FROM album xal WHERE xal.artist_id = {artist}.id"
            f" AND {self.album_playable('xal', extra)}))"
        )

    @staticmethod
    def track_not_filtered(track: str) -> str:
        """True unless the viewer (parameter `me`) hid the artist or the album artist of the track `track` with a
        content filter. Written as NOT IN over the viewer's few filters so that PostgreSQL hashes them once per
        statement instead of looking up each track's album (radios run this over the whole catalog); an anonymous
        viewer has no filters, so it is true for them."""
        hidden = "SELECT uf.target_artist_id FROM user_filter uf WHERE uf.user_id = %(me)s"
        return (
            f"({track}.artist_id NOT IN ({hidden}) AND ({track}.album_id IS NULL OR {track}.album_id NOT IN"
            f" (SELECT fal.id FROM album fal WHERE fal.artist_id IN ({hidden}))))"
        )

    # -- JSON fragments ----------------------------------------------------------------------------------------
    @staticmethod
    def attachment(id_expr: str) -> str:
        return (
            "(SELECT json_build_object('uuid', att.uuid, 'size', att.size, 'mimetype', att.mimetype,"
            " 'creation_date', att.creation_date, 'url', att.url, 'file', att.file)"
            f" FROM attachment att WHERE att.id = {id_expr})"
        )

    @classmethod
    def user_json(cls, id_expr: str) -> str:
        """Funkwhale's basic user JSON (id, username, name, date_joined, avatar) of the user `id_expr`."""
        return (
            "(SELECT json_build_object('id', ju.id, 'username', ju.username, 'name', ju.name,"
            f" 'date_joined', ju.date_joined, 'avatar', {cls.attachment('ju.avatar_id')})"
            f" FROM users ju WHERE ju.id = {id_expr})"
        )

    def tags(self, kind: str, id_expr: str) -> str:
        return tag_names(kind, id_expr, self.playable)

    def album_cover(self, album: str) -> str:
        """The cover JSON of the album row `album` as the viewer sees it (album_cover_id)."""
        return self.attachment(album_cover_id(album, self.playable))

    def album_has_cover(self, album: str) -> str:
        """SQL true when the album row `album` has a cover the viewer sees."""
        return f"{album_cover_id(album, self.playable)} IS NOT NULL"

    def artist_json(self, id_expr: str) -> str:
        return (
            "(SELECT json_build_object('id', sa.id, 'fid', sa.fid, 'mbid', sa.mbid, 'name', sa.name,"
            " 'creation_date', sa.creation_date, 'modification_date', sa.modification_date,"
            " 'content_category', sa.content_category, 'description', sa.description,"
            f" 'cover', {self.attachment('sa.attachment_cover_id')})"
            f" FROM artist sa WHERE sa.id = {id_expr})"
        )

    def album_stats(self, album: str) -> str:
        """json {count, duration}: the album's tracks the viewer may play and their total duration."""
        best_duration = (
            "(SELECT coalesce(max(pu.duration), 0) FROM upload pu JOIN library pl ON pl.id = pu.library_id"
            f" WHERE pu.track_id = ct.id AND {self.playable} HAVING count(*) > 0)"
        )
        return (
            "(SELECT json_build_object('count', count(d), 'duration', coalesce(sum(d), 0))"
            f" FROM (SELECT {best_duration} AS d FROM track ct WHERE ct.album_id = {album}.id OFFSET 0) s)"
        )

    def uploads(self, track: str) -> str:
        return (
            "(SELECT coalesce(json_agg(json_build_object('uuid', pu.uuid, 'fid', pu.fid, 'size', pu.size,"
            " 'duration', pu.duration, 'bitrate', pu.bitrate, 'mimetype', pu.mimetype, 'source', pu.source,"
            " 'audio_file', pu.audio_file, 'original_name', pu.original_name)"
            " ORDER BY pu.creation_date, pu.id), '[]'::json)"
            f" FROM upload pu JOIN library pl ON pl.id = pu.library_id WHERE pu.track_id = {track}.id"
            f" AND {self.playable})"
        )

    def file_fields(self, track: str) -> str:
        """json {license, copyright, description} of the track row `track`: what is set on the row itself, else
        what the file of the first upload the viewer may play says (the importer keeps it in upload.metadata)."""
        first = (
            "(SELECT pu.metadata FROM upload pu JOIN library pl ON pl.id = pu.library_id"
            f" WHERE pu.track_id = {track}.id AND {self.playable} ORDER BY pu.creation_date, pu.id LIMIT 1)"
        )
        return (
            f"(SELECT json_build_object('license', coalesce({track}.license, f.m ->> 'license'),"
            f" 'copyright', coalesce(nullif({track}.copyright, ''), f.m ->> 'copyright'),"
            f" 'description', coalesce(nullif({track}.description, ''), f.m ->> 'description'))"
            f" FROM (SELECT {first} AS m OFFSET 0) f)"  # OFFSET 0: look the upload up once, not per field
        )

    def track_album(self, id_expr: str) -> str:
        return (
            "(SELECT json_build_object('id', tal.id, 'fid', tal.fid, 'mbid', tal.mbid, 'title', tal.title,"
            " 'release_date', tal.release_date, 'creation_date', tal.creation_date,"
            f" 'artist', {self.artist_json('tal.artist_id')}, 'cover', {self.album_cover('tal')},"
            f" 'tracks_count', {self.tracks_count('ct.album_id = tal.id')})"
            f" FROM album tal WHERE tal.id = {id_expr})"
        )

    def artist_albums(self, artist: str) -> str:
        return (
            "(SELECT coalesce(json_agg(json_build_object('id', aal.id, 'fid', aal.fid, 'mbid', aal.mbid,"
            " 'title', aal.title, 'artist', aal.artist_id, 'release_date', aal.release_date,"
            f" 'creation_date', aal.creation_date, 'cover', {self.album_cover('aal')},"
            " 'tracks_count', st.n) ORDER BY aal.release_date NULLS LAST, aal.id), '[]'::json)"
            f" FROM album aal CROSS JOIN LATERAL (SELECT {self.tracks_count('ct.album_id = aal.id')} AS n OFFSET 0) st"
            f" WHERE aal.artist_id = {artist}.id AND st.n > 0)"
        )

    def tracks_count(self, condition: str) -> str:
        """How many tracks `ct` meeting `condition` the viewer may play."""
        return f"(SELECT count(*) FROM track ct WHERE {condition} AND {self.track_playable('ct')})"

    # -- matching a folded query -------------------------------------------------------------------------------
    def bind_query(self, folded: str) -> None:
        self.bind("q", folded)
        self.bind("q_prefix", folded + "%")
        self.bind("q_like", "%" + folded + "%")

    @staticmethod
    def matches(key: str) -> str:
        return f"({key} LIKE %(q_like)s OR {key} %%> %(q)s)"

    @staticmethod
    def rank(key: str) -> str:
        return (
            f"CASE WHEN {key} = %(q)s THEN 0 WHEN {key} LIKE %(q_prefix)s THEN 1"
            f" WHEN {key} LIKE %(q_like)s THEN 2 ELSE 3 END"
        )


def order_by(known: dict[str, str], fields: tuple[str, ...], default: tuple[str, ...], tie: str) -> str:
    """ORDER BY expressions for Funkwhale ordering names ("-" for descending) among `known`; unknown names are
    ignored, as DRF does, and none left means `default`. `tie` (a unique column) makes pages stable."""
    parts = []
    for name in fields or default:
        expr = known.get(name.lstrip("-"))
        if expr is not None:
            parts.append(f"{expr} DESC" if name.startswith("-") else expr)  # PostgreSQL's NULL placement, as Django
    if not parts:
        return order_by(known, default, default, tie)
    return ", ".join([*parts, f"{tie} DESC" if parts[0].endswith(" DESC") else tie])


def _ordering_sql(kind: str, fields: tuple[str, ...]) -> str:
    return order_by(ORDERINGS[kind], fields, DEFAULT_ORDERING[kind], f"{_ALIAS[kind]}.id")


def _search_order(sql: _Sql, kind: str) -> str:
    if kind == "track":
        tier = (
            f"LEAST({sql.rank('t.title_key')},"
            f" 1 + {sql.rank('(SELECT name_key FROM artist WHERE id = t.artist_id)')},"
            f" 1 + {sql.rank('(SELECT title_key FROM album WHERE id = t.album_id)')})"
        )
        return f"{tier}, word_similarity(%(q)s, t.title_key) DESC, length(t.title_key), t.id"
    key = "al.title_key" if kind == "album" else "a.name_key"
    if kind == "album":
        tier = f"LEAST({sql.rank(key)}, 1 + {sql.rank('(SELECT name_key FROM artist WHERE id = al.artist_id)')})"
    else:
        tier = sql.rank(key)
    return f"{tier}, word_similarity(%(q)s, {key}) DESC, length({key}), {_ALIAS[kind]}.id"


def _matching_artists(sql: _Sql) -> str:
    return f"ARRAY(SELECT id FROM artist WHERE {sql.matches('name_key')})"


def _matching_albums(sql: _Sql) -> str:
    return f"ARRAY(SELECT id FROM album WHERE {sql.matches('title_key')})"


def _where(sql: _Sql, kind: str, f: Filters, viewer: Viewer) -> list[str]:
    """The WHERE conditions of a list of `kind` (alias t, al or a)."""
    alias = _ALIAS[kind]
    extra = ""
    if f.library is not None:
        extra += f" AND pl.uuid = {sql.bind('library', f.library)}"
    if f.scope_me:
        extra += f" AND pl.actor_id = {sql.bind('scope_actor', viewer.actor_id)}"
    playable = {"track": sql.track_playable, "album": sql.album_playable, "artist": sql.artist_playable}[kind]
    where = [playable(alias, extra) if f.playable else "false"]
    if f.q:
        sql.bind_query(f.q)
        if kind == "track":
            where.append(
                f"({sql.matches('t.title_key')} OR t.artist_id = ANY({_matching_artists(sql)})"
                f" OR t.album_id = ANY({_matching_albums(sql)}))"
            )
        elif kind == "album":
            where.append(f"({sql.matches('al.title_key')} OR al.artist_id = ANY({_matching_artists(sql)}))")
        else:
            where.append(sql.matches("a.name_key"))
    for i, tag in enumerate(f.tags):
        where.append(
            f"{alias}.id IN (SELECT ti.object_id FROM tagged_item ti JOIN tag g ON g.id = ti.tag_id"
            f" WHERE lower(g.name) = lower({sql.bind(f'tag_{i}', tag)}) AND ti.object_type = '{kind}'"
            f" AND {tag_shown('ti', sql.playable)})"
        )
    if f.ids:
        where.append(f"{alias}.id = ANY({sql.bind('ids', list(f.ids))})")
    if f.artist is not None:
        artist = sql.bind("artist", f.artist)
        if kind == "track":
            where.append(
                f"(t.artist_id = {artist} OR t.album_id = ANY(ARRAY(SELECT id FROM album WHERE artist_id = {artist})))"
            )
        elif kind == "album":
            where.append(f"al.artist_id = {artist}")
    if f.album is not None and kind == "track":
        where.append(f"t.album_id = {sql.bind('album', f.album)}")
    if f.content_category:
        category = sql.bind("content_category", f.content_category)
        artist_id = {"track": "t.artist_id", "album": "al.artist_id", "artist": "a.id"}[kind]
        where.append(f"{artist_id} IN (SELECT id FROM artist WHERE content_category = {category})")
    if f.content_filters and viewer.authenticated:
        if kind == "track":
            where.append(sql.track_not_filtered("t"))
        else:
            column = "al.artist_id" if kind == "album" else "a.id"
            where.append(sql.inline("filter", *artist_not_filtered(viewer, column)))
    if kind == "artist":
        if f.has_albums is not None:
            has = f"EXISTS (SELECT 1 FROM album hal WHERE hal.artist_id = a.id AND {sql.album_playable('hal')})"
            where.append(has if f.has_albums else f"NOT {has}")
    return where


_TABLE = {"track": "track t", "album": "album al", "artist": "artist a"}
_JOINS = {
    "track": " LEFT JOIN album oal ON oal.id = t.album_id JOIN artist oar ON oar.id = t.artist_id",
    "album": " JOIN artist oar ON oar.id = al.artist_id",
    "artist": "",
}


def _select(sql: _Sql, kind: str) -> str:
    """The outer SELECT list over `page p` for one kind."""
    if kind == "track":
        return (
            "p.id, p.uuid, p.fid, p.mbid, p.title, p.position, p.disc_number,"
            f" {sql.file_fields('p')} AS file_fields, p.creation_date, p.downloads_count,"
            f" {sql.artist_json('p.artist_id')} AS artist, {sql.track_album('p.album_id')} AS album,"
            f" {sql.uploads('p')} AS uploads, {sql.tags('track', 'p.id')} AS tags,"
            f" {sql.attachment('p.attachment_cover_id')} AS cover,"
            " (SELECT count(*) FROM listening lc WHERE lc.track_id = p.id AND lc.user_id = %(me)s) AS listen_count"
        )
    if kind == "album":
        return (
            "p.id, p.uuid, p.fid, p.mbid, p.title, p.release_date, p.description, p.creation_date,"
            f" {sql.artist_json('p.artist_id')} AS artist, {sql.album_stats('p')} AS stats,"
            f" {sql.tags('album', 'p.id')} AS tags, {sql.album_cover('p')} AS cover"
        )
    return (
        "p.id, p.uuid, p.fid, p.mbid, p.name, p.content_category, p.description, p.creation_date,"
        f" p.modification_date, {sql.artist_albums('p')} AS albums,"
        f" {sql.tracks_count('ct.artist_id = p.id')} AS tracks_count,"
        f" {sql.tags('artist', 'p.id')} AS tags, {sql.attachment('p.attachment_cover_id')} AS cover"
    )


def list_txn(txn: Any, kind: str, listing: Listing) -> tuple[int, list[dict[str, Any]]]:
    """(total, rows of the page) of `kind` ("track", "album" or "artist") in one statement.

    A page beyond the end has no rows and a total of 0 (the caller answers 404 for it, as DRF does).
    """
    sql = _Sql(listing.viewer)
    where = " AND ".join(_where(sql, kind, listing.filters, listing.viewer))
    order = _search_order(sql, kind) if listing.search else _ordering_sql(kind, listing.ordering)
    joins = _JOINS[kind] if ("oal." in order or "oar." in order) else ""
    if "%(seed)s" in order:
        sql.bind("seed", secrets.token_hex(8))
    if listing.filters.q:
        # The planner prices trigram operators like `=`, so it would rather test every row than read the GIN
        # indexes; matches are few, so make it take the indexes.
        txn.execute(
            f"SET LOCAL pg_trgm.word_similarity_threshold = {SEARCH_WORD_SIMILARITY}; SET LOCAL enable_seqscan = off"
        )
    alias, table = _ALIAS[kind], _TABLE[kind]
    window = f"ORDER BY {order} LIMIT {sql.bind('limit', listing.limit)} OFFSET {sql.bind('offset', listing.offset)}"
    if kind == "track" and not listing.search and listing.offset < STREAMED_OFFSET:
        # Walk the ordering's index and test each track until the page is full; count apart.
        matched, source, total = "", f"{table}{joins} WHERE {where}", f"SELECT count(*) FROM {table} WHERE {where}"
    else:
        # Find every match once (hash joins), then count and sort them.
        matched = f"matched AS MATERIALIZED (SELECT {alias}.* FROM {table} WHERE {where}),"
        source, total = f"matched {alias}{joins}", "SELECT count(*) FROM matched"
    statement = (
        f"WITH {matched} page AS (SELECT s.*, row_number() OVER () AS ord"
        f" FROM (SELECT {alias}.* FROM {source} {window}) s)"
        f" SELECT ({total}) AS total, {_select(sql, kind)} FROM page p ORDER BY p.ord"
    )
    txn.execute(statement, sql.params)
    rows = txn.fetchall()
    return (rows[0]["total"] if rows else 0), rows


def detail_txn(txn: Any, kind: str, viewer: Viewer, object_id: int) -> dict[str, Any] | None:
    """One artist, album or track the viewer may see, else None."""
    _, rows = list_txn(txn, kind, Listing(viewer, Filters(ids=(object_id,), content_filters=False), limit=1))
    return rows[0] if rows else None


def search_txn(txn: Any, viewer: Viewer, folded: str, limit: int, tag_text: str) -> dict[str, list[dict[str, Any]]]:
    """The best `limit` artists, albums and tracks matching `folded`, and tags whose name contains `tag_text`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in ("artist", "album", "track"):
        _, found[kind] = list_txn(txn, kind, Listing(viewer, Filters(q=folded), limit=limit, search=True))
    found["tag"] = list_tags_txn(txn, viewer, tag_text, ("__search",), limit, 0)[1]
    return found


TAG_ORDERINGS = {"name": "lower(g.name)", "creation_date": "g.creation_date", "length": "length(g.name)"}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tag_used(sql: _Sql) -> str:
    """SQL true for a tag `g` on something the viewer may play: read from the file of an upload they may play,
    or set on an artist, album or track row they may play something of."""
    row_playable = {
        "track": f"EXISTS (SELECT 1 FROM track ut WHERE ut.id = ti.object_id AND {sql.track_playable('ut')})",
        "album": f"EXISTS (SELECT 1 FROM album ual WHERE ual.id = ti.object_id AND {sql.album_playable('ual')})",
        "artist": f"EXISTS (SELECT 1 FROM artist ua WHERE ua.id = ti.object_id AND {sql.artist_playable('ua')})",
    }
    return (
        "EXISTS (SELECT 1 FROM tagged_item ti WHERE ti.tag_id = g.id AND CASE"
        f" WHEN ti.upload_id IS NOT NULL THEN {upload_playable('ti.upload_id', sql.playable)}"
        + "".join(f" WHEN ti.object_type = '{kind}' THEN {cond}" for kind, cond in row_playable.items())
        + " END)"
    )


def list_tags_txn(
    txn: Any, viewer: Viewer, text: str, ordering: tuple[str, ...], limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of the tags on content the viewer may play whose name contains `text` (any case); ordering
    "__search" ranks like search."""
    sql = _Sql(viewer)
    params = sql.params
    params.update(limit=limit, offset=offset)
    where = _tag_used(sql)
    if text:
        params.update(
            text=text.lower(), like="%" + _like_escape(text.lower()) + "%", prefix=_like_escape(text.lower()) + "%"
        )
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
    txn.execute(
        f"SELECT g.name, g.creation_date, count(*) OVER () AS total FROM tag g WHERE {where}"
        f" ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    rows = txn.fetchall()
    return (rows[0]["total"] if rows else 0), rows


def tag_txn(txn: Any, viewer: Viewer, name: str) -> dict[str, Any] | None:
    """The tag named `name` (any case) when it is on content the viewer may play, else None."""
    sql = _Sql(viewer)
    txn.execute(
        f"SELECT g.name, g.creation_date FROM tag g WHERE lower(g.name) = lower({sql.bind('name', name)})"
        f" AND {_tag_used(sql)}",
        sql.params,
    )
    return txn.fetchone()
