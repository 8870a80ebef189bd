"""Library follows across two instances, through Funkwhale's client API: bob on B follows alice's libraries on
A; a public one is accepted by A at once, a private one waits for alice; Undo removes the follow on A."""

from __future__ import annotations

import pytest_twisted

from funkwhale.users import auth_cache

from .federation_helpers import eventually, remote_library, run_sql


async def _library(client, name: str, privacy: str) -> dict:
    resp = await client.post("/api/v1/libraries/", json_body={"name": name, "privacy_level": privacy})
    assert resp.code == 201, resp
    return resp.json


async def _follow_state(client, follow_uuid: str):
    resp = await client.get(f"/api/v1/federation/follows/library/{follow_uuid}/")
    return resp.json["approved"] if resp.code == 200 else "missing"


@pytest_twisted.ensureDeferred
async def test_bob_follows_alices_public_library_and_a_accepts_it(peers):
    alice = await peers.user(peers.a, "alice")
    bob = await peers.user(peers.b, "bob")
    library = await _library(alice, "open shelf", "everyone")
    target = await remote_library(peers.b, library)

    resp = await bob.post("/api/v1/federation/follows/library/", json_body={"target": target})
    assert resp.code == 201, resp
    follow = resp.json
    assert follow["approved"] is None and follow["target"]["uuid"] == target
    assert follow["actor"]["full_username"] == f"bob@{peers.b.ctx.settings.domain}"
    await eventually(lambda: _follow_state(bob, follow["uuid"]), what="A to accept bob's follow")
    assert await _follow_state(bob, follow["uuid"]) is True

    on_a = await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")
    assert on_a.code == 200 and on_a.json["count"] == 1
    assert on_a.json["results"][0]["approved"] is True
    assert on_a.json["results"][0]["actor"]["fid"] == f"{peers.b.base}/federation/actors/bob"
    all_follows = await bob.get("/api/v1/federation/follows/library/all/")
    assert all_follows.json["results"] == [{"uuid": follow["uuid"], "library": target, "approved": True}]

    resp = await bob.delete(f"/api/v1/federation/follows/library/{follow['uuid']}/")
    assert resp.code == 204

    async def gone_on_a():
        return (await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")).json["count"] == 0

    await eventually(gone_on_a, what="the Undo to remove the follow on A")
    assert (await bob.get(f"/api/v1/federation/follows/library/{follow['uuid']}/")).code == 404


@pytest_twisted.ensureDeferred
async def test_a_private_library_waits_for_its_owner(peers):
    alice = await peers.user(peers.a, "alice")
    bob = await peers.user(peers.b, "bob")
    library = await _library(alice, "locked shelf", "me")
    target = await remote_library(peers.b, library)
    follow = (await bob.post("/api/v1/federation/follows/library/", json_body={"target": target})).json

    async def pending_on_a():
        body = (await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")).json
        return [f for f in body["results"] if f["approved"] is None]

    pending = await eventually(pending_on_a, what="bob's follow request on A")
    inbox = (await alice.get("/api/v1/federation/inbox/")).json
    assert [item["activity"]["type"] for item in inbox["results"]] == ["Follow"]
    assert inbox["results"][0]["is_read"] is False
    request = inbox["results"][0]["activity"]
    assert request["object"]["type"] == "music.Library" and request["object"]["name"]
    assert request["related_object"]["type"] == "federation.LibraryFollow"
    assert request["related_object"]["approved"] is None and request["related_object"]["uuid"]
    assert await _follow_state(bob, follow["uuid"]) is None

    strangers = await peers.user(peers.a, "carol")
    refused = await strangers.post(f"/api/v1/federation/follows/library/{pending[0]['uuid']}/accept/")
    assert refused.code == 404, "only the owner decides"
    resp = await alice.post(f"/api/v1/federation/follows/library/{pending[0]['uuid']}/accept/")
    assert resp.code == 204
    await eventually(lambda: _follow_state(bob, follow["uuid"]), what="B to learn of the approval")
    assert await _follow_state(bob, follow["uuid"]) is True

    read = await alice.post("/api/v1/federation/inbox/action/", json_body={"action": "read", "objects": "all"})
    assert read.code == 200 and read.json["updated"] == 1
    assert (await alice.get("/api/v1/federation/inbox/?is_read=false")).json["count"] == 0


@pytest_twisted.ensureDeferred
async def test_a_local_follow_is_decided_locally(peers):
    alice = await peers.user(peers.a, "alice")
    dave = await peers.user(peers.a, "dave")
    library = await _library(alice, "house shelf", "me")
    follow = (await dave.post("/api/v1/federation/follows/library/", json_body={"target": library["uuid"]})).json
    assert follow["approved"] is None
    follows = (await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")).json["results"]
    assert [f["uuid"] for f in follows] == [follow["uuid"]]
    assert (await alice.post(f"/api/v1/federation/follows/library/{follow['uuid']}/reject/")).code == 204
    assert await _follow_state(dave, follow["uuid"]) is False
    deliveries = await run_sql(peers.a, "SELECT count(*) AS n FROM delivery")
    assert deliveries[0]["n"] == 0, "nothing is delivered to ourselves"
    again = await dave.post("/api/v1/federation/follows/library/", json_body={"target": library["uuid"]})
    assert again.code == 400
    own = await alice.post("/api/v1/federation/follows/library/", json_body={"target": library["uuid"]})
    assert own.code == 400


@pytest_twisted.ensureDeferred
async def test_remote_actors_their_libraries_and_domains_are_listed(peers):
    alice = await peers.user(peers.a, "alice")
    bob = await peers.user(peers.b, "bob")
    public = await _library(alice, "open shelf", "everyone")
    private = await _library(alice, "locked shelf", "me")
    await remote_library(peers.b, public)
    await remote_library(peers.b, private)
    a_domain = peers.a.base.split("//")[1]

    actor = await bob.get(f"/api/v1/federation/actors/alice@{a_domain}/")
    assert actor.code == 200, actor
    assert actor.json["fid"] == f"{peers.a.base}/federation/actors/alice" and actor.json["is_local"] is False
    libraries = (await bob.get(f"/api/v1/federation/actors/alice@{a_domain}/libraries/")).json
    assert [lib["fid"] for lib in libraries["results"]] == [public["fid"]], "a private library is not listed"
    assert (await bob.get("/api/v1/federation/actors/nobody@nowhere.example/")).code == 404

    carol = await peers.user(peers.b, "carol")
    assert (await carol.get("/api/v1/federation/domains/")).code == 403, "moderators only"
    await run_sql(peers.b, "UPDATE users SET permission_moderation = true WHERE username = 'carol'")
    await auth_cache.changed(peers.b.ctx)  # as after any change behind the server's back
    domains = (await carol.get("/api/v1/federation/domains/")).json
    assert a_domain in [d["name"] for d in domains["results"]]
