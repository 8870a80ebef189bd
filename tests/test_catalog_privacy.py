"""Shared catalog rows never carry one user's private upload to another: covers, tags, counts and durations come
only from the uploads the viewer may play, over the REST API and Subsonic, and leave with the upload.

Alice uploads a private file (cover, genre "secretgenre", comment, copyright, license, 4 s); Bob then uploads a
file with the same artist, album and title into a public library (another cover, another genre, 2 s), so the two
files share one artist, album and track row.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted

from . import catalog_factories as cf
from .audio import make_audio, make_cover
from .subsonic_helpers import Subsonic
from .test_libraries import Session, count_rows
from .test_uploads import files_under, form, settled, upload

SECRET = "secretgenre"


async def _upload(server: Any, session: Session, privacy: str, path: Any) -> str:
    made = await session.post("/api/v1/libraries/", json_body={"name": "Mine", "privacy_level": privacy})
    assert made.code == 201, made
    resp = await upload(session, form({"library": made.json["uuid"]}, path.read_bytes(), filename=path.name))
    assert resp.code == 201, resp
    assert (await settled(session, resp.json["uuid"], server.ctx.clock))["import_status"] == "finished"
    return resp.json["uuid"]


def _song(tmp_path: Any, name: str, genre: str, color: str, duration: float, **tags: Any) -> Any:
    return make_audio(
        tmp_path / name,
        "song",
        "mp3",
        title="Common Title",
        artist="Common Artist",
        album="Common Album",
        track="1",
        genre=genre,
        cover=make_cover(color),
        duration=duration,
        **tags,
    )


async def _catalog(client: Any) -> dict[str, Any]:
    """What a caller sees of the shared album, its track and artist, and the tags (all raw bodies too)."""
    albums = await client.get("/api/v1/albums/")
    tracks = await client.get("/api/v1/tracks/")
    artists = await client.get("/api/v1/artists/")
    tags = await client.get("/api/v1/tags/")
    secret_tracks = await client.get("/api/v1/tracks/", params={"tag": SECRET})
    search = await client.get("/api/v1/search", params={"q": "secret"})
    responses = [albums, tracks, artists, tags, secret_tracks, search]
    assert all(r.code == 200 for r in responses), responses
    seen = {
        "albums": albums.json["results"],
        "tracks": tracks.json["results"],
        "artists": artists.json["results"],
        "tags": [t["name"] for t in tags.json["results"]],
        "secret_tracks": secret_tracks.json["count"],
        "search_tags": search.json["tags"],
        "bodies": b"".join(r.body for r in responses),
        "secret_tag": (await client.get(f"/api/v1/tags/{SECRET}/")).code,
    }
    if seen["albums"]:
        seen["bodies"] += (await client.get(f"/api/v1/albums/{seen['albums'][0]['id']}/")).body
        seen["track"] = (await client.get(f"/api/v1/tracks/{seen['tracks'][0]['id']}/")).json
        seen["bodies"] += repr(seen["track"]).encode()
    return seen


def _cover(item: dict[str, Any]) -> str | None:
    return item["cover"]["uuid"] if item["cover"] else None


@pytest_twisted.ensureDeferred
async def test_a_private_upload_lends_nothing_to_a_shared_catalog_row(server, db_conn, tmp_path):
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    alice, bob, carol = (cf.insert_listener(db_conn, name) for name in ("alice", "bob", "carol"))
    a, b, c = (Session(server, db_conn, user) for user in (alice, bob, carol))
    private = {"comment": f"{SECRET} notes", "copyright": f"{SECRET} copyright", "license": "cc-by-nc-4.0"}
    await _upload(server, a, "me", _song(tmp_path, "a", SECRET, "red", 4.0, **private))
    bob_upload = await _upload(server, b, "everyone", _song(tmp_path, "b", "Publicgenre", "blue", 2.0))
    assert count_rows(db_conn, "track") == 1  # one shared row

    mine = await _catalog(a)
    (album,) = mine["albums"]
    alice_cover = _cover(album)
    assert alice_cover is not None and album["tags"] == ["Publicgenre", SECRET]
    track = mine["track"]
    assert (track["copyright"], track["description"]["text"]) == (f"{SECRET} copyright", f"{SECRET} notes")

    bob_cover = None
    for viewer in (b, c, server.client()):
        seen = await _catalog(viewer)
        (album,), (track,), (artist,) = seen["albums"], seen["tracks"], seen["artists"]
        bob_cover = bob_cover or _cover(album)
        assert bob_cover not in (None, alice_cover)
        assert (_cover(album), _cover(track["album"]), _cover(artist["albums"][0])) == (bob_cover,) * 3
        assert album["tags"] == track["tags"] == ["Publicgenre"]
        assert (seen["track"]["license"], seen["track"]["copyright"], seen["track"]["description"]) == (None,) * 3
        assert (album["tracks_count"], album["duration"], track["uploads"][0]["duration"]) == (1, 2, 2)
        assert SECRET not in seen["tags"] and seen["secret_tag"] == 404
        assert seen["secret_tracks"] == 0 and seen["search_tags"] == []
        assert alice_cover.encode() not in seen["bodies"] and SECRET.encode() not in seen["bodies"]

    sub = Subsonic(server, carol)
    album_id = f"al-{album['id']}"
    got = (await sub.ok("getAlbum", id=album_id))["album"]
    assert got["genres"] == [{"name": "Publicgenre"}] and got["song"][0]["genres"] == [{"name": "Publicgenre"}]
    assert got["coverArt"] == album_id and got["duration"] == 2
    genres = (await sub.ok("getGenres"))["genres"]["genre"]
    assert [g["value"] for g in genres] == ["Publicgenre"]
    assert (await sub.ok("getSongsByGenre", genre=SECRET))["songsByGenre"].get("song", []) == []
    picture = await sub.raw("getCoverArt", {"id": album_id})
    assert picture.code == 200 and picture.body == make_cover("blue")

    resp = await b.delete(f"/api/v1/uploads/{bob_upload}/")
    assert resp.code == 204, resp
    for viewer in (c, server.client()):
        seen = await _catalog(viewer)
        assert (seen["albums"], seen["tracks"], seen["artists"], seen["tags"]) == ([], [], [], [])
        assert bob_cover.encode() not in seen["bodies"]
    assert (await sub.ok("getGenres"))["genres"].get("genre", []) == []
    gone = await sub.raw("getCoverArt", {"id": album_id, "f": "json"})
    assert gone.json["subsonic-response"]["error"]["code"] == 70
    assert (await server.client().get(f"/api/v1/attachments/{bob_cover}/proxy")).code == 404  # only Bob used it
    assert len(files_under(server.ctx.settings, "attachments")) == 1  # Alice's cover

    (album,) = (await _catalog(a))["albums"]
    assert (_cover(album), album["tags"], album["duration"]) == (alice_cover, [SECRET], 4)
