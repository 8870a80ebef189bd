"""Subsonic album lists (every type), random songs, starred, search2/search3 (including the empty-query sync),
privacy between two users, content filters, and one SQL statement per call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred

from funkwhale.subsonic import lists, search, serializers, store

from . import catalog_factories as cf
from .subsonic_helpers import NS, StatementCounter, Subsonic, with_token

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _insert(conn, sql, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params)


@pytest.fixture
def catalog(db_conn, alice):
    """Alice's library: 4 albums by 3 artists (one song each, but "Beta" has two), with years, genres, dates."""
    library = cf.insert_library(db_conn, alice, "me")
    made = {}
    specs = [
        ("Zeta", "The Acorns", date(1999, 5, 1), "Jazz"),
        ("Alpha", "Moss", date(2005, 1, 1), "Rock"),
        ("Beta", "Moss", date(2010, 1, 1), "Rock"),
        ("Gamma", "Birch", None, "Jazz"),
    ]
    artists = {}
    for i, (title, artist, released, genre) in enumerate(specs):
        if artist not in artists:
            artists[artist] = cf.insert_artist(db_conn, artist)
        album = cf.insert_album(
            db_conn, artists[artist], title, release_date=released, creation_date=NOW + timedelta(days=i)
        )
        cf.tag(db_conn, "album", album, genre)
        track = cf.playable_track(db_conn, library, artists[artist], f"{title} song", album, position=1)
        cf.tag(db_conn, "track", track, genre)
        made[title] = (album, track)
    extra = cf.playable_track(db_conn, library, artists["Moss"], "Beta two", made["Beta"][0], position=2)
    made["Beta two"] = (made["Beta"][0], extra)
    return {"library": library, "albums": made, "artists": artists}


async def _names(api, method, container, **params):
    content = await api.ok(method, **params)
    return [a.get("name") or a.get("title") for a in content[container].get("album", [])]


@pytest_twisted.ensureDeferred
async def test_album_lists_of_every_type(web_server, db_conn, alice, catalog):
    api = Subsonic(web_server, alice)
    albums = catalog["albums"]

    async def names(**params):
        return await _names(api, "getAlbumList2", "albumList2", **params)

    assert await names(type="alphabeticalByName") == ["Alpha", "Beta", "Gamma", "Zeta"]
    assert await names(type="alphabeticalByName", size=2, offset=1) == ["Beta", "Gamma"]
    assert await names(type="alphabeticalByArtist") == ["Zeta", "Gamma", "Alpha", "Beta"]  # Acorns, Birch, Moss
    assert await names(type="newest") == ["Gamma", "Beta", "Alpha", "Zeta"]
    assert sorted(await names(type="random")) == ["Alpha", "Beta", "Gamma", "Zeta"]
    assert await names(type="byYear", fromYear=2000, toYear=2020) == ["Alpha", "Beta"]
    assert await names(type="byYear", fromYear=2020, toYear=1990) == ["Beta", "Alpha", "Zeta"]
    assert await names(type="byGenre", genre="jazz") == ["Gamma", "Zeta"]
    assert await names(type="starred") == [] and await names(type="highest") == []
    assert await names(type="frequent") == [] and await names(type="recent") == []
    # Stars, ratings and listening history feed starred, highest, frequent and recent.
    _insert(
        db_conn, "INSERT INTO starred_album (user_id, album_id) VALUES (%s, %s)", alice["id"], albums["Gamma"][0]["id"]
    )
    for title, stars in (("Zeta", 3), ("Beta", 5)):
        _insert(
            db_conn,
            "INSERT INTO rating (user_id, object_type, object_id, rating) VALUES (%s, 'album', %s, %s)",
            alice["id"], albums[title][0]["id"], stars,
        )  # fmt: skip
    for title, days_ago in (("Alpha", 5), ("Alpha", 4), ("Zeta", 1)):
        _insert(
            db_conn,
            "INSERT INTO listening (user_id, track_id, creation_date) VALUES (%s, %s, %s)",
            alice["id"], albums[title][1]["id"], datetime.now(UTC) - timedelta(days=days_ago),
        )  # fmt: skip
    assert await names(type="starred") == ["Gamma"]
    assert await names(type="highest") == ["Beta", "Zeta"]
    assert await names(type="frequent") == ["Alpha", "Zeta"]
    assert await names(type="recent") == ["Zeta", "Alpha"]
    listed = (await api.ok("getAlbumList2", type="alphabeticalByName"))["albumList2"]["album"]
    by_name = {a["name"]: a for a in listed}
    assert "starred" in by_name["Gamma"] and by_name["Beta"]["userRating"] == 5
    assert by_name["Alpha"]["playCount"] == 2 and by_name["Alpha"]["played"].endswith("Z")
    assert by_name["Beta"]["songCount"] == 2 and by_name["Beta"]["duration"] == 360
    # getAlbumList: the same as directories.
    old = (await api.ok("getAlbumList", type="alphabeticalByName", size=1))["albumList"]["album"]
    assert old[0]["isDir"] is True and old[0]["title"] == "Alpha" and old[0]["id"].startswith("al-")
    assert await api.error("getAlbumList2") == 10
    assert await api.error("getAlbumList2", {"type": "sideways"}) == 0
    assert await api.error("getAlbumList2", {"type": "byGenre"}) == 10
    assert await api.error("getAlbumList2", {"type": "byYear", "fromYear": 1}) == 10


