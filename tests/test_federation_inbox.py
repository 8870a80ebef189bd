"""The inbox over HTTPS between two instances: only signed activities of their own actor are taken (202), once;
every forgery is refused (401/403/413) or changes nothing; Mastodon- and Pleroma-shaped payloads are accepted or
ignored without an error; independent signers (draft-cavage and RFC 9421) are understood."""

from __future__ import annotations

import json
import time
import uuid

import http_message_signatures as hms
import pytest_twisted
import requests
from requests_http_message_signatures import HTTPSignatureHeaderAuth

from funkwhale.activitypub import actors, inbox, remote_actors
from funkwhale.users.actors import key_pair

from .federation_helpers import eventually, remote_library, run_sql, signed_post


class Sender:
    """A local actor of B posting to A's inboxes, signed with its key (or another)."""

    def __init__(self, peers, username: str, signer) -> None:
        self.peers = peers
        self.fid = f"{peers.b.base}/federation/actors/{username}"
        self.signer = signer

    def activity(self, kind: str, obj, **extra) -> dict:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.fid}#{kind.lower()}/{uuid.uuid4()}",
            "type": kind,
            "actor": self.fid,
            "object": obj,
            **extra,
        }

    async def post(self, activity, *, key=None, now=None, body=None, path="/federation/shared/inbox", **headers):
        url = self.peers.a.base + path
        signed_body, signed = signed_post(
            url, activity, self.signer.key_id, key or self.signer.private_key_pem, now or time.time(), **headers
        )
        return await self.peers.a.client().post(url, data=signed_body if body is None else body, headers=signed)


async def sender(peers, username: str) -> Sender:
    await peers.user(peers.b, username)
    return Sender(peers, username, await actors.signer(peers.b.ctx, f"{peers.b.base}/federation/actors/{username}"))


async def processed(server, fid: str) -> bool:
    rows = await run_sql(
        server,
        "SELECT t.status FROM task t JOIN activity a ON t.args = jsonb_build_array(a.id) "
        "WHERE t.name = 'federation.process_inbox' AND a.fid = %s",
        (fid,),
    )
    return bool(rows) and all(r["status"] == "done" for r in rows)


async def public_library_of_alice(peers) -> tuple:
    alice = await peers.user(peers.a, "alice")
    resp = await alice.post("/api/v1/libraries/", json_body={"name": "shelf", "privacy_level": "everyone"})
    return alice, resp.json


