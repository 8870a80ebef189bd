"""/api/v1/licenses/: the licenses Funkwhale knows (paginated, public) and `/<code>`."""

from __future__ import annotations

from typing import Any

from funkwhale.music.licenses import BY_CODE, LICENSES
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page


class LicensesApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        page = Page.from_request(request)
        rows = list(LICENSES[page.offset : page.offset + page.size])
        return page.respond(request, len(LICENSES), rows)

    @app.route("/<code>", methods=["GET", "HEAD"])
    @app.route("/<code>/", methods=["GET", "HEAD"])
    async def detail(self, request: Any, code: str) -> bytes:
        found = BY_CODE.get(code)
        if found is None:
            raise not_found()
        return json_response(request, found)
