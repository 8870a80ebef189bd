"""Media: stream, download, getCoverArt, getAvatar, getLyrics, getLyricsBySongId.

stream and download answer with the bytes of funkwhale.music.playback.respond (Range on originals and cached
transcodes, live ffmpeg otherwise, X-Accel-Redirect behind nginx), never a redirect. stream transcodes when
`format` differs from the file or `maxBitRate` is lower than its bitrate; `maxBitRate` alone means mp3 (DSub);
`format=raw` never transcodes; `timeOffset` (OpenSubsonic transcodeOffset) starts ffmpeg there; with
`estimateContentLength` a live transcode announces duration x bitrate as Content-Length (the duration bounded by
what the file's size can hold, since it comes from the file's header) and is cut or padded to it, padded only when
ffmpeg fell a little short. Nothing here counts a play (scrobble does).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, BinaryIO

from twisted.logger import Logger

from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music import attachments, playback
from funkwhale.music.normalize import fold
from funkwhale.music.playback import Source, Transcode, files, respond
from funkwhale.storage import MediaMissing, StorageError, serving
from funkwhale.subsonic import ids
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.errors import GENERIC, SubsonicError, not_found
from funkwhale.subsonic.registry import Call, endpoint
from funkwhale.subsonic.system import EXTENSIONS
from funkwhale.subsonic.userdata import store
from funkwhale.threads import run_io

log = Logger()

EXTENSIONS.update({"songLyrics": [1], "transcodeOffset": [1]})
COVER_CACHE = b"private, max-age=86400"
ZEROS = "/dev/zero"
# The zeros an estimated length may add to a live transcode beyond a quarter of what ffmpeg made.
PAD_SLACK = 64 * 1024
# No audio file plays longer than its size at this rate (bit/s): the bound of a duration read from a header.
MIN_AUDIO_BITRATE = 8000
TOO_MANY = "Too many transcodes are running; try again in a few seconds."
Found = tuple[dict[str, Any], Source, Transcode | None]


def _open_zeros() -> BinaryIO:
    return open(ZEROS, "rb")  # noqa: SIM115 (closed by EstimatedLength.pad)


class EstimatedLength:
    """The request of a live transcode answered with an estimated Content-Length: bytes beyond it are dropped and
    `pad()` fills a small shortfall with zeros. When the answer turns out to be a file (a cached transcode sets its
    real Content-Length), it stands aside."""

    def __init__(self, request: Any, length: int) -> None:
        self._request = request
        self.length = length
        self.sent = 0
        self.exact = False
        request.setHeader(b"Content-Length", str(length).encode("ascii"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    def setHeader(self, name: bytes, value: bytes) -> None:  # noqa: N802 (twisted.web's name)
        if name.lower() == b"content-length":
            self.exact = True
        self._request.setHeader(name, value)

    def write(self, data: bytes) -> None:
        if not self.exact:
            data = data[: max(0, self.length - self.sent)]
            self.sent += len(data)
        if data:
            self._request.write(data)

    async def pad(self) -> None:
        """Zeros up to the announced length, as fast as the client reads them, when ffmpeg fell short by little
        (PAD_SLACK plus a quarter of what it made); further off, the connection is closed once what ffmpeg made is
        sent: the client sees a short body rather than the daemon making megabytes of silence for a duration the
        file's header made up."""
        missing = self.length - self.sent
        if self.exact or not missing or self._request.method == b"HEAD" or not files.connected(self._request):
            return
        if missing > PAD_SLACK + self.sent // 4:
            self._request.channel.transport.loseConnection()
            return
        zeros = await run_io(_open_zeros)
        try:
            await files.FileSender(self._request, zeros, 0, missing).send()
        finally:
            zeros.close()
        self.sent = self.length

    def withdraw(self) -> None:
        """Nothing was sent after all (an error answer follows): drop the announced length."""
        self._request.responseHeaders.removeHeader(b"content-length")


