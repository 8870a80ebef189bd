"""Two instances: B's user fetches alice's library on A through the API, scans it, and plays what it holds."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.task import deferLater

from funkwhale.activitypub import actors, ingest
from funkwhale.activitypub import scan as scan_module
from funkwhale.activitypub.fetch import Fetcher
from funkwhale.errors import Invalid

from .federation_helpers import run_sql
from .federation_music import library_with_audio


async def scanned(client: Any, library_uuid: str, clock: Any) -> dict[str, Any]:
    """The library once its latest scan has ended."""
    while True:
        resp = await client.get(f"/api/v1/federation/libraries/{library_uuid}/")
        assert resp.code == 200, resp
        if resp.json["latest_scan"]["status"] in ("finished", "errored"):
            return resp.json
        await deferLater(clock, 0.1, lambda: None)


async def scan(client: Any, library_uuid: str, clock: Any) -> dict[str, Any]:
    resp = await client.post(f"/api/v1/federation/libraries/{library_uuid}/scan/")
    assert resp.code == 200 and resp.json["status"] == "scheduled", resp
    return await scanned(client, library_uuid, clock)


async def playable_titles(client: Any) -> list[str]:
    resp = await client.get("/api/v1/tracks/?playable=true&ordering=title")
    assert resp.code == 200, resp
    return [track["title"] for track in resp.json["results"]]


@pytest_twisted.ensureDeferred
async def test_a_remote_library_is_fetched_scanned_and_played(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    library, uploads = await library_with_audio(peers.a, alice, tmp_path, titles=("Dawn", "Dusk", "Noon"))
    bob = await peers.user(peers.b, "bob")
    assert await playable_titles(bob) == []

    fetched = await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": library["fid"]})
    assert fetched.code == 200, fetched
    assert fetched.json["count"] == 1
    remote = fetched.json["results"][0]
    assert remote["fid"] == library["fid"] and remote["uuid"] != library["uuid"]
    assert remote["privacy_level"] == "everyone" and remote["follow"] is None and remote["latest_scan"] is None
    assert remote["uploads_count"] == 3 and remote["actor"]["full_username"].startswith("alice@127.0.0.2:")

    done = await scan(bob, remote["uuid"], peers.b.ctx.clock)
    assert done["latest_scan"]["status"] == "finished", done
    assert done["latest_scan"]["processed_files"] == 3 and done["latest_scan"]["errored_files"] == 0
    assert await playable_titles(bob) == ["Dawn", "Dusk", "Noon"]
    rows = await run_sql(
        peers.b,
        "SELECT u.fid, u.source, u.audio_file, u.import_status, u.mimetype, u.size, t.fid AS track_fid,"
        " a.fid AS actor_fid, t.attributed_to_id = l.actor_id AS attributed"
        " FROM upload u JOIN library l ON l.id = u.library_id JOIN actor a ON a.id = l.actor_id"
        " JOIN track t ON t.id = u.track_id ORDER BY u.fid",
    )
    assert sorted(r["fid"] for r in rows) == sorted(f"{peers.a.base}/federation/music/uploads/{u}" for u in uploads)
    for row in rows:
        assert row["source"].startswith(f"{peers.a.base}/api/v1/listen/") and "upload=" in row["source"]
        assert row["audio_file"] is None and row["import_status"] == "finished" and row["mimetype"] == "audio/mpeg"
        assert row["track_fid"].startswith(f"{peers.a.base}/federation/music/tracks/") and row["attributed"]
        assert row["actor_fid"] == f"{peers.a.base}/federation/actors/alice" and row["size"] > 0
    track = (await bob.get("/api/v1/tracks/?q=Dawn")).json["results"][0]
    assert track["album"]["title"] == "First Light" and track["tags"] == ["Ambient", "Electronic"]

    # a second scan stores nothing twice; an upload alice deleted leaves B with the next complete scan
    assert (await alice.delete(f"/api/v1/uploads/{uploads[1]}/")).code == 204
    again = await scan(bob, remote["uuid"], peers.b.ctx.clock)
    assert again["latest_scan"]["status"] == "finished"
    assert await playable_titles(bob) == ["Dawn", "Noon"]
    counts = await run_sql(
        peers.b, "SELECT (SELECT count(*) FROM upload) AS uploads, (SELECT count(*) FROM track) AS t"
    )
    assert counts == [{"uploads": 2, "t": 3}]

    # by the owner's handle: their known libraries
    handle = f"@alice@{peers.a.base.split('://')[1]}"
    by_handle = await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": handle})
    assert by_handle.code == 200 and [r["uuid"] for r in by_handle.json["results"]] == [remote["uuid"]], by_handle


@pytest_twisted.ensureDeferred
async def test_fetches_refuse_what_is_not_a_remote_library(peers):
    bob = await peers.user(peers.b, "bob")
    for target, why in (
        ("", "This field is required."),
        (f"{peers.b.base}/federation/music/libraries/00000000-0000-0000-0000-000000000000", "local"),
        (f"{peers.a.base}/federation/music/libraries/00000000-0000-0000-0000-000000000000", "404"),
        ("https://10.255.255.1/x", "Could not fetch"),
        ("not a handle", "handle"),
    ):
        resp = await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": target})
        assert resp.code == 400 and why in resp.json["fid"][0], (target, resp)
    domain = peers.a.base.split("://")[1]  # bob, B's first account, moderates B
    block = {"target": {"type": "domain", "id": domain}, "block_all": True}
    assert (await bob.post("/api/v1/manage/moderation/instance-policies/", json_body=block)).code == 201
    blocked = await bob.post("/api/v1/federation/libraries/fetch/",
                             json_body={"fid": f"{peers.a.base}/federation/music/libraries/x"})  # fmt: skip
    assert blocked.code == 400 and "blocked" in blocked.json["fid"][0], blocked
    fetch = await bob.post("/api/v1/federation/fetches/", json_body={"object": f"{peers.a.base}/federation/actors/x"})
    assert fetch.code == 201 and fetch.json["status"] == "errored", fetch
    again = await bob.get(f"/api/v1/federation/fetches/{fetch.json['id']}/")
    assert again.code == 200 and again.json == fetch.json
    other = await peers.user(peers.b, "carol")
    assert (await other.get(f"/api/v1/federation/fetches/{fetch.json['id']}/")).code == 404


@pytest_twisted.ensureDeferred
async def test_a_forged_audio_is_refused(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    library, uploads = await library_with_audio(peers.a, alice, tmp_path, titles=("Real",))
    bob = await peers.user(peers.b, "bob")
    fetched = await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": library["fid"]})
    [row] = await run_sql(peers.b, "SELECT id, fid, actor_id FROM library WHERE fid = %s", (library["fid"],))
    fetcher = Fetcher.from_settings(peers.b.ctx.settings)
    audio = await fetcher.get_object(
        f"{peers.a.base}/federation/music/uploads/{uploads[0]}", signer=await actors.signer(peers.b.ctx)
    )
    elsewhere = "https://elsewhere.example/federation/music/uploads/1"
    for forged in (
        {**audio, "id": elsewhere},
        {**audio, "library": "https://elsewhere.example/federation/music/libraries/1"},
        {**audio, "url": [{**audio["url"][0], "href": "https://elsewhere.example/a.mp3"}]},
        {**audio, "track": {**audio["track"], "id": f"{peers.b.base}/federation/music/tracks/{uploads[0]}"}},
    ):
        try:
            await ingest.ingest_audio(peers.b.ctx, forged, row)
            raise AssertionError(f"stored a forged Audio {forged}")
        except Invalid:
            pass
    assert await run_sql(peers.b, "SELECT count(*) AS n FROM upload") == [{"n": 0}]
    # the real one, twice, is one upload; it also comes with 2.0's artist_credit instead of artists
    credited = {**audio["track"], "artist_credit": [{"artist": audio["track"]["artists"][0], "credit": "A"}]}
    del credited["artists"]
    first = await ingest.ingest_audio(peers.b.ctx, audio, row)
    assert await ingest.ingest_audio(peers.b.ctx, {**audio, "track": credited}, row) == first
    assert await run_sql(peers.b, "SELECT count(*) AS n FROM upload") == [{"n": 1}]
    assert fetched.code == 200


@pytest_twisted.ensureDeferred
async def test_the_federation_library_api_shows_no_local_library(peers):
    alice = await peers.user(peers.b, "alice")
    private = await alice.post("/api/v1/libraries/", json_body={"name": "Diary", "privacy_level": "me"})
    bob = await peers.user(peers.b, "bob")
    for method, path in (("GET", ""), ("POST", "scan/")):
        resp = await bob.request(method, f"/api/v1/federation/libraries/{private.json['uuid']}/{path}")
        assert resp.code == 404 and b"Diary" not in resp.body, resp


@pytest_twisted.ensureDeferred
async def test_a_scan_stops_at_its_page_cap(peers, tmp_path, monkeypatch):
    alice = await peers.user(peers.a, "alice")
    library, _ = await library_with_audio(peers.a, alice, tmp_path, titles=("Dawn",))
    bob = await peers.user(peers.b, "bob")
    remote = (await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": library["fid"]})).json
    monkeypatch.setattr(scan_module, "MAX_PAGES", 0)  # B runs in this process: its walk may take no page
    done = await scan(bob, remote["results"][0]["uuid"], peers.b.ctx.clock)
    assert done["latest_scan"]["status"] == "errored" and done["latest_scan"]["processed_files"] == 0
    [row] = await run_sql(peers.b, "SELECT last_error, next_page FROM library_scan")
    assert row["last_error"] == "stopped after 0 pages" and row["next_page"] is None
    assert await playable_titles(bob) == []
