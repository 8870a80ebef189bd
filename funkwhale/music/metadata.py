"""Reading an audio file's tags and stream properties into Metadata (mutagen; blocking: run it in a thread).

Containers: mp3 (ID3), ogg vorbis and opus (Vorbis comments; also beside a Theora video stream, as Funkwhale
imports them: the audio stream's properties and comments, the video's comments where the audio's lack a key),
flac (Vorbis comments + PICTURE blocks), m4a/aac (MP4 atoms), wav and aiff (ID3 chunks, else RIFF INFO / AIFF text
chunks). Each container's keys are first gathered into one neutral mapping (`_Tags`), which the shared parsers
then turn into Metadata. mutagen is imported on the first read (`_mutagen`): a process that reads no file (a web
process) does not load it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import importlib
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from funkwhale.music import formats
from funkwhale.music.models import (
    CORRUPT_FILE,
    EMPTY_FILE,
    FILE_NOT_FOUND,
    INVALID_METADATA,
    UNSUPPORTED_FORMAT,
    Metadata,
    MetadataError,
    Picture,
)
from funkwhale.storage.base import StoredFile

if TYPE_CHECKING:
    import mutagen
    from mutagen import id3, mp4, oggtheora

UNKNOWN_ARTIST = "[Unknown Artist]"
MAX_NAME = 255  # titles, names, genres longer than this are cut
MAX_VALUE = 10_000  # a text tag longer than this is garbage and ignored
MAX_LYRICS = 100_000
MAX_PICTURE = 16 * 1024 * 1024  # an embedded picture larger than this is ignored
MAX_GENRES = 20
FOLDER_COVERS = ("cover.jpg", "cover.jpeg", "cover.png", "folder.jpg", "folder.jpeg", "folder.png", "front.jpg",
                 "front.jpeg", "front.png")  # fmt: skip


# The mutagen modules read_metadata uses, imported on its first call (and preloaded by the fork server of the
# tag-reading processes, music/importer/readers.py).
MUTAGEN_MODULES = ("mutagen", "mutagen.aiff", "mutagen.flac", "mutagen.id3", "mutagen.mp3", "mutagen.mp4",
                   "mutagen.oggopus", "mutagen.oggtheora", "mutagen.oggvorbis", "mutagen.wave",
                   "mutagen._riff")  # fmt: skip


@functools.cache
def _mutagen() -> SimpleNamespace:
    """MUTAGEN_MODULES by their last name (`mutagen`, `flac`...), and `formats`: mutagen kind -> our format (other
    kinds mutagen knows are unsupported here)."""
    m = SimpleNamespace(**{name.rsplit(".", 1)[-1]: importlib.import_module(name) for name in MUTAGEN_MODULES})
    m.formats = {
        m.mp3.MP3: formats.MP3,
        m.oggvorbis.OggVorbis: formats.OGG,
        m.oggopus.OggOpus: formats.OPUS,
        m.flac.FLAC: formats.FLAC,
        m.mp4.MP4: formats.M4A,
        m.wave.WAVE: formats.WAV,
        m.aiff.AIFF: formats.AIFF,
    }
    return m


# File signatures of the containers above: such a file that mutagen cannot read is corrupt, not unsupported.
_MAGIC = (b"ID3", b"OggS", b"fLaC", b"RIFF", b"FORM", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa")

_IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"GIF8", "image/gif"),
                     (b"RIFF", "image/webp"))  # fmt: skip
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_DATE = re.compile(r"(?<!\d)(\d{4})(?:[-./](\d{1,2})(?:[-./](\d{1,2}))?)?(?!\d)")
_NUMBER = re.compile(r"\s*(\d{1,5})")
_FLOAT = re.compile(r"[-+]?\d+(?:\.\d+)?")
_REPLAYGAIN_KEYS = ("track_gain", "track_peak", "album_gain", "album_peak")

_Tags = dict[str, list[str]]  # neutral key -> values, e.g. {"title": ["Song"], "artist": ["A", "B"]}


def read_metadata(path: str | Path | StoredFile) -> Metadata:
    """Read one audio file. Raises MetadataError (empty_file, unsupported_format, corrupt_file, file_not_found,
    invalid_metadata).

    A missing title falls back to the file name without its extension, and missing artists to
    "[Unknown Artist]": a file imported from a folder is better listed under its name than refused, as tag-less
    files are common there. invalid_metadata is left for a file whose name gives no title either.
    Artists are split on ";" only ("AC/DC" and "Earth, Wind & Fire" stay whole), or taken from a separate
    ARTISTS tag; text values longer than MAX_VALUE are treated as garbage and ignored.
    """
    path = Path(path) if isinstance(path, str) else path
    m = _mutagen()
    audio = _open(path)
    audio_format = m.formats[type(audio)]
    mimetype, extension = audio_format.mimetype, audio_format.extension
    tags, pictures = _gather(audio)
    if isinstance(audio, (m.wave.WAVE, m.aiff.AIFF)):
        for key, values in _gather_text_chunks(path, isinstance(audio, m.wave.WAVE)).items():
            tags.setdefault(key, values)
    title = _first_name(tags.get("title")) or _clip(path.stem.strip())
    if not title:
        raise MetadataError(INVALID_METADATA, "The file has no title")
    artists = _artists(tags, "artists", "artist") or (UNKNOWN_ARTIST,)
    info = _stream_info(audio)
    length = getattr(info, "length", 0)
    sample_rate = getattr(info, "sample_rate", None) or (48000 if extension == "opus" else None)
    return Metadata(
        title=title,
        artists=artists,
        album=_first_name(tags.get("album")),
        album_artists=_artists(tags, "album_artists", "album_artist"),
        track_number=_position(tags.get("track")),
        disc_number=_position(tags.get("disc")),
        release_date=parse_date(_first(tags.get("date"))),
        genres=_genres(tags.get("genre", [])),
        mbid=_mbid(tags.get("mbid")),
        album_mbid=_mbid(tags.get("album_mbid")),
        artist_mbids=_mbids(tags.get("artist_mbid", [])),
        album_artist_mbids=_mbids(tags.get("album_artist_mbid", [])),
        license=_first(tags.get("license")),
        copyright=_first(tags.get("copyright")),
        comment=_first(tags.get("comment")),
        lyrics=_first(tags.get("lyrics"), limit=MAX_LYRICS),
        replaygain=_replaygain(tags),
        duration=round(length, 3) if length else None,
        bitrate=int(getattr(info, "bitrate", 0) or 0) or None,
        sample_rate=int(sample_rate) if sample_rate else None,
        mimetype=mimetype,
        extension=extension,
        cover=_choose_picture(pictures),
    )


def find_folder_cover(audio_path: str | Path) -> Path | None:
    """A cover image beside an audio file (cover/folder/front .jpg/.jpeg/.png, any letter case), if there is one."""
    folder = Path(audio_path).parent
    try:
        with os.scandir(folder) as entries:  # an entry knows its type: no stat of each file
            candidates = {entry.name.lower(): entry.path for entry in entries if entry.is_file()}
    except OSError:
        return None
    for name in FOLDER_COVERS:
        if name in candidates:
            return Path(candidates[name])
    return None


def parse_date(value: str | None) -> datetime.date | None:
    """A release date from a tag: "2019", "2019-05", "2019-05-14", "2019-05-14T10:00:00Z", "released 1999".

    Partial dates take the first month/day; an impossible month or day, or a day-first date, keeps only the year.
    """
    if not value:
        return None
    match = _DATE.search(value)
    if match is None:
        return None
    year = int(match.group(1))
    if not 1000 <= year <= 9999:
        return None
    month, day = int(match.group(2) or 1), int(match.group(3) or 1)
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return datetime.date(year, 1, 1)


def _open(path: Path | StoredFile) -> mutagen.FileType:
    m = _mutagen()
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MetadataError(FILE_NOT_FOUND, f"{path.name}: no such file") from None
    if size == 0:
        raise MetadataError(EMPTY_FILE, "The file is empty")
    try:
        with path.open("rb") as fh:  # a file object: a bucket object is read by ranges (storage/s3.py)
            audio = m.mutagen.File(fh)
    except Exception as e:  # mutagen raises many kinds of errors on damaged input
        if _has_audio_signature(path):
            raise MetadataError(CORRUPT_FILE, f"The audio file is damaged or truncated: {e}") from None
        raise MetadataError(UNSUPPORTED_FORMAT, "The file is not a supported audio file") from None
    if audio is None:
        raise MetadataError(UNSUPPORTED_FORMAT, "The file is not a supported audio file")
    if isinstance(audio, m.oggtheora.OggTheora):
        audio = _audio_beside_video(path, audio)
    if type(audio) not in m.formats:
        raise MetadataError(UNSUPPORTED_FORMAT, f"Unsupported audio format: {type(audio).__name__}")
    info = _stream_info(audio)
    length = getattr(info, "length", 0)
    if not length:
        raise MetadataError(CORRUPT_FILE, "The audio stream is empty or unreadable")
    pcm = (m.wave.WaveStreamInfo, m.aiff.AIFFInfo)  # exact sizes
    if isinstance(info, pcm) and size * 8 < length * info.bitrate * 0.9:
        raise MetadataError(CORRUPT_FILE, "The file is much shorter than its audio stream claims: truncated")
    return audio


def _audio_beside_video(path: Path | StoredFile, video: oggtheora.OggTheora) -> mutagen.FileType:
    """The Vorbis (or Opus) stream of an Ogg file whose first stream is Theora video, its comments completed with
    the video's; unsupported_format when it has no such audio stream."""
    m = _mutagen()
    for kind in (m.oggvorbis.OggVorbis, m.oggopus.OggOpus):
        try:
            with path.open("rb") as fh:
                audio = kind(fh)
        except m.mutagen.MutagenError:  # no stream of this kind
            continue
        if audio.tags is not None and video.tags is not None:
            for key, values in video.tags.as_dict().items():
                if key not in audio.tags:
                    audio.tags[key] = values
        return audio
    raise MetadataError(UNSUPPORTED_FORMAT, "The Ogg file has no Vorbis or Opus audio stream")


