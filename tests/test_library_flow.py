"""The whole listener flow over HTTP with the real worker: upload an album, see it imported, browse it, search it,
play it with Range and transcoded, see its cover; another listener sees none of it."""

from __future__ import annotations

import pytest_twisted

from . import catalog_factories as cf
from .audio import make_audio, make_cover
from .test_libraries import Session
from .test_uploads import form, settled, upload


@pytest_twisted.ensureDeferred
async def test_upload_import_browse_search_play(server, db_conn, tmp_path):
    alice, bob = cf.insert_listener(db_conn, "alice"), cf.insert_listener(db_conn, "bob")
    me = Session(server, db_conn, alice)
    made = await me.post("/api/v1/libraries/", json_body={"name": "Vinyl rips", "privacy_level": "me"})
    assert made.code == 201, made
    library = made.json["uuid"]

    cover = make_cover("purple")
    songs = [
        make_audio(
            tmp_path,
            f"{n}",
            fmt,
            title=title,
            artist="Sigur Rós",
            album="Ágætis byrjun",
            track=f"{n}/3",
            date="1999",
            genre="Post-rock",
            cover=cover,
        )
        for n, (fmt, title) in enumerate([("mp3", "Svefn-g-englar"), ("flac", "Starálfur"), ("m4a", "Olsen Olsen")], 1)
    ]
    uuids = []
    for path in songs:
        resp = await upload(
            me, form({"library": library, "import_reference": "flow"}, path.read_bytes(), filename=path.name)
        )
        assert resp.code == 201, resp
        uuids.append(resp.json["uuid"])
    for upload_uuid in uuids:
        assert (await settled(me, upload_uuid, server.ctx.clock))["import_status"] == "finished"

    albums = (await me.get("/api/v1/albums/")).json
    assert albums["count"] == 1
    album = albums["results"][0]
    assert album["title"] == "Ágætis byrjun" and album["artist"]["name"] == "Sigur Rós"
    assert album["cover"] is not None
    tracks = (await me.get("/api/v1/tracks/", params={"album": album["id"], "ordering": "position"})).json
    assert [t["title"] for t in tracks["results"]] == ["Svefn-g-englar", "Starálfur", "Olsen Olsen"]
    assert [t["tags"] for t in tracks["results"]] == [["Post-rock"]] * 3

    found = (await me.get("/api/v1/search", params={"query": "sigur ros"})).json
    assert [a["name"] for a in found["artists"]] == ["Sigur Rós"]
    assert [t["title"] for t in (await me.get("/api/v1/search", params={"q": "starálfur"})).json["tracks"]] == [
        "Starálfur"
    ]

    flac = tracks["results"][1]
    ranged = await me.get(flac["listen_url"], headers={"Range": "bytes=0-3"})
    assert ranged.code == 206 and ranged.body == b"fLaC"
    mp3 = await me.get(flac["listen_url"], params={"to": "mp3", "max_bitrate": "64"})
    assert mp3.code == 200 and mp3.header("Content-Type") == "audio/mpeg" and len(mp3.body) > 1000

    picture = await me.get(album["cover"]["urls"]["medium_square_crop"].removeprefix(server.ctx.settings.base_url))
    assert picture.code == 200 and picture.header("Content-Type") == "image/jpeg"

    other = Session(server, db_conn, bob)
    assert (await other.get("/api/v1/tracks/")).json["count"] == 0
    assert (await other.get("/api/v1/search", params={"q": "sigur"})).json["artists"] == []
    assert (await other.get(flac["listen_url"])).code == 404
