"""Who may send an upload body, decided from the request's headers before any of the body is read.

The site (web/site.py) holds the body of a guarded request (`POST /api/v1/uploads/`, `POST /api/v1/attachments/`)
until `UploadGate.admit` has answered: the caller must be authenticated with the route's scope (401/403), may send
at most FUNKWHALE_UPLOAD_MAX_CONCURRENT_PER_USER bodies at once (429; counted per process), and an audio upload
must fit the caller's remaining quota (413 on its Content-Length; a chunked body is capped while it streams).
The exact quota check stays where the upload is recorded (music/uploads).
"""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.music.uploads import quota
from funkwhale.music.uploads.multipart import MAX_FIELDS_BYTES
from funkwhale.web.auth import Auth
from funkwhale.web.errors import ApiError

UPLOADS = (b"api", b"v1", b"uploads")
ATTACHMENTS = (b"api", b"v1", b"attachments")
# route (as Twisted resolves the path) -> the scope its POST requires
GUARDED: dict[tuple[bytes, ...], str] = {UPLOADS: "write:libraries", ATTACHMENTS: "write:libraries"}
# what a legitimate upload form adds to its file: the text fields (capped by the reader) and the part headers
FORM_OVERHEAD = MAX_FIELDS_BYTES + 64 * 1024


class UploadGate:
    """Admits or refuses guarded request bodies, and counts each user's bodies in flight."""

    def __init__(self, ctx: Context, auth: Auth, max_concurrent: int) -> None:
        self.ctx = ctx
        self.auth = auth
        self.max_concurrent = max_concurrent
        self.active: dict[int, int] = {}

    @staticmethod
    def guards(method: bytes, route: tuple[bytes, ...]) -> bool:
        return method == b"POST" and route in GUARDED

    async def admit(self, request: Any, route: tuple[bytes, ...], length: int | None) -> int | None:
        """The most bytes the body may have (None: the site's limit), or ApiError to refuse it. An admitted
        body counts against its user's concurrent uploads until the request ends."""
        principal = await self.auth.require(request, GUARDED[route])
        if request.channel is None:  # the client left meanwhile: nothing to count
            return None
        user_id = principal.user.id
        if self.active.get(user_id, 0) >= self.max_concurrent:
            raise ApiError(429, "Too many uploads at once; wait for one to finish.", "throttled")
        self.active[user_id] = self.active.get(user_id, 0) + 1
        request.notifyFinish().addBoth(lambda _: self._release(user_id))  # answered, refused or dropped
        if route != UPLOADS:
            return None
        limit = await quota.remaining_bytes(self.ctx, user_id) + FORM_OVERHEAD
        if length is not None and length > limit:
            raise ApiError(413, "This upload would exceed your quota.", quota.QUOTA_REACHED)
        return limit

    def _release(self, user_id: int) -> None:
        left = self.active.get(user_id, 0) - 1
        if left > 0:
            self.active[user_id] = left
        else:
            self.active.pop(user_id, None)
