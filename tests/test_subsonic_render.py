"""Subsonic rendering details that the HTTP tests see only in part: dates as PostgreSQL writes them into JSON, and
songs built without None in both formats."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from funkwhale.music import sources
from funkwhale.subsonic import render, serializers, store


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-05T07:05:27.123456+00:00",
        "2026-12-05T07:05:27.1+00:00",
        "2026-12-05T07:05:27+00:00",
        "2026-12-05T08:05:27.987654+01:00",
        "1999-01-01T00:00:00.0009+00:00",
    ],
)
def test_a_date_from_json_reads_as_the_same_instant_in_utc(text):
    assert render.iso(text) == render.iso(datetime.fromisoformat(text))
    assert render.iso(text).endswith("Z")


def test_a_song_without_optional_facts_has_no_null_in_json_or_xml():
    row = {
        "id": 7, "title": "Tune", "position": None, "disc_number": None, "mbid": None, "creation_date": None,
        "album_id": None, "artist_id": None, "own_cover": False, "artist_name": None, "album_title": None,
        "album_artist_id": None, "album_artist_name": None, "album_cover": False, "year": None, "mimetype": None,
        "size": None, "duration": None, "bitrate": None, "sample_rate": None, "audio_file": None, "source": None,
        "original_name": None, "replaygain": {"track_gain": None, "album_gain": -6.5}, "genres": [None, "Jazz"],
        "starred": None, "rating": None, "played": None, "play_count": None, "ord": 1,
    }  # fmt: skip
    body = {"searchResult3": {"song": [serializers.song(store.song_row(row))]}}
    song = orjson.loads(render.render(render.envelope(body), "json", None)[0])["subsonic-response"]
    song = song["searchResult3"]["song"][0]
    assert None not in song.values()
    assert "year" not in song and "starred" not in song and "albumId" not in song
    assert song["genres"] == [{"name": "Jazz"}] and song["genre"] == "Jazz"
    assert song["replayGain"] == {"albumGain": -6.5}
    xml = render.render(render.envelope(body), "xml", None)[0].decode()
    assert "None" not in xml and ' year="' not in xml and 'genre="Jazz"' in xml


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-12-05 07:05:27.123456+00",
        "2026-12-05 08:05:27.9999+01",
        "1999-01-01 00:00:00+00",
        "2024-02-29 23:59:59.5-05",
    ],
)
def test_a_date_postgresql_writes_is_the_one_python_would_write(db_conn, stamp):
    with db_conn.cursor() as cur:
        cur.execute(f"SELECT {store.iso_sql('%(t)s::timestamptz')} AS text, %(t)s::timestamptz AS value", {"t": stamp})
        row = cur.fetchone()
    assert row["text"] == render.iso(row["value"])
    assert render.iso(row["text"]) == row["text"]  # passed on as it is


def test_albums_and_artists_without_optional_facts_have_no_null_and_count_as_one_item_each():
    album = {
        "id": 3, "title": None, "mbid": None, "creation_date": "2026-12-05T07:05:27.123Z", "artist_id": 2,
        "artist_name": None, "has_cover": False, "year": None, "song_count": None, "duration": None, "genres": None,
        "starred": None, "rating": None, "played": None, "play_count": None,
    }  # fmt: skip
    artist = {"id": 2, "name": "A", "mbid": None, "has_cover": False, "album_count": 1, "starred": None}
    shapes = (serializers.album, serializers.album_child, serializers.artist, serializers.index_artist)
    elements = [shape(artist if "artist" in shape.__name__ else album) for shape in shapes]
    for element in elements:  # built without None: the JSON writer takes them as they are
        assert type(element) is render.Clean and None not in element.values()
    body = {"searchResult3": {"album": elements}}
    answer = orjson.loads(render.render(render.envelope(body), "json", None)[0])["subsonic-response"]
    for element in answer["searchResult3"]["album"]:
        assert None not in element.values() and "coverArt" not in element and "starred" not in element
    xml = render.render(render.envelope(body), "xml", None)[0].decode()
    assert "None" not in xml and ' year="' not in xml
    many = {"albumList2": {"album": [serializers.album(album)] * (render.LARGE + 1)}}
    assert render.is_large(many) and not render.is_large({"albumList2": {"album": [serializers.album(album)]}})


def test_a_piece_kept_written_renders_as_the_tree_it_was_written_from():
    items = [
        {"name": "A", "artist": [{"id": "ar-1", "name": "Ab & <c>", "starred": None, "albumCount": 2}]},
        {"name": "#", "artist": [{"id": "ar-2", "name": "\u0001Zed \"q\"", "coverArt": None}]},
        None,
    ]
    for fmt, callback in (("json", None), ("xml", None), ("jsonp", "cb"), ("unknown", None)):
        written = render.written_as(fmt, callback)
        spliced = render.piece(written, render.write_piece(written, "index", items))
        tree = {"artists": {"ignoredArticles": "The", "index": items}}
        kept = {"artists": {"ignoredArticles": "The", "index": spliced}}
        assert render.render(kept, fmt, callback) == render.render(tree, fmt, callback)


def test_a_songs_suffix_comes_from_its_files_name_whatever_characters_it_holds(tmp_path):
    """In-place uploads have no stored file name: the extension is read from the source URI's last segment."""
    cases = [("What?.mp3", "mp3"), ("A#1.FLAC", "flac"), ("100%25 Pure.ogg", "ogg"), ("Café.m4a", "m4a")]
    for name, extension in cases:
        assert serializers.suffix(None, sources.file_uri(tmp_path / name), None, None) == extension, name
    in_a_dotted_folder = sources.file_uri(tmp_path / "Best.of.opus" / "Track")
    assert serializers.suffix(None, in_a_dotted_folder, None, "audio/flac") == "flac"
    assert serializers.suffix(None, "https://peer.example/files/a.ogg", "b.opus", None) == "opus"