@pytest_twisted.ensureDeferred
async def test_forged_and_malformed_posts_are_refused(peers):
    alice, library = await public_library_of_alice(peers)
    bob = await sender(peers, "bob")
    follow = bob.activity("Follow", library["fid"], to=[library["actor"]["fid"]])

    unsigned = await peers.a.client().post(
        "/federation/shared/inbox", data=json.dumps(follow).encode(), headers={"Content-Type": "application/json"}
    )
    assert unsigned.code == 401 and unsigned.json["code"] == "not_signed"
    tampered = await bob.post(follow, body=json.dumps({**follow, "object": "https://elsewhere/x"}).encode())
    assert tampered.code == 401 and "digest" in tampered.json["detail"].lower()
    stale = await bob.post(follow, now=time.time() - 3600)
    assert stale.code == 401
    wrong_key = await bob.post(follow, key=key_pair(2048)[0])
    assert wrong_key.code == 401
    carol = await sender(peers, "carol")
    as_carol = await bob.post({**follow, "actor": carol.fid})
    assert as_carol.code == 403 and as_carol.json["code"] == "actor_mismatch"
    huge = await bob.post({**follow, "padding": "x" * (inbox.MAX_BODY + 1)})
    assert huge.code == 413
    not_json = await bob.post(follow, body=b"[1, 2")  # signed over the real body: refused before parsing
    assert not_json.code == 401
    assert await run_sql(peers.a, "SELECT fid FROM activity") == [], "nothing refused was stored"
    assert (await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")).json["count"] == 0


@pytest_twisted.ensureDeferred
async def test_a_follow_is_processed_once_and_a_blocked_domain_is_refused(peers):
    alice, library = await public_library_of_alice(peers)
    bob = await sender(peers, "bob")
    follow = bob.activity("Follow", library["fid"], to=[library["actor"]["fid"]])
    first = await bob.post(follow)
    assert first.code == 202 and first.json == {}
    dave = await peers.user(peers.a, "dave")
    copy = {**follow, "cc": [f"{peers.a.base}/federation/actors/dave"]}
    second = await bob.post(copy, path="/federation/actors/alice/inbox")
    assert second.code == 202
    await eventually(lambda: processed(peers.a, follow["id"]), what="the Follow to be processed")
    tasks = await run_sql(peers.a, "SELECT count(*) AS n FROM task WHERE name = 'federation.process_inbox'")
    assert tasks[0]["n"] == 1, "a duplicate is not processed again"
    items = (await alice.get("/api/v1/federation/inbox/")).json
    assert items["count"] == 1 and items["results"][0]["activity"]["fid"] == follow["id"]
    merged = (await dave.get("/api/v1/federation/inbox/")).json
    assert merged["count"] == 1, "a copy adds its new local recipients' inbox items"
    assert merged["results"][0]["activity"]["payload"] == follow, "the first copy is the one kept"
    follows = (await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")).json["results"]
    assert [f["approved"] for f in follows] == [True]

    handle = f"bob@{remote_actors.domain_of(peers.b.base)}"  # alice, the first account, moderates A
    policies = "/api/v1/manage/moderation/instance-policies/"
    silence = {"target": {"type": "actor", "id": handle}, "silence_notifications": True}
    assert (await alice.post(policies, json_body=silence)).code == 201
    silenced = bob.activity("Follow", library["fid"], cc=[f"{peers.a.base}/federation/actors/dave"])
    assert (await bob.post(silenced)).code == 202
    await eventually(lambda: processed(peers.a, silenced["id"]), what="the silenced actor's Follow")
    assert (await dave.get("/api/v1/federation/inbox/")).json["count"] == 1, "a silenced actor notifies nobody"

    block = {"target": {"type": "domain", "id": remote_actors.domain_of(peers.b.base)}, "block_all": True}
    assert (await alice.post(policies, json_body=block)).code == 201
    blocked = await bob.post(bob.activity("Follow", library["fid"]))
    assert blocked.code == 403 and blocked.json["code"] == "blocked"


@pytest_twisted.ensureDeferred
async def test_only_the_follower_undoes_and_only_our_objects_are_followed(peers):
    alice, library = await public_library_of_alice(peers)
    bob_client = await peers.user(peers.b, "bob")
    target = await remote_library(peers.b, library)
    follow = (await bob_client.post("/api/v1/federation/follows/library/", json_body={"target": target})).json

    async def follows_on_a():
        return (await alice.get(f"/api/v1/libraries/{library['uuid']}/follows/")).json["results"]

    on_a = await eventually(follows_on_a, what="bob's follow on A")
    follow_fid = (await run_sql(peers.a, "SELECT fid FROM library_follow"))[0]["fid"]
    carol = await sender(peers, "carol")
    undo = carol.activity("Undo", {"id": follow_fid, "type": "Follow", "actor": carol.fid, "object": library["fid"]})
    assert (await carol.post(undo)).code == 202
    await eventually(lambda: processed(peers.a, undo["id"]), what="carol's Undo to be processed")
    assert [f["uuid"] for f in await follows_on_a()] == [f["uuid"] for f in on_a], "carol cannot undo bob's follow"

    elsewhere = carol.activity("Follow", f"{peers.b.base}/federation/music/libraries/{uuid.uuid4()}")
    assert (await carol.post(elsewhere)).code == 202
    await eventually(lambda: processed(peers.a, elsewhere["id"]), what="the Follow of B's object to be processed")
    assert len(await run_sql(peers.a, "SELECT id FROM library_follow")) == 1
    assert follow["uuid"]


def _note(sender: Sender) -> dict:
    return {
        "id": f"{sender.fid}/statuses/1",
        "type": "Note",
        "attributedTo": sender.fid,
        "content": "<p>hello</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }


@pytest_twisted.ensureDeferred
async def test_mastodon_and_pleroma_payloads_are_accepted_or_ignored(peers):
    await peers.user(peers.a, "alice")
    bob = await sender(peers, "bob")
    alice_fid = f"{peers.a.base}/federation/actors/alice"
    public = "https://www.w3.org/ns/activitystreams#Public"
    payloads = [
        bob.activity("Create", _note(bob), to=[public], cc=[alice_fid]),
        bob.activity("Like", f"{peers.a.base}/federation/music/tracks/{uuid.uuid4()}"),
        bob.activity("Announce", f"{peers.b.base}/statuses/2", to=[public]),
        bob.activity("Delete", {"id": f"{bob.fid}/statuses/1", "type": "Tombstone", "atomUri": "x"}, to=[public]),
        bob.activity("Follow", alice_fid),  # a user follow (Mastodon): not a library, refused by the handler
        bob.activity("Update", {"id": bob.fid, "type": "Person", "name": "Bob"}, to=[public]),
        bob.activity("EmojiReact", f"{peers.b.base}/statuses/2", content="x"),  # Pleroma
    ]
    for payload in payloads:
        resp = await bob.post(payload)
        assert resp.code == 202, (payload["type"], resp)
    for fid in (payloads[3]["id"], payloads[4]["id"], payloads[5]["id"]):
        await eventually(lambda fid=fid: processed(peers.a, fid), what=f"{fid} to be processed")
    stored = {r["type"] for r in await run_sql(peers.a, "SELECT type FROM activity")}
    assert stored == {"Delete", "Follow", "Update"}, "types nothing handles are dropped"
    dead = await run_sql(peers.a, "SELECT count(*) AS n FROM task WHERE status <> 'done'")
    assert dead[0]["n"] == 0


@pytest_twisted.ensureDeferred
async def test_independent_signers_are_understood(peers):
    alice, library = await public_library_of_alice(peers)
    bob = await sender(peers, "bob")
    url = f"{peers.a.base}/federation/shared/inbox"
    for sign in ("cavage", "rfc9421"):
        activity = bob.activity("Follow", library["fid"])
        body = json.dumps(activity).encode()
        req = requests.Request("POST", url, data=body, headers={"Content-Type": "application/activity+json"})
        prepared = req.prepare()
        if sign == "cavage":
            auth = HTTPSignatureHeaderAuth(
                key=bob.signer.private_key_pem.encode(),
                key_id=bob.signer.key_id,
                algorithm="rsa-sha256",
                headers=["(request-target)", "host", "date", "digest"],
            )
            prepared = auth(prepared)
        else:
            resolver = hms.MappingKeyResolver(
                public_keys={}, private_keys={bob.signer.key_id: bob.signer.private_key_pem.encode()}
            )
            signer = hms.HTTPMessageSigner(signature_algorithm=hms.algorithms.RSA_V1_5_SHA256, key_resolver=resolver)
            signer.sign(
                prepared, key_id=bob.signer.key_id, covered_component_ids=("@method", "@target-uri", "content-digest"),
                body=body, include_alg=False,
            )  # fmt: skip
        headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
        resp = await peers.a.client().post(url, data=body, headers=headers)
        assert resp.code == 202, (sign, resp.json)


@pytest_twisted.ensureDeferred
async def test_too_many_inbox_requests_in_flight_are_shed(peers, monkeypatch):
    bob = await sender(peers, "bob")
    monkeypatch.setattr(inbox, "MAX_IN_FLIGHT", 0)
    resp = await bob.post(bob.activity("Follow", f"{peers.a.base}/federation/music/libraries/x"))
    assert resp.code == 503 and resp.header("Retry-After") == str(inbox.RETRY_AFTER)


@pytest_twisted.ensureDeferred
async def test_an_actor_updates_and_deletes_only_itself(peers):
    alice, library = await public_library_of_alice(peers)
    bob = await sender(peers, "bob")
    carol = await sender(peers, "carol")
    follow = bob.activity("Follow", library["fid"])
    assert (await bob.post(follow)).code == 202
    await eventually(lambda: processed(peers.a, follow["id"]), what="bob's Follow")
    carol_follow = carol.activity("Follow", library["fid"])
    assert (await carol.post(carol_follow)).code == 202

    await run_sql(peers.b, "UPDATE actor SET name = 'Robert' WHERE fid = %s", (bob.fid,))
    forged = carol.activity("Update", {"id": bob.fid, "type": "Person", "name": "Robert"})
    assert (await carol.post(forged)).code == 202
    await eventually(lambda: processed(peers.a, forged["id"]), what="carol's Update of bob")
    names = await run_sql(peers.a, "SELECT name FROM actor WHERE fid = %s", (bob.fid,))
    assert names[0]["name"] != "Robert", "carol cannot make A refetch bob"
    update = bob.activity("Update", {"id": bob.fid, "type": "Person", "name": "Robert"})
    assert (await bob.post(update)).code == 202
    await eventually(lambda: processed(peers.a, update["id"]), what="bob's Update")
    names = await run_sql(peers.a, "SELECT name FROM actor WHERE fid = %s", (bob.fid,))
    assert names[0]["name"] == "Robert", "bob's document was fetched again"

    async def followers():
        rows = await run_sql(peers.a, "SELECT a.fid FROM library_follow lf JOIN actor a ON a.id = lf.actor_id")
        return sorted(r["fid"] for r in rows)

    await eventually(lambda: processed(peers.a, carol_follow["id"]), what="carol's Follow")
    assert await followers() == sorted([bob.fid, carol.fid])
    forged_delete = carol.activity("Delete", bob.fid)
    assert (await carol.post(forged_delete)).code == 202
    await eventually(lambda: processed(peers.a, forged_delete["id"]), what="carol's Delete of bob")
    assert await followers() == sorted([bob.fid, carol.fid])
    delete = bob.activity("Delete", bob.fid, to=["https://www.w3.org/ns/activitystreams#Public"])
    assert (await bob.post(delete)).code == 202
    await eventually(lambda: processed(peers.a, delete["id"]), what="bob's Delete of himself")
    assert await followers() == [carol.fid]
