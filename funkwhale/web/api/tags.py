"""/api/v1/tags/: the tags on content the caller may play, by name (`q` contains, any case), ordered by name,
creation_date or length; `/<name>/`."""

from __future__ import annotations

from typing import Any

from funkwhale.music.catalog import serializers, store
from funkwhale.web.api.browse import name_lookups, ordering_of, viewer_of
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import query


class TagsApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        page = Page.from_request(request)
        text = (query(request, "q") or "").strip()
        total, rows = await self.ctx.db.read(
            store.list_tags_txn,
            viewer,
            text,
            ordering_of(request),
            page.size,
            page.offset,
            name_lookups(request, "name"),
            desc="catalog.tags",
        )
        return page.respond(request, total, rows, serializers.tag)

    @app.route("/<name>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def detail(self, request: Any, name: str) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        row = await self.ctx.db.run(store.tag_txn, viewer, name, desc="catalog.tag")
        if row is None:
            raise not_found("No such tag.")
        return json_response(request, serializers.tag(row))