def _stream_info(audio: mutagen.FileType) -> mutagen.StreamInfo:
    """The stream properties every format reads (mutagen declares FileType.info as None)."""
    info: mutagen.StreamInfo | None = audio.info
    if info is None:
        raise MetadataError(CORRUPT_FILE, "The audio stream is empty or unreadable")
    return info


def _has_audio_signature(path: Path | StoredFile) -> bool:
    with path.open("rb") as fh:
        head = fh.read(12)
    return head.startswith(_MAGIC) or head[4:8] == b"ftyp"


def _gather(audio: mutagen.FileType) -> tuple[_Tags, list[tuple[int, Picture]]]:
    """The container's tags as a neutral mapping, and its pictures as (picture type, Picture)."""
    m = _mutagen()
    if isinstance(audio.tags, m.id3.ID3):
        return _gather_id3(audio.tags)
    if isinstance(audio, m.mp4.MP4):
        return _gather_mp4(audio.tags)
    if audio.tags is not None and hasattr(audio.tags, "as_dict"):  # Vorbis comments (ogg, opus, flac)
        tags, pictures = _gather_vorbis(audio.tags.as_dict())
        if isinstance(audio, m.flac.FLAC):
            pictures += [(p.type, _picture(p.data, p.mime)) for p in audio.pictures]
        return tags, pictures
    return {}, []


