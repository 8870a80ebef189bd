"""Tag reading: every container's fields from real files, odd values, and broken inputs."""

from __future__ import annotations

import datetime
import subprocess

import pytest
from mutagen import id3

from funkwhale.music.ffmpeg import ffmpeg_binary
from funkwhale.music.metadata import UNKNOWN_ARTIST, find_folder_cover, parse_date, read_metadata
from funkwhale.music.models import MetadataError

from .audio import FORMATS, make_audio, make_cover, make_empty, make_huge_tag, make_not_audio, make_truncated

RECORDING = "9f2c4e6e-3b8f-4c3a-9a39-1b8b2f0c8c11"
RELEASE = "0d8a7b0e-1c4d-4a8e-9e3b-6f1f6d2b7a01"
ARTIST_A = "6b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ARTIST_B = "7c2f3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_field_round_trips(tmp_path, fmt):
    cover = make_cover("blue")
    path = make_audio(
        tmp_path, "song", fmt, title="Morning Mood", artist="Edvard Grieg", album="Peer Gynt",
        album_artist="AC/DC", track="3/12", disc="2/2", date="1888-02-24", genre="Classical; Romantic, Orchestral",
        mbid=RECORDING, album_mbid=RELEASE, artist_mbid=[ARTIST_A, ARTIST_B], album_artist_mbid=ARTIST_B,
        license="https://creativecommons.org/licenses/by/4.0/", copyright="℗ 1888 Grieg", comment="A comment",
        lyrics="No words\nat all", replaygain={"track_gain": "-6.50 dB", "track_peak": "0.988", "album_gain": "-7 dB"},
        cover=cover,
    )  # fmt: skip
    meta = read_metadata(path)
    assert meta.title == "Morning Mood"
    assert meta.artists == ("Edvard Grieg",)
    assert meta.album == "Peer Gynt"
    assert meta.album_artists == ("AC/DC",)
    assert (meta.track_number, meta.disc_number) == (3, 2)
    assert meta.release_date == datetime.date(1888, 2, 24)
    assert meta.genres == ("Classical", "Romantic", "Orchestral")
    assert (meta.mbid, meta.album_mbid) == (RECORDING, RELEASE)
    assert meta.artist_mbids == (ARTIST_A, ARTIST_B)
    assert meta.album_artist_mbids == (ARTIST_B,)
    assert meta.license == "https://creativecommons.org/licenses/by/4.0/"
    assert meta.copyright == "℗ 1888 Grieg"
    assert meta.comment == "A comment"
    assert meta.lyrics == "No words\nat all"
    assert meta.replaygain == {"track_gain": -6.5, "track_peak": 0.988, "album_gain": -7.0}
    assert meta.duration == pytest.approx(2.0, abs=0.1)
    assert meta.bitrate and meta.bitrate > 8000
    assert meta.sample_rate == (48000 if fmt == "opus" else 44100)
    assert meta.extension == fmt
    assert meta.mimetype.startswith("audio/")
    assert meta.cover is not None and meta.cover.data == cover and meta.cover.mimetype == "image/jpeg"


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a", "opus"])
def test_non_latin_names_and_multiple_artists(tmp_path, fmt):
    path = make_audio(
        tmp_path, "東京の夜", fmt, title="東京の夜", artist="Кино; 坂本龍一", artists=["Кино", "坂本龍一"],
        album="Группа крови", album_artist="Кино", cover=make_cover("green", fmt="PNG"),
    )  # fmt: skip
    meta = read_metadata(path)
    assert meta.title == "東京の夜"
    assert meta.artists == ("Кино", "坂本龍一")
    assert meta.album == "Группа крови"
    assert meta.album_artists == ("Кино",)
    assert meta.cover is not None and meta.cover.mimetype == "image/png"


def test_artists_tag_lists_each_artist(tmp_path):
    path = make_audio(tmp_path, "feat", "ogg", title="Duet", artist="Alice feat. Bob", artists=["Alice", "Bob"])
    assert read_metadata(path).artists == ("Alice", "Bob")


def test_missing_title_and_artist_fall_back(tmp_path):
    meta = read_metadata(make_audio(tmp_path, "01 - Untitled tune", "mp3"))
    assert meta.title == "01 - Untitled tune"
    assert meta.artists == (UNKNOWN_ARTIST,)
    assert meta.album is None and meta.cover is None and meta.release_date is None


def test_invalid_musicbrainz_ids_and_numbers_are_ignored(tmp_path):
    path = make_audio(
        tmp_path, "odd", "flac", title="Odd", artist="X", mbid="not-a-uuid", artist_mbid="nope; " + ARTIST_A,
        track="A1", disc="0", date="sometime",
    )  # fmt: skip
    meta = read_metadata(path)
    assert meta.mbid is None
    assert meta.artist_mbids == (ARTIST_A,)
    assert (meta.track_number, meta.disc_number, meta.release_date) == (None, None, None)


