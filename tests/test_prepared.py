"""Server-side prepared statements (funkwhale/db/prepared.py): the catalog, Subsonic, favorites and playlist
statements give the same rows prepared as run plainly, for different viewers on one connection, custom and
generic plans alike; the per-connection bound; a connection the server closed; DDL that changes a prepared
statement's result type; the setting that turns them off."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest
import pytest_twisted

from funkwhale.db import prepared
from funkwhale.db.pool import DatabaseUnavailable, connect
from funkwhale.music.catalog import store as catalog
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import store as playlists
from funkwhale.social import store as social
from funkwhale.subsonic import store as subsonic

from . import catalog_factories as cf
from .conftest import start_server
from .subsonic_helpers import Subsonic


def _viewer(user: dict[str, Any] | None) -> Viewer:
    return Viewer() if user is None else Viewer(user_id=user["id"], actor_id=user["actor_id"])


@pytest.fixture
def library(db_conn, alice, bob) -> dict[str, Any]:
    """Alice's private library and Bob's public one, sharing an artist; Alice hides Bob's own artist, favorites
    a track and has a playlist; tags on both sides."""
    mine = cf.insert_library(db_conn, alice, "me")
    public = cf.insert_library(db_conn, bob, "everyone")
    shared = cf.insert_artist(db_conn, "Shared Band", content_category="music")
    hidden = cf.insert_artist(db_conn, "Bob's 100% Band")
    ids = {"shared": shared["id"], "hidden": hidden["id"], "tracks": []}
    for n, (lib, artist) in enumerate([(mine, shared), (public, shared), (public, hidden)]):
        album = cf.insert_album(db_conn, artist, f"Album {n}", release_date=f"200{n}-01-01")
        ids.setdefault("albums", []).append(album["id"])
        cf.tag(db_conn, "album", album, f"genre{n}")
        for i in range(3):
            track = cf.playable_track(db_conn, lib, artist, f"Song {n}{i}", album, position=i + 1)
            cf.tag(db_conn, "track", track, "rock")
            ids["tracks"].append(track["id"])
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO user_filter (user_id, target_artist_id) VALUES (%s, %s)", (alice["id"], hidden["id"]))
        cur.execute("INSERT INTO track_favorite (user_id, track_id) VALUES (%s, %s)", (alice["id"], ids["tracks"][0]))
        cur.execute(
            "INSERT INTO playlist (user_id, name, privacy_level) VALUES (%s, 'mix', 'everyone') RETURNING id",
            (alice["id"],),
        )
        ids["playlist"] = cur.fetchone()["id"]
        for index, track_id in enumerate(ids["tracks"]):
            cur.execute(
                "INSERT INTO playlist_track (playlist_id, track_id, index) VALUES (%s, %s, %s)",
                (ids["playlist"], track_id, index),
            )
    return ids


def _reads(ids: dict[str, Any]) -> dict[str, Any]:
    """Every kind of prepared read, by name: (cursor, viewer) -> rows."""
    F, L = catalog.Filters, catalog.Listing
    track, album = ids["tracks"][0], ids["albums"][0]
    cases: dict[str, Any] = {}
    for kind in ("track", "album", "artist"):
        for name, filters in {
            "all": F(),
            "q": F(q="song"),
            "tags": F(tags=("rock", "genre1")),
            "artist": F(artist=ids["shared"]),
            "ids": F(ids=tuple(ids["tracks"][:2])),
            "hidden": F(hidden=True),
            "name": F(name_lookups=(("icontains", "100%"), ("startswith", "Song"))),
            "category": F(content_category="music", has_albums=True, favorites=True),
            "unfiltered": F(content_filters=False, playable=True, album=album),
        }.items():
            cases[f"{kind} {name}"] = lambda c, v, k=kind, f=filters: catalog.page_txn(c, k, L(v, f))
            cases[f"{kind} {name} count"] = lambda c, v, k=kind, f=filters: catalog.count_txn(c, k, v, f)
        cases[f"{kind} p2"] = lambda c, v, k=kind: catalog.page_txn(c, k, L(v, ordering=("-id",), offset=1))
        cases[f"{kind} past"] = lambda c, v, k=kind: catalog.page_txn(c, k, L(v, offset=5000))  # OFFSET a parameter
        one = {"track": track, "album": album, "artist": ids["shared"]}[kind]
        cases[f"{kind} detail"] = lambda c, v, k=kind, i=one: catalog.detail_txn(c, k, v, i)
    cases["search"] = lambda c, v: catalog.search_txn(c, v, "song", 5, "rock")
    cases["tags"] = lambda c, v: catalog.list_tags_txn(c, v, "o", ("name",), 10, 0, (("startswith", "r"),))
    cases["tag"] = lambda c, v: catalog.tag_txn(c, v, "Rock")
    for kind in subsonic.ALBUM_LIST_TYPES:
        if kind != "random":
            request = subsonic.AlbumList(kind, 10, 0, None, 2000, 2001, "genre1")
            cases[f"albumList2 {kind}"] = lambda c, v, r=request: subsonic.album_list_txn(c, v, r)
    S = subsonic.Search
    cases["search3"] = lambda c, v: subsonic.search_txn(c, v, S("song"))
    cases["search3 sync"] = lambda c, v: subsonic.search_txn(c, v, S('""', (0, 0), (0, 0), (2, 1000)))
    cases["search3 after"] = lambda c, v: subsonic.search_txn(c, v, S("", after={"songs": (track, 0)}))
    cases["getArtists"] = lambda c, v: subsonic.artists_txn(c, v, None, changes=True)
    cases["getArtist"] = lambda c, v: subsonic.artist_txn(c, v, ids["shared"])
    cases["getAlbum"] = lambda c, v: subsonic.album_txn(c, v, album)
    cases["getSong"] = lambda c, v: subsonic.song_txn(c, v, track)
    cases["getGenres"] = lambda c, v: subsonic.genres_txn(c, v)
    cases["getStarred"] = lambda c, v: subsonic.starred_txn(c, v)
    cases["getSongsByGenre"] = lambda c, v: subsonic.songs_by_genre_txn(c, v, "rock", 10, 0)
    cases["getTopSongs"] = lambda c, v: subsonic.top_songs_txn(c, v, "Shared Band", 10)
    cases["getArtistInfo2"] = lambda c, v: subsonic.artist_info_txn(c, v, ids["shared"], 5)
    cases["favorites"] = lambda c, v: social.list_txn(c, "favorites", social.Listing(v, mine=False, q="song"))
    cases["playlists"] = lambda c, v: playlists.list_txn(c, playlists.Listing(v, playable=True))
    cases["playlist tracks"] = lambda c, v: playlists.tracks_txn(c, v, ids["playlist"], 1, 4)
    return cases


@contextmanager
def _plain():
    """Statements run as they are, not prepared (what the code did before)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prepared, "execute", _execute_plain)
        yield


