"""/api/v1/plugins/: the server plugins of 1.4 (Python code an administrator installs). This server loads none:
the list is empty, installing one is refused, and `<id>/` with its enable/disable/scan are 404s."""

from __future__ import annotations

from typing import Any

from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import ApiError, not_found
from funkwhale.web.json import json_response


class PluginsApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        await self.auth.require(request, "read:plugins")
        return json_response(request, [])  # 1.4 answers a plain list

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def install(self, request: Any) -> bytes:
        await self.auth.require(request, "write:plugins")
        raise ApiError(400, "This server does not load plugins.", "plugins_not_supported")

    @app.route("/<plugin>/", methods=["GET", "HEAD"], strict_slashes=False)
    @app.route("/<plugin>/enable/", methods=["POST"], strict_slashes=False)
    @app.route("/<plugin>/disable/", methods=["POST"], strict_slashes=False)
    @app.route("/<plugin>/scan/", methods=["POST"], strict_slashes=False)
    async def one(self, request: Any, plugin: str) -> bytes:
        await self.auth.require(request, "read:plugins" if request.method in (b"GET", b"HEAD") else "write:plugins")
        raise not_found("No such plugin.")
