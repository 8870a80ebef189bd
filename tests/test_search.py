"""/api/v1/search over HTTP: accents, case, typos, ranking, non-Latin names, privacy, tags."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from urllib.parse import quote

import pytest
import pytest_twisted

from . import catalog_factories as cf


@pytest.fixture
def library(db_conn, alice):
    return cf.insert_library(db_conn, alice, "instance")


def artist_with_track(conn, library, name, title="Song", album_title=None):
    artist = cf.insert_artist(conn, name)
    album = cf.insert_album(conn, artist, album_title) if album_title else None
    cf.playable_track(conn, library, artist, title, album)
    return artist


async def search(client, text: str, param: str = "query") -> dict:
    resp = await client.get(f"/api/v1/search?{param}={quote(text)}")
    assert resp.code == 200, resp
    return resp.json


def names(found: dict, kind: str) -> list[str]:
    return [x.get("name") or x.get("title") for x in found[kind]]


@pytest_twisted.ensureDeferred
async def test_accents_case_typos_and_scripts(web_server, db_conn, alice, library):
    artist_with_track(db_conn, library, "Beyoncé", "Halo", "I Am... Sasha Fierce")
    artist_with_track(db_conn, library, "Metallica", "One")
    artist_with_track(db_conn, library, "The Night Owls", "Headlights")
    artist_with_track(db_conn, library, "坂本 Trio", "雨", "東京の夜")
    artist_with_track(db_conn, library, "Кино", "Группа крови")
    artist_with_track(db_conn, library, "Sigur Rós", "Hoppípolla")
    me = cf.listener_client(web_server, db_conn, alice)

    assert names(await search(me, "Beyonce"), "artists") == ["Beyoncé"]
    assert names(await search(me, "BEYONCÉ", "q"), "artists") == ["Beyoncé"]
    assert names(await search(me, "Metalica"), "artists") == ["Metallica"]
    assert names(await search(me, "nigth owls"), "artists") == ["The Night Owls"]
    assert names(await search(me, "sigur ros"), "artists") == ["Sigur Rós"]
    assert names(await search(me, "hoppipolla"), "tracks") == ["Hoppípolla"]
    assert names(await search(me, "坂本"), "artists") == ["坂本 Trio"]
    assert names(await search(me, "東京"), "albums") == ["東京の夜"]
    assert names(await search(me, "кино"), "artists") == ["Кино"]
    assert names(await search(me, "группа"), "tracks") == ["Группа крови"]
    found = await search(me, "sasha fierce")
    assert names(found, "albums") == ["I Am... Sasha Fierce"] and names(found, "tracks") == ["Halo"]
    assert found["albums"][0]["artist"]["name"] == "Beyoncé" and found["tracks"][0]["uploads"]
    assert names(await search(me, "zzzzqqq"), "artists") == []


@pytest_twisted.ensureDeferred
async def test_ranking_exact_then_prefix_then_fuzzy(web_server, db_conn, alice, library):
    for name in ("Queens of the Stone Age", "Queen Latifah", "Queensryche", "Queen", "Quen"):
        artist_with_track(db_conn, library, name)
    me = cf.listener_client(web_server, db_conn, alice)
    ranked = names(await search(me, "queen"), "artists")
    assert ranked[0] == "Queen"
    assert set(ranked[1:4]) == {"Queen Latifah", "Queensryche", "Queens of the Stone Age"}
    assert ranked[4:] == ["Quen"]


@pytest_twisted.ensureDeferred
async def test_tracks_and_albums_rank_by_their_artists_and_albums_names_too(web_server, db_conn, alice, library):
    # each match's tier is the best of its own name's and (through the search's matched artists and albums) its
    # artist's or album's: exact 0, prefix 1, substring 2, fuzzy 3, one more through an artist or album
    artist_with_track(db_conn, library, "Zorblax", "Nothing Alike", "Plain Record")  # artist exact: tier 1
    artist_with_track(db_conn, library, "Someone", "The Zorblax Way")  # title substring: tier 2
    artist_with_track(db_conn, library, "Other", "Zorblax Rising")  # title prefix: tier 1, closest title first
    artist_with_track(db_conn, library, "Third", "Untitled", "Hail Zorblax")  # album substring: tier 3
    artist_with_track(db_conn, library, "Fourth", "Zorblux")  # title fuzzy: tier 3, its title closer than "Untitled"
    me = cf.listener_client(web_server, db_conn, alice)
    found = await search(me, "zorblax")
    assert names(found, "tracks") == ["Zorblax Rising", "Nothing Alike", "The Zorblax Way", "Zorblux", "Untitled"]
    assert names(found, "albums") == ["Plain Record", "Hail Zorblax"]  # the artist's exact name: tier 1, then 2


@pytest_twisted.ensureDeferred
async def test_many_matching_tracks_are_tested_against_the_libraries_at_once(web_server, db_conn, alice, bob):
    # more tracks match than a search probes one by one (store.SEARCH_PROBED_TRACKS): the visibility facts are
    # hashed instead, and each listener still finds only what they may play, ranked the same way
    band = cf.insert_artist(db_conn, "Manyfold")
    mine, theirs = cf.insert_library(db_conn, alice, "me"), cf.insert_library(db_conn, bob, "me")
    for title in ("Manyfold Zed", "Manyfold Yon"):
        cf.playable_track(db_conn, mine, band, title)
    with db_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO track (fid, title, title_key, artist_id) SELECT 'https://x.test/t/' || n,"
            " 'Manyfold ' || n, 'manyfold ' || n, %s FROM generate_series(1, 2001) n",
            (band["id"],),
        )
        cur.execute(
            "INSERT INTO upload (fid, library_id, track_id, import_status, mimetype, size, duration, bitrate,"
            " audio_file) SELECT 'https://x.test/u/' || id, %s, id, 'finished', 'audio/mpeg', 1, 1, 1, 'a.mp3'"
            " FROM track WHERE title_key LIKE 'manyfold %%' AND id NOT IN (SELECT track_id FROM upload)",
            (theirs["id"],),
        )
    as_alice = cf.listener_client(web_server, db_conn, alice)
    as_bob = cf.listener_client(web_server, db_conn, bob)
    assert sorted(names(await search(as_alice, "manyfold"), "tracks")) == ["Manyfold Yon", "Manyfold Zed"]
    assert names(await search(as_bob, "manyfold"), "tracks") == [f"Manyfold {n}" for n in range(1, 11)]


@pytest_twisted.ensureDeferred
async def test_search_shape_limits_privacy_and_tags(web_server, db_conn, alice, library):
    bob = cf.insert_listener(db_conn, "bob")
    private = cf.insert_library(db_conn, alice, "me")
    for i in range(12):
        shown = artist_with_track(db_conn, library, f"Echo {i:02d}")
    hidden = cf.insert_artist(db_conn, "Echo Secret")
    cf.playable_track(db_conn, private, hidden, "Echo Private Track")
    for tag_name in ("Echo-Pop", "Dub Echo", "Rock"):
        cf.tag(db_conn, "artist", shown, tag_name)
    cf.tag(db_conn, "artist", hidden, "Echo Noir")  # only on what Bob may not play
    as_bob = cf.listener_client(web_server, db_conn, bob)
    as_alice = cf.listener_client(web_server, db_conn, alice)

    found = await search(as_bob, "echo")
    assert set(found) == {"artists", "albums", "tracks", "tags"}
    assert len(found["artists"]) == 10 and "Echo Secret" not in names(found, "artists")
    assert len(found["tracks"]) == 10 and "Echo Private Track" not in names(found, "tracks")
    assert names(found, "tags") == ["Echo-Pop", "Dub Echo"] and set(found["tags"][0]) == {"name", "creation_date"}
    assert {"albums", "tracks_count", "cover", "tags"} <= set(found["artists"][0])
    assert names(await search(as_alice, "echo secret"), "artists") == ["Echo Secret"]
    assert names(await search(as_alice, "echo noir"), "tags") == ["Echo Noir"]
    assert names(await search(as_alice, "echo private"), "tracks") == ["Echo Private Track"]

    for path in ("/api/v1/search?query=", "/api/v1/search?query=%20%20", "/api/v1/search"):
        resp = await as_bob.get(path)
        assert resp.code == 400 and resp.json["detail"] == "empty query", resp
    assert (await search(as_bob, "!!!"))["artists"] == []


@pytest_twisted.ensureDeferred
async def test_search_answers_what_the_lists_answer(web_server, db_conn, alice, bob):
    """Each artist, album, track and tag a search finds is the JSON its list gives (one statement answers the four
    kinds as JSON, whose dates PostgreSQL writes its own way), for an anonymous visitor, the owner of a private
    library and a listener hiding an artist."""
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    public, private = cf.insert_library(db_conn, bob, "everyone"), cf.insert_library(db_conn, alice, "me")
    tenth = datetime(2024, 5, 1, 12, 0, 0, 100000, tzinfo=UTC)  # isoformat: .100000, PostgreSQL's JSON: .1
    whole = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    band = cf.insert_artist(db_conn, "Lumen Band", creation_date=tenth, mbid=uuid.uuid4(), description="a <b>")
    other = cf.insert_artist(db_conn, "Lumen Other", creation_date=whole)
    secret = cf.insert_artist(db_conn, "Lumen Secret", creation_date=tenth)
    album = cf.insert_album(db_conn, band, "Lumen Album", creation_date=whole, release_date=date(1999, 1, 2))
    cf.playable_track(db_conn, public, band, "Lumen One", album, creation_date=tenth, mbid=uuid.uuid4())
    cf.playable_track(db_conn, public, other, "Lumen Two", creation_date=whole)
    cf.playable_track(db_conn, private, secret, "Lumen Three", cf.insert_album(db_conn, secret, "Lumen Hidden"))
    for artist, name in ((band, "Lumen Pop"), (secret, "Lumen Noir")):
        cf.tag(db_conn, "artist", artist, name)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE tag SET creation_date = %s", (tenth,))
    as_alice = cf.listener_client(web_server, db_conn, alice)
    hidden = await as_alice.post(
        "/api/v1/moderation/content-filters/", json_body={"target": {"type": "artist", "id": other["id"]}}
    )
    assert hidden.code == 201, hidden
    viewers = {
        "anonymous": web_server.client(),
        "alice": as_alice,
        "bob": cf.listener_client(web_server, db_conn, bob),
    }
    seen = {}
    for name, client in viewers.items():
        found = await search(client, "lumen")
        for kind in ("artists", "albums", "tracks", "tags"):
            listed = (await client.get(f"/api/v1/{kind}/", params={"q": "lumen"})).json["results"]
            key = "name" if kind == "tags" else "id"
            assert {x[key]: x for x in found[kind]} == {x[key]: x for x in listed}, (name, kind)
        seen[name] = {kind: sorted(names(found, kind)) for kind in ("artists", "tracks", "tags")}
    public_names = {
        "artists": ["Lumen Band", "Lumen Other"],
        "tracks": ["Lumen One", "Lumen Two"],
        "tags": ["Lumen Pop"],
    }
    assert seen == {
        "anonymous": public_names,
        "bob": public_names,
        "alice": {
            "artists": ["Lumen Band", "Lumen Secret"],
            "tracks": ["Lumen One", "Lumen Three"],
            "tags": ["Lumen Noir", "Lumen Pop"],
        },
    }
    found = await search(viewers["anonymous"], "lumen band")
    assert found["artists"][0]["creation_date"] == "2024-05-01T12:00:00.100000+00:00"
    assert found["albums"][0]["creation_date"] == "2024-05-01T12:00:00+00:00"


def test_trigram_indexes_keep_a_short_pending_list(db_conn):
    """Every search scans a trigram index's whole pending list (entries not merged yet): after an import of a
    thousand tracks it holds at most 64 kB (8 pages), not the server's default of 4 MB."""
    artist = cf.insert_artist(db_conn, "Pending")
    with db_conn.cursor() as cur:
        cur.execute("SELECT gin_clean_pending_list('track_title_key_trgm'::regclass)")
        cur.execute(
            "INSERT INTO track (fid, title, title_key, artist_id) SELECT 'https://x/' || n, 'Song ' || md5(n::text),"
            " 'song ' || md5(n::text), %s FROM generate_series(1, 1000) n",
            (artist["id"],),
        )
        cur.execute("SELECT gin_clean_pending_list('track_title_key_trgm'::regclass) AS pages")
        assert cur.fetchone()["pages"] <= 8


def test_small_trigram_indexes_have_no_pending_list(db_conn):
    """New artists, albums and tags go straight into their trigram indexes: no search reads a pending list of
    them, which autovacuum would leave unmerged until 1,000 more inserts."""
    artist = cf.insert_artist(db_conn, "Pending")
    with db_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO artist (fid, name, name_key) SELECT 'https://x/a' || n, md5(n::text), md5(n::text)"
            " FROM generate_series(1, 100) n"
        )
        cur.execute(
            "INSERT INTO album (fid, title, title_key, artist_id) SELECT 'https://x/b' || n, md5(n::text),"
            " md5(n::text), %s FROM generate_series(1, 100) n",
            (artist["id"],),
        )
        cur.execute("INSERT INTO tag (name) SELECT md5(n::text) FROM generate_series(1, 100) n")
        for index in ("artist_name_key_trgm", "album_title_key_trgm", "tag_name_trgm"):
            cur.execute("SELECT gin_clean_pending_list(%s::regclass) AS pages", (index,))
            assert cur.fetchone()["pages"] == 0, index
