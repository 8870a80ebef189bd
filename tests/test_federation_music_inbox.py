"""Music activities between two instances: bob on B follows alice's library on A; B scans it once A accepts,
then A tells B of each new upload (Create Audio), deletion (Delete Audio), change and deletion of the library."""

from __future__ import annotations

from typing import Any

import pytest_twisted

from funkwhale.activitypub import actors
from funkwhale.activitypub.fetch import Fetcher

from .federation_helpers import eventually, run_sql, signed_post
from .federation_music import add_audio, library_with_audio


async def playable(client: Any) -> list[str]:
    resp = await client.get("/api/v1/tracks/?playable=true&ordering=title")
    assert resp.code == 200, resp
    return [track["title"] for track in resp.json["results"]]


def titles_become(client: Any, expected: list[str]) -> Any:
    async def check() -> bool:
        return await playable(client) == expected

    return check


@pytest_twisted.ensureDeferred
async def test_a_followed_library_keeps_b_up_to_date(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    library, uploads = await library_with_audio(peers.a, alice, tmp_path, titles=("Dawn",))
    bob = await peers.user(peers.b, "bob")
    fetched = await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": library["fid"]})
    remote = fetched.json["results"][0]
    follow = await bob.post("/api/v1/federation/follows/library/", json_body={"target": remote["uuid"]})
    assert follow.code == 201, follow
    await eventually(titles_become(bob, ["Dawn"]), what="B to scan the library once A accepted")

    await add_audio(peers.a, alice, library["uuid"], tmp_path, "Dusk", 2)
    await eventually(titles_become(bob, ["Dawn", "Dusk"]), what="Create Audio to reach B")

    assert (await alice.delete(f"/api/v1/uploads/{uploads[0]}/")).code == 204
    await eventually(titles_become(bob, ["Dusk"]), what="Delete Audio to reach B")

    renamed = await alice.patch(f"/api/v1/libraries/{library['uuid']}/", json_body={"name": "Renamed"})
    assert renamed.code == 200, renamed

    async def renamed_on_b() -> bool:
        return (await bob.get(f"/api/v1/federation/libraries/{remote['uuid']}/")).json["name"] == "Renamed"

    await eventually(renamed_on_b, what="Update Library to reach B")
    assert (await alice.delete(f"/api/v1/libraries/{library['uuid']}/")).code == 204

    async def gone_on_b() -> bool:
        return (await bob.get(f"/api/v1/federation/libraries/{remote['uuid']}/")).code == 404

    await eventually(gone_on_b, what="Delete Library to reach B")
    assert await playable(bob) == []


@pytest_twisted.ensureDeferred
async def test_music_activities_from_another_server_change_nothing(peers, tmp_path):
    """B signs (as its service actor) a Delete Audio of alice's upload on A, and a Create Audio into her
    library: A keeps her upload and stores nothing."""
    alice = await peers.user(peers.a, "alice")
    library, uploads = await library_with_audio(peers.a, alice, tmp_path, titles=("Kept",))
    signer = await actors.signer(peers.b.ctx)
    b_service = signer.key_id.split("#")[0]
    upload_fid = f"{peers.a.base}/federation/music/uploads/{uploads[0]}"
    audio = await Fetcher.from_settings(peers.b.ctx.settings).get_object(upload_fid, signer=signer)
    inbox = f"{peers.a.base}/federation/shared/inbox"
    for kind, obj in (("Delete", {"type": "Audio", "id": [upload_fid]}), ("Create", {**audio, "id": upload_fid + "x"})):
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{b_service}#{kind.lower()}/1",
            "type": kind,
            "actor": b_service,
            "object": obj,
        }
        body, headers = signed_post(inbox, activity, signer.key_id, signer.private_key_pem, peers.a.ctx.clock.seconds())
        sent = await Fetcher.from_settings(peers.b.ctx.settings).request("POST", inbox, headers=headers, body=body)
        assert sent.status == 202, sent
        taken = (activity["id"],)
        await eventually(
            lambda taken=taken: run_sql(peers.a, "SELECT 1 FROM activity WHERE fid = %s", taken), what="A to take it"
        )

    async def processed() -> bool:
        [row] = await run_sql(
            peers.a, "SELECT count(*) AS n FROM task WHERE name = 'federation.process_inbox' AND status = 'done'"
        )
        return row["n"] == 2

    await eventually(processed, what="A to process them")
    assert (await alice.get(f"/api/v1/uploads/{uploads[0]}/")).code == 200
    assert await run_sql(peers.a, "SELECT count(*) AS n FROM upload") == [{"n": 1}]


async def signed_to_b(peers: Any, activity: dict[str, Any]) -> None:
    """POST `activity` (its actor: A's service actor) to B's shared inbox, signed; wait until B processed it."""
    signer = await actors.signer(peers.a.ctx)
    inbox = f"{peers.b.base}/federation/shared/inbox"
    body, headers = signed_post(inbox, activity, signer.key_id, signer.private_key_pem, peers.b.ctx.clock.seconds())
    sent = await Fetcher.from_settings(peers.a.ctx.settings).request("POST", inbox, headers=headers, body=body)
    assert sent.status == 202, sent

    async def processed() -> bool:
        rows = await run_sql(
            peers.b,
            "SELECT 1 FROM task WHERE name = 'federation.process_inbox' AND status = 'done' AND args::text LIKE %s",
            (f"%{await _activity_id(peers.b, activity['id'])}%",),
        )
        return bool(rows)

    await eventually(processed, what=f"B to process {activity['id']}")


async def _activity_id(server: Any, fid: str) -> int:
    rows = await eventually(lambda: run_sql(server, "SELECT id FROM activity WHERE fid = %s", (fid,)))
    return rows[0]["id"]


@pytest_twisted.ensureDeferred
async def test_catalog_updates_come_only_from_the_objects_server(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    library, _ = await library_with_audio(peers.a, alice, tmp_path, titles=("Dawn",))
    bob = await peers.user(peers.b, "bob")
    remote = (await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": library["fid"]})).json
    assert (await bob.post(f"/api/v1/federation/libraries/{remote['results'][0]['uuid']}/scan/")).code == 200
    await eventually(titles_become(bob, ["Dawn"]), what="the scan")
    track = (await bob.get("/api/v1/tracks/")).json["results"][0]
    a_service = (await actors.signer(peers.a.ctx)).key_id.split("#")[0]
    document = await Fetcher.from_settings(peers.b.ctx.settings).get_object(track["fid"])
    artist = {**document["artists"][0], "name": "Aurora Renamed"}
    await signed_to_b(peers, {"id": f"{a_service}#update/1", "type": "Update", "actor": a_service, "object": artist})
    assert (await bob.get(f"/api/v1/tracks/{track['id']}/")).json["artist"]["name"] == "Aurora Renamed"

    # B's own artist (bob's upload) cannot be renamed by A
    await add_audio(peers.b, bob, (await bob.post("/api/v1/libraries/", json_body={"name": "b"})).json["uuid"],
                    tmp_path, "Local", 1)  # fmt: skip
    local = next(t for t in (await bob.get("/api/v1/tracks/?q=Local")).json["results"])
    forged = {**document, "id": local["fid"], "name": "Stolen"}
    await signed_to_b(peers, {"id": f"{a_service}#update/2", "type": "Update", "actor": a_service, "object": forged})
    assert (await bob.get(f"/api/v1/tracks/{local['id']}/")).json["title"] == "Local"
