"""Subsonic discovery from the instance's own tags and listens: getSimilarSongs(2), getTopSongs and the similar
artists of getArtistInfo(2); what the listener may not play or hid never comes up; one SQL statement per call."""

from __future__ import annotations

import pytest
import pytest_twisted

from . import catalog_factories as cf
from .subsonic_helpers import StatementCounter, Subsonic


@pytest.fixture
def music(db_conn, alice, bob):
    """Alice's library: Miles and Coltrane play Jazz (Coltrane's album is tagged, Miles's tracks are), Hendrix plays
    Rock; Bob keeps a private Jazz track of Coltrane's that Alice must never be offered."""
    library = cf.insert_library(db_conn, alice, "me")
    miles, coltrane, hendrix = (cf.insert_artist(db_conn, n) for n in ("Miles", "Coltrane", "Hendrix"))
    blue = [cf.playable_track(db_conn, library, miles, f"Blue {i}") for i in range(3)]
    for track in blue:
        cf.tag(db_conn, "track", track, "Jazz")
    supreme = cf.insert_album(db_conn, coltrane, "Supreme")
    cf.tag(db_conn, "album", supreme, "Jazz")
    love = [cf.playable_track(db_conn, library, coltrane, f"Love {i}", supreme) for i in range(2)]
    fire = cf.playable_track(db_conn, library, hendrix, "Fire")
    cf.tag(db_conn, "track", fire, "Rock")
    secret = cf.playable_track(db_conn, cf.insert_library(db_conn, bob, "me"), coltrane, "Secret")
    cf.tag(db_conn, "track", secret, "Jazz")
    return {"miles": miles, "coltrane": coltrane, "hendrix": hendrix, "blue": blue, "love": love, "fire": fire}


def titles(content, container) -> list[str]:
    return sorted(s["title"] for s in content[container]["song"])


@pytest_twisted.ensureDeferred
async def test_similar_songs_share_the_artist_or_its_tags(web_server, alice, music):
    api = Subsonic(web_server, alice)
    from_song = await api.ok("getSimilarSongs2", id=f"tr-{music['blue'][0]['id']}")
    assert titles(from_song, "similarSongs2") == ["Blue 1", "Blue 2", "Love 0", "Love 1"]  # not itself, not Rock
    from_artist = await api.ok("getSimilarSongs", id=f"ar-{music['coltrane']['id']}", count=10)
    assert titles(from_artist, "similarSongs") == ["Blue 0", "Blue 1", "Blue 2", "Love 0", "Love 1"]
    one = await api.ok("getSimilarSongs2", id=f"ar-{music['hendrix']['id']}", count=1)
    assert titles(one, "similarSongs2") == ["Fire"]
    assert await api.error("getSimilarSongs2", {"id": "tr-999999"}) == 70
    assert await api.error("getSimilarSongs2", {}) == 10


@pytest_twisted.ensureDeferred
async def test_top_songs_follow_the_listens_of_the_instance(web_server, db_conn, alice, bob, music):
    with db_conn.cursor() as cur:
        for track, times in ((music["blue"][2], 3), (music["blue"][1], 1)):
            for _ in range(times):
                cur.execute("INSERT INTO listening (user_id, track_id) VALUES (%s, %s)", (bob["id"], track["id"]))
    api = Subsonic(web_server, alice)
    top = await api.ok("getTopSongs", artist="miles", count=2)  # any case
    assert [s["title"] for s in top["topSongs"]["song"]] == ["Blue 2", "Blue 1"]
    with db_conn.cursor() as cur:  # a private listener's listens stay theirs
        cur.execute("UPDATE users SET privacy_level = 'me' WHERE id = %s", (bob["id"],))
    top = await api.ok("getTopSongs", artist="Miles")
    assert [s["title"] for s in top["topSongs"]["song"]] == ["Blue 0", "Blue 1", "Blue 2"]
    assert (await api.ok("getTopSongs", artist="Nobody"))["topSongs"] == {"song": []}


@pytest_twisted.ensureDeferred
async def test_similar_artists_share_tags_and_respect_filters(web_server, db_conn, alice, music):
    api = Subsonic(web_server, alice)
    info = (await api.ok("getArtistInfo2", id=f"ar-{music['miles']['id']}"))["artistInfo2"]
    assert [a["name"] for a in info["similarArtist"]] == ["Coltrane"]
    legacy = await api.xml("getArtistInfo", id=f"ar-{music['coltrane']['id']}")
    assert [e.get("name") for e in legacy.iter() if e.tag.endswith("similarArtist")] == ["Miles"]
    with db_conn.cursor() as cur:
        hidden = (alice["id"], music["coltrane"]["id"])
        cur.execute("INSERT INTO user_filter (user_id, target_artist_id) VALUES (%s, %s)", hidden)
    info = (await api.ok("getArtistInfo2", id=f"ar-{music['miles']['id']}"))["artistInfo2"]
    assert info["similarArtist"] == []
    similar = await api.ok("getSimilarSongs2", id=f"ar-{music['miles']['id']}")
    assert titles(similar, "similarSongs2") == ["Blue 0", "Blue 1", "Blue 2"]


@pytest_twisted.ensureDeferred
async def test_one_statement_per_call(web_server, alice, music):
    api, counter = Subsonic(web_server, alice), StatementCounter(web_server)
    calls = [
        ("getSimilarSongs2", {"id": f"al-{music['love'][0]['album_id']}"}),
        ("getTopSongs", {"artist": "Miles"}),
        ("getArtistInfo2", {"id": f"ar-{music['miles']['id']}"}),
    ]
    for method, params in calls:
        counter.executed.clear()
        await api.ok(method, **params)
        assert len(counter.executed) == 1, method
