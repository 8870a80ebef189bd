"""The audio formats this server imports and serves: one table for extensions, mimetypes and transcode families.

Every surface asks here: the upload form and the folder import (which files are audio, which mimetype to record),
the importer (the mimetype of what mutagen read), playback (the Content-Type of an original, whether it already
satisfies a `to=` format, whether it is lossless), the catalog and Subsonic serializers (a file's extension),
NodeInfo (the extensions an upload may have).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioFormat:
    """`extension` is canonical; `mimetype` is what an import records (Funkwhale's), `content_type` what an
    original is served as; `family` names the playback output (`to=`) a file of this format already is."""

    extension: str
    mimetype: str
    family: str | None = None
    importable: bool = True  # the importer reads its tags (music/metadata.py)
    lossless: bool = False
    content_type: str | None = None
    other_extensions: tuple[str, ...] = ()
    other_mimetypes: tuple[str, ...] = ()

    @property
    def served_as(self) -> str:
        return self.content_type or self.mimetype


MP3 = AudioFormat("mp3", "audio/mpeg", "mp3", other_mimetypes=("audio/mp3",))
OGG = AudioFormat("ogg", "audio/ogg", "ogg", other_extensions=("oga",))
OPUS = AudioFormat("opus", "audio/opus", "opus")
FLAC = AudioFormat("flac", "audio/flac", "flac", lossless=True, other_mimetypes=("audio/x-flac",))
M4A = AudioFormat("m4a", "audio/x-m4a", "aac", content_type="audio/mp4", other_extensions=("mp4",),
                  other_mimetypes=("audio/mp4",))  # fmt: skip
AAC = AudioFormat("aac", "audio/aac", "aac", importable=False)  # raw ADTS: a transcode output only
WAV = AudioFormat("wav", "audio/wav", lossless=True, other_mimetypes=("audio/x-wav",))
AIFF = AudioFormat("aiff", "audio/aiff", lossless=True, other_extensions=("aif", "aifc"),
                   other_mimetypes=("audio/x-aiff",))  # fmt: skip

FORMATS: tuple[AudioFormat, ...] = (MP3, OGG, OPUS, FLAC, M4A, AAC, WAV, AIFF)

_BY_EXTENSION = {ext: fmt for fmt in FORMATS for ext in (fmt.extension, *fmt.other_extensions)}
_BY_MIMETYPE = {mimetype: fmt for fmt in FORMATS for mimetype in (fmt.mimetype, *fmt.other_mimetypes)}
_SERVED_AS = {ext: fmt.served_as for ext, fmt in _BY_EXTENSION.items()}

IMPORTED_EXTENSIONS: frozenset[str] = frozenset(ext for ext, fmt in _BY_EXTENSION.items() if fmt.importable)
"""Every extension (lower case, without the dot) of a file this server imports."""


def by_extension(extension: str) -> AudioFormat | None:
    """The format of a file extension (with or without its dot, any case)."""
    return _BY_EXTENSION.get(extension.lower().lstrip("."))


def by_mimetype(mimetype: str | None) -> AudioFormat | None:
    return _BY_MIMETYPE.get((mimetype or "").lower().partition(";")[0].strip())


def served_as(extension: str) -> str | None:
    """The Content-Type an original of this extension (lower case, without the dot, as `extension_of` gives it)
    is served as; None for an unknown one."""
    return _SERVED_AS.get(extension)


def extension_of(name: str | None) -> str | None:
    """The lower-case extension of a file name or path when it is one of ours, else None."""
    if not name:
        return None
    _, dot, extension = name.rpartition("/")[2].rpartition(".")
    extension = extension.lower()
    return extension if dot and extension in _BY_EXTENSION else None
