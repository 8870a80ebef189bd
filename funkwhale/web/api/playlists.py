"""/api/v1/playlists/: a listener's playlists (CRUD, privacy me/instance/everyone) and their tracks (`tracks/`,
`add/`, `remove/`, `move/`, `clear/`), shaped like Funkwhale 1.4."""

from __future__ import annotations

from typing import Any

from funkwhale import playlists
from funkwhale.instance import settings as instance_settings
from funkwhale.music.normalize import fold
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import formats, store
from funkwhale.playlists.cached import playlist_view
from funkwhale.threads import run_cpu
from funkwhale.web.api.browse import ordering_of, scope_is_me
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import ApiError, field_error, not_found
from funkwhale.web.json import JSON_TYPE, dumps, json_response, loads
from funkwhale.web.pagination import Page
from funkwhale.web.params import query, query_bool, query_int, query_items, read_body

MAX_TRACKS_PAGE = 1000  # a playlist's tracks come whole unless `page`/`page_size` asks for pages of this at most


class PlaylistsApi(Area):
    app = api_app()

    # -- who is asking ---------------------------------------------------------------------------------------------
    async def _reader(self, request: Any) -> Viewer:
        principal = await self.auth.optional(request)
        if principal is None:
            if await instance_settings.get(self.ctx, "common__api_authentication_required"):
                raise ApiError(401, "Authentication credentials were not provided.", "not_authenticated")
            return Viewer()
        if not principal.allows("read:playlists"):
            raise ApiError(403, "Your token lacks the read:playlists scope.", "permission_denied")
        return Viewer.of(principal)

    async def _writer(self, request: Any) -> Viewer:
        return Viewer.of(await self.auth.require(request, "write:playlists"))

    # -- JSON ------------------------------------------------------------------------------------------------------
    def _playlist(self, row: dict[str, Any]) -> dict[str, Any]:
        stats = row["stats"]
        return {
            "id": row["id"],
            "name": row["name"],
            "user": self.renderer.user(row["user"]),
            "privacy_level": row["privacy_level"],
            "creation_date": row["creation_date"],
            "modification_date": row["modification_date"],
            "tracks_count": stats["count"],
            "duration": stats["duration"],
            "is_playable": stats["playable"] > 0,
            "album_covers": [self.renderer.cover(c)["urls"]["medium_square_crop"] for c in row["album_covers"]],
            "actor": self.renderer.actor(row["actor"]),
        }

    def _entries(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tracks = self.renderer.tracks(rows)
        return [
            {"index": row["index"], "track": track, "creation_date": row["added"]}
            for row, track in zip(rows, tracks, strict=True)
        ]

    # -- playlists -------------------------------------------------------------------------------------------------
    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await self._reader(request)
        page = Page.from_request(request)
        holding = ((kind, query_int(request, kind)) for kind in ("track", "album", "artist"))
        listing = store.Listing(
            viewer,
            user=query_int(request, "user"),
            mine=scope_is_me(request),
            q=query(request, "q") or query(request, "name__icontains") or "",
            name=query(request, "name") or None,
            holding=tuple((kind, value) for kind, value in holding if value is not None),
            playable=query_bool(request, "playable"),
            ordering=ordering_of(request),
            limit=page.size,
            offset=page.offset,
        )
        total, rows = await self.ctx.db.run(store.list_txn, listing, desc="playlists.list")
        return page.respond(request, total, rows, self._playlist)

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        viewer = await self._writer(request)
        changes = playlists.clean_changes(read_body(request), partial=False)
        row = await self.ctx.db.run(
            store.create_txn, viewer, changes["name"], changes.get("privacy_level", "instance"), desc="playlists.create"
        )
        return json_response(request, self._playlist(row), status=201)

    @app.route("/<int:playlist_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def detail(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._reader(request)
        row = await self.ctx.db.run(store.detail_txn, viewer, playlist_id, desc="playlists.detail")
        if row is None:
            raise not_found("No such playlist.")
        return json_response(request, self._playlist(row))

    @app.route("/<int:playlist_id>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def update(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        changes = playlists.clean_changes(read_body(request), partial=request.method == b"PATCH")
        if not changes:
            row = await self.ctx.db.run(store.detail_txn, viewer, playlist_id, desc="playlists.detail")
            if row is None:
                raise not_found("No such playlist.")
        else:
            row = await self.ctx.db.run(store.update_txn, viewer, playlist_id, changes, desc="playlists.update")
        return json_response(request, self._playlist(row))

    @app.route("/<int:playlist_id>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        await self.ctx.db.run(store.delete_txn, viewer, playlist_id, desc="playlists.delete")
        request.setResponseCode(204)
        return b""

    # -- files ---------------------------------------------------------------------------------------------------
    @app.route("/<int:playlist_id>/export/", methods=["GET", "HEAD"], strict_slashes=False)
    async def export(self, request: Any, playlist_id: int) -> bytes:
        """The playlist as `?format=m3u` (default) or `xspf`, every entry with its absolute listen URL."""
        viewer = await self._reader(request)
        fmt = query(request, "format") or "m3u"
        if fmt not in formats.FORMATS:
            raise field_error("format", f'"{fmt}" is not a valid choice.')
        playlist = await self.ctx.db.run(store.detail_txn, viewer, playlist_id, desc="playlists.detail")
        found = await self.ctx.db.run(store.tracks_txn, viewer, playlist_id, desc="playlists.tracks")
        if playlist is None or found is None:
            raise not_found("No such playlist.")
        tracks = self.renderer.tracks(found[1])
        base_url = self.ctx.settings.base_url
        if fmt == "m3u":
            body = formats.to_m3u(tracks, base_url).encode()
        else:
            body = formats.to_xspf(playlist["name"], tracks, base_url)
        request.setHeader(b"Content-Type", formats.FORMATS[fmt].encode() + b"; charset=utf-8")
        filename = f"playlist-{playlist_id}.{fmt}"
        request.setHeader(b"Content-Disposition", f'attachment; filename="{filename}"'.encode())
        return body

    @app.route("/import/", methods=["POST"], strict_slashes=False)
    async def import_file(self, request: Any) -> bytes:
        """A new playlist from an M3U or XSPF file, its entries matched to playable tracks by artist and title.

        Body: JSON {name, privacy_level, content, format} or the file itself (name etc. in the query string).
        Answers the playlist plus `unmatched`: the entries (artist, title) no track matched.
        """
        viewer = await self._writer(request)
        fields, content = _import_request(request)
        changes = playlists.clean_changes(fields, partial=False)
        wanted = playlists.read_file(content, fields.get("format") or None)
        keys = [(fold(artist) if artist else None, fold(title)) for artist, title in wanted]
        max_tracks = await instance_settings.get(self.ctx, "playlists__max_tracks")
        row, unmatched = await self.ctx.db.run(
            store.import_txn,
            viewer,
            changes["name"],
            changes.get("privacy_level", "instance"),
            keys,
            max_tracks,
            desc="playlists.import",
        )
        missing = [{"artist": wanted[n][0], "title": wanted[n][1]} for n in unmatched]
        return json_response(request, {**self._playlist(row), "unmatched": missing}, status=201)

    # -- tracks ----------------------------------------------------------------------------------------------------
    @app.route("/<int:playlist_id>/tracks/", methods=["GET", "HEAD"], strict_slashes=False)
    async def tracks(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._reader(request)
        paged = b"page" in request.args or b"page_size" in request.args
        page = Page.from_request(request, max_size=MAX_TRACKS_PAGE) if paged else None
        start, limit = (page.offset, page.size) if page else (0, None)

        async def compute() -> bytes | None:
            found = await self.ctx.db.run(store.tracks_txn, viewer, playlist_id, start, limit, desc="playlists.tracks")
            if found is None:
                return None
            total, rows = found  # up to 1,000 entries: rendered in a thread, the reactor keeps serving meanwhile
            return dumps({"count": total, "results": await run_cpu(lambda: self._entries(rows))})

        text = await playlist_view(self.ctx, viewer, playlist_id, f"tracks:{start}:{limit}", compute)
        if text is None:
            raise not_found("No such playlist.")
        if page is None:  # unpaged, as 1.4 answers: the cached text is the body
            request.setHeader(b"Content-Type", JSON_TYPE + b"; charset=utf-8")
            return text
        body = loads(text)
        return page.respond(request, body["count"], body["results"])

    @app.route("/<int:playlist_id>/add/", methods=["POST"], strict_slashes=False)
    async def add(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        body = read_body(request)
        track_ids, allow_duplicates = playlists.track_ids(body.get("tracks")), playlists.allow_duplicates(body)
        max_tracks = await instance_settings.get(self.ctx, "playlists__max_tracks")
        _, rows = await self.ctx.db.run(
            store.add_txn, viewer, playlist_id, track_ids, allow_duplicates, max_tracks, desc="playlists.add"
        )
        return json_response(request, {"count": len(rows), "results": self._entries(rows)}, status=201)

    @app.route("/<int:playlist_id>/remove/", methods=["POST", "DELETE"], strict_slashes=False)
    async def remove(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        index = playlists.index(read_body(request), "index")
        await self.ctx.db.run(store.remove_txn, viewer, playlist_id, index, desc="playlists.remove")
        request.setResponseCode(204)
        return b""

    @app.route("/<int:playlist_id>/move/", methods=["POST"], strict_slashes=False)
    async def move(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        body = read_body(request)
        source, target = playlists.index(body, "from"), playlists.index(body, "to")
        await self.ctx.db.run(store.move_txn, viewer, playlist_id, source, target, desc="playlists.move")
        request.setResponseCode(204)
        return b""

    @app.route("/<int:playlist_id>/clear/", methods=["DELETE", "POST"], strict_slashes=False)
    async def clear(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        await self.ctx.db.run(store.clear_txn, viewer, playlist_id, desc="playlists.clear")
        request.setResponseCode(204)
        return b""


def _import_request(request: Any) -> tuple[dict[str, Any], str]:
    """(fields, file content) of an import: a JSON body with `content`, or the raw file with fields in the query."""
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if getattr(request, "multipart_content_type", None) is not None:  # the site hid its type: fields only, no file
        raise ApiError(
            415, "Send the file as the request body, or JSON with a `content` field.", "unsupported_media_type"
        )
    if ctype == b"application/json":
        fields = read_body(request)
        content = fields.get("content")
        if not isinstance(content, str) or not content.strip():
            raise field_error("content", "This field is required.")
        return fields, content
    fields = dict(reversed(query_items(request)))  # the first value of each name
    request.content.seek(0)
    try:
        return fields, request.content.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise field_error("content", "The file is not valid UTF-8.") from None
