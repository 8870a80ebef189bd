"""Listening history over HTTP: recording a listen of a playable track, refusing others (nothing written), listing
mine by default and others' only as their privacy level allows."""

from __future__ import annotations

import pytest
import pytest_twisted

from . import catalog_factories as cf
from .test_favorites import set_privacy


@pytest.fixture
def shared_track(db_conn, alice):
    """A track in alice's `everyone` library: anyone may play it."""
    artist = cf.insert_artist(db_conn, "Nina")
    return cf.playable_track(db_conn, cf.insert_library(db_conn, alice, "everyone"), artist, "Feeling Good")


def listening_count(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM listening")
        return cur.fetchone()["n"]


@pytest_twisted.ensureDeferred
async def test_record_and_list_mine(web_server, db_conn, alice, bob, shared_track):
    a = cf.listener_client(web_server, db_conn, alice)
    for _ in range(2):
        resp = await a.post("/api/v1/history/listenings/", json_body={"track": shared_track["id"]})
        assert resp.code == 201 and resp.json["track"] == shared_track["id"], resp
    await cf.listener_client(web_server, db_conn, bob).post(
        "/api/v1/history/listenings/", json_body={"track": shared_track["id"]}
    )
    mine = await a.get("/api/v1/history/listenings/")
    assert mine.json["count"] == 2
    entry = mine.json["results"][0]
    assert entry["user"]["username"] == "alice" and entry["track"]["title"] == "Feeling Good"
    assert entry["track"]["artist"]["name"] == "Nina" and entry["creation_date"]
    assert (await a.get("/api/v1/history/listenings/", params={"scope": "all"})).json["count"] == 3


@pytest_twisted.ensureDeferred
async def test_unplayable_track_is_refused(web_server, db_conn, alice, bob):
    private = cf.playable_track(db_conn, cf.insert_library(db_conn, alice, "me"), cf.insert_artist(db_conn, "X"), "Y")
    b = cf.listener_client(web_server, db_conn, bob)
    refused = await b.post("/api/v1/history/listenings/", json_body={"track": private["id"]})
    assert refused.code == 400 and "track" in refused.json
    assert (await b.post("/api/v1/history/listenings/", json_body={})).code == 400
    anonymous = await web_server.client().post("/api/v1/history/listenings/", json_body={"track": private["id"]})
    assert anonymous.code in (401, 403)
    assert listening_count(db_conn) == 0


@pytest_twisted.ensureDeferred
async def test_others_history_follows_their_privacy(web_server, db_conn, alice, bob, shared_track):
    b = cf.listener_client(web_server, db_conn, bob)
    await b.post("/api/v1/history/listenings/", json_body={"track": shared_track["id"]})
    a = cf.listener_client(web_server, db_conn, alice)
    bobs = {"user": str(bob["id"])}

    set_privacy(db_conn, bob, "me")
    assert (await a.get("/api/v1/history/listenings/", params=bobs)).json["count"] == 0
    assert (await a.get("/api/v1/history/listenings/", params={"scope": "all"})).json["count"] == 0
    assert (await b.get("/api/v1/history/listenings/", params=bobs)).json["count"] == 1

    set_privacy(db_conn, bob, "instance")
    seen = await a.get("/api/v1/history/listenings/", params=bobs)
    assert [e["user"]["username"] for e in seen.json["results"]] == ["bob"]
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = web_server.client()
    assert (await anonymous.get("/api/v1/history/listenings/", params=bobs)).json["count"] == 0

    set_privacy(db_conn, bob, "everyone")
    assert (await anonymous.get("/api/v1/history/listenings/", params=bobs)).json["count"] == 1
    bad = await a.get("/api/v1/history/listenings/", params={"scope": "friends"})
    assert bad.code == 400


@pytest_twisted.ensureDeferred
async def test_most_listened_orderings_count_my_listens(web_server, db_conn, alice, bob):
    lib = cf.insert_library(db_conn, alice, "instance")
    nina, ray = cf.insert_artist(db_conn, "Nina"), cf.insert_artist(db_conn, "Ray")
    album = cf.insert_album(db_conn, ray, "Live")
    once = cf.playable_track(db_conn, lib, nina, "Once")
    thrice = cf.playable_track(db_conn, lib, ray, "Thrice", album)
    cf.playable_track(db_conn, lib, nina, "Never")
    a, b = cf.listener_client(web_server, db_conn, alice), cf.listener_client(web_server, db_conn, bob)
    for track, times in ((once, 1), (thrice, 3)):
        for _ in range(times):
            await a.post("/api/v1/history/listenings/", json_body={"track": track["id"]})
    for _ in range(5):  # bob's listens count for bob only
        await b.post("/api/v1/history/listenings/", json_body={"track": once["id"]})

    tracks = (await a.get("/api/v1/tracks/", params={"ordering": "-listen_count"})).json["results"]
    assert [t["title"] for t in tracks] == ["Thrice", "Once", "Never"]
    albums = (await a.get("/api/v1/albums/", params={"ordering": "-listen_count"})).json["results"]
    assert albums[0]["title"] == "Live"
    artists = (await a.get("/api/v1/artists/", params={"ordering": "-listen_count"})).json["results"]
    assert [x["name"] for x in artists] == ["Ray", "Nina"]
    bobs = (await b.get("/api/v1/tracks/", params={"ordering": "-listen_count"})).json["results"]
    assert bobs[0]["title"] == "Once"


@pytest_twisted.ensureDeferred
async def test_counts_of_pages_follow_new_listens_deletions_privacy_and_filters(
    web_server, db_conn, alice, bob, shared_track
):
    """The `count` of a page that is not the last (counted apart and cached) is right after each change: new
    listens by anyone, listens deleted behind the server's back (a cascade), another user's privacy, a content
    filter; for the viewer's own history and for everyone's."""
    a, b = (cf.listener_client(web_server, db_conn, user) for user in (alice, bob))
    other = cf.playable_track(
        db_conn, cf.insert_library(db_conn, alice, "everyone"), cf.insert_artist(db_conn, "Ray"), "Hit"
    )

    async def counts() -> tuple[int, int]:
        got = [
            (await a.get("/api/v1/history/listenings/", params={"page_size": "1", **scope})).json["count"]
            for scope in ({}, {"scope": "all"})
        ]
        return got[0], got[1]

    async def listen(client, track) -> None:
        assert (await client.post("/api/v1/history/listenings/", json_body={"track": track["id"]})).code == 201

    for client, track in ((a, shared_track), (a, other), (b, shared_track), (b, other)):
        await listen(client, track)
    assert await counts() == (2, 4)
    await listen(b, other)
    assert await counts() == (2, 5)
    await listen(a, shared_track)
    assert await counts() == (3, 6)
    set_privacy(db_conn, bob, "me")  # behind the server's back: the database's version still moves
    assert await counts() == (3, 3)
    set_privacy(db_conn, bob, "instance")
    assert await counts() == (3, 6)
    with db_conn.cursor() as cur:
        cur.execute("DELETE FROM listening WHERE user_id = %s AND track_id = %s", (bob["id"], other["id"]))
    assert await counts() == (3, 4)
    hide = {"target": {"type": "artist", "id": other["artist_id"]}}
    assert (await a.post("/api/v1/moderation/content-filters/", json_body=hide)).code == 201
    assert await counts() == (2, 3)
    assert (await b.get("/api/v1/history/listenings/", params={"page_size": "1", "scope": "all"})).json["count"] == 4
    with db_conn.cursor() as cur:  # one statement taking both users' listens of a track
        cur.execute("DELETE FROM listening WHERE track_id = %s", (shared_track["id"],))
    assert await counts() == (0, 0)
    assert (await b.get("/api/v1/history/listenings/", params={"page_size": "1", "scope": "all"})).json["count"] == 1
