"""Answer a play request, whatever the surface (the Funkwhale API's listen/stream, Subsonic's stream/download):
find what the viewer may play, then send the original or a transcode. The caller turns the exceptions into
its own error format."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from funkwhale import storage
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music import playback
from funkwhale.music.playback import Source, Transcode, files, remote, slots, transcode
from funkwhale.music.playback import store as playback_store
from funkwhale.music.visibility import Viewer
from funkwhale.storage import MediaMissing, serving


class NothingPlayable(Exception):
    """No upload of the track that the viewer may play (answer 404: do not reveal that it exists)."""


class NoLocalFile(Exception):
    """The playable uploads have no file here and none can be fetched."""


class FileMissing(Exception):
    """The upload's file is gone from the disk."""


TranscodeFailed = transcode.TranscodeFailed
RemoteUnavailable = remote.RemoteUnavailable
MediaRejected = remote.MediaRejected
TranscodesBusy = slots.TranscodesBusy
DOWNLOAD_DEDUPE_SECONDS = 6 * 3600


async def find(
    ctx: Context,
    viewer: Viewer,
    track: uuid.UUID | int,
    upload: uuid.UUID | None = None,
    to: str | None = None,
    max_bitrate: int | None = None,
    signer_id: int | None = None,
) -> tuple[dict[str, Any], Source, Transcode | None]:
    """The upload to play (by track uuid or id; only `upload` when given), its file (or, for a remote upload not
    cached yet, where its audio comes from), and the transcode the request needs (None when transcoding is off).
    `signer_id`: the remote actor who signed the request, who may play this server's own uploads in libraries
    they may read (`viewer` is then anonymous). Records the play on the upload."""
    if signer_id is None:
        uploads = await ctx.db.run(playback_store.playable_uploads_txn, viewer, track, upload, desc="playback.uploads")
    else:
        uploads = await ctx.db.run(
            playback_store.readable_uploads_txn, signer_id, track, upload, desc="playback.readable_uploads"
        )
    if not uploads:
        raise NothingPlayable()
    if not await instance_settings.get(ctx, "music__transcoding_enabled"):
        to, max_bitrate = None, None
    chosen = playback.choose(ctx.settings, uploads, to, max_bitrate) or _remote(ctx, uploads, to, max_bitrate)
    if chosen is None:
        raise NoLocalFile()
    await ctx.db.run(playback_store.touch_upload_txn, chosen[0]["id"], desc="playback.touch")
    return chosen


def _remote(
    ctx: Context, uploads: list[dict[str, Any]], to: str | None, max_bitrate: int | None
) -> tuple[dict[str, Any], Source, Transcode | None] | None:
    """The first remote upload not cached yet, to fetch."""
    for upload in uploads:
        source = remote.remote_source(ctx.settings, upload)
        if source is not None:
            return upload, source, playback.plan(source, upload.get("bitrate"), to, max_bitrate)
    return None


async def count_download(ctx: Context, upload: dict[str, Any], listener: str) -> None:
    """Count a play in the track's downloads_count, once per listener (a user, else an address) per 6 hours,
    as Funkwhale does."""
    key = f"fw:downloads:{upload['track_id']}:{listener}"
    if await ctx.redis.cmd.set(key, "1", expire=DOWNLOAD_DEDUPE_SECONDS, only_if_not_exists=True):
        await ctx.db.run(
            playback_store.count_download_txn, upload["track_id"], desc="playback.count_download"
        )


def _accel_location(ctx: Context, source: Source) -> str | None:
    """nginx's internal location of the original: /_protected/media/ for MEDIA_ROOT files, /_protected/music/ for
    in-place files of the first music folder (deploy/nginx.conf aliases that one); None when nginx cannot reach it
    (or the object is in the bucket: serving.serve_object)."""
    if source.path is None:
        return None
    if source.relative is not None:
        return storage.accel_path(source.relative)
    folders = ctx.settings.music_directories
    if folders and Path(folders[0]).resolve() in source.path.parents:
        return storage.accel_music_path(str(source.path), str(Path(folders[0]).resolve()))
    return None


def _accel(request: Any, location: str, content_type: str, disposition: str | None) -> bytes:
    """Let nginx send the file (it does Range): an empty body and X-Accel-Redirect."""
    request.setHeader(b"X-Accel-Redirect", location.encode("ascii"))
    request.setHeader(b"Content-Type", content_type.encode("ascii"))
    if disposition:
        request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
    return b""


async def send(
    ctx: Context,
    request: Any,
    upload: dict[str, Any],
    source: Source,
    needed: Transcode | None,
    download: bool,
    listener: str,
) -> bytes:
    """Send the original (Range, or X-Accel-Redirect behind nginx), a cached transcode (likewise), or a live
    transcode; the audio of a remote upload not cached yet as it arrives (a transcode of it once it has all
    arrived: RemoteUnavailable or MediaRejected when it cannot be fetched); `download` adds Content-Disposition
    with Funkwhale's file name. Returns the rest of the body.
    A live transcode takes one of `listener`'s transcode slots until ffmpeg ends or the client leaves:
    TranscodesBusy (before any header is set) when none is free."""
    nginx = ctx.settings.reverse_proxy == "nginx"
    extension = source.extension if needed is None else needed.output.name
    disposition = (
        playback.content_disposition(playback.download_filename(upload, extension)) if download else None
    )
    if source.remote_url is not None:
        if needed is None:
            return await remote.play(ctx, request, upload, source, disposition)
        await remote.fetch(ctx, upload)  # a transcode starts from the whole file
        source = Source(source.path, source.relative, source.extension)
    if needed is None:
        location = _accel_location(ctx, source) if nginx else None
        if location is not None:
            return _accel(request, location, source.mimetype, disposition)
        try:
            return await files.serve_source(ctx.settings, request, source, disposition)
        except (OSError, MediaMissing):
            refetch = None if request.startedWriting else remote.remote_source(ctx.settings, upload)
            if refetch is None:
                raise FileMissing() from None
        return await remote.play(ctx, request, upload, refetch, disposition)  # its cached copy was pruned meanwhile
    mimetype = needed.output.mimetype
    cached = None
    if not needed.once:
        cached = await ctx.db.run(
            playback_store.use_version_txn, upload["id"], mimetype, needed.bitrate, desc="playback.version"
        )
    if cached is not None:
        if ctx.settings.media_bucket:
            try:
                return await serving.serve_object(ctx.settings, request, cached["audio_file"], mimetype, disposition)
            except MediaMissing:
                pass  # pruned meanwhile: transcode again
        elif nginx:
            return _accel(request, storage.accel_path(cached["audio_file"]), mimetype, disposition)
        else:
            try:
                path = storage.absolute(ctx.settings, cached["audio_file"])
                return await files.serve_file(request, path, mimetype, disposition)
            except (OSError, ValueError):
                pass  # pruned meanwhile: transcode again
    slot = None if request.method == b"HEAD" else ctx.transcodes.acquire(listener)
    request.setHeader(b"Content-Type", mimetype.encode("ascii"))
    request.setHeader(b"Accept-Ranges", b"none")
    request.setHeader(b"X-Accel-Buffering", b"no")
    if disposition:
        request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
    if slot is not None:
        with slot:
            await transcode.stream(ctx, request, upload, source, needed)
    return b""