_ID3_TEXT = {
    "TIT2": "title",
    "TPE1": "artist",
    "TALB": "album",
    "TPE2": "album_artist",
    "TRCK": "track",
    "TPOS": "disc",
    "TDRC": "date",
    "TCOP": "copyright",
}
_ID3_TXXX = {
    "ARTISTS": "artists",
    "ALBUMARTISTS": "album_artists",
    "MUSICBRAINZ ALBUM ID": "album_mbid",
    "MUSICBRAINZ ARTIST ID": "artist_mbid",
    "MUSICBRAINZ ALBUM ARTIST ID": "album_artist_mbid",
    "LICENSE": "license",
    "UNSYNCEDLYRICS": "lyrics",
    **{f"REPLAYGAIN_{key.upper()}": f"replaygain_{key}" for key in _REPLAYGAIN_KEYS},
}


def _gather_id3(tags: id3.ID3) -> tuple[_Tags, list[tuple[int, Picture]]]:
    out: _Tags = {}
    for frame_id, key in _ID3_TEXT.items():
        frame = tags.get(frame_id)
        if frame is not None:
            out[key] = [str(text) for text in frame.text]
    if "TDRC" not in tags and "TYER" in tags:
        out["date"] = [str(text) for text in tags["TYER"].text]
    genres = tags.get("TCON")
    if genres is not None:
        out["genre"] = list(genres.genres)
    for frame in tags.getall("TXXX"):
        txxx_key = _ID3_TXXX.get(frame.desc.upper())
        if txxx_key:
            out[txxx_key] = [str(text) for text in frame.text]
    for frame in tags.getall("UFID"):
        if frame.owner == "http://musicbrainz.org":
            out["mbid"] = [frame.data.decode("ascii", "replace")]
    for frame in tags.getall("WCOP"):
        out.setdefault("license", [frame.url])
    comments = sorted(tags.getall("COMM"), key=lambda frame: frame.desc != "")  # the plain comment first
    if comments:
        out["comment"] = [str(text) for text in comments[0].text]
    lyrics = tags.getall("USLT")
    if lyrics:
        out["lyrics"] = [lyrics[0].text]
    pictures = [(frame.type, _picture(frame.data, frame.mime)) for frame in tags.getall("APIC")]
    return out, pictures


