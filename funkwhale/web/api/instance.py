"""/api/v1/instance/: public settings, admin settings, NodeInfo 2.0; /api/v2/instance/: NodeInfo 2.1."""

from __future__ import annotations

import json
from typing import Any

from funkwhale.context import Context
from funkwhale.instance import nodeinfo
from funkwhale.instance import settings as prefs
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import ApiError, not_found
from funkwhale.web.json import json_response
from funkwhale.web.params import read_body

NODEINFO_TYPE = b"application/json; profile=http://nodeinfo.diaspora.software/ns/schema/%s#"


async def _nodeinfo(ctx: Context, request: Any, version: str) -> bytes:
    if not await nodeinfo.enabled(ctx):
        raise not_found()
    body = await nodeinfo.document(ctx, version)
    return json_response(request, body, content_type=NODEINFO_TYPE % version.encode())


class InstanceApi(Area):
    app = api_app()

    async def _stored(self) -> dict[str, Any]:
        return await prefs.stored_values(self.ctx)

    @app.route("/settings/", methods=["GET"], strict_slashes=False)
    async def public_settings(self, request: Any) -> bytes:
        """The public preferences, for anyone (the SPA reads them before login)."""
        stored = await self._stored()
        return json_response(request, prefs.describe_all(self.ctx.settings, stored, public_only=True))

    @app.route("/spa-manifest.json", methods=["GET"])
    async def spa_manifest(self, request: Any) -> bytes:
        """The web app's manifest with this instance's name and description, as 1.4 serves it."""
        name = await prefs.get(self.ctx, "instance__name") or "Funkwhale"
        description = await prefs.get(self.ctx, "instance__short_description")
        manifest = {
            "name": name,
            "short_name": name,
            "description": description or "A federated music server",
            "start_url": "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#f2711c",
            "icons": [{"src": "/favicon.svg", "sizes": "any", "type": "image/svg+xml"}],
        }
        request.setHeader(b"Content-Type", b"application/manifest+json")
        return json.dumps(manifest).encode()

    @app.route("/nodeinfo/2.0/", methods=["GET"], strict_slashes=False)
    async def nodeinfo_20(self, request: Any) -> bytes:
        return await _nodeinfo(self.ctx, request, "2.0")

    # Administration: users with the "settings" permission (superusers have it), and tokens only with
    # read:instance:settings / write:instance:settings (or the bare read / write), as in Funkwhale.

    @app.route("/admin/settings/", methods=["GET"], strict_slashes=False)
    async def admin_list(self, request: Any) -> bytes:
        await self.auth.require(request, "read:instance:settings")
        stored = await self._stored()
        return json_response(request, prefs.describe_all(self.ctx.settings, stored, public_only=False))

    @app.route("/admin/settings/", methods=["POST"], strict_slashes=False)
    @app.route("/admin/settings/bulk/", methods=["POST"], strict_slashes=False)
    async def admin_bulk(self, request: Any) -> bytes:
        """{identifier: value, ...}: every value is checked before any is saved; answers the full list."""
        await self.auth.require(request, "write:instance:settings")
        stored = await self._save(read_body(request))
        return json_response(request, prefs.describe_all(self.ctx.settings, stored, public_only=False))

    @app.route("/admin/settings/<identifier>/", methods=["GET"], strict_slashes=False)
    async def admin_detail(self, request: Any, identifier: str) -> bytes:
        await self.auth.require(request, "read:instance:settings")
        pref = self._preference(identifier)
        stored = await self._stored()
        value = stored.get(identifier, pref.default_for(self.ctx.settings))
        return json_response(request, pref.describe(self.ctx.settings, value))

    @app.route("/admin/settings/<identifier>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def admin_update(self, request: Any, identifier: str) -> bytes:
        """{"value": ...} for one preference."""
        await self.auth.require(request, "write:instance:settings")
        pref = self._preference(identifier)
        body = read_body(request)
        if "value" not in body:
            raise ApiError(400, "value: This field is required.", "invalid", {"value": ["This field is required."]})
        try:
            stored = await self._save({identifier: body["value"]})
        except ApiError as e:
            raise ApiError(e.status, e.detail, e.code, {"value": e.fields[identifier]}) from None
        return json_response(request, pref.describe(self.ctx.settings, stored[identifier]))

    def _preference(self, identifier: str) -> prefs.Preference:
        pref = prefs.BY_IDENTIFIER.get(identifier)
        if pref is None:
            raise not_found()
        return pref

    async def _save(self, updates: dict[str, Any]) -> dict[str, Any]:
        cleaned, errors = prefs.clean_updates(updates)
        if errors:
            first = next(iter(errors))
            raise ApiError(400, f"{first}: {errors[first][0]}", "invalid", errors)
        return await prefs.save(self.ctx, cleaned)


class InstanceV2Api(Area):
    app = api_app()

    @app.route("/nodeinfo/2.1/", methods=["GET"], strict_slashes=False)
    async def nodeinfo_21(self, request: Any) -> bytes:
        return await _nodeinfo(self.ctx, request, "2.1")
