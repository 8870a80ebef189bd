"""A user's private music never shows through their favorites, listening history or playlists: alice favorites,
listens to and puts in a public playlist a track of her private (`me`) library, one of her `everyone` library and
one of carol's `instance` library; bob, anonymous callers and Subsonic see only the entries they may play (counts
and positions included), while alice still sees all of hers."""

from __future__ import annotations

import pytest
import pytest_twisted

from . import catalog_factories as cf
from .subsonic_helpers import Subsonic
from .test_favorites import set_privacy


def _cover(conn, name: str) -> dict:
    return cf._insert(conn, "attachment", {"mimetype": "image/jpeg", "size": 10, "file": f"attachments/{name}.jpg"})


@pytest.fixture
def music(db_conn, alice, bob):
    """{secret, open, shared}: alice's private track (album and track covers, a genre), her public one (album
    cover), and carol's `instance` one; plus `markers`, every string of the secret one that must not leak."""
    carol = cf.insert_listener(db_conn, "carol")
    album_cover, track_cover = _cover(db_conn, "hidden-album"), _cover(db_conn, "hidden-track")
    hidden = cf.insert_artist(db_conn, "Hidden Artist")
    secret = cf.playable_track(
        db_conn,
        cf.insert_library(db_conn, alice, "me"),
        hidden,
        "Secret Song",
        cf.insert_album(db_conn, hidden, "Private Album", attachment_cover_id=album_cover["id"]),
        attachment_cover_id=track_cover["id"],
    )
    cf.tag(db_conn, "track", secret, "Secretgenre")
    shown = cf.insert_artist(db_conn, "Open Artist")
    opened = cf.playable_track(
        db_conn,
        cf.insert_library(db_conn, alice, "everyone"),
        shown,
        "Open Song",
        cf.insert_album(db_conn, shown, "Open Album", attachment_cover_id=_cover(db_conn, "open")["id"]),
    )
    shared = cf.playable_track(
        db_conn, cf.insert_library(db_conn, carol, "instance"), cf.insert_artist(db_conn, "Carol"), "Shared Song"
    )
    set_privacy(db_conn, alice, "everyone")  # bob and anonymous callers may see alice's activity
    markers = ["Secret Song", "Hidden Artist", "Private Album", "Secretgenre", str(secret["uuid"]), secret["fid"]]
    markers += [str(album_cover["uuid"]), str(track_cover["uuid"])]
    return {"secret": secret, "open": opened, "shared": shared, "markers": markers}


def assert_hidden(music: dict, resp) -> None:
    assert resp.code == 200, resp
    leaked = [m for m in music["markers"] if m.encode() in resp.body]
    assert not leaked, f"private music leaked: {leaked} in {resp}"


def titles(resp) -> list[str]:
    return [e["track"]["title"] for e in resp.json["results"]]


@pytest_twisted.ensureDeferred
async def test_others_favorites_and_history_list_only_what_the_viewer_may_play(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    for name in ("secret", "open", "shared"):
        for url in ("/api/v1/favorites/tracks/", "/api/v1/history/listenings/"):
            assert (await a.post(url, json_body={"track": music[name]["id"]})).code == 201
    b = cf.listener_client(web_server, db_conn, bob)
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = web_server.client()
    for url in ("/api/v1/favorites/tracks/", "/api/v1/history/listenings/"):
        for params in ({"scope": "all"}, {"user": str(alice["id"])}, {"user": str(alice["id"]), "q": "song"}):
            seen = await b.get(url, params={**params, "ordering": "creation_date"})
            assert_hidden(music, seen)
            assert seen.json["count"] == 2 and titles(seen) == ["Open Song", "Shared Song"], seen
            second = await b.get(url, params={**params, "ordering": "creation_date", "page_size": "1", "page": "2"})
            assert second.json["count"] == 2 and titles(second) == ["Shared Song"]
            assert (await b.get(url, params={**params, "page_size": "1", "page": "3"})).code == 404
            public = await anonymous.get(url, params=params)
            assert_hidden(music, public)
            assert titles(public) == ["Open Song"] and public.json["count"] == 1
        # a search for the private title finds nothing of hers for bob
        assert (await b.get(url, params={"scope": "all", "q": "secret"})).json["count"] == 0
        # alice still sees all of her own entries
        mine = await a.get(url, params={"ordering": "creation_date"})
        assert titles(mine) == ["Secret Song", "Open Song", "Shared Song"]


@pytest_twisted.ensureDeferred
async def test_public_playlist_shows_others_only_what_they_may_play(web_server, db_conn, alice, bob, music):
    a = cf.listener_client(web_server, db_conn, alice)
    created = await a.post("/api/v1/playlists/", json_body={"name": "Mixed", "privacy_level": "everyone"})
    url = f"/api/v1/playlists/{created.json['id']}"
    ids = [music[name]["id"] for name in ("secret", "open", "shared")]
    assert (await a.post(f"{url}/add/", json_body={"tracks": ids})).code == 201
    b = cf.listener_client(web_server, db_conn, bob)

    tracks = await b.get(f"{url}/tracks/")
    assert_hidden(music, tracks)
    assert tracks.json["count"] == 2
    assert [(e["index"], e["track"]["title"]) for e in tracks.json["results"]] == [(0, "Open Song"), (1, "Shared Song")]
    paged = await b.get(f"{url}/tracks/", params={"page": "2", "page_size": "1"})
    assert_hidden(music, paged)
    assert paged.json["count"] == 2 and [e["index"] for e in paged.json["results"]] == [1]
    for fmt in ("m3u", "xspf"):
        exported = await b.get(f"{url}/export/", params={"format": fmt})
        assert_hidden(music, exported)
        assert b"Open Song" in exported.body and b"Shared Song" in exported.body
    detail = await b.get(f"{url}/")
    assert_hidden(music, detail)
    assert detail.json["tracks_count"] == 2 and detail.json["duration"] == 2 * 180
    assert len(detail.json["album_covers"]) == 1  # the open album's cover only
    listed = await b.get("/api/v1/playlists/", params={"user": str(alice["id"])})
    assert_hidden(music, listed)
    assert [(p["tracks_count"], len(p["album_covers"])) for p in listed.json["results"]] == [(2, 1)]
    for method in ("getPlaylists", "getPlaylist"):
        answer = await Subsonic(web_server, bob).raw(method, {"id": f"pl-{created.json['id']}"})
        assert_hidden(music, answer)

    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = web_server.client()
    public = await anonymous.get(f"{url}/tracks/")
    assert_hidden(music, public)
    assert [(e["index"], e["track"]["title"]) for e in public.json["results"]] == [(0, "Open Song")]
    assert (await anonymous.get(f"{url}/")).json["tracks_count"] == 1

    # alice, the owner, sees every entry at its real position
    mine = await a.get(f"{url}/tracks/")
    assert [e["index"] for e in mine.json["results"]] == [0, 1, 2] and mine.json["count"] == 3
    own = (await a.get(f"{url}/")).json
    assert own["tracks_count"] == 3 and len(own["album_covers"]) == 2