def _execute_plain(cursor: Any, statement: str, params: Any = None, generic: bool = False, settings: Any = ()) -> None:
    cursor.execute("; ".join([*prepared.set_locally(settings), statement]), params)


@pytest.mark.parametrize("plans", ["force_custom_plan", "force_generic_plan"])
def test_prepared_statements_give_the_rows_of_plain_ones_for_every_viewer(
    servers, library, alice, bob, plans, monkeypatch
):
    monkeypatch.setattr(prepared, "PER_CONNECTION", 1000)  # every text stays prepared: run again, it is reused
    conn = connect(f"{servers[0]}&options=-c%20plan_cache_mode%3D{plans}")  # generic from the 1st EXECUTE, or never
    try:
        viewers = [_viewer(alice), _viewer(bob), _viewer(None)]
        cases = _reads(library)
        for name, read in cases.items():
            for viewer in viewers:  # alice and bob share each text (and so its generic plan)
                with conn.cursor() as cur, _plain():
                    expected = read(cur, viewer)
                conn.rollback()
                for _ in range(2):  # prepared, then prepared already
                    with conn.cursor() as cur:
                        assert read(cur, viewer) == expected, (name, viewer)
                    conn.rollback()
        assert len(prepared.prepared_names(conn)) > len(cases)  # (the texts differ for anonymous viewers)
    finally:
        conn.close()


def test_values_of_every_shape_and_a_percent_sign(servers):
    conn = connect(servers[0])
    try:
        with conn.cursor() as cur:
            for params in ({"ids": [], "n": None, "t": "50%"}, {"ids": [1, 2**40], "n": 3, "t": "é'\\"}):
                statement = (
                    "SELECT cardinality(%(ids)s::bigint[]) AS ids, 1099511627776 = ANY(%(ids)s) AS big,"
                    " %(n)s::int IS NULL AS none, '%%' || %(t)s AS t"
                )
                prepared.execute(cur, statement, params)
                got = cur.fetchone()
                cur.execute(statement, params)
                assert got == cur.fetchone()
            prepared.execute(cur, "SELECT %s::text || %s::text || '%%' AS joined", ["a", "b"])
            assert cur.fetchone()["joined"] == "ab%"
    finally:
        conn.close()


def test_a_connection_keeps_at_most_its_bound_of_statements(servers, monkeypatch):
    monkeypatch.setattr(prepared, "PER_CONNECTION", 3)
    conn = connect(servers[0])
    try:
        with conn.cursor() as cur:
            for _ in range(2):
                for n in range(5):  # more distinct statements than the bound, each used again after eviction
                    prepared.execute(cur, f"SELECT {n} + %(x)s::int AS n", {"x": 1})
                    assert cur.fetchone()["n"] == n + 1
                    conn.rollback()  # kept by the server all the same
            cur.execute("SELECT count(*) AS n FROM pg_prepared_statements")
            assert cur.fetchone()["n"] == 3
            assert len(prepared.prepared_names(conn)) == 3
    finally:
        conn.close()


