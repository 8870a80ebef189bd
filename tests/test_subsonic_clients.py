"""Two independent Subsonic client libraries from PyPI against the real server, in their default formats:
py-opensonic (typed OpenSubsonic dataclasses; POST, token or apiKey) and py-sonic (raw dicts; POST, token or
legacy `enc:` password). They are synchronous, so they run in a thread while the reactor serves them."""

from __future__ import annotations

import libopensonic
import libsonic
import pytest
import pytest_twisted
from libopensonic.errors import CredentialError
from twisted.internet.threads import deferToThread

from . import catalog_factories as cf


def _port(server) -> int:
    return int(server.base.rsplit(":", 1)[1])


@pytest_twisted.ensureDeferred
async def test_py_opensonic(web_server, alice, imported):
    def session():
        conn = libopensonic.Connection("http://127.0.0.1", "alice", alice["subsonic_api_token"], _port(web_server))
        assert conn.ping()
        names = {e.name for e in conn.get_open_subsonic_extensions()}
        artists = conn.get_artists()
        owls = next(a for i in artists.index for a in i.artist if a.name == "The Night Owls")
        artist = conn.get_artist(owls.id)
        album = conn.get_album(artist.album[0].id)
        listed = conn.get_album_list2("alphabeticalByName", size=50)
        found = conn.search3("", artist_count=0, album_count=0, song_count=500)
        directory = conn.get_music_directory(owls.id)
        genres = conn.get_genres()
        starred = conn.get_starred2()
        return names, album, listed, found, directory, genres, starred

    names, album, listed, found, directory, genres, starred = await deferToThread(session)
    assert "formPost" in names
    assert album.name == "Dusk" and [s.title for s in album.song] == ["First Light", "Second Wind"]
    assert album.song[0].suffix == "mp3" and album.song[0].content_type == "audio/mpeg"
    assert [a.name for a in listed] == ["Dusk", "Nacht"]
    assert sorted(s.title for s in found.song) == ["Abendlied", "First Light", "Second Wind"]
    assert [c.title for c in directory.child] == ["Dusk"] and directory.child[0].is_dir
    assert sorted(g.value for g in genres) == ["Punk", "Rock"]
    assert not starred.song


@pytest_twisted.ensureDeferred
async def test_py_opensonic_api_key_and_refusals(web_server, db_conn, alice, imported):
    web = cf.listener_client(web_server, db_conn, alice)
    app = await web.post(
        "/api/v1/oauth/apps/",
        json_body={"name": "Player", "scopes": "read:libraries", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    )
    key = app.json["token"]

    def session():
        by_key = libopensonic.Connection("http://127.0.0.1", api_key=key, port=_port(web_server))
        songs = by_key.get_random_songs(size=10)
        wrong = libopensonic.Connection("http://127.0.0.1", "alice", "not-the-token", _port(web_server))
        with pytest.raises(CredentialError):
            wrong.get_artists()
        return by_key.token_info(), songs

    info, songs = await deferToThread(session)
    assert info.username == "alice" and len(songs) == 3


@pytest_twisted.ensureDeferred
async def test_py_sonic(web_server, alice, imported):
    def session(legacy: bool):
        conn = libsonic.Connection(
            "http://127.0.0.1", "alice", alice["subsonic_api_token"], _port(web_server), legacyAuth=legacy
        )
        assert conn.ping()
        artists = conn.getArtists()["artists"]["index"]
        owls = next(a for i in artists for a in i["artist"] if a["name"] == "The Night Owls")
        albums = conn.getArtist(owls["id"])["artist"]["album"]
        album = conn.getAlbum(albums[0]["id"])["album"]
        listed = conn.getAlbumList2("newest", size=5)["albumList2"]["album"]
        found = conn.search3("night")["searchResult3"]
        indexes = conn.getIndexes()["indexes"]["index"]
        return album, listed, found, indexes

    for legacy in (False, True):  # token, then the `enc:` password (py-sonic's GET mode is broken: urllib2)
        album, listed, found, indexes = await deferToThread(session, legacy)
        assert album["name"] == "Dusk" and album["song"][1]["suffix"] == "flac"
        assert sorted(a["name"] for a in listed) == ["Dusk", "Nacht"]
        assert [a["name"] for a in found["artist"]] == ["The Night Owls"] and len(found["song"]) == 2
        assert [i["name"] for i in indexes] == ["A", "N"]
