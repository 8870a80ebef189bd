"""/federation/music/{libraries,uploads,tracks,albums,artists}/<uuid>: local music as ActivityPub documents.

A library's collection is served to anyone; its pages and its uploads to anyone when it is `everyone`, else only
to a signed request whose signer may read it (authentication.may_read_library): an unsigned or unapproved caller
gets 403, never content. A track, album or artist is served when the caller (anonymous, or the signer) may play
it. Browsers asking for HTML are redirected to the web app's page. Everything is 404 when federation is off, for
unknown ids and for remote rows.
"""

from __future__ import annotations

import uuid
from typing import Any

from klein import Klein

from funkwhale.activitypub import authentication, music_store
from funkwhale.activitypub.http import (
    ACTIVITY_JSON,
    FederationError,
    install_errors,
    not_found,
    require_enabled,
    respond,
)
from funkwhale.activitypub.music_documents import (
    PAGE_SIZE,
    album_document,
    artist_document,
    last_page,
    library_document,
    library_page_document,
    track_document,
    upload_document,
    with_context,
)
from funkwhale.activitypub.routes import wants_html
from funkwhale.activitypub.signatures import SignatureError
from funkwhale.context import Context
from funkwhale.music.visibility import Viewer

_RENDER = {"track": track_document, "album": album_document, "artist": artist_document}


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found() from None


def _page_number(request: Any) -> int | None:
    values = request.args.get(b"page")
    if not values:
        return None
    raw = values[0].decode("latin-1")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise not_found()
    return int(raw)


class MusicApp:
    app = Klein()
    install_errors(app)

    def __init__(self, ctx: Context, auth: Any) -> None:
        self.ctx = ctx

    def _fid(self, kind: str, raw: str) -> str:
        return f"{self.ctx.settings.base_url}/federation/music/{kind}/{_uuid(raw)}"

    def _redirect(self, request: Any, path: str) -> bytes:
        request.redirect(f"{self.ctx.settings.base_url}{path}".encode())
        return b""

    async def _signer(self, request: Any) -> dict[str, Any] | None:
        try:
            return await authentication.signed_actor(self.ctx, request)
        except SignatureError as e:
            raise FederationError(401, f"Invalid signature: {e}", "invalid_signature") from None

    async def _require_reader(self, request: Any, library_id: int, privacy_level: str) -> None:
        """403 unless the library is public or the request's signer may read it."""
        if privacy_level == "everyone":
            return
        actor = await self._signer(request)
        if actor is None or not await authentication.may_read_library(self.ctx, library_id, actor):
            raise FederationError(403, "You do not have permission to read this library.", "permission_denied")

    @app.route("/libraries/<library_uuid>", methods=["GET", "HEAD"], strict_slashes=False)
    async def library(self, request: Any, library_uuid: str) -> bytes:
        await require_enabled(self.ctx)
        fid = self._fid("libraries", library_uuid)
        library = await self.ctx.db.run(music_store.local_library_txn, fid, desc="federation.library")
        if library is None:
            raise not_found()
        if wants_html(request):
            return self._redirect(request, f"/library/{library['uuid']}")
        page = _page_number(request)
        if page is None:
            return respond(request, library_document(library), ACTIVITY_JSON)
        await self._require_reader(request, library["id"], library["privacy_level"])
        if page > last_page(library["total"]):
            raise not_found()
        rows = await self.ctx.db.run(
            music_store.library_page_txn, library["id"], PAGE_SIZE, (page - 1) * PAGE_SIZE, desc="federation.page"
        )
        document = library_page_document(library, page, rows, self.ctx.settings.base_url)
        return respond(request, document, ACTIVITY_JSON)

    @app.route("/uploads/<upload_uuid>", methods=["GET", "HEAD"], strict_slashes=False)
    async def upload(self, request: Any, upload_uuid: str) -> bytes:
        await require_enabled(self.ctx)
        fid = self._fid("uploads", upload_uuid)
        row = await self.ctx.db.run(music_store.local_upload_txn, fid, desc="federation.upload")
        if row is None:
            raise not_found()
        if wants_html(request):
            return self._redirect(request, f"/library/tracks/{row['track']['id']}")
        await self._require_reader(request, row["library_id"], row["library_privacy_level"])
        return respond(request, with_context(upload_document(row, self.ctx.settings.base_url)), ACTIVITY_JSON)

    @app.route("/<any(tracks,albums,artists):kind>/<object_uuid>", methods=["GET", "HEAD"], strict_slashes=False)
    async def catalog_object(self, request: Any, kind: str, object_uuid: str) -> bytes:
        await require_enabled(self.ctx)
        fid = self._fid(kind, object_uuid)
        actor = await self._signer(request)
        viewer = Viewer(actor_id=actor["id"]) if actor else Viewer()
        singular = kind[:-1]
        row = await self.ctx.db.run(music_store.local_object_txn, singular, fid, viewer, desc="federation.object")
        if row is None:
            raise not_found()
        if wants_html(request):
            return self._redirect(request, f"/library/{kind}/{row['id']}")
        document = _RENDER[singular](row, self.ctx.settings.base_url)
        return respond(request, with_context(document), ACTIVITY_JSON)
