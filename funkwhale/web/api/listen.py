"""GET|HEAD /api/v1/listen/<track uuid>/ (`upload`, `to`, `max_bitrate`, `download`, `token`) and
/api/v1/stream/<track uuid> (mp3, inline): play a track the caller may play, as Funkwhale does.

The original file is served with Range support (or handed to nginx with X-Accel-Redirect); a transcode is
served from the cache when there is one, else streamed live from ffmpeg (200, chunked, no Range).
"""

from __future__ import annotations

import hmac
import uuid
from typing import Any, ClassVar

from klein import Klein

from funkwhale import storage
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music import playback
from funkwhale.music.playback import Source, Transcode, files, transcode
from funkwhale.music.playback import store as playback_store
from funkwhale.music.visibility import Viewer
from funkwhale.users.accounts import read_listen_token
from funkwhale.web.api.browse import viewer_of
from funkwhale.web.auth import Auth
from funkwhale.web.errors import ApiError, install_api_errors, not_found
from funkwhale.web.json import query

LISTEN_SCOPE = "read:libraries"


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        raise not_found() from None


def _kbps(raw: str | None) -> int | None:
    """max_bitrate as Funkwhale reads it: an integer, else ignored."""
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


class ListenApi:
    app = Klein()
    install_api_errors(app)
    forced_format: ClassVar[str | None] = None

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth

    async def _viewer(self, request: Any) -> Viewer:
        """`?token=` (a listen token, for <audio src>) when given, else the session or Bearer token."""
        token = query(request, "token")
        if not token:
            return await viewer_of(self.ctx, self.auth, request)
        claims = read_listen_token(self.ctx.settings, token)
        user_id = claims.get("user_id") if claims else None
        user = None
        if isinstance(user_id, int):
            user = await self.ctx.db.run(playback_store.token_user_txn, user_id, desc="listen.token_user")
        if user is None or not hmac.compare_digest(user["secret_key"], str(claims.get("user_secret"))):
            raise ApiError(401, "Invalid token.", "authentication_failed")
        if LISTEN_SCOPE not in (claims.get("scopes") or []):
            raise ApiError(403, f"Your token lacks the {LISTEN_SCOPE} scope.", "permission_denied")
        return Viewer(user_id=user["id"], actor_id=user["actor_id"])

    @app.route("/<track_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def listen(self, request: Any, track_uuid: str) -> bytes:
        viewer = await self._viewer(request)
        track = _uuid(track_uuid)
        wanted = _uuid(query(request, "upload"))
        to = self.forced_format or (query(request, "to") or "").strip().lower() or None
        max_bitrate = _kbps(query(request, "max_bitrate"))
        download = self.forced_format is None and (query(request, "download") or "true").lower() != "false"
        uploads = await self.ctx.db.run(
            playback_store.playable_uploads_txn, viewer, track, wanted, desc="listen.uploads"
        )
        if not uploads:
            raise not_found()
        if not await instance_settings.get(self.ctx, "music__transcoding_enabled"):
            to, max_bitrate = None, None
        chosen = playback.choose(self.ctx.settings, uploads, to, max_bitrate)
        if chosen is None:
            raise ApiError(503, "Remote track is unavailable.", "unavailable")
        upload, source, needed = chosen
        await self.ctx.db.run(playback_store.touch_upload_txn, upload["id"], desc="listen.touch")
        if needed is None:
            return await self._original(request, upload, source, download)
        return await self._transcoded(request, upload, source, needed, download)

    def _disposition(self, upload: dict[str, Any], extension: str, download: bool) -> str | None:
        return (
            playback.content_disposition(playback.download_filename(upload, extension)) if download else None
        )

    def _accel(self, request: Any, relative: str, content_type: str, disposition: str | None) -> bytes:
        """Let nginx send the file (it does Range): an empty body and X-Accel-Redirect."""
        request.setHeader(b"X-Accel-Redirect", storage.accel_path(relative).encode("ascii"))
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        if disposition:
            request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
        return b""

    async def _original(self, request: Any, upload: dict[str, Any], source: Source, download: bool) -> bytes:
        disposition = self._disposition(upload, source.extension, download)
        if self.ctx.settings.reverse_proxy == "nginx" and source.relative is not None:
            return self._accel(request, source.relative, source.mimetype, disposition)
        try:
            return await files.serve_file(request, source.path, source.mimetype, disposition)
        except OSError:
            raise ApiError(404, "The audio file of this upload is missing.", "file_missing") from None

    async def _transcoded(
        self, request: Any, upload: dict[str, Any], source: Source, needed: Transcode, download: bool
    ) -> bytes:
        output = needed.output
        disposition = self._disposition(upload, output.name, download)
        cached = await self.ctx.db.run(
            playback_store.use_version_txn,
            upload["id"],
            output.mimetype,
            needed.bitrate,
            desc="listen.version",
        )
        if cached is not None:
            if self.ctx.settings.reverse_proxy == "nginx":
                return self._accel(request, cached["audio_file"], output.mimetype, disposition)
            try:
                path = storage.absolute(self.ctx.settings, cached["audio_file"])
                return await files.serve_file(request, path, output.mimetype, disposition)
            except (OSError, ValueError):
                pass  # pruned meanwhile: transcode again
        request.setHeader(b"Content-Type", output.mimetype.encode("ascii"))
        request.setHeader(b"Accept-Ranges", b"none")
        request.setHeader(b"X-Accel-Buffering", b"no")
        if disposition:
            request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
        if request.method == b"HEAD":
            return b""
        try:
            await transcode.stream(self.ctx, request, upload, source, needed)
        except transcode.TranscodeFailed:
            raise ApiError(500, "The file could not be transcoded.", "transcoding_failed") from None
        return b""


class StreamApi(ListenApi):
    """Funkwhale's /api/v1/stream/<uuid>: always mp3, never as an attachment."""

    forced_format = "mp3"
