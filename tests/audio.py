"""Real audio files for tests: a sine tone encoded by ffmpeg, tagged with mutagen, cover art embedded.

    path = make_audio(tmp_path, "song", "flac", title="Song", artist="Artist", album="Album", cover=make_cover("red"))

Encoded tones are cached per (format, duration) for the whole process, so only tagging (fast) runs per call.
Formats: mp3, ogg (vorbis), opus, flac, m4a (aac), wav, aiff. wav and aiff carry ID3 chunks, like Picard writes.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from mutagen import aiff, flac, id3, mp4, oggopus, oggvorbis, wave
from PIL import Image

from funkwhale.music.ffmpeg import ffmpeg_binary

FORMATS = ("mp3", "ogg", "opus", "flac", "m4a", "wav", "aiff")

_ENCODE = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "2"],
    "opus": ["-c:a", "libopus", "-b:a", "64k"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac", "-b:a", "96k"],
    "wav": ["-c:a", "pcm_s16le"],
    "aiff": ["-c:a", "pcm_s16be"],
}
_SAMPLE_RATE = {"opus": 48000}

_cache_dir: Path | None = None
_cache_lock = threading.Lock()

StrOrList = str | Sequence[str] | None


def _cache() -> Path:
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = Path(tempfile.mkdtemp(prefix="fw-audio-"))
    return _cache_dir


def encoded_tone(fmt: str, duration: float = 2.0) -> Path:
    """An untagged sine tone in `fmt`, encoded once per process (do not modify the returned file)."""
    if fmt not in _ENCODE:
        raise ValueError(f"unknown format {fmt!r}")
    with _cache_lock:
        target = _cache() / f"tone-{duration:g}.{fmt}"
        if not target.exists():
            rate = _SAMPLE_RATE.get(fmt, 44100)
            partial = target.with_name("partial-" + target.name)
            subprocess.run(
                [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                 "-i", f"sine=frequency=440:sample_rate={rate}:duration={duration}", "-ac", "2",
                 "-map_metadata", "-1", *_ENCODE[fmt], "-f", _muxer(fmt), str(partial)],
                check=True,
            )  # fmt: skip
            partial.rename(target)
        return target


def _muxer(fmt: str) -> str:
    return {"m4a": "ipod", "opus": "ogg"}.get(fmt, fmt)


def make_theora(directory: Path, name: str, tags: dict[str, str], duration: float = 2.0) -> Path:
    """An Ogg file as Funkwhale's test_theora.ogg: a Theora video stream, then a Vorbis audio stream, `tags` written
    by ffmpeg as the Vorbis comments of both."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.ogg"
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=duration={duration}:size=64x48:rate=5",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={duration}",
         "-c:v", "libtheora", "-c:a", "libvorbis", *metadata, str(path)],
        check=True,
    )  # fmt: skip
    return path


def make_cover(color: str = "red", size: tuple[int, int] = (64, 64), fmt: str = "JPEG") -> bytes:
    """A small real image (JPEG by default, or PNG) of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def cover_mimetype(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def _values(value: StrOrList) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def make_audio(
    directory: Path,
    name: str,
    fmt: str,
    *,
    title: str | None = None,
    artist: StrOrList = None,
    artists: StrOrList = None,
    album: str | None = None,
    album_artist: StrOrList = None,
    track: int | str | None = None,
    disc: int | str | None = None,
    date: str | None = None,
    genre: StrOrList = None,
    mbid: str | None = None,
    album_mbid: str | None = None,
    artist_mbid: StrOrList = None,
    album_artist_mbid: StrOrList = None,
    license: str | None = None,
    copyright: str | None = None,
    comment: str | None = None,
    lyrics: str | None = None,
    replaygain: dict[str, str] | None = None,
    cover: bytes | None = None,
    duration: float = 2.0,
) -> Path:
    """A tagged audio file `directory/name.<fmt>` (`name` may already carry the extension).

    `artist` is the ARTIST tag (a list writes a multi-valued tag); `artists` the separate ARTISTS tag.
    `track`/`disc` may be "3/12". `replaygain` keys: track_gain, track_peak, album_gain, album_peak (strings
    as taggers write them, e.g. "-6.50 dB"). `cover` is embedded as the front cover.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name if name.endswith(f".{fmt}") else f"{name}.{fmt}")
    shutil.copyfile(encoded_tone(fmt, duration), path)
    tags = {
        "title": _values(title),
        "artist": _values(artist),
        "artists": _values(artists),
        "album": _values(album),
        "album_artist": _values(album_artist),
        "track": _values(None if track is None else str(track)),
        "disc": _values(None if disc is None else str(disc)),
        "date": _values(date),
        "genre": _values(genre),
        "mbid": _values(mbid),
        "album_mbid": _values(album_mbid),
        "artist_mbid": _values(artist_mbid),
        "album_artist_mbid": _values(album_artist_mbid),
        "license": _values(license),
        "copyright": _values(copyright),
        "comment": _values(comment),
        "lyrics": _values(lyrics),
    }
    for key, value in (replaygain or {}).items():
        tags[f"replaygain_{key}"] = [value]
    tags = {key: value for key, value in tags.items() if value}
    if fmt in ("mp3", "wav", "aiff"):
        _tag_id3(path, fmt, tags, cover)
    elif fmt in ("ogg", "opus", "flac"):
        _tag_vorbis(path, fmt, tags, cover)
    else:
        _tag_mp4(path, tags, cover)
    return path


