"""WebFinger, host-meta and the actor documents over real HTTP, in the shapes Funkwhale 1.4 serves."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest_twisted
from cryptography.hazmat.primitives import serialization

from funkwhale.users.store import delete_user_txn

from .catalog_factories import set_preference
from .test_accounts import SIGNUP, signup_form

REFERENCE = Path("/work/shared/reference/funkwhale-1.4-responses")
BASE = "http://test.funkwhale.local"
AP = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    "https://funkwhale.audio/ns",
    {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "Hashtag": "as:Hashtag"},
]


async def signup(client, username: str) -> None:
    resp = await client.post(SIGNUP, json_body=signup_form(username))
    assert resp.code in (200, 201, 204), resp


async def disable_federation(db_conn) -> None:
    set_preference(db_conn, "federation__enabled", False)


@pytest_twisted.ensureDeferred
async def test_webfinger_finds_a_user_by_acct_bare_and_actor_url(client):
    await signup(client, "Alice")
    actor_id = f"{BASE}/federation/actors/Alice"
    for resource in (
        "acct:alice@test.funkwhale.local",
        "Alice@test.funkwhale.local",
        actor_id,
        f"{BASE}/@Alice",
    ):
        resp = await client.get("/.well-known/webfinger", params={"resource": resource})
        assert resp.code == 200, (resource, resp)
        assert resp.header("Content-Type") == "application/jrd+json"
        assert resp.header("Access-Control-Allow-Origin") == "*"
        assert resp.json == {
            "subject": "acct:Alice@test.funkwhale.local",
            "links": [{"rel": "self", "href": actor_id, "type": "application/activity+json"}],
            "aliases": [actor_id],
        }
    reference = json.loads((REFERENCE / "fed-webfinger.json").read_text())
    assert list(resp.json) == list(reference) and list(resp.json["links"][0]) == list(reference["links"][0])


@pytest_twisted.ensureDeferred
async def test_webfinger_unknown_user_or_host_is_404_and_malformed_400(client):
    await signup(client, "alice")
    for resource in ("acct:nobody@test.funkwhale.local", "acct:alice@elsewhere.example", "https://elsewhere/@alice"):
        resp = await client.get("/.well-known/webfinger", params={"resource": resource})
        assert resp.code == 404, (resource, resp)
        assert resp.header("Access-Control-Allow-Origin") == "*"
        assert resp.json["code"] == "not_found"
    for params in ({}, {"resource": "acct:no-at-sign"}):
        resp = await client.get("/.well-known/webfinger", params=params)
        assert resp.code == 400, (params, resp)


@pytest_twisted.ensureDeferred
async def test_webfinger_finds_the_service_actor(client):
    resp = await client.get("/.well-known/webfinger", params={"resource": "acct:service@test.funkwhale.local"})
    assert resp.code == 200, resp
    assert resp.json["links"][0]["href"] == f"{BASE}/federation/actors/service"


@pytest_twisted.ensureDeferred
async def test_host_meta_points_at_webfinger(client):
    resp = await client.get("/.well-known/host-meta")
    assert resp.code == 200
    assert resp.header("Content-Type").startswith("application/xrd+xml")
    link = ElementTree.fromstring(resp.body).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link.attrib == {"rel": "lrdd", "template": f"{BASE}/.well-known/webfinger?resource={{uri}}"}


@pytest_twisted.ensureDeferred
async def test_person_actor_document_matches_funkwhale(client, db_conn):
    await signup(client, "alice")
    for headers in (AP, LD):
        resp = await client.get("/federation/actors/alice", headers=headers)
        assert resp.code == 200, resp
        assert resp.header("Content-Type") == "application/activity+json"
    actor = resp.json
    fid = f"{BASE}/federation/actors/alice"
    reference = json.loads((REFERENCE / "fed-actor.json").read_text())
    assert list(actor) == list(reference)
    assert actor == {
        "id": fid,
        "outbox": f"{fid}/outbox",
        "inbox": f"{fid}/inbox",
        "preferredUsername": "alice",
        "type": "Person",
        "name": "alice",
        "followers": f"{fid}/followers",
        "following": f"{fid}/following",
        "manuallyApprovesFollowers": False,
        "url": [{"type": "Link", "href": f"{BASE}/@alice", "mediaType": "text/html"}],
        "icon": None,
        "@context": CONTEXT,
        "publicKey": {"owner": fid, "publicKeyPem": actor["publicKey"]["publicKeyPem"], "id": f"{fid}#main-key"},
        "endpoints": {"sharedInbox": f"{BASE}/federation/shared/inbox"},
    }
    with db_conn.cursor() as cur:
        cur.execute("SELECT public_key, private_key FROM actor WHERE fid = %s", (fid,))
        row = cur.fetchone()
    assert actor["publicKey"]["publicKeyPem"] == row["public_key"]
    private = serialization.load_pem_private_key(row["private_key"].encode(), password=None)
    assert (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        == actor["publicKey"]["publicKeyPem"]
    )


@pytest_twisted.ensureDeferred
async def test_actor_shows_summary_and_avatar(client, db_conn):
    await signup(client, "alice")
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO attachment (mimetype, file) VALUES ('image/png', 'x.png') RETURNING id, uuid")
        att = cur.fetchone()
        cur.execute("UPDATE users SET avatar_id = %s WHERE username = 'alice'", (att["id"],))
        cur.execute("UPDATE actor SET summary = 'I play the oud' WHERE preferred_username = 'alice'")
    actor = (await client.get("/federation/actors/alice", headers=AP)).json
    assert actor["summary"] == "I play the oud"
    assert actor["icon"] == {
        "type": "Image",
        "mediaType": "image/png",
        "url": f"{BASE}/api/v1/attachments/{att['uuid']}/proxy?next=original",
    }


@pytest_twisted.ensureDeferred
async def test_service_actor_is_created_once_and_matches_funkwhale(settings, db_conn):
    from .conftest import start_server

    first = await start_server(settings)
    try:
        resp = await first.client().get("/federation/actors/service", headers=AP)
    finally:
        await first.service.stopService()
    assert resp.code == 200, resp
    actor = resp.json
    reference = json.loads((REFERENCE / "fed-service-actor.json").read_text())
    assert list(actor) == list(reference)
    assert actor["type"] == "Service" and actor["preferredUsername"] == "service"
    assert actor["publicKey"]["id"] == f"{BASE}/federation/actors/service#main-key"
    second = await start_server(settings)  # a restart keeps the key
    try:
        again = (await second.client().get("/federation/actors/service", headers=AP)).json
        taken = await second.client().post(SIGNUP, json_body=signup_form("Service"))  # accounts share the names
    finally:
        await second.service.stopService()
    assert again["publicKey"] == actor["publicKey"]
    with db_conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) AS n, bool_and(d.service_actor_id = a.id) AS linked FROM actor a "
            "JOIN domain d ON d.name = a.domain WHERE a.type = 'Service'"
        )
        assert dict(cur.fetchone()) == {"n": 1, "linked": True}
    assert taken.code == 400, taken


@pytest_twisted.ensureDeferred
async def test_browser_is_redirected_to_the_profile_page(client):
    await signup(client, "alice")
    resp = await client.get("/federation/actors/alice", headers={"Accept": "text/html,application/xhtml+xml,*/*"})
    assert resp.code == 302
    assert resp.header("Location") == f"{BASE}/@alice"


@pytest_twisted.ensureDeferred
async def test_collections_are_empty_ordered_collections(client):
    await signup(client, "alice")
    fid = f"{BASE}/federation/actors/alice"
    for name in ("outbox", "followers", "following"):
        resp = await client.get(f"/federation/actors/alice/{name}", headers=AP)
        assert resp.code == 200, (name, resp)
        assert resp.header("Content-Type") == "application/activity+json"
        assert resp.json == {
            "@context": CONTEXT,
            "id": f"{fid}/{name}",
            "type": "OrderedCollection",
            "totalItems": 0,
            "orderedItems": [],
        }
    assert (await client.get("/federation/actors/alice/inbox-nope", headers=AP)).code == 404


@pytest_twisted.ensureDeferred
async def test_unknown_and_deleted_actors(client, db_conn):
    assert (await client.get("/federation/actors/nobody", headers=AP)).code == 404
    assert (await client.get("/federation/actors/nobody/outbox", headers=AP)).code == 404
    await signup(client, "alice")
    with db_conn.cursor() as cur:  # the account is deleted as users/store.py deletes it
        cur.execute("SELECT id FROM users WHERE username = 'alice'")
        delete_user_txn(cur, cur.fetchone()["id"])
    resp = await client.get("/federation/actors/alice", headers=AP)
    assert resp.code == 410
    assert resp.json["type"] == "Tombstone" and resp.json["id"] == f"{BASE}/federation/actors/alice"
    resp = await client.get("/.well-known/webfinger", params={"resource": "acct:alice@test.funkwhale.local"})
    assert resp.code == 410


@pytest_twisted.ensureDeferred
async def test_federation_switched_off_hides_discovery_and_actors(client, db_conn):
    await signup(client, "alice")
    await disable_federation(db_conn)
    for path in (
        "/.well-known/webfinger?resource=acct:alice@test.funkwhale.local",
        "/.well-known/host-meta",
        "/federation/actors/alice",
        "/federation/actors/service",
        "/federation/actors/alice/outbox",
    ):
        resp = await client.get(path, headers=AP)
        assert resp.code == 404, (path, resp)


@pytest_twisted.ensureDeferred
async def test_service_actor_requested_before_the_setup_ran_is_made_then(client, db_conn):
    """The port answers while the tree still starts: a peer asking for the service actor then gets it."""
    with db_conn.cursor() as cur:
        cur.execute("DELETE FROM actor WHERE type = 'Service'")  # as before ServiceActorSetup ran
    resp = await client.get("/federation/actors/service", headers=AP)
    assert resp.code == 200, resp
    assert resp.json["type"] == "Service" and resp.json["publicKey"]["publicKeyPem"].startswith("-----BEGIN")