@pytest_twisted.ensureDeferred
async def test_random_songs_and_starred(web_server, db_conn, alice, catalog, monkeypatch):
    api = Subsonic(web_server, alice)
    albums, moss = catalog["albums"], catalog["artists"]["Moss"]
    songs = (await api.ok("getRandomSongs", size=3))["randomSongs"]["song"]
    assert len(songs) == 3 and len({s["id"] for s in songs}) == 3
    rock = (await api.ok("getRandomSongs", size=10, genre="Rock"))["randomSongs"]["song"]
    assert sorted(s["title"] for s in rock) == ["Alpha song", "Beta song"]
    by_year = (await api.ok("getRandomSongs", fromYear=1990, toYear=2000))["randomSongs"]["song"]
    assert [s["title"] for s in by_year] == ["Zeta song"]
    _insert(db_conn, "INSERT INTO starred_artist (user_id, artist_id) VALUES (%s, %s)", alice["id"], moss["id"])
    _insert(
        db_conn, "INSERT INTO starred_album (user_id, album_id) VALUES (%s, %s)", alice["id"], albums["Beta"][0]["id"]
    )
    _insert(
        db_conn, "INSERT INTO track_favorite (user_id, track_id) VALUES (%s, %s)", alice["id"], albums["Zeta"][1]["id"]
    )
    starred = (await api.ok("getStarred2"))["starred2"]
    assert [a["name"] for a in starred["artist"]] == ["Moss"] and starred["artist"][0]["starred"].endswith("Z")
    assert [a["name"] for a in starred["album"]] == ["Beta"]
    assert [s["title"] for s in starred["song"]] == ["Zeta song"] and "starred" in starred["song"][0]
    old = (await api.ok("getStarred"))["starred"]
    assert old["album"][0]["isDir"] is True and old["artist"][0]["name"] == "Moss"
    # a long answer (past LARGE, here 0) is built and written in the CPU pool (render.Later): the same answer; a
    # failure there is error 0, as one in a handler is, not a 500
    monkeypatch.setattr(lists, "LARGE", 0)
    assert (await api.ok("getStarred2"))["starred2"] == starred

    def unbuildable(row):
        raise RuntimeError("a song that cannot be built")

    monkeypatch.setattr(serializers, "song", unbuildable)
    assert await api.error("getStarred2") == 0


