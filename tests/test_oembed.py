"""/api/v1/oembed/: what a site embedding a link to a track, album, artist or public playlist gets (Funkwhale
1.4's rich oEmbed with the embeddable player's iframe), and that only what anyone may play can be embedded."""

from __future__ import annotations

import pytest_twisted

from . import catalog_factories as cf
from .catalog_factories import BASE
from .test_private_music import music  # noqa: F401 (fixture)

KEYS = {"version", "type", "provider_name", "provider_url", "height", "width", "title", "description"}
KEYS |= {"author_name", "author_url", "html"}
THUMBNAIL = {"thumbnail_url", "thumbnail_width", "thumbnail_height"}


async def oembed(client, path: str, **params: str):
    return await client.get("/api/v1/oembed/", params={"format": "json", "url": f"{BASE}{path}", **params})


@pytest_twisted.ensureDeferred
async def test_public_objects_are_embeddable(web_server, db_conn, alice, music):  # noqa: F811
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    anonymous = web_server.client()
    opened = music["open"]
    track = await oembed(anonymous, f"/library/tracks/{opened['id']}")
    assert track.code == 200, track
    assert set(track.json) == KEYS | THUMBNAIL
    assert track.json["type"] == "rich" and track.json["version"] == "1.0"
    assert track.json["title"] == "Open Song by Open Artist"
    assert track.json["description"] == "Open Artist - Open Album - Open Song"
    assert track.json["author_url"] == f"{BASE}/library/artists/{opened['artist_id']}"
    assert (track.json["width"], track.json["height"]) == (600, 150)
    assert track.json["html"] == (
        '<iframe width="600" height="150" scrolling="no" frameborder="no"'
        f' src="{BASE}/front/embed.html?type=track&amp;id={opened["id"]}"></iframe>'
    )
    assert track.json["thumbnail_url"].startswith(f"{BASE}/api/v1/attachments/")
    assert (track.json["thumbnail_width"], track.json["thumbnail_height"]) == (200, 200)

    album = await oembed(anonymous, f"/library/albums/{opened['album_id']}/", maxwidth="320", maxheight="300")
    assert album.code == 200, album
    assert album.json["title"] == "Open Album by Open Artist" and album.json["author_name"] == "Open Artist"
    assert (album.json["width"], album.json["height"]) == (320, 300)
    assert "type=album&amp;" in album.json["html"]

    artist = await oembed(anonymous, f"/library/artists/{opened['artist_id']}")
    assert artist.code == 200, artist
    assert artist.json["title"] == "Open Artist" and set(artist.json) == KEYS | THUMBNAIL  # its album's cover

    a = cf.listener_client(web_server, db_conn, alice)
    created = await a.post("/api/v1/playlists/", json_body={"name": "Road trip", "privacy_level": "everyone"})
    playlist_id = created.json["id"]
    tracks = [music["secret"]["id"], opened["id"]]
    assert (await a.post(f"/api/v1/playlists/{playlist_id}/add/", json_body={"tracks": tracks})).code == 201
    for path in (f"/library/playlists/{playlist_id}", f"/playlists/{playlist_id}"):
        playlist = await oembed(anonymous, path)
        assert playlist.code == 200, playlist
        assert playlist.json["title"] == "Road trip" and set(playlist.json) == KEYS | THUMBNAIL
        assert f"type=playlist&amp;id={playlist_id}" in playlist.json["html"]
        assert playlist.json["thumbnail_url"] == track.json["thumbnail_url"]  # the open album's, not the secret's


@pytest_twisted.ensureDeferred
async def test_what_not_everyone_may_play_is_not_embeddable(web_server, db_conn, alice, music):  # noqa: F811
    a = cf.listener_client(web_server, db_conn, alice)
    secret = music["secret"]
    for path, kind, object_id in [
        (f"/library/tracks/{secret['id']}", "track", secret["id"]),
        (f"/library/albums/{secret['album_id']}", "album", secret["album_id"]),
        (f"/library/tracks/{music['shared']['id']}", "track", music["shared"]["id"]),  # an `instance` library's
        ("/library/tracks/999999", "track", 999999),
    ]:
        refused = await oembed(a, path)  # even for its owner: the embedded player is anonymous
        assert refused.code == 400, refused
        assert refused.json["non_field_errors"] == [f"No {kind} matching id {object_id}"]
    private = await a.post("/api/v1/playlists/", json_body={"name": "Mine", "privacy_level": "me"})
    refused = await oembed(a, f"/library/playlists/{private.json['id']}")
    assert refused.json["non_field_errors"] == [f"No playlist matching id {private.json['id']}"]

    unsupported = await oembed(a, "/library/tracks/")
    assert unsupported.json["non_field_errors"] == [f"Unsupported url: {BASE}/library/tracks/"]
    assert (await oembed(a, "/favorites")).code == 400
    xml = await oembed(a, f"/library/tracks/{secret['id']}", format="xml")
    assert xml.code == 400 and xml.json["format"] == ['"xml" is not a valid choice.']
    no_url = await a.get("/api/v1/oembed/", params={"format": "json"})
    assert no_url.code == 400 and no_url.json["url"] == ["Enter a valid URL."]
    bad_size = await oembed(a, f"/library/tracks/{music['open']['id']}", maxwidth="wide")
    assert bad_size.code == 400 and "maxwidth" in bad_size.json

    # an instance that requires authentication answers anonymous callers 401, as 1.4 does
    assert (await oembed(web_server.client(), f"/library/tracks/{music['open']['id']}")).code == 401