def _tracked_and_prepared_txn(txn: Any) -> tuple[list[str], list[str]]:
    """What the pool's connection believes it has prepared, and what its server session has."""
    txn.execute("SELECT name FROM pg_prepared_statements")
    return sorted(prepared.prepared_names(txn.connection)), sorted(row["name"] for row in txn.fetchall())


async def _tracking_is_true(running: Any) -> None:
    tracked, on_server = await running.ctx.db.run(_tracked_and_prepared_txn, desc="test")
    assert tracked and tracked == on_server


async def _tracks(client: Any) -> Any:
    resp = await client.get("/api/v1/tracks/")
    assert resp.code == 200, resp
    return resp.json["results"]


@pytest_twisted.ensureDeferred
async def test_a_connection_the_server_closed_is_replaced_and_prepares_again(settings, db_conn, library, alice):
    running = await start_server(dataclasses.replace(settings, role="web", db_pool_size=1))
    try:
        client = cf.listener_client(running, db_conn, alice)
        before = await _tracks(client)
        assert before and before == await _tracks(client)
        with db_conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'funkwhale'")
        with pytest.raises((psycopg2.OperationalError, DatabaseUnavailable)):  # the one that finds it gone
            await running.ctx.db.run(lambda txn: txn.execute("SELECT 1"), desc="test")
        assert await _tracks(client) == before
        assert await _tracks(client) == before
        await _tracking_is_true(running)
    finally:
        await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_with_prepared_statements_off_nothing_is_prepared_and_the_answers_are_the_same(
    settings, db_conn, library, alice
):
    """FUNKWHALE_DB_PREPARED_STATEMENTS=false (behind PgBouncer's transaction mode): every statement runs as it is."""
    answers = []
    for enabled in (True, False):
        running = await start_server(
            dataclasses.replace(settings, role="web", db_pool_size=1, db_prepared_statements=enabled)
        )
        try:
            client = cf.listener_client(running, db_conn, alice)
            songs = (await Subsonic(running, alice).ok("getRandomSongs", size=50))["randomSongs"]["song"]
            found = (await client.get("/api/v1/search", params={"q": "sharde"})).json  # a match at 0.45, not 0.6
            answers.append((await _tracks(client), sorted(s["id"] for s in songs), found))

            def held(txn: Any) -> int:
                txn.execute("SELECT count(*) AS n FROM pg_prepared_statements")
                return txn.fetchone()["n"]

            assert (await running.ctx.db.run(held, desc="test") > 0) is enabled
        finally:
            await running.service.stopService()
    assert answers[0] == answers[1] and answers[0][0]
    assert [a["name"] for a in answers[0][2]["artists"]] == ["Shared Band"]  # with the search's trigram threshold


@pytest_twisted.ensureDeferred
async def test_ddl_that_changes_a_prepared_statements_result_is_run_again_on_new_statements(
    settings, db_conn, library, alice
):
    running = await start_server(dataclasses.replace(settings, role="web", db_pool_size=1))
    api = Subsonic(running, alice)
    song = f"tr-{library['tracks'][0]}"
    try:
        await api.ok("savePlayQueue", id=song, current=song, position=5)
        for _ in range(2):  # prepared: `SELECT pq.*, ...`
            assert (await api.ok("getPlayQueue"))["playQueue"]["position"] == 5
        with db_conn.cursor() as cur:
            cur.execute("ALTER TABLE play_queue ADD COLUMN prepared_test integer")
        try:
            for _ in range(2):
                queue = (await api.ok("getPlayQueue"))["playQueue"]
                assert (queue["position"], [e["id"] for e in queue["entry"]]) == (5, [song])
            await _tracking_is_true(running)
        finally:
            with db_conn.cursor() as cur:
                cur.execute("ALTER TABLE play_queue DROP COLUMN prepared_test")
    finally:
        await running.service.stopService()


def test_a_statement_deallocated_behind_our_back_is_an_error_that_says_to_run_again(servers):
    conn = connect(servers[0])
    try:
        with conn.cursor() as cur:
            prepared.execute(cur, "SELECT 1 AS one")
            cur.execute("DEALLOCATE ALL")
            with pytest.raises(psycopg2.Error) as raised:
                prepared.execute(cur, "SELECT 1 AS one")
            assert prepared.is_stale(raised.value)
            conn.rollback()
            prepared.execute(cur, "SELECT 1 AS one")  # prepared anew
            assert cur.fetchone()["one"] == 1
    finally:
        conn.close()
