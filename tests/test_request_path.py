"""The request path's caches and rendering: credentials and a playlist's entries come from Redis, yet a revoked
credential, a changed preference or an edited playlist is seen by the very next request; big responses are
rendered in a thread and stay whole; JSON is written by orjson with the same text as before, and sent with its
Content-Length."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted

from . import catalog_factories as cf
from .rawhttp import connect, request_head
from .subsonic_helpers import NS, Subsonic, with_token
from .test_oauth import APPS, bearer, logged_in, register

ME = "/api/v1/users/me/"
SETTINGS = "/api/v1/instance/admin/settings/"


async def twice(client: Any, path: str) -> int:
    """The status of `path` asked twice (the second answer comes from the credential cache)."""
    first = (await client.get(path)).code
    assert (await client.get(path)).code == first
    return first


@pytest_twisted.ensureDeferred
async def test_ended_sessions_and_tokens_are_refused_on_the_next_request(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(alice)
    token = bearer(web_server, app["token"])
    assert await twice(token, APPS) == 200 and await twice(alice, ME) == 200

    # a new personal token: the old one is refused at once
    assert (await alice.post(f"{APPS}{app['client_id']}/refresh-token/")).code == 200
    assert (await token.get(APPS)).code == 401

    # another session of alice changes the password: this one ends at once
    other = web_server.client()
    await other.login("alice", "password-1234")
    change = {"old_password": "password-1234", "new_password1": "new-password-9", "new_password2": "new-password-9"}
    assert (await other.post("/api/v1/auth/password/change/", json_body=change)).code == 200
    assert (await alice.get(ME)).code == 401
    assert await twice(other, ME) == 200

    # logout ends the session that is cached
    assert (await other.post("/api/v1/users/logout/")).code == 200
    assert (await other.get(ME)).code == 401


@pytest_twisted.ensureDeferred
async def test_subsonic_credentials_and_the_api_switch_are_seen_at_once(web_server, db_conn):
    alice = with_token(db_conn, "alice", "first-token")
    api = Subsonic(web_server, alice)
    await api.ok("ping")
    await api.ok("ping")

    session = cf.listener_client(web_server, db_conn, alice)
    rotated = await session.post("/api/v1/users/alice/subsonic-token/")
    assert rotated.code == 200
    assert await api.error("ping") == 40  # the old token, cached a moment ago, no longer works
    api.user = {**alice, "subsonic_api_token": rotated.json["subsonic_api_token"]}
    await api.ok("ping")

    admin, root = logged_in(web_server, db_conn, "root")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (root["id"],))
    assert (await admin.post(SETTINGS, json_body={"subsonic__enabled": False})).code == 200
    assert await api.error("ping") == 50
    assert (await admin.post(SETTINGS, json_body={"subsonic__enabled": True})).code == 200
    await api.ok("ping")


@pytest_twisted.ensureDeferred
async def test_a_big_playlist_is_whole_and_follows_its_edits(web_server, db_conn, alice, bob):
    library = cf.insert_library(db_conn, alice, "everyone")
    artist = cf.insert_artist(db_conn, "Nina")
    tracks = [cf.playable_track(db_conn, library, artist, title) for title in ("One", "Two", "Three")]
    owner = cf.listener_client(web_server, db_conn, alice)
    playlist = (await owner.post("/api/v1/playlists/", json_body={"name": "big", "privacy_level": "me"})).json
    url = f"/api/v1/playlists/{playlist['id']}"
    entries = [tracks[n % 3]["id"] for n in range(240)]  # over the 200 list items rendered in a thread
    assert (await owner.post(f"{url}/add/", json_body={"tracks": entries})).code == 201

    listed = (await owner.get(f"{url}/tracks/")).json
    assert listed["count"] == 240 and [e["track"]["id"] for e in listed["results"]] == entries
    api = Subsonic(web_server, alice)
    songs = (await api.xml("getPlaylist", id=f"pl-{playlist['id']}")).find(f"{NS}playlist")
    assert songs is not None and [s.get("id") for s in songs.iter(f"{NS}entry")] == [f"tr-{i}" for i in entries]
    assert len((await api.ok("getPlaylist", id=f"pl-{playlist['id']}"))["playlist"]["entry"]) == 240

    # edits are seen at once, by the owner and by others, in both APIs
    assert (await owner.delete(f"{url}/remove/", json_body={"index": 0})).code == 204
    listed = (await owner.get(f"{url}/tracks/")).json
    assert listed["count"] == 239 and [e["track"]["id"] for e in listed["results"]] == entries[1:]
    assert len((await api.ok("getPlaylist", id=f"pl-{playlist['id']}"))["playlist"]["entry"]) == 239
    other = cf.listener_client(web_server, db_conn, bob)
    assert (await other.get(f"{url}/tracks/")).code == 404
    assert (await owner.patch(f"{url}/", json_body={"privacy_level": "everyone"})).code == 200
    assert (await other.get(f"{url}/tracks/")).json["count"] == 239
    assert (await owner.delete(f"{url}/")).code == 204
    assert (await other.get(f"{url}/tracks/")).code == 404
    assert await api.error("getPlaylist", {"id": f"pl-{playlist['id']}"}) == 70


@pytest_twisted.ensureDeferred
async def test_json_text_is_written_as_before(web_server, db_conn, alice):
    title = 'Björk </script> \u2028 "q" \\ \x1b 坂 \U0001f3b5'
    library = cf.insert_library(db_conn, alice, "me")
    track = cf.playable_track(db_conn, library, cf.insert_artist(db_conn, "Nina"), title)
    client = cf.listener_client(web_server, db_conn, alice)
    resp = await client.get(f"/api/v1/tracks/{track['id']}/")
    assert resp.code == 200 and json.loads(resp.body)["title"] == title
    # UTF-8 as is, `</` not escaped, only what JSON requires escaped (the quote, the backslash, the control)
    assert 'Björk </script> \u2028 \\"q\\" \\\\ \\u001b 坂 \U0001f3b5'.encode() in resp.body
    assert json.dumps(json.loads(resp.body), ensure_ascii=False, separators=(",", ":")).encode() == resp.body

    api = Subsonic(web_server, alice)
    assert (await api.ok("getSong", id=f"tr-{track['id']}"))["song"]["title"] == title
    song = (await api.xml("getSong", id=f"tr-{track['id']}")).find(f"{NS}song")
    assert song is not None and song.get("title") == title.replace("\x1b", "")


async def raw(server: Any, method: str, path: str) -> Any:
    conn = await connect(server.port.getHost().port)
    conn.send(request_head(method, path, {"Connection": "close"}))
    return await conn.response()


@pytest_twisted.ensureDeferred
async def test_json_answers_are_sent_whole_with_their_length(web_server, db_conn, alice):
    library = cf.insert_library(db_conn, alice, "everyone")
    cf.playable_track(db_conn, library, cf.insert_artist(db_conn, "Nina"), "Tune")
    paths = ("/api/v1/instance/nodeinfo/2.0/", "/api/v1/tracks/", "/rest/ping.view?f=json", "/rest/ping.view")
    for path in (*paths, "/api/v1/nope/"):
        got = await raw(web_server, "GET", path)
        assert "transfer-encoding" not in got.headers, path
        assert int(got.headers["content-length"]) == len(got.body) > 0, path
    head = await raw(web_server, "HEAD", paths[0])
    get = await raw(web_server, "GET", paths[0])
    assert head.status == get.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"]
