"""The Subsonic write side over a real imported library: star / unstar, setRating, scrobble and now playing,
playlists, bookmarks, the play queue, accounts, scans and the empty feature stubs; JSON (schema-validated) and
XML, with the refusals, and Alice's private library out of Bob's reach in every call."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import libopensonic
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from funkwhale.music.importer.fsimport import import_folder

from . import audio
from . import catalog_factories as cf
from .subsonic_helpers import NS, Subsonic, one


def _port(server) -> int:
    return int(server.base.rsplit(":", 1)[1])


async def _starred(api):
    starred = (await api.ok("getStarred2"))["starred2"]
    return {kind: [item["id"] for item in starred.get(kind, [])] for kind in ("artist", "album", "song")}


@pytest_twisted.ensureDeferred
async def test_star_unstar_and_ratings(web_server, db_conn, alice, bob, ids):
    api = Subsonic(web_server, alice)
    await api.ok("star", id=[ids["first"], ids["second"]], albumId=ids["dusk"], artistId=ids["owls"])
    await api.ok("star", id=ids["first"])  # again: nothing changes
    starred = await _starred(api)
    assert sorted(starred["song"]) == sorted([ids["first"], ids["second"]])
    assert starred["album"] == [ids["dusk"]] and starred["artist"] == [ids["owls"]]
    song = (await api.ok("getSong", id=ids["first"]))["song"]
    assert song["starred"].endswith("Z")

    # One unknown id: error 70 and nothing written; no id at all: 10.
    assert await api.error("star", {"id": [ids["abend"], "tr-999999"]}) == 70
    assert ids["abend"] not in (await _starred(api))["song"]
    assert await api.error("star", {}) == 10
    assert await api.error("unstar", {"albumId": "nonsense"}) == 70

    await api.ok("unstar", id=[ids["second"], ids["dusk"]], artistId=ids["owls"])
    assert await _starred(api) == {"artist": [], "album": [], "song": [ids["first"]]}

    await api.ok("setRating", id=ids["dusk"], rating=4)
    await api.ok("setRating", id=ids["first"], rating=5)
    await api.ok("setRating", id=ids["first"], rating=2)
    assert (await api.ok("getAlbum", id=ids["dusk"]))["album"]["userRating"] == 4
    assert (await api.ok("getSong", id=ids["first"]))["song"]["userRating"] == 2
    highest = (await api.ok("getAlbumList2", type="highest"))["albumList2"]["album"]
    assert [a["id"] for a in highest] == [ids["dusk"]]
    await api.ok("setRating", id=ids["dusk"], rating=0)
    assert "userRating" not in (await api.ok("getAlbum", id=ids["dusk"]))["album"]
    assert await api.error("setRating", {"id": ids["dusk"], "rating": 6}) == 0
    assert await api.error("setRating", {"id": ids["dusk"]}) == 10
    assert await api.error("setRating", {"id": "pl-1", "rating": 3}) == 70

    # Bob cannot see Alice's private library: no star, no rating on it.
    other = Subsonic(web_server, bob)
    assert await other.error("star", {"id": ids["first"]}) == 70
    assert await other.error("star", {"albumId": ids["dusk"]}) == 70
    assert await other.error("setRating", {"id": ids["owls"], "rating": 3}) == 70
    assert await _starred(other) == {"artist": [], "album": [], "song": []}

    root = await api.xml("star", id=ids["second"])
    assert root.attrib["status"] == "ok"
    assert one(db_conn, "SELECT array_agg(DISTINCT source) AS s FROM track_favorite")["s"] == ["subsonic"]


@pytest_twisted.ensureDeferred
async def test_scrobble_and_now_playing(web_server, db_conn, alice, bob, ids):
    api = Subsonic(web_server, alice)
    assert (await api.ok("getNowPlaying"))["nowPlaying"] == {"entry": []}
    await api.ok("scrobble", id=ids["first"], submission="false", c="DSub")
    entries = (await api.ok("getNowPlaying"))["nowPlaying"]["entry"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["id"] == ids["first"] and entry["title"] == "First Light"
    assert entry["username"] == "alice" and entry["minutesAgo"] == 0 and entry["playerName"] == "DSub"
    assert isinstance(entry["playerId"], int)
    root = await api.xml("getNowPlaying")
    assert [e.attrib["username"] for e in root.iter(f"{NS}entry")] == ["alice"]
    # Bob may see Alice's activity (privacy `instance`) but not her private library: nothing to show.
    assert (await Subsonic(web_server, bob).ok("getNowPlaying"))["nowPlaying"] == {"entry": []}
    # A now-playing report is no listening.
    assert (await api.ok("getSong", id=ids["first"]))["song"]["playCount"] == 0

    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    await api.ok("scrobble", id=[ids["first"], ids["second"]], time=[str(int(when.timestamp() * 1000))])
    first = (await api.ok("getSong", id=ids["first"]))["song"]
    assert first["playCount"] == 1 and first["played"].startswith("2024-05-06T07:08:09")
    second = (await api.ok("getSong", id=ids["second"]))["song"]
    assert second["playCount"] == 1 and second["played"] > first["played"]  # no time given: now
    # An unknown song: error 70 and no listening written for the others.
    assert await api.error("scrobble", {"id": [ids["abend"], "tr-999999"]}) == 70
    assert one(db_conn, "SELECT count(*) AS n, min(source) AS source FROM listening") == {"n": 2, "source": "subsonic"}
    assert await Subsonic(web_server, bob).error("scrobble", {"id": ids["first"]}) == 70
    assert await Subsonic(web_server, bob).error("scrobble", {"id": ids["first"], "submission": "false"}) == 70
    assert await api.error("scrobble", {}) == 10


def _titles(playlist):
    return [e["title"] for e in playlist.get("entry", [])]


@pytest_twisted.ensureDeferred
async def test_playlists(web_server, db_conn, alice, bob, ids):
    api, other = Subsonic(web_server, alice), Subsonic(web_server, bob)
    created = (await api.ok("createPlaylist", name="Road", songId=[ids["first"], ids["second"], ids["first"]]))[
        "playlist"
    ]
    assert _titles(created) == ["First Light", "Second Wind", "First Light"]
    assert created["owner"] == "alice" and created["public"] is True and created["readonly"] is False
    assert created["songCount"] == 3 and created["duration"] >= 6 and created["coverArt"] == created["id"]
    pid = created["id"]
    listed = (await api.ok("getPlaylists"))["playlists"]["playlist"]
    assert [(p["id"], p["name"], p["songCount"]) for p in listed] == [(pid, "Road", 3)]
    root = await api.xml("getPlaylist", id=pid)
    assert root.find(f"{NS}playlist").attrib["public"] == "true"
    assert len(root.findall(f"{NS}playlist/{NS}entry")) == 3

    # Remove entries 0 and 2, add Abendlied, rename, comment, make it private: one call.
    await api.ok(
        "updatePlaylist", playlistId=pid, name="Night drive", comment="for later", public="false",
        songIndexToRemove=["0", "2"], songIdToAdd=ids["abend"],
    )  # fmt: skip
    updated = (await api.ok("getPlaylist", id=pid))["playlist"]
    assert _titles(updated) == ["Second Wind", "Abendlied"]
    assert (updated["name"], updated["comment"], updated["public"]) == ("Night drive", "for later", False)
    assert await api.error("updatePlaylist", {"playlistId": pid, "songIndexToRemove": "5"}) == 70
    assert await api.error("updatePlaylist", {"playlistId": pid, "songIdToAdd": "tr-999999"}) == 70
    assert _titles((await api.ok("getPlaylist", id=pid))["playlist"]) == ["Second Wind", "Abendlied"]

    # Bob: a private playlist does not exist for him.
    assert (await other.ok("getPlaylists"))["playlists"] == {"playlist": []}
    assert await other.error("getPlaylist", {"id": pid}) == 70
    assert await other.error("updatePlaylist", {"playlistId": pid, "name": "Mine"}) == 70
    # Public again: he sees it, read-only, without the songs of Alice's private library; he may not change it.
    await api.ok("updatePlaylist", playlistId=pid, public="true")
    seen = (await other.ok("getPlaylist", id=pid))["playlist"]
    assert seen["readonly"] is True and seen["songCount"] == 0 and _titles(seen) == []
    assert [p["id"] for p in (await other.ok("getPlaylists", username="alice"))["playlists"]["playlist"]] == [pid]
    assert await other.error("getPlaylists", {"username": "nobody"}) == 70
    assert await other.error("updatePlaylist", {"playlistId": pid, "name": "Mine"}) == 50
    assert await other.error("deletePlaylist", {"id": pid}) == 50
    assert await other.error("createPlaylist", {"name": "Stolen", "songId": ids["first"]}) == 70
    assert one(db_conn, "SELECT count(*) AS n FROM playlist")["n"] == 1

    # createPlaylist with playlistId replaces the songs.
    replaced = (await api.ok("createPlaylist", playlistId=pid, songId=[ids["abend"], ids["first"]]))["playlist"]
    assert replaced["name"] == "Night drive" and _titles(replaced) == ["Abendlied", "First Light"]
    assert await api.error("createPlaylist", {}) == 10
    assert await api.error("createPlaylist", {"name": "x" * 101}) == 0

    await api.ok("deletePlaylist", id=pid)
    assert await api.error("getPlaylist", {"id": pid}) == 70
    assert await api.error("deletePlaylist", {"id": pid}) == 70


@pytest_twisted.ensureDeferred
async def test_bookmarks_and_play_queue(web_server, alice, bob, ids):
    api = Subsonic(web_server, alice)
    assert (await api.ok("getBookmarks"))["bookmarks"] == {"bookmark": []}
    await api.ok("createBookmark", id=ids["second"], position=1234, comment="chorus")
    await api.ok("createBookmark", id=ids["second"], position=4321)
    marks = (await api.ok("getBookmarks"))["bookmarks"]["bookmark"]
    assert len(marks) == 1
    assert (marks[0]["position"], marks[0]["comment"], marks[0]["username"]) == (4321, "", "alice")
    assert marks[0]["entry"]["id"] == ids["second"]  # one object, never an array
    assert await api.error("createBookmark", {"id": ids["first"]}) == 10
    assert await Subsonic(web_server, bob).error("createBookmark", {"id": ids["first"], "position": 1}) == 70
    await api.ok("deleteBookmark", id=ids["second"])
    assert (await api.ok("getBookmarks"))["bookmarks"] == {"bookmark": []}

    assert (await api.ok("getPlayQueue"))["playQueue"]["entry"] == []
    await api.ok(
        "savePlayQueue", id=[ids["first"], ids["abend"], ids["first"]], current=ids["abend"], position=5000,
        c="Feishin",
    )  # fmt: skip
    queue = (await api.ok("getPlayQueue"))["playQueue"]
    assert [e["id"] for e in queue["entry"]] == [ids["first"], ids["abend"], ids["first"]]
    assert (queue["current"], queue["position"], queue["changedBy"], queue["username"]) == (
        ids["abend"], 5000, "Feishin", "alice"
    )  # fmt: skip
    assert await Subsonic(web_server, bob).error("savePlayQueue", {"id": ids["first"]}) == 70
    assert (await Subsonic(web_server, bob).ok("getPlayQueue"))["playQueue"]["entry"] == []
    await api.ok("savePlayQueue")
    assert (await api.ok("getPlayQueue"))["playQueue"] == {
        "position": 0, "username": "alice", "changed": "1970-01-01T00:00:00.000Z", "changedBy": "", "entry": []
    }  # fmt: skip


@pytest_twisted.ensureDeferred
async def test_users(web_server, db_conn, alice, bob, imported):
    api = Subsonic(web_server, alice)
    me = (await api.ok("getUser", username="alice"))["user"]
    assert me["username"] == "alice" and me["adminRole"] is False and me["streamRole"] is True
    assert me["folder"] == [imported["id"]]
    assert (await api.ok("getUser"))["user"]["username"] == "alice"
    assert await api.error("getUser", {"username": "bob"}) == 50
    assert await api.error("getUsers") == 50
    root = await api.xml("getUser", username="alice")
    assert root.find(f"{NS}user").attrib["adminRole"] == "false"

    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (bob["id"],))
    admin = Subsonic(web_server, bob)
    assert (await admin.ok("getUser", username="ALICE"))["user"]["username"] == "alice"
    assert await admin.error("getUser", {"username": "nobody"}) == 70
    users = (await admin.ok("getUsers"))["users"]["user"]
    assert [(u["username"], u["adminRole"]) for u in users] == [("alice", False), ("bob", True)]


@pytest_twisted.ensureDeferred
async def test_scan(server, db_conn, alice, bob, tmp_path):
    """startScan queues a durable task that a worker runs; getScanStatus follows it."""
    music = tmp_path / "music"
    audio.make_audio(music, "01", "mp3", title="Old", artist="Scanner", album="Scans")
    server.ctx.settings = dataclasses.replace(server.ctx.settings, music_directories=(str(music),))
    library = cf.insert_library(db_conn, alice, "me", name="Folder")
    await import_folder(server.ctx, str(library["uuid"]), music, in_place=True, recursive=True)
    audio.make_audio(music, "02", "ogg", title="New", artist="Scanner", album="Scans")

    api = Subsonic(server, alice)
    assert (await api.ok("getScanStatus"))["scanStatus"] == {"scanning": False, "count": 0}
    assert await api.error("startScan") == 50
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (alice["id"],))
    cf.auth_changed()
    started = (await api.ok("startScan"))["scanStatus"]
    assert started["scanning"] is True
    status = started
    while status["scanning"]:
        await deferLater(reactor, 0.05, lambda: None)
        status = (await api.ok("getScanStatus"))["scanStatus"]
    assert status["count"] == 2  # both files gone through, the new one imported
    statuses = ["running"]
    while statuses == ["running"]:  # the worker marks the row done just after the task released the scan
        with db_conn.cursor() as cur:
            cur.execute("SELECT status FROM task WHERE name = 'music.rescan_folders'")
            statuses = [r["status"] for r in cur.fetchall()]
        await deferLater(reactor, 0.05, lambda: None)
    assert statuses == ["done"], "one durable task, run by the worker"
    found = (await api.ok("search3", query="New"))["searchResult3"]
    assert [s["title"] for s in found["song"]] == ["New"]
    root = await api.xml("getScanStatus")
    assert root.find(f"{NS}scanStatus").attrib == {"scanning": "false", "count": "2"}
    assert await Subsonic(server, bob).error("startScan") == 50


@pytest_twisted.ensureDeferred
async def test_a_scan_lock_whose_holder_died_expires(server, db_conn, alice):
    """A lock left by a dead process is not renewed, so it expires and a new scan can start."""
    from funkwhale.music.importer import rescans

    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (alice["id"],))
    await server.ctx.redis.cmd.set(rescans.LOCK, "dead-holder", expire=1)
    assert await rescans.request(server.ctx) is False
    await deferLater(reactor, 1.2, lambda: None)
    assert await rescans.request(server.ctx) is True
    status = {"scanning": True}
    while status["scanning"]:
        await deferLater(reactor, 0.05, lambda: None)
        status = (await Subsonic(server, alice).ok("getScanStatus"))["scanStatus"]


@pytest_twisted.ensureDeferred
async def test_stubs_and_extensions(web_server, alice):
    api = Subsonic(web_server, alice)
    assert (await api.ok("getPodcasts"))["podcasts"] == {"channel": []}
    assert (await api.ok("getNewestPodcasts"))["newestPodcasts"] == {"episode": []}
    assert (await api.ok("getInternetRadioStations"))["internetRadioStations"] == {"internetRadioStation": []}
    assert await api.error("jukeboxControl", {"action": "status"}) == 0
    names = {e["name"] for e in (await api.ok("getOpenSubsonicExtensions"))["openSubsonicExtensions"]}
    assert {"songLyrics", "transcodeOffset", "formPost"} <= names


@pytest_twisted.ensureDeferred
async def test_py_opensonic_writes(web_server, alice, ids):
    def session():
        conn = libopensonic.Connection("http://127.0.0.1", "alice", alice["subsonic_api_token"], _port(web_server))
        assert conn.star(sids=[ids["first"]], album_ids=[ids["dusk"]])
        assert conn.set_rating(ids["second"], 3)
        assert conn.scrobble(ids["second"], submission=False)
        playing = conn.get_now_playing()
        assert conn.scrobble(ids["first"], listen_time=1_700_000_000_000)
        assert conn.create_playlist(name="Mix", song_ids=[ids["second"], ids["first"]])
        playlists = conn.get_playlists()
        playlist = conn.get_playlist(playlists[0].id)
        assert conn.save_play_queue([ids["first"], ids["second"]], current=ids["second"], position=1000)
        queue = conn.get_play_queue()
        starred = conn.get_starred2()
        return playing, playlist, queue, starred

    playing, playlist, queue, starred = await deferToThread(session)
    assert [(p.username, p.title) for p in playing] == [("alice", "Second Wind")]
    assert playlist.name == "Mix" and [e.title for e in playlist.entry] == ["Second Wind", "First Light"]
    assert queue.current == ids["second"] and [e.title for e in queue.entry] == ["First Light", "Second Wind"]
    assert [s.title for s in starred.song] == ["First Light"] and [a.name for a in starred.album] == ["Dusk"]


@pytest_twisted.ensureDeferred
async def test_api_key_scopes_apply_to_writes(web_server, db_conn, alice, ids):
    web = cf.listener_client(web_server, db_conn, alice)
    app = await web.post(
        "/api/v1/oauth/apps/",
        json_body={
            "name": "Player",
            "scopes": "read:libraries write:favorites",
            "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
        },
    )
    api = Subsonic(web_server)
    key = {"apiKey": app.json["token"]}
    assert (await api.json("star", {"id": ids["first"]}, auth=key))["status"] == "ok"
    for method, params in (("scrobble", {"id": ids["first"]}), ("createPlaylist", {"name": "Road"}),
                           ("savePlayQueue", {"id": ids["first"]})):  # fmt: skip
        content = await api.json(method, params, auth=key)
        assert content["error"]["code"] == 50, method
    assert one(db_conn, "SELECT count(*) AS n FROM track_favorite")["n"] == 1
    assert one(db_conn, "SELECT count(*) AS n FROM listening")["n"] == 0
