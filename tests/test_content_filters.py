"""Content filters over HTTP: a listener hides an artist from their own lists and search (the artist, their albums,
their tracks and the tracks of their albums), other listeners still see it, removing the filter brings it back;
bad targets are refused and nothing is written."""

from __future__ import annotations

import pytest
import pytest_twisted

from . import catalog_factories as cf


@pytest.fixture
def catalog(db_conn, alice):
    """Nina's album holding one of her tracks and one guest track by Ray; and a track by Ray alone."""
    lib = cf.insert_library(db_conn, alice, "instance")
    nina, ray = cf.insert_artist(db_conn, "Nina"), cf.insert_artist(db_conn, "Ray")
    album = cf.insert_album(db_conn, nina, "Live")
    cf.playable_track(db_conn, lib, nina, "Feeling Good", album)
    cf.playable_track(db_conn, lib, ray, "Guest Song", album)
    cf.playable_track(db_conn, lib, ray, "Hit The Road")
    return nina


async def visible(client) -> dict[str, list[str]]:
    """The names a client sees in the artist, album and track lists and in a search for every track."""
    seen = {}
    for kind, key in (("artists", "name"), ("albums", "title"), ("tracks", "title")):
        resp = await client.get(f"/api/v1/{kind}/", params={"ordering": key})
        seen[kind] = [r[key] for r in resp.json["results"]]
    found = await client.get("/api/v1/search", params={"query": "o"})
    seen["search"] = sorted(t["title"] for t in found.json["tracks"])
    return seen


def filter_count(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM user_filter")
        return cur.fetchone()["n"]


@pytest_twisted.ensureDeferred
async def test_hidden_artist_disappears_for_that_listener_only(web_server, db_conn, alice, bob, catalog):
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    everything = await visible(a)
    assert everything["artists"] == ["Nina", "Ray"] and everything["tracks"] == [
        "Feeling Good",
        "Guest Song",
        "Hit The Road",
    ]

    created = await a.post(
        "/api/v1/moderation/content-filters/", json_body={"target": {"type": "artist", "id": catalog["id"]}}
    )
    assert created.code == 201, created
    assert created.json["target"] == {"type": "artist", "id": catalog["id"], "name": "Nina"}
    listed = await a.get("/api/v1/moderation/content-filters/")
    assert listed.json["count"] == 1 and listed.json["results"][0]["uuid"] == created.json["uuid"]

    assert await visible(a) == {
        "artists": ["Ray"],
        "albums": [],
        "tracks": ["Hit The Road"],
        "search": ["Hit The Road"],
    }
    assert await visible(b) == everything
    assert (await a.get(f"/api/v1/artists/{catalog['id']}/")).code == 200  # details stay reachable

    assert (await b.delete(f"/api/v1/moderation/content-filters/{created.json['uuid']}/")).code == 404
    assert (await a.delete(f"/api/v1/moderation/content-filters/{created.json['uuid']}/")).code == 204
    assert await visible(a) == everything


@pytest_twisted.ensureDeferred
async def test_bad_targets_are_refused(web_server, db_conn, alice, catalog):
    a = cf.listener_client(web_server, db_conn, alice)
    url = "/api/v1/moderation/content-filters/"
    assert (await a.post(url, json_body={"target": {"type": "artist", "id": catalog["id"]}})).code == 201
    duplicate = await a.post(url, json_body={"target": {"type": "artist", "id": catalog["id"]}})
    assert duplicate.code == 400 and "target" in duplicate.json
    for target in ({"type": "artist", "id": 999999}, {"type": "album", "id": 1}, {"type": "artist"}, None):
        resp = await a.post(url, json_body={"target": target})
        assert resp.code == 400 and "target" in resp.json, (target, resp)
    assert (await a.delete(f"{url}not-a-uuid/")).code == 404
    assert (await web_server.client().get(url)).code in (401, 403)
    assert filter_count(db_conn) == 1


@pytest_twisted.ensureDeferred
async def test_hidden_artist_leaves_radios_favorites_and_history(web_server, db_conn, alice, bob, catalog):
    from .test_radios import draw_all, session

    a = cf.listener_client(web_server, db_conn, alice)
    titles = {}
    for track in (await a.get("/api/v1/tracks/")).json["results"]:
        titles[track["id"]] = track["title"]
        assert (await a.post("/api/v1/favorites/tracks/", json_body={"track": track["id"]})).code == 201
        assert (await a.post("/api/v1/history/listenings/", json_body={"track": track["id"]})).code == 201
    await a.post("/api/v1/moderation/content-filters/", json_body={"target": {"type": "artist", "id": catalog["id"]}})

    radio = sorted(titles[t] for t in await draw_all(a, (await session(a, "random"))["id"]))
    assert radio == ["Hit The Road"]  # Nina's track and the guest track on her album are both gone
    for url in ("/api/v1/favorites/tracks/", "/api/v1/history/listenings/"):
        assert [e["track"]["title"] for e in (await a.get(url)).json["results"]] == ["Hit The Road"], url
    assert len((await a.get("/api/v1/favorites/tracks/all/")).json["results"]) == 3  # ids for the heart icons
    b = cf.listener_client(web_server, db_conn, bob)
    others = await b.get("/api/v1/favorites/tracks/", params={"user": str(alice["id"])})
    assert others.json["count"] == 3  # bob filters nothing
