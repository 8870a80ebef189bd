"""Request bodies as DRF takes them: what a route accepts as JSON it also accepts form-encoded and as multipart
(values arriving as text where JSON sends numbers and booleans, repeated names as lists, a file part as its file
name); a malformed multipart body is a 400."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_twisted

from . import catalog_factories as cf

BOUNDARY = "----fw-bodies-boundary-a1b2c3"


def multipart(pairs: list[tuple[str, str]], files: list[tuple[str, str, bytes]] = ()) -> bytes:
    """A multipart/form-data body of text `pairs` and (name, filename, content) `files`."""
    out = b""
    for name, value in pairs:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, filename, content in files:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        out += head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def send(client: Any, path: str, encoding: str, pairs: list[tuple[str, str]]) -> Any:
    """POST `pairs` to `path` form-encoded or as multipart."""
    if encoding == "form":
        data, ctype = urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    else:
        data, ctype = multipart(pairs), f"multipart/form-data; boundary={BOUNDARY}"
    return await client.post(path, data=data, headers={"Content-Type": ctype})


@pytest.fixture
def music(db_conn, alice):
    lib = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Nina")
    return [cf.playable_track(db_conn, lib, artist, f"Song {i}") for i in range(3)]


@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest_twisted.ensureDeferred
async def test_text_values_where_json_sends_numbers(web_server, db_conn, alice, music, encoding):
    a = cf.listener_client(web_server, db_conn, alice)
    ids = [t["id"] for t in music]

    fav = await send(a, "/api/v1/favorites/tracks/", encoding, [("track", str(ids[0]))])
    assert fav.code == 201 and fav.json["track"] == ids[0], fav

    radio = await a.post("/api/v1/radios/radios/", json_body={"name": "all", "config": [], "is_public": False})
    assert radio.code == 201, radio
    pairs = [("radio_type", "custom"), ("custom_radio", str(radio.json["id"]))]
    created = await send(a, "/api/v1/radios/sessions/", encoding, pairs)
    assert created.code == 201 and created.json["custom_radio"] == radio.json["id"], created
    drawn = await send(a, "/api/v1/radios/tracks/", encoding, [("session", str(created.json["id"]))])
    assert drawn.code == 201 and drawn.json["track"]["id"] in ids, drawn

    playlist = await send(a, "/api/v1/playlists/", encoding, [("name", "Mix"), ("privacy_level", "me")])
    assert playlist.code == 201 and playlist.json["name"] == "Mix", playlist
    url = f"/api/v1/playlists/{playlist.json['id']}/add/"
    added = await send(a, url, encoding, [("tracks", str(ids[0])), ("tracks", str(ids[1]))])
    assert added.code == 201 and [e["track"]["id"] for e in added.json["results"]] == ids[:2], added
    again = await send(a, url, encoding, [("tracks", str(ids[0])), ("allow_duplicates", "true")])
    assert again.code == 201, again
    refused = await send(a, url, encoding, [("tracks", str(ids[0])), ("allow_duplicates", "false")])
    assert refused.code == 400, refused
    listed = await a.get(f"/api/v1/playlists/{playlist.json['id']}/tracks/")
    assert [e["track"]["id"] for e in listed.json["results"]] == [ids[0], ids[1], ids[0]]


@pytest_twisted.ensureDeferred
async def test_multipart_file_parts_and_malformed_bodies(web_server, db_conn, alice, music):
    a = cf.listener_client(web_server, db_conn, alice)
    ctype = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    # a file part where no route needs the file: read past (a large one too), its name is the value
    body = multipart([("privacy_level", "me")], [("name", "cover.png", b"\x89PNG" + b"x" * 2_000_000)])
    created = await a.post("/api/v1/playlists/", data=body, headers=ctype)
    assert created.code == 201 and created.json["name"] == "cover.png", created

    # a form's csrfmiddlewaretoken (Django's other spelling of the CSRF token) is read from a multipart form too
    no_header = {**ctype, "X-CSRFToken": ""}
    token = a.cookie("csrftoken")
    signed = multipart([("name", "Signed"), ("csrfmiddlewaretoken", token)])
    assert (await a.post("/api/v1/playlists/", data=signed, headers=no_header)).code == 201
    unsigned = multipart([("name", "Unsigned")])
    assert (await a.post("/api/v1/playlists/", data=unsigned, headers=no_header)).code == 403

    # the playlist import takes the file as the body (or JSON): a multipart form's file is not kept, so it is a 415
    m3u = multipart([("name", "Mix")], [("file", "mix.m3u", b"#EXTM3U\nNina - Song 0\n")])
    assert (await a.post("/api/v1/playlists/import/", data=m3u, headers=ctype)).code == 415

    truncated = multipart([("track", str(music[0]["id"]))])[:-20]
    bad = await a.post("/api/v1/favorites/tracks/", data=truncated, headers=ctype)
    assert bad.code == 400 and bad.json["code"] == "parse_error", bad
    no_boundary = await a.post("/api/v1/favorites/tracks/", data=b"x", headers={"Content-Type": "multipart/form-data"})
    assert no_boundary.code == 400, no_boundary
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM track_favorite")
        assert cur.fetchone()["n"] == 0
