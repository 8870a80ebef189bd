"""A user's private music never shows through their favorites, listening history or playlists: alice favorites,
listens to and puts in a public playlist a track of her private (`me`) library, one of her `everyone` library and
one of carol's `instance` library; bob, anonymous callers and Subsonic see only the entries they may play (counts
and positions included), while alice still sees all of hers."""

from __future__ import annotations

import pytest
import pytest_twisted

from . import catalog_factories as cf
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