def estimated_seconds(upload: dict[str, Any], offset: int) -> int | None:
    """How long the upload plays from `offset`, for an estimated Content-Length: its duration, but never more
    than its file can hold (twice its size at its bitrate, and at MIN_AUDIO_BITRATE at most), since the
    duration comes from the file's header. None when the row lacks what it takes."""
    duration, size = upload.get("duration"), upload.get("size")
    if not duration or not size:
        return None
    holds = size * 8 // max(MIN_AUDIO_BITRATE, (upload.get("bitrate") or 0) // 2)
    return max(1, int(min(duration, holds)) - offset)


async def _find(ctx: Context, call: Call, to: str | None, max_bitrate: int) -> Found:
    track = ids.number(call.params.require("id"), ids.TRACK)
    try:
        return await respond.find(ctx, call.viewer, track, to=to, max_bitrate=max_bitrate)
    except respond.NothingPlayable:
        raise not_found("Song not found.") from None
    except respond.NoLocalFile:
        raise not_found("This song's file is not on this server.") from None


async def _send(ctx: Context, call: Call, request: Any, found: Found, download: bool) -> bytes:
    upload, source, needed = found
    try:
        return await respond.send(ctx, request, upload, source, needed, download, f"user:{call.viewer.user_id}")
    except respond.FileMissing:
        raise not_found("This song's file is missing.") from None
    except respond.RemoteUnavailable:
        raise SubsonicError(GENERIC, "The remote server did not send this song.") from None
    except respond.MediaRejected:
        raise SubsonicError(GENERIC, "Media from this song's server are rejected here.") from None
    except StorageError as e:
        log.error("Subsonic: {error}", error=str(e))
        raise SubsonicError(GENERIC, "The media storage is unavailable, try again later.") from None
    except (respond.TranscodeFailed, respond.TranscodesBusy) as e:
        if isinstance(request, EstimatedLength):
            request.withdraw()
        if isinstance(e, respond.TranscodesBusy):
            raise SubsonicError(GENERIC, TOO_MANY) from None
        raise SubsonicError(GENERIC, "The song could not be transcoded.") from None


