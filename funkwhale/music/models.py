"""Values the music modules pass around."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

# Per-upload error codes (import_details.error_code): Funkwhale's own, then ours.
INVALID_METADATA = "invalid_metadata"
UNKNOWN_ERROR = "unknown_error"
STORAGE_UNAVAILABLE = "storage_unavailable"  # the media bucket could not be read
TRACK_UUID_NOT_FOUND = "track_uuid_not_found"
UNSUPPORTED_FORMAT = "unsupported_format"
EMPTY_FILE = "empty_file"
CORRUPT_FILE = "corrupt_file"
QUOTA_EXCEEDED = "quota_exceeded"
FILE_NOT_FOUND = "file_not_found"
ALREADY_IMPORTED = "already_imported_in_owned_libraries"
IMPORT_ERROR_CODES = (
    INVALID_METADATA, UNKNOWN_ERROR, TRACK_UUID_NOT_FOUND, UNSUPPORTED_FORMAT, EMPTY_FILE, CORRUPT_FILE,
    QUOTA_EXCEEDED, FILE_NOT_FOUND, ALREADY_IMPORTED, STORAGE_UNAVAILABLE,
)  # fmt: skip


class MetadataError(Exception):
    """A file whose tags cannot be read into Metadata; `code` is one of the error codes above."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Picture:
    data: bytes
    mimetype: str


@dataclass(frozen=True)
class Metadata:
    """What an audio file says about itself, normalised across containers (mp3, ogg, opus, flac, m4a, wav, aiff)."""

    title: str
    artists: tuple[str, ...]  # the track's artists, first is the main one
    album: str | None = None
    album_artists: tuple[str, ...] = ()  # empty: same as the track's artists
    track_number: int | None = None
    disc_number: int | None = None
    release_date: datetime.date | None = None
    genres: tuple[str, ...] = ()
    mbid: str | None = None  # MusicBrainz recording id
    album_mbid: str | None = None
    artist_mbids: tuple[str, ...] = ()
    album_artist_mbids: tuple[str, ...] = ()
    license: str | None = None
    copyright: str | None = None
    comment: str | None = None
    lyrics: str | None = None
    replaygain: dict[str, float] = field(default_factory=dict)  # track_gain, track_peak, album_gain, album_peak
    duration: float | None = None  # seconds
    bitrate: int | None = None  # bits per second
    sample_rate: int | None = None
    mimetype: str = "application/octet-stream"
    extension: str = ""  # canonical: mp3, ogg, opus, flac, m4a, wav, aiff
    cover: Picture | None = None
