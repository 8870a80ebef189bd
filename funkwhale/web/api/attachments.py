"""/api/v1/attachments/: POST a picture (multipart `file`, such as an avatar); `<uuid>/` is a picture's JSON, and
`<uuid>/proxy?next=<rendition>` its bytes.

Pictures are public, as in Funkwhale: `<img>` tags and Subsonic apps fetch them without credentials, and the
content behind a uuid never changes, so responses are cacheable for a year.
"""

from __future__ import annotations

from typing import Any

from klein import Klein
from werkzeug.http import parse_etags, quote_etag

from funkwhale import storage
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music import attachments
from funkwhale.storage import serving
from funkwhale.threads import run_io
from funkwhale.web.auth import Auth
from funkwhale.web.errors import ApiError, field_error, install_api_errors, not_found
from funkwhale.web.json import json_response
from funkwhale.web.params import query

CACHE_CONTROL = b"public, max-age=31536000, immutable"


class AttachmentsApi:
    app = Klein()
    install_api_errors(app)

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        """Any signed-in user may store a picture; the same bytes give the same attachment (201 either way)."""
        principal = await self.auth.require(request, "write:libraries")
        content_type = getattr(request, "multipart_content_type", None)
        actor_id = principal.user.actor_id
        if actor_id is None:
            raise Invalid.forbidden("Your account has no actor to own a picture.")
        row = await attachments.receive_picture(self.ctx, request.content, content_type, actor_id)
        return json_response(request, attachments.attachment_json(row, self.ctx.settings.base_url), status=201)

    async def _row(self, attachment_uuid: str) -> dict[str, Any]:
        row = await attachments.get_attachment(self.ctx, attachment_uuid)
        if row is None:
            raise not_found()
        return row

    @app.route("/<attachment_uuid>/", methods=["GET", "HEAD"])
    async def detail(self, request: Any, attachment_uuid: str) -> bytes:
        row = await self._row(attachment_uuid)
        return json_response(request, attachments.attachment_json(row, self.ctx.settings.base_url))

    @app.route("/<attachment_uuid>/", methods=["DELETE"])
    async def delete(self, request: Any, attachment_uuid: str) -> bytes:
        """Only the actor who sent a picture may delete it (what showed it loses its picture), as in 1.4."""
        principal = await self.auth.require(request, "write:libraries")
        actor_id = principal.user.actor_id
        if actor_id is None or not await attachments.delete_attachment(self.ctx, attachment_uuid, actor_id):
            raise not_found()
        request.setResponseCode(204)
        return b""

    @app.route("/<attachment_uuid>/proxy", methods=["GET", "HEAD"])
    @app.route("/<attachment_uuid>/proxy/", methods=["GET", "HEAD"])
    async def proxy(self, request: Any, attachment_uuid: str) -> bytes:
        name = query(request, "next", "original")
        if name not in attachments.SIZES:
            raise field_error("next", f"Must be one of: {', '.join(attachments.SIZES)}.")
        row = await self._row(attachment_uuid)
        try:
            found = await attachments.rendition(self.ctx, row, attachments.SIZES[name])
        except attachments.AttachmentNotFound:
            raise not_found("The picture's file is not available.") from None
        except attachments.InvalidImage:
            raise ApiError(422, "The picture cannot be decoded.", "invalid_image") from None
        etag = f"{row['checksum'] or row['uuid']}-{name}"
        request.setHeader(b"Cache-Control", CACHE_CONTROL)
        request.setHeader(b"ETag", quote_etag(etag).encode())
        request.setHeader(b"Content-Type", found.mimetype.encode())
        if parse_etags((request.getHeader(b"if-none-match") or b"").decode("latin-1")).contains_weak(etag):
            request.setResponseCode(304)
            return b""
        if found.path is None:
            return await serving.serve_object(self.ctx.settings, request, found.name, found.mimetype)
        if self.ctx.settings.reverse_proxy == "nginx":
            request.setHeader(b"X-Accel-Redirect", storage.accel_path(found.name).encode())
            return b""
        return await run_io(found.path.read_bytes)

