"""The music SQL fragments every store builds its statements from, for one viewer.

`Fragments(viewer)` holds a statement's named parameters (funkwhale.db.params.NamedParams: `bind(value)` returns
the placeholder, `%(me)s` is the viewer's user id), the viewer's playable-upload condition (over `pu` / `pl`,
funkwhale.music.visibility) and the ids of the libraries they may see (`libraries`), bound once. Whether the
viewer may play a track, an album or an artist, and how many tracks of an album or artist, are read from the
visibility facts (`track_library`, kept by the database: migration 0009) among those libraries. Each fragment
is SQL over the aliases or expressions it is given: playability of a track, album or artist, the entries of a
user's list the viewer sees, content filters, the best duration of a track, an album's cover and the nested JSON
of the catalog's rows. Rows are shared by every upload of the same names, so what came from a file (an album's
cover, genres, a track's license, copyright and comment) is read from the uploads the viewer may play only
(`album_cover_id`, `tag_shown`, `tag_names`, `file_fields`).
"""

from __future__ import annotations

from funkwhale.db.params import NamedParams
from funkwhale.music.visibility import Viewer, library_condition, playable_upload_condition, privacy_condition

# Offsets of a page written into the statement's text below this (see Fragments.window).
LITERAL_OFFSET = 1000
# Pages of artists or albums of at least this many rows gather what their rows nest (Fragments.gathered).
GATHERED_FROM = 20
_HIDDEN = "SELECT uf.target_artist_id FROM user_filter uf WHERE uf.user_id = %(me)s"


def ordering_names(known: dict[str, str], fields: tuple[str, ...], default: tuple[str, ...]) -> list[str]:
    """The Funkwhale ordering names ("-" for descending) of `fields` among `known`; unknown names are ignored, as
    DRF does, and none left means those of `default`."""
    names = [name for name in fields or default if name.lstrip("-") in known]
    return names or [name for name in default if name.lstrip("-") in known]


def order_by(known: dict[str, str], fields: tuple[str, ...], default: tuple[str, ...], tie: str) -> str:
    """ORDER BY expressions over `known` for the names `ordering_names` keeps; `tie` (a unique column) makes pages
    stable and follows the direction of the first."""
    names = ordering_names(known, fields, default)
    parts = [f"{known[n[1:]]} DESC" if n.startswith("-") else known[n] for n in names]  # NULL placement as Django
    return ", ".join([*parts, f"{tie} DESC" if names[0].startswith("-") else tie])


