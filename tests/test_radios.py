"""Radios over HTTP: sessions of each built-in type that never repeat a track and only offer playable ones,
custom radios (CRUD, filters, their track list), refusals."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from . import catalog_factories as cf


@pytest.fixture
def music(db_conn, alice, bob):
    """Alice's library: 4 tracks by Nina (2 on a "jazz" album), 2 by Otis; bob's private library: 1 track."""
    lib = cf.insert_library(db_conn, alice, "me")
    nina, otis = cf.insert_artist(db_conn, "Nina"), cf.insert_artist(db_conn, "Otis")
    album = cf.insert_album(db_conn, nina, "Live")
    cf.tag(db_conn, "album", album, "jazz")
    tracks = [cf.playable_track(db_conn, lib, nina, f"Nina {i}", album if i < 2 else None) for i in range(4)]
    tracks += [cf.playable_track(db_conn, lib, otis, f"Otis {i}") for i in range(2)]
    cf.tag(db_conn, "track", tracks[5], "Soul")
    hidden = cf.playable_track(db_conn, cf.insert_library(db_conn, bob, "me"), otis, "Bob's secret")
    return {"lib": lib, "tracks": tracks, "hidden": hidden, "nina": nina, "otis": otis}


async def session(client, radio_type: str, **fields) -> dict:
    resp = await client.post("/api/v1/radios/sessions/", json_body={"radio_type": radio_type, **fields})
    assert resp.code == 201, resp
    return resp.json


async def draw_all(client, session_id: int) -> list[int]:
    """Every track the session offers until it says there is no more."""
    seen = []
    while True:
        resp = await client.post("/api/v1/radios/tracks/", json_body={"session": session_id})
        if resp.code == 404:
            assert resp.json["detail"] == "No more tracks in this radio."
            return seen
        assert resp.code == 201, resp
        assert resp.json["position"] == len(seen) + 1 and resp.json["session"] == session_id and resp.json["id"]
        seen.append(resp.json["track"]["id"])
        assert len(seen) <= 20, "the radio never ends"


def ids(music, *indexes: int) -> list[int]:
    return sorted(music["tracks"][i]["id"] for i in indexes)


@pytest_twisted.ensureDeferred
async def test_random_session_plays_each_playable_track_once(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    created = await session(a, "random")
    assert created["radio_type"] == "random" and created["user"] == alice["id"] and created["custom_radio"] is None
    seen = await draw_all(a, created["id"])
    assert len(seen) == len(set(seen)) == 6
    assert sorted(seen) == ids(music, *range(6))  # never bob's private track
    first = await a.post("/api/v1/radios/tracks/", json_body={"session": (await session(a, "random"))["id"]})
    assert first.json["track"]["title"].startswith(("Nina", "Otis")) and first.json["track"]["uploads"]
    # Another user cannot draw from alice's session.
    b = cf.listener_client(web_server, db_conn, bob)
    assert (await b.post("/api/v1/radios/tracks/", json_body={"session": created["id"]})).code == 404
    # Alice's library is private too: bob's radio offers only his own track.
    assert await draw_all(b, (await session(b, "random"))["id"]) == [music["hidden"]["id"]]


@pytest.mark.parametrize(
    ("radio_type", "related", "expected"),
    [("tag", "JAZZ", (0, 1)), ("tag", "soul", (5,)), ("artist", "otis", (4, 5)), ("library", "lib", range(6))],
)
@pytest_twisted.ensureDeferred
async def test_related_object_types(web_server, db_conn, alice, music, radio_type, related, expected):
    a = cf.listener_client(web_server, db_conn, alice)
    value = {"otis": music["otis"]["id"], "lib": str(music["lib"]["uuid"])}.get(related, related)
    created = await session(a, radio_type, related_object_id=value)
    assert created["related_object_id"] == str(value)
    assert sorted(await draw_all(a, created["id"])) == ids(music, *expected)


@pytest_twisted.ensureDeferred
async def test_favorites_and_less_listened(web_server, db_conn, alice, music):
    a = cf.listener_client(web_server, db_conn, alice)
    with db_conn.cursor() as cur:
        for i in (1, 3):
            cur.execute(
                "INSERT INTO track_favorite (user_id, track_id) VALUES (%s, %s)",
                (alice["id"], music["tracks"][i]["id"]),
            )
        for i, times in enumerate([3, 1, 0, 0, 2, 1]):
            for _ in range(times):
                cur.execute(
                    "INSERT INTO listening (user_id, track_id) VALUES (%s, %s)", (alice["id"], music["tracks"][i]["id"])
                )
    assert sorted(await draw_all(a, (await session(a, "favorites"))["id"])) == ids(music, 1, 3)
    order = await draw_all(a, (await session(a, "less-listened"))["id"])
    assert sorted(order[:2]) == ids(music, 2, 3)  # never listened first
    assert sorted(order[2:4]) == ids(music, 1, 5)
    assert order[4:] == [music["tracks"][4]["id"], music["tracks"][0]["id"]]


@pytest_twisted.ensureDeferred
async def test_session_refusals(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    bad = [
        {"radio_type": "similar"},
        {"radio_type": "tag", "related_object_id": "polka"},
        {"radio_type": "tag"},
        {"radio_type": "artist", "related_object_id": 999999},
        {"radio_type": "artist", "related_object_id": "x"},
        {"radio_type": "artist", "related_object_id": str(2**70)},
        {"radio_type": "library", "related_object_id": "not-a-uuid"},
        {"radio_type": "custom", "custom_radio": 999999},
    ]
    for body in bad:
        resp = await a.post("/api/v1/radios/sessions/", json_body=body)
        assert resp.code == 400, (body, resp)
    # bob's private library is unknown to alice.
    resp = await a.post(
        "/api/v1/radios/sessions/",
        json_body={
            "radio_type": "library",
            "related_object_id": str(cf.insert_library(db_conn, bob, "me", "b")["uuid"]),
        },
    )
    assert resp.code == 400 and "related_object_id" in resp.json
    assert (await a.post("/api/v1/radios/tracks/", json_body={"session": 999999})).code == 404
    assert (
        await cf.ApiClient(web_server.base).post("/api/v1/radios/sessions/", json_body={"radio_type": "random"})
    ).code in (401, 403)
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM radio_session")
        assert cur.fetchone()["n"] == 0


@pytest_twisted.ensureDeferred
async def test_custom_radios(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    filters = (await a.get("/api/v1/radios/radios/filters/")).json
    assert {f["type"] for f in filters} == {"tag", "artist", "library"}
    config = [{"type": "artist", "ids": [music["nina"]["id"]]}, {"type": "tag", "names": ["jazz"], "not": True}]
    resp = await a.post("/api/v1/radios/radios/", json_body={"name": "Nina, no jazz", "config": config})
    assert resp.code == 201, resp
    radio = resp.json
    assert radio["is_public"] is False and radio["user"]["username"] == "alice"
    listed = (await a.get(f"/api/v1/radios/radios/{radio['id']}/tracks/")).json
    assert listed["count"] == 2 and sorted(t["id"] for t in listed["results"]) == ids(music, 2, 3)
    created = await session(a, "custom", custom_radio=radio["id"])
    assert created["custom_radio"] == radio["id"]
    # the artist filter carries the artists' names, as Funkwhale's does
    named = [{**config[0], "names": [music["nina"]["name"]]}, config[1]]
    assert created["config"] == named
    assert (await a.get(f"/api/v1/radios/sessions/{created['id']}/")).json == created
    assert sorted(await draw_all(a, created["id"])) == ids(music, 2, 3)
    # Private: bob neither sees nor plays it, nor changes it; once public he may play it.
    assert (await b.get(f"/api/v1/radios/radios/{radio['id']}/")).code == 404
    assert (
        await b.post("/api/v1/radios/sessions/", json_body={"radio_type": "custom", "custom_radio": radio["id"]})
    ).code == 400
    assert (await b.patch(f"/api/v1/radios/radios/{radio['id']}/", json_body={"name": "mine"})).code == 404
    resp = await a.patch(f"/api/v1/radios/radios/{radio['id']}/", json_body={"is_public": True})
    assert resp.code == 200 and resp.json["is_public"] is True and resp.json["name"] == "Nina, no jazz"
    assert [r["id"] for r in (await b.get("/api/v1/radios/radios/")).json["results"]] == [radio["id"]]
    assert (
        await b.post("/api/v1/radios/sessions/", json_body={"radio_type": "custom", "custom_radio": radio["id"]})
    ).code == 201
    # Filters naming nothing are refused and change nothing.
    for bad in (
        [{"type": "tag", "names": ["polka"]}],
        [{"type": "artist", "ids": [999999]}],
        [{"type": "artist", "ids": []}],
        [{"type": "artist", "ids": [2**70]}],
        [{"type": "mood", "names": ["x"]}],
        "tag",
    ):
        resp = await a.patch(f"/api/v1/radios/radios/{radio['id']}/", json_body={"config": bad})
        assert resp.code == 400 and "config" in resp.json, (bad, resp)
    assert (await a.get(f"/api/v1/radios/radios/{radio['id']}/")).json["config"] == named
    assert (await a.post("/api/v1/radios/radios/", json_body={"config": []})).code == 400
    assert (await b.delete(f"/api/v1/radios/radios/{radio['id']}/")).code == 404
    assert (await a.delete(f"/api/v1/radios/radios/{radio['id']}/")).code == 204
    assert (await a.get(f"/api/v1/radios/radios/{radio['id']}/")).code == 404


@pytest_twisted.ensureDeferred
async def test_concurrent_draws_never_repeat(web_server, db_conn, alice, music):
    a = cf.listener_client(web_server, db_conn, alice)
    created = await session(a, "random")
    draws = [
        defer.ensureDeferred(a.post("/api/v1/radios/tracks/", json_body={"session": created["id"]})) for _ in range(6)
    ]
    responses = await defer.gatherResults(draws)
    assert sorted(r.json["position"] for r in responses) == [1, 2, 3, 4, 5, 6]
    assert sorted(r.json["track"]["id"] for r in responses) == ids(music, *range(6))


@pytest_twisted.ensureDeferred
async def test_v2_session_draws_several_tracks(web_server, db_conn, alice, music):
    a = cf.listener_client(web_server, db_conn, alice)
    resp = await a.post("/api/v2/radios/sessions/", json_body={"radio_type": "random"})
    assert resp.code == 201 and resp.json["radio_type"] == "random", resp
    first = await a.get(f"/api/v2/radios/sessions/{resp.json['id']}/tracks/?count=4")
    assert first.code == 201 and len(first.json) == 4, first
    rest = await a.get(f"/api/v2/radios/sessions/{resp.json['id']}/tracks/?count=50")
    assert sorted(t["id"] for t in first.json + rest.json) == ids(music, *range(6))  # each once, then no more
    assert (await a.get(f"/api/v2/radios/sessions/{resp.json['id']}/tracks/")).code == 404
    assert (await a.get(f"/api/v2/radios/sessions/{resp.json['id']}/tracks/?count=0")).code == 400
