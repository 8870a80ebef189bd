"""/api/v1/federation/libraries/ and /api/v1/federation/fetches/: remote libraries as a user finds them.

`POST libraries/fetch/ {fid}` fetches a remote library by its id, or an actor (id or `@user@host`) and its known
libraries: `{"count", "results": [library]}`. `GET libraries/<uuid>/` is one library as the client sees it (its
follow by the caller, its latest scan); `POST libraries/<uuid>/scan/` starts a scan of a remote one.
`POST fetches/ {object}` fetches a remote object (a library, an actor, an Audio) and answers the fetch row;
`GET fetches/<id>/` says how it went.
"""

from __future__ import annotations

from typing import Any

from funkwhale.activitypub import remote_libraries, scan
from funkwhale.music.uploads.serializers import actor_json, library_json
from funkwhale.web.api.follows import caller_actor
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.params import parse_uuid, read_body, to_int


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise field_error(name, "This field is required.")
    if len(value) > 500:
        raise field_error(name, "Ensure this field has no more than 500 characters.")
    return value.strip()


class FederationLibrariesApi(Area):
    app = api_app()

    def _json(self, row: dict[str, Any]) -> dict[str, Any]:
        body = library_json({**row, "size": None}, self.ctx.settings.domain)
        del body["size"]
        return {**body, "follow": row["follow"], "latest_scan": row["latest_scan"]}

    @app.route("/fetch/", methods=["POST"], strict_slashes=False)
    async def fetch(self, request: Any) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "write:libraries")
        target = _text(read_body(request), "fid")
        rows = await remote_libraries.fetch_libraries(self.ctx, actor["id"], target)
        return json_response(request, {"count": len(rows), "results": [self._json(row) for row in rows]})

    async def _library(self, request: Any, library_uuid: str, scope: str) -> tuple[dict[str, Any], dict[str, Any]]:
        actor = await caller_actor(self.ctx, self.auth, request, scope)
        row = await remote_libraries.remote_library(self.ctx, str(parse_uuid(library_uuid)), actor["id"])
        if row is None:
            raise not_found()
        return actor, row

    @app.route("/<library_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, library_uuid: str) -> bytes:
        _, row = await self._library(request, library_uuid, "read:libraries")
        return json_response(request, self._json(row))

    @app.route("/<library_uuid>/scan/", methods=["POST"], strict_slashes=False)
    async def scan(self, request: Any, library_uuid: str) -> bytes:
        actor, row = await self._library(request, library_uuid, "write:libraries")
        await scan.start_scan(self.ctx, row["id"], actor["id"])
        _, row = await self._library(request, library_uuid, "write:libraries")
        return json_response(request, {"status": "scheduled", "scan": row["latest_scan"]})


class FederationFetchesApi(Area):
    app = api_app()

    def _json(self, row: dict[str, Any]) -> dict[str, Any]:
        return fetch_json(row, self.ctx.settings.domain)

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "write:libraries")
        url = _text(read_body(request), "object")
        fetch_id = await remote_libraries.fetch_object(self.ctx, actor["id"], url)
        row = await remote_libraries.get_fetch(self.ctx, fetch_id, actor["id"])
        if row is None:
            raise not_found()
        return json_response(request, self._json(row), status=201)

    @app.route("/<fetch_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, fetch_id: str) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "read:libraries")
        row = await remote_libraries.get_fetch(self.ctx, to_int(fetch_id, "id", "Not found."), actor["id"])
        if row is None:
            raise not_found()
        return json_response(request, self._json(row))


def fetch_json(row: dict[str, Any], local_domain: str) -> dict[str, Any]:
    """A fetch (remote_libraries_store's columns) as 1.4's FetchSerializer."""
    return {
        "id": row["id"],
        "url": row["url"],
        "actor": actor_json(row, local_domain),
        "status": row["status"],
        "detail": row["detail"],
        "creation_date": row["creation_date"],
        "fetch_date": row["fetch_date"],
    }
