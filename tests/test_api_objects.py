"""The object routes added for Funkwhale 1.4 coverage, by behaviour: one favorite, listening, content filter or
radio session by id; pictures deleted by their sender only; the libraries holding an object; a radio filter's
candidates; an upload's file tags; recent activity; fetches, mutations and plugins; the web app manifest."""

from __future__ import annotations

import shutil

import pytest
import pytest_twisted

from funkwhale import storage

from . import catalog_factories as cf
from .audio import make_audio, make_cover
from .test_libraries import Session


@pytest.fixture
def music(db_conn):
    alice, bob = cf.insert_listener(db_conn, "alice"), cf.insert_listener(db_conn, "bob")
    mine = cf.insert_library(db_conn, alice, "me", "Mine")
    nina = cf.insert_artist(db_conn, "Nina")
    album = cf.insert_album(db_conn, nina, "Live")
    track = cf.playable_track(db_conn, mine, nina, "Feeling Good", album)
    return {"alice": alice, "bob": bob, "mine": mine, "nina": nina, "album": album, "track": track}


@pytest_twisted.ensureDeferred
async def test_entries_by_id_are_the_owners(server, db_conn, music):
    a, b = Session(server, db_conn, music["alice"]), Session(server, db_conn, music["bob"])
    track = music["track"]["id"]
    favorite = (await a.post("/api/v1/favorites/tracks/", json_body={"track": track})).json
    listening = (await a.post("/api/v1/history/listenings/", json_body={"track": track})).json
    shown = await a.get(f"/api/v1/history/listenings/{listening['id']}/")
    assert shown.code == 200 and shown.json["track"]["id"] == track and shown.json["user"]["username"] == "alice"
    assert (await b.get(f"/api/v1/history/listenings/{listening['id']}/")).code == 404  # her track is private
    assert (await b.delete(f"/api/v1/favorites/tracks/{favorite['id']}/")).code == 404
    assert (await a.delete(f"/api/v1/favorites/tracks/{favorite['id']}/")).code == 204
    assert (await a.get("/api/v1/favorites/tracks/all/")).json["count"] == 0

    made = await a.post(
        "/api/v1/moderation/content-filters/", json_body={"target": {"type": "artist", "id": music["nina"]["id"]}}
    )
    url = f"/api/v1/moderation/content-filters/{made.json['uuid']}/"
    assert (await a.get(url)).json == made.json
    assert (await b.get(url)).code == 404 and (await a.get("/api/v1/moderation/content-filters/x/")).code == 404

    session = (await a.post("/api/v1/radios/sessions/", json_body={"radio_type": "random"})).json
    assert (await a.get(f"/api/v2/radios/sessions/{session['id']}/")).json == session
    assert (await b.get(f"/api/v2/radios/sessions/{session['id']}/")).code == 404
    assert (await a.get("/api/v1/oauth/grants/unknown-client/")).code == 404


@pytest_twisted.ensureDeferred
async def test_a_picture_is_deleted_by_its_sender_only(server, db_conn, music):
    a, b = Session(server, db_conn, music["alice"]), Session(server, db_conn, music["bob"])
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="c.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    sent = await a.post(
        "/api/v1/attachments/",
        data=body + make_cover() + b"\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert sent.code == 201, sent
    url = f"/api/v1/attachments/{sent.json['uuid']}/"
    assert (await b.delete(url)).code == 404
    assert (await a.delete(url)).code == 204
    assert (await a.get(url)).code == 404
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM attachment")
        assert cur.fetchone()["n"] == 0


@pytest_twisted.ensureDeferred
async def test_libraries_holding_an_object(server, db_conn, music):
    a, b = Session(server, db_conn, music["alice"]), Session(server, db_conn, music["bob"])
    for kind, row in (("tracks", music["track"]), ("albums", music["album"]), ("artists", music["nina"])):
        mine = await a.get(f"/api/v1/{kind}/{row['id']}/libraries/")
        assert mine.code == 200 and [lib["name"] for lib in mine.json["results"]] == ["Mine"], (kind, mine)
        assert (await b.get(f"/api/v1/{kind}/{row['id']}/libraries/")).json["count"] == 0  # private library


