"""Playback: which upload of a track to play, in which format, and whether it must be transcoded.

No SQL here (store.py). respond.py answers a play request for any surface (Funkwhale's listen/stream,
Subsonic's stream/download): files.py serves a file with Range support, transcode.py streams an ffmpeg child
process and keeps what it produced in the transcoding cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from funkwhale import storage
from funkwhale.config import Settings
from funkwhale.music import formats, sources


@dataclass(frozen=True)
class Output:
    """A format a client may ask for with `to=`: ffmpeg muxer and codec, the mimetype and file extension."""

    name: str
    muxer: str
    codec: str
    mimetype: str
    lossless: bool = False


OUTPUTS = {
    "mp3": Output("mp3", "mp3", "libmp3lame", "audio/mpeg"),
    "ogg": Output("ogg", "ogg", "libvorbis", "audio/ogg"),
    "opus": Output("opus", "opus", "libopus", "audio/opus"),
    "aac": Output("aac", "adts", "aac", "audio/aac"),
    "flac": Output("flac", "flac", "flac", "audio/flac", lossless=True),
}

MAX_BITRATE = 320
# Transcoded bitrates snap down to one of these (kbps), so the cache holds few versions per upload.
BITRATE_STEPS = (32, 48, 64, 96, 128, 160, 192, 256, 320)


@dataclass(frozen=True)
class Source:
    """Where an upload's bytes are: `relative` is set for media (under MEDIA_ROOT, or in the bucket: `path` is
    then None), None for in-place files. A remote upload not cached yet has `remote_url`, where its audio is
    fetched from into `relative` (remote.py)."""

    path: Path | None
    relative: str | None
    extension: str
    remote_url: str | None = None

    @property
    def mimetype(self) -> str:
        audio = formats.by_extension(self.extension)
        return audio.served_as if audio else "application/octet-stream"


@dataclass(frozen=True)
class Transcode:
    """Convert to `output` at `bitrate` kbps (0 for lossless output), from `offset` seconds in (Subsonic's
    timeOffset). A transcode made `once` (for one request: from an offset, or cut to an announced length) is
    neither taken from nor written to the cache."""

    output: Output
    bitrate: int
    offset: int = 0
    once: bool = False


def local_source(settings: Settings, upload: dict[str, Any]) -> Source | None:
    """The local file of an upload row (audio_file under MEDIA_ROOT, or an in-place `file://` source)."""
    path: Path | None
    if upload.get("audio_file") and settings.media_bucket:
        path, relative = None, upload["audio_file"]
    elif upload.get("audio_file"):
        try:
            path = storage.absolute(settings, upload["audio_file"])
        except ValueError:
            return None
        relative = upload["audio_file"]
    else:
        local = sources.local_path(upload.get("source"))
        if local is None:
            return None
        path, relative = local, None
    file_name = Path(relative or str(path)).name
    extension = formats.extension_of(file_name)
    if extension is None:
        audio = formats.by_mimetype(upload.get("mimetype"))
        extension = audio.extension if audio else Path(file_name).suffix.lower().lstrip(".")
    return Source(path, relative, extension)


def _step(kbps: int) -> int:
    return max([step for step in BITRATE_STEPS if step <= kbps], default=BITRATE_STEPS[0])


def plan(source: Source, bitrate: int | None, to: str | None, max_bitrate: int | None) -> Transcode | None:
    """The transcode a request needs, or None to serve the original. `bitrate` is the original's (bit/s),
    `to` an OUTPUTS name, `max_bitrate` in kbps. As Funkwhale: transcode when the format differs or the
    original's bitrate exceeds max_bitrate (clamped to 320 kbps)."""
    audio = formats.by_extension(source.extension)
    family = audio.family if audio else None
    limit = min(max_bitrate, MAX_BITRATE) if max_bitrate and max_bitrate > 0 else None
    too_high = bool(limit and bitrate and bitrate > limit * 1000)
    if to in OUTPUTS and to != family:
        target = to
    elif too_high:
        target = family if family in OUTPUTS and not OUTPUTS[family].lossless else "mp3"
    else:
        return None
    output = OUTPUTS[target]
    if output.lossless:
        return Transcode(output, 0)
    kbps = limit or MAX_BITRATE
    if bitrate and not (audio and audio.lossless):
        kbps = min(kbps, bitrate // 1000)
    return Transcode(output, _step(kbps))


def choose(
    settings: Settings, uploads: list[dict[str, Any]], to: str | None, max_bitrate: int | None
) -> tuple[dict[str, Any], Source, Transcode | None] | None:
    """The best upload to play among the viewer's playable `uploads` (best first): one with a local file,
    preferably one that needs no transcoding. None when no upload has a local file."""
    best = None
    for upload in uploads:
        source = local_source(settings, upload)
        if source is None:
            continue
        needed = plan(source, upload.get("bitrate"), to, max_bitrate)
        if needed is None:
            return upload, source, None
        best = best or (upload, source, needed)
    return best


def download_filename(upload: dict[str, Any], extension: str) -> str:
    """`title - album - artist.ext`, as Funkwhale names downloads (without album for a track without one)."""
    parts = [upload["title"], upload.get("album_title"), upload["artist_name"]]
    name = " - ".join(part for part in parts if part)
    return f"{name}.{extension}".replace("/", "-")


def content_disposition(filename: str) -> str:
    return "attachment; filename*=UTF-8''" + quote(filename, safe="")
