"""GET|HEAD /api/v1/listen/<track uuid>/ (`upload`, `to`, `max_bitrate`, `download`, `token`) and
/api/v1/stream/<track uuid> (mp3, inline): play a track the caller may play, as Funkwhale does.

A request signed by a remote actor (HTTP signature, no session or token) may get this server's own uploads in the
libraries that actor may read (public, followed with approval, or by its server's actor for such a follower).
A remote upload not cached yet is fetched from its server as it plays (music/playback/remote.py): 502 when that
server does not send it, 403 when an instance policy rejects its media.
The original file is served with Range support (or handed to nginx with X-Accel-Redirect); a transcode is
served from the cache when there is one, else streamed live from ffmpeg (200, chunked, no Range), unless the
caller already runs as many live transcodes as allowed (503 with Retry-After).
"""

from __future__ import annotations

from typing import Any, ClassVar

from funkwhale.activitypub import authentication, signatures
from funkwhale.music.playback import respond, slots
from funkwhale.music.visibility import Viewer
from funkwhale.users.accounts import listen_viewer
from funkwhale.web.api.browse import viewer_of
from funkwhale.web.area import Area, api_app
from funkwhale.web.client_address import client_address
from funkwhale.web.errors import ApiError, not_found
from funkwhale.web.params import parse_uuid, query


def _kbps(raw: str | None) -> int | None:
    """max_bitrate as Funkwhale reads it: an integer, else ignored."""
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


class ListenApi(Area):
    app = api_app()
    forced_format: ClassVar[str | None] = None

    async def _viewer(self, request: Any) -> tuple[Viewer, int | None]:
        """The caller, and the id of the remote actor who signed the request (None when unsigned): `?token=` (a
        listen token, for <audio src>) when given, else an HTTP signature (another server fetching audio for its
        listeners), else the session or Bearer token."""
        token = query(request, "token")
        if token:
            return await listen_viewer(self.ctx, token), None
        if authentication.is_signed(request):
            try:
                actor = await authentication.signed_actor(self.ctx, request)
            except signatures.SignatureError as e:
                raise ApiError(403, f"Invalid signature: {e}", "authentication_failed") from None
            return Viewer(), actor["id"] if actor else None
        return await viewer_of(self.ctx, self.auth, request), None

    @app.route("/<track_uuid>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def listen(self, request: Any, track_uuid: str) -> bytes:
        viewer, signer_id = await self._viewer(request)
        track = parse_uuid(track_uuid)
        wanted_raw = query(request, "upload")
        wanted = parse_uuid(wanted_raw) if wanted_raw else None
        to = self.forced_format or (query(request, "to") or "").strip().lower() or None
        download = self.forced_format is None and (query(request, "download") or "true").lower() != "false"
        try:
            upload, source, needed = await respond.find(
                self.ctx, viewer, track, wanted, to, _kbps(query(request, "max_bitrate")), signer_id
            )
            if signer_id is not None:
                listener = f"actor:{signer_id}"
            elif viewer.authenticated:
                listener = f"user:{viewer.user_id}"
            else:
                listener = f"ip:{client_address(request, self.ctx.settings)}"
            await respond.count_download(self.ctx, upload, listener)
            return await respond.send(self.ctx, request, upload, source, needed, download, listener)
        except respond.NothingPlayable:
            raise not_found() from None
        except respond.NoLocalFile:
            raise ApiError(503, "Remote track is unavailable.", "unavailable") from None
        except respond.RemoteUnavailable:
            raise ApiError(502, "The remote server did not send this track.", "remote_unavailable") from None
        except respond.MediaRejected:
            raise ApiError(403, "Media from this track's server are rejected here.", "media_rejected") from None
        except respond.FileMissing:
            raise ApiError(404, "The audio file of this upload is missing.", "file_missing") from None
        except respond.TranscodesBusy:
            request.setHeader(b"Retry-After", str(slots.RETRY_AFTER).encode("ascii"))
            raise ApiError(
                503, "Too many transcodes are running; try again in a few seconds.", "too_many_transcodes"
            ) from None
        except respond.TranscodeFailed:
            raise ApiError(500, "The file could not be transcoded.", "transcoding_failed") from None


class StreamApi(ListenApi):
    """Funkwhale's /api/v1/stream/<uuid>: always mp3, never as an attachment."""

    forced_format = "mp3"