@pytest_twisted.ensureDeferred
async def test_search_ranks_songs_and_windows_them_among_those_the_viewer_may_play(web_server, db_conn, alice):
    """Songs matching a query: the title equal to it first, then those starting with it, then the others, each
    group by title; matches by artist or album name count too; another user's private songs and an artist the
    viewer hid are left out before the window is cut (songCount, songOffset)."""
    bob = with_token(db_conn, "bob")
    mine, private = cf.insert_library(db_conn, alice, "me"), cf.insert_library(db_conn, bob, "me", name="Bob's")
    birch, reed = cf.insert_artist(db_conn, "Birch"), cf.insert_artist(db_conn, "Kalo Band")
    album = cf.insert_album(db_conn, birch, "Kalo Days")
    for title in ("Zkalo", "Kalo", "Kalo b", "Akalo", "Other"):
        cf.playable_track(db_conn, mine, birch, title, album if title == "Other" else None)
    cf.playable_track(db_conn, private, birch, "Kalo a")  # bob's: not alice's to see
    cf.playable_track(db_conn, mine, reed, "Tune")  # by a matching artist
    cf.catalog_changed()
    api = Subsonic(web_server, alice)

    async def songs(**window) -> list[str]:
        found = (await api.ok("search3", query="kalo", artistCount=0, albumCount=0, **window))["searchResult3"]
        return [s["title"] for s in found.get("song", [])]

    everything = ["Kalo", "Kalo b", "Akalo", "Other", "Tune", "Zkalo"]
    assert await songs() == everything
    assert await songs(songCount=2, songOffset=1) == everything[1:3]
    hide = {"target": {"type": "artist", "id": reed["id"]}}
    assert (
        await cf.listener_client(web_server, db_conn, alice).post("/api/v1/moderation/content-filters/", json_body=hide)
    ).code == 201
    assert await songs() == everything[:4] + everything[5:]
    assert await songs(songCount=3, songOffset=2) == ["Akalo", "Other", "Zkalo"]


@pytest_twisted.ensureDeferred
async def test_search(web_server, db_conn, alice, catalog):
    api = Subsonic(web_server, alice)
    found = (await api.ok("search3", query="moss"))["searchResult3"]
    assert [a["name"] for a in found["artist"]] == ["Moss"]
    assert [a["name"] for a in found["album"]] == ["Alpha", "Beta"]
    assert sorted(s["title"] for s in found["song"]) == ["Alpha song", "Beta song", "Beta two"]
    found = (await api.ok("search3", query="BETA", artistCount=0))["searchResult3"]
    assert found["artist"] == [] and [a["name"] for a in found["album"]] == ["Beta"]
    assert [s["title"] for s in found["song"]] == ["Beta song", "Beta two"]
    old = (await api.ok("search2", query="zeta"))["searchResult2"]
    assert old["album"][0]["isDir"] is True and old["song"][0]["title"] == "Zeta song"
    assert (await api.ok("search3", query="nothing like this"))["searchResult3"] == {
        "artist": [],
        "album": [],
        "song": [],
    }


@pytest_twisted.ensureDeferred
async def test_empty_search_pages_the_whole_library_in_a_stable_order(web_server, db_conn, alice, catalog):
    api = Subsonic(web_server, alice)
    library, moss = catalog["library"], catalog["artists"]["Moss"]
    for i in range(20):
        cf.playable_track(db_conn, library, moss, f"Loose {i}")
    everything = []
    for offset in range(0, 40, 7):  # Symfonium: query="" with the other counts at 0
        page = (await api.ok("search3", query='""', songCount=7, songOffset=offset, artistCount=0, albumCount=0))[
            "searchResult3"
        ]
        assert page["artist"] == [] and page["album"] == []
        everything += [int(s["id"].removeprefix("tr-")) for s in page["song"]]
    assert everything == sorted(everything) and len(everything) == len(set(everything)) == 25
    all_at_once = (await api.ok("search3", query="", songCount=500, artistCount=500, albumCount=500))["searchResult3"]
    assert [int(s["id"][3:]) for s in all_at_once["song"]] == everything
    assert len(all_at_once["album"]) == 4 and len(all_at_once["artist"]) == 3


