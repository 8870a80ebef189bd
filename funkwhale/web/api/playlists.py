"""/api/v1/playlists/: a listener's playlists (CRUD, privacy me/instance/everyone) and their tracks (`tracks/`,
`add/`, `remove/`, `move/`, `clear/`), shaped like Funkwhale 1.4."""

from __future__ import annotations

from typing import Any

from klein import Klein

from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music.catalog.serializers import Renderer
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import PRIVACY_LEVELS, PlaylistError, store
from funkwhale.web.api.browse import _bool, _int, ordering_of, page_or_404
from funkwhale.web.auth import Auth
from funkwhale.web.errors import ApiError, field_error, install_api_errors, not_found
from funkwhale.web.json import json_response, query, read_body
from funkwhale.web.pagination import Page

MAX_TRACKS_PAGE = 1000  # a playlist's tracks come whole unless `page`/`page_size` asks for pages of this at most


class PlaylistsApi:
    app = Klein()
    install_api_errors(app)

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth
        self.renderer = Renderer(ctx.settings.base_url)

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

    async def _write(self, fn: Any, *args: Any, desc: str) -> Any:
        """Run a write; a refusal becomes its HTTP error (the transaction rolled back, nothing changed)."""
        try:
            return await self.ctx.db.run(fn, *args, desc=desc)
        except PlaylistError as e:
            raise ApiError(e.status, e.detail, e.code, {e.field: [e.detail]} if e.field else None) from None

    # -- JSON ------------------------------------------------------------------------------------------------------
    def _playlist(self, row: dict[str, Any]) -> dict[str, Any]:
        stats = row["stats"]
        return {
            "id": row["id"],
            "name": row["name"],
            "user": {**row["user"], "avatar": None},
            "privacy_level": row["privacy_level"],
            "creation_date": row["creation_date"],
            "modification_date": row["modification_date"],
            "tracks_count": stats["count"],
            "duration": stats["duration"],
            "is_playable": stats["playable"] > 0,
            "album_covers": [self.renderer.cover(c)["urls"]["medium_square_crop"] for c in row["album_covers"]],
            "actor": None,
        }

    def _entry(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"index": row["index"], "track": self.renderer.track(row), "creation_date": row["added"]}

    # -- playlists -------------------------------------------------------------------------------------------------
    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await self._reader(request)
        page = Page.from_request(request)
        listing = store.Listing(
            viewer,
            user=_int(request, "user"),
            q=query(request, "q") or query(request, "name") or "",
            playable=_bool(request, "playable"),
            ordering=ordering_of(request),
            limit=page.size,
            offset=page.offset,
        )
        total, rows = await self.ctx.db.run(store.list_txn, listing, desc="playlists.list")
        page_or_404(page, rows)
        return json_response(request, page.body(request, total, [self._playlist(r) for r in rows]))

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        viewer = await self._writer(request)
        changes = _changes(read_body(request), partial=False)
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
        changes = _changes(read_body(request), partial=request.method == b"PATCH")
        if not changes:
            row = await self.ctx.db.run(store.detail_txn, viewer, playlist_id, desc="playlists.detail")
            if row is None:
                raise not_found("No such playlist.")
        else:
            row = await self._write(store.update_txn, viewer, playlist_id, changes, desc="playlists.update")
        return json_response(request, self._playlist(row))

    @app.route("/<int:playlist_id>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        await self._write(store.delete_txn, viewer, playlist_id, desc="playlists.delete")
        request.setResponseCode(204)
        return b""

    # -- tracks ----------------------------------------------------------------------------------------------------
    @app.route("/<int:playlist_id>/tracks/", methods=["GET", "HEAD"], strict_slashes=False)
    async def tracks(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._reader(request)
        paged = b"page" in request.args or b"page_size" in request.args
        page = Page.from_request(request, max_size=MAX_TRACKS_PAGE) if paged else None
        start, limit = (page.offset, page.size) if page else (0, None)
        found = await self.ctx.db.run(store.tracks_txn, viewer, playlist_id, start, limit, desc="playlists.tracks")
        if found is None:
            raise not_found("No such playlist.")
        total, rows = found
        results = [self._entry(r) for r in rows]
        if page is None:
            return json_response(request, {"count": total, "next": None, "previous": None, "results": results})
        page_or_404(page, rows)
        return json_response(request, page.body(request, total, results))

    @app.route("/<int:playlist_id>/add/", methods=["POST"], strict_slashes=False)
    async def add(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        body = read_body(request)
        track_ids = _int_list(body.get("tracks"), "tracks")
        allow_duplicates = body.get("allow_duplicates", True)
        if not isinstance(allow_duplicates, bool):
            allow_duplicates = str(allow_duplicates).lower() in ("true", "1", "yes", "on")
        max_tracks = await instance_settings.get(self.ctx, "playlists__max_tracks")
        _, rows = await self._write(
            store.add_txn, viewer, playlist_id, track_ids, allow_duplicates, max_tracks, desc="playlists.add"
        )
        return json_response(request, {"count": len(rows), "results": [self._entry(r) for r in rows]}, status=201)

    @app.route("/<int:playlist_id>/remove/", methods=["POST", "DELETE"], strict_slashes=False)
    async def remove(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        index = _index(read_body(request), "index")
        await self._write(store.remove_txn, viewer, playlist_id, index, desc="playlists.remove")
        request.setResponseCode(204)
        return b""

    @app.route("/<int:playlist_id>/move/", methods=["POST"], strict_slashes=False)
    async def move(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        body = read_body(request)
        source, target = _index(body, "from"), _index(body, "to")
        await self._write(store.move_txn, viewer, playlist_id, source, target, desc="playlists.move")
        request.setResponseCode(204)
        return b""

    @app.route("/<int:playlist_id>/clear/", methods=["DELETE", "POST"], strict_slashes=False)
    async def clear(self, request: Any, playlist_id: int) -> bytes:
        viewer = await self._writer(request)
        await self._write(store.clear_txn, viewer, playlist_id, desc="playlists.clear")
        request.setResponseCode(204)
        return b""


def _changes(body: dict[str, Any], partial: bool) -> dict[str, str]:
    """Validated `name` / `privacy_level` from a create or update body (all required unless `partial`)."""
    changes: dict[str, str] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise field_error("name", "This field is required.")
        if len(name.strip()) > 100:
            raise field_error("name", "Ensure this field has no more than 100 characters.")
        changes["name"] = name.strip()
    if "privacy_level" in body:
        level = body["privacy_level"]
        if level not in PRIVACY_LEVELS:
            raise field_error("privacy_level", f'"{level}" is not a valid choice.')
        changes["privacy_level"] = level
    return changes


def _int_list(value: Any, name: str) -> list[int]:
    if not isinstance(value, list):
        value = [value] if value not in (None, "") else []
    if not value:
        raise field_error(name, "This list may not be empty.")
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise field_error(name, "Enter a list of numbers.") from None


def _index(body: dict[str, Any], name: str) -> int:
    try:
        return int(body[name])
    except KeyError:
        raise field_error(name, "This field is required.") from None
    except (TypeError, ValueError):
        raise field_error(name, "A valid integer is required.") from None
