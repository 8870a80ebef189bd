"""A listener's profile over HTTP: a picture sent to /api/v1/attachments/ becomes their avatar, shown wherever they
appear; the display name; the privacy level of their listening activity, set from the profile."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest_twisted

from . import catalog_factories as cf
from .audio import make_cover
from .test_libraries import count_rows
from .test_uploads import CONTENT_TYPE, form


async def send_picture(client, data: bytes, filename: str = "me.png"):
    body = form({}, data, file_field="file", filename=filename)
    return await client.post("/api/v1/attachments/", data=body, headers={"Content-Type": CONTENT_TYPE})


@pytest_twisted.ensureDeferred
async def test_avatar_upload_and_display_name(web_server, db_conn, alice, bob):
    a = cf.listener_client(web_server, db_conn, alice)
    sent = await send_picture(a, make_cover())
    assert sent.code == 201, sent
    picture = sent.json
    assert picture["mimetype"] == "image/jpeg" and picture["size"] > 0
    small = await web_server.client().get(
        urlsplit(picture["urls"]["medium_square_crop"])._replace(scheme="", netloc="").geturl()
    )
    assert small.code == 200 and small.header("content-type") == "image/jpeg"

    resp = await a.patch(f"/api/v1/users/{alice['username']}/", json_body={"avatar": picture["uuid"], "name": "Al"})
    assert resp.code == 200, resp
    assert resp.json["avatar"]["uuid"] == picture["uuid"] and resp.json["name"] == "Al"
    assert (
        (await a.get("/api/v1/users/me/"))
        .json["avatar"]["urls"]["medium_square_crop"]
        .endswith("next=medium_square_crop")
    )

    # others see the avatar and name wherever alice appears: her public playlist here
    await a.patch("/api/v1/users/me/", json_body={"privacy_level": "everyone"})
    created = await a.post("/api/v1/playlists/", json_body={"name": "Sunday", "privacy_level": "everyone"})
    assert created.json["user"]["avatar"]["uuid"] == picture["uuid"]
    seen = await cf.listener_client(web_server, db_conn, bob).get(f"/api/v1/playlists/{created.json['id']}/")
    assert seen.json["user"]["name"] == "Al" and seen.json["user"]["avatar"]["uuid"] == picture["uuid"]

    cleared = await a.patch("/api/v1/users/me/", json_body={"avatar": None})
    assert cleared.code == 200 and cleared.json["avatar"] is None


@pytest_twisted.ensureDeferred
async def test_bad_avatars_are_refused_and_change_nothing(web_server, db_conn, alice):
    a = cf.listener_client(web_server, db_conn, alice)
    anonymous = await send_picture(web_server.client(), make_cover())
    assert anonymous.code == 401
    not_a_picture = await send_picture(a, b"GIF89a but not really", filename="x.gif")
    assert not_a_picture.code == 400 and "valid image" in not_a_picture.json["file"][0]
    empty = await a.post("/api/v1/attachments/", data=form({"name": "x"}), headers={"Content-Type": CONTENT_TYPE})
    assert empty.code == 400 and empty.json["file"]
    assert count_rows(db_conn, "attachment") == 0

    unknown = await a.patch("/api/v1/users/me/", json_body={"avatar": "5f0c1a52-4ad1-4a8d-a5a7-0b1d3c1f0e11"})
    assert unknown.code == 400 and "attachments" in unknown.json["avatar"][0]
    malformed = await a.patch("/api/v1/users/me/", json_body={"avatar": "nope", "name": "Changed"})
    assert malformed.code == 400 and malformed.json["avatar"]
    me = (await a.get("/api/v1/users/me/")).json
    assert me["avatar"] is None and me["name"] == ""


@pytest_twisted.ensureDeferred
async def test_listening_activity_privacy_follows_the_profile(web_server, db_conn, alice, bob):
    track = cf.playable_track(db_conn, cf.insert_library(db_conn, bob, "everyone"), cf.insert_artist(db_conn, "N"), "T")
    a = cf.listener_client(web_server, db_conn, alice)
    b = cf.listener_client(web_server, db_conn, bob)
    assert (await a.post("/api/v1/history/listenings/", json_body={"track": track["id"]})).code == 201
    assert (await a.post("/api/v1/favorites/tracks/", json_body={"track": track["id"]})).code == 201
    alices = {"user": str(alice["id"]), "scope": "all"}
    cf.set_preference(db_conn, "common__api_authentication_required", False)  # anonymous visitors may browse

    async def visible_to_bob_and_anonymous() -> tuple[int, int, int]:
        history = (await b.get("/api/v1/history/listenings/", params=alices)).json["count"]
        favorites = (await b.get("/api/v1/favorites/tracks/", params=alices)).json["count"]
        anonymous = (await web_server.client().get("/api/v1/history/listenings/", params=alices)).json["count"]
        return history, favorites, anonymous

    assert await visible_to_bob_and_anonymous() == (1, 1, 0)  # the default level is `instance`
    await a.patch("/api/v1/users/me/", json_body={"privacy_level": "me"})
    assert await visible_to_bob_and_anonymous() == (0, 0, 0)
    await a.patch("/api/v1/users/me/", json_body={"privacy_level": "everyone"})
    assert await visible_to_bob_and_anonymous() == (1, 1, 1)
