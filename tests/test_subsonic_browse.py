"""Subsonic browsing over a real imported library: folders, indexes, directories, artists, albums, songs, infos,
genres, in JSON (schema-validated) and XML, with the attributes clients read."""

from __future__ import annotations

import pytest_twisted

from .subsonic_helpers import NS, Subsonic, one


def _ids(conn):
    row = one(
        conn,
        "SELECT (SELECT id FROM artist WHERE name = 'The Night Owls') AS owls,"
        " (SELECT id FROM album WHERE title = 'Dusk') AS dusk,"
        " (SELECT id FROM track WHERE title = 'First Light') AS first,"
        " (SELECT id FROM artist WHERE name = 'Die Ärzte') AS arzte",
    )
    return row


@pytest_twisted.ensureDeferred
async def test_folders_indexes_and_artists(web_server, db_conn, alice, imported):
    api = Subsonic(web_server, alice)
    ids = _ids(db_conn)
    folders = (await api.ok("getMusicFolders"))["musicFolders"]["musicFolder"]
    assert folders == [{"id": imported["id"], "name": "Home"}]
    artists = (await api.ok("getArtists"))["artists"]
    assert "The" in artists["ignoredArticles"].split() and "Die" in artists["ignoredArticles"].split()
    # "Die Ärzte" files under A and "The Night Owls" under N: articles are ignored.
    assert [(i["name"], [a["name"] for a in i["artist"]]) for i in artists["index"]] == [
        ("A", ["Die Ärzte"]),
        ("N", ["The Night Owls"]),
    ]
    owls = artists["index"][1]["artist"][0]
    assert owls == {"id": f"ar-{ids['owls']}", "name": "The Night Owls", "albumCount": 1, "musicBrainzId": "",
                    "sortName": ""}  # fmt: skip
    indexes = (await api.ok("getIndexes", musicFolderId=imported["id"]))["indexes"]
    assert [i["name"] for i in indexes["index"]] == ["A", "N"] and indexes["lastModified"] > 0
    unchanged = (await api.ok("getIndexes", ifModifiedSince=indexes["lastModified"]))["indexes"]
    assert "index" not in unchanged and unchanged["lastModified"] == indexes["lastModified"]
    root = await api.xml("getArtists")
    names = [a.attrib["name"] for a in root.iter(f"{NS}artist")]
    assert names == ["Die Ärzte", "The Night Owls"]


@pytest_twisted.ensureDeferred
async def test_album_and_song_carry_what_clients_read(web_server, db_conn, alice, imported):
    api = Subsonic(web_server, alice)
    ids = _ids(db_conn)
    album = (await api.ok("getAlbum", id=f"al-{ids['dusk']}"))["album"]
    assert (album["id"], album["name"], album["artist"], album["artistId"]) == (
        f"al-{ids['dusk']}", "Dusk", "The Night Owls", f"ar-{ids['owls']}"
    )  # fmt: skip
    assert album["songCount"] == 2 and album["duration"] == 4 and album["year"] == 2001
    assert album["coverArt"] == f"al-{ids['dusk']}" and album["genre"] == "Rock"
    assert album["genres"] == [{"name": "Rock"}] and album["created"].endswith("Z")
    first, second = album["song"]
    assert first["id"] == f"tr-{ids['first']}" and isinstance(first["id"], str)
    assert (first["title"], first["track"], first["discNumber"], first["year"]) == ("First Light", 1, 1, 2001)
    assert (first["suffix"], first["contentType"], second["suffix"], second["contentType"]) == (
        "mp3", "audio/mpeg", "flac", "audio/flac"
    )  # fmt: skip
    assert first["isDir"] is False and first["type"] == "music" and first["mediaType"] == "song"
    assert first["duration"] == 2 and first["bitRate"] > 0 and first["size"] > 0
    assert first["path"] == "The Night Owls/Dusk/01 - First Light.mp3"
    assert first["parent"] == first["albumId"] == album["id"] and first["artistId"] == f"ar-{ids['owls']}"
    assert first["coverArt"] == album["coverArt"] and first["genre"] == "Rock"
    assert first["musicBrainzId"] == "0a1b2c3d-1111-4222-8333-444455556666"
    assert first["replayGain"] == {"trackGain": -6.5}
    assert first["artists"] == [{"id": f"ar-{ids['owls']}", "name": "The Night Owls"}]
    assert first["displayArtist"] == "The Night Owls" and first["playCount"] == 0
    assert "starred" not in first and "userRating" not in first and "played" not in first
    song = (await api.ok("getSong", id=first["id"]))["song"]
    assert song == first
    assert (await api.ok("getSong", id=str(ids["first"])))["song"]["id"] == first["id"]  # bare number
    root = await api.xml("getAlbum", id=album["id"])
    songs = root.find(f"{NS}album").findall(f"{NS}song")
    assert [s.attrib["title"] for s in songs] == ["First Light", "Second Wind"]
    assert songs[0].attrib["isDir"] == "false" and songs[0].find(f"{NS}genres").attrib["name"] == "Rock"
    assert songs[0].find(f"{NS}replayGain").attrib["trackGain"] == "-6.5"


@pytest_twisted.ensureDeferred
async def test_artist_directory_infos_and_genres(web_server, db_conn, alice, imported):
    api = Subsonic(web_server, alice)
    ids = _ids(db_conn)
    artist = (await api.ok("getArtist", id=f"ar-{ids['owls']}"))["artist"]
    assert [a["name"] for a in artist["album"]] == ["Dusk"] and artist["albumCount"] == 1
    directory = (await api.ok("getMusicDirectory", id=f"ar-{ids['owls']}"))["directory"]
    assert directory["name"] == "The Night Owls"
    (child,) = directory["child"]
    assert (child["id"], child["isDir"], child["title"], child["parent"]) == (
        f"al-{ids['dusk']}", True, "Dusk", f"ar-{ids['owls']}"
    )  # fmt: skip
    directory = (await api.ok("getMusicDirectory", id=child["id"]))["directory"]
    assert [c["title"] for c in directory["child"]] == ["First Light", "Second Wind"]
    assert directory["parent"] == f"ar-{ids['owls']}"
    for method in ("getArtistInfo", "getArtistInfo2"):
        content = await api.ok(method, id=f"ar-{ids['owls']}")
        info = content["artistInfo2" if method.endswith("2") else "artistInfo"]
        assert info["biography"] == "" and info["similarArtist"] == []
    for method in ("getAlbumInfo", "getAlbumInfo2"):
        assert (await api.ok(method, id=f"al-{ids['dusk']}"))["albumInfo"]["notes"] == ""
    genres = (await api.ok("getGenres"))["genres"]["genre"]
    assert genres == [
        {"value": "Punk", "songCount": 1, "albumCount": 1},
        {"value": "Rock", "songCount": 2, "albumCount": 1},
    ]
    root = await api.xml("getGenres")
    assert [g.text for g in root.iter(f"{NS}genre")] == ["Punk", "Rock"]
    songs = (await api.ok("getSongsByGenre", genre="rock"))["songsByGenre"]["song"]
    assert [s["title"] for s in songs] == ["First Light", "Second Wind"]
    for method, bad in (("getArtist", "al-1"), ("getAlbum", "ar-1"), ("getSong", "x"), ("getMusicDirectory", "tr-1")):
        assert await api.error(method, {"id": bad}) == 70, method
    assert await api.error("getAlbum") == 10