_ID3_TEXT = {
    "title": id3.TIT2,
    "artist": id3.TPE1,
    "album": id3.TALB,
    "album_artist": id3.TPE2,
    "track": id3.TRCK,
    "disc": id3.TPOS,
    "date": id3.TDRC,
    "genre": id3.TCON,
    "copyright": id3.TCOP,
}
_ID3_TXXX = {
    "artists": "ARTISTS",
    "album_mbid": "MusicBrainz Album Id",
    "artist_mbid": "MusicBrainz Artist Id",
    "album_artist_mbid": "MusicBrainz Album Artist Id",
    "replaygain_track_gain": "REPLAYGAIN_TRACK_GAIN",
    "replaygain_track_peak": "REPLAYGAIN_TRACK_PEAK",
    "replaygain_album_gain": "REPLAYGAIN_ALBUM_GAIN",
    "replaygain_album_peak": "REPLAYGAIN_ALBUM_PEAK",
}


def _tag_id3(path: Path, fmt: str, tags: dict[str, list[str]], cover: bytes | None) -> None:
    if fmt == "mp3":
        tags_obj = id3.ID3()
    else:
        audio = (wave.WAVE if fmt == "wav" else aiff.AIFF)(path)
        audio.add_tags()
        tags_obj = audio.tags
    for key, values in tags.items():
        if key in _ID3_TEXT:
            tags_obj.add(_ID3_TEXT[key](encoding=3, text=values))
        elif key in _ID3_TXXX:
            tags_obj.add(id3.TXXX(encoding=3, desc=_ID3_TXXX[key], text=values))
    if "mbid" in tags:
        tags_obj.add(id3.UFID(owner="http://musicbrainz.org", data=tags["mbid"][0].encode()))
    if "license" in tags:
        tags_obj.add(id3.WCOP(url=tags["license"][0]))
    if "comment" in tags:
        tags_obj.add(id3.COMM(encoding=3, lang="eng", desc="", text=tags["comment"]))
    if "lyrics" in tags:
        tags_obj.add(id3.USLT(encoding=3, lang="eng", desc="", text=tags["lyrics"][0]))
    if cover is not None:
        tags_obj.add(id3.APIC(encoding=3, mime=cover_mimetype(cover), type=3, desc="Cover", data=cover))
    if fmt == "mp3":
        tags_obj.save(path)
    else:
        audio.save()


_VORBIS = {
    "title": "TITLE",
    "artist": "ARTIST",
    "artists": "ARTISTS",
    "album": "ALBUM",
    "album_artist": "ALBUMARTIST",
    "track": "TRACKNUMBER",
    "disc": "DISCNUMBER",
    "date": "DATE",
    "genre": "GENRE",
    "mbid": "MUSICBRAINZ_TRACKID",
    "album_mbid": "MUSICBRAINZ_ALBUMID",
    "artist_mbid": "MUSICBRAINZ_ARTISTID",
    "album_artist_mbid": "MUSICBRAINZ_ALBUMARTISTID",
    "license": "LICENSE",
    "copyright": "COPYRIGHT",
    "comment": "COMMENT",
    "lyrics": "LYRICS",
    "replaygain_track_gain": "REPLAYGAIN_TRACK_GAIN",
    "replaygain_track_peak": "REPLAYGAIN_TRACK_PEAK",
    "replaygain_album_gain": "REPLAYGAIN_ALBUM_GAIN",
    "replaygain_album_peak": "REPLAYGAIN_ALBUM_PEAK",
}


def _flac_picture(cover: bytes) -> flac.Picture:
    picture = flac.Picture()
    picture.type = 3
    picture.mime = cover_mimetype(cover)
    picture.desc = "Cover"
    with Image.open(io.BytesIO(cover)) as image:
        picture.width, picture.height = image.size
    picture.depth = 24
    picture.data = cover
    return picture


