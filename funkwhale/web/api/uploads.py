"""/api/v1/uploads/: the caller's uploads. POST a multipart form (audio_file, library, import_status,
import_reference, import_metadata, source) to upload; list with filters, retrieve, PATCH drafts, delete;
`action/` to delete or relaunch (or publish drafts) in bulk.

The body of a POST is never parsed by Twisted (see web/site.py): it is spooled to a file under
MEDIA_ROOT/incoming while it arrives, and stream-parsed in a thread by funkwhale.music.uploads.
"""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from typing import Any

from twisted.internet.defer import Deferred

from funkwhale.activitypub import music_outbox
from funkwhale.music import uploads
from funkwhale.music.normalize import fold
from funkwhale.music.uploads.serializers import file_metadata_json, upload_json
from funkwhale.music.uploads.store import UPLOAD_ORDERINGS, UploadFilters
from funkwhale.music.visibility import Viewer
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import (
    parse_uuid,
    query,
    query_bool,
    query_uuid,
    query_values,
    read_body,
    to_int,
)

# action -> the import statuses it applies to (None: any)
ACTIONS: dict[str, tuple[str, ...] | None] = {
    "delete": None,
    "relaunch_import": ("pending", "skipped", "errored"),
    "publish": ("draft",),
}


def detached(coro: Coroutine[Any, Any, Any]) -> Deferred:
    """Await `coro` without letting a cancellation (the client went away) interrupt it: it runs to its end,
    so its own cleanup keeps files and rows consistent; only the result is dropped."""
    outer: Deferred = Deferred()
    Deferred.fromCoroutine(coro).chainDeferred(outer)
    return outer


def filters_of(request: Any) -> UploadFilters:
    """library (uuid), import_status (repeatable), import_reference, track (id or uuid), mimetype, track_artist
    and album_artist (uuids), q, playable."""
    statuses = tuple(s for value in query_values(request, "import_status") for s in value.split(",") if s)
    for status in statuses:
        if status not in uploads.IMPORT_STATUSES:
            raise field_error("import_status", f"Select a valid choice. {status} is not one of the available choices.")
    q = (query(request, "q") or "").strip()
    return UploadFilters(
        library=query_uuid(request, "library"),
        import_status=statuses,
        import_reference=query(request, "import_reference"),
        track=_track_ref(query(request, "track") or ""),
        mimetype=query(request, "mimetype") or None,
        track_artist=query_uuid(request, "track_artist"),
        album_artist=query_uuid(request, "album_artist"),
        q=q or None,
        q_key=fold(q) or None,
        playable=query_bool(request, "playable"),
    )


def _track_ref(raw: str) -> int | uuid.UUID | None:
    """The `track` filter: a track id (ours) or a track uuid (1.4's); a 400 for anything else."""
    if not raw:
        return None
    if raw.isascii() and raw.isdigit():
        return to_int(raw, "track")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise field_error("track", "Enter a valid UUID.") from None


def ordering_of(request: Any) -> tuple[str, bool]:
    """(column key, descending) from `ordering` (default -creation_date); an unknown field is ignored, as
    DRF's OrderingFilter does."""
    raw = (query(request, "ordering") or "-creation_date").split(",")[0].strip()
    key = raw.removeprefix("-")
    if key not in UPLOAD_ORDERINGS:
        return "creation_date", True
    return key, raw.startswith("-")


def _uuids(value: Any) -> list[uuid.UUID] | None:
    """`objects` of an action: "all" (None) or a list of upload uuids."""
    if value == "all":
        return None
    if not isinstance(value, list) or not value:
        raise field_error("objects", 'Provide a list of upload uuids or "all".')
    try:
        return [uuid.UUID(str(item)) for item in value]
    except ValueError:
        raise field_error("objects", "Enter a valid UUID.") from None


class UploadsApi(Area):
    app = api_app()

    async def _viewer(self, request: Any, scope: str) -> Viewer:
        return Viewer.of(await self.auth.require(request, scope))

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "read:libraries")
        filters, ordering, page = filters_of(request), ordering_of(request), Page.from_request(request)
        count, rows = await uploads.list_uploads(self.ctx, viewer, filters, ordering, page.size, page.offset)
        return page.respond(request, count, rows, lambda row: upload_json(row, self.renderer))

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        viewer = await self._viewer(request, "write:libraries")
        content_type = getattr(request, "multipart_content_type", None)
        row = await detached(uploads.receive_upload(self.ctx, viewer, request.content, content_type))
        return json_response(request, upload_json(row, self.renderer), status=201)

    @app.route("/action/", methods=["POST"], strict_slashes=False)
    async def action(self, request: Any) -> bytes:
        """{"action": "delete" | "relaunch_import" | "publish", "objects": [uuid, ...] | "all"}."""
        viewer = await self._viewer(request, "write:libraries")
        data = read_body(request)
        name = data.get("action")
        if name not in ACTIONS:
            raise field_error("action", f'"{name}" is not a valid choice.')
        if "objects" not in data:
            raise field_error("objects", "This field is required.")
        uuids = _uuids(data["objects"])
        statuses = ACTIONS[name]
        if statuses is None:
            await music_outbox.announce_upload_deletes(self.ctx, viewer.actor_id, uuids)
            updated = await uploads.delete_uploads(self.ctx, viewer, uuids)
        else:
            updated = await uploads.requeue_uploads(self.ctx, viewer, uuids, statuses)
        return json_response(request, {"action": name, "updated": updated, "result": None})

    @app.route("/<upload_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, upload_uuid: str) -> bytes:
        viewer = await self._viewer(request, "read:libraries")
        row = await uploads.get_upload(self.ctx, viewer, parse_uuid(upload_uuid))
        if row is None:
            raise not_found()
        return json_response(request, upload_json(row, self.renderer))

    @app.route("/<upload_uuid>/audio-file-metadata/", methods=["GET", "HEAD"], strict_slashes=False)
    async def audio_file_metadata(self, request: Any, upload_uuid: str) -> bytes:
        """What the file of one of the caller's uploads says in its tags (1.4 answers a 500 for a missing file)."""
        viewer = await self._viewer(request, "read:libraries")
        metadata = await uploads.file_metadata(self.ctx, viewer, parse_uuid(upload_uuid))
        return json_response(request, file_metadata_json(metadata))

    @app.route("/<upload_uuid>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def update(self, request: Any, upload_uuid: str) -> bytes:
        """Drafts only: import_metadata, import_reference, and import_status "pending" to publish."""
        viewer = await self._viewer(request, "write:libraries")
        row = await uploads.update_draft(self.ctx, viewer, parse_uuid(upload_uuid), read_body(request))
        if row is None:
            raise not_found()
        return json_response(request, upload_json(row, self.renderer))

    @app.route("/<upload_uuid>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, upload_uuid: str) -> bytes:
        viewer = await self._viewer(request, "write:libraries")
        uuids = [parse_uuid(upload_uuid)]
        await music_outbox.announce_upload_deletes(self.ctx, viewer.actor_id, uuids)
        if not await uploads.delete_uploads(self.ctx, viewer, uuids):
            raise not_found()
        request.setResponseCode(204)
        return b""
