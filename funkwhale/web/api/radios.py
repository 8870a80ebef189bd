"""/api/v1/radios/: listening sessions (`sessions/`), their next track (`tracks/`) and users' custom radios
(`radios/`, `radios/filters/`, `radios/<id>/tracks/`), shaped like Funkwhale 1.4.

The next track is never one the session already played; when the pool is exhausted `tracks/` answers 404
"No more tracks in this radio." (start a new session to hear them again).
"""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.visibility import Viewer
from funkwhale.radios import FILTER_FIELDS, FILTERS, clean_config, clean_radio, clean_session, session_id, store
from funkwhale.web.api.browse import name_lookups, ordering_of, scope_is_me
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import query, query_int, read_body

MAX_DRAWN = 50  # next tracks one v2 request may draw
VALIDATE_SAMPLE = 10  # tracks `radios/validate/` shows of what a filter selects, as 1.4


class RadiosApi(Area):
    app = api_app()

    async def _viewer(self, request: Any, scope: str) -> Viewer:
        return Viewer.of(await self.auth.require(request, scope))

    def _radio(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "is_public": row["is_public"],
            "config": row["config"],
            "creation_date": row["creation_date"],
            "user": self.renderer.user(row["user"]),
        }

    # -- sessions ------------------------------------------------------------------------------------------------
    @app.route("/sessions/", methods=["POST"], strict_slashes=False)
    async def create_session(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "write:radios")
        return json_response(request, await new_session(self.ctx, viewer, request), status=201)

    @app.route("/sessions/<int:radio_session>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def session(self, request: Any, radio_session: int) -> bytes:
        viewer = await self._viewer(request, "read:radios")
        return json_response(request, await session_json(self.ctx, viewer, radio_session))

    @app.route("/tracks/", methods=["POST"], strict_slashes=False)
    async def next_track(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "write:radios")
        drawn = await self.ctx.db.run(store.next_track_txn, viewer, session_id(read_body(request)), desc="radios.next")
        body = {
            "id": drawn["id"],
            "session": drawn["session_id"],
            "position": drawn["position"],
            "track": self.renderer.track(drawn["track"]),
        }
        return json_response(request, body, status=201)

    # -- custom radios -------------------------------------------------------------------------------------------
    @app.route("/radios/filters/", methods=["GET", "HEAD"], strict_slashes=False)
    async def filters(self, request: Any) -> bytes:
        await self._viewer(request, "read:radios")
        body = [
            {"type": kind, "label": label, "help_text": help_text, "fields": [{"name": key, **FILTER_FIELDS[kind]}]}
            for kind, (key, label, help_text) in FILTERS.items()
        ]
        return json_response(request, body)

    @app.route("/radios/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "read:radios")
        page = Page.from_request(request)
        lookups = name_lookups(request, "name")
        q = query(request, "q")
        if q:
            lookups += (("icontains", q),)
        listing = store.RadioListing(
            viewer,
            mine=scope_is_me(request),
            name_lookups=lookups,
            ordering=ordering_of(request),
            limit=page.size,
            offset=page.offset,
        )
        total, rows = await self.ctx.db.run(store.list_radios_txn, listing, desc="radios.list")
        return page.respond(request, total, rows, self._radio)

    @app.route("/radios/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "write:radios")
        fields = clean_radio(read_body(request), partial=False)
        row = await self.ctx.db.run(store.save_radio_txn, viewer, None, fields, desc="radios.create")
        return json_response(request, self._radio(row), status=201)

    @app.route("/radios/validate/", methods=["POST"], strict_slashes=False)
    async def validate(self, request: Any) -> bytes:
        """POST {filters: [...]}: for each filter, its errors or how many tracks it selects and a sample of them."""
        viewer = await self._viewer(request, "read:radios")
        filters = read_body(request).get("filters")
        if not isinstance(filters, list):
            raise field_error("filters", "You must provide a filters list")
        results = []
        for f in filters:
            try:
                found = await self.ctx.db.run(
                    store.filter_candidates_txn, viewer, clean_config([f]), VALIDATE_SAMPLE, desc="radios.validate"
                )
            except Invalid as e:
                messages = [m for values in e.fields.values() for m in values] or [e.detail]
                results.append({"filter": f, "errors": messages, "candidates": {"count": None, "sample": None}})
                continue
            sample = [self.renderer.track(row) for row in found["sample"]]
            results.append({"filter": f, "errors": [], "candidates": {"count": found["count"], "sample": sample}})
        return json_response(request, {"filters": results})

    @app.route("/radios/<int:radio_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def detail(self, request: Any, radio_id: int) -> bytes:
        viewer = await self._viewer(request, "read:radios")
        row = await self.ctx.db.run(store.radio_txn, viewer, radio_id, desc="radios.detail")
        if row is None:
            raise not_found("No such radio.")
        return json_response(request, self._radio(row))

    @app.route("/radios/<int:radio_id>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def update(self, request: Any, radio_id: int) -> bytes:
        viewer = await self._viewer(request, "write:radios")
        fields = clean_radio(read_body(request), partial=request.method == b"PATCH")
        row = await self.ctx.db.run(store.save_radio_txn, viewer, radio_id, fields, desc="radios.update")
        return json_response(request, self._radio(row))

    @app.route("/radios/<int:radio_id>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, radio_id: int) -> bytes:
        viewer = await self._viewer(request, "write:radios")
        await self.ctx.db.run(store.delete_radio_txn, viewer, radio_id, desc="radios.delete")
        request.setResponseCode(204)
        return b""

    @app.route("/radios/<int:radio_id>/tracks/", methods=["GET", "HEAD"], strict_slashes=False)
    async def tracks(self, request: Any, radio_id: int) -> bytes:
        viewer = await self._viewer(request, "read:radios")
        page = Page.from_request(request)
        found = await self.ctx.db.run(
            store.radio_tracks_txn, viewer, radio_id, page.size, page.offset, desc="radios.tracks"
        )
        if found is None:
            raise not_found("No such radio.")
        total, rows = found
        return page.respond(request, total, rows, self.renderer.track)


async def new_session(ctx: Context, viewer: Viewer, request: Any) -> dict[str, Any]:
    """A session of the viewer's from the request's {radio_type, custom_radio | related_object_id}."""
    fields = clean_session(read_body(request))
    if "related_object_id" in fields:
        kind, value = fields["radio_type"], fields["related_object_id"]
        checked = await ctx.db.run(
            store.check_related_txn, viewer, kind, [value], "related_object_id", desc="radios.check"
        )
        fields["related_object_id"] = str(checked[0])
    return await ctx.db.run(store.create_session_txn, viewer, fields, desc="radios.session")


async def session_json(ctx: Context, viewer: Viewer, session_id: int) -> dict[str, Any]:
    """One of the viewer's radio sessions; 404 when they have no such session."""
    row = await ctx.db.run(store.session_txn, viewer, session_id, desc="radios.session.get")
    if row is None:
        raise not_found("No such radio session.")
    return row


class RadiosV2Api(Area):
    """/api/v2/radios/: sessions, and `sessions/<id>/tracks/?count=` drawing several next tracks at once."""

    app = api_app()

    @app.route("/sessions/", methods=["POST"], strict_slashes=False)
    async def create_session(self, request: Any) -> bytes:
        viewer = Viewer.of(await self.auth.require(request, "write:radios"))
        return json_response(request, await new_session(self.ctx, viewer, request), status=201)

    @app.route("/sessions/<int:radio_session>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def session(self, request: Any, radio_session: int) -> bytes:
        viewer = Viewer.of(await self.auth.require(request, "read:radios"))
        return json_response(request, await session_json(self.ctx, viewer, radio_session))

    @app.route("/sessions/<int:radio_session>/tracks/", methods=["GET"], strict_slashes=False)
    async def tracks(self, request: Any, radio_session: int) -> bytes:
        """Up to `count` (1 to 50, default 1) next tracks of the session, as 1.4 answers them (201, a list)."""
        viewer = Viewer.of(await self.auth.require(request, "write:radios"))
        count = query_int(request, "count")
        count = 1 if count is None else count
        if not 0 < count <= MAX_DRAWN:
            raise field_error("count", f"Ensure this value is between 1 and {MAX_DRAWN}.")
        drawn = await self.ctx.db.run(store.next_tracks_txn, viewer, radio_session, count, desc="radios.next")
        return json_response(request, [self.renderer.track(d["track"]) for d in drawn], status=201)