def _tag_vorbis(path: Path, fmt: str, tags: dict[str, list[str]], cover: bytes | None) -> None:
    audio = {"ogg": oggvorbis.OggVorbis, "opus": oggopus.OggOpus, "flac": flac.FLAC}[fmt](path)
    if audio.tags is None:
        audio.add_tags()
    for key, values in tags.items():
        audio[_VORBIS[key]] = values
    if cover is not None:
        picture = _flac_picture(cover)
        if fmt == "flac":
            audio.add_picture(picture)
        else:
            audio["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode("ascii")]
    audio.save()


_MP4_TEXT = {
    "title": "\xa9nam",
    "artist": "\xa9ART",
    "album": "\xa9alb",
    "album_artist": "aART",
    "date": "\xa9day",
    "genre": "\xa9gen",
    "copyright": "cprt",
    "comment": "\xa9cmt",
    "lyrics": "\xa9lyr",
}
_MP4_FREEFORM = {
    "artists": "ARTISTS",
    "mbid": "MusicBrainz Track Id",
    "album_mbid": "MusicBrainz Album Id",
    "artist_mbid": "MusicBrainz Artist Id",
    "album_artist_mbid": "MusicBrainz Album Artist Id",
    "license": "LICENSE",
    "replaygain_track_gain": "replaygain_track_gain",
    "replaygain_track_peak": "replaygain_track_peak",
    "replaygain_album_gain": "replaygain_album_gain",
    "replaygain_album_peak": "replaygain_album_peak",
}


def _number_pair(value: str) -> tuple[int, int]:
    number, _, total = value.partition("/")
    return int(number), int(total or 0)


def _tag_mp4(path: Path, tags: dict[str, list[str]], cover: bytes | None) -> None:
    audio = mp4.MP4(path)
    if audio.tags is None:
        audio.add_tags()
    for key, values in tags.items():
        if key in _MP4_TEXT:
            audio[_MP4_TEXT[key]] = values
        elif key in _MP4_FREEFORM:
            audio[f"----:com.apple.iTunes:{_MP4_FREEFORM[key]}"] = [mp4.MP4FreeForm(value.encode()) for value in values]
    if "track" in tags:
        audio["trkn"] = [_number_pair(tags["track"][0])]
    if "disc" in tags:
        audio["disk"] = [_number_pair(tags["disc"][0])]
    if cover is not None:
        image_format = mp4.MP4Cover.FORMAT_PNG if cover.startswith(b"\x89PNG") else mp4.MP4Cover.FORMAT_JPEG
        audio["covr"] = [mp4.MP4Cover(cover, imageformat=image_format)]
    audio.save()


# Broken inputs.


def make_not_audio(directory: Path, name: str = "not-audio.mp3") -> Path:
    """Text bytes under an audio file name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"This is not audio at all, only some text pretending to be a song.\n" * 50)
    return path


def make_empty(directory: Path, name: str = "empty.mp3") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"")
    return path


def make_truncated(directory: Path, fmt: str = "flac", keep: int = 60, name: str = "truncated") -> Path:
    """A real tagged file cut after `keep` bytes: the container is recognised, the stream is unreadable."""
    path = make_audio(directory, name, fmt, title="Truncated", artist="Cut")
    with path.open("r+b") as fh:
        fh.truncate(keep)
    return path


def make_huge_tag(directory: Path, fmt: str = "mp3", size: int = 10 * 1024 * 1024, name: str = "huge") -> Path:
    """A playable file whose comment tag holds `size` bytes of garbage text."""
    garbage = ("\u00e9garbage " * (size // 10 + 1))[:size]
    return make_audio(directory, name, fmt, title="Huge tag", artist="Garbage", comment=garbage)


def claim_duration(path: Path, seconds: float) -> Path:
    """Make an mp3 (ffmpeg's, with a Xing/Info header) claim `seconds` of audio while its frames stay as they are:
    the header's frame and byte counts grow alike, so the bitrate read from them is unchanged, until the 32-bit
    fields are full (from ~31,000 hours on, where the bitrate then reads as a few hundred bit/s)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"Info")
    assert at > 0 and data[at + 7] & 3 == 3, "no Info header with frame and byte counts"
    frames, size = int.from_bytes(data[at + 8 : at + 12], "big"), int.from_bytes(data[at + 12 : at + 16], "big")
    claimed = min(0xFFFFFFFF, int(seconds * 44100 / 1152))
    data[at + 8 : at + 12] = claimed.to_bytes(4, "big")
    data[at + 12 : at + 16] = min(0xFFFFFFFF, size * claimed // frames).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path