class Fragments(NamedParams):
    """One statement's parameters and SQL fragments for a viewer, optionally within one library (`folder`)."""

    def __init__(self, viewer: Viewer, folder: int | None = None) -> None:
        super().__init__(me=viewer.user_id)
        self.viewer = viewer
        self.playable = playable_upload_condition(self, viewer, "pu", "pl")
        libraries = library_condition(self, viewer, "vl")
        if folder is not None:
            folder_id = self.bind(folder)
            self.playable += f" AND pl.id = {folder_id}"
            libraries += f" AND vl.id = {folder_id}"
        # The ids of the libraries the viewer may see (an InitPlan: evaluated once per statement).
        self.libraries = f"ARRAY(SELECT vl.id FROM library vl WHERE {libraries})"

    def libraries_once(self, name: str) -> str:
        """A CTE `name` holding the ids of the libraries the viewer may see, which the fragments built from now on
        read (a CTE scan each) instead of testing the library rule anew: for a statement of many pieces (search),
        whose plan would otherwise carry one such InitPlan per fragment (21 in a search)."""
        cte = f"{name} AS MATERIALIZED (SELECT {self.libraries} AS ids)"
        self.libraries = f"(SELECT ids FROM {name})::bigint[]"  # an array, not `= ANY (subquery)`
        return cte

    def window(self, limit: int, offset: int) -> str:
        """LIMIT and OFFSET of a page, for a prepared statement's plan: the limit and an offset below
        LITERAL_OFFSET are literals, as a parameter there would make the generic plan assume that a tenth of the
        rows is wanted (it would sort them all rather than walk an index until the page is full); a larger offset
        is a parameter, so that deep pages, whose plans find every match first whatever the window, share one
        statement instead of filling the connection's prepared statements with one each. Such a statement runs
        with its generic plan (`generic_plan`): as fast as a custom one, but priced ~10 times higher (a custom
        plan expects one row past an offset beyond the default estimate of the matches), so PostgreSQL would
        plan each deep page anew (1.5-2 ms)."""
        if offset < LITERAL_OFFSET:
            return f"LIMIT {int(limit)} OFFSET {int(offset)}"
        self.generic_plan = True
        return f"LIMIT {int(limit)} OFFSET {self.bind(offset)}"

    # -- who sees what -----------------------------------------------------------------------------------------
    def visible(self, level: str, owner: str) -> str:
        """True for a row with privacy column `level` owned by the user `owner` (visibility.privacy_condition)."""
        return privacy_condition(self, self.viewer, level, owner)

    def _upload_shown(self) -> str:
        """True for an upload `pu` the viewer may play: finished, in one of the libraries they may see (the
        statement's `libraries`, evaluated once, rather than the library rule tested per upload)."""
        return f"pu.import_status = 'finished' AND pu.library_id = ANY({self.libraries})"

    def upload_playable(self, upload_id: str) -> str:
        """True when the viewer may play the upload `upload_id`."""
        return f"EXISTS (SELECT 1 FROM upload pu WHERE pu.id = {upload_id} AND {self._upload_shown()})"

    def playable_uploads(self, track_id: str) -> str:
        """FROM and WHERE of the uploads `pu` of the track `track_id` the viewer may play."""
        return f"FROM upload pu WHERE pu.track_id = {track_id} AND {self._upload_shown()}"

    def _facts(self, column: str, id_expr: str) -> str:
        """FROM and WHERE of the visibility facts `xtl` of the track, album or artist (`column`) `id_expr` among
        the libraries the viewer may see."""
        return f"FROM track_library xtl WHERE xtl.{column} = {id_expr} AND xtl.library_id = ANY({self.libraries})"

    def _held(self, column: str, id_expr: str, probe: bool = False) -> str:
        """True when a library the viewer may see holds a playable upload of a track whose `column` (track_id,
        album_id or artist_id) is `id_expr`: one probe of the visibility facts (`track_library`).

        For an album or an artist the probe stays a probe (`OFFSET 0` keeps PostgreSQL from turning the EXISTS
        into a hash of every fact's album or artist id): albums and artists are far fewer than the facts, so
        probing each one tested is cheaper than hashing all the facts, which a page walking an index paid in full
        before its first row (3.8 of an artists page's 9 ms on 20,000 tracks). For tracks when `probe` is asked:
        a page walking the tracks from a bound its plan cannot see (a parameter) would otherwise merge them with
        every fact from the first (19,500 facts read for a sync's page at 19,500)."""
        fence = " OFFSET 0" if probe or column != "track_id" else ""
        return f"EXISTS (SELECT 1 {self._facts(column, id_expr)}{fence})"

    def track_playable(self, track_id: str, extra: str = "") -> str:
        """True when the viewer may play an upload of the track `track_id` (that also meets `extra`, which starts
        with " AND" and reads `pu` / `pl`: then the uploads themselves are read)."""
        if not extra:
            return self._held("track_id", track_id)
        return (
            "EXISTS (SELECT 1 FROM upload pu JOIN library pl ON pl.id = pu.library_id"
            f" WHERE pu.track_id = {track_id} AND {self.playable}{extra})"
        )

    def track_probed(self, track_id: str) -> str:
        """`track_playable` as a probe of each track tested (`_held`'s `probe`), for a plan that would guess many
        more tracks than it tests (a search's matches: its generic plan guesses 200)."""
        return self._held("track_id", track_id, probe=True)

    def album_playable(self, album_id: str, extra: str = "") -> str:
        if not extra:
            return self._held("album_id", album_id)
        track_playable = self.track_playable("xt.id", extra)
        return f"EXISTS (SELECT 1 FROM track xt WHERE xt.album_id = {album_id} AND {track_playable})"

    def artist_playable(self, artist_id: str, extra: str = "") -> str:
        """True when the viewer may play a track of the artist `artist_id`, or of an album of theirs."""
        own = self._held("artist_id", artist_id)
        if extra:
            tracks = f"SELECT 1 FROM track xt WHERE xt.artist_id = {artist_id}"
            own = f"EXISTS ({tracks} AND {self.track_playable('xt.id', extra)})"
        return (
            f"({own} OR EXISTS (SELECT 1 FROM album xal WHERE xal.artist_id = {artist_id}"
            f" AND {self.album_playable('xal.id', extra)}))"
        )

    def entry_shown(self, owner: str, track_id: str, probe: bool = False) -> str:
        """True for an entry of a user's track list (a favorite, a listen, a playlist entry) the viewer may see:
        its owner (the user `owner`) sees every entry, anyone else only those whose track `track_id` they may
        play, so another user's private music never shows through someone's list. `probe`: each entry probes the
        visibility facts (`_held`), for a page that stops when full, rather than hash every fact first."""
        playable = self.track_probed(track_id) if probe else self.track_playable(track_id)
        return f"({owner} = %(me)s OR {playable})"

    @staticmethod
    def artist_not_filtered(artist_id: str) -> str:
        """True unless the viewer hid the artist `artist_id` with a content filter (`user_filter`). NOT IN over the
        viewer's few filters: PostgreSQL hashes them once per statement; an anonymous viewer has none."""
        return f"{artist_id} NOT IN ({_HIDDEN})"

    @staticmethod
    def track_not_filtered(track: str) -> str:
        """True unless the viewer hid the artist or the album artist of the track row `track` with a content
        filter (radios run this over the whole catalog, hence no per-track album lookup)."""
        return (
            f"({track}.artist_id NOT IN ({_HIDDEN}) AND ({track}.album_id IS NULL OR {track}.album_id NOT IN"
            f" (SELECT fal.id FROM album fal WHERE fal.artist_id IN ({_HIDDEN}))))"
        )

    @staticmethod
    def track_id_not_filtered(track_id: str) -> str:
        """`track_not_filtered` for a track id `track_id` without its row: the ids of the tracks the viewer hid
        are gathered once per statement (a hashed NOT IN, empty without filters), so a list of entries (a year of
        listenings) tests each by its id alone, by index, rather than reading each one's track."""
        return (
            f"{track_id} NOT IN (SELECT ht.id FROM track ht WHERE ht.artist_id IN ({_HIDDEN}) UNION ALL SELECT ht.id"
            f" FROM track ht WHERE ht.album_id IN (SELECT fal.id FROM album fal WHERE fal.artist_id IN ({_HIDDEN})))"
        )

    # -- what came from the files the viewer may play ----------------------------------------------------------
    def tag_shown(self, item: str, shown_upload: str | None = None) -> str:
        """True for a tagged_item row `item` the viewer may see: set on the row itself (no upload), or read from
        the file of an upload they may play (`shown_upload`, one known to be, needs no probe)."""
        known = "" if shown_upload is None else f" OR {item}.upload_id = {shown_upload}"
        return f"({item}.upload_id IS NULL{known} OR {self.upload_playable(item + '.upload_id')})"

    def tag_names(self, kind: str, id_expr: str, shown_upload: str | None = None) -> str:
        """SQL array of the names of the tags shown on the artist, album or track `id_expr`, sorted. Each
        distinct tag looks for one shown item only (an album has its genres once per upload of each track). For a
        track, `shown_upload` is an upload of it the viewer may play (most tracks have no other)."""
        on_it = f"ti.object_type = '{kind}' AND ti.object_id = {id_expr}"
        if kind == "track":  # one item per tag and upload of the track: each is tested, in one pass
            return (
                f"ARRAY(SELECT g.name FROM tag g WHERE g.id IN (SELECT ti.tag_id FROM tagged_item ti WHERE {on_it}"
                f" AND {self.tag_shown('ti', shown_upload)}) ORDER BY g.name)"
            )
        return (
            f"ARRAY(SELECT g.name FROM tag g WHERE g.id IN (SELECT ti.tag_id FROM tagged_item ti WHERE {on_it})"
            f" AND (SELECT 1 FROM tagged_item ti WHERE {on_it} AND ti.tag_id = g.id AND {self.tag_shown('ti')}"
            " LIMIT 1) IS NOT NULL ORDER BY g.name)"  # a subplan per tag that stops at the first shown item
        )

    def track_tagged(self, tag_ids: str) -> str:
        """True for a track `t` that carries one of the tags `tag_ids` (a SELECT of tag ids) the viewer sees,
        itself or through its album or artist."""
        tagged = {
            kind: f"SELECT ti.object_id FROM tagged_item ti WHERE ti.object_type = '{kind}'"
            f" AND ti.tag_id IN ({tag_ids}) AND {self.tag_shown('ti')}"
            for kind in ("track", "album", "artist")
        }  # three sets hashed once each, rather than a lookup per track; coalesce: no album is not a match
        return (
            f"coalesce(t.id IN ({tagged['track']}) OR t.album_id IN ({tagged['album']})"
            f" OR t.artist_id IN ({tagged['artist']}), false)"
        )

    def album_cover_id(self, album: str) -> str:
        """Attachment id of the cover of the album row `album` (may be NULL) as the viewer sees it: a picture set
        on the album itself, else the cover of the first upload of its tracks they may play."""
        return (
            f"coalesce({album}.attachment_cover_id, (SELECT pu.attachment_cover_id FROM upload pu"
            f" WHERE pu.album_id = {album}.id AND pu.attachment_cover_id IS NOT NULL AND {self._upload_shown()}"
            " ORDER BY pu.id LIMIT 1))"
        )  # walks upload_album_cover

    def album_cover(self, album: str) -> str:
        """The cover JSON of the album row `album` as the viewer sees it."""
        return self.attachment(self.album_cover_id(album))

    def album_has_cover(self, album: str, shown_upload: str | None = None) -> str:
        """True when the album row `album` has a cover the viewer sees; `shown_upload`, an upload row the viewer may
        play (a song's), answers without a probe when it is of the album and brought a cover."""
        if shown_upload is None:
            return f"{self.album_cover_id(album)} IS NOT NULL"
        return (
            f"({shown_upload}.attachment_cover_id IS NOT NULL AND {shown_upload}.album_id = {album}.id"
            f" OR {self.album_cover_id(album)} IS NOT NULL)"
        )

    def best_duration(self, track_id: str) -> str:
        """The longest duration among the uploads of the track `track_id` the viewer may play (0 when unknown);
        NULL when they may play none, so count() and sum() over it skip unplayable tracks."""
        return f"(SELECT coalesce(max(xtl.duration), 0) {self._facts('track_id', track_id)} HAVING count(*) > 0)"

    def album_durations(self, album_id: str) -> str:
        """A subquery: the best duration (`d`) of each track of the album `album_id` the viewer may play, read
        from the album's visibility facts alone."""
        return f"(SELECT coalesce(max(xtl.duration), 0) AS d {self._facts('album_id', album_id)} GROUP BY xtl.track_id)"

    def file_fields(self, track: str) -> str:
        """json {license, copyright, description} of the track row `track`: what is set on the row itself, else
        what the file of the first upload the viewer may play says (the importer keeps it in upload.metadata)."""
        first = f"(SELECT pu.metadata {self.playable_uploads(track + '.id')} ORDER BY pu.creation_date, pu.id LIMIT 1)"
        return (
            f"(SELECT json_build_object('license', coalesce({track}.license, f.m ->> 'license'),"
            f" 'copyright', coalesce(nullif({track}.copyright, ''), f.m ->> 'copyright'),"
            f" 'description', coalesce(nullif({track}.description, ''), f.m ->> 'description'))"
            f" FROM (SELECT {first} AS m OFFSET 0) f)"  # OFFSET 0: look the upload up once, not per field
        )

    # -- the catalog's JSON ------------------------------------------------------------------------------------
    @staticmethod
    def _attachment_fields(att: str) -> str:
        """What attachment_json and the ActivityPub documents read of the attachment row `att`."""
        return (
            f"json_build_object('uuid', {att}.uuid, 'size', {att}.size, 'mimetype', {att}.mimetype,"
            f" 'creation_date', {att}.creation_date, 'url', {att}.url)"
        )

    @classmethod
    def attachment_object(cls, att: str) -> str:
        """The JSON of the attachment row `att` of a LEFT JOIN (NULL for its missing row)."""
        return f"CASE WHEN {att}.id IS NOT NULL THEN {cls._attachment_fields(att)} END"

    @classmethod
    def attachment(cls, id_expr: str) -> str:
        return f"(SELECT {cls._attachment_fields('att')} FROM attachment att WHERE att.id = {id_expr})"

    @classmethod
    def user_json(cls, id_expr: str) -> str:
        """Funkwhale's basic user JSON (id, username, name, date_joined, avatar) of the user `id_expr`."""
        return (
            "(SELECT json_build_object('id', ju.id, 'username', ju.username, 'name', ju.name,"
            f" 'date_joined', ju.date_joined, 'avatar', {cls.attachment('ju.avatar_id')})"
            f" FROM users ju WHERE ju.id = {id_expr})"
        )

    @staticmethod
    def actor_json(id_expr: str) -> str:
        """The columns of the actor `id_expr` as json (NULL for none), for `actor_json(..., prefix="")`."""
        return (
            "(SELECT json_build_object('fid', ja.fid, 'url', ja.url, 'creation_date', ja.creation_date,"
            " 'summary', ja.summary, 'preferred_username', ja.preferred_username, 'name', ja.name,"
            " 'last_fetch_date', ja.last_fetch_date, 'domain', ja.domain, 'type', ja.type,"
            " 'manually_approves_followers', ja.manually_approves_followers)"
            f" FROM actor ja WHERE ja.id = {id_expr})"
        )

    @classmethod
    def user_actor_json(cls, id_expr: str) -> str:
        """The actor of the user `id_expr`, as `actor_json`."""
        return cls.actor_json(f"(SELECT au.actor_id FROM users au WHERE au.id = {id_expr})")

    @staticmethod
    def _artist_object(artist: str, cover: str) -> str:
        """The simple artist JSON of the artist row `artist`, whose cover JSON is `cover`."""
        return (
            f"json_build_object('id', {artist}.id, 'fid', {artist}.fid, 'mbid', {artist}.mbid, 'name', {artist}.name,"
            f" 'creation_date', {artist}.creation_date, 'modification_date', {artist}.modification_date,"
            f" 'content_category', {artist}.content_category, 'description', {artist}.description, 'cover', {cover})"
        )

    def artist_json(self, id_expr: str, artists: str | None = None) -> str:
        """The artist JSON of the artist `id_expr`, read from the CTE `artists` when given (`page_artists`)."""
        if artists:
            return f"(SELECT par.j FROM {artists} par WHERE par.id = {id_expr})"
        artist = self._artist_object("sa", self.attachment("sa.attachment_cover_id"))
        return f"(SELECT {artist} FROM artist sa WHERE sa.id = {id_expr})"

    def page_artists(self, page: str) -> str:
        """A CTE body: the artist JSON (`j`) of each artist of the tracks in `page` and of their albums, built once
        per artist (a page of 50 tracks often has a handful), for `columns("track", artists=...)` and
        `page_albums(..., artists=...)`."""
        albums = f"SELECT artist_id FROM album WHERE id = ANY(ARRAY(SELECT album_id FROM {page}))"
        ids = f"SELECT artist_id FROM {page} UNION {albums}"  # each album probed, never every album hashed
        artist = self._artist_object("sa", self.attachment("sa.attachment_cover_id"))
        return f"SELECT sa.id, {artist} AS j FROM artist sa WHERE sa.id = ANY(ARRAY({ids}))"

    def uploads(self, track: str) -> str:
        """json array of the uploads of the track row `track` the viewer may play, first uploaded first, each with
        what its file says of the track (`file_license`...: the first one's stand in for what the track row
        lacks, as `file_fields`)."""
        return (
            "(SELECT coalesce(json_agg(json_build_object('uuid', pu.uuid, 'fid', pu.fid, 'size', pu.size,"
            " 'duration', pu.duration, 'bitrate', pu.bitrate, 'mimetype', pu.mimetype, 'source', pu.source,"
            " 'audio_file', pu.audio_file, 'original_name', pu.original_name, 'file_license',"
            " pu.metadata ->> 'license', 'file_copyright', pu.metadata ->> 'copyright', 'file_description',"
            " pu.metadata ->> 'description')"
            f" ORDER BY pu.creation_date, pu.id), '[]'::json) {self.playable_uploads(track + '.id')})"
        )

    def _album_object(self, artists: str | None = None) -> str:
        """The album JSON of a track, over the album row `tal` (its artist from the CTE `artists` when given)."""
        return (
            "json_build_object('id', tal.id, 'fid', tal.fid, 'mbid', tal.mbid, 'title', tal.title,"
            " 'release_date', tal.release_date, 'creation_date', tal.creation_date,"
            f" 'artist', {self.artist_json('tal.artist_id', artists)}, 'cover', {self.album_cover('tal')},"
            f" 'tracks_count', {self.tracks_count('ct.album_id = tal.id')})"
        )

    def track_album(self, id_expr: str) -> str:
        return f"(SELECT {self._album_object()} FROM album tal WHERE tal.id = {id_expr})"

    def page_albums(self, page: str, artists: str | None = None) -> str:
        """A CTE body: the album JSON (`j`) of each distinct album of the tracks in `page`, built once per album
        (a page of 50 tracks often holds a handful of albums), for `columns("track", albums=...)`; its artist
        read from the CTE `artists` when given (`page_artists`)."""
        return (
            f"SELECT tal.id, {self._album_object(artists)} AS j FROM album tal"
            f" WHERE tal.id = ANY(ARRAY(SELECT DISTINCT album_id FROM {page}))"
        )

    def gathered(self, kind: str, page: str, limit: int) -> tuple[str, str]:
        """(CTEs to append to a statement's WITH, joins to its FROM `page` p) that `columns(kind)` reads: what the
        rows of a page of `kind` (at most `limit`) nest, gathered once for the whole page (`page`: a CTE of its
        rows). A page of fewer than GATHERED_FROM rows (a search's, a detail) reads them per row instead, under the
        same names: there gathering costs more than the lookups it saves. A page of tracks builds each distinct
        album's JSON once (`page_albums`), and from GATHERED_FROM rows each distinct artist's (`page_artists`: for
        a search's ten tracks it cost more than it saved); the caller reads them with `columns("track", ...)`."""
        if kind == "track":
            if limit < GATHERED_FROM:
                return f", page_album AS MATERIALIZED ({self.page_albums(page)})", ""
            return (
                f", page_artist AS MATERIALIZED ({self.page_artists(page)}),"
                f" page_album AS MATERIALIZED ({self.page_albums(page, 'page_artist')})"
            ), ""
        if limit < GATHERED_FROM:
            return "", self._nested_per_row(kind)
        tags = f", page_tag AS MATERIALIZED ({self.page_tags(kind, page)})"
        tag_join = " LEFT JOIN page_tag ptg ON ptg.object_id = p.id"
        if kind == "artist":
            ctes = (
                f", page_artist_album AS MATERIALIZED ({self.artist_page_albums(page)}),"
                f" page_artist_count AS MATERIALIZED ({self.artist_page_counts(page)}){tags}"
            )
            joins = (
                " LEFT JOIN page_artist_album pa ON pa.artist_id = p.id"
                f" LEFT JOIN page_artist_count pc ON pc.artist_id = p.id{tag_join}"
                " LEFT JOIN attachment pat ON pat.id = p.attachment_cover_id"
            )
            return ctes, joins
        joins = f" LEFT JOIN page_album_stats ps ON ps.album_id = p.id{tag_join}{self._album_joins()}"
        return f", page_album_stats AS MATERIALIZED ({self.album_page_stats(page)}){tags}", joins

    def _album_joins(self) -> str:
        """The joins of an album row `p` to its artist (`pr`, its cover `prt`) and its cover (`pat`)."""
        return (
            " JOIN artist pr ON pr.id = p.artist_id LEFT JOIN attachment prt ON prt.id = pr.attachment_cover_id"
            f" CROSS JOIN LATERAL (SELECT {self.album_cover_id('p')} AS id OFFSET 0) pci"
            " LEFT JOIN attachment pat ON pat.id = pci.id"
        )

    def _nested_per_row(self, kind: str) -> str:
        """The joins of `gathered` for a page read per row: lateral subqueries of the row `p`."""
        tags = f" CROSS JOIN LATERAL (SELECT {self.tag_names(kind, 'p.id')} AS names) ptg"
        if kind == "artist":
            albums = (
                f"SELECT json_agg({self._artist_album('aal', self.album_cover('aal'), 'st.n')}"
                " ORDER BY aal.release_date NULLS LAST, aal.id) AS j FROM album aal CROSS JOIN LATERAL"
                f" (SELECT {self.tracks_count('ct.album_id = aal.id')} AS n OFFSET 0) st"
                " WHERE aal.artist_id = p.id AND st.n > 0"
            )
            return (
                f" CROSS JOIN LATERAL ({albums}) pa"
                f" CROSS JOIN LATERAL (SELECT {self.tracks_count('ct.artist_id = p.id')} AS n) pc{tags}"
                " LEFT JOIN attachment pat ON pat.id = p.attachment_cover_id"
            )
        stats = f"SELECT count(d) AS n, sum(d) AS duration FROM {self.album_durations('p.id')} s"
        return f" CROSS JOIN LATERAL ({stats}) ps{tags}{self._album_joins()}"

    @staticmethod
    def _artist_album(album: str, cover: str, count: str) -> str:
        """The JSON of an album row `album` among an artist's, with its `cover` JSON and its playable `count`."""
        return (
            f"json_build_object('id', {album}.id, 'fid', {album}.fid, 'mbid', {album}.mbid, 'title', {album}.title,"
            f" 'artist', {album}.artist_id, 'release_date', {album}.release_date,"
            f" 'creation_date', {album}.creation_date, 'cover', {cover}, 'tracks_count', {count})"
        )

    def page_tags(self, kind: str, page: str) -> str:
        """A CTE body: the names (`names`, sorted) of the tags shown on each artist or album (`kind`; `object_id`)
        of `page` that has any, as `tag_names`: the distinct tags of the page's rows gathered in one pass, each
        looking for one shown item only."""
        on_it = f"ti.object_type = '{kind}' AND ti.object_id"
        return (
            "SELECT pt.object_id, array_agg(g.name ORDER BY g.name) AS names FROM (SELECT DISTINCT ti.object_id,"
            f" ti.tag_id FROM tagged_item ti WHERE {on_it} = ANY(ARRAY(SELECT id FROM {page}))) pt"
            f" JOIN tag g ON g.id = pt.tag_id WHERE (SELECT 1 FROM tagged_item ti WHERE {on_it} = pt.object_id"
            f" AND ti.tag_id = pt.tag_id AND {self.tag_shown('ti')} LIMIT 1) IS NOT NULL GROUP BY pt.object_id"
        )

    def album_page_stats(self, page: str) -> str:
        """A CTE body: how many tracks (`n`) the viewer may play of each album (`album_id`) of `page` that has any,
        and their total best duration (`duration`), in one pass over their visibility facts."""
        return (
            "SELECT s.album_id, count(*) AS n, sum(s.d) AS duration FROM (SELECT xtl.album_id,"
            f" coalesce(max(xtl.duration), 0) AS d {self._facts('album_id', f'ANY(ARRAY(SELECT id FROM {page}))')}"
            " GROUP BY xtl.album_id, xtl.track_id) s GROUP BY s.album_id"
        )

    def artist_page_albums(self, page: str) -> str:
        """A CTE body: the albums JSON array (`j`) of each artist (`artist_id`) of the artists in `page`, for
        `columns("artist")`: each album the viewer may play a track of, with its cover and how many, by release
        date. Gathered once for the page: the playable tracks of all its albums counted in one pass over their
        visibility facts and their covers joined at once, rather than a lookup per album of each artist, which
        PostgreSQL prices as a scan of each small table (album, attachment) per row on a small library."""
        # joined to the page rather than matched against an array of its ids, so that PostgreSQL expects as many
        # albums as the page's artists have, and probes the covers of a few (a search's) rather than hash them all
        albums = f"{page} pg JOIN album al ON al.artist_id = pg.id"
        counted = (
            f"SELECT ct.album_id, count(DISTINCT ct.track_id) AS n FROM track_library ct WHERE ct.album_id"
            f" = ANY(ARRAY(SELECT al.id FROM {albums})) AND ct.library_id = ANY({self.libraries}) GROUP BY ct.album_id"
        )
        return (
            f"SELECT aal.artist_id, json_agg({self._artist_album('aal', self.attachment_object('att'), 'aal.n')}"
            " ORDER BY aal.release_date NULLS LAST, aal.id) AS j"
            f" FROM (SELECT al.*, st.n, {self.album_cover_id('al')} AS cover_id FROM {albums}"
            f" JOIN ({counted}) st ON st.album_id = al.id OFFSET 0) aal"
            " LEFT JOIN attachment att ON att.id = aal.cover_id GROUP BY aal.artist_id"
        )

    def artist_page_counts(self, page: str) -> str:
        """A CTE body: how many tracks (`n`) the viewer may play of each artist (`artist_id`) in `page` that has
        any, counted in one pass over their visibility facts."""
        return (
            "SELECT ct.artist_id, count(DISTINCT ct.track_id) AS n FROM track_library ct"
            f" WHERE ct.artist_id = ANY(ARRAY(SELECT id FROM {page})) AND ct.library_id = ANY({self.libraries})"
            " GROUP BY ct.artist_id"
        )

    def tracks_count(self, condition: str) -> str:
        """How many tracks the viewer may play among the visibility facts `ct` (track_library: track_id, album_id,
        artist_id) meeting `condition`: a few index entries, each track once whatever libraries hold it."""
        return (
            f"(SELECT count(DISTINCT ct.track_id) FROM track_library ct WHERE {condition}"
            f" AND ct.library_id = ANY({self.libraries}))"
        )

    def columns(self, kind: str, albums: str | None = None, artists: str | None = None) -> str:
        """The catalog's SELECT list of one artist, album or track (`kind`) over its row `p`; a track's album JSON
        is read from the CTE `albums` when given (`page_albums`), its artist JSON from the CTE `artists`
        (`page_artists`), else built for the row; an artist's or album's nested pieces are read from what
        `gathered` joins to `p`."""
        if kind == "track":
            album = self.track_album("p.album_id")
            if albums:
                album = f"(SELECT pa.j FROM {albums} pa WHERE pa.id = p.album_id)"
            return (
                "p.id, p.uuid::text AS uuid, p.fid, p.mbid, p.title, p.position, p.disc_number,"
                " p.license, p.copyright, p.description, p.creation_date, p.downloads_count,"
                f" {self.artist_json('p.artist_id', artists)} AS artist, {album} AS album,"
                f" {self.uploads('p')} AS uploads, {self.tag_names('track', 'p.id')} AS tags,"
                f" {self.attachment('p.attachment_cover_id')} AS cover,"
                f" {self.actor_json('p.attributed_to_id')} AS attributed_to"
            )
        if kind == "album":
            return (
                "p.id, p.fid, p.mbid, p.title, p.release_date, p.description, p.creation_date,"
                f" {self._artist_object('pr', self.attachment_object('prt'))} AS artist,"
                " coalesce(ps.n, 0) AS tracks_count, coalesce(ps.duration, 0) AS duration,"
                f" coalesce(ptg.names, '{{}}') AS tags, {self.attachment_object('pat')} AS cover,"
                f" {self.actor_json('p.attributed_to_id')} AS attributed_to"
            )
        return (
            "p.id, p.fid, p.mbid, p.name, p.content_category, p.description, p.creation_date,"
            " p.modification_date, coalesce(pa.j, '[]'::json) AS albums, coalesce(pc.n, 0) AS tracks_count,"
            f" coalesce(ptg.names, '{{}}') AS tags, {self.attachment_object('pat')} AS cover,"
            f" {self.actor_json('p.attributed_to_id')} AS attributed_to"
        )
