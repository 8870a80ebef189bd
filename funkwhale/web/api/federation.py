"""The client API's view of the federation: `/api/v1/federation/inbox/` (the caller's notifications),
`/api/v1/federation/domains/` (known domains, for moderators) and `/api/v1/federation/actors/<user@domain>/`
(an actor and the libraries of it the caller may see)."""

from __future__ import annotations

from typing import Any

from funkwhale.activitypub import directory_store, inbox_store
from funkwhale.music.uploads.serializers import actor_json, library_json
from funkwhale.params import to_int
from funkwhale.web.api.follows import caller_actor
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import query_bool, read_body


def _follow_refs(row: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The library follow an activity is about and its library, as Funkwhale's generic relations render them."""
    if row["follow_uuid"] is None:
        return None, None
    follow = {
        "type": "federation.LibraryFollow",
        "uuid": row["follow_uuid"],
        "fid": row["follow_fid"],
        "approved": row["follow_approved"],
        "creation_date": row["follow_creation_date"],
    }
    library = {
        "type": "music.Library",
        "uuid": row["library_uuid"],
        "fid": row["library_fid"],
        "name": row["library_name"],
    }
    return follow, library


def inbox_item_json(row: dict[str, Any], local_domain: str) -> dict[str, Any]:
    """Funkwhale's InboxItem with its Activity: a Follow's `object` is the library and `related_object` the
    follow; an Accept's or Reject's the other way round."""
    follow, library = _follow_refs(row)
    obj, related = (library, follow) if row["type"] == "Follow" else (follow, library)
    return {
        "id": row["id"],
        "type": row["item_type"],
        "is_read": row["is_read"],
        "activity": {
            "uuid": row["uuid"],
            "fid": row["fid"],
            "actor": actor_json(row, local_domain),
            "payload": row["payload"],
            "object": obj,
            "target": None,
            "related_object": related,
            "creation_date": row["creation_date"],
            "type": row["type"],
        },
    }


class InboxApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "read:notifications")
        page = Page.from_request(request)
        count, rows = await self.ctx.db.run(
            inbox_store.inbox_items_txn, actor["id"], query_bool(request, "is_read"), page.size, page.offset,
            desc="federation.inbox_items",
        )  # fmt: skip
        return page.respond(request, count, rows, lambda row: inbox_item_json(row, self.ctx.settings.domain))

    @app.route("/action/", methods=["POST"], strict_slashes=False)
    async def action(self, request: Any) -> bytes:
        """`{action: "read", objects: "all" | [ids]}`: mark items read."""
        actor = await caller_actor(self.ctx, self.auth, request, "write:notifications")
        body = read_body(request)
        if body.get("action") != "read":
            raise field_error("action", f'"{body.get("action")}" is not a valid choice.')
        objects = body.get("objects")
        if objects == "all":
            ids = None
        elif isinstance(objects, list) and objects:
            ids = [to_int(value, "objects") for value in objects]
        else:
            raise field_error("objects", 'Expected "all" or a list of ids.')
        updated = await self.ctx.db.run(inbox_store.mark_read_txn, actor["id"], ids, desc="federation.inbox_read")
        return json_response(request, {"action": "read", "updated": updated, "result": None})

    @app.route("/<int:item_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, item_id: int) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "read:notifications")
        row = await self.ctx.db.run(inbox_store.inbox_item_txn, actor["id"], item_id, desc="federation.inbox_item")
        if row is None:
            raise not_found()
        return json_response(request, inbox_item_json(row, self.ctx.settings.domain))

    @app.route("/<int:item_id>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def update(self, request: Any, item_id: int) -> bytes:
        actor = await caller_actor(self.ctx, self.auth, request, "write:notifications")
        is_read = read_body(request).get("is_read")
        if not isinstance(is_read, bool):
            raise field_error("is_read", "Must be a valid boolean.")
        await self.ctx.db.run(inbox_store.mark_read_txn, actor["id"], [item_id], is_read, desc="federation.inbox_read")
        row = await self.ctx.db.run(inbox_store.inbox_item_txn, actor["id"], item_id, desc="federation.inbox_item")
        if row is None:
            raise not_found()
        return json_response(request, inbox_item_json(row, self.ctx.settings.domain))


class DomainsApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        await self.auth.require(request, "read:instance:domains")
        page = Page.from_request(request)
        count, rows = await self.ctx.db.run(directory_store.domains_txn, page.size, page.offset, desc="domains")
        return page.respond(request, count, rows)


class FederationActorsApi(Area):
    app = api_app()

    async def _actor(self, full_username: str) -> dict[str, Any]:
        username, _, domain = full_username.rpartition("@")
        if not username or not domain:
            raise not_found()
        row = await self.ctx.db.run(
            directory_store.actor_by_full_username_txn, username, domain.lower(), desc="federation.actor"
        )
        if row is None:
            raise not_found()
        return row

    @app.route("/<full_username>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, full_username: str) -> bytes:
        await self.auth.require(request, "read:libraries")
        row = await self._actor(full_username)
        body = {**actor_json(row, self.ctx.settings.domain), "icon": None, "user": None, "is_channel": False}
        return json_response(request, body)

    @app.route("/<full_username>/libraries/", methods=["GET", "HEAD"], strict_slashes=False)
    async def libraries(self, request: Any, full_username: str) -> bytes:
        principal = await self.auth.require(request, "read:libraries")
        row = await self._actor(full_username)
        page = Page.from_request(request)
        count, rows = await self.ctx.db.run(
            directory_store.libraries_of_txn, row["id"], principal.user.actor_id, page.size, page.offset,
            desc="federation.actor_libraries",
        )  # fmt: skip
        return page.respond(request, count, rows, lambda r: library_json(r, self.ctx.settings.domain))