@pytest_twisted.ensureDeferred
async def test_a_search_for_songs_alone_answers_what_a_search_for_every_kind_does(web_server, db_conn, alice, catalog):
    """Asked for one kind (a sync's pages), a search reads its rows as they are rather than a JSON array: the same
    songs, field for field, stars, plays and dates included, in JSON and XML."""
    api = Subsonic(web_server, alice)
    alpha, beta = catalog["albums"]["Alpha"][1]["id"], catalog["albums"]["Beta"][1]["id"]
    await api.ok("star", id=f"tr-{alpha}")
    await api.ok("scrobble", id=f"tr-{beta}", submission="true", time=1_767_225_600_123)
    alone, every = {"artistCount": 0, "albumCount": 0}, {"artistCount": 1, "albumCount": 1}
    songs = (await api.ok("search3", query='""', songCount=500, **alone))["searchResult3"]["song"]
    assert songs == (await api.ok("search3", query='""', songCount=500, **every))["searchResult3"]["song"]
    marks = {s["id"]: (s.get("starred"), s.get("played")) for s in songs if "starred" in s or "played" in s}
    assert marks.keys() == {f"tr-{alpha}", f"tr-{beta}"}
    assert marks[f"tr-{beta}"] == (None, "2026-01-01T00:00:00.123Z")
    starred, played = marks[f"tr-{alpha}"]
    assert played is None and len(starred) == 24 and starred.endswith("Z")
    xml = [await api.xml("search3", query='""', songCount=500, **kinds) for kinds in (alone, every)]
    assert [song.attrib for song in xml[0].iter(f"{NS}song")] == [song.attrib for song in xml[1].iter(f"{NS}song")]


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("split_from", [search.SPLIT_FROM, 4], ids=["whole", "halves"])
async def test_empty_search_sync_neither_skips_nor_repeats_while_the_library_changes(
    web_server, db_conn, alice, catalog, monkeypatch, split_from
):
    """A sync pages by offset; its pages follow keyset cursors, so a song removed from an earlier page or songs
    imported meanwhile never make it skip or repeat a song that was there all along; whether its pages are read
    whole or, big enough, in two halves at once."""
    monkeypatch.setattr(search, "SPLIT_FROM", split_from)
    api = Subsonic(web_server, alice)
    library, moss = catalog["library"], catalog["artists"]["Moss"]
    for i in range(20):
        cf.playable_track(db_conn, library, moss, f"Loose {i}")

    async def page(offset):
        found = await api.ok("search3", query='""', songCount=7, songOffset=offset, artistCount=0, albumCount=0)
        return [int(s["id"].removeprefix("tr-")) for s in found["searchResult3"]["song"]]

    before = await page(0)
    everything = before + await page(7)
    _insert(db_conn, "DELETE FROM upload WHERE track_id = %s", everything[0])  # a song of the first page goes
    imported = [cf.playable_track(db_conn, library, moss, f"New {i}")["id"] for i in range(3)]  # an import runs
    for offset in range(14, 35, 7):
        everything += await page(offset)
    assert everything == sorted(everything) and len(everything) == len(set(everything))
    with db_conn.cursor() as cur:
        cur.execute("SELECT id FROM track WHERE id <> %s AND id <> ALL(%s) ORDER BY id", (everything[0], imported))
        there_all_along = [r["id"] for r in cur.fetchall()]
    assert set(there_all_along) <= set(everything) and set(imported) <= set(everything)


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("change", ["removed", "added"])
async def test_a_page_read_in_halves_neither_skips_nor_repeats_a_song_changed_between_them(
    web_server, db_conn, alice, catalog, monkeypatch, change
):
    """A big sync page is read as two halves at once. A song of the first half removed, or one added among them,
    between the two reads shifts the second half by a row: the halves are then not joined as they are (a song
    would be skipped or repeated), the rest is read again after the first half's last song."""
    library, moss = catalog["library"], catalog["artists"]["Moss"]
    for i in range(20):
        cf.playable_track(db_conn, library, moss, f"Loose {i}")
    shown = catalog["albums"]["Alpha"][1]["id"]  # the second song: hidden in bob's library until shared back
    bobs = cf.insert_library(db_conn, with_token(db_conn, "bob"), "me")
    _insert(db_conn, "UPDATE upload SET library_id = %s WHERE track_id = %s", bobs["id"], shown)
    api = Subsonic(web_server, alice)

    async def page(offset, count=8):
        found = await api.ok("search3", query='""', songCount=count, songOffset=offset, artistCount=0, albumCount=0)
        return [int(s["id"].removeprefix("tr-")) for s in found["searchResult3"]["song"]]

    everything = await page(0, 500)
    monkeypatch.setattr(search, "SPLIT_FROM", 4)  # a page of 8: halves of 4 and 5 (the first half's last again)
    first_done, real_read = Deferred(), search.read

    async def read_in_turn(ctx, fn, viewer, request, name):
        if request.songs[1] == 0:  # the first half
            found = await real_read(ctx, fn, viewer, request, name=name)
            first_done.callback(None)
            return found
        if not first_done.called:  # the second half: once the first is read, the library changes
            await first_done
            if change == "removed":
                _insert(db_conn, "DELETE FROM upload WHERE track_id = %s", everything[1])
            else:
                _insert(db_conn, "UPDATE upload SET library_id = %s WHERE track_id = %s", library["id"], shown)
        return await real_read(ctx, fn, viewer, request, name=name)

    monkeypatch.setattr(search, "read", read_in_turn)
    assert await page(0) == everything[:8]  # read before the change, as the first half was
    monkeypatch.setattr(search, "read", real_read)
    assert await page(8) == everything[8:16]  # the next page follows the cursor at the page's last song


