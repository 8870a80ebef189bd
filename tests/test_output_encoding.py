"""What we write for other programs to read stays well-formed whatever a title holds: one M3U entry per track,
Subsonic XML (and XSPF) that an XML parser reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest_twisted

from . import catalog_factories as cf
from .subsonic_helpers import NS, Subsonic

EVIL = "Song\n#EXTINF:1,Evil - Injected\nhttp://evil.example/x.mp3\r\nhttp://evil2\u2028#EXTINF:2,x\x85y"


@pytest_twisted.ensureDeferred
async def test_a_title_cannot_add_entries_to_an_m3u(web_server, db_conn, alice):
    library = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Nina\nhttp://evil.example/artist")
    tracks = [cf.playable_track(db_conn, library, artist, title) for title in (EVIL, "Fine")]
    client = cf.listener_client(web_server, db_conn, alice)
    playlist = (await client.post("/api/v1/playlists/", json_body={"name": "p", "privacy_level": "me"})).json
    ids = [t["id"] for t in tracks]
    assert (await client.post(f"/api/v1/playlists/{playlist['id']}/add/", json_body={"tracks": ids})).code == 201

    m3u = await client.get(f"/api/v1/playlists/{playlist['id']}/export/")
    lines = m3u.body.decode().splitlines()  # splits at every line boundary a reader might use
    assert len(lines) == 1 + 2 * len(tracks), lines
    assert [line.startswith("#EXTINF:") for line in lines[1:]] == [True, False, True, False]
    assert all("/api/v1/listen/" in line for line in lines[2::2]) and "evil" not in "".join(lines[2::2])
    assert lines[1].startswith("#EXTINF:180,Nina http://evil.example/artist - Song #EXTINF:1,Evil - Injected")

    # and importing the export back finds exactly those two tracks
    imported = await client.post("/api/v1/playlists/import/", json_body={"name": "copy", "content": m3u.body.decode()})
    assert imported.code == 201 and imported.json["tracks_count"] == 2, imported


@pytest_twisted.ensureDeferred
async def test_control_characters_leave_xml_parsable(web_server, db_conn, alice):
    library = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Art\x1bist")
    track = cf.playable_track(db_conn, library, artist, "Bad\x01\x1b[31mTitle\x7f\ufffe")
    api = Subsonic(web_server, alice)

    song = (await api.xml("getSong", id=f"tr-{track['id']}")).find(f"{NS}song")
    assert song is not None and song.get("title") == "Bad[31mTitle\x7f" and song.get("artist") == "Artist"
    found = await api.xml("search3", query="")
    assert [s.get("title") for s in found.iter(f"{NS}song")] == ["Bad[31mTitle\x7f"]
    assert (await api.ok("getSong", id=f"tr-{track['id']}"))["song"]["title"] == "Bad\x01\x1b[31mTitle\x7f\ufffe"

    client = cf.listener_client(web_server, db_conn, alice)
    playlist = (await client.post("/api/v1/playlists/", json_body={"name": "p\x02", "privacy_level": "me"})).json
    await client.post(f"/api/v1/playlists/{playlist['id']}/add/", json_body={"tracks": [track["id"]]})
    xspf = await client.get(f"/api/v1/playlists/{playlist['id']}/export/", params={"format": "xspf"})
    root = ET.fromstring(xspf.body)
    assert root.findtext("{http://xspf.org/ns/0/}title") == "p"
