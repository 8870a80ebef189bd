"""/api/v1/libraries/ over HTTP: create, list, retrieve, change, delete; privacy and ownership."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest_twisted

from . import catalog_factories as cf
from .client import ApiClient, Response
from .factories import insert_session


class Session(ApiClient):
    """An ApiClient logged in as `user` (session cookie and CSRF token), for reads and writes."""

    def __init__(self, server: Any, conn: Any, user: dict[str, Any]) -> None:
        super().__init__(server.base)
        key, csrf = insert_session(conn, user["id"])
        self.headers = {"Cookie": f"sessionid={key}; csrftoken={csrf}", "X-CSRFToken": csrf}

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Response:
        return await super().request(method, path, headers={**self.headers, **(headers or {})}, **kw)


def count_rows(conn: Any, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM {table}")
        return cur.fetchone()["n"]


def media_file(settings: Any, name: str, data: bytes = b"audio") -> Path:
    """Create a file under MEDIA_ROOT (what an upload or transcode row points at)."""
    path = Path(settings.media_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest_twisted.ensureDeferred
async def test_create_list_retrieve(web_server, db_conn, alice):
    me = Session(web_server, db_conn, alice)
    resp = await me.post(
        "/api/v1/libraries/", json_body={"name": "Vinyl rips", "description": "Mine", "privacy_level": "instance"}
    )
    assert resp.code == 201, resp
    lib = resp.json
    assert lib["name"] == "Vinyl rips" and lib["description"] == "Mine" and lib["privacy_level"] == "instance"
    assert lib["fid"] == f"http://test.funkwhale.local/federation/music/libraries/{lib['uuid']}"
    assert (lib["uploads_count"], lib["size"]) == (0, 0) and lib["creation_date"]
    actor = lib["actor"]
    assert actor["preferred_username"] == "alice" and actor["full_username"] == "alice@test.funkwhale.local"
    assert actor["fid"] == "http://test.funkwhale.local/federation/actors/alice" and actor["is_local"] is True

    # a form (as the SPA may send it) works too, and privacy defaults to "me"
    resp = await me.post("/api/v1/libraries", form={"name": "Second"})
    assert resp.code == 201 and resp.json["privacy_level"] == "me", resp

    with db_conn.cursor() as cur:
        cur.execute("SELECT * FROM library WHERE uuid = %s", (lib["uuid"],))
        row = cur.fetchone()
    cf.insert_upload(db_conn, row, None, import_status="finished", size=1000)
    cf.insert_upload(db_conn, row, None, import_status="finished", size=500)
    cf.insert_upload(db_conn, row, None, import_status="pending", size=7)

    resp = await me.get("/api/v1/libraries/")
    assert resp.code == 200, resp
    assert resp.json["count"] == 2 and resp.json["next"] is None
    assert [r["name"] for r in resp.json["results"]] == ["Second", "Vinyl rips"]  # newest first
    listed = resp.json["results"][1]
    assert (listed["uploads_count"], listed["size"]) == (3, 1500)  # size: finished uploads
    assert listed["actor"] == actor

    resp = await me.get(f"/api/v1/libraries/{lib['uuid']}/")
    assert resp.code == 200 and resp.json == listed, resp

    resp = await me.get("/api/v1/libraries/", params={"q": "vinyl"})
    assert [r["name"] for r in resp.json["results"]] == ["Vinyl rips"]
    resp = await me.get("/api/v1/libraries/", params={"privacy_level": "me"})
    assert [r["name"] for r in resp.json["results"]] == ["Second"]
    resp = await me.get("/api/v1/libraries/", params={"page_size": 1, "page": 2})
    assert resp.json["count"] == 2 and [r["name"] for r in resp.json["results"]] == ["Vinyl rips"]
    assert resp.json["previous"] and resp.json["next"] is None


@pytest_twisted.ensureDeferred
async def test_invalid_library_writes_nothing(web_server, db_conn, alice):
    me = Session(web_server, db_conn, alice)
    cases = [
        ({"description": "no name"}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field may not be blank."),
        ({"name": "x" * 101}, "name", "Ensure this field has no more than 100 characters."),
        ({"name": "ok", "privacy_level": "friends"}, "privacy_level", '"friends" is not a valid choice.'),
        ({"name": 12}, "name", "Not a valid string."),
    ]
    for body, field, message in cases:
        resp = await me.post("/api/v1/libraries/", json_body=body)
        assert resp.code == 400, (body, resp)
        assert resp.json[field] == [message], resp
    resp = await me.post("/api/v1/libraries/", data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.code == 400 and resp.json["code"] == "parse_error", resp
    assert count_rows(db_conn, "library") == 0

    anonymous = ApiClient(web_server.base)
    resp = await anonymous.get("/api/v1/libraries/")
    assert resp.code == 401, resp


@pytest_twisted.ensureDeferred
async def test_privacy_and_ownership(web_server, db_conn, alice, bob):
    private = cf.insert_library(db_conn, alice, "me", name="private")
    shared = cf.insert_library(db_conn, alice, "instance", name="shared")
    public = cf.insert_library(db_conn, alice, "everyone", name="public")
    mine = cf.insert_library(db_conn, bob, "me", name="bob's")
    other = Session(web_server, db_conn, bob)

    resp = await other.get("/api/v1/libraries/")
    assert [r["name"] for r in resp.json["results"]] == ["bob's"]  # only one's own by default
    resp = await other.get("/api/v1/libraries/", params={"scope": "all"})
    assert sorted(r["name"] for r in resp.json["results"]) == ["bob's", "public", "shared"]

    resp = await other.get(f"/api/v1/libraries/{private['uuid']}/")
    assert resp.code == 404, resp
    resp = await other.get(f"/api/v1/libraries/{shared['uuid']}/")
    assert resp.code == 200 and resp.json["name"] == "shared" and resp.json["actor"]["preferred_username"] == "alice"

    for lib in (private, shared, public):
        resp = await other.patch(f"/api/v1/libraries/{lib['uuid']}/", json_body={"name": "mine now"})
        assert resp.code == 404, resp
        resp = await other.delete(f"/api/v1/libraries/{lib['uuid']}/")
        assert resp.code == 404, resp
    assert count_rows(db_conn, "library") == 4
    resp = await Session(web_server, db_conn, alice).get("/api/v1/libraries/", params={"page_size": 10})
    assert sorted(r["name"] for r in resp.json["results"]) == ["private", "public", "shared"]
    assert mine["uuid"] not in [r["uuid"] for r in resp.json["results"]]

    resp = await other.get("/api/v1/libraries/not-a-uuid/")
    assert resp.code == 404, resp


@pytest_twisted.ensureDeferred
async def test_update(web_server, db_conn, alice):
    lib = cf.insert_library(db_conn, alice, "me", name="old")
    me = Session(web_server, db_conn, alice)
    url = f"/api/v1/libraries/{lib['uuid']}/"

    resp = await me.patch(url, json_body={"privacy_level": "everyone", "description": "now public"})
    assert resp.code == 200, resp
    assert (resp.json["name"], resp.json["privacy_level"], resp.json["description"]) == (
        "old",
        "everyone",
        "now public",
    )
    resp = await me.patch(url, json_body={"privacy_level": "nobody"})
    assert resp.code == 400 and resp.json["privacy_level"] == ['"nobody" is not a valid choice.'], resp
    resp = await me.put(url, json_body={"description": "no name"})
    assert resp.code == 400 and resp.json["name"] == ["This field is required."], resp
    resp = await me.put(url, json_body={"name": "new", "privacy_level": "me"})
    assert resp.code == 200 and resp.json["name"] == "new" and resp.json["privacy_level"] == "me", resp
    resp = await me.get(url)
    assert (resp.json["name"], resp.json["privacy_level"], resp.json["description"]) == ("new", "me", "now public")
    resp = await me.patch(f"/api/v1/libraries/{uuid.uuid4()}/", json_body={"name": "x"})
    assert resp.code == 404, resp


@pytest_twisted.ensureDeferred
async def test_delete_removes_uploads_and_files(web_server, db_conn, settings, alice):
    lib = cf.insert_library(db_conn, alice, "me")
    kept_lib = cf.insert_library(db_conn, alice, "me", name="kept")
    first = media_file(settings, "tracks/aa/bb/first.mp3")
    second = media_file(settings, "tracks/aa/bb/second.flac")
    transcoded = media_file(settings, "transcoded/cc/dd/first.ogg")
    kept = media_file(settings, "tracks/aa/bb/kept.mp3")
    upload = cf.insert_upload(db_conn, lib, None, audio_file="tracks/aa/bb/first.mp3")
    cf.insert_upload(db_conn, lib, None, import_status="errored", audio_file="tracks/aa/bb/second.flac")
    cf.insert_upload(db_conn, kept_lib, None, audio_file="tracks/aa/bb/kept.mp3")
    with db_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO upload_version (upload_id, mimetype, bitrate, audio_file) VALUES (%s, 'audio/ogg', 1, %s)",
            (upload["id"], "transcoded/cc/dd/first.ogg"),
        )
    me = Session(web_server, db_conn, alice)

    resp = await me.delete(f"/api/v1/libraries/{lib['uuid']}/")
    assert resp.code == 204, resp
    assert not first.exists() and not second.exists() and not transcoded.exists()
    assert kept.exists() and count_rows(db_conn, "upload") == 1 and count_rows(db_conn, "upload_version") == 0
    resp = await me.get(f"/api/v1/libraries/{lib['uuid']}/")
    assert resp.code == 404, resp
    resp = await me.delete(f"/api/v1/libraries/{lib['uuid']}/")
    assert resp.code == 404, resp