@pytest_twisted.ensureDeferred
async def test_another_users_private_library_is_never_visible(web_server, db_conn, alice, catalog):
    bob = with_token(db_conn, "bob")
    private = cf.insert_library(db_conn, bob, "me", name="Bob's")
    hidden_artist = cf.insert_artist(db_conn, "Hidden Band")
    hidden_album = cf.insert_album(db_conn, hidden_artist, "Secret Album", release_date=date(2001, 1, 1))
    hidden = cf.playable_track(db_conn, private, hidden_artist, "Secret Song", hidden_album)
    cf.tag(db_conn, "track", hidden, "Secret")
    cf.tag(db_conn, "album", hidden_album, "Secret")
    # Alice even starred it (say, before bob made the library private).
    _insert(db_conn, "INSERT INTO track_favorite (user_id, track_id) VALUES (%s, %s)", alice["id"], hidden["id"])
    _insert(db_conn, "INSERT INTO starred_album (user_id, album_id) VALUES (%s, %s)", alice["id"], hidden_album["id"])
    api = Subsonic(web_server, alice)
    seen = repr(
        [
            await api.ok("getMusicFolders"),
            await api.ok("getArtists"),
            await api.ok("getIndexes"),
            await api.ok("getGenres"),
            await api.ok("getStarred2"),
            await api.ok("getStarred"),
            await api.ok("getRandomSongs", size=500),
            await api.ok("getSongsByGenre", genre="Secret"),
            await api.ok("search3", query=""),
            await api.ok("search3", query="secret"),
            await api.ok("search2", query="hidden"),
        ]
        + [
            await api.ok("getAlbumList2", type=kind, size=500, genre="Secret", fromYear=1, toYear=3000)
            for kind in ("random", "newest", "alphabeticalByName", "starred", "byGenre", "byYear")
        ]  # fmt: skip
    )
    assert "Secret" not in seen and "Hidden" not in seen and "Bob's" not in seen
    assert await api.error("getSong", {"id": f"tr-{hidden['id']}"}) == 70
    assert await api.error("getAlbum", {"id": f"al-{hidden_album['id']}"}) == 70
    assert await api.error("getArtist", {"id": f"ar-{hidden_artist['id']}"}) == 70
    assert await api.error("getMusicDirectory", {"id": f"al-{hidden_album['id']}"}) == 70
    # Bob sees his own; once his library is shared with the instance, alice does too.
    bob_api = Subsonic(web_server, bob)
    assert (await bob_api.ok("getSong", id=f"tr-{hidden['id']}"))["song"]["title"] == "Secret Song"
    _insert(db_conn, "UPDATE library SET privacy_level = 'instance' WHERE id = %s", private["id"])
    assert (await api.ok("getSong", id=f"tr-{hidden['id']}"))["song"]["title"] == "Secret Song"
    folders = (await api.ok("getMusicFolders"))["musicFolders"]["musicFolder"]
    assert {"id": private["id"], "name": "Bob's (bob)"} in folders
    only_bobs = (await api.ok("getAlbumList2", type="alphabeticalByName", musicFolderId=private["id"]))["albumList2"]
    assert [a["name"] for a in only_bobs["album"]] == ["Secret Album"]