_VORBIS = {
    "title": "title",
    "artist": "artist",
    "artists": "artists",
    "album": "album",
    "albumartist": "album_artist",
    "album artist": "album_artist",
    "album_artist": "album_artist",
    "albumartists": "album_artists",
    "tracknumber": "track",
    "track": "track",
    "discnumber": "disc",
    "disc": "disc",
    "date": "date",
    "year": "date",
    "genre": "genre",
    "musicbrainz_trackid": "mbid",
    "musicbrainz_albumid": "album_mbid",
    "musicbrainz_artistid": "artist_mbid",
    "musicbrainz_albumartistid": "album_artist_mbid",
    "musicbrainz track id": "mbid",  # Funkwhale's spellings for Theora files (Picard's in ID3)
    "musicbrainz album id": "album_mbid",
    "musicbrainz artist id": "artist_mbid",
    "musicbrainz album artist id": "album_artist_mbid",
    "license": "license",
    "copyright": "copyright",
    "comment": "comment",
    "description": "comment",
    "lyrics": "lyrics",
    "unsyncedlyrics": "lyrics",
    **{f"replaygain_{key}": f"replaygain_{key}" for key in _REPLAYGAIN_KEYS},
}


def _gather_vorbis(comments: dict[str, list[str]]) -> tuple[_Tags, list[tuple[int, Picture]]]:
    out: _Tags = {}
    for name, values in comments.items():
        key = _VORBIS.get(name.lower())
        if key:
            out.setdefault(key, values)
    flac = _mutagen().flac
    pictures = []
    for name, values in comments.items():
        if name.lower() != "metadata_block_picture":
            continue
        for value in values:
            if len(value) > MAX_PICTURE * 4 // 3 + 64:
                continue
            try:
                block = flac.Picture(base64.b64decode(value))
            except (binascii.Error, ValueError, flac.error):
                continue
            pictures.append((block.type, _picture(block.data, block.mime)))
    return out, pictures


# RIFF INFO (wav) and AIFF text chunks: what ffmpeg and some taggers write instead of (or beside) ID3.
_RIFF_INFO = {
    "INAM": "title",
    "IART": "artist",
    "IPRD": "album",
    "IPRT": "track",
    "ITRK": "track",
    "ICRD": "date",
    "IGNR": "genre",
    "ICOP": "copyright",
    "ICMT": "comment",
}
_AIFF_TEXT = {"NAME": "title", "AUTH": "artist", "(c) ": "copyright", "ANNO": "comment"}


def _gather_text_chunks(path: Path | StoredFile, riff: bool) -> _Tags:
    m = _mutagen()
    out: _Tags = {}
    try:
        with path.open("rb") as fh:
            if riff:
                root = m._riff.RiffFile(fh).root
                lists = [c for c in root.subchunks() if c.id == "LIST" and getattr(c, "name", "") == "INFO"]
                chunks, names = [c for lst in lists for c in lst.subchunks()], _RIFF_INFO
            else:
                chunks, names = list(m.aiff.AIFFFile(fh).root.subchunks()), _AIFF_TEXT
            for chunk in chunks:
                key = names.get(chunk.id)
                if key and key not in out and chunk.data_size <= MAX_VALUE:
                    out[key] = [_decode_text(chunk.read())]
    except (m.mutagen.MutagenError, OSError, ValueError):
        return out
    return out


def _decode_text(raw: bytes) -> str:
    raw = raw.rstrip(b"\0")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_MP4_TEXT = {
    "\xa9nam": "title",
    "\xa9ART": "artist",
    "aART": "album_artist",
    "\xa9alb": "album",
    "\xa9day": "date",
    "\xa9gen": "genre",
    "cprt": "copyright",
    "\xa9cmt": "comment",
    "\xa9lyr": "lyrics",
}
_MP4_FREEFORM = {
    "ARTISTS": "artists",
    "ALBUMARTISTS": "album_artists",
    "MUSICBRAINZ TRACK ID": "mbid",
    "MUSICBRAINZ ALBUM ID": "album_mbid",
    "MUSICBRAINZ ARTIST ID": "artist_mbid",
    "MUSICBRAINZ ALBUM ARTIST ID": "album_artist_mbid",
    "LICENSE": "license",
    **{f"REPLAYGAIN_{key.upper()}": f"replaygain_{key}" for key in _REPLAYGAIN_KEYS},
}
_FREEFORM_PREFIX = "----:com.apple.iTunes:"


