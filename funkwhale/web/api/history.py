"""/api/v1/history/listenings/: record a listen (POST {track}), one by id, and list them (mine by default;
others' where their privacy level allows), the track nested, shaped like Funkwhale 1.4."""

from __future__ import annotations

from typing import Any

from funkwhale.web.api.favorites import ActivityArea
from funkwhale.web.area import api_app


class HistoryApi(ActivityArea):
    app = api_app()
    kind = "listenings"

    @app.route("/listenings/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        return await self.list_page(request)

    @app.route("/listenings/<int:entry_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def show(self, request: Any, entry_id: int) -> bytes:
        return await self.one(request, entry_id)

    @app.route("/listenings/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        return await self.add(request)