def test_front_cover_is_preferred(tmp_path):
    path = make_audio(tmp_path, "pictures", "mp3", title="Pictures", artist="X")
    back, front = make_cover("black"), make_cover("white")
    tags = id3.ID3(path)
    tags.add(id3.APIC(encoding=3, mime="image/jpeg", type=4, desc="back", data=back))
    tags.add(id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=front))
    tags.save(path)
    assert read_metadata(path).cover.data == front


def test_other_picture_is_used_without_a_front_cover(tmp_path):
    path = make_audio(tmp_path, "other", "mp3", title="Other", artist="X")
    other = make_cover("yellow")
    tags = id3.ID3(path)
    tags.add(id3.APIC(encoding=3, mime="image/jpeg", type=0, desc="other", data=other))
    tags.save(path)
    assert read_metadata(path).cover.data == other


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "opus", "flac", "m4a"])
def test_tags_written_by_ffmpeg(tmp_path, fmt):
    """ffmpeg's own tag names (as common tools write them) are understood too."""
    path = tmp_path / f"ffmpeg.{fmt}"
    tags = {"title": "Hafið", "artist": "Björk Quartet", "album_artist": "Björk Quartet", "album": "Frozen Lakes",
            "date": "2019", "genre": "Ambient", "track": "2/3", "disc": "1/2"}  # fmt: skip
    metadata_args = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1",
         *metadata_args, str(path)],
        check=True,
    )  # fmt: skip
    meta = read_metadata(path)
    assert (meta.title, meta.artists, meta.album, meta.album_artists) == (
        "Hafið", ("Björk Quartet",), "Frozen Lakes", ("Björk Quartet",),
    )  # fmt: skip
    assert (meta.track_number, meta.disc_number) == (2, 1)
    assert meta.release_date == datetime.date(2019, 1, 1)
    assert meta.genres == ("Ambient",)


def test_wav_info_and_aiff_text_chunks(tmp_path):
    """ffmpeg tags wav files with a RIFF INFO list and aiff files with a NAME chunk, not ID3."""
    args = ["-metadata", "title=Hafið", "-metadata", "artist=Björk", "-metadata", "album=Frozen Lakes",
            "-metadata", "track=2", "-metadata", "date=2019", "-metadata", "genre=Ambient"]  # fmt: skip
    for fmt in ("wav", "aiff"):
        subprocess.run(
            [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1", *args,
             str(tmp_path / f"info.{fmt}")],
            check=True,
        )  # fmt: skip
    wav = read_metadata(tmp_path / "info.wav")
    assert (wav.title, wav.artists, wav.album, wav.track_number) == ("Hafið", ("Björk",), "Frozen Lakes", 2)
    assert (wav.release_date, wav.genres) == (datetime.date(2019, 1, 1), ("Ambient",))
    assert read_metadata(tmp_path / "info.aiff").title == "Hafið"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2019", datetime.date(2019, 1, 1)),
        ("2019-05", datetime.date(2019, 5, 1)),
        ("2019-05-14", datetime.date(2019, 5, 14)),
        ("2019-05-14T10:00:00Z", datetime.date(2019, 5, 14)),
        ("2019-13-40", datetime.date(2019, 1, 1)),
        ("released in 1999!", datetime.date(1999, 1, 1)),
        ("0000", None),
        ("12345", None),
        ("unknown", None),
        ("", None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


def test_empty_file(tmp_path):
    with pytest.raises(MetadataError) as info:
        read_metadata(make_empty(tmp_path))
    assert info.value.code == "empty_file"


def test_non_audio_bytes_named_mp3(tmp_path):
    with pytest.raises(MetadataError) as info:
        read_metadata(make_not_audio(tmp_path))
    assert info.value.code == "unsupported_format"


def test_missing_file(tmp_path):
    with pytest.raises(MetadataError) as info:
        read_metadata(tmp_path / "gone.mp3")
    assert info.value.code == "file_not_found"


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_file(tmp_path, fmt):
    with pytest.raises(MetadataError) as info:
        read_metadata(make_truncated(tmp_path, fmt))
    assert info.value.code == "corrupt_file"


def test_half_a_wav_file_is_truncated(tmp_path):
    path = make_audio(tmp_path, "half", "wav", title="Half", artist="X")
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(MetadataError) as info:
        read_metadata(path)
    assert info.value.code == "corrupt_file"


@pytest.mark.parametrize("fmt", ["mp3", "flac"])
def test_ten_megabytes_of_garbage_in_a_tag_is_ignored(tmp_path, fmt):
    meta = read_metadata(make_huge_tag(tmp_path, fmt))
    assert meta.title == "Huge tag"
    assert meta.artists == ("Garbage",)
    assert meta.comment is None


def test_find_folder_cover(tmp_path):
    audio = make_audio(tmp_path, "song", "mp3", title="Song", artist="X")
    assert find_folder_cover(audio) is None
    (tmp_path / "notes.jpg").write_bytes(make_cover())
    assert find_folder_cover(audio) is None
    (tmp_path / "Folder.JPG").write_bytes(make_cover())
    assert find_folder_cover(audio) == tmp_path / "Folder.JPG"
    (tmp_path / "cover.png").write_bytes(make_cover(fmt="PNG"))
    assert find_folder_cover(audio) == tmp_path / "cover.png"
