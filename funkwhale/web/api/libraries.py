"""/api/v1/libraries/: the caller's libraries (list, create) and `/<uuid>/` (retrieve, PATCH/PUT, DELETE).

Anyone signed in may retrieve a library they can see (privacy level); only its owner changes or deletes it.
`fs-import/` (accounts with the library permission): the server-folder import (music/importer/server_imports.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from funkwhale.activitypub import follow_store, music_outbox
from funkwhale.errors import Invalid
from funkwhale.music import uploads
from funkwhale.music.importer import server_imports
from funkwhale.music.uploads.serializers import library_json
from funkwhale.music.uploads.store import LibraryFilters
from funkwhale.music.visibility import Viewer
from funkwhale.threads import run_io
from funkwhale.web.api.follows import follow_json
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import parse_uuid, query, read_body


class LibrariesApi(Area):
    app = api_app()

    async def _viewer(self, request: Any, scope: str) -> Viewer:
        return Viewer.of(await self.auth.require(request, scope))

    def _json(self, row: dict[str, Any]) -> dict[str, Any]:
        return library_json(row, self.ctx.settings.domain)

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        """The caller's libraries (`scope=all`: every library they may see), `privacy_level` and `q` filters."""
        viewer = await self._viewer(request, "read:libraries")
        scope = query(request, "scope") or "me"
        if scope not in ("me", "all"):
            raise field_error("scope", f'"{scope}" is not a valid scope.')
        privacy_level = query(request, "privacy_level") or None
        if privacy_level is not None and privacy_level not in uploads.PRIVACY_LEVELS:
            raise field_error("privacy_level", f'"{privacy_level}" is not a valid choice.')
        filters = LibraryFilters(scope_all=scope == "all", privacy_level=privacy_level, q=query(request, "q") or None)
        page = Page.from_request(request)
        count, rows = await uploads.list_libraries(self.ctx, viewer, filters, page.size, page.offset)
        return page.respond(request, count, rows, self._json)

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "write:libraries")
        row = await uploads.create_library(self.ctx, viewer, read_body(request))
        return json_response(request, self._json(row), status=201)

    async def _importer(self, request: Any, scope: str) -> Viewer:
        principal = await self.auth.require(request, scope)
        if not principal.user.has_permission("library"):
            raise Invalid.forbidden("You do not have permission to perform this action.")
        return Viewer.of(principal)

    @app.route("/fs-import/", methods=["GET", "HEAD"], strict_slashes=False)
    async def fs_import_state(self, request: Any) -> bytes:
        """{root, path, import: {status, reference, logs} or null, content: the entries of `path`}."""
        await self._importer(request, "read:libraries")
        folders = self.ctx.settings.music_directories
        path = query(request, "path") or ""
        content = await run_io(server_imports.browse, folders, path) if folders else []
        body = {"root": folders[0] if folders else None, "path": path, "import": await server_imports.state(self.ctx)}
        return json_response(request, {**body, "content": content})

    @app.route("/fs-import/", methods=["POST"], strict_slashes=False)
    async def fs_import(self, request: Any) -> bytes:
        """{library, path, import_reference}: queue the import of a folder of FUNKWHALE_MUSIC_DIRECTORIES into a
        library of the caller (201), 400 for another folder or while an import runs."""
        viewer = await self._importer(request, "write:libraries")
        data = read_body(request)
        errors = {
            name: ["This field is required."]
            for name in ("library", "path", "import_reference")
            if not isinstance(data.get(name), str) or not data[name]
        }
        if errors:
            raise Invalid(fields=errors)
        try:
            library = await uploads.get_library(self.ctx, viewer, uuid.UUID(data["library"]), owner_only=True)
        except ValueError:
            library = None
        if library is None:
            raise Invalid.field("library", "No library of yours has this uuid.")
        folder = await run_io(server_imports.resolve, self.ctx.settings.music_directories, data["path"])
        await server_imports.request(self.ctx, str(library["uuid"]), folder, data["import_reference"])
        request.setResponseCode(201)
        return b""

    @app.route("/fs-import/", methods=["DELETE"], strict_slashes=False)
    async def cancel_fs_import(self, request: Any) -> bytes:
        await self._importer(request, "write:libraries")
        await server_imports.cancel(self.ctx)
        request.setResponseCode(204)
        return b""

    @app.route("/<library_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, library_uuid: str) -> bytes:
        viewer = await self._viewer(request, "read:libraries")
        row = await uploads.get_library(self.ctx, viewer, parse_uuid(library_uuid), owner_only=False)
        if row is None:
            raise not_found()
        return json_response(request, self._json(row))

    @app.route("/<library_uuid>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def update(self, request: Any, library_uuid: str) -> bytes:
        viewer = await self._viewer(request, "write:libraries")
        row = await uploads.update_library(
            self.ctx, viewer, parse_uuid(library_uuid), read_body(request), partial=request.method == b"PATCH"
        )
        if row is None:
            raise not_found()
        await music_outbox.announce_library_update(self.ctx, viewer.actor_id, row["uuid"])
        return json_response(request, self._json(row))

    @app.route("/<library_uuid>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, library_uuid: str) -> bytes:
        viewer = await self._viewer(request, "write:libraries")
        await music_outbox.announce_library_delete(self.ctx, viewer.actor_id, parse_uuid(library_uuid))
        if not await uploads.delete_library(self.ctx, viewer, parse_uuid(library_uuid)):
            raise not_found()
        request.setResponseCode(204)
        return b""

    @app.route("/<library_uuid>/follows/", methods=["GET", "HEAD"], strict_slashes=False)
    async def follows(self, request: Any, library_uuid: str) -> bytes:
        """The follows of a library, for its owner (pending ones have `approved` null)."""
        viewer = await self._viewer(request, "read:libraries")
        row = await uploads.get_library(self.ctx, viewer, parse_uuid(library_uuid), owner_only=True)
        if row is None:
            raise not_found()
        page = Page.from_request(request)
        count, rows = await self.ctx.db.run(
            follow_store.follows_to_txn, row["id"], page.size, page.offset, desc="libraries.follows"
        )
        return page.respond(request, count, rows, lambda r: follow_json(r, self.ctx.settings.domain))
