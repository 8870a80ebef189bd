"""Browsing /api/v1/artists/, /albums/, /tracks/, /tags/ over HTTP: shapes, filters, orderings, pages, privacy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest_twisted

from . import catalog_factories as cf


def titles(resp) -> list[str]:
    assert resp.code == 200, resp
    return [r.get("title") or r.get("name") for r in resp.json["results"]]


@pytest_twisted.ensureDeferred
async def test_track_album_and_artist_shapes(web_server, db_conn, alice):
    lib = cf.insert_library(db_conn, alice, "me")
    cover = cf._insert(db_conn, "attachment", {"mimetype": "image/jpeg", "size": 1234, "file": "attachments/c.jpg"})
    artist = cf.insert_artist(db_conn, "Björk")
    album = cf.insert_album(
        db_conn,
        artist,
        "Homogenic",
        release_date=date(1997, 9, 22),
        attachment_cover_id=cover["id"],
        description="Fifth album",
    )
    track = cf.insert_track(db_conn, artist, "Jóga", album, position=2, disc_number=1, license="cc-by-4.0")
    cf.insert_upload(db_conn, lib, track, mimetype="audio/flac", audio_file="tracks/ab/cd/x.flac", duration=305)
    cf.insert_upload(db_conn, lib, track, import_status="pending")  # not playable: not listed
    cf.tag(db_conn, "track", track, "Electronic")
    cf.tag(db_conn, "album", album, "Art pop")
    me = cf.listener_client(web_server, db_conn, alice)

    resp = await me.get("/api/v1/tracks/")
    assert resp.code == 200, resp
    assert resp.json["count"] == 1 and resp.json["next"] is None and resp.json["previous"] is None
    t = resp.json["results"][0]
    assert t["id"] == track["id"] and t["title"] == "Jóga" and t["fid"] == track["fid"]
    assert t["listen_url"] == f"/api/v1/listen/{track['uuid']}/"
    assert t["position"] == 2 and t["disc_number"] == 1 and t["license"] == "cc-by-4.0"
    assert t["tags"] == ["Electronic"] and t["is_playable"] is True and t["is_local"] is True
    assert t["cover"] is None and t["downloads_count"] == 0 and t["creation_date"]
    [upload] = t["uploads"]
    assert upload["listen_url"] == f"/api/v1/listen/{track['uuid']}/?upload={upload['uuid']}"
    assert (upload["mimetype"], upload["extension"], upload["duration"], upload["is_local"]) == (
        "audio/flac",
        "flac",
        305,
        True,
    )
    assert t["artist"]["name"] == "Björk" and t["artist"]["id"] == artist["id"]
    assert t["album"]["title"] == "Homogenic" and t["album"]["release_date"] == "1997-09-22"
    assert t["album"]["tracks_count"] == 1 and t["album"]["artist"]["name"] == "Björk"
    assert t["album"]["cover"]["uuid"] == str(cover["uuid"]) and t["album"]["cover"]["mimetype"] == "image/jpeg"
    assert {"source", "original", "medium_square_crop", "large_square_crop"} <= set(t["album"]["cover"]["urls"])

    a = (await me.get(f"/api/v1/albums/{album['id']}/")).json
    assert a["title"] == "Homogenic" and a["tracks_count"] == 1 and a["duration"] == 305
    assert a["is_playable"] is True and a["tags"] == ["Art pop"] and a["artist"]["id"] == artist["id"]
    assert a["description"]["text"] == "Fifth album"

    ar = (await me.get(f"/api/v1/artists/{artist['id']}/")).json
    assert ar["name"] == "Björk" and ar["tracks_count"] == 1 and ar["content_category"] == "music"
    assert [(x["title"], x["tracks_count"], x["artist"]) for x in ar["albums"]] == [("Homogenic", 1, artist["id"])]

    assert (await me.get(f"/api/v1/tracks/{track['id']}/")).json["title"] == "Jóga"
    assert (await me.get("/api/v1/tracks/999999/")).code == 404


@pytest_twisted.ensureDeferred
async def test_listeners_see_only_what_they_may_play(web_server, db_conn, alice, bob):
    private = cf.insert_library(db_conn, alice, "me")
    shared = cf.insert_library(db_conn, alice, "instance")
    public = cf.insert_library(db_conn, alice, "everyone")
    artist = cf.insert_artist(db_conn, "Alice Band")
    secret = cf.playable_track(db_conn, private, artist, "Secret", cf.insert_album(db_conn, artist, "Private LP"))
    cf.playable_track(db_conn, shared, artist, "Shared", cf.insert_album(db_conn, artist, "Shared LP"))
    cf.playable_track(db_conn, public, artist, "Public")
    errored = cf.insert_track(db_conn, artist, "Broken")
    cf.insert_upload(db_conn, shared, errored, import_status="errored")
    loner = cf.insert_artist(db_conn, "Only Private")
    cf.playable_track(db_conn, private, loner, "Hidden")

    as_bob = cf.listener_client(web_server, db_conn, bob)
    assert sorted(titles(await as_bob.get("/api/v1/tracks/"))) == ["Public", "Shared"]
    assert titles(await as_bob.get("/api/v1/albums/")) == ["Shared LP"]
    bob_artists = (await as_bob.get("/api/v1/artists/")).json["results"]
    assert [(a["name"], a["tracks_count"], [x["title"] for x in a["albums"]]) for a in bob_artists] == [
        ("Alice Band", 2, ["Shared LP"])
    ]
    assert (await as_bob.get(f"/api/v1/tracks/{secret['id']}/")).code == 404
    assert (await as_bob.get(f"/api/v1/artists/{loner['id']}/")).code == 404
    assert (await as_bob.get(f"/api/v1/tracks/{errored['id']}/")).code == 404

    as_alice = cf.listener_client(web_server, db_conn, alice)
    assert sorted(titles(await as_alice.get("/api/v1/tracks/"))) == ["Hidden", "Public", "Secret", "Shared"]
    assert sorted(titles(await as_alice.get("/api/v1/tracks/?scope=me"))) == ["Hidden", "Public", "Secret", "Shared"]
    assert titles(await as_bob.get("/api/v1/tracks/?scope=me")) == []

    anonymous = web_server.client()
    for path in (
        "/api/v1/tracks/",
        "/api/v1/albums/",
        "/api/v1/artists/",
        f"/api/v1/tracks/{secret['id']}/",
        "/api/v1/tags/",
        "/api/v1/search?q=public",
    ):
        assert (await anonymous.get(path)).code == 401, path
    cf.set_preference(db_conn, "common__api_authentication_required", False)
    assert titles(await anonymous.get("/api/v1/tracks/")) == ["Public"]
    assert titles(await anonymous.get("/api/v1/albums/")) == []


@pytest_twisted.ensureDeferred
async def test_filters(web_server, db_conn, alice, bob):
    lib = cf.insert_library(db_conn, alice, "instance")
    other_lib = cf.insert_library(db_conn, alice, "instance", name="other")
    beyonce = cf.insert_artist(db_conn, "Beyoncé")
    guest = cf.insert_artist(db_conn, "Guest Star")
    lemonade = cf.insert_album(db_conn, beyonce, "Lemonade")
    four = cf.insert_album(db_conn, beyonce, "4")
    formation = cf.playable_track(db_conn, lib, beyonce, "Formation", lemonade)
    feat = cf.playable_track(db_conn, lib, guest, "Feature Song", lemonade)  # on her album, by a guest
    cf.playable_track(db_conn, lib, beyonce, "Love On Top", four)
    loose = cf.playable_track(db_conn, other_lib, guest, "Solo")
    cf.tag(db_conn, "track", formation, "Pop")
    cf.tag(db_conn, "track", feat, "pop")  # same tag, any case
    cf.tag(db_conn, "track", feat, "Soul")
    cf.tag(db_conn, "album", four, "RnB")
    cf.tag(db_conn, "artist", guest, "Soul")
    me = cf.listener_client(web_server, db_conn, bob)

    assert sorted(titles(await me.get("/api/v1/tracks/?q=beyonce"))) == ["Formation", "Love On Top"]
    assert titles(await me.get("/api/v1/tracks/?q=FORMATION")) == ["Formation"]
    assert sorted(titles(await me.get("/api/v1/tracks/?q=lemonade"))) == ["Feature Song", "Formation"]
    assert titles(await me.get("/api/v1/artists/?q=BEYONCE")) == ["Beyoncé"]
    assert titles(await me.get("/api/v1/albums/?q=lemon")) == ["Lemonade"]
    assert sorted(titles(await me.get("/api/v1/tracks/?tag=POP"))) == ["Feature Song", "Formation"]
    assert titles(await me.get("/api/v1/tracks/?tag=pop&tag=soul")) == ["Feature Song"]
    assert titles(await me.get("/api/v1/albums/?tag=rnb")) == ["4"]
    assert titles(await me.get("/api/v1/artists/?tag=soul")) == ["Guest Star"]
    assert sorted(titles(await me.get(f"/api/v1/tracks/?artist={beyonce['id']}"))) == [
        "Feature Song",
        "Formation",
        "Love On Top",
    ]  # Funkwhale: the artist's tracks and their albums' tracks
    assert sorted(titles(await me.get(f"/api/v1/albums/?artist={beyonce['id']}"))) == ["4", "Lemonade"]
    assert sorted(titles(await me.get(f"/api/v1/tracks/?album={lemonade['id']}"))) == ["Feature Song", "Formation"]
    assert titles(await me.get(f"/api/v1/tracks/?library={other_lib['uuid']}")) == ["Solo"]
    assert titles(await me.get(f"/api/v1/artists/?library={other_lib['uuid']}")) == ["Guest Star"]
    assert titles(await me.get(f"/api/v1/albums/?library={other_lib['uuid']}")) == []
    assert titles(await me.get(f"/api/v1/tracks/?id={loose['id']}&id={formation['id']}&ordering=title")) == [
        "Formation",
        "Solo",
    ]
    assert (await me.get("/api/v1/tracks/?playable=true")).json["count"] == 4
    assert (await me.get("/api/v1/tracks/?playable=false")).json["count"] == 0
    assert titles(await me.get("/api/v1/artists/?has_albums=false")) == ["Guest Star"]
    assert titles(await me.get("/api/v1/artists/?content_category=podcast")) == []
    assert titles(await me.get("/api/v1/albums/?content_category=podcast")) == []
    assert (await me.get("/api/v1/tracks/?content_category=music")).json["count"] == 4
    for bad in ("artist=x", "library=not-a-uuid", "playable=maybe", "scope=everything"):
        resp = await me.get("/api/v1/tracks/?" + bad)
        assert resp.code == 400 and bad.split("=")[0] in resp.json, (bad, resp)


@pytest_twisted.ensureDeferred
async def test_orderings(web_server, db_conn, alice):
    lib = cf.insert_library(db_conn, alice, "me")
    now = datetime.now(UTC)
    artists = [
        cf.insert_artist(db_conn, name, creation_date=now - timedelta(days=i))
        for i, name in enumerate(["charlie", "Alpha", "bravo"])
    ]
    albums = [
        cf.insert_album(db_conn, artists[i], title, release_date=released, creation_date=now - timedelta(days=i))
        for i, (title, released) in enumerate([("Zed", date(2001, 1, 1)), ("Échos", date(1990, 1, 1)), ("mid", None)])
    ]
    album = albums[0]
    for i, (title, disc, pos) in enumerate([("d2p1", 2, 1), ("d1p2", 1, 2), ("d1p1", 1, 1)]):
        cf.playable_track(
            db_conn,
            lib,
            artists[0],
            title,
            album,
            disc_number=disc,
            position=pos,
            creation_date=now - timedelta(hours=i),
        )
    for a, al in zip(artists[1:], albums[1:], strict=True):
        cf.playable_track(db_conn, lib, a, f"{a['name']} song", al)
    me = cf.listener_client(web_server, db_conn, alice)

    assert titles(await me.get("/api/v1/artists/?ordering=name")) == ["Alpha", "bravo", "charlie"]
    assert titles(await me.get("/api/v1/artists/?ordering=-name")) == ["charlie", "bravo", "Alpha"]
    assert titles(await me.get("/api/v1/artists/?ordering=creation_date")) == ["bravo", "Alpha", "charlie"]
    assert titles(await me.get("/api/v1/artists/")) == ["charlie", "Alpha", "bravo"]  # default -creation_date
    assert titles(await me.get("/api/v1/albums/?ordering=title")) == ["Échos", "mid", "Zed"]
    assert titles(await me.get("/api/v1/albums/?ordering=release_date")) == ["Échos", "Zed", "mid"]
    assert titles(await me.get("/api/v1/albums/?ordering=-release_date")) == [
        "mid",
        "Zed",
        "Échos",
    ]  # NULL first, as in PostgreSQL
    assert titles(await me.get("/api/v1/albums/?ordering=-creation_date")) == ["Zed", "Échos", "mid"]
    album_tracks = f"/api/v1/tracks/?album={album['id']}"
    assert titles(await me.get(album_tracks)) == ["d1p1", "d1p2", "d2p1"]  # Funkwhale's default: disc, position
    assert titles(await me.get(album_tracks + "&ordering=-disc_number,position")) == ["d2p1", "d1p1", "d1p2"]
    assert titles(await me.get(album_tracks + "&ordering=creation_date")) == ["d1p1", "d1p2", "d2p1"]
    assert titles(await me.get(album_tracks + "&ordering=-creation_date")) == ["d2p1", "d1p2", "d1p1"]
    assert titles(await me.get("/api/v1/tracks/?ordering=artist__name,title"))[:2] == ["Alpha song", "bravo song"]
    assert titles(await me.get(album_tracks + "&ordering=nonsense")) == ["d1p1", "d1p2", "d2p1"]
    assert sorted(titles(await me.get("/api/v1/tracks/?ordering=random"))) == sorted(
        ["d2p1", "d1p2", "d1p1", "Alpha song", "bravo song"]
    )


@pytest_twisted.ensureDeferred
async def test_pages(web_server, db_conn, alice):
    lib = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Many")
    for i in range(7):
        cf.playable_track(db_conn, lib, artist, f"t{i}")
    me = cf.listener_client(web_server, db_conn, alice)

    first = (await me.get("/api/v1/tracks/?page_size=3&ordering=title")).json
    assert first["count"] == 7 and [t["title"] for t in first["results"]] == ["t0", "t1", "t2"]
    # links are under the public URL (not the Host the client used), trailing slash kept, as Funkwhale's
    assert first["previous"] is None
    assert first["next"] == "http://test.funkwhale.local/api/v1/tracks/?page_size=3&ordering=title&page=2"
    second = (await me.get(first["next"].removeprefix("http://test.funkwhale.local"))).json
    assert [t["title"] for t in second["results"]] == ["t3", "t4", "t5"] and "page=1" in second["previous"]
    third = (await me.get(second["next"].removeprefix("http://test.funkwhale.local"))).json
    assert [t["title"] for t in third["results"]] == ["t6"] and third["next"] is None
    assert (await me.get("/api/v1/tracks/?page_size=3&page=4")).code == 404
    assert (await me.get("/api/v1/tracks/?page=0")).code == 404


@pytest_twisted.ensureDeferred
async def test_artists_and_albums_pages_give_each_row_its_own_albums_counts_covers_and_tags(web_server, db_conn, alice):
    # what a page of 20 rows or more nests is gathered once for all its rows, then joined back to each
    lib, other = cf.insert_library(db_conn, alice, "me"), cf.insert_library(db_conn, alice, "me", name="other")
    covers = [
        cf._insert(db_conn, "attachment", {"mimetype": "image/png", "size": 1, "file": f"c{i}.png"}) for i in (1, 2)
    ]
    ada, ben = cf.insert_artist(db_conn, "Ada"), cf.insert_artist(db_conn, "Ben")
    first = cf.insert_album(db_conn, ada, "First", release_date=date(2001, 1, 1), attachment_cover_id=covers[0]["id"])
    second = cf.insert_album(db_conn, ada, "Second")
    cf.insert_album(db_conn, ada, "Unheard")  # nothing playable: not among Ada's albums
    both = cf.playable_track(db_conn, lib, ada, "In both libraries", first)
    cf.insert_upload(db_conn, other, both, duration=200)  # counted once, its best duration
    cf.playable_track(db_conn, lib, ada, "Another", first)
    covered = cf.insert_track(db_conn, ada, "Covered", second)  # its upload brought the album's cover
    cf.insert_upload(db_conn, lib, covered, album_id=second["id"], attachment_cover_id=covers[1]["id"])
    shared = cf.insert_album(db_conn, ben, "Shared")
    cf.playable_track(db_conn, lib, ada, "By Ada on Ben's album", shared)
    cf.tag(db_conn, "artist", ada, "Jazz")
    cf.tag(db_conn, "album", shared, "Pop")
    me = cf.listener_client(web_server, db_conn, alice)

    for size in (50, 5):  # gathered for the page; read per row
        await _check_artists_and_albums_pages(me, size, covers)


async def _check_artists_and_albums_pages(me, size: int, covers: list) -> None:
    artists = (await me.get(f"/api/v1/artists/?ordering=name&page_size={size}")).json["results"]
    nested = [
        (
            a["name"],
            a["tracks_count"],
            a["tags"],
            [(x["title"], x["tracks_count"], x["cover"] and x["cover"]["uuid"]) for x in a["albums"]],
        )
        for a in artists
    ]
    assert nested == [
        ("Ada", 4, ["Jazz"], [("First", 2, str(covers[0]["uuid"])), ("Second", 1, str(covers[1]["uuid"]))]),
        ("Ben", 0, [], [("Shared", 1, None)]),
    ]
    albums = (await me.get(f"/api/v1/albums/?ordering=title&page_size={size}")).json["results"]
    rows = [
        (
            a["title"],
            a["artist"]["name"],
            a["tracks_count"],
            a["duration"],
            a["tags"],
            a["cover"] and a["cover"]["uuid"],
        )
        for a in albums
    ]
    assert rows == [
        ("First", "Ada", 2, 380, [], str(covers[0]["uuid"])),
        ("Second", "Ada", 1, 180, [], str(covers[1]["uuid"])),
        ("Shared", "Ben", 1, 180, ["Pop"], None),
    ]


@pytest_twisted.ensureDeferred
async def test_tags_list(web_server, db_conn, alice):
    artist = cf.insert_artist(db_conn, "Tagged")
    cf.playable_track(db_conn, cf.insert_library(db_conn, alice, "me"), artist, "Song")
    for name in ("Rock", "Post-Rock", "Jazz"):
        cf.tag(db_conn, "artist", artist, name)
    cf.tag(db_conn, "artist", cf.insert_artist(db_conn, "Unplayable"), "Blues")  # on nothing anyone may play
    me = cf.listener_client(web_server, db_conn, alice)
    assert titles(await me.get("/api/v1/tags/?ordering=name")) == ["Jazz", "Post-Rock", "Rock"]
    assert titles(await me.get("/api/v1/tags/?q=ROCK&ordering=-name")) == ["Rock", "Post-Rock"]
    assert titles(await me.get("/api/v1/tags/?ordering=length,name")) == ["Jazz", "Rock", "Post-Rock"]
    assert (await me.get("/api/v1/tags/post-rock/")).json["name"] == "Post-Rock"
    assert (await me.get("/api/v1/tags/nope/")).code == 404


@pytest_twisted.ensureDeferred
async def test_one_statement_per_list_whatever_the_page_holds(web_server, db_conn, alice):
    """No N+1: a page runs the same number of SQL statements for 1 row as for 40 rows with nested data (the count
    of all rows is a statement apart, cached)."""
    executed: list[str] = []
    real_run = web_server.ctx.db.run

    class CountingCursor:
        def __init__(self, txn):
            self._txn = txn

        def execute(self, statement, params=None):
            executed.append(statement)
            return self._txn.execute(statement, params)

        def __getattr__(self, name):
            return getattr(self._txn, name)

    async def counting_run(fn, *args, desc, **kw):
        if not desc.startswith("catalog.") or desc.endswith(".count"):  # a count is apart, and cached
            return await real_run(fn, *args, desc=desc, **kw)
        return await real_run(lambda txn, *a: fn(CountingCursor(txn), *a), *args, desc=desc, **kw)

    web_server.ctx.db.run = counting_run
    lib = cf.insert_library(db_conn, alice, "me")
    me = cf.listener_client(web_server, db_conn, alice)

    async def statements(path: str) -> int:
        executed.clear()
        resp = await me.get(path)
        assert resp.code == 200, resp
        return len(executed)

    first_artist = cf.insert_artist(db_conn, "First")
    cf.playable_track(db_conn, lib, first_artist, "one", cf.insert_album(db_conn, first_artist, "A0"))
    paths = ("/api/v1/tracks/", "/api/v1/albums/", "/api/v1/artists/", "/api/v1/tracks/?tag=x&q=one")
    few = [await statements(p) for p in paths]
    for i in range(40):
        artist = cf.insert_artist(db_conn, f"Artist {i}")
        album = cf.insert_album(db_conn, artist, f"Album {i}")
        for j in range(2):
            track = cf.playable_track(db_conn, lib, artist, f"one {i}.{j}", album)
            cf.insert_upload(db_conn, lib, track)
            cf.tag(db_conn, "track", track, "x")
    many = [await statements(p) for p in paths]
    # the last one sets the trigram settings in its round trip; a read runs in autocommit, where they end with it
    assert many == few == [1, 1, 1, 1]
    page = (await me.get("/api/v1/tracks/")).json
    assert page["count"] == 81 and len(page["results"]) == 50 and len(page["results"][-1]["uploads"]) == 2


async def test_search_forces_index_scans_for_its_statement_only(web_server, db_conn, alice):
    """A search turns sequential scans off for its own statement: whatever runs after it in the same transaction
    is planned with the server's settings."""
    seen: list[str] = []
    real_run = web_server.ctx.db.run

    async def checking_run(fn, *args, desc, **kw):
        def run_then_show(txn, *a):
            result = fn(txn, *a)
            txn.execute("SHOW enable_seqscan")
            seen.append(txn.fetchone()["enable_seqscan"])
            return result

        return await real_run(run_then_show, *args, desc=desc, **kw)

    web_server.ctx.db.run = checking_run
    lib = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Someone")
    cf.playable_track(db_conn, lib, artist, "one", cf.insert_album(db_conn, artist, "Album"))
    me = cf.listener_client(web_server, db_conn, alice)
    for path in ("/api/v1/tracks/?q=one", "/api/v1/albums/?q=album", "/api/v1/search?query=one"):
        seen.clear()
        resp = await me.get(path)
        assert resp.code == 200, resp
        assert seen and set(seen) == {"on"}, path


@pytest_twisted.ensureDeferred
async def test_tokens_need_the_read_libraries_scope(web_server, db_conn, alice):
    lib = cf.insert_library(db_conn, alice, "me")
    cf.playable_track(db_conn, lib, cf.insert_artist(db_conn, "Scoped"), "Scoped song")
    me = cf.listener_client(web_server, db_conn, alice)
    tokens = {}
    for scopes in ("read:profile", "read:libraries"):
        resp = await me.post(
            "/api/v1/oauth/apps/",
            json_body={"name": "Player", "scopes": scopes, "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
        )
        assert resp.code == 201, resp
        tokens[scopes] = resp.json["token"]
    client = web_server.client()
    for path in ("/api/v1/tracks/", "/api/v1/search?q=scoped", "/api/v1/tags/"):
        client.token = tokens["read:profile"]
        assert (await client.get(path)).code == 403, path
        client.token = tokens["read:libraries"]
        assert (await client.get(path)).code == 200, path
    assert titles(await client.get("/api/v1/tracks/")) == ["Scoped song"]
