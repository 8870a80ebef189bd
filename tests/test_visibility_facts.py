"""The structures that make catalog lists cheap stay right: the visibility facts (`track_library`, kept by
triggers), and the counts cached in Redis, after uploads finish or go, tracks move, libraries change privacy or go,
and content filters change; and two writers of one (track, library) pair leave it as the last to commit saw it,
a batch of thousands of uploads in one transaction, and an import batch that refreshes its facts in one
statement."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest_twisted

from . import catalog_factories as cf
from .subsonic_helpers import Subsonic


def facts(conn: Any) -> set[tuple[int, int, int | None]]:
    """(track, library, album) of every visibility fact."""
    with conn.cursor() as cur:
        cur.execute("SELECT track_id, library_id, album_id FROM track_library")
        return {(r["track_id"], r["library_id"], r["album_id"]) for r in cur.fetchall()}


def run(conn: Any, statement: str, *params: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(statement, params)


@pytest_twisted.ensureDeferred
async def test_facts_follow_uploads_tracks_and_libraries(web_server, db_conn, alice, bob):
    shared = cf.insert_library(db_conn, alice, "instance")
    private = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Moss")
    album = cf.insert_album(db_conn, artist, "Lichen")
    one, two = (cf.insert_track(db_conn, artist, title, album) for title in ("One", "Two"))
    loose = cf.insert_track(db_conn, artist, "Loose")
    shared_one = cf.insert_upload(db_conn, shared, one)
    cf.insert_upload(db_conn, private, one)
    pending = cf.insert_upload(db_conn, shared, two, import_status="pending")
    cf.insert_upload(db_conn, shared, loose)
    cf.insert_upload(db_conn, shared, None)  # not matched to a track yet
    s, p, a = shared["id"], private["id"], album["id"]
    assert facts(db_conn) == {(one["id"], s, a), (one["id"], p, a), (loose["id"], s, None)}
    viewer = cf.listener_client(web_server, db_conn, bob)
    assert (await viewer.get(f"/api/v1/albums/{a}/")).json["tracks_count"] == 1

    run(db_conn, "UPDATE upload SET import_status = 'finished' WHERE id = %s", pending["id"])  # its import ends
    assert (two["id"], s, a) in facts(db_conn)
    assert (await viewer.get(f"/api/v1/albums/{a}/")).json["tracks_count"] == 2

    run(db_conn, "DELETE FROM upload WHERE id = %s", shared_one["id"])  # still in the private library
    assert (one["id"], s, a) not in facts(db_conn) and (one["id"], p, a) in facts(db_conn)
    assert (await viewer.get(f"/api/v1/albums/{a}/")).json["tracks_count"] == 1
    owner = cf.listener_client(web_server, db_conn, alice)
    assert (await owner.get(f"/api/v1/albums/{a}/")).json["tracks_count"] == 2

    run(db_conn, "UPDATE track SET album_id = %s WHERE id = %s", a, loose["id"])  # remote ingestion moves it
    assert (loose["id"], s, a) in facts(db_conn)
    assert (await viewer.get(f"/api/v1/albums/{a}/")).json["tracks_count"] == 2
    listed = (await viewer.get("/api/v1/tracks/")).json["results"]
    assert sorted(t["title"] for t in listed) == ["Loose", "Two"]
    assert [t["album"]["tracks_count"] for t in listed] == [2, 2]

    run(db_conn, "UPDATE upload SET library_id = %s WHERE track_id = %s", private["id"], two["id"])
    assert (two["id"], s, a) not in facts(db_conn) and (two["id"], p, a) in facts(db_conn)

    assert (await owner.delete(f"/api/v1/libraries/{shared['uuid']}/")).code == 204
    assert facts(db_conn) == {(one["id"], p, a), (two["id"], p, a)}
    assert (await viewer.get(f"/api/v1/albums/{a}/")).code == 404
    run(db_conn, "DELETE FROM track WHERE id = %s", one["id"])
    assert facts(db_conn) == {(two["id"], p, a)}


@pytest_twisted.ensureDeferred
async def test_album_durations_follow_uploads_privacy_and_content_filters(web_server, db_conn, alice, bob):
    """An album's playable tracks and duration are read from the facts' durations (each track's longest upload the
    viewer may play): they follow a finished import, a changed duration, a deletion and a privacy change, and a
    content filter hides the album from lists only."""
    shared, private = cf.insert_library(db_conn, alice, "instance"), cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Moss")
    album = cf.insert_album(db_conn, artist, "Lichen")
    one, two = (cf.insert_track(db_conn, artist, title, album) for title in ("One", "Two"))
    shared_one = cf.insert_upload(db_conn, shared, one, duration=200)
    cf.insert_upload(db_conn, private, one, duration=300)
    pending = cf.insert_upload(db_conn, shared, two, import_status="pending", duration=100)
    listener, owner = Subsonic(web_server, bob), Subsonic(web_server, alice)
    rest = cf.listener_client(web_server, db_conn, bob)

    async def seen(api: Subsonic = listener) -> tuple[int, int]:
        got = (await api.ok("getAlbum", id=f"al-{album['id']}"))["album"]
        return got["songCount"], got["duration"]

    assert await seen() == (1, 200) and await seen(owner) == (1, 300)
    run(db_conn, "UPDATE upload SET import_status = 'finished' WHERE id = %s", pending["id"])
    assert await seen() == (2, 300)
    run(db_conn, "UPDATE upload SET duration = 250 WHERE id = %s", shared_one["id"])
    assert await seen() == (2, 350)
    listed = (await listener.ok("getAlbumList2", type="newest"))["albumList2"]["album"]
    assert [(a["songCount"], a["duration"]) for a in listed] == [(2, 350)]
    assert (await rest.get(f"/api/v1/albums/{album['id']}/")).json["duration"] == 350
    run(db_conn, "DELETE FROM upload WHERE id = %s", shared_one["id"])
    assert await seen() == (1, 100) and await seen(owner) == (2, 400)
    run(db_conn, "UPDATE library SET privacy_level = 'instance' WHERE id = %s", private["id"])
    assert await seen() == (2, 400)
    run(db_conn, "INSERT INTO user_filter (user_id, target_artist_id) VALUES (%s, %s)", bob["id"], artist["id"])
    assert (await listener.ok("getAlbumList2", type="newest"))["albumList2"].get("album", []) == []
    assert await seen() == (2, 400)


def test_two_writers_of_one_pair_leave_what_the_last_to_commit_saw(servers, db_conn, alice):
    """One transaction removes the last finished upload of a track in a library while another adds one: whichever
    commits first, the fact stays (each refreshes the pair at its commit, under a lock, seeing the other's)."""
    library = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Moss")
    for first in ("adder", "remover"):
        track = cf.insert_track(db_conn, artist, f"Song {first}")
        old = cf.insert_upload(db_conn, library, track)
        remover, adder = psycopg2.connect(servers[0]), psycopg2.connect(servers[0])
        try:
            with remover.cursor() as cur:
                cur.execute("DELETE FROM upload WHERE id = %s", (old["id"],))
            with adder.cursor() as cur:
                cur.execute(
                    "INSERT INTO upload (fid, library_id, track_id, import_status) VALUES (%s, %s, %s, 'finished')",
                    (f"{cf.BASE}/uploads/{first}", library["id"], track["id"]),
                )
            for conn in (adder, remover) if first == "adder" else (remover, adder):
                conn.commit()
        finally:
            remover.close()
            adder.close()
        assert (track["id"], library["id"], None) in facts(db_conn), first


def test_a_batch_of_thousands_of_uploads_in_one_transaction(db_conn, alice):
    """A batched import commits thousands of uploads at once (20,000 here): the facts follow, with one lock (a lock
    per pair would overflow PostgreSQL's lock table)."""
    library = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Moss")
    run(
        db_conn,
        "WITH made AS (INSERT INTO track (fid, title, title_key, artist_id)"
        " SELECT 'batch/' || n, 'Song ' || n, 'song ' || n, %s FROM generate_series(1, 20000) n RETURNING id)"
        " INSERT INTO upload (fid, library_id, track_id, import_status)"
        " SELECT 'batch/upload/' || id, %s, id, 'finished' FROM made",
        artist["id"],
        library["id"],
    )
    assert len(facts(db_conn)) == 20000
    run(db_conn, "UPDATE upload SET import_status = 'skipped' WHERE library_id = %s", library["id"])
    assert facts(db_conn) == set()


def test_an_import_batch_refreshes_the_facts_of_its_pairs_itself(servers, db_conn, alice):
    """The import's UPDATE of its uploads queues no per-row refresh: it refreshes every pair it finished in one
    statement (the longest duration among all the pair's finished uploads; none for a skipped upload), and a later
    change in the same transaction still refreshes at commit."""
    from funkwhale.db.pool import connect
    from funkwhale.music.importer import store

    library = cf.insert_library(db_conn, alice, "me")
    artist = cf.insert_artist(db_conn, "Moss")
    one, two, three = (cf.insert_track(db_conn, artist, title) for title in ("One", "Two", "Three"))
    cf.insert_upload(db_conn, library, one, duration=400)
    batch = [cf.insert_upload(db_conn, library, None, import_status="pending") for _ in range(3)]
    later = cf.insert_upload(db_conn, library, three, import_status="pending")
    common = {"album_id": None, "cover_id": None, "details": {}, "bitrate": None, "sample_rate": None}
    outcomes = [
        {"id": batch[0]["id"], "status": "finished", "track_id": one["id"], "duration": 300},
        {"id": batch[1]["id"], "status": "finished", "track_id": two["id"], "duration": 50},
        {"id": batch[2]["id"], "status": "skipped", "track_id": three["id"], "duration": 70},
    ]
    conn = connect(servers[0])
    try:
        with conn, conn.cursor() as cur:
            store.finish_uploads_txn(cur, [{**common, **o, "mimetype": "audio/mpeg", "metadata": {}} for o in outcomes])
            cur.execute("UPDATE upload SET import_status = 'finished' WHERE id = %s", (later["id"],))
    finally:
        conn.close()
    with db_conn.cursor() as cur:
        cur.execute("SELECT track_id, duration FROM track_library WHERE library_id = %s", (library["id"],))
        durations = {row["track_id"]: row["duration"] for row in cur.fetchall()}
    assert durations == {one["id"]: 400, two["id"]: 50, three["id"]: 180}


@pytest_twisted.ensureDeferred
async def test_cached_counts_follow_privacy_content_filters_and_deletions(web_server, db_conn, alice, bob):
    """A count comes from the cache while nothing changed, and changes with what the viewer may see."""
    shared = cf.insert_library(db_conn, alice, "instance")
    public = cf.insert_library(db_conn, alice, "everyone")
    moss, birch = cf.insert_artist(db_conn, "Moss"), cf.insert_artist(db_conn, "Birch")
    for i in range(2):
        cf.playable_track(db_conn, shared, moss, f"Shared {i}")
        cf.playable_track(db_conn, public, birch, f"Public {i}")
    viewer, owner = cf.listener_client(web_server, db_conn, bob), cf.listener_client(web_server, db_conn, alice)

    async def count() -> int:
        page = await viewer.get("/api/v1/tracks/", params={"page_size": 1})
        assert page.code == 200, page
        return page.json["count"]

    assert await count() == await count() == 4
    hidden = await viewer.post(
        "/api/v1/moderation/content-filters/", json_body={"target": {"type": "artist", "id": birch["id"]}}
    )
    assert hidden.code == 201, hidden
    assert await count() == 2
    assert (await viewer.delete(f"/api/v1/moderation/content-filters/{hidden.json['uuid']}/")).code == 204
    assert await count() == 4
    assert (await owner.patch(f"/api/v1/libraries/{shared['uuid']}/", json_body={"privacy_level": "me"})).code == 200
    assert await count() == 2
    uploads = (await owner.get("/api/v1/uploads/", params={"library": public["uuid"]})).json["results"]
    assert (await owner.delete(f"/api/v1/uploads/{uploads[0]['uuid']}/")).code == 204
    assert await count() == 1
    assert (
        await owner.patch(f"/api/v1/libraries/{shared['uuid']}/", json_body={"privacy_level": "instance"})
    ).code == 200
    assert await count() == 3
    assert (await owner.delete(f"/api/v1/libraries/{public['uuid']}/")).code == 204
    assert await count() == 2
