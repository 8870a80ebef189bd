"""/api/v1/moderation/content-filters/: a listener hides artists from their own lists, search and radios
(GET a page, POST {target: {type: "artist", id}}, DELETE /<uuid>/), shaped like Funkwhale 1.4."""

from __future__ import annotations

import uuid
from typing import Any

from funkwhale import cache
from funkwhale.music.visibility import Viewer
from funkwhale.social import store
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import read_body, to_int


def artist_target_of(body: dict[str, Any]) -> int:
    """The artist id of a `target` {type: "artist", id}."""
    target = body.get("target")
    if not isinstance(target, dict):
        raise field_error("target", "This field is required.")
    if target.get("type") != "artist":
        raise field_error("target", f'"{target.get("type")}" is not a valid choice.')
    artist_id = to_int(target.get("id"), "target", "Enter a valid artist id.")
    if artist_id < 0:
        raise field_error("target", "Enter a valid artist id.")
    return artist_id


class ModerationApi(Area):
    app = api_app()

    @app.route("/content-filters/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = Viewer.of(await self.auth.require(request, "read:filters"))
        page = Page.from_request(request)
        total, rows = await self.ctx.db.run(store.list_filters_txn, viewer, page.size, page.offset, desc="filters.list")
        return page.respond(request, total, rows)

    @app.route("/content-filters/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        principal = await self.auth.require(request, "write:filters")
        viewer = Viewer.of(principal)
        artist_id = artist_target_of(read_body(request))
        row = await self.ctx.db.run(store.add_filter_txn, viewer, artist_id, desc="filters.add")
        await cache.invalidate(self.ctx, cache.user_scope(principal.user.id))
        return json_response(request, row, status=201)

    @app.route("/content-filters/<string:filter_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def detail(self, request: Any, filter_uuid: str) -> bytes:
        viewer = Viewer.of(await self.auth.require(request, "read:filters"))
        row = await self.ctx.db.run(store.get_filter_txn, viewer, _filter_uuid(filter_uuid), desc="filters.get")
        if row is None:
            raise not_found("No such content filter.")
        return json_response(request, row)

    @app.route("/content-filters/<string:filter_uuid>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, filter_uuid: str) -> bytes:
        principal = await self.auth.require(request, "write:filters")
        viewer = Viewer.of(principal)
        filter_uuid = _filter_uuid(filter_uuid)
        if not await self.ctx.db.run(store.delete_filter_txn, viewer, filter_uuid, desc="filters.delete"):
            raise not_found("No such content filter.")
        await cache.invalidate(self.ctx, cache.user_scope(principal.user.id))
        request.setResponseCode(204)
        return b""


def _filter_uuid(raw: str) -> str:
    """A content filter's uuid from the path; 404 when it is not one."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise not_found("No such content filter.") from None
