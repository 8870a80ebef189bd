"""Favorites over HTTP: add (twice is fine), list with the track nested, `all/`, remove; a track the caller may
not play is refused and nothing is written; others' favorites follow their privacy level."""

from __future__ import annotations

import pytest
import pytest_twisted

from . import catalog_factories as cf


@pytest.fixture
def tracks(db_conn, alice, bob):
    """(two tracks in alice's private library, one in bob's private library)."""
    artist = cf.insert_artist(db_conn, "Nina")
    album = cf.insert_album(db_conn, artist, "Live")
    mine = cf.insert_library(db_conn, alice, "me")
    theirs = cf.insert_library(db_conn, bob, "me")
    return (
        cf.playable_track(db_conn, mine, artist, "Feeling Good", album),
        cf.playable_track(db_conn, mine, artist, "Sinnerman"),
        cf.playable_track(db_conn, theirs, artist, "Secret"),
    )


def set_privacy(conn, user, level: str) -> None:
    with conn.cursor() as cur:
        cur.execute("UPDATE users SET privacy_level = %s WHERE id = %s", (level, user["id"]))


def favorite_count(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM track_favorite")
        return cur.fetchone()["n"]


@pytest_twisted.ensureDeferred
async def test_add_list_all_remove(web_server, db_conn, alice, tracks):
    a = cf.listener_client(web_server, db_conn, alice)
    first, second, _ = tracks
    created = await a.post("/api/v1/favorites/tracks/", json_body={"track": first["id"]})
    assert created.code == 201, created
    assert created.json["track"] == first["id"]
    again = await a.post("/api/v1/favorites/tracks/", form={"track": str(first["id"])})
    assert again.code == 201 and again.json["id"] == created.json["id"]
    await a.post("/api/v1/favorites/tracks/", json_body={"track": second["id"]})

    listed = await a.get("/api/v1/favorites/tracks/")
    assert listed.code == 200 and listed.json["count"] == 2
    newest = listed.json["results"][0]
    assert newest["track"]["id"] == second["id"] and newest["track"]["title"] == "Sinnerman"
    assert newest["user"]["username"] == "alice" and newest["track"]["uploads"]
    oldest = await a.get("/api/v1/favorites/tracks/", params={"ordering": "creation_date"})
    assert [f["track"]["id"] for f in oldest.json["results"]] == [first["id"], second["id"]]
    found = await a.get("/api/v1/favorites/tracks/", params={"q": "feeling"})
    assert [f["track"]["album"]["title"] for f in found.json["results"]] == ["Live"]

    every = await a.get("/api/v1/favorites/tracks/all/")
    assert every.json["count"] == 2
    assert {f["track"] for f in every.json["results"]} == {first["id"], second["id"]}

    removed = await a.post("/api/v1/favorites/tracks/remove/", json_body={"track": first["id"]})
    assert removed.code == 204
    assert (await a.delete("/api/v1/favorites/tracks/remove/", json_body={"track": first["id"]})).code == 404
    assert [f["track"] for f in (await a.get("/api/v1/favorites/tracks/all/")).json["results"]] == [second["id"]]


@pytest_twisted.ensureDeferred
async def test_refusals_write_nothing(web_server, db_conn, alice, tracks):
    a = cf.listener_client(web_server, db_conn, alice)
    secret = tracks[2]
    refused = await a.post("/api/v1/favorites/tracks/", json_body={"track": secret["id"]})
    assert refused.code == 400 and "track" in refused.json
    assert (await a.post("/api/v1/favorites/tracks/", json_body={"track": 999999})).code == 400
    missing = await a.post("/api/v1/favorites/tracks/", json_body={})
    assert missing.code == 400 and missing.json["track"] == ["This field is required."]
    assert (await a.post("/api/v1/favorites/tracks/", json_body={"track": "abc"})).code == 400
    anonymous = await web_server.client().post("/api/v1/favorites/tracks/", json_body={"track": tracks[0]["id"]})
    assert anonymous.code in (401, 403)
    assert favorite_count(db_conn) == 0


@pytest_twisted.ensureDeferred
async def test_others_favorites_follow_their_privacy(web_server, db_conn, alice, bob):
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    public = cf.insert_library(db_conn, alice, "everyone")  # others see only favorites they may play
    hit = cf.playable_track(db_conn, public, cf.insert_artist(db_conn, "Ray"), "Hit")
    await a.post("/api/v1/favorites/tracks/", json_body={"track": hit["id"]})
    assert (await b.get("/api/v1/favorites/tracks/")).json["count"] == 0  # only the caller's by default

    set_privacy(db_conn, alice, "me")
    assert (await b.get("/api/v1/favorites/tracks/", params={"user": str(alice["id"])})).json["count"] == 0
    assert (await b.get("/api/v1/favorites/tracks/", params={"scope": "all"})).json["count"] == 0
    assert (await a.get("/api/v1/favorites/tracks/", params={"user": str(alice["id"])})).json["count"] == 1

    set_privacy(db_conn, alice, "instance")
    seen = await b.get("/api/v1/favorites/tracks/", params={"user": str(alice["id"])})
    assert [f["track"]["id"] for f in seen.json["results"]] == [hit["id"]]
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = web_server.client()
    assert (await anonymous.get("/api/v1/favorites/tracks/", params={"user": str(alice["id"])})).json["count"] == 0

    set_privacy(db_conn, alice, "everyone")
    assert (await anonymous.get("/api/v1/favorites/tracks/", params={"user": str(alice["id"])})).json["count"] == 1
