"""Funkwhale API coverage: every /api/v1 and /api/v2 operation of Funkwhale 1.4.0's own OpenAPI schema (outside
the areas other issues own) is routed, with ids of seeded objects in its path; paths and methods that do not exist
answer Funkwhale's JSON 404 and 405, never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest_twisted

from . import catalog_factories as cf
from .audio import make_cover
from .openapi_schema import Operation, operations
from .test_libraries import Session


async def seed(server: Any, db_conn: Any) -> tuple[Session, dict[str, str]]:
    """A superuser's catalog, playlist, radio, session, favorite, listening, filter, picture and app; the value
    of each `{param}` of the schema's paths (by path prefix, longest first, then by name)."""
    alice = cf.insert_listener(db_conn, "alice")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (alice["id"],))
    me = Session(server, db_conn, alice)
    library = cf.insert_library(db_conn, alice, "everyone")
    artist = cf.insert_artist(db_conn, "Nina")
    album = cf.insert_album(db_conn, artist, "Live")
    track = cf.insert_track(db_conn, artist, "Song", album)
    upload = cf.insert_upload(db_conn, library, track)
    cf.tag(db_conn, "track", track, "jazz")
    cf.catalog_changed()

    async def made(path: str, body: dict[str, Any], key: str = "id") -> str:
        resp = await me.post(path, json_body=body)
        assert resp.code in (200, 201), (path, resp)
        return str(resp.json[key])

    playlist = await made("/api/v1/playlists/", {"name": "Mix", "privacy_level": "me"})
    radio = await made("/api/v1/radios/radios/", {"name": "All", "config": []})
    session = await made("/api/v1/radios/sessions/", {"radio_type": "random"})
    favorite = await made("/api/v1/favorites/tracks/", {"track": track["id"]})
    listening = await made("/api/v1/history/listenings/", {"track": track["id"]})
    content_filter = await made(
        "/api/v1/moderation/content-filters/", {"target": {"type": "artist", "id": artist["id"]}}, "uuid"
    )
    app = await made(
        "/api/v1/oauth/apps/",
        {"name": "app", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read"},
        "client_id",
    )
    picture = await me.post(
        "/api/v1/attachments/",
        data=_picture_form(),
        headers={"Content-Type": "multipart/form-data; boundary=cover-boundary"},
    )
    assert picture.code == 201, picture
    values = {
        "/api/v1/albums/{id}": str(album["id"]),
        "/api/v1/artists/{id}": str(artist["id"]),
        "/api/v1/tracks/{id}": str(track["id"]),
        "/api/v1/attachments/{uuid}": picture.json["uuid"],
        "/api/v1/favorites/tracks/{id}": favorite,
        "/api/v1/history/listenings/{id}": listening,
        "/api/v1/instance/admin/settings/{id}": "instance__name",
        "/api/v1/libraries/{uuid}": str(library["uuid"]),
        "/api/v1/licenses/{code}": "cc-by-4.0",
        "/api/v1/listen/{uuid}": str(track["uuid"]),
        "/api/v1/stream/{uuid}": str(track["uuid"]),
        "/api/v1/moderation/content-filters/{uuid}": content_filter,
        "/api/v1/oauth/apps/{client_id}": app,
        "/api/v1/oauth/grants/{client_id}": app,
        "/api/v1/playlists/{id}": playlist,
        "/api/v1/radios/radios/{id}": radio,
        "/api/v1/radios/sessions/{id}": session,
        "/api/v2/radios/sessions/{id}": session,
        "/api/v1/tags/{name}": "jazz",
        "/api/v1/uploads/{uuid}": str(upload["uuid"]),
        "/api/v1/users/{username}": "alice",
    }
    return me, values


def _picture_form() -> bytes:
    head = b'--cover-boundary\r\nContent-Disposition: form-data; name="file"; filename="c.jpg"\r\n'
    return head + b"Content-Type: image/jpeg\r\n\r\n" + make_cover() + b"\r\n--cover-boundary--\r\n"


def concrete(op: Operation, values: dict[str, str]) -> str:
    """The operation's path with each `{param}` replaced by the seeded value of the longest matching prefix (an
    object nobody can have, such as a mutation or a plugin, gets a fresh name: its 404 must be an object's)."""
    path = op.path
    for match in reversed(list(re.finditer(r"\{[a-z_]+\}", path))):
        prefix = path[: match.end()]
        value = values.get(prefix, "00000000-0000-4000-8000-000000000000" if "uuid" in match.group() else "1")
        path = path[: match.start()] + value + path[match.end() :]
    return path


def unrouted(resp: Any) -> bool:
    """The router's 404 (no route: DRF's bare detail) or 405, as opposed to a missing object's 404 (with a code)."""
    if resp.code == 405:
        return True
    if resp.code != 404:
        return False
    body = resp.json if (resp.header("content-type") or "").startswith("application/json") else None
    return not isinstance(body, dict) or "code" not in body


@pytest_twisted.ensureDeferred
async def test_every_schema_operation_is_routed(server, db_conn):
    me, values = await seed(server, db_conn)
    ops = sorted(operations(), key=lambda op: op.method == "DELETE")  # deletions last: they remove the seeds
    problems = []
    for op in ops:
        path = concrete(op, values)
        body = {} if op.method in ("POST", "PUT", "PATCH") else None
        resp = await me.request(op.method, path, json_body=body)
        if unrouted(resp) or resp.code >= 500:
            problems.append(f"{op.method} {op.path} ({path}): {resp.code} {resp.body[:120]!r}")
    assert not problems, "\n".join(problems)


@pytest_twisted.ensureDeferred
async def test_unknown_paths_and_methods_answer_json_404_and_405(server, db_conn):
    me, values = await seed(server, db_conn)
    for path in ("/api/v1/nothing/", "/api/v1/tracks/1/nothing/", "/api/v2/nothing/", "/api/v1/radios/nothing/"):
        resp = await me.get(path)
        assert resp.code == 404 and resp.json == {"detail": "Not found."}, (path, resp)
    resp = await me.put("/api/v1/tags/", json_body={})
    assert resp.code == 405 and resp.json == {"detail": 'Method "PUT" not allowed.'}, resp
    resp = await me.request("PATCH", f"/api/v1/tracks/{values['/api/v1/tracks/{id}']}/", json_body={})
    assert resp.code == 405 and "GET" in (resp.header("allow") or ""), resp


@pytest_twisted.ensureDeferred
async def test_channel_only_writes_are_refused_as_1_4_refuses_them_outside_channels(server, db_conn):
    """1.4 creates albums and deletes albums and tracks only in the caller's channels: without one, a POST names
    the artist that is no channel of theirs, a DELETE finds nothing, and the catalog is untouched."""
    me, values = await seed(server, db_conn)
    album_id, track_id = values["/api/v1/albums/{id}"], values["/api/v1/tracks/{id}"]
    made = await me.post("/api/v1/albums/", json_body={"title": "New", "artist": 1})
    assert made.code == 400 and made.json["artist"] == ["Object with id=1 does not exist."], made
    empty = await me.post(
        "/api/v1/albums/", data=b"title=", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert empty.json["title"] == empty.json["artist"] == ["This field is required."], empty
    for path in (f"/api/v1/albums/{album_id}/", f"/api/v1/tracks/{track_id}/"):
        assert (await me.request("DELETE", path)).code == 404
        assert (await me.get(path)).code == 200, "still there"
    for method, path in (("POST", "/api/v1/tracks/"), ("POST", "/api/v1/artists/"), ("DELETE", "/api/v1/artists/1/")):
        refused = await me.request(method, path, json_body={})
        assert refused.code == 405 and set(refused.header("allow").split(", ")) == {"GET", "HEAD"}, refused
    assert (await server.client().request("DELETE", f"/api/v1/albums/{album_id}/")).code == 401
