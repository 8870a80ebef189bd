"""/api/v1/search?query= (or q=): artists, albums, tracks and tags matching a query, best first.

Accent- and case-insensitive (names are folded), typo-tolerant (pg_trgm word similarity), ranked exact >
prefix > substring > fuzzy, and limited to what the caller may play. An empty query is a 400, as in Funkwhale.
"""

from __future__ import annotations

from typing import Any

from funkwhale.music.catalog import serializers, store
from funkwhale.music.normalize import fold
from funkwhale.web.api.browse import viewer_of
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import ApiError
from funkwhale.web.json import json_response
from funkwhale.web.params import query

RESULTS_PER_KIND = 10


class SearchApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def search(self, request: Any) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        text = (query(request, "query") or query(request, "q") or "").strip()
        if not text:
            raise ApiError(400, "empty query", "invalid")
        folded = fold(text)
        if folded:
            found = await self.ctx.db.read(
                store.search_txn, viewer, folded, RESULTS_PER_KIND, text, desc="catalog.search"
            )
        else:
            found = {"artist": [], "album": [], "track": [], "tag": []}
        body = {
            "artists": [self.renderer.artist(row) for row in found["artist"]],
            "albums": [self.renderer.album(row) for row in found["album"]],
            "tracks": self.renderer.tracks(found["track"]),
            "tags": [serializers.tag(row) for row in found["tag"]],
        }
        return json_response(request, body)
