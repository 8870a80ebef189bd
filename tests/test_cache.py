"""Redis as a cache: hot reads (instance preferences, NodeInfo figures, Subsonic's artist indexes) come from
Redis until what they depend on changes; every change made through the server makes them stale at once, so no
listener sees stale or another listener's private content."""

from __future__ import annotations

import pytest_twisted

from funkwhale import cache

from . import catalog_factories as cf
from .audio import make_audio
from .subsonic_helpers import StatementCounter, Subsonic
from .test_libraries import Session
from .test_uploads import form, settled, upload


def artist_names(body: dict) -> list[str]:
    return [a["name"] for index in body["artists"]["index"] for a in index["artist"]]


async def import_song(server, session, library, tmp_path, artist: str) -> dict:
    song = make_audio(tmp_path, artist, "ogg", title=f"{artist} song", artist=artist, album=f"{artist} album")
    resp = await upload(session, form({"library": str(library["uuid"])}, song.read_bytes(), filename="s.ogg"))
    assert resp.code == 201, resp
    done = await settled(session, resp.json["uuid"], server.ctx.clock)
    assert done["import_status"] == "finished", done
    return done


@pytest_twisted.ensureDeferred
async def test_artist_indexes_are_cached_until_the_catalog_or_the_listeners_data_change(
    server, db_conn, alice, bob, tmp_path
):
    shared = cf.insert_library(db_conn, alice, "everyone", name="shared")
    alice_session, alice_api, bob_api = Session(server, db_conn, alice), Subsonic(server, alice), Subsonic(server, bob)
    await import_song(server, alice_session, shared, tmp_path, "Aldous")
    counter = StatementCounter(server)
    assert artist_names(await bob_api.ok("getArtists")) == ["Aldous"]
    counter.executed.clear()
    assert artist_names(await bob_api.ok("getArtists")) == ["Aldous"]
    assert counter.executed == [], "the second read comes from Redis"

    # an import: everyone sees the new artist at once
    await import_song(server, alice_session, shared, tmp_path, "Berta")
    assert artist_names(await bob_api.ok("getArtists")) == ["Aldous", "Berta"]
    # a privacy change: bob no longer sees alice's library, alice still does
    resp = await alice_session.patch(f"/api/v1/libraries/{shared['uuid']}/", json_body={"privacy_level": "me"})
    assert resp.code == 200, resp
    assert artist_names(await bob_api.ok("getArtists")) == []
    assert artist_names(await alice_api.ok("getArtists")) == ["Aldous", "Berta"]
    # a star: only that listener's index changes
    berta = next(a for i in (await alice_api.ok("getArtists"))["artists"]["index"] for a in i["artist"]
                 if a["name"] == "Berta")  # fmt: skip
    await alice_api.ok("star", artistId=berta["id"])
    starred = {a["name"]: a.get("starred") for i in (await alice_api.ok("getArtists"))["artists"]["index"]
               for a in i["artist"]}  # fmt: skip
    assert starred["Berta"] and not starred["Aldous"]
    # a content filter hides the artist from that listener's index
    target = {"type": "artist", "id": int(berta["id"].split("-")[1])}
    resp = await alice_session.post("/api/v1/moderation/content-filters/", json_body={"target": target})
    assert resp.code == 201, resp
    assert artist_names(await alice_api.ok("getArtists")) == ["Aldous"]
    resp = await alice_session.delete(f"/api/v1/moderation/content-filters/{resp.json['uuid']}/")
    assert resp.code == 204 and artist_names(await alice_api.ok("getArtists")) == ["Aldous", "Berta"]
    # a deletion: the artist with nothing left goes
    uploads = (await alice_session.get("/api/v1/uploads/?q=Berta")).json["results"]
    assert (await alice_session.delete(f"/api/v1/uploads/{uploads[0]['uuid']}/")).code == 204
    assert artist_names(await alice_api.ok("getArtists")) == ["Aldous"]
    indexes = await alice_api.ok("getIndexes")
    assert [a["name"] for i in indexes["indexes"]["index"] for a in i["artist"]] == ["Aldous"]
    assert cache.hit_rates()["subsonic.artists.json"] > 0


@pytest_twisted.ensureDeferred
async def test_preferences_and_nodeinfo_figures_are_fresh_after_a_change(server, db_conn, alice, tmp_path):
    client = server.client()
    before = (await client.get("/api/v1/instance/nodeinfo/2.0/")).json
    assert before["usage"]["users"]["total"] >= 1
    library = cf.insert_library(db_conn, alice, "everyone")
    await import_song(server, Session(server, db_conn, alice), library, tmp_path, "Counted")
    after = (await client.get("/api/v1/instance/nodeinfo/2.0/")).json
    assert after["metadata"]["library"]["tracks"]["total"] == before["metadata"]["library"]["tracks"]["total"] + 1

    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (alice["id"],))
    admin = Session(server, db_conn, alice)
    name = lambda body: next(p["value"] for p in body if p["identifier"] == "instance__name")  # noqa: E731
    assert name((await client.get("/api/v1/instance/settings/")).json) != "Cached FM"
    resp = await admin.post("/api/v1/instance/admin/settings/", json_body={"instance__name": "Cached FM"})
    assert resp.code == 200, resp
    assert name((await client.get("/api/v1/instance/settings/")).json) == "Cached FM"
    assert (await client.get("/api/v1/instance/nodeinfo/2.0/")).json["metadata"]["nodeName"] == "Cached FM"