@pytest_twisted.ensureDeferred
async def test_radio_filters_are_validated_with_their_candidates(server, db_conn, music):
    a = Session(server, db_conn, music["alice"])
    filters = [{"type": "artist", "ids": [music["nina"]["id"]]}, {"type": "artist", "ids": [999999]}, {"type": "x"}]
    resp = await a.post("/api/v1/radios/radios/validate/", json_body={"filters": filters})
    assert resp.code == 200, resp
    good, unknown, bad = resp.json["filters"]
    assert good["errors"] == [] and good["candidates"]["count"] == 1
    assert good["candidates"]["sample"][0]["title"] == "Feeling Good"
    assert unknown["errors"] and unknown["candidates"]["count"] is None
    assert bad["errors"] and bad["filter"] == {"type": "x"}
    assert (await a.post("/api/v1/radios/radios/validate/", json_body={})).code == 400


@pytest_twisted.ensureDeferred
async def test_audio_file_metadata_reads_the_uploaded_file(server, db_conn, music, tmp_path):
    a, b = Session(server, db_conn, music["alice"]), Session(server, db_conn, music["bob"])
    source = make_audio(tmp_path, "song", "ogg", title="Sinnerman", artist="Nina", album="Pastel", genre="Jazz")
    name = storage.new_name(storage.TRACKS, ".ogg")
    target = storage.absolute(server.ctx.settings, name)
    storage.ensure_parent(target)
    shutil.copyfile(source, target)
    row = cf.insert_upload(db_conn, music["mine"], music["track"], audio_file=name)
    url = f"/api/v1/uploads/{row['uuid']}/audio-file-metadata/"
    resp = await a.get(url)
    assert resp.code == 200, resp
    assert resp.json["title"] == "Sinnerman" and resp.json["tags"] == ["Jazz"]
    assert resp.json["artists"] == [{"name": "Nina", "mbid": None}] and resp.json["album"]["title"] == "Pastel"
    assert (await b.get(url)).code == 404
    target.unlink()
    assert (await a.get(url)).code == 404


@pytest_twisted.ensureDeferred
async def test_activity_fetches_mutations_plugins_and_manifest(server, db_conn, music):
    a, b = Session(server, db_conn, music["alice"]), Session(server, db_conn, music["bob"])
    with db_conn.cursor() as cur:
        cur.execute("UPDATE library SET privacy_level = 'everyone'")
    cf.catalog_changed()
    track = music["track"]["id"]
    await a.post("/api/v1/favorites/tracks/", json_body={"track": track})
    await a.post("/api/v1/history/listenings/", json_body={"track": track})
    activity = (await b.get("/api/v1/activity/")).json["results"]
    assert [(x["type"], x["object"]["name"], x["actor"]["name"]) for x in activity] == [
        ("Listen", "Feeling Good", "alice"),
        ("Like", "Feeling Good", "alice"),
    ]

    fetched = await a.post(f"/api/v1/tracks/{track}/fetches/")
    assert fetched.code == 201 and fetched.json["status"] == "errored", fetched  # a local track: nothing to ask
    assert (await a.get(f"/api/v1/tracks/{track}/fetches/")).json["count"] == 1
    assert (await b.get(f"/api/v1/tracks/{track}/fetches/")).json["count"] == 0

    assert (await a.get(f"/api/v1/albums/{music['album']['id']}/mutations/")).json["count"] == 0
    suggested = await a.post(f"/api/v1/tracks/{track}/mutations/", json_body={"type": "update", "payload": {}})
    assert suggested.code == 400 and suggested.json["code"] == "edits_not_supported"
    assert (await a.get("/api/v1/mutations/")).json["count"] == 0
    assert (await a.post("/api/v1/plugins/1/enable/")).code == 404
    assert (await a.get("/api/v1/plugins/")).json == []

    manifest = await a.get("/api/v1/instance/spa-manifest.json")
    assert manifest.code == 200 and manifest.json["start_url"] == "/" and manifest.json["name"]


@pytest_twisted.ensureDeferred
async def test_user_settings_are_merged(server, db_conn, music):
    a = Session(server, db_conn, music["alice"])
    assert (await a.post("/api/v1/users/settings/", json_body={"theme": "dark"})).json == {"theme": "dark"}
    merged = await a.post("/api/v1/users/settings/", form={"language": "fr"})
    assert merged.code == 200 and merged.json == {"theme": "dark", "language": "fr"}
    assert (await a.get("/api/v1/users/me/")).json["settings"] == merged.json
    assert (await a.post("/api/v1/users/settings/", json_body={"blob": "x" * 70_000})).code == 400
    assert (await a.get("/api/v1/users/me/")).json["settings"] == merged.json