def _gather_mp4(tags: mp4.MP4Tags | None) -> tuple[_Tags, list[tuple[int, Picture]]]:
    out: _Tags = {}
    if tags is None:
        return out, []
    for atom, values in tags.items():
        if atom in _MP4_TEXT:
            out[_MP4_TEXT[atom]] = [str(value) for value in values]
        elif atom in ("trkn", "disk") and values:
            number, _total = values[0]
            out["track" if atom == "trkn" else "disc"] = [str(number)]
        elif atom.startswith(_FREEFORM_PREFIX):
            key = _MP4_FREEFORM.get(atom[len(_FREEFORM_PREFIX) :].upper())
            if key:
                out[key] = [bytes(value).decode("utf-8", "replace") for value in values]
    pictures = []
    for cover in tags.get("covr", []):
        pictures.append((3, _picture(bytes(cover), "")))
    return out, pictures


# Shared parsers.


def _clean(values: Iterable[str] | None, limit: int = MAX_VALUE) -> list[str]:
    """Stripped, non-empty values no longer than `limit` (longer ones are garbage, not data)."""
    return [value.strip() for value in values or () if value and len(value) <= limit and value.strip()]


def _clip(value: str) -> str:
    return value[:MAX_NAME].strip()


def _first(values: Iterable[str] | None, limit: int = MAX_VALUE) -> str | None:
    cleaned = _clean(values, limit)
    return cleaned[0] if cleaned else None


def _first_name(values: Iterable[str] | None) -> str | None:
    value = _first(values)
    return _clip(value) if value else None


def _split_names(values: Iterable[str]) -> tuple[str, ...]:
    names: list[str] = []
    for value in _clean(values):
        for part in value.split(";"):
            name = _clip(part.strip())
            if name and name not in names:
                names.append(name)
    return tuple(names)


def _artists(tags: _Tags, multi_key: str, key: str) -> tuple[str, ...]:
    """The ARTISTS-style tag when it names several artists, else the plain tag split on ";"."""
    multi = _split_names(tags.get(multi_key, []))
    single = _split_names(tags.get(key, []))
    return multi if len(multi) > len(single) else single or multi


def _position(values: list[str] | None) -> int | None:
    """A track or disc number from "3", "03", "3/12"."""
    value = _first(values)
    match = _NUMBER.match(value) if value else None
    number = int(match.group(1)) if match else 0
    return number if 0 < number < 10_000 else None


def _genres(values: list[str]) -> tuple[str, ...]:
    genres: list[str] = []
    seen: set[str] = set()
    for value in _clean(values):
        for part in re.split(r"[;,]", value):
            genre = _clip(part.strip())
            if genre and genre.casefold() not in seen:
                seen.add(genre.casefold())
                genres.append(genre)
    return tuple(genres[:MAX_GENRES])


def _mbid(values: list[str] | None) -> str | None:
    value = _first(values)
    if value and _UUID.fullmatch(value):
        return str(uuid.UUID(value))
    return None


def _mbids(values: list[str]) -> tuple[str, ...]:
    """Every valid UUID in the values (Picard separates several with ";" or "/")."""
    found: list[str] = []
    for value in _clean(values):
        for part in re.split(r"[;/,\s]+", value):
            if _UUID.fullmatch(part) and str(uuid.UUID(part)) not in found:
                found.append(str(uuid.UUID(part)))
    return tuple(found)


def _replaygain(tags: _Tags) -> dict[str, float]:
    gains: dict[str, float] = {}
    for key in _REPLAYGAIN_KEYS:
        value = _first(tags.get(f"replaygain_{key}"))
        match = _FLOAT.search(value) if value else None
        if match:
            gains[key] = float(match.group())
    return gains


def _picture(data: bytes, mimetype: str) -> Picture:
    """A Picture whose mimetype comes from the image's own signature when it has a known one."""
    for signature, sniffed in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return Picture(data, sniffed)
    return Picture(data, mimetype if mimetype.startswith("image/") else "image/jpeg")


def _choose_picture(pictures: list[tuple[int, Picture]]) -> Picture | None:
    """The front cover (picture type 3), else the first picture; absurdly large or empty ones are skipped."""
    usable = [(kind, picture) for kind, picture in pictures if 0 < len(picture.data) <= MAX_PICTURE]
    for kind, picture in usable:
        if kind == 3:
            return picture
    return usable[0][1] if usable else None
