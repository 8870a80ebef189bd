"""NodeInfo's library and usage figures count real rows, and its actorId is the service actor we serve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest_twisted

from . import catalog_factories as cf

REFERENCE = Path("/work/shared/reference/funkwhale-1.4-responses")
REMOTE = "https://remote.example/federation/music"


def arrange(conn) -> None:
    """Two local artists, an album, three tracks (two with finished uploads: 1 h 30 min in all), one remote track,
    two favorites, three listenings, five downloads; a user active today and one active five months ago."""
    alice = cf.insert_listener(conn, "alice")
    bob = cf.insert_listener(conn, "bob")
    with conn.cursor() as cur:
        cur.execute("UPDATE users SET last_activity = now() WHERE id = %s", (alice["id"],))
        cur.execute("UPDATE users SET last_activity = now() - interval '150 days' WHERE id = %s", (bob["id"],))
    library = cf.insert_library(conn, alice, "everyone")
    artist, other = cf.insert_artist(conn, "Oum"), cf.insert_artist(conn, "Dhafer")
    album = cf.insert_album(conn, artist, "Daba")
    one = cf.insert_track(conn, artist, "One", album, downloads_count=5)
    two = cf.insert_track(conn, other, "Two")
    cf.insert_track(conn, other, "Three")
    cf.insert_upload(conn, library, one, duration=3600)
    cf.insert_upload(conn, library, two, duration=1800)
    cf.insert_upload(conn, library, two, import_status="errored", duration=999)
    remote_artist = cf.insert_artist(conn, "Far", fid=f"{REMOTE}/artists/1")
    cf.insert_track(conn, remote_artist, "Remote", fid=f"{REMOTE}/tracks/1")
    with conn.cursor() as cur:
        for user, track in ((alice, one), (bob, one)):
            cur.execute("INSERT INTO track_favorite (user_id, track_id) VALUES (%s, %s)", (user["id"], track["id"]))
        for track in (one, one, two):
            cur.execute("INSERT INTO listening (user_id, track_id) VALUES (%s, %s)", (alice["id"], track["id"]))


@pytest_twisted.ensureDeferred
async def test_nodeinfo_20_counts_local_library_and_usage(client, db_conn):
    arrange(db_conn)
    doc = (await client.get("/api/v1/instance/nodeinfo/2.0/")).json
    assert doc["usage"] == {"users": {"total": 2, "activeHalfyear": 2, "activeMonth": 1}}
    library = doc["metadata"]["library"]
    assert library["tracks"] == {"total": 3} and library["artists"] == {"total": 2}
    assert library["albums"] == {"total": 1} and library["music"] == {"hours": 1.5}
    assert doc["metadata"]["usage"] == {
        "favorites": {"tracks": {"total": 2}},
        "listenings": {"total": 3},
        "downloads": {"total": 5},
    }
    reference = json.loads((REFERENCE / "nodeinfo-2.0.json").read_text())
    assert set(reference["metadata"]["library"]) <= set(library)


@pytest_twisted.ensureDeferred
async def test_nodeinfo_21_counts_local_content(client, db_conn):
    arrange(db_conn)
    doc = (await client.get("/api/v2/instance/nodeinfo/2.1/")).json
    assert doc["metadata"]["content"]["local"] == {"artists": 2, "releases": 1, "recordings": 3, "hoursOfContent": 1}
    reference = json.loads((REFERENCE / "nodeinfo-2.1.json").read_text())
    assert list(doc["usage"]) == list(reference["usage"])
    assert doc["usage"]["localPosts"] == 0 and doc["usage"]["localComments"] == 0


@pytest_twisted.ensureDeferred
async def test_nodeinfo_actor_id_is_the_service_actor(client):
    doc = (await client.get("/api/v1/instance/nodeinfo/2.0/")).json
    actor_id = doc["metadata"]["actorId"]
    assert actor_id == "http://test.funkwhale.local/federation/actors/service"
    resp = await client.get(
        actor_id.split("test.funkwhale.local", 1)[1], headers={"Accept": "application/activity+json"}
    )
    assert resp.code == 200 and resp.json["id"] == actor_id and resp.json["type"] == "Service"
