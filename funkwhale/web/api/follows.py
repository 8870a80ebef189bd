"""/api/v1/federation/follows/library/: the caller's library follows (list, create = Follow, `all/`, detail,
DELETE = Undo) and, for a library's owner, `<uuid>/accept/` and `<uuid>/reject/`."""

from __future__ import annotations

import uuid
from typing import Any

from funkwhale.activitypub import follow_store, follows
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.uploads.serializers import actor_json, library_json
from funkwhale.web.area import Area, api_app
from funkwhale.web.auth import Auth
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import parse_uuid, read_body


def follow_json(row: dict[str, Any], local_domain: str) -> dict[str, Any]:
    """Funkwhale's LibraryFollow: the follower (`actor`), the library (`target`), `approved` (null: pending)."""
    return {
        "uuid": row["uuid"],
        "creation_date": row["creation_date"],
        "modification_date": row["modification_date"],
        "approved": row["approved"],
        "actor": actor_json(row, local_domain, prefix="follower_"),
        "target": library_json(row, local_domain, prefix="library_"),
    }


async def caller_actor(ctx: Context, auth: Auth, request: Any, scope: str) -> dict[str, Any]:
    """The signed-in caller's actor row (id, fid); 403 for an account without one."""
    principal = await auth.require(request, scope)
    actor = await ctx.db.run(follow_store.local_actor_txn, principal.user.actor_id, desc="federation.caller")
    if actor is None:
        raise Invalid.forbidden("Your account has no actor.")
    return actor


class FollowsApi(Area):
    app = api_app()

    def _json(self, row: dict[str, Any]) -> dict[str, Any]:
        return follow_json(row, self.ctx.settings.domain)

    @app.route("/library/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "read:follows")
        page = Page.from_request(request)
        count, rows = await self.ctx.db.run(
            follow_store.follows_of_txn, actor["id"], page.size, page.offset, desc="federation.follows"
        )
        return page.respond(request, count, rows, self._json)

    @app.route("/library/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "write:follows")
        target = read_body(request).get("target")
        if not isinstance(target, str) or not target:
            raise field_error("target", "This field is required.")
        try:
            library_uuid = uuid.UUID(target)
        except ValueError:
            raise field_error("target", f"Object with uuid={target} does not exist.") from None
        row = await follows.follow_library(self.ctx, actor, library_uuid)
        return json_response(request, self._json(row), status=201)

    @app.route("/library/all/", methods=["GET", "HEAD"], strict_slashes=False)
    async def all(self, request: Any) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "read:follows")
        rows = await self.ctx.db.run(follow_store.all_follows_of_txn, actor["id"], desc="federation.all_follows")
        return json_response(request, {"results": rows, "count": len(rows)})

    @app.route("/library/<follow_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, follow_uuid: str) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "read:follows")
        row = await self.ctx.db.run(
            follow_store.follow_of_txn, parse_uuid(follow_uuid), actor["id"], desc="federation.follow_of"
        )
        if row is None:
            raise not_found()
        return json_response(request, self._json(row))

    @app.route("/library/<follow_uuid>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, follow_uuid: str) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "write:follows")
        if not await follows.undo_follow(self.ctx, actor, parse_uuid(follow_uuid)):
            raise not_found()
        request.setResponseCode(204)
        return b""

    @app.route("/library/<follow_uuid>/<any(accept,reject):decision>/", methods=["POST"], strict_slashes=False)
    async def decide(self, request: Any, follow_uuid: str, decision: str) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "write:follows")
        if not await follows.decide_follow(self.ctx, actor, parse_uuid(follow_uuid), decision == "accept"):
            raise not_found()
        request.setResponseCode(204)
        return b""
