"""/api/v1/favorites/tracks/: a listener's favorite tracks (list with the track nested, add, `remove/` by track,
DELETE `<id>/`, `all/`), shaped like Funkwhale 1.4. `ActivityArea` is shared with the listening history."""

from __future__ import annotations

from typing import Any, ClassVar

from funkwhale.music.normalize import fold
from funkwhale.music.visibility import Viewer
from funkwhale.social import activity, counts, store
from funkwhale.web.api.browse import ordering_of, viewer_of
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import query, query_int, read_body, to_int


def track_id_of(body: dict[str, Any]) -> int:
    """The `track` primary key of a request body, as DRF validates it."""
    raw = body.get("track")
    if raw is None or raw == "":
        raise field_error("track", "This field is required.")
    return to_int(raw, "track", f"Incorrect type. Expected pk value, received {type(raw).__name__}.")


class ActivityArea(Area):
    """GET `/` (a page of a user's track activity, the track nested) and POST `/` {track} for `kind`
    ("favorites" or "listenings"); subclasses set `kind` and `app`."""

    kind: ClassVar[str]

    async def writer(self, request: Any) -> Viewer:
        return Viewer.of(await self.auth.require(request, f"write:{self.kind}"))

    def entry(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["entry_id"],
            "user": self.renderer.user(row["owner"]),
            "track": self.renderer.track(row),
            "creation_date": row["entry_date"],
            "actor": self.renderer.actor(row["owner_actor"]),
        }

    async def one(self, request: Any, entry_id: int) -> bytes:
        """GET `<id>/`: one entry the caller may see (as listed), else 404."""
        viewer = await viewer_of(self.ctx, self.auth, request, f"read:{self.kind}")
        listing = store.Listing(viewer, mine=False, entry=entry_id, limit=1)
        _, rows = await self.ctx.db.run(store.list_txn, self.kind, listing, desc=f"{self.kind}.one")
        if not rows:
            raise not_found()
        return json_response(request, self.entry(rows[0]))

    async def list_page(self, request: Any) -> bytes:
        """Only the caller's entries unless `user` (an id) or `username` names someone or `scope=all` asks for every
        visible one; `domain` keeps the entries of users on that domain."""
        viewer = await viewer_of(self.ctx, self.auth, request, f"read:{self.kind}")
        scope = query(request, "scope") or ("me" if viewer.authenticated else "all")
        if scope not in ("me", "all"):
            raise field_error("scope", f'"{scope}" is not a valid scope.')
        user, username = query_int(request, "user"), query(request, "username") or None
        page = Page.from_request(request)
        listing = store.Listing(
            viewer,
            mine=scope == "me" and user is None and username is None,
            user=user,
            username=username,
            domain=query(request, "domain") or None,
            q=fold(query(request, "q") or ""),
            ordering=ordering_of(request),
            limit=page.size,
            offset=page.offset,
            counted=False,  # counted apart, cached (funkwhale.social.counts)
        )
        _, rows = await self.ctx.db.read(store.list_txn, self.kind, listing, desc=f"{self.kind}.list")
        total = await counts.total(self.ctx, self.kind, listing, len(rows))
        return page.respond(request, total, rows, self.entry)

    async def add(self, request: Any) -> bytes:
        """POST {track}: 201 {id, track, creation_date}; 400 (nothing written) for a track the caller may not play."""
        viewer = await self.writer(request)
        track_id = track_id_of(read_body(request))
        row = await self.ctx.db.run(activity.record_txn, viewer, self.kind, track_id, desc=f"{self.kind}.add")
        return json_response(request, row, status=201)


class FavoritesApi(ActivityArea):
    app = api_app()
    kind = "favorites"

    @app.route("/tracks/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        return await self.list_page(request)

    @app.route("/tracks/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        return await self.add(request)

    @app.route("/tracks/remove/", methods=["POST", "DELETE"], strict_slashes=False)
    async def remove(self, request: Any) -> bytes:
        viewer = await self.writer(request)
        track_id = track_id_of(read_body(request))
        if not await self.ctx.db.run(store.remove_favorite_txn, viewer, track_id, desc="favorites.remove"):
            raise not_found("This track is not a favorite.")
        request.setResponseCode(204)
        return b""

    @app.route("/tracks/<int:favorite_id>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, favorite_id: int) -> bytes:
        viewer = await self.writer(request)
        if not await self.ctx.db.run(store.remove_favorite_entry_txn, viewer, favorite_id, desc="favorites.delete"):
            raise not_found()
        request.setResponseCode(204)
        return b""

    @app.route("/tracks/all/", methods=["GET", "HEAD"], strict_slashes=False)
    async def all(self, request: Any) -> bytes:
        viewer = Viewer.of(await self.auth.require(request, "read:favorites"))
        rows = await self.ctx.db.run(store.favorite_ids_txn, viewer, desc="favorites.all")
        return json_response(request, {"results": rows, "count": len(rows)})
