"""/api/v1/mutations/: suggested catalog edits, which this server does not take (artists|albums|tracks/<id>/mutations/
refuses them), so the list is empty and no mutation exists: `<uuid>/` and its approve/reject/delete are 404s."""

from __future__ import annotations

from typing import Any

from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import not_found
from funkwhale.web.pagination import Page


class MutationsApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        await self.auth.require(request, "read:edits")
        page = Page.from_request(request)
        return page.respond(request, 0, [])

    @app.route("/<mutation>/", methods=["GET", "HEAD", "DELETE"], strict_slashes=False)
    @app.route("/<mutation>/approve/", methods=["POST"], strict_slashes=False)
    @app.route("/<mutation>/reject/", methods=["POST"], strict_slashes=False)
    async def one(self, request: Any, mutation: str) -> bytes:
        await self.auth.require(request, "read:edits" if request.method in (b"GET", b"HEAD") else "write:edits")
        raise not_found("No such mutation.")