@pytest_twisted.ensureDeferred
async def test_content_filters_hide_an_artist_from_lists_not_details(web_server, db_conn, alice, catalog):
    moss = catalog["artists"]["Moss"]
    _insert(db_conn, "INSERT INTO user_filter (user_id, target_artist_id) VALUES (%s, %s)", alice["id"], moss["id"])
    api = Subsonic(web_server, alice)
    artists = (await api.ok("getArtists"))["artists"]["index"]
    assert "Moss" not in repr(artists) and "Birch" in repr(artists)
    assert await _names(api, "getAlbumList2", "albumList2", type="alphabeticalByName") == ["Gamma", "Zeta"]
    found = (await api.ok("search3", query=""))["searchResult3"]
    assert "Moss" not in repr(found) and "Alpha" not in repr(found)
    songs = (await api.ok("getRandomSongs", size=500))["randomSongs"]["song"]
    assert sorted(s["title"] for s in songs) == ["Gamma song", "Zeta song"]
    assert (await api.ok("getArtist", id=f"ar-{moss['id']}"))["artist"]["name"] == "Moss"


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("facts_from", [0, store.FACTS_FROM], ids=["facts", "tracks"])
async def test_a_sync_page_by_offset_follows_moves_filters_and_privacy(
    web_server, db_conn, alice, catalog, monkeypatch, facts_from
):
    """The pages of everything by offset, whether they walk the tracks (near the start) or sort the visibility
    facts (deeper; their album and artist kept by the database): a song moved to an artist the listener filtered
    out leaves them, as do the songs of a library made private, and a song of a second upload shows once."""
    monkeypatch.setattr(store, "FACTS_FROM", facts_from)
    api = Subsonic(web_server, alice)

    async def titles(offset=0):
        found = await api.ok("search3", query='""', songCount=3, songOffset=offset, artistCount=0, albumCount=0)
        return [s["title"] for s in found["searchResult3"]["song"]]

    assert await titles() + await titles(3) == ["Zeta song", "Alpha song", "Beta song", "Gamma song", "Beta two"]
    birch, zeta_song = catalog["artists"]["Birch"], catalog["albums"]["Zeta"][1]
    other = cf.insert_library(db_conn, alice, "me")
    cf.insert_upload(db_conn, other, zeta_song)  # a second library holding the same song
    _insert(db_conn, "INSERT INTO user_filter (user_id, target_artist_id) VALUES (%s, %s)", alice["id"], birch["id"])
    assert await titles() + await titles(3) == ["Zeta song", "Alpha song", "Beta song", "Beta two"]
    _insert(db_conn, "UPDATE track SET artist_id = %s WHERE id = %s", birch["id"], zeta_song["id"])
    assert await titles() == ["Alpha song", "Beta song", "Beta two"]
    bob_api = Subsonic(web_server, with_token(db_conn, "bob"))
    _insert(db_conn, "UPDATE library SET privacy_level = 'instance' WHERE id = %s", catalog["library"]["id"])
    found = await bob_api.ok("search3", query='""', songCount=10, artistCount=0, albumCount=0)
    assert [s["title"] for s in found["searchResult3"]["song"]] == [
        "Zeta song",
        "Alpha song",
        "Beta song",
        "Gamma song",
        "Beta two",
    ]
    _insert(db_conn, "UPDATE library SET privacy_level = 'me' WHERE id = %s", catalog["library"]["id"])
    assert (await bob_api.ok("search3", query='""', songCount=10, artistCount=0, albumCount=0))["searchResult3"] == {
        "artist": [],
        "album": [],
        "song": [],
    }