async def _from_offset(ctx: Context, found: Found, offset: int) -> Transcode | None:
    """The transcode that starts `offset` seconds in: the one planned, else one to the file's own format (as
    long as transcoding is enabled)."""
    upload, source, needed = found
    if not offset:
        return needed
    if needed is None:
        if not await instance_settings.get(ctx, "music__transcoding_enabled"):
            return None
        output = playback.OUTPUTS.get(source.extension, playback.OUTPUTS["mp3"])
        kbps = 0 if output.lossless else min(playback.MAX_BITRATE, (upload.get("bitrate") or 0) // 1000 or 192)
        needed = Transcode(output, kbps)
    return dataclasses.replace(needed, offset=offset, once=True)


@endpoint("stream")
async def stream(ctx: Context, call: Call) -> bytes:
    params = call.params
    fmt = (params.get("format") or "").strip().lower()
    max_bitrate = params.int("maxBitRate", 0, minimum=0)
    if fmt == "raw":
        found = await _find(ctx, call, None, 0)
    else:
        found = await _find(ctx, call, fmt or ("mp3" if max_bitrate else None), max_bitrate)
        found = (found[0], found[1], await _from_offset(ctx, found, params.int("timeOffset", 0, minimum=0)))
    upload, _, needed = found
    request = call.request
    if needed is not None and needed.bitrate:
        seconds = estimated_seconds(upload, needed.offset)
        if seconds is not None and params.bool("estimateContentLength"):
            request = EstimatedLength(request, seconds * needed.bitrate * 1000 // 8)
            found = (upload, found[1], dataclasses.replace(needed, once=True))  # a client may hang up at the length
    body = await _send(ctx, call, request, found, download=False)
    if isinstance(request, EstimatedLength):
        await request.pad()
    return body


@endpoint("download")
async def download(ctx: Context, call: Call) -> bytes:
    """The original file, as an attachment."""
    return await _send(ctx, call, call.request, await _find(ctx, call, None, 0), download=True)


async def _picture(ctx: Context, call: Call, row: dict[str, Any] | None) -> bytes:
    """An attachment, whole or as a square of `size` pixels; 70 when there is none."""
    if row is None:
        raise not_found("No picture.")
    size = call.params.int("size", minimum=1) or None
    try:
        found = await attachments.rendition(ctx, row, size)
    except (attachments.AttachmentNotFound, attachments.InvalidImage):
        raise not_found("No picture.") from None
    call.request.setHeader(b"Cache-Control", COVER_CACHE)
    try:
        if found.path is None:
            return await serving.serve_object(ctx.settings, call.request, found.name, found.mimetype)
        return await files.serve_file(call.request, found.path, found.mimetype)
    except (OSError, MediaMissing):
        raise not_found("No picture.") from None


@endpoint("getCoverArt")
async def get_cover_art(ctx: Context, call: Call) -> bytes:
    """The picture of a cover art id (track, album, artist or playlist) the caller may see."""
    kind, number = ids.parse(call.params.require("id"))
    return await _picture(ctx, call, await run(ctx, store.cover_txn, call.viewer, kind, number, name="cover"))


@endpoint("getAvatar", scope="read:profile")
async def get_avatar(ctx: Context, call: Call) -> bytes:
    """A user's avatar (set with the REST API's profile)."""
    username = call.params.get("username") or call.user.username
    return await _picture(ctx, call, await run(ctx, store.avatar_txn, username, name="avatar"))


_STAMP = re.compile(r"\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]")
_OFFSET = re.compile(r"^\[offset:\s*([+-]?\d+)\]", re.IGNORECASE)


def _milliseconds(minutes: str, seconds: str) -> int:
    return int(minutes) * 60_000 + round(float(seconds.replace(":", ".")) * 1000)


def structured_lyrics(text: str, artist: str, title: str) -> dict[str, Any]:
    """Embedded lyrics as OpenSubsonic structuredLyrics: synced when they are LRC (`[mm:ss.xx]` lines, each
    timestamp of a line giving one entry), else one entry per line."""
    timed: list[tuple[int, str]] = []
    offset = 0
    for raw in text.splitlines():
        line, stamps = raw.strip(), []
        if match := _OFFSET.match(line):
            offset = int(match.group(1))
            continue
        while match := _STAMP.match(line):
            stamps.append(_milliseconds(*match.groups()))
            line = line[match.end() :]
        timed.extend((start, line.strip()) for start in stamps)
    synced = bool(timed)
    lines = (
        [{"start": start, "value": value} for start, value in sorted(timed, key=lambda t: t[0])]
        if synced
        else [{"value": line.rstrip()} for line in text.strip().splitlines()]
    )
    return {"displayArtist": artist, "displayTitle": title, "lang": "xxx", "offset": offset if synced else 0,
            "synced": synced, "line": lines}  # fmt: skip


@endpoint("getLyricsBySongId")
async def get_lyrics_by_song_id(ctx: Context, call: Call) -> dict[str, Any]:
    track = ids.number(call.params.require("id"), ids.TRACK)
    row = await run(ctx, store.song_lyrics_txn, call.viewer, track, name="lyrics")
    if row is None:
        raise not_found("Song not found.")
    found = [structured_lyrics(row["lyrics"], row["artist_name"] or "", row["title"])] if row["lyrics"] else []
    return {"lyricsList": {"structuredLyrics": found}}


_LRC_TAG = re.compile(r"^\[[a-z]+:.*\]$", re.IGNORECASE)


def _plain(text: str) -> str:
    """Lyrics without LRC timestamps and tags (getLyrics is plain text)."""
    lines = [_STAMP.sub("", line).strip() for line in text.splitlines() if not _LRC_TAG.match(line.strip())]
    return "\n".join(lines).strip()


@endpoint("getLyrics")
async def get_lyrics(ctx: Context, call: Call) -> dict[str, Any]:
    """The lyrics of the first song the caller may play with that title (and artist); empty when none."""
    title = fold(call.params.get("title") or "")
    artist = fold(call.params.get("artist") or "") or None
    row = await run(ctx, store.lyrics_txn, call.viewer, artist, title, name="lyrics") if title else None
    if row is None:
        return {"lyrics": {"value": ""}}
    return {"lyrics": {"artist": row["artist_name"], "title": row["title"], "value": _plain(row["lyrics"])}}
