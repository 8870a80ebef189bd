"""Playlists over HTTP: CRUD and privacy between two users, adding (many at once, 20 clients at once), moving,
removing and clearing with positions kept 0..n-1, refusals that change nothing, tracks that became unplayable
(listed to the owner only; tests/test_private_music.py has what others see)."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from . import catalog_factories as cf


@pytest.fixture
def music(db_conn, alice):
    """Five tracks alice may play (her private library), the first two on an album with a cover."""
    lib = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Nina")
    cover = cf._insert(db_conn, "attachment", {"mimetype": "image/jpeg", "size": 10, "file": "attachments/c.jpg"})
    album = cf.insert_album(db_conn, artist, "Live", attachment_cover_id=cover["id"])
    return [cf.playable_track(db_conn, lib, artist, f"Song {i}", album if i < 2 else None) for i in range(5)]


async def create(client, name: str, privacy_level: str = "me") -> dict:
    resp = await client.post("/api/v1/playlists/", json_body={"name": name, "privacy_level": privacy_level})
    assert resp.code == 201, resp
    return resp.json


async def entries(client, playlist_id: int) -> list[tuple[int, int]]:
    """(index, track id) of a playlist, as listed."""
    resp = await client.get(f"/api/v1/playlists/{playlist_id}/tracks/")
    assert resp.code == 200, resp
    assert resp.json["count"] == len(resp.json["results"])
    return [(e["index"], e["track"]["id"]) for e in resp.json["results"]]


@pytest_twisted.ensureDeferred
async def test_crud_and_privacy_between_two_users(web_server, db_conn, alice, bob):
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    private = await create(a, "Private", "me")
    shared = await create(a, "Shared", "instance")
    public = await create(a, "Public", "everyone")
    assert private["user"]["username"] == "alice" and private["tracks_count"] == 0 and private["duration"] == 0
    assert private["is_playable"] is False and private["album_covers"] == [] and private["privacy_level"] == "me"

    mine = await a.get("/api/v1/playlists/", params={"ordering": "name"})
    assert [p["name"] for p in mine.json["results"]] == ["Private", "Public", "Shared"]
    seen = await b.get("/api/v1/playlists/", params={"ordering": "-name"})
    assert [p["name"] for p in seen.json["results"]] == ["Shared", "Public"]
    assert (await b.get(f"/api/v1/playlists/{private['id']}/")).code == 404
    assert (await b.get(f"/api/v1/playlists/{private['id']}/tracks/")).code == 404
    assert (await b.get(f"/api/v1/playlists/{shared['id']}/")).json["name"] == "Shared"

    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = await web_server.client().get("/api/v1/playlists/")
    assert [p["name"] for p in anonymous.json["results"]] == ["Public"]

    filtered = await b.get("/api/v1/playlists/", params={"q": "sha", "user": str(alice["id"])})
    assert [p["id"] for p in filtered.json["results"]] == [shared["id"]]
    assert (await b.get("/api/v1/playlists/", params={"user": str(bob["id"])})).json["count"] == 0

    # bob may not change alice's playlists: 403 on those he sees, 404 on the private one
    assert (await b.patch(f"/api/v1/playlists/{shared['id']}/", json_body={"name": "Mine"})).code == 403
    assert (await b.delete(f"/api/v1/playlists/{public['id']}/")).code == 403
    assert (await b.patch(f"/api/v1/playlists/{private['id']}/", json_body={"name": "Mine"})).code == 404
    assert (await a.get(f"/api/v1/playlists/{shared['id']}/")).json["name"] == "Shared"

    bad = await a.patch(f"/api/v1/playlists/{shared['id']}/", json_body={"privacy_level": "friends"})
    assert bad.code == 400 and "privacy_level" in bad.json
    renamed = await a.patch(f"/api/v1/playlists/{shared['id']}/", json_body={"name": "Renamed", "privacy_level": "me"})
    assert renamed.code == 200 and renamed.json["name"] == "Renamed" and renamed.json["privacy_level"] == "me"
    assert (await b.get(f"/api/v1/playlists/{shared['id']}/")).code == 404
    assert (await a.post("/api/v1/playlists/", json_body={"name": ""})).code == 400
    assert (await a.delete(f"/api/v1/playlists/{public['id']}/")).code == 204
    assert (await a.get(f"/api/v1/playlists/{public['id']}/")).code == 404


@pytest_twisted.ensureDeferred
async def test_add_many_and_refusals_change_nothing(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    pl = await create(a, "Mix", "instance")
    ids = [t["id"] for t in music]
    url = f"/api/v1/playlists/{pl['id']}"

    added = await a.post(f"{url}/add/", json_body={"tracks": [ids[0], ids[2], ids[0]]})
    assert added.code == 201, added
    assert [(e["index"], e["track"]["id"]) for e in added.json["results"]] == [(0, ids[0]), (1, ids[2]), (2, ids[0])]
    assert added.json["results"][0]["track"]["title"] == "Song 0" and added.json["results"][0]["creation_date"]

    before = await entries(a, pl["id"])
    unknown = await a.post(f"{url}/add/", json_body={"tracks": [ids[1], 999999]})
    assert unknown.code == 400 and "999999" in unknown.json["tracks"][0]
    duplicate = await a.post(f"{url}/add/", json_body={"tracks": [ids[1], ids[2]], "allow_duplicates": False})
    assert duplicate.code == 400 and str(ids[2]) in duplicate.json["tracks"][0]
    assert (await b.post(f"{url}/add/", json_body={"tracks": [ids[1]]})).code == 403
    assert (await a.post(f"{url}/add/", json_body={"tracks": []})).code == 400
    cf.set_preference(db_conn, "playlists__max_tracks", 4)
    assert (await a.post(f"{url}/add/", json_body={"tracks": [ids[3], ids[4]]})).code == 400
    assert await entries(a, pl["id"]) == before

    # bob cannot add alice's private tracks to his own playlist
    his = await create(b, "His")
    refused = await b.post(f"/api/v1/playlists/{his['id']}/add/", json_body={"tracks": [ids[0]]})
    assert refused.code == 400 and str(ids[0]) in refused.json["tracks"][0]

    detail = (await a.get(f"{url}/")).json
    assert detail["tracks_count"] == 3 and detail["duration"] == 3 * 180 and detail["is_playable"] is True
    assert len(detail["album_covers"]) == 1 and detail["album_covers"][0].endswith("medium_square_crop")
    # bob sees the playlist, but none of its tracks are playable for him: none of them is shown to him
    theirs = (await b.get(f"{url}/")).json
    assert theirs["tracks_count"] == 0 and theirs["is_playable"] is False and theirs["duration"] == 0
    assert theirs["album_covers"] == []
    assert (await b.get(f"{url}/tracks/")).json == {"count": 0, "results": []}

    paged = await a.get(f"{url}/tracks/", params={"page": "2", "page_size": "2"})
    assert paged.json["count"] == 3 and [e["index"] for e in paged.json["results"]] == [2]


@pytest_twisted.ensureDeferred
async def test_twenty_concurrent_adds_keep_positions(web_server, db_conn, alice, music):
    pl = await create(cf.listener_client(web_server, db_conn, alice), "Race")
    clients = [cf.listener_client(web_server, db_conn, alice) for _ in range(20)]
    responses = await defer.gatherResults(
        [
            defer.ensureDeferred(
                c.post(f"/api/v1/playlists/{pl['id']}/add/", json_body={"tracks": [music[i % 5]["id"]]})
            )
            for i, c in enumerate(clients)
        ]
    )
    assert [r.code for r in responses] == [201] * 20
    listed = await entries(clients[0], pl["id"])
    assert [index for index, _ in listed] == list(range(20))
    assert sorted(r.json["results"][0]["index"] for r in responses) == list(range(20))


@pytest_twisted.ensureDeferred
async def test_move_remove_clear_and_unplayable_tracks(web_server, db_conn, alice, music):
    a = cf.listener_client(web_server, db_conn, alice)
    pl = await create(a, "Order")
    ids = [t["id"] for t in music]
    url = f"/api/v1/playlists/{pl['id']}"
    assert (await a.post(f"{url}/add/", json_body={"tracks": ids})).code == 201

    for body in ({"from": 0, "to": 5}, {"from": -1, "to": 0}, {"from": 1}):
        assert (await a.post(f"{url}/move/", json_body=body)).code == 400
    assert (await a.post(f"{url}/remove/", json_body={"index": 5})).code == 400
    assert await entries(a, pl["id"]) == list(enumerate(ids))

    assert (await a.post(f"{url}/move/", json_body={"from": 0, "to": 3})).code == 204
    order = [ids[1], ids[2], ids[3], ids[0], ids[4]]
    assert await entries(a, pl["id"]) == list(enumerate(order))
    assert (await a.post(f"{url}/move/", json_body={"from": 4, "to": 1})).code == 204
    order = [order[0], order[4], *order[1:4]]
    assert await entries(a, pl["id"]) == list(enumerate(order))
    assert (await a.delete(f"{url}/remove/", json_body={"index": 1})).code == 204
    del order[1]
    assert await entries(a, pl["id"]) == list(enumerate(order))

    with db_conn.cursor() as cur:
        cur.execute("UPDATE upload SET import_status = 'errored' WHERE track_id = %s", (order[0],))
    cf.catalog_changed()  # as the importer's own status change does
    listed = (await a.get(f"{url}/tracks/")).json["results"]
    assert [e["track"]["id"] for e in listed] == order
    assert [e["track"]["is_playable"] for e in listed] == [False, True, True, True]

    assert (await a.delete(f"{url}/clear/")).code == 204
    assert await entries(a, pl["id"]) == []
    assert (await a.get(f"{url}/")).json["tracks_count"] == 0


@pytest_twisted.ensureDeferred
async def test_export_then_import_m3u_and_xspf(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    pl = await create(a, "Road <trip>", "instance")
    ids = [music[3]["id"], music[0]["id"]]
    assert (await a.post(f"/api/v1/playlists/{pl['id']}/add/", json_body={"tracks": ids})).code == 201

    m3u = await a.get(f"/api/v1/playlists/{pl['id']}/export/")
    assert m3u.code == 200 and m3u.header("content-type").startswith("audio/x-mpegurl")
    lines = m3u.body.decode().splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXTINF:180,Nina - Song 3"]
    assert lines[2].endswith(f"/api/v1/listen/{music[3]['uuid']}/") and len(lines) == 5
    xspf = await a.get(f"/api/v1/playlists/{pl['id']}/export/", params={"format": "xspf"})
    assert xspf.code == 200 and b"<title>Road &lt;trip&gt;</title>" in xspf.body and b"<album>Live</album>" in xspf.body
    assert (await a.get(f"/api/v1/playlists/{pl['id']}/export/", params={"format": "pls"})).code == 400

    # the exported M3U, plus an entry named only by its file and one that matches nothing
    content = m3u.body.decode() + "/music/Nina - Song 4.mp3\n#EXTINF:10,Nobody - Nothing\nx.mp3\n"
    imported = await a.post("/api/v1/playlists/import/", json_body={"name": "Copy", "content": content})
    assert imported.code == 201, imported
    assert imported.json["tracks_count"] == 3 and imported.json["unmatched"] == [
        {"artist": "Nobody", "title": "Nothing"}
    ]
    assert await entries(a, imported.json["id"]) == [(0, ids[0]), (1, ids[1]), (2, music[4]["id"])]

    raw = await a.post(
        "/api/v1/playlists/import/",
        data=xspf.body,
        headers={"Content-Type": "application/xspf+xml"},
        params={"name": "From XSPF", "privacy_level": "me"},
    )
    assert raw.code == 201, raw
    assert raw.json["privacy_level"] == "me" and await entries(a, raw.json["id"]) == [(0, ids[0]), (1, ids[1])]

    # bob may not play alice's tracks: nothing of hers matches for him
    b = cf.listener_client(web_server, db_conn, bob)
    theirs = await b.post("/api/v1/playlists/import/", json_body={"name": "Bob's", "content": content})
    assert theirs.code == 201 and theirs.json["tracks_count"] == 0 and len(theirs.json["unmatched"]) == 4
    before = (await a.get("/api/v1/playlists/")).json["count"]
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><playlist/>'
    assert (await a.post("/api/v1/playlists/import/", json_body={"name": "X", "content": bomb})).code == 400
    assert (await a.post("/api/v1/playlists/import/", json_body={"name": "X", "content": "#EXTM3U\n"})).code == 400
    assert (await a.get("/api/v1/playlists/")).json["count"] == before


@pytest_twisted.ensureDeferred
async def test_scope_me_lists_only_my_playlists(web_server, db_conn, alice, bob):
    """The web app's "My playlists" asks scope=me: others' shared playlists stay out; another scope lists all."""
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    await create(a, "Alice shares", "instance")
    await create(b, "Bob's own", "me")
    mine = await b.get("/api/v1/playlists/", params={"scope": "me"})
    assert mine.code == 200 and [p["name"] for p in mine.json["results"]] == ["Bob's own"] and mine.json["count"] == 1
    every = await b.get("/api/v1/playlists/", params={"scope": "all", "ordering": "name"})
    assert [p["name"] for p in every.json["results"]] == ["Alice shares", "Bob's own"]
    other = await b.get("/api/v1/playlists/", params={"scope": "everything", "ordering": "name"})
    assert other.code == 200 and other.json["results"] == every.json["results"]
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = await web_server.client().get("/api/v1/playlists/", params={"scope": "me"})
    assert anonymous.code == 200 and anonymous.json["results"] == []