@pytest_twisted.ensureDeferred
async def test_one_statement_per_call_whatever_the_size(web_server, db_conn, alice, catalog):
    counter = StatementCounter(web_server)
    api = Subsonic(web_server, alice)
    album_id = catalog["albums"]["Beta"][0]["id"]
    artist_id = catalog["artists"]["Moss"]["id"]
    calls = [
        ("getArtists", {}), ("getIndexes", {}), ("getArtist", {"id": f"ar-{artist_id}"}),
        ("getAlbum", {"id": f"al-{album_id}"}), ("getMusicDirectory", {"id": f"al-{album_id}"}),
        ("getAlbumList2", {"type": "alphabeticalByName", "size": 50}), ("getAlbumList", {"type": "frequent"}),
        ("getRandomSongs", {"size": 50}), ("getStarred2", {}), ("search3", {"query": ""}),
        ("search3", {"query": "a"}), ("getGenres", {}), ("getMusicFolders", {}),
    ]  # fmt: skip

    async def statements():
        counts = []
        for method, params in calls:
            counter.executed.clear()
            await api.ok(method, **params)
            counts.append(len(counter.executed))
        return counts

    few = await statements()
    library, moss = catalog["library"], catalog["artists"]["Moss"]
    for i in range(30):
        album = cf.insert_album(db_conn, moss, f"More {i}")
        cf.tag(db_conn, "album", album, "Rock")
        for j in range(2):
            track = cf.playable_track(db_conn, library, moss, f"Song {i}.{j}", album)
            cf.insert_upload(db_conn, library, track)
            _insert(db_conn, "INSERT INTO track_favorite (user_id, track_id) VALUES (%s, %s)", alice["id"], track["id"])
    cf.catalog_changed()
    # getStarred2 reads its three lists as three statements (rows, not one JSON array each)
    assert await statements() == few == [3 if method == "getStarred2" else 1 for method, _ in calls]


@pytest_twisted.ensureDeferred
async def test_a_songs_genres_and_cover_come_from_the_uploads_the_viewer_may_play(web_server, db_conn, alice, catalog):
    """A track in alice's library and in bob's private one, each upload with its own genre: alice's song shows her
    upload's genre only, wherever songs are listed; a cover brought by bob's upload only is no cover for her, one
    brought by hers is."""
    bob = with_token(db_conn, "bob")
    private = cf.insert_library(db_conn, bob, "me", name="Bob's")
    artist = cf.insert_artist(db_conn, "Shared Band")
    album = cf.insert_album(db_conn, artist, "Shared Album")
    track = cf.insert_track(db_conn, artist, "Shared Song", album)
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO attachment (mimetype, file) VALUES ('image/png', 'cover.png') RETURNING id")
        cover = cur.fetchone()["id"]
    hers = cf.insert_upload(db_conn, catalog["library"], track, album_id=album["id"])
    his = cf.insert_upload(db_conn, private, track, album_id=album["id"], attachment_cover_id=cover)
    for upload, genre in ((hers, "Shownwave"), (his, "Hiddencore")):
        _insert(
            db_conn,
            "WITH g AS (INSERT INTO tag (name) VALUES (%s) RETURNING id) INSERT INTO tagged_item"
            " (tag_id, object_type, object_id, upload_id) SELECT g.id, 'track', %s, %s FROM g",
            genre, track["id"], upload["id"],
        )  # fmt: skip
    cf.catalog_changed()
    api = Subsonic(web_server, alice)

    async def songs() -> list[dict]:
        found = [
            (await api.ok("getSong", id=f"tr-{track['id']}"))["song"],
            *(await api.ok("search3", query="", songCount=500, artistCount=0, albumCount=0))["searchResult3"]["song"],
            *(await api.ok("search3", query="shared song"))["searchResult3"]["song"],
            *(await api.ok("getAlbum", id=f"al-{album['id']}"))["album"]["song"],
        ]
        return [s for s in found if s["id"] == f"tr-{track['id']}"]

    listed = await songs()
    assert len(listed) == 4
    for song in listed:
        assert song["genres"] == [{"name": "Shownwave"}] and song["genre"] == "Shownwave"
        assert "coverArt" not in song
    _insert(db_conn, "UPDATE upload SET attachment_cover_id = %s WHERE id = %s", cover, hers["id"])
    cf.catalog_changed()
    assert [s.get("coverArt") for s in await songs()] == [f"al-{album['id']}"] * 4
    his_song = (await Subsonic(web_server, bob).ok("getSong", id=f"tr-{track['id']}"))["song"]
    assert his_song["genres"] == [{"name": "Hiddencore"}] and his_song["coverArt"] == f"al-{album['id']}"
